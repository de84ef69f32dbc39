/* Thread heaps: made on a thread's first malloc, given up at its exit; the pages of
 * exited threads that still hold blocks, by class, until a thread adopts them. */
#include "internal.h"

/* g_heap_lock: the heaps of exited threads and the metadata pages heaps are cut from. */
PK_INTERNAL pthread_mutex_t g_heap_lock = PTHREAD_MUTEX_INITIALIZER;
static _pk_heap_t *g_free_heaps;
static uint8_t *g_meta_next;
static uint8_t *g_meta_end;

/* g_abandon_lock: pages of exited threads that still hold blocks, by size class. The heads
 * are written under the lock and read without it (a stale NULL only delays an adoption). */
PK_INTERNAL pthread_mutex_t g_abandon_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(_pk_page_t *) g_abandoned[PK_CLASSES];

/* A thread's heap before its first malloc (and after its exit): no pages, so every
 * malloc takes the slow path, which makes a real heap; no page names it as its owner, so
 * every free takes the path of a free from another thread. Never written. */
PK_INTERNAL _pk_heap_t g_empty_heap;
PK_INTERNAL __thread _pk_heap_t *t_heap __attribute__((tls_model("initial-exec"))) = &g_empty_heap;
PK_INTERNAL __thread _pk_heap_t *t_fast __attribute__((tls_model("initial-exec"))) = &g_empty_heap;

/* ---- thread heaps ---- */

/* A heap of an exited thread, else one cut from a metadata page (a new page mapped with
 * no lock held; of two threads that map one at once, the second unmaps its own). */
static _pk_heap_t *_pk_heap_new(void) {
    const size_t stride = _pk_align_up(sizeof(_pk_heap_t), 64);
    uint8_t *spare = NULL;
    _pk_heap_t *heap = NULL;
    pthread_mutex_lock(&g_heap_lock);
    while (heap == NULL) {
        if (g_free_heaps != NULL) {
            heap = g_free_heaps;
            g_free_heaps = heap->next_free;
        } else if (g_meta_next != NULL && g_meta_next + stride <= g_meta_end) {
            heap = (_pk_heap_t *)g_meta_next;
            g_meta_next += stride;
        } else if (spare != NULL) {
            g_meta_next = spare;
            g_meta_end = spare + PK_PAGE_SIZE;
            spare = NULL;
        } else {
            pthread_mutex_unlock(&g_heap_lock);
            spare = _pk_os_map(PK_PAGE_SIZE);
            if (spare == NULL) return NULL;
            pthread_mutex_lock(&g_heap_lock);
        }
    }
    pthread_mutex_unlock(&g_heap_lock);
    if (spare != NULL) _pk_os_unmap(spare, PK_PAGE_SIZE);
    memset(heap, 0, sizeof(*heap));
    return heap;
}

PK_INTERNAL _pk_heap_t *_pk_heap_get_slow(void) {
    pthread_once(&g_once, _pk_init);
    _pk_heap_t *heap = _pk_heap_new();
    if (heap == NULL) return NULL;
    PK_STAT(heaps, 1);
    t_heap = heap;
    t_fast = _pk_checking() ? &g_empty_heap : heap; /* _pk_init has read PKMALLOC_CHECK */
    pthread_setspecific(g_key, heap); /* the key's destructor abandons it at thread exit */
    _pk_register_atfork(); /* pthread_atfork may allocate; this thread has a heap by now */
    return heap;
}

/* The whole abandoned list of class ``c`` (NULL when empty), taken off it. */
static _pk_page_t *_pk_abandoned_take(unsigned c) {
    if (atomic_load_explicit(&g_abandoned[c], memory_order_relaxed) == NULL) return NULL; /* a miss only delays it */
    pthread_mutex_lock(&g_abandon_lock);
    _pk_page_t *list = atomic_load_explicit(&g_abandoned[c], memory_order_relaxed);
    atomic_store_explicit(&g_abandoned[c], NULL, memory_order_relaxed);
    pthread_mutex_unlock(&g_abandon_lock);
    return list;
}

