/* How the C library's allocator treats message-sized buffers. */
#ifndef HM_HEAP_H
#define HM_HEAP_H

/* For programs that allocate and free a message-sized buffer per message
 * (relay sessions and runner, the fetcher): glibc would give each one back
 * to the kernel (a trimmed heap or an unmapped block) and fault it in again
 * for the next, and every give-back flushes the TLB of every core, which is
 * dear in a virtual machine. Keeps blocks up to 8 MB on the heap and trims
 * it only past 16 MB free: the process holds a few MB more while it works. */
void hm_heap_keep_buffers(void);

/* For such a program about to sleep for long (the fetcher's daemon
 * before IDLE or its nap): gives the kept buffers back to the kernel, so
 * that an idle daemon holds only what it uses; the next burst faults them
 * in once again. */
void hm_heap_give_back(void);

#endif
