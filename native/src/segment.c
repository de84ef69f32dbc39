/* Segments (4 MiB, aligned to their size) and the spans of 64 KiB pages in them; free
 * pages go back to the OS after a purge period, outside the lock. */
#include "internal.h"

/* g_span_lock: the segments, their page bitmaps and the count of committed free pages. */
PK_INTERNAL pthread_mutex_t g_span_lock = PTHREAD_MUTEX_INITIALIZER;
static _pk_segment_t *g_segments;
PK_INTERNAL size_t g_warm_pages;
static uint64_t g_span_purge_at; /* when idle free pages go back to the OS; 0: none to */
PK_INTERNAL int g_span_purging;  /* a thread is giving pages back (outside the lock) */

/* ---- spans: runs of pages in a segment (g_span_lock held unless said otherwise) ---- */

/* A fresh segment, mapped (no lock held: mmap takes the kernel's mmap lock), not yet linked. */
static _pk_segment_t *_pk_segment_map(void) {
    _pk_segment_t *segment = _pk_os_map_aligned(PK_SEGMENT_SIZE);
    if (segment == NULL) return NULL;
    segment->kind = PK_KIND_SMALL;
    segment->free_mask = ~(uint64_t)1; /* page 0 holds this header */
    segment->cold_mask = ~(uint64_t)1; /* never touched: not resident, not counted warm */
    PK_STAT(segments, 1);
    return segment;
}

/* Where a span of ``pages`` pages goes: the committed free run that fits it most tightly
 * (reusing committed pages costs no page faults and no new RSS, and tight fits keep long
 * runs for long spans); else the place among all free pages that overlaps the most
 * committed ones. Its first page, or -1 when no segment has room. */
static int _pk_place_span(unsigned pages, _pk_segment_t **found) {
    int best = -1;
    unsigned best_length = 65;
    for (_pk_segment_t *segment = g_segments; segment != NULL && best_length > pages; segment = segment->next) {
        uint64_t warm = segment->free_mask & ~segment->cold_mask;
        while (warm != 0) {
            unsigned length;
            unsigned first = _pk_take_run(&warm, &length);
            if (length >= pages && length < best_length) {
                best = (int)first;
                best_length = length;
                *found = segment;
            }
        }
    }
    if (best >= 0) return best;
    int best_warm = -1;
    for (_pk_segment_t *segment = g_segments; segment != NULL; segment = segment->next) {
        uint64_t free_pages = segment->free_mask;
        uint64_t warm = free_pages & ~segment->cold_mask;
        while (free_pages != 0) {
            unsigned length;
            unsigned first = _pk_take_run(&free_pages, &length);
            for (unsigned at = first; at + pages <= first + length; ++at) {
                int overlap = __builtin_popcountll(warm & _pk_span_bits(at, pages));
                if (overlap > best_warm) {
                    best_warm = overlap;
                    best = (int)at;
                    *found = segment;
                }
            }
        }
    }
    return best;
}

/* Whether ``segment`` is one of the small-block segments (for PKMALLOC_CHECK: never
 * dereferences it). */
PK_INTERNAL int _pk_segment_known(const _pk_segment_t *segment) {
    pthread_mutex_lock(&g_span_lock);
    const _pk_segment_t *s = g_segments;
    while (s != NULL && s != segment) s = s->next;
    pthread_mutex_unlock(&g_span_lock);
    return s != NULL;
}

/* A fresh page descriptor. Threads finishing a free into the span's last owner may still
 * read its atomic fields (see _pk_free_foreign), so those are stored atomically. */
static void _pk_page_reset(_pk_page_t *page, unsigned span_offset) {
    page->free = NULL;
    page->local_free = NULL;
    atomic_store_explicit(&page->thread_free, NULL, memory_order_relaxed);
    atomic_store_explicit(&page->heap, NULL, memory_order_relaxed);
    page->next = page->prev = NULL;
    page->block_size = 0;
    page->used = page->capacity = page->reserved = 0;
    page->span_pages = 0;
    page->span_offset = (uint8_t)span_offset;
    page->class_index = 0;
    __atomic_store_n(&page->in_full, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&page->has_aligned, 0, __ATOMIC_RELAXED);
}

/* A span of ``pages`` pages (g_span_lock not held). */
PK_INTERNAL _pk_page_t *_pk_span_alloc(unsigned pages) {
    _pk_segment_t *segment = NULL, *fresh = NULL;
    pthread_mutex_lock(&g_span_lock);
    int first = _pk_place_span(pages, &segment);
    if (first < 0) {
        pthread_mutex_unlock(&g_span_lock);
        fresh = _pk_segment_map();
        if (fresh == NULL) return NULL;
        pthread_mutex_lock(&g_span_lock);
        first = _pk_place_span(pages, &segment); /* another thread may have freed room meanwhile */
        if (first < 0) {
            fresh->next = g_segments;
            g_segments = segment = fresh;
            fresh = NULL;
            first = 1; /* page 0 holds the header */
        }
    }
    uint64_t bits = _pk_span_bits((unsigned)first, pages);
    PK_ASSERT(first >= 1 && (unsigned)first + pages <= PK_PAGES && (segment->free_mask & bits) == bits);
    segment->free_mask &= ~bits;
    segment->recent_mask &= ~bits;
    g_warm_pages -= (size_t)__builtin_popcountll(bits & ~segment->cold_mask);
    segment->cold_mask &= ~bits;
    pthread_mutex_unlock(&g_span_lock);
    if (fresh != NULL) _pk_os_unmap(fresh, PK_SEGMENT_SIZE); /* not needed after all */
    PK_STAT(spans, 1);
    for (unsigned i = 0; i < pages; ++i) _pk_page_reset(&segment->pages[first + (int)i], i);
    _pk_page_t *page = &segment->pages[first];
    page->span_pages = (uint8_t)pages;
    return page;
}

