/* pkmalloc's internals: the constants, the types and their invariants, the state the
 * subsystems share, and the small helpers every path inlines. Layout (like mimalloc's):
 *
 *   os.c       mappings, decommits, the clock         init.c   class tables, fork handlers
 *   segment.c  segments, spans of pages, purging      page.c   blocks of a page, slow alloc
 *   heap.c     thread heaps, abandoned pages          huge.c   huge blocks and their cache
 *   alloc.c    malloc and friends                     free.c   free
 *   stats.c    pk_stats_mapped, malloc_trim, the exit dump
 *
 * Invariants (checked by PK_ASSERT in the debug build, -DPK_DEBUG):
 * - a segment is PK_SEGMENT_SIZE-aligned; page 0 holds its header, so no small block
 *   starts at a segment's first byte, and a block's segment is that of its byte before;
 * - a span is a run of pages in one segment; its first page's descriptor holds the span,
 *   every page of it knows the way back (span_offset);
 * - a page belongs to one heap (``heap``) or to none (free span, or abandoned): only the
 *   owner touches its lists and counts, other threads push onto ``thread_free`` only;
 * - ``used`` counts blocks handed out and not yet collected back, so ``used == 0`` after a
 *   collect means no block of the page is live anywhere;
 * - no lock is held while another is taken, or across a system call that changes mappings.
 */
#ifndef PK_INTERNAL_H
#define PK_INTERNAL_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pkmalloc.h"

#define PK_EXPORT __attribute__((visibility("default")))
#define PK_NOINLINE __attribute__((noinline))
#define PK_LIKELY(x) __builtin_expect(!!(x), 1)
#define PK_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define PK_SEGMENT_SHIFT 22u /* 4 MiB segments, aligned to their size */
#define PK_SEGMENT_SIZE ((size_t)1 << PK_SEGMENT_SHIFT)
#define PK_PAGE_SHIFT 16u /* 64 KiB pages inside a segment */
#define PK_PAGE_SIZE ((size_t)1 << PK_PAGE_SHIFT)
#define PK_PAGES (PK_SEGMENT_SIZE / PK_PAGE_SIZE) /* 64; page 0 holds the header */
#define PK_OS_PAGE 4096u
#define PK_MAX_SMALL ((size_t)1 << 20) /* larger requests are huge blocks */
#define PK_CLASSES 60u
#define PK_MIN_SPAN_BLOCKS 8u
#define PK_MAX_SPAN_PAGES 16u /* 1 MiB: the largest classes get fewer than 8 blocks a span */
/* Blocks of a page (64 KiB) and more get a span each, given back as soon as it is free:
 * a few rare large blocks then do not pin a span per class. */
#define PK_LARGE_BLOCK PK_PAGE_SIZE
#define PK_EXTEND_BYTES 16384u /* blocks carved from a span at a time, at least one */
#define PK_WARM_PAGES 64u      /* free pages always kept committed */
#define PK_PURGE_DELAY_NS 10000000ull /* free memory idle this long goes back to the OS */
#define PK_HUGE_HEADER 64u
#define PK_HUGE_CACHE 8u
#define PK_HUGE_CACHE_BYTES ((size_t)64 << 20)
#define PK_HUGE_TRIM_FACTOR 4u /* a cached mapping reused for under a quarter of it is trimmed */
#define PK_KIND_SMALL 0x706b736d616c6c31ull /* "pksmall1" */
#define PK_KIND_HUGE 0x706b687567653031ull  /* "pkhuge01" */

typedef struct _pk_block {
    struct _pk_block *next;
} _pk_block_t;

struct _pk_heap;

/* One cache line per page: the descriptor a malloc or free touches. */
typedef struct _pk_page {
    _pk_block_t *free;                     /* owner: blocks to hand out */
    _pk_block_t *local_free;               /* owner: blocks freed by the owner */
    _Atomic(_pk_block_t *) thread_free;    /* any thread: blocks freed by others */
    _Atomic(struct _pk_heap *) heap;       /* the owner; NULL once abandoned */
    struct _pk_page *next;                 /* in a heap's queue or full list, or abandoned */
    struct _pk_page *prev;
    uint32_t block_size;                   /* 0: the span is free */
    uint16_t used;                         /* handed out, not yet freed and collected */
    uint16_t capacity;                     /* blocks carved so far */
    uint16_t reserved;                     /* blocks the span holds */
    uint8_t span_pages;                    /* pages in the span (first page only) */
    uint8_t span_offset;                   /* pages back to the first page of the span */
    uint8_t class_index;
    uint8_t in_full;                       /* on the full list (atomic: freeing threads read it) */
    uint8_t has_aligned;                   /* a block was handed out at an inner address (atomic) */
} _pk_page_t;