/* Put the pages ``first`` .. ``last`` (linked by ``next``) on the abandoned list of class ``c``. */
static void _pk_abandoned_put(unsigned c, _pk_page_t *first, _pk_page_t *last) {
    pthread_mutex_lock(&g_abandon_lock);
    last->next = atomic_load_explicit(&g_abandoned[c], memory_order_relaxed);
    atomic_store_explicit(&g_abandoned[c], first, memory_order_relaxed);
    pthread_mutex_unlock(&g_abandon_lock);
}

/* Take over the abandoned pages of class ``c``: they join this heap's queue of the class
 * (the allocation walk moves those still full to the full list), except those whose
 * blocks have all been freed since, which go back to their segment (one is kept to
 * allocate from). Only the class being allocated is taken: a page adopted into a class
 * its new owner never allocates would never be looked at again (the cause of memory
 * growing with every generation of threads, when a long-lived thread adopted them all). */
PK_INTERNAL void _pk_adopt(_pk_heap_t *heap, unsigned c) {
    _pk_page_t *list = _pk_abandoned_take(c);
    int kept_empty = 0;
    while (list != NULL) {
        _pk_page_t *page = list;
        list = page->next;
        PK_ASSERT(page->class_index == c && atomic_load_explicit(&page->heap, memory_order_relaxed) == NULL);
        _pk_page_collect(page);
        if (page->used == 0 && kept_empty) {
            PK_STAT(swept, 1);
            _pk_span_free(page);
            continue;
        }
        PK_STAT(adopted, 1);
        kept_empty |= page->used == 0;
        atomic_store_explicit(&page->heap, heap, memory_order_release);
        _pk_set_in_full(page, 0);
        _pk_queue_push_back(&heap->queue[c], page);
    }
}

/* Give back the spans of abandoned pages whose blocks have all been freed since their
 * owners exited, so memory that no thread allocates from again does not stay mapped.
 * Each thread exit (and malloc_trim) walks the abandoned pages once. */
PK_INTERNAL void _pk_sweep_abandoned(void) {
    for (unsigned c = 0; c < PK_CLASSES; ++c) {
        _pk_page_t *list = _pk_abandoned_take(c);
        _pk_page_t *keep = NULL, *keep_last = NULL;
        while (list != NULL) {
            _pk_page_t *page = list;
            list = page->next;
            _pk_page_collect(page);
            if (page->used == 0) {
                PK_STAT(swept, 1);
                _pk_span_free(page);
                continue;
            }
            page->next = keep;
            keep = page;
            if (keep_last == NULL) keep_last = page;
        }
        if (keep != NULL) _pk_abandoned_put(c, keep, keep_last);
    }
}

/* A thread's exit: pages whose blocks are all free go back to their segments, the others
 * wait, by class, for a thread that allocates that class; the heap is kept for a new thread. */
PK_INTERNAL void _pk_thread_exit(void *value) {
    _pk_heap_t *heap = value;
    _pk_page_t *keep[PK_CLASSES] = {0}, *keep_last[PK_CLASSES] = {0};
    for (unsigned q = 0; q <= PK_CLASSES; ++q) {
        _pk_queue_t *queue = q < PK_CLASSES ? &heap->queue[q] : &heap->full;
        while (queue->first != NULL) {
            _pk_page_t *page = queue->first;
            _pk_queue_remove(queue, page);
            _pk_page_collect(page);
            if (page->used == 0) {
                _pk_span_free(page);
            } else {
                atomic_store_explicit(&page->heap, NULL, memory_order_release);
                PK_STAT(abandoned, 1);
                unsigned c = page->class_index;
                page->next = keep[c];
                keep[c] = page;
                if (keep_last[c] == NULL) keep_last[c] = page;
            }
        }
    }
    _pk_sweep_abandoned();
    for (unsigned c = 0; c < PK_CLASSES; ++c)
        if (keep[c] != NULL) _pk_abandoned_put(c, keep[c], keep_last[c]);
    pthread_mutex_lock(&g_heap_lock);
    heap->next_free = g_free_heaps;
    g_free_heaps = heap;
    pthread_mutex_unlock(&g_heap_lock);
    t_heap = t_fast = &g_empty_heap; /* a later malloc (other destructors) makes a new heap */
}
