/* probe.h: what the probe build of a driver (``bench/<driver>.probe``, compiled with
 * -DPK_PROBE from the same source) measures beside throughput. The timed build does none of
 * this: its malloc and free calls are the bare calls.
 *
 * - Latency: every malloc and free the driver makes through pk_alloc/pk_free is timed on
 *   its own, by the cycle counter (rdtscp then lfence, on x86-64; clock_gettime elsewhere),
 *   into a per-thread log-linear histogram (16 buckets per power of two: a value is known to
 *   1/16, the largest exactly), merged when the thread exits. The timer's own cost (the
 *   median of back-to-back readings) is reported beside it; ticks become nanoseconds by the
 *   run's own ratio of ticks to CLOCK_MONOTONIC.
 * - Memory over time: a sampler thread reads /proc/self/statm (pread on a descriptor opened
 *   once: no malloc) every millisecond, with the bytes the driver holds live; past 4096
 *   points it keeps every other one and samples half as often.
 * - The end of the work (pk_phase_end, before a driver's final frees): live bytes, RSS and
 *   the time, so the peak's fragmentation is read from the work, not from the teardown.
 * - Returned to the OS: after the driver freed everything, the allocator's own release call
 *   (jemalloc's purge, mimalloc's mi_collect, tcmalloc's ReleaseFreeMemory, malloc_trim where
 *   malloc_trim belongs to the allocator in use), then RSS again.
 */
#ifndef PK_PROBE_H
#define PK_PROBE_H