_Static_assert(sizeof(_pk_page_t) == 64, "a page descriptor fills one cache line");
_Static_assert(offsetof(_pk_page_t, has_aligned) == offsetof(_pk_page_t, in_full) + 1,
               "in_full and has_aligned side by side: one load tests both");

/* in_full and has_aligned in one load: 0 when neither is set. For the page's owner, the only
 * thread that writes them (others read in_full atomically, and never write it). */
static inline uint16_t _pk_page_flags(const _pk_page_t *page) {
    uint16_t flags;
    memcpy(&flags, (const unsigned char *)page + offsetof(_pk_page_t, in_full), sizeof flags);
    return flags;
}
/* The most blocks a span holds: 16-byte blocks fill one page (PK_MIN_SPAN_BLOCKS of them
 * need far less), larger ones at most PK_MAX_SPAN_PAGES pages. */
_Static_assert(PK_PAGE_SIZE / 16 <= UINT16_MAX && PK_MAX_SPAN_PAGES * PK_PAGE_SIZE / 32 <= UINT16_MAX,
               "block counts fit 16 bits");

typedef struct _pk_segment {
    uint64_t kind;
    size_t map_size;    /* huge: bytes mapped */
    size_t huge_offset; /* huge: offset of the block handed out */
    int huge_fresh;     /* huge: straight from mmap, so still all zero */
    uint64_t free_mask; /* small: bit i set when page i is free */
    uint64_t cold_mask; /* small: bit i set when page i was given back to the OS */
    uint64_t recent_mask; /* small: bit i set when page i was freed in this purge period */
    struct _pk_segment *next;
    _pk_page_t pages[PK_PAGES];
} _pk_segment_t;

typedef struct {
    _pk_page_t *first;
    _pk_page_t *last;
} _pk_queue_t;

typedef struct _pk_heap {
    _pk_queue_t queue[PK_CLASSES]; /* pages that may have free blocks; the first is current */
    _pk_queue_t full;              /* pages found full */
    atomic_int full_freed;         /* another thread freed into a page on the full list */
    struct _pk_heap *next_free;
} _pk_heap_t;

#define PK_SMALL_DIRECT 1024u /* sizes whose class comes from a table */
#define PK_INTERNAL __attribute__((visibility("hidden")))

#ifdef PK_DEBUG
void _pk_assert_fail(const char *condition, const char *file, int line) __attribute__((noreturn));
#define PK_ASSERT(cond) ((cond) ? (void)0 : _pk_assert_fail(#cond, __FILE__, __LINE__))
#else
#define PK_ASSERT(cond) ((void)0)
#endif

/* ---- shared state (each defined in the file named) ---- */

extern atomic_size_t g_mapped;                               /* os.c */
extern pthread_once_t g_once;                                /* init.c */
extern pthread_key_t g_key;                                  /* init.c */
extern uint32_t g_class_size[PK_CLASSES];                    /* init.c */
extern uint32_t g_class_pages[PK_CLASSES];                   /* init.c */
extern const uint8_t g_small_class[PK_SMALL_DIRECT / 16 + 1];      /* init.c */
extern pthread_mutex_t g_heap_lock, g_abandon_lock;          /* heap.c */
extern PK_INTERNAL _pk_heap_t g_empty_heap;                  /* heap.c (hidden: a constant address) */
extern __thread _pk_heap_t *t_heap __attribute__((tls_model("initial-exec"))); /* heap.c */
/* The heap the inline fast paths of malloc and free read: t_heap, or the empty heap under
 * PKMALLOC_CHECK, so every call then takes a slow path (which checks) with no flag tested
 * on the fast ones. */