/* Give back a span whose blocks are all free (g_span_lock not held). Free memory goes
 * back to the OS only once it has stayed unused for a purge period, so a program that
 * frees and allocates again soon does not fault the same pages in over and over. */
PK_INTERNAL void _pk_span_free(_pk_page_t *page) {
    _pk_segment_t *segment = _pk_segment_of(page);
    unsigned first = (unsigned)(page - segment->pages);
    uint64_t bits = _pk_span_bits(first, page->span_pages);
    page->block_size = 0;
    PK_STAT(spans_freed, 1);
    pthread_mutex_lock(&g_span_lock);
    PK_ASSERT((segment->free_mask & bits) == 0); /* a span is freed once */
    segment->free_mask |= bits;
    segment->recent_mask |= bits;
    g_warm_pages += (size_t)__builtin_popcountll(bits & ~segment->cold_mask);
    int due = !g_span_purging && _pk_purge_due(&g_span_purge_at, g_warm_pages > PK_WARM_PAGES);
    pthread_mutex_unlock(&g_span_lock);
    if (due) _pk_span_purge(0, PK_WARM_PAGES);
}

/* What one purge pass hands to the OS outside the lock: runs of free pages (taken out of
 * their segment's free pages meanwhile, so no span is placed on them while madvise runs)
 * and empty segments (already unlinked). */
#define PK_PURGE_BATCH 32u

typedef struct {
    struct {
        _pk_segment_t *segment;
        uint64_t bits;
    } run[PK_PURGE_BATCH];
    unsigned runs;
    _pk_segment_t *empty[PK_PURGE_BATCH];
    unsigned empties;
} _pk_purge_batch_t;

/* Under g_span_lock: fill ``batch`` with the idle committed free pages past ``keep`` (all
 * committed free pages with ``trim``; else those not reused through the period that ends)
 * and with the empty, uncommitted segments (one kept, none with ``trim``). */
static void _pk_purge_take(_pk_purge_batch_t *batch, int trim, size_t keep) {
    int kept_empty = trim;
    _pk_segment_t **link = &g_segments;
    batch->runs = batch->empties = 0;
    while (*link != NULL) {
        _pk_segment_t *segment = *link;
        if (segment->free_mask == ~(uint64_t)1 && segment->cold_mask == ~(uint64_t)1) {
            if (kept_empty && batch->empties < PK_PURGE_BATCH) {
                *link = segment->next;
                batch->empty[batch->empties++] = segment;
                continue;
            }
            kept_empty = 1;
        }
        uint64_t idle = segment->free_mask & ~segment->cold_mask;
        if (!trim) idle &= ~segment->recent_mask;
        while (idle != 0 && g_warm_pages > keep && batch->runs < PK_PURGE_BATCH) {
            unsigned pages;
            unsigned first = _pk_take_run(&idle, &pages);
            uint64_t bits = _pk_span_bits(first, pages);
            segment->free_mask &= ~bits;
            g_warm_pages -= pages;
            batch->run[batch->runs].segment = segment;
            batch->run[batch->runs].bits = bits;
            batch->runs++;
        }
        if (batch->runs < PK_PURGE_BATCH) segment->recent_mask = 0; /* this segment is done */
        link = &segment->next;
    }
}

/* The end of a purge period: free pages that were not reused through it go back to the
 * OS past ``keep`` (PK_WARM_PAGES), and empty segments with nothing committed are unmapped
 * (one is kept). A trim (``trim``: malloc_trim) gives back every free page past ``keep`` and
 * every empty segment. The system calls run outside the lock, a batch at a time. */
PK_INTERNAL void _pk_span_purge(int trim, size_t keep) {
    _pk_purge_batch_t batch;
    pthread_mutex_lock(&g_span_lock);
    if (g_span_purging) { /* another thread is at it */
        pthread_mutex_unlock(&g_span_lock);
        return;
    }
    g_span_purging = 1;
    for (;;) {
        _pk_purge_take(&batch, trim, keep);
        if (batch.runs == 0 && batch.empties == 0) break;
        pthread_mutex_unlock(&g_span_lock);
        PK_STAT(decommits, batch.runs);
        for (unsigned i = 0; i < batch.runs; ++i) {
            unsigned first = (unsigned)__builtin_ctzll(batch.run[i].bits);
            unsigned pages = (unsigned)__builtin_popcountll(batch.run[i].bits);
            _pk_os_decommit((uint8_t *)batch.run[i].segment + ((size_t)first << PK_PAGE_SHIFT),
                            (size_t)pages << PK_PAGE_SHIFT);
        }
        for (unsigned i = 0; i < batch.empties; ++i) _pk_os_unmap(batch.empty[i], PK_SEGMENT_SIZE);
        pthread_mutex_lock(&g_span_lock);
        for (unsigned i = 0; i < batch.runs; ++i) {
            batch.run[i].segment->free_mask |= batch.run[i].bits;
            batch.run[i].segment->cold_mask |= batch.run[i].bits;
        }
    }
    g_span_purging = 0;
    pthread_mutex_unlock(&g_span_lock);
}
