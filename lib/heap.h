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

/* For such a program whose threads sleep for long between bursts (the
 * fetcher's daemon: a thread per IDLE folder or polled account): every
 * thread allocates from the one main heap. glibc would give each thread an
 * arena of its own, and neither malloc_trim() nor a free() below the trim
 * threshold shrinks the top of any arena but the main one, so a message
 * fetched by one thread would stay resident until that thread fetched
 * again. Call before the threads start. */
void hm_heap_one_arena(void);

#endif
