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

#endif