#include <dlfcn.h>
#include <fcntl.h>
#include <stdbool.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#define PK_TIMER "rdtscp"
static inline uint64_t pk_tick(void) {
    unsigned aux;
    uint64_t t = __rdtscp(&aux); /* waits for the instructions before it */
    _mm_lfence();                /* and keeps the ones after from starting early */
    return t;
}
#else
#define PK_TIMER "clock_gettime"
static inline uint64_t pk_tick(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
#endif

#define PK_SUB_BITS 4u
#define PK_SUB (1u << PK_SUB_BITS)
#define PK_BUCKETS ((64u - PK_SUB_BITS + 1u) * PK_SUB)

typedef struct {
    uint64_t count[PK_BUCKETS];
    uint64_t max;
} pk_hist_t;

enum { PK_MALLOC, PK_FREE };

static inline unsigned pk_bucket(uint64_t v) {
    if (v < PK_SUB) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    return (e - PK_SUB_BITS + 1u) * PK_SUB + (unsigned)((v >> (e - PK_SUB_BITS)) & (PK_SUB - 1u));
}

/* The smallest value bucket ``b`` holds. */
static inline uint64_t pk_bucket_low(unsigned b) {
    if (b < PK_SUB) return b;
    unsigned e = b / PK_SUB + PK_SUB_BITS - 1u;
    return ((uint64_t)PK_SUB + b % PK_SUB) << (e - PK_SUB_BITS);
}

static __thread pk_hist_t pk_my_hist[2];
static __thread long long pk_my_live;  /* bytes not yet added to pk_live */
static __thread unsigned pk_my_calls;  /* calls since the last addition */
static __thread int pk_my_registered;

static pk_hist_t pk_all_hist[2];
static pthread_mutex_t pk_hist_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t pk_exit_key;
static atomic_llong pk_live;

#define PK_SERIES_MAX 4096
typedef struct {
    uint64_t ns;
    long rss;
    long long live;
} pk_point_t;
static pk_point_t pk_series[PK_SERIES_MAX];
static int pk_series_n;
static long pk_interval_ns = 1000000;
static atomic_int pk_sampling_stop;
static pthread_t pk_sampler;
static int pk_statm_fd = -1;
static uint64_t pk_start_tick, pk_start_ns, pk_timer_ticks;
static long pk_rss_start, pk_end_rss = -1;
static long long pk_end_live = -1;
static uint64_t pk_end_ns;

static inline uint64_t pk_ns_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Resident bytes, without malloc: the sampler thread runs beside the allocator's users. */
static long pk_rss_quick(void) {
    char text[128];
    ssize_t got = pk_statm_fd < 0 ? -1 : pread(pk_statm_fd, text, sizeof text - 1, 0);
    if (got <= 0) return -1;
    text[got] = '\0';
    const char *p = text;
    while (*p && *p != ' ') ++p; /* past the first field (total pages) */
    long pages = 0;
    for (++p; *p >= '0' && *p <= '9'; ++p) pages = pages * 10 + (*p - '0');
    return pages * sysconf(_SC_PAGESIZE);
}

static void pk_flush_live(void) {
    atomic_fetch_add_explicit(&pk_live, pk_my_live, memory_order_relaxed);
    pk_my_live = 0;
    pk_my_calls = 0;
}

/* A thread's histograms join the run's when it exits (a pthread key's destructor). */
static void pk_merge_mine(void *unused) {
    (void)unused;
    pk_flush_live();
    pthread_mutex_lock(&pk_hist_lock);
    for (int k = 0; k < 2; ++k) {
        for (unsigned b = 0; b < PK_BUCKETS; ++b) pk_all_hist[k].count[b] += pk_my_hist[k].count[b];
        if (pk_my_hist[k].max > pk_all_hist[k].max) pk_all_hist[k].max = pk_my_hist[k].max;
    }
    memset(pk_my_hist, 0, sizeof pk_my_hist);
    pthread_mutex_unlock(&pk_hist_lock);
}

static inline void pk_note(int kind, uint64_t ticks, long long bytes) {
    if (!pk_my_registered) {
        pk_my_registered = 1;
        pthread_setspecific(pk_exit_key, (void *)1); /* a low key: no allocation */
    }
    pk_hist_t *h = &pk_my_hist[kind];
    h->count[pk_bucket(ticks)] += 1;
    if (ticks > h->max) h->max = ticks;
    pk_my_live += bytes;
    if (++pk_my_calls >= 32) pk_flush_live();
}

static void pk_sample(void) {
    if (pk_series_n == PK_SERIES_MAX) {
        for (int i = 0; i < PK_SERIES_MAX / 2; ++i) pk_series[i] = pk_series[2 * i];
        pk_series_n = PK_SERIES_MAX / 2;
        if (pk_interval_ns < 500000000) pk_interval_ns *= 2;
    }
    pk_series[pk_series_n++] = (pk_point_t){pk_ns_now() - pk_start_ns, pk_rss_quick(),
                                            atomic_load_explicit(&pk_live, memory_order_relaxed)};
}

static void *pk_sample_loop(void *unused) {
    (void)unused;
    while (!atomic_load(&pk_sampling_stop)) {
        pk_sample();
        struct timespec pause = {0, pk_interval_ns};
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static int pk_by_value(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

__attribute__((constructor)) static void pk_probe_start(void) {
    pthread_key_create(&pk_exit_key, pk_merge_mine);
    pk_statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    static uint64_t pairs[4001];
    for (int i = 0; i < 4001; ++i) {
        uint64_t t0 = pk_tick();
        pairs[i] = pk_tick() - t0;
    }
    qsort(pairs, 4001, sizeof pairs[0], pk_by_value);
    pk_timer_ticks = pairs[2000];
    pk_rss_start = pk_rss_quick();
    pk_start_ns = pk_ns_now();
    pk_start_tick = pk_tick();
    pthread_create(&pk_sampler, NULL, pk_sample_loop, NULL);
}

static inline void *pk_probe_malloc(size_t size) {
    uint64_t t0 = pk_tick();
    void *p = malloc(size);
    uint64_t t1 = pk_tick();
    pk_note(PK_MALLOC, t1 - t0, p != NULL ? (long long)size : 0);
    return p;
}

static inline void pk_probe_free(void *p, size_t size) {
    uint64_t t0 = pk_tick();
    free(p);
    uint64_t t1 = pk_tick();
    pk_note(PK_FREE, t1 - t0, -(long long)size);
}

/* The work is done; what follows is the driver's teardown. */
static inline void pk_phase_end(void) {
    pk_flush_live();
    pk_end_live = atomic_load(&pk_live);
    pk_end_rss = pk_rss_quick();
    pk_end_ns = pk_ns_now() - pk_start_ns;
}

/* The allocator's own call that gives free memory back to the OS; its name, or "none". */
static const char *pk_release(void) {
    Dl_info home, at;
    void *malloc_in_use = dlsym(RTLD_DEFAULT, "malloc");
    int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
        (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "mallctl");
    if (mallctl != NULL) {
        mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
        mallctl("arena.4096.purge", NULL, NULL, NULL, 0); /* 4096: MALLCTL_ARENAS_ALL */
        return "mallctl arena.<all>.purge";
    }
    void (*mi_collect)(bool) = (void (*)(bool))dlsym(RTLD_DEFAULT, "mi_collect");
    if (mi_collect != NULL) {
        mi_collect(true);
        return "mi_collect(true)";
    }
    void (*release)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory");
    if (release != NULL) {
        release();
        return "MallocExtension_ReleaseFreeMemory()";
    }
    int (*trim)(size_t) = (int (*)(size_t))dlsym(RTLD_DEFAULT, "malloc_trim");
    if (trim != NULL && malloc_in_use != NULL && dladdr(malloc_in_use, &home) && dladdr((void *)trim, &at) &&
        home.dli_fbase == at.dli_fbase) {
        trim(0);
        return "malloc_trim(0)";
    }
    return "none";
}

/* The value below which ``share`` of the calls fell, in nanoseconds (a bucket's middle). */
static double pk_quantile_ns(const pk_hist_t *h, uint64_t total, double share, double ticks_per_ns) {
    uint64_t rank = (uint64_t)(share * (double)total), seen = 0;
    for (unsigned b = 0; b < PK_BUCKETS; ++b) {
        seen += h->count[b];
        if (seen > rank) {
            double low = (double)pk_bucket_low(b);
            double high = b + 1 < PK_BUCKETS ? (double)pk_bucket_low(b + 1) : low;
            double middle = b < PK_SUB ? low : (low + high) / 2;
            if (middle > (double)h->max) middle = (double)h->max;
            return middle / ticks_per_ns;
        }
    }
    return (double)h->max / ticks_per_ns;
}

static void pk_print_hist(const char *name, const pk_hist_t *h, double ticks_per_ns) {
    uint64_t total = 0;
    for (unsigned b = 0; b < PK_BUCKETS; ++b) total += h->count[b];
    printf(", \"%s\": {\"count\": %llu, \"p50_ns\": %.2f, \"p99_ns\": %.2f, \"p999_ns\": %.2f, "
           "\"max_ns\": %.2f}",
           name, (unsigned long long)total, pk_quantile_ns(h, total, 0.5, ticks_per_ns),
           pk_quantile_ns(h, total, 0.99, ticks_per_ns), pk_quantile_ns(h, total, 0.999, ticks_per_ns),
           (double)h->max / ticks_per_ns);
}

/* The probe's fields of the result line (after the driver's own, everything freed). */
static void pk_print_probe(void) {
    uint64_t end_tick = pk_tick(), end_ns = pk_ns_now();
    atomic_store(&pk_sampling_stop, 1);
    pthread_join(pk_sampler, NULL);
    if (pk_my_registered) pk_merge_mine(NULL); /* the main thread's own calls and bytes */
    pk_sample();
    long rss_freed = pk_rss_quick();
    const char *release = pk_release();
    long rss_released = pk_rss_quick();
    double ticks_per_ns = end_ns > pk_start_ns ? (double)(end_tick - pk_start_tick) / (double)(end_ns - pk_start_ns) : 1.0;
    if (ticks_per_ns <= 0) ticks_per_ns = 1.0;
    printf(", \"probe\": {\"timer\": \"%s\", \"timer_ns\": %.2f, \"ticks_per_ns\": %.4f", PK_TIMER,
           (double)pk_timer_ticks / ticks_per_ns, ticks_per_ns);
    pk_print_hist("malloc", &pk_all_hist[PK_MALLOC], ticks_per_ns);
    pk_print_hist("free", &pk_all_hist[PK_FREE], ticks_per_ns);
    printf(", \"rss_start_bytes\": %ld, \"live_end_bytes\": %lld, \"rss_work_end_bytes\": %ld, "
           "\"work_end_ns\": %llu, \"rss_freed_bytes\": %ld, \"release\": \"%s\", "
           "\"rss_released_bytes\": %ld, \"series\": [",
           pk_rss_start, pk_end_live, pk_end_rss, (unsigned long long)pk_end_ns, rss_freed, release,
           rss_released);
    for (int i = 0; i < pk_series_n; ++i)
        printf("%s[%llu, %ld, %lld]", i ? ", " : "", (unsigned long long)pk_series[i].ns, pk_series[i].rss,
               pk_series[i].live);
    printf("]}");
}

#endif
