#include <config.h>

#include <malloc.h>

#include "lib/heap.h"

#if defined(__SANITIZE_ADDRESS__)
#define HM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HM_ASAN 1
#endif
#endif

void
hm_heap_keep_buffers(void)
{
	mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
}

void
hm_heap_one_arena(void)
{
	mallopt(M_ARENA_MAX, 1);
}

void
hm_heap_give_back(void)
{
#ifndef HM_ASAN
	malloc_trim(0);
#else
	/* AddressSanitizer's allocator owns the heap. glibc's malloc_trim()
	 * would walk glibc's own arenas, never set up in such a process, and
	 * the fetcher's IDLE threads calling it first at the same moment race
	 * on setting them up (a SEGV in mtrim() seen under load). */
#endif
}
