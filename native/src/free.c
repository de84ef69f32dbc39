/* Freeing: by the owner thread onto its page's local list, by any other thread onto the
 * page's atomic list; huge blocks back to their cache. */
#include "internal.h"

/* A free by the owner that empties its page or brings it back from the full list. */
static PK_NOINLINE void _pk_free_local_slow(_pk_heap_t *heap, _pk_page_t *page) {
    if (page->used == 0) {
        _pk_page_retire(heap, page);
    } else if (page->in_full) {
        /* Behind the pages in use: by the time the walk reaches it, more of its blocks
         * may have come back. */
        _pk_queue_remove(&heap->full, page);
        _pk_set_in_full(page, 0);
        _pk_queue_push_back(&heap->queue[page->class_index], page);
    }
}

/* A free from a thread that does not own the page: onto its atomic list. */
static PK_NOINLINE void _pk_free_foreign(_pk_page_t *page, _pk_block_t *block) {
    _pk_block_t *head = atomic_load_explicit(&page->thread_free, memory_order_relaxed);
    do {
        block->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&page->thread_free, &head, block,
                                                    memory_order_seq_cst, memory_order_relaxed));
    if (PK_UNLIKELY(__atomic_load_n(&page->in_full, __ATOMIC_SEQ_CST))) {
        /* The owner no longer looks at this page: tell it where to look. */
        _pk_heap_t *owner = atomic_load_explicit(&page->heap, memory_order_acquire);
        if (owner != NULL) atomic_store_explicit(&owner->full_freed, 1, memory_order_release);
    }
}

static PK_NOINLINE void _pk_free_slow(void *p) {
    if (PK_UNLIKELY(_pk_checking())) _pk_check_pointer(p, "free", 1); /* before any read of it */
    _pk_segment_t *segment = _pk_segment_of_block(p);
    if (segment->kind == PK_KIND_HUGE) {
        _pk_huge_free(segment);
        return;
    }
    _pk_page_t *page = _pk_page_of(segment, p);
    _pk_block_t *block = _pk_block_start(page, p);
    _pk_heap_t *heap = t_heap;
    if (atomic_load_explicit(&page->heap, memory_order_relaxed) == heap) {
        block->next = page->local_free;
        page->local_free = block;
        page->used--;
        _pk_free_local_slow(heap, page);
        return;
    }
    _pk_free_foreign(page, block);
}

/* The common free: a block of a page this thread owns, handed out at its start, on a page
 * not on the full list (one load tests both flags; either sends the free to the slow path,
 * which handles both). A thread whose t_fast is the empty heap (under PKMALLOC_CHECK, every
 * thread) takes the slow path before anything reads the pointer's segment, and there the
 * pointer is checked first: one comparison with a constant, where a test of the check flag
 * cost every free a load. */
static inline void _pk_free(void *p) {
    _pk_heap_t *heap = t_fast;
    if (PK_UNLIKELY(p == NULL)) return;
    if (PK_LIKELY(heap != &g_empty_heap)) {
        _pk_segment_t *segment = _pk_segment_of_block(p);
        if (PK_LIKELY(segment->kind == PK_KIND_SMALL)) {
            _pk_page_t *page = _pk_page_of(segment, p);
            if (PK_LIKELY(atomic_load_explicit(&page->heap, memory_order_relaxed) == heap &&
                          _pk_page_flags(page) == 0)) {
                _pk_block_t *block = p;
                block->next = page->local_free;
                page->local_free = block;
                if (PK_UNLIKELY(--page->used == 0)) _pk_free_local_slow(heap, page);
                return;
            }
        }
    }
    _pk_free_slow(p);
}

PK_EXPORT void pk_free(void *p) { _pk_free(p); }

PK_EXPORT size_t pk_usable_size(void *p) {
    if (p == NULL) return 0;
    if (PK_UNLIKELY(_pk_checking())) _pk_check_pointer(p, "malloc_usable_size", 0);
    _pk_segment_t *segment = _pk_segment_of_block(p);
    if (segment->kind == PK_KIND_HUGE) return segment->map_size - (size_t)((uint8_t *)p - (uint8_t *)segment);
    _pk_page_t *page = _pk_page_of(segment, p);
    _pk_block_t *block = _pk_block_start(page, p);
    return page->block_size - (size_t)((uint8_t *)p - (uint8_t *)block);
}

PK_EXPORT void free(void *p) { _pk_free(p); }

PK_EXPORT size_t malloc_usable_size(void *p) { return pk_usable_size(p); }

/* free() for the other files (realloc): the same path, not inlined there. */
PK_INTERNAL void _pk_free_block(void *p) { _pk_free(p); }
