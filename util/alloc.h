/* alloc.h — the library's allocator: jemalloc's non-standard API (mallocx/dallocx), called
 * directly so that Lamina allocates from jemalloc whatever malloc the host program resolves
 * to (a program linking liblamina gets glibc's malloc first in symbol order). Memory handed to
 * callers is released with lamina_free(), which is mem_free(). Sanitizer builds use the system
 * allocator instead, so AddressSanitizer sees every allocation. */
#ifndef UTIL_ALLOC_H
#define UTIL_ALLOC_H

#include <stddef.h>

/* Like malloc / calloc / realloc / free / strdup (size 0 allowed; NULL on failure). */
void *mem_alloc(size_t n);
void *mem_calloc(size_t count, size_t size);
void *mem_realloc(void *p, size_t n);
void mem_free(void *p);
char *mem_strdup(const char *s);
/* size bytes aligned to align (a power of two, at least sizeof(void *)); freed by mem_free. */
void *mem_aligned_alloc(size_t align, size_t size);
/* Bytes the allocator really holds for p (its size class, at least the size asked for); 0 for
 * NULL. jemalloc's sallocx, or malloc_usable_size in sanitizer builds. */
size_t mem_usable_size(const void *p);
/* Bytes allocated through jemalloc in the whole process (stats.allocated, refreshed), or 0
 * when it cannot be read (sanitizer builds). */
size_t mem_allocated(void);

#endif
