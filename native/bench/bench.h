/* What every allocation-pattern driver shares: options, a seeded generator, block contents
 * written on allocation and checked on free, and the one JSON line of results.
 *
 * Drivers call plain malloc/free; the allocator is whatever the dynamic linker binds
 * (LD_PRELOAD chooses it), so every allocator runs the very same binary.
 *
 * Peak RSS is VmHWM from /proc/self/status; page faults come from getrusage.
 *
 * Built with -DPK_PROBE (``<driver>.probe``), the same driver also times each call and
 * samples memory through the run (probe.h); the timed build stays the bare calls.
 *
 * Options: --threads N --ops N --min-size B --max-size B --seed S (each has a default per
 * driver). Exit status: 0 ok, 2 bad options, 3 a block came back corrupted, 4 out of memory.
 */
#ifndef PK_BENCH_H
#define PK_BENCH_H

#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    long threads;
    long ops;
    size_t min_size;
    size_t max_size;
    uint64_t seed;
} pk_options_t;

static atomic_long pk_corrupt;

static inline uint64_t pk_next(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static inline size_t pk_size_between(uint64_t *state, size_t lo, size_t hi) {
    return lo + (size_t)(pk_next(state) % (hi - lo + 1));
}

/* Run ``worker`` on ``threads`` threads, each given its number from 1, and wait for all. */
static inline void pk_run_threads(long threads, void *(*worker)(void *)) {
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    for (long t = 0; t < threads; ++t) pthread_create(&ids[t], NULL, worker, (void *)(uintptr_t)(t + 1));
    for (long t = 0; t < threads; ++t) pthread_join(ids[t], NULL);
    free(ids);
}

#ifdef PK_PROBE
#include "probe.h"
#define PK_MALLOC_CALL(size) pk_probe_malloc(size)
#define PK_FREE_CALL(block, size) pk_probe_free(block, size)
#else
#define PK_MALLOC_CALL(size) malloc(size)
#define PK_FREE_CALL(block, size) ((void)(size), free(block))
/* The work is done; what follows is the driver's teardown (the probe build notes it). */
static inline void pk_phase_end(void) {}
#endif

/* malloc, or exit status 4 with a message: a driver measures allocators that succeed. */
static inline void *pk_alloc(size_t size) {
    void *p = PK_MALLOC_CALL(size);
    if (p == NULL) {
        fprintf(stderr, "malloc(%zu) failed\n", size);
        exit(4);
    }
    return p;
}

/* free a block of ``size`` bytes from pk_alloc (the probe build counts the bytes). */
static inline void pk_free(void *block, size_t size) { PK_FREE_CALL(block, size); }

/* What a driver writes into a block and checks when it frees it: a tag word at the start
 * (from the block's size and a tag, so a block handed out twice or overwritten shows), its
 * last byte, and one byte in every further 4 KiB page (so a large block's memory is really
 * used). Like mimalloc-bench's mstress, small blocks are touched at both ends only: the
 * driver's own work per operation stays small next to the allocator's. */
#define PK_TOUCH_STRIDE 4096u

static inline uint64_t pk_tag_word(size_t size, uint64_t tag) {
    return (tag * 0x9e3779b97f4a7c15ull) ^ size;
}

/* The tag word covers the first min(size - 1, 8) bytes; the last byte is the tail mark. */
static inline size_t pk_head_bytes(size_t size) { return size - 1 < 8 ? size - 1 : 8; }

static inline void pk_fill(void *block, size_t size, uint64_t tag) {
    unsigned char *p = block;
    uint64_t word = pk_tag_word(size, tag);
    memcpy(p, &word, pk_head_bytes(size));
    for (size_t i = PK_TOUCH_STRIDE; i + 1 < size; i += PK_TOUCH_STRIDE) p[i] = (unsigned char)(tag + i);
    p[size - 1] = (unsigned char)(tag ^ size);
}

static inline void pk_check_free(void *block, size_t size, uint64_t tag) {
    unsigned char *p = block;
    uint64_t word = pk_tag_word(size, tag), head = 0;
    memcpy(&head, p, pk_head_bytes(size));
    if (size <= 8) word &= ((uint64_t)1 << (8 * (size - 1))) - 1; /* little-endian: the low bytes */
    int bad = head != word || p[size - 1] != (unsigned char)(tag ^ size);
    for (size_t i = PK_TOUCH_STRIDE; i + 1 < size && !bad; i += PK_TOUCH_STRIDE)
        bad = p[i] != (unsigned char)(tag + i);
    if (bad) atomic_fetch_add(&pk_corrupt, 1);
    pk_free(block, size);
}

static inline double pk_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Resident bytes now (not the peak): /proc/self/statm's second field. */
static inline long pk_rss_now(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

/* Peak resident bytes of this program: VmHWM. (getrusage's ru_maxrss would do, but it
 * keeps the parent's peak across fork and exec, so a driver started from a large Python
 * process would report that process's size.) */
static inline long pk_rss_peak(void) {
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib < 0 ? -1 : kib * 1024L;
}

static void pk_usage(const char *name) {
    fprintf(stderr, "usage: %s [--threads N] [--ops N] [--min-size B] [--max-size B] [--seed S]\n", name);
    exit(2);
}

static inline pk_options_t pk_parse(int argc, char **argv, pk_options_t defaults) {
    pk_options_t o = defaults;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) pk_usage(argv[0]);
        char *end = NULL;
        unsigned long long v = strtoull(argv[i + 1], &end, 10);
        if (end == argv[i + 1] || *end != '\0') pk_usage(argv[0]);
        if (!strcmp(argv[i], "--threads")) o.threads = (long)v;
        else if (!strcmp(argv[i], "--ops")) o.ops = (long)v;
        else if (!strcmp(argv[i], "--min-size")) o.min_size = (size_t)v;
        else if (!strcmp(argv[i], "--max-size")) o.max_size = (size_t)v;
        else if (!strcmp(argv[i], "--seed")) o.seed = v;
        else pk_usage(argv[0]);
    }
    if (o.threads < 1 || o.ops < 1 || o.min_size < 1 || o.max_size < o.min_size) pk_usage(argv[0]);
    if (o.seed == 0) o.seed = 88172645463325252ull;
    return o;
}

/* The result line. ``ops`` counts allocations plus frees; ``extra`` is "" or more
 * ``, "key": value`` fields. Exit status 3 when a block was corrupted. */
static inline int pk_report(const char *pattern, const pk_options_t *o, long ops, double seconds,
                            const char *extra) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    long corrupt = atomic_load(&pk_corrupt);
    printf("{\"pattern\": \"%s\", \"threads\": %ld, \"ops\": %ld, \"seconds\": %.6f, "
           "\"ops_per_s\": %.1f, \"peak_rss_bytes\": %ld, \"rss_end_bytes\": %ld, "
           "\"minor_faults\": %ld, \"major_faults\": %ld, \"corrupt\": %ld%s",
           pattern, o->threads, ops, seconds, seconds > 0 ? (double)ops / seconds : 0.0,
           pk_rss_peak(), pk_rss_now(), usage.ru_minflt, usage.ru_majflt, corrupt, extra);
#ifdef PK_PROBE
    pk_print_probe();
#endif
    printf("}\n");
    fflush(stdout);
    return corrupt ? 3 : 0;
}

#endif
