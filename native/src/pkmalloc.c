/* pkmalloc: size classes, per-thread heaps, 64 KiB pages in 4 MiB segments, huge blocks
 * straight from mmap. The design is described in native/README.md.
 */
#define _GNU_SOURCE
#include "pkmalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

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
    uint8_t in_full;                       /* on the full list (read by freeing threads) */
    uint8_t has_aligned;                   /* some block was handed out at an inner address */
} _pk_page_t;

_Static_assert(sizeof(_pk_page_t) == 64, "a page descriptor fills one cache line");
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

/* ---- global state (g_lock guards everything below it) ---- */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static atomic_int g_atfork_registered;
static atomic_size_t g_mapped;
static uint32_t g_class_size[PK_CLASSES];
static uint32_t g_class_pages[PK_CLASSES];
#define PK_SMALL_DIRECT 1024u /* sizes whose class comes from a table */
static uint8_t g_small_class[PK_SMALL_DIRECT / 16 + 1]; /* class of sizes (s+15)/16*16 */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static _pk_segment_t *g_segments;
static _pk_page_t *g_abandoned;
static size_t g_warm_pages;
static _pk_heap_t *g_free_heaps;
static uint8_t *g_meta_next;
static uint8_t *g_meta_end;
static struct {
    _pk_segment_t *segment;
    int idle; /* cached through a whole purge period */
} g_huge_cache[PK_HUGE_CACHE];
static size_t g_huge_cached_bytes;
static uint64_t g_purge_at; /* when idle free memory goes back to the OS; 0: nothing to purge */

/* A thread's heap before its first malloc (and after its exit): no pages, so every
 * malloc takes the slow path, which makes a real heap; no page names it as its owner, so
 * every free takes the path of a free from another thread. Never written. */
static _pk_heap_t g_empty_heap;
static __thread _pk_heap_t *t_heap __attribute__((tls_model("initial-exec"))) = &g_empty_heap;

/* ---- helpers ---- */

static inline size_t _pk_align_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }

static inline _pk_segment_t *_pk_segment_of(const void *p) {
    return (_pk_segment_t *)((uintptr_t)p & ~(uintptr_t)(PK_SEGMENT_SIZE - 1));
}

static void _pk_thread_exit(void *value);

static inline unsigned _pk_class_of(size_t size) {
    if (size <= 128) return size == 0 ? 0 : (unsigned)((size + 15) / 16 - 1);
    size_t s = size - 1;
    unsigned bit = 63u - (unsigned)__builtin_clzll(s); /* 2^bit <= s < 2^(bit+1) */
    size_t base = (size_t)1 << bit;
    return 8u + (bit - 7u) * 4u + (unsigned)((s - base) / (base / 4));
}

static void _pk_init(void) {
    unsigned c = 0;
    for (uint32_t size = 16; size <= 128; size += 16) g_class_size[c++] = size;
    for (uint32_t base = 128; c < PK_CLASSES; base *= 2)
        for (uint32_t step = 1; step <= 4 && c < PK_CLASSES; ++step) g_class_size[c++] = base + step * base / 4;
    for (c = 0; c < PK_CLASSES; ++c) {
        size_t blocks = g_class_size[c] >= PK_LARGE_BLOCK ? 1 : PK_MIN_SPAN_BLOCKS;
        size_t bytes = (size_t)g_class_size[c] * blocks;
        size_t pages = (bytes + PK_PAGE_SIZE - 1) / PK_PAGE_SIZE;
        if (pages > PK_MAX_SPAN_PAGES) pages = PK_MAX_SPAN_PAGES;
        g_class_pages[c] = (uint32_t)(pages ? pages : 1);
    }
    for (unsigned i = 0; i <= PK_SMALL_DIRECT / 16; ++i) g_small_class[i] = (uint8_t)_pk_class_of(i * 16);
    pthread_key_create(&g_key, _pk_thread_exit);
}

static void *_pk_os_map(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    atomic_fetch_add_explicit(&g_mapped, size, memory_order_relaxed);
    return p;
}

