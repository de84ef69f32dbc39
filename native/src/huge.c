/* Huge blocks (over 1 MiB, or aligned to more than a page): a mapping each, and a small
 * cache of freed mappings. */
#include "internal.h"

/* g_huge_lock: freed huge mappings kept for reuse. */
PK_INTERNAL pthread_mutex_t g_huge_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    _pk_segment_t *segment;
    int idle; /* cached through a whole purge period */
} g_huge_cache[PK_HUGE_CACHE];
static size_t g_huge_cached_bytes;
static uint64_t g_huge_purge_at;

/* ---- huge blocks ---- */

/* A block in a mapping of its own whose start is segment-aligned, so free() finds the
 * header by masking. The block sits ``max(64, alignment)`` bytes in; with an alignment of
 * a segment (4 MiB) or more, one segment in, so the header lies in the segment before
 * the block (only its first page is ever touched). */

/* Grow a huge mapping in place to ``need`` bytes, keeping its contents and its resident
 * pages, when the address space after it is free. */
PK_INTERNAL int _pk_huge_grow(_pk_segment_t *segment, size_t need) {
    size_t old_size = segment->map_size;
    if (mremap(segment, old_size, need, 0) == MAP_FAILED) return 0;
    atomic_fetch_add_explicit(&g_mapped, need - old_size, memory_order_relaxed);
    segment->map_size = need;
    return 1;
}

/* Grow a huge mapping to ``need`` bytes where it cannot grow in place: the kernel moves its
 * pages (MREMAP_MAYMOVE) onto a segment-aligned range reserved for it (MREMAP_FIXED), so
 * nothing is copied however large the block. The new header, or NULL (the old mapping
 * then stays as it was). */
PK_INTERNAL _pk_segment_t *_pk_huge_move(_pk_segment_t *segment, size_t need) {
    void *target = _pk_os_map_aligned(need);
    if (target == NULL) return NULL;
    size_t old_size = segment->map_size;
    /* PKMALLOC_CHECK's list of live blocks runs through the headers: no walk may meet the
     * old one unmapped, so the move happens under its lock (in that mode only). */
    int check = _pk_checking();
    if (check) pthread_mutex_lock(&g_huge_lock);
    void *moved = mremap(segment, old_size, need, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    if (moved != MAP_FAILED) {
        ((_pk_segment_t *)moved)->map_size = need;
        if (check) _pk_check_huge_moved(segment, moved);
    }
    if (check) pthread_mutex_unlock(&g_huge_lock);
    if (moved == MAP_FAILED) {
        _pk_os_unmap(target, need);
        return NULL;
    }
    atomic_fetch_sub_explicit(&g_mapped, old_size, memory_order_relaxed); /* the target was counted */
    PK_STAT(huge_moved, 1);
    return moved;
}

/* The cached huge mapping that best serves ``need`` bytes: the smallest that holds them,
 * else the largest (to grow). Taken out of the cache; NULL when it is empty. (g_huge_lock) */
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

PK_INTERNAL void *_pk_huge_alloc(size_t size, size_t alignment) {
    size_t offset = alignment > PK_HUGE_HEADER ? alignment : PK_HUGE_HEADER;
    int giant = alignment >= PK_SEGMENT_SIZE; /* needs a mapping placed for it */
    if (giant) offset = PK_SEGMENT_SIZE;
    if (alignment > (SIZE_MAX >> 2) || size > SIZE_MAX - offset - 2 * alignment - PK_SEGMENT_SIZE) return NULL;
    size_t need = _pk_align_up(offset + size, PK_OS_PAGE);
    _pk_segment_t *segment = NULL;
    if (!giant) {
        pthread_mutex_lock(&g_huge_lock);
        segment = _pk_huge_cache_take(need);
        pthread_mutex_unlock(&g_huge_lock);
    }
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
        segment = giant ? _pk_os_map_aligned_at(need, alignment, PK_SEGMENT_SIZE) : _pk_os_map_aligned(need);
        if (segment == NULL) return NULL;
        segment->kind = PK_KIND_HUGE;
        segment->map_size = need;
        segment->huge_fresh = 1;
    } else {
        segment->huge_fresh = 0;
    }
    segment->huge_offset = offset;
    PK_STAT(huge, 1);
    PK_STAT(huge_reused, !segment->huge_fresh);
    if (PK_UNLIKELY(_pk_checking())) _pk_check_huge_born(segment);
    return (uint8_t *)segment + offset;
}

/* Under g_huge_lock: take out of the cache the mappings to unmap now (those cached through
 * a whole purge period, or all with ``trim``) into ``out``; how many. */
PK_INTERNAL unsigned _pk_huge_purge_take(int trim, _pk_segment_t **out) {
    unsigned count = 0;
    for (unsigned i = 0; i < PK_HUGE_CACHE; ++i) {
        _pk_segment_t *cached = g_huge_cache[i].segment;
        if (cached == NULL) continue;
        if (!g_huge_cache[i].idle && !trim) {
            g_huge_cache[i].idle = 1;
            continue;
        }
        g_huge_cache[i].segment = NULL;
        g_huge_cached_bytes -= cached->map_size;
        out[count++] = cached;
    }
    return count;
}

PK_INTERNAL void _pk_unmap_huge_all(_pk_segment_t **segments, unsigned count) {
    for (unsigned i = 0; i < count; ++i) _pk_os_unmap(segments[i], segments[i]->map_size);
}

/* A freed huge block waits in the cache (up to PK_HUGE_CACHE_BYTES) for a purge period. */
PK_INTERNAL void _pk_huge_free(_pk_segment_t *segment) {
    _pk_segment_t *unmap[PK_HUGE_CACHE + 1];
    unsigned count = 0;
    pthread_mutex_lock(&g_huge_lock);
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
    if (_pk_purge_due(&g_huge_purge_at, g_huge_cached_bytes != 0)) count = _pk_huge_purge_take(0, unmap);
    pthread_mutex_unlock(&g_huge_lock);
    if (segment != NULL) unmap[count++] = segment;
    _pk_unmap_huge_all(unmap, count);
}
