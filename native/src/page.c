/* Pages of blocks, seen from their owner thread: carving, collecting frees, the full
 * list, and the slow path of an allocation. */
#include "internal.h"

static void _pk_page_init(_pk_page_t *page, unsigned class_index, _pk_heap_t *heap) {
    page->block_size = g_class_size[class_index];
    page->class_index = (uint8_t)class_index;
    page->reserved = (uint16_t)(((size_t)page->span_pages << PK_PAGE_SHIFT) / page->block_size);
    atomic_store_explicit(&page->heap, heap, memory_order_release);
}

/* Carve more blocks from the span onto the free list (lazily, so untouched memory stays
 * untouched). */
static void _pk_page_extend(_pk_page_t *page) {
    uint32_t count = PK_EXTEND_BYTES / page->block_size;
    if (count == 0) count = 1;
    if (count > (uint32_t)(page->reserved - page->capacity)) count = (uint32_t)(page->reserved - page->capacity);
    uint8_t *at = _pk_page_start(page) + (size_t)page->capacity * page->block_size;
    _pk_block_t *head = page->free;
    for (uint32_t i = count; i > 0; --i) {
        _pk_block_t *block = (_pk_block_t *)(at + (size_t)(i - 1) * page->block_size);
        block->next = head;
        head = block;
    }
    page->free = head;
    page->capacity = (uint16_t)(page->capacity + count);
}

/* Gather the blocks freed by the owner and by other threads onto the free list. */
PK_INTERNAL void _pk_page_collect(_pk_page_t *page) {
    if (page->local_free != NULL) {
        if (page->free != NULL) { /* rare: the caller usually collects an empty list */
            _pk_block_t *tail = page->local_free;
            while (tail->next != NULL) tail = tail->next;
            tail->next = page->free;
        }
        page->free = page->local_free;
        page->local_free = NULL;
    }
    if (atomic_load_explicit(&page->thread_free, memory_order_relaxed) != NULL) {
        _pk_block_t *list = atomic_exchange_explicit(&page->thread_free, NULL, memory_order_acquire);
        uint32_t count = 0;
        _pk_block_t *tail = list;
        for (;;) {
            ++count;
            if (tail->next == NULL) break;
            tail = tail->next;
        }
        tail->next = page->free;
        page->free = list;
        PK_ASSERT(count <= page->used); /* more frees than blocks handed out: a double free */
        page->used = (uint16_t)(page->used - count);
    }
}

static inline int _pk_page_ready(_pk_page_t *page) {
    if (page->free == NULL) _pk_page_collect(page);
    if (page->free == NULL && page->capacity < page->reserved) _pk_page_extend(page);
    return page->free != NULL;
}

static void *_pk_pop(_pk_heap_t *heap, unsigned c, _pk_page_t *page) {
    if (heap->queue[c].first != page) {
        _pk_queue_remove(&heap->queue[c], page);
        _pk_queue_push_front(&heap->queue[c], page);
    }
    _pk_block_t *block = page->free;
    page->free = block->next;
    page->used++;
    if (PK_UNLIKELY(_pk_checking())) _pk_check_born(block);
    return block;
}

/* Move a page with no block left to the full list, where the fast paths no longer look at
 * it. A thread that frees into it afterwards sees ``in_full`` and flags the heap; a free
 * that raced the move is seen here instead (both sides order the flag and the list with
 * sequentially consistent operations), and the page stays. Returns whether it moved. */
static int _pk_page_to_full(_pk_heap_t *heap, _pk_page_t *page) {
    _pk_queue_remove(&heap->queue[page->class_index], page);
    _pk_set_in_full(page, 1);
    if (__atomic_load_n(&page->thread_free, __ATOMIC_SEQ_CST) != NULL) {
        _pk_set_in_full(page, 0);
        _pk_queue_push_back(&heap->queue[page->class_index], page);
        return 0;
    }
    _pk_queue_push_back(&heap->full, page);
    return 1;
}

/* Bring back the full pages that other threads have freed into since the heap was
 * flagged. */
static void _pk_unfull_freed(_pk_heap_t *heap) {
    if (atomic_load_explicit(&heap->full_freed, memory_order_relaxed) == 0) return;
    atomic_exchange_explicit(&heap->full_freed, 0, memory_order_acq_rel);
    for (_pk_page_t *page = heap->full.first, *next; page != NULL; page = next) {
        next = page->next;
        if (atomic_load_explicit(&page->thread_free, memory_order_relaxed) == NULL) continue;
        _pk_queue_remove(&heap->full, page);
        _pk_set_in_full(page, 0);
        _pk_page_collect(page);
        _pk_queue_push_back(&heap->queue[page->class_index], page);
    }
}

static void *_pk_first_ready(_pk_heap_t *heap, unsigned c) {
    for (_pk_page_t *page = heap->queue[c].first; page != NULL; page = page->next)
        if (_pk_page_ready(page)) return _pk_pop(heap, c, page);
    return NULL;
}

PK_INTERNAL void *_pk_alloc_slow(_pk_heap_t *heap, unsigned c) {
    /* 1. The pages of this class, current first: collect frees, carve, or move full ones
     *    aside (each page moves at most once, so the walk is paid for by the allocations
     *    that filled the pages). */
    for (_pk_page_t *page = heap->queue[c].first, *next; page != NULL; page = next) {
        next = page->next;
        if (_pk_page_ready(page)) return _pk_pop(heap, c, page);
        if (!_pk_page_to_full(heap, page) && _pk_page_ready(page)) return _pk_pop(heap, c, page);
    }
    /* 2. Full pages that other threads have freed into since. */
    _pk_unfull_freed(heap);
    void *block = _pk_first_ready(heap, c);
    if (block != NULL) return block;
    /* 3. Pages of threads that have exited. */
    _pk_adopt(heap, c);
    block = _pk_first_ready(heap, c);
    if (block != NULL) return block;
    /* 4. A fresh span. */
    _pk_page_t *page = _pk_span_alloc(g_class_pages[c]);
    if (page == NULL) return NULL;
    _pk_page_init(page, c, heap);
    _pk_queue_push_front(&heap->queue[c], page);
    _pk_page_extend(page);
    return _pk_pop(heap, c, page);
}

/* Hand a page whose blocks are all free back to its segment, unless it is the only page
 * of a class of small blocks (which a steady alloc/free loop would otherwise bounce). */
PK_INTERNAL void _pk_page_retire(_pk_heap_t *heap, _pk_page_t *page) {
    if (page->block_size < PK_LARGE_BLOCK && heap->queue[page->class_index].first == page &&
        page->next == NULL && !page->in_full)
        return;
    _pk_queue_remove(_pk_queue_of(heap, page), page);
    atomic_store_explicit(&page->heap, NULL, memory_order_relaxed);
    _pk_span_free(page);
}
