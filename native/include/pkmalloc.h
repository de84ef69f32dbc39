/* pkmalloc: a size-class allocator with per-thread heaps, a drop-in malloc for LD_PRELOAD.
 *
 * The standard entry points (malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size, malloc_trim) are exported
 * under their own names; these pk_ names are the same functions, for programs that link it
 * directly.
 */
#ifndef PKMALLOC_H
#define PKMALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *pk_malloc(size_t size);
void pk_free(void *ptr);
void *pk_calloc(size_t count, size_t size);
void *pk_realloc(void *ptr, size_t size);
int pk_posix_memalign(void **out, size_t alignment, size_t size);
void *pk_memalign(size_t alignment, size_t size);
size_t pk_usable_size(void *ptr);
void *pk_valloc(size_t size);
void *pk_pvalloc(size_t size);
void *pk_reallocarray(void *ptr, size_t count, size_t size);
/* Give free memory back to the OS now, keeping ``pad`` bytes of free pages committed;
 * 1 when some memory went back, else 0 (glibc's malloc_trim). */
int pk_trim(size_t pad);

/* Tests built with -DPK_DIRECT (the AddressSanitizer build, whose runtime owns the
 * standard names) call the allocator through these names. */
#ifdef PK_DIRECT
#define malloc pk_malloc
#define free pk_free
#define calloc pk_calloc
#define realloc pk_realloc
#define reallocarray pk_reallocarray
#define posix_memalign pk_posix_memalign
#define memalign pk_memalign
#define aligned_alloc pk_memalign
#define valloc pk_valloc
#define pvalloc pk_pvalloc
#define malloc_usable_size pk_usable_size
#define malloc_trim pk_trim
#endif

/* Bytes of memory the allocator holds from the OS right now (mapped and not given back). */
size_t pk_stats_mapped(void);

#ifdef __cplusplus
}
#endif

#endif
