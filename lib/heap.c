#include <config.h>

#include <malloc.h>

#include "lib/heap.h"

void
hm_heap_keep_buffers(void)
{
	mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
}

void
hm_heap_give_back(void)
{
	malloc_trim(0);
}