extern __thread _pk_heap_t *t_fast __attribute__((tls_model("initial-exec"))); /* heap.c */
extern pthread_mutex_t g_span_lock;                          /* segment.c */
extern size_t g_warm_pages;                                  /* segment.c */
extern int g_span_purging;                                   /* segment.c */
extern pthread_mutex_t g_huge_lock;                          /* huge.c */
extern atomic_int g_check;                                   /* check.c: PKMALLOC_CHECK=1 */
extern struct _pk_stats g_stats;                             /* stats.c */

/* ---- across files ---- */

/* os.c */
void *_pk_os_map(size_t size);
void _pk_os_unmap(void *p, size_t size);
void *_pk_os_map_aligned_at(size_t size, size_t alignment, size_t lead);
void *_pk_os_map_aligned(size_t size);
void _pk_os_decommit(void *p, size_t size);
int _pk_purge_due(uint64_t *at, int beyond_reserve);
/* init.c */
void _pk_init(void);
void _pk_register_atfork(void);
/* heap.c */
struct _pk_heap *_pk_heap_get_slow(void);
void _pk_adopt(_pk_heap_t *heap, unsigned c);
void _pk_sweep_abandoned(void);
void _pk_thread_exit(void *value);
/* segment.c */
_pk_page_t *_pk_span_alloc(unsigned pages);
void _pk_span_free(_pk_page_t *page);
void _pk_span_purge(int trim, size_t keep);
/* page.c */
void _pk_page_collect(_pk_page_t *page);
void *_pk_alloc_slow(_pk_heap_t *heap, unsigned c);
void _pk_page_retire(_pk_heap_t *heap, _pk_page_t *page);
/* huge.c */
int _pk_huge_grow(_pk_segment_t *segment, size_t need);
_pk_segment_t *_pk_huge_move(_pk_segment_t *segment, size_t need);
void *_pk_huge_alloc(size_t size, size_t alignment);
void _pk_huge_free(_pk_segment_t *segment);
unsigned _pk_huge_purge_take(int trim, _pk_segment_t **out);
void _pk_unmap_huge_all(_pk_segment_t **segments, unsigned count);
/* free.c */
void _pk_free_block(void *p);
/* check.c */
void _pk_check_pointer(const void *p, const char *call, int freeing);
void _pk_check_born(void *block);
void _pk_check_huge_born(_pk_segment_t *segment);
void _pk_check_huge_moved(_pk_segment_t *from, _pk_segment_t *to);
int _pk_segment_known(const _pk_segment_t *segment); /* segment.c */
/* stats.c */
void _pk_stats_init(void);

/* Counters of the slow paths, for PKMALLOC_STATS=1 (printed at exit). Relaxed atomics:
 * they are counts, not synchronisation, and the fast paths touch none of them. */
struct _pk_stats {
    atomic_size_t peak_mapped;   /* the most bytes mapped at once */
    atomic_size_t segments;      /* segments mapped */
    atomic_size_t spans;         /* spans handed to heaps */
    atomic_size_t spans_freed;   /* spans given back to their segments */
    atomic_size_t decommits;     /* runs of free pages given back to the OS */
    atomic_size_t huge;          /* huge blocks handed out */
    atomic_size_t huge_reused;   /* of them, from the cache of freed mappings */
    atomic_size_t huge_moved;    /* huge blocks grown by moving their pages (no copy) */
    atomic_size_t heaps;         /* thread heaps set up */
    atomic_size_t abandoned;     /* pages left by exited threads with blocks still live */
    atomic_size_t adopted;       /* pages taken over by a thread allocating their class */
    atomic_size_t swept;         /* abandoned pages given back once all their blocks were freed */
};
#define PK_STAT(name, n) atomic_fetch_add_explicit(&g_stats.name, (n), memory_order_relaxed)

/* ---- helpers ---- */

/* Whether PKMALLOC_CHECK is on (one relaxed load: a plain mov on x86-64). */
static inline int _pk_checking(void) { return atomic_load_explicit(&g_check, memory_order_relaxed); }

static inline size_t _pk_align_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }

static inline _pk_segment_t *_pk_segment_of(const void *p) {
    return (_pk_segment_t *)((uintptr_t)p & ~(uintptr_t)(PK_SEGMENT_SIZE - 1));
}

