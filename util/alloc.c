/* alloc.c — the library's allocator over jemalloc's mallocx/rallocx/dallocx (see alloc.h). */
#include "util/alloc.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ALLOC_SYSTEM 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ALLOC_SYSTEM 1
#endif
#endif

#ifdef ALLOC_SYSTEM

void *mem_alloc(size_t n)
{
    return malloc(n ? n : 1);
}
void *mem_calloc(size_t count, size_t size)
{
    return calloc(count ? count : 1, size ? size : 1);
}
void *mem_realloc(void *p, size_t n)
{
    return realloc(p, n ? n : 1);
}
void mem_free(void *p)
{
    free(p);
}
void *mem_aligned_alloc(size_t align, size_t size)
{
    void *p = NULL;
    return posix_memalign(&p, align, size ? size : 1) == 0 ? p : NULL;
}
size_t mem_allocated(void)
{
    return 0;
}
size_t mem_usable_size(const void *p)
{
    return p ? malloc_usable_size((void *)p) : 0;
}

#else

#include <jemalloc/jemalloc.h>

/* mallocx and rallocx leave size 0 undefined. */
void *mem_alloc(size_t n)
{
    return mallocx(n ? n : 1, 0);
}

void *mem_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    size_t n = count * size;
    return mallocx(n ? n : 1, MALLOCX_ZERO);
}

void *mem_realloc(void *p, size_t n)
{
    if (!p) return mem_alloc(n);
    return rallocx(p, n ? n : 1, 0);
}

void mem_free(void *p)
{
    if (p) dallocx(p, 0);
}

void *mem_aligned_alloc(size_t align, size_t size)
{
    return mallocx(size ? size : 1, MALLOCX_ALIGN(align));
}

size_t mem_usable_size(const void *p)
{
    return p ? sallocx(p, 0) : 0;
}

size_t mem_allocated(void)
{
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch), allocated = 0;
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    sz = sizeof(allocated);
    if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0) return 0;
    return allocated;
}

#endif

char *mem_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = mem_alloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
