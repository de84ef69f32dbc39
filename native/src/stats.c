/* What the allocator holds, its counters (printed at exit with PKMALLOC_STATS=1, as
 * mimalloc's MIMALLOC_SHOW_STATS does), and giving free memory back on request
 * (malloc_trim). */
#include "internal.h"

PK_INTERNAL struct _pk_stats g_stats;

static size_t _pk_stat(atomic_size_t *counter) { return atomic_load_explicit(counter, memory_order_relaxed); }

/* The counters, one line each, on stderr (written with write(2): no allocation). */
static void _pk_stats_print(void) {
    char text[1024];
    int n = snprintf(text, sizeof text,
                     "pkmalloc stats (pid %ld)\n"
                     "  mapped now        %zu KiB\n"
                     "  mapped at peak    %zu KiB\n"
                     "  segments mapped   %zu\n"
                     "  spans taken       %zu\n"
                     "  spans given back  %zu\n"
                     "  page runs purged  %zu\n"
                     "  huge blocks       %zu (%zu from the cache, %zu grown by a move)\n"
                     "  thread heaps      %zu\n"
                     "  pages abandoned   %zu (adopted %zu, swept %zu)\n",
                     (long)getpid(), _pk_stat(&g_mapped) >> 10, _pk_stat(&g_stats.peak_mapped) >> 10,
                     _pk_stat(&g_stats.segments), _pk_stat(&g_stats.spans), _pk_stat(&g_stats.spans_freed),
                     _pk_stat(&g_stats.decommits), _pk_stat(&g_stats.huge), _pk_stat(&g_stats.huge_reused), _pk_stat(&g_stats.huge_moved),
                     _pk_stat(&g_stats.heaps), _pk_stat(&g_stats.abandoned), _pk_stat(&g_stats.adopted),
                     _pk_stat(&g_stats.swept));
    if (n > 0) (void)!write(STDERR_FILENO, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

PK_INTERNAL void _pk_stats_init(void) {
    const char *show = getenv("PKMALLOC_STATS");
    if (show != NULL && show[0] == '1') atexit(_pk_stats_print);
}

PK_EXPORT size_t pk_stats_mapped(void) { return atomic_load_explicit(&g_mapped, memory_order_relaxed); }

PK_EXPORT int pk_trim(size_t pad) {
    pthread_once(&g_once, _pk_init);
    _pk_sweep_abandoned();
    pthread_mutex_lock(&g_span_lock);
    size_t warm = g_warm_pages, mapped = atomic_load_explicit(&g_mapped, memory_order_relaxed);
    pthread_mutex_unlock(&g_span_lock);
    _pk_span_purge(1, pad >> PK_PAGE_SHIFT);
    _pk_segment_t *unmap[PK_HUGE_CACHE];
    pthread_mutex_lock(&g_huge_lock);
    unsigned count = _pk_huge_purge_take(1, unmap);
    pthread_mutex_unlock(&g_huge_lock);
    _pk_unmap_huge_all(unmap, count);
    pthread_mutex_lock(&g_span_lock);
    int released = g_warm_pages < warm || atomic_load_explicit(&g_mapped, memory_order_relaxed) < mapped;
    pthread_mutex_unlock(&g_span_lock);
    return released;
}

PK_EXPORT int malloc_trim(size_t pad) { return pk_trim(pad); }