/* The segment of a block handed out: the one holding its byte before. No block starts at a
 * segment's first byte (the header is there), except a huge block aligned to 4 MiB or
 * more, whose header sits one segment below it. */
static inline _pk_segment_t *_pk_segment_of_block(const void *p) {
    return _pk_segment_of((const uint8_t *)p - 1);
}

static inline unsigned _pk_class_of(size_t size) {
    if (size <= 128) return size == 0 ? 0 : (unsigned)((size + 15) / 16 - 1);
    size_t s = size - 1;
    unsigned bit = 63u - (unsigned)__builtin_clzll(s); /* 2^bit <= s < 2^(bit+1) */
    size_t base = (size_t)1 << bit;
    return 8u + (bit - 7u) * 4u + (unsigned)((s - base) / (base / 4));
}

/* This thread's heap, made on first use; NULL when there is no memory for one. */
static inline _pk_heap_t *_pk_heap_get(void) {
    _pk_heap_t *heap = t_heap;
    return PK_LIKELY(heap != &g_empty_heap) ? heap : _pk_heap_get_slow();
}

/* ---- page queues (owner thread) ---- */

static inline void _pk_queue_push_front(_pk_queue_t *queue, _pk_page_t *page) {
    page->prev = NULL;
    page->next = queue->first;
    if (queue->first != NULL) queue->first->prev = page;
    else queue->last = page;
    queue->first = page;
}

static inline void _pk_queue_push_back(_pk_queue_t *queue, _pk_page_t *page) {
    page->next = NULL;
    page->prev = queue->last;
    if (queue->last != NULL) queue->last->next = page;
    else queue->first = page;
    queue->last = page;
}

static inline void _pk_queue_remove(_pk_queue_t *queue, _pk_page_t *page) {
    if (page->prev != NULL) page->prev->next = page->next;
    else queue->first = page->next;
    if (page->next != NULL) page->next->prev = page->prev;
    else queue->last = page->prev;
    page->next = page->prev = NULL;
}

static inline _pk_queue_t *_pk_queue_of(_pk_heap_t *heap, _pk_page_t *page) {
    return page->in_full ? &heap->full : &heap->queue[page->class_index];
}

static inline void _pk_set_in_full(_pk_page_t *page, uint8_t value) {
    __atomic_store_n(&page->in_full, value, __ATOMIC_SEQ_CST);
}

/* The bitmap bits of ``pages`` pages from page ``first``. */
static inline uint64_t _pk_span_bits(unsigned first, unsigned pages) {
    return (pages == 64 ? ~(uint64_t)0 : (((uint64_t)1 << pages) - 1)) << first;
}

/* Take the lowest run of set bits out of ``*mask`` (not 0): its first bit, and its length
 * in ``*length``. */
static inline unsigned _pk_take_run(uint64_t *mask, unsigned *length) {
    unsigned first = (unsigned)__builtin_ctzll(*mask);
    uint64_t rest = ~(*mask >> first);
    *length = rest == 0 ? 64 - first : (unsigned)__builtin_ctzll(rest);
    *mask &= ~_pk_span_bits(first, *length);
    return first;
}

/* ---- pages of blocks (owner thread) ---- */

/* The first byte of the span that ``page`` (its first page) heads. */
static inline uint8_t *_pk_page_start(_pk_page_t *page) {
    _pk_segment_t *segment = _pk_segment_of(page);
    return (uint8_t *)segment + ((size_t)(page - segment->pages) << PK_PAGE_SHIFT);
}

static inline _pk_page_t *_pk_page_of(_pk_segment_t *segment, const void *p) {
    _pk_page_t *page = &segment->pages[((uintptr_t)p - (uintptr_t)segment) >> PK_PAGE_SHIFT];
    return page - page->span_offset;
}

static inline _pk_block_t *_pk_block_start(_pk_page_t *page, void *p) {
    if (PK_LIKELY(!__atomic_load_n(&page->has_aligned, __ATOMIC_RELAXED))) return (_pk_block_t *)p;
    uint8_t *start = _pk_page_start(page);
    size_t offset = (size_t)((uint8_t *)p - start);
    return (_pk_block_t *)(start + offset - offset % page->block_size);
}

#endif
