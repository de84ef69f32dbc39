/* The system below pkmalloc: mappings, decommits, the clock. Every mapping goes through
 * here, so g_mapped is the count pk_stats_mapped reports. */
#include "internal.h"

PK_INTERNAL atomic_size_t g_mapped;

PK_INTERNAL void *_pk_os_map(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    size_t now = atomic_fetch_add_explicit(&g_mapped, size, memory_order_relaxed) + size;
    size_t peak = atomic_load_explicit(&g_stats.peak_mapped, memory_order_relaxed);
    while (now > peak && !atomic_compare_exchange_weak_explicit(&g_stats.peak_mapped, &peak, now,
                                                                memory_order_relaxed, memory_order_relaxed)) {
    }
    return p;
}

PK_INTERNAL void _pk_os_unmap(void *p, size_t size) {
    int saved = errno;
    munmap(p, size);
    atomic_fetch_sub_explicit(&g_mapped, size, memory_order_relaxed);
    errno = saved;
}

/* ``size`` bytes at an address ``start`` with ``start + lead`` a multiple of ``alignment``
 * (a power of two, at least PK_SEGMENT_SIZE; ``lead`` a multiple of PK_SEGMENT_SIZE, below
 * ``alignment``), so ``start`` is segment-aligned. */
PK_INTERNAL void *_pk_os_map_aligned_at(size_t size, size_t alignment, size_t lead) {
    if (size > SIZE_MAX - alignment) return NULL;
    size_t over = size + alignment;
    uint8_t *raw = _pk_os_map(over);
    if (raw == NULL) return NULL;
    uint8_t *aligned = (uint8_t *)_pk_align_up((uintptr_t)raw + lead, alignment) - lead;
    if (aligned > raw) _pk_os_unmap(raw, (size_t)(aligned - raw));
    size_t tail = (size_t)((raw + over) - (aligned + size));
    if (tail) _pk_os_unmap(aligned + size, tail);
    return aligned;
}

/* ``size`` bytes at an address aligned to PK_SEGMENT_SIZE. */
PK_INTERNAL void *_pk_os_map_aligned(size_t size) { return _pk_os_map_aligned_at(size, PK_SEGMENT_SIZE, 0); }

PK_INTERNAL void _pk_os_decommit(void *p, size_t size) {
    int saved = errno;
    madvise(p, size, MADV_DONTNEED);
    errno = saved;
}

static uint64_t _pk_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* Whether a purge period has ended (a purge is due), starting one when free memory beyond
 * the reserve appears. ``*at``: the end of the current period, 0 when none runs. */
PK_INTERNAL int _pk_purge_due(uint64_t *at, int beyond_reserve) {
    if (!beyond_reserve) {
        *at = 0;
        return 0;
    }
    uint64_t now = _pk_now_ns();
    if (*at == 0) {
        *at = now + PK_PURGE_DELAY_NS;
        return 0;
    }
    if (now < *at) return 0;
    *at = now + PK_PURGE_DELAY_NS;
    return 1;
}