static void _pk_os_unmap(void *p, size_t size) {
    int saved = errno;
    munmap(p, size);
    atomic_fetch_sub_explicit(&g_mapped, size, memory_order_relaxed);
    errno = saved;
}

/* ``size`` bytes at an address aligned to PK_SEGMENT_SIZE. */
static void *_pk_os_map_aligned(size_t size) {
    size_t over = size + PK_SEGMENT_SIZE;
    uint8_t *raw = _pk_os_map(over);
    if (raw == NULL) return NULL;
    uint8_t *aligned = (uint8_t *)_pk_align_up((uintptr_t)raw, PK_SEGMENT_SIZE);
    if (aligned > raw) _pk_os_unmap(raw, (size_t)(aligned - raw));
    size_t tail = (size_t)((raw + over) - (aligned + size));
    if (tail) _pk_os_unmap(aligned + size, tail);
    return aligned;
}

static void _pk_os_decommit(void *p, size_t size) {
    int saved = errno;
    madvise(p, size, MADV_DONTNEED);
    errno = saved;
}

/* ---- thread heaps ---- */

static _pk_heap_t *_pk_heap_new(void) {
    pthread_mutex_lock(&g_lock);
    _pk_heap_t *heap = g_free_heaps;
    if (heap != NULL) {
        g_free_heaps = heap->next_free;
    } else {
        if (g_meta_next == NULL || g_meta_next + sizeof(_pk_heap_t) > g_meta_end) {
            g_meta_next = _pk_os_map(PK_PAGE_SIZE);
            g_meta_end = g_meta_next ? g_meta_next + PK_PAGE_SIZE : NULL;
        }
        if (g_meta_next != NULL) {
            heap = (_pk_heap_t *)g_meta_next;
            g_meta_next += _pk_align_up(sizeof(_pk_heap_t), 64);
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (heap != NULL) memset(heap, 0, sizeof(*heap));
    return heap;
}

static void _pk_atfork_prepare(void) { pthread_mutex_lock(&g_lock); }
static void _pk_atfork_parent(void) { pthread_mutex_unlock(&g_lock); }
static void _pk_atfork_child(void) { pthread_mutex_init(&g_lock, NULL); }

/* The fork handlers must be in place before a second thread can hold g_lock: a fork that
 * found another thread inside the lock would leave the child's lock held forever. The
 * library's constructor registers them while the process is still single-threaded (the
 * rest of the set-up stays lazy); the first heap registers them instead when malloc runs
 * before constructors do. */
static void _pk_register_atfork(void) {
    if (!atomic_exchange(&g_atfork_registered, 1))
        pthread_atfork(_pk_atfork_prepare, _pk_atfork_parent, _pk_atfork_child);
}

__attribute__((constructor)) static void _pk_load(void) { _pk_register_atfork(); }

static _pk_heap_t *_pk_heap_get_slow(void) {
    pthread_once(&g_once, _pk_init);
    _pk_heap_t *heap = _pk_heap_new();
    if (heap == NULL) return NULL;
    t_heap = heap;
    pthread_setspecific(g_key, heap); /* the key's destructor abandons it at thread exit */
    _pk_register_atfork(); /* pthread_atfork may allocate; this thread has a heap by now */
    return heap;
}

/* This thread's heap, made on first use; NULL when there is no memory for one. */
static inline _pk_heap_t *_pk_heap_get(void) {
    _pk_heap_t *heap = t_heap;
    return PK_LIKELY(heap != &g_empty_heap) ? heap : _pk_heap_get_slow();
}

/* ---- page queues (owner thread) ---- */

static void _pk_queue_push_front(_pk_queue_t *queue, _pk_page_t *page) {
    page->prev = NULL;
    page->next = queue->first;
    if (queue->first != NULL) queue->first->prev = page;
    else queue->last = page;
    queue->first = page;
}

static void _pk_queue_push_back(_pk_queue_t *queue, _pk_page_t *page) {
    page->next = NULL;
    page->prev = queue->last;
    if (queue->last != NULL) queue->last->next = page;
    else queue->first = page;
    queue->last = page;
}

static void _pk_queue_remove(_pk_queue_t *queue, _pk_page_t *page) {
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

/* ---- spans: runs of pages in a segment (g_lock held) ---- */

static _pk_segment_t *_pk_segment_new(void) {
    _pk_segment_t *segment = _pk_os_map_aligned(PK_SEGMENT_SIZE);
    if (segment == NULL) return NULL;
    segment->kind = PK_KIND_SMALL;
    segment->free_mask = ~(uint64_t)1; /* page 0 holds this header */
    segment->cold_mask = ~(uint64_t)1; /* never touched: not resident, not counted warm */
    segment->next = g_segments;
    g_segments = segment;
    return segment;
}

/* The bitmap bits of ``pages`` pages from page ``first``. */
static inline uint64_t _pk_span_bits(unsigned first, unsigned pages) {
    return (pages == 64 ? ~(uint64_t)0 : (((uint64_t)1 << pages) - 1)) << first;
}

static void _pk_tick(void);

/* Take the lowest run of set bits out of ``*mask`` (not 0): its first bit, and its length
 * in ``*length``. */
static inline unsigned _pk_take_run(uint64_t *mask, unsigned *length) {
    unsigned first = (unsigned)__builtin_ctzll(*mask);
    uint64_t rest = ~(*mask >> first);
    *length = rest == 0 ? 64 - first : (unsigned)__builtin_ctzll(rest);
    *mask &= ~_pk_span_bits(first, *length);
    return first;
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

static _pk_page_t *_pk_span_alloc(unsigned pages) {
    _pk_segment_t *segment = NULL;
    int first = _pk_place_span(pages, &segment);
    if (first < 0) {
        segment = _pk_segment_new();
        if (segment == NULL) return NULL;
        first = 1; /* page 0 holds the header */
    }
    uint64_t bits = _pk_span_bits((unsigned)first, pages);
    segment->free_mask &= ~bits;
    segment->recent_mask &= ~bits;
    g_warm_pages -= (size_t)__builtin_popcountll(bits & ~segment->cold_mask);
    segment->cold_mask &= ~bits;
    for (unsigned i = 0; i < pages; ++i) {
        _pk_page_t *p = &segment->pages[first + (int)i];
        memset(p, 0, sizeof(*p));
        p->span_offset = (uint8_t)i;
    }
    _pk_page_t *page = &segment->pages[first];
    page->span_pages = (uint8_t)pages;
    return page;
}

static void _pk_segment_release(_pk_segment_t *segment) {
    _pk_segment_t **link = &g_segments;
    while (*link != segment) link = &(*link)->next;
    *link = segment->next;
    g_warm_pages -= (size_t)__builtin_popcountll(~segment->cold_mask & ~(uint64_t)1);
    _pk_os_unmap(segment, PK_SEGMENT_SIZE);
}

static void _pk_span_free(_pk_page_t *page) {
    _pk_segment_t *segment = _pk_segment_of(page);
    unsigned first = (unsigned)(page - segment->pages);
    uint64_t bits = _pk_span_bits(first, page->span_pages);
    page->block_size = 0;
    segment->free_mask |= bits;
    segment->recent_mask |= bits;
    g_warm_pages += (size_t)__builtin_popcountll(bits & ~segment->cold_mask);
    _pk_tick();
}

/* Give back the free pages of ``segment`` in ``idle`` (runs of them, one madvise each)
 * while more than ``keep`` free pages are committed. */
static void _pk_decommit_idle(_pk_segment_t *segment, uint64_t idle, size_t keep) {
    while (idle != 0 && g_warm_pages > keep) {
        unsigned pages;
        unsigned first = _pk_take_run(&idle, &pages);
        _pk_os_decommit((uint8_t *)segment + ((size_t)first << PK_PAGE_SHIFT), (size_t)pages << PK_PAGE_SHIFT);
        segment->cold_mask |= _pk_span_bits(first, pages);
        g_warm_pages -= pages;
    }
}

/* The end of a purge period: free pages that were not reused through it go back to the
 * OS past the warm reserve, empty segments with nothing committed are unmapped (one is
 * kept), and huge blocks cached through it are unmapped. A trim (``trim``: malloc_trim)
 * gives back every free page past ``keep``, every empty segment and the whole huge cache. */
static void _pk_purge(int trim, size_t keep) {
    int kept_empty = trim;
    for (_pk_segment_t *segment = g_segments, *next; segment != NULL; segment = next) {
        next = segment->next;
        uint64_t idle = segment->free_mask & ~segment->cold_mask;
        _pk_decommit_idle(segment, trim ? idle : idle & ~segment->recent_mask, keep);
        segment->recent_mask = 0;
        if (segment->free_mask == ~(uint64_t)1 && segment->cold_mask == ~(uint64_t)1) {
            if (kept_empty) _pk_segment_release(segment);
            kept_empty = 1;
        }
    }
    for (unsigned i = 0; i < PK_HUGE_CACHE; ++i) {
        _pk_segment_t *cached = g_huge_cache[i].segment;
        if (cached == NULL) continue;
        if (!g_huge_cache[i].idle && !trim) {
            g_huge_cache[i].idle = 1;
            continue;
        }
        g_huge_cache[i].segment = NULL;
        g_huge_cached_bytes -= cached->map_size;
        _pk_os_unmap(cached, cached->map_size);
    }
}

static uint64_t _pk_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* Called as spans and huge blocks are freed: free memory is given back to the OS only
 * once it has stayed unused for a purge period, so a program that frees and allocates
 * again soon does not fault the same pages in over and over. */
static void _pk_tick(void) {
    if (g_warm_pages <= PK_WARM_PAGES && g_huge_cached_bytes == 0) {
        g_purge_at = 0;
        return;
    }
    uint64_t now = _pk_now_ns();
    if (g_purge_at == 0) {
        g_purge_at = now + PK_PURGE_DELAY_NS;
    } else if (now >= g_purge_at) {
        _pk_purge(0, PK_WARM_PAGES);
        g_purge_at = now + PK_PURGE_DELAY_NS;
    }
}

/* ---- pages of blocks (owner thread) ---- */

/* The first byte of the span that ``page`` (its first page) heads. */
static inline uint8_t *_pk_page_start(_pk_page_t *page) {
    _pk_segment_t *segment = _pk_segment_of(page);
    return (uint8_t *)segment + ((size_t)(page - segment->pages) << PK_PAGE_SHIFT);
}

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
static void _pk_page_collect(_pk_page_t *page) {
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
        page->used = (uint16_t)(page->used - count);
    }
}

static inline int _pk_page_ready(_pk_page_t *page) {
    if (page->free == NULL) _pk_page_collect(page);
    if (page->free == NULL && page->capacity < page->reserved) _pk_page_extend(page);
    return page->free != NULL;
}

static void *_pk_alloc_slow(_pk_heap_t *heap, unsigned c);

static inline void *_pk_alloc_small(_pk_heap_t *heap, size_t size) {
    unsigned c = _pk_class_of(size);
    _pk_page_t *page = heap->queue[c].first;
    if (PK_LIKELY(page != NULL)) {
        _pk_block_t *block = page->free;
        if (PK_LIKELY(block != NULL)) {
            page->free = block->next;
            page->used++;
            return block;
        }
    }
    return _pk_alloc_slow(heap, c);
}

static void *_pk_pop(_pk_heap_t *heap, unsigned c, _pk_page_t *page) {
    if (heap->queue[c].first != page) {
        _pk_queue_remove(&heap->queue[c], page);
        _pk_queue_push_front(&heap->queue[c], page);
    }
    _pk_block_t *block = page->free;
    page->free = block->next;
    page->used++;
    return block;
}

/* Take over every abandoned page (g_lock not held). */
static void _pk_adopt(_pk_heap_t *heap) {
    if (__atomic_load_n(&g_abandoned, __ATOMIC_RELAXED) == NULL) return; /* a miss only delays it */
    pthread_mutex_lock(&g_lock);
    _pk_page_t *list = g_abandoned;
    g_abandoned = NULL;
    pthread_mutex_unlock(&g_lock);
    while (list != NULL) {
        _pk_page_t *page = list;
        list = page->next;
        atomic_store_explicit(&page->heap, heap, memory_order_release);
        _pk_set_in_full(page, 0);
        _pk_queue_push_back(&heap->queue[page->class_index], page);
    }
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

static void *_pk_alloc_slow(_pk_heap_t *heap, unsigned c) {
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
    _pk_adopt(heap);
    block = _pk_first_ready(heap, c);
    if (block != NULL) return block;
    /* 4. A fresh span. */
    pthread_mutex_lock(&g_lock);
    _pk_page_t *page = _pk_span_alloc(g_class_pages[c]);
    pthread_mutex_unlock(&g_lock);
    if (page == NULL) return NULL;
    _pk_page_init(page, c, heap);
    _pk_queue_push_front(&heap->queue[c], page);
    _pk_page_extend(page);
    return _pk_pop(heap, c, page);
}

static _pk_page_t *_pk_page_of(_pk_segment_t *segment, const void *p) {
    _pk_page_t *page = &segment->pages[((uintptr_t)p - (uintptr_t)segment) >> PK_PAGE_SHIFT];
    return page - page->span_offset;
}

static inline _pk_block_t *_pk_block_start(_pk_page_t *page, void *p) {
    if (PK_LIKELY(!page->has_aligned)) return (_pk_block_t *)p;
    uint8_t *start = _pk_page_start(page);
    size_t offset = (size_t)((uint8_t *)p - start);
    return (_pk_block_t *)(start + offset - offset % page->block_size);
}

/* Hand a page whose blocks are all free back to its segment, unless it is the only page
 * of a class of small blocks (which a steady alloc/free loop would otherwise bounce). */
static void _pk_page_retire(_pk_heap_t *heap, _pk_page_t *page) {
    if (page->block_size < PK_LARGE_BLOCK && heap->queue[page->class_index].first == page &&
        page->next == NULL && !page->in_full)
        return;
    _pk_queue_remove(_pk_queue_of(heap, page), page);
    atomic_store_explicit(&page->heap, NULL, memory_order_relaxed);
    pthread_mutex_lock(&g_lock);
    _pk_span_free(page);
    pthread_mutex_unlock(&g_lock);
}

static void _pk_thread_exit(void *value) {
    _pk_heap_t *heap = value;
    _pk_page_t *keep = NULL;
    for (unsigned c = 0; c <= PK_CLASSES; ++c) {
        _pk_queue_t *queue = c < PK_CLASSES ? &heap->queue[c] : &heap->full;
        while (queue->first != NULL) {
            _pk_page_t *page = queue->first;
            _pk_queue_remove(queue, page);
            _pk_page_collect(page);
            if (page->used == 0) {
                pthread_mutex_lock(&g_lock);
                _pk_span_free(page);
                pthread_mutex_unlock(&g_lock);
            } else {
                atomic_store_explicit(&page->heap, NULL, memory_order_release);
                page->next = keep;
                keep = page;
            }
        }
    }
    pthread_mutex_lock(&g_lock);
    while (keep != NULL) {
        _pk_page_t *page = keep;
        keep = page->next;
        page->next = g_abandoned;
        g_abandoned = page;
    }
    heap->next_free = g_free_heaps;
    g_free_heaps = heap;
    pthread_mutex_unlock(&g_lock);
    t_heap = &g_empty_heap; /* a later malloc on this thread (other destructors) makes a new heap */
}

/* ---- huge blocks ---- */

/* A block in a mapping of its own whose start is segment-aligned, so free() finds the
 * header by masking. The block sits ``max(64, alignment)`` bytes in: alignments of 4 MiB
 * and more cannot be served (ENOMEM). */

/* Grow a huge mapping in place to ``need`` bytes, keeping its contents and its resident
 * pages, when the address space after it is free. (Moving it with MREMAP_FIXED would
 * work as well, but valgrind's memcheck loses track of such moves made beside in-place
 * growth in other threads and reports the moved pages as unaddressable.) */
static int _pk_huge_grow(_pk_segment_t *segment, size_t need) {
    size_t old_size = segment->map_size;
    if (mremap(segment, old_size, need, 0) == MAP_FAILED) return 0;
    atomic_fetch_add_explicit(&g_mapped, need - old_size, memory_order_relaxed);
    segment->map_size = need;
    return 1;
}

/* The cached huge mapping that best serves ``need`` bytes: the smallest that holds them,
 * else the largest (to grow). Taken out of the cache; NULL when it is empty. */
static _pk_segment_t *_pk_huge_cache_take(size_t need) {
    int fit = -1, grow = -1;
    for (unsigned i = 0; i < PK_HUGE_CACHE; ++i) {
        _pk_segment_t *s = g_huge_cache[i].segment;
        if (s == NULL) continue;
        if (s->map_size >= need) {
            if (fit < 0 || s->map_size < g_huge_cache[fit].segment->map_size) fit = (int)i;
        } else if (grow < 0 || s->map_size > g_huge_cache[grow].segment->map_size) {
            grow = (int)i;
        }
    }
    int pick = fit >= 0 ? fit : grow;
    if (pick < 0) return NULL;
    _pk_segment_t *segment = g_huge_cache[pick].segment;
    g_huge_cache[pick].segment = NULL;
    g_huge_cached_bytes -= segment->map_size;
    return segment;
}

static void *_pk_huge_alloc(size_t size, size_t alignment) {
    if (alignment >= PK_SEGMENT_SIZE) return NULL;
    size_t offset = alignment > PK_HUGE_HEADER ? alignment : PK_HUGE_HEADER;
    if (size > SIZE_MAX - offset - PK_SEGMENT_SIZE) return NULL;
    size_t need = _pk_align_up(offset + size, PK_OS_PAGE);
    pthread_mutex_lock(&g_lock);
    _pk_segment_t *segment = _pk_huge_cache_take(need);
    pthread_mutex_unlock(&g_lock);
    if (segment != NULL && segment->map_size < need) {
        if (!_pk_huge_grow(segment, need)) {
            _pk_os_unmap(segment, segment->map_size);
            segment = NULL;
        }
    } else if (segment != NULL && segment->map_size / PK_HUGE_TRIM_FACTOR > need + PK_SEGMENT_SIZE) {
        /* Far too large a fit: give the tail back rather than hold it resident. */
        _pk_os_unmap((uint8_t *)segment + need, segment->map_size - need);
        segment->map_size = need;
    }
    if (segment == NULL) {
        segment = _pk_os_map_aligned(need);
        if (segment == NULL) return NULL;
        segment->kind = PK_KIND_HUGE;
        segment->map_size = need;
        segment->huge_fresh = 1;
    } else {
        segment->huge_fresh = 0;
    }
    segment->huge_offset = offset;
    return (uint8_t *)segment + offset;
}

/* A freed huge block waits in the cache (up to PK_HUGE_CACHE_BYTES) for a purge period. */
static void _pk_huge_free(_pk_segment_t *segment) {
    pthread_mutex_lock(&g_lock);
    if (g_huge_cached_bytes + segment->map_size <= PK_HUGE_CACHE_BYTES) {
        for (unsigned i = 0; i < PK_HUGE_CACHE; ++i) {
            if (g_huge_cache[i].segment == NULL) {
                g_huge_cache[i].segment = segment;
                g_huge_cache[i].idle = 0;
                g_huge_cached_bytes += segment->map_size;
                segment = NULL;
                break;
            }
        }
    }
    _pk_tick();
    pthread_mutex_unlock(&g_lock);
    if (segment != NULL) _pk_os_unmap(segment, segment->map_size);
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

static inline void *_pk_malloc(size_t size) {
    if (PK_LIKELY(size <= PK_SMALL_DIRECT)) {
        _pk_page_t *page = t_heap->queue[g_small_class[(size + 15) / 16]].first;
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
    _pk_segment_t *segment = _pk_segment_of(p);
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

/* The common free: a block of a page this thread owns, handed out at its start. */
static inline void _pk_free(void *p) {
    if (PK_UNLIKELY(p == NULL)) return;
    _pk_segment_t *segment = _pk_segment_of(p);
    if (PK_LIKELY(segment->kind == PK_KIND_SMALL)) {
        _pk_page_t *page = _pk_page_of(segment, p);
        _pk_heap_t *heap = t_heap;
        if (PK_LIKELY(atomic_load_explicit(&page->heap, memory_order_relaxed) == heap && !page->has_aligned)) {
            _pk_block_t *block = p;
            block->next = page->local_free;
            page->local_free = block;
            if (PK_UNLIKELY(--page->used == 0 || page->in_full)) _pk_free_local_slow(heap, page);
            return;
        }
    }
    _pk_free_slow(p);
}

PK_EXPORT void *pk_malloc(size_t size) { return _pk_malloc(size); }
PK_EXPORT void pk_free(void *p) { _pk_free(p); }

PK_EXPORT size_t pk_usable_size(void *p) {
    if (p == NULL) return 0;
    _pk_segment_t *segment = _pk_segment_of(p);
    if (segment->kind == PK_KIND_HUGE) return segment->map_size - (size_t)((uint8_t *)p - (uint8_t *)segment);
    _pk_page_t *page = _pk_page_of(segment, p);
    _pk_block_t *block = _pk_block_start(page, p);
    return page->block_size - (size_t)((uint8_t *)p - (uint8_t *)block);
}

PK_EXPORT void *pk_calloc(size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = _pk_malloc(total);
    if (p == NULL) return NULL;
    _pk_segment_t *segment = _pk_segment_of(p);
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
    if (p != block) _pk_page_of(_pk_segment_of(block), block)->has_aligned = 1;
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
        _pk_free(p);
        return NULL;
    }
    size_t usable = pk_usable_size(p);
    if (size <= usable && (size >= usable / 2 || usable <= 64)) return p;
    _pk_segment_t *segment = _pk_segment_of(p);
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
        /* Growing a huge block: extend the mapping where it lies when it can. */
        size_t offset = segment->huge_offset;
        if (size <= SIZE_MAX - offset - PK_SEGMENT_SIZE &&
            _pk_huge_grow(segment, _pk_align_up(offset + size, PK_OS_PAGE)))
            return p;
    }
    void *q = _pk_malloc(size);
    if (q == NULL) return NULL;
    memcpy(q, p, usable < size ? usable : size);
    _pk_free(p);
    return q;
}

PK_EXPORT size_t pk_stats_mapped(void) { return atomic_load_explicit(&g_mapped, memory_order_relaxed); }

PK_EXPORT int pk_trim(size_t pad) {
    pthread_mutex_lock(&g_lock);
    size_t warm = g_warm_pages, mapped = atomic_load_explicit(&g_mapped, memory_order_relaxed);
    _pk_purge(1, pad >> PK_PAGE_SHIFT);
    int released = g_warm_pages < warm || atomic_load_explicit(&g_mapped, memory_order_relaxed) < mapped;
    pthread_mutex_unlock(&g_lock);
    return released;
}

/* ---- the standard names ---- */

PK_EXPORT void *malloc(size_t size) { return _pk_malloc(size); }
PK_EXPORT void free(void *p) { _pk_free(p); }
PK_EXPORT void *calloc(size_t count, size_t size) { return pk_calloc(count, size); }
PK_EXPORT void *realloc(void *p, size_t size) { return pk_realloc(p, size); }
PK_EXPORT size_t malloc_usable_size(void *p) { return pk_usable_size(p); }
PK_EXPORT int malloc_trim(size_t pad) { return pk_trim(pad); }
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
