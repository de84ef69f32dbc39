/* Allocation: malloc's fast path (a block from the current page of the size class),
 * calloc, realloc and the aligned family, under the pk_ and the standard names. */
#include "internal.h"

static inline void *_pk_alloc_small(_pk_heap_t *heap, size_t size) {
    unsigned c = _pk_class_of(size);
    _pk_page_t *page = heap->queue[c].first;
    if (PK_LIKELY(page != NULL && !_pk_checking())) {
        _pk_block_t *block = page->free;
        if (PK_LIKELY(block != NULL)) {
            page->free = block->next;
            page->used++;
            return block;
        }
    }
    return _pk_alloc_slow(heap, c);
}

/* ---- the API ---- */

/* Everything but a block from the current page of a heap that has one. */
static PK_NOINLINE void *_pk_malloc_slow(size_t size) {
    void *p;
    if (size <= PK_MAX_SMALL) {
        _pk_heap_t *heap = _pk_heap_get();
        p = heap != NULL ? _pk_alloc_small(heap, size) : NULL;
    } else {
        pthread_once(&g_once, _pk_init);
        p = _pk_huge_alloc(size, 0);
    }
    if (PK_UNLIKELY(p == NULL)) errno = ENOMEM;
    return p;
}

/* The fast path: a block from the current page of the size class; nothing else is
 * tested (PKMALLOC_CHECK makes t_fast the empty heap instead): a test here costs every
 * malloc. */
static inline void *_pk_malloc(size_t size) {
    if (PK_LIKELY(size <= PK_SMALL_DIRECT)) {
        _pk_page_t *page = t_fast->queue[g_small_class[(size + 15) / 16]].first;
        if (PK_LIKELY(page != NULL)) {
            _pk_block_t *block = page->free;
            if (PK_LIKELY(block != NULL)) {
                page->free = block->next;
                page->used++;
                return block;
            }
        }
    }
    return _pk_malloc_slow(size);
}

PK_EXPORT void *pk_malloc(size_t size) { return _pk_malloc(size); }

PK_EXPORT void *pk_calloc(size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = _pk_malloc(total);
    if (p == NULL) return NULL;
    _pk_segment_t *segment = _pk_segment_of_block(p);
    if (segment->kind == PK_KIND_HUGE && segment->huge_fresh) return p; /* mmap zeroed it */
    memset(p, 0, total);
    return p;
}

static void *_pk_memalign(size_t alignment, size_t size) {
    if (alignment <= 16) return _pk_malloc(size);
    if (alignment > PK_PAGE_SIZE || size > PK_MAX_SMALL - alignment) {
        pthread_once(&g_once, _pk_init);
        void *p = _pk_huge_alloc(size, alignment);
        if (p == NULL) errno = ENOMEM;
        return p;
    }
    _pk_heap_t *heap = _pk_heap_get();
    if (heap == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    size_t fit = size ? size : 1;
    unsigned c = _pk_class_of(fit);
    if (g_class_size[c] % alignment == 0) {
        /* Spans start 64 KiB-aligned, so every block of this class is aligned. */
        void *p = _pk_alloc_small(heap, fit);
        if (p == NULL) errno = ENOMEM;
        return p;
    }
    uint8_t *block = _pk_alloc_small(heap, fit + alignment - 16);
    if (block == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    uint8_t *p = (uint8_t *)_pk_align_up((uintptr_t)block, alignment);
    if (p != block) __atomic_store_n(&_pk_page_of(_pk_segment_of(block), block)->has_aligned, 1, __ATOMIC_RELAXED);
    return p;
}

static size_t _pk_pow2_at_least(size_t n) {
    size_t p = 1;
    while (p < n && p) p <<= 1;
    return p;
}

PK_EXPORT void *pk_memalign(size_t alignment, size_t size) {
    if (alignment & (alignment - 1)) {
        alignment = _pk_pow2_at_least(alignment);
        if (alignment == 0) {
            errno = EINVAL;
            return NULL;
        }
    }
    return _pk_memalign(alignment, size);
}

PK_EXPORT int pk_posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment == 0 || (alignment & (alignment - 1)) || alignment % sizeof(void *)) return EINVAL;
    int saved = errno;
    void *p = _pk_memalign(alignment, size);
    errno = saved;
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

PK_EXPORT void *pk_realloc(void *p, size_t size) {
    if (p == NULL) return _pk_malloc(size);
    if (size == 0) {
        _pk_free_block(p);
        return NULL;
    }
    if (PK_UNLIKELY(_pk_checking())) _pk_check_pointer(p, "realloc", 0);
    size_t usable = pk_usable_size(p);
    if (size <= usable && (size >= usable / 2 || usable <= 64)) return p;
    _pk_segment_t *segment = _pk_segment_of_block(p);
    if (segment->kind == PK_KIND_HUGE && size > PK_MAX_SMALL && size <= usable) {
        /* Shrinking a huge block: give back the tail pages in place. */
        size_t keep = _pk_align_up(segment->huge_offset + size, PK_OS_PAGE);
        if (keep < segment->map_size) {
            _pk_os_unmap((uint8_t *)segment + keep, segment->map_size - keep);
            segment->map_size = keep;
        }
        return p;
    }
    if (segment->kind == PK_KIND_HUGE && size > usable) {
        /* Growing a huge block: extend the mapping where it lies when it can, else move it
         * (no copy either way). */
        size_t offset = segment->huge_offset;
        if (size <= SIZE_MAX - offset - 2 * PK_SEGMENT_SIZE) {
            size_t need = _pk_align_up(offset + size, PK_OS_PAGE);
            if (_pk_huge_grow(segment, need)) return p;
            _pk_segment_t *moved = _pk_huge_move(segment, need);
            if (moved != NULL) return (uint8_t *)moved + offset;
        }
    }
    void *q = _pk_malloc(size);
    if (q == NULL) return NULL;
    memcpy(q, p, usable < size ? usable : size);
    _pk_free_block(p);
    return q;
}

/* ---- the standard names ---- */

PK_EXPORT void *malloc(size_t size) { return _pk_malloc(size); }

PK_EXPORT void *calloc(size_t count, size_t size) { return pk_calloc(count, size); }

PK_EXPORT void *realloc(void *p, size_t size) { return pk_realloc(p, size); }

PK_EXPORT int posix_memalign(void **out, size_t alignment, size_t size) {
    return pk_posix_memalign(out, alignment, size);
}

PK_EXPORT void *pk_valloc(size_t size) { return _pk_memalign(PK_OS_PAGE, size); }

PK_EXPORT void *pk_pvalloc(size_t size) {
    size_t rounded = _pk_align_up(size ? size : 1, PK_OS_PAGE);
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return _pk_memalign(PK_OS_PAGE, rounded);
}

PK_EXPORT void *pk_reallocarray(void *p, size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return pk_realloc(p, total);
}

PK_EXPORT void *memalign(size_t alignment, size_t size) { return pk_memalign(alignment, size); }

/* glibc 2.36's aligned_alloc is memalign: a non-power-of-two alignment is rounded up. */
PK_EXPORT void *aligned_alloc(size_t alignment, size_t size) { return pk_memalign(alignment, size); }

PK_EXPORT void *valloc(size_t size) { return pk_valloc(size); }

PK_EXPORT void *pvalloc(size_t size) { return pk_pvalloc(size); }

PK_EXPORT void *reallocarray(void *p, size_t count, size_t size) {
    return pk_reallocarray(p, count, size);
}
