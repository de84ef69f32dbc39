/* fragmentation: allocate to a peak (--ops blocks of random sizes), free 90% of them at
 * random, note the resident memory left, then allocate as many again (fresh random sizes
 * from the same range) and note how much of the freed memory was reused: the resident
 * growth of the refill. */
#include "bench.h"

int main(int argc, char **argv) {
    pk_options_t o = pk_parse(argc, argv, (pk_options_t){1, 200000, 64, 4096, 0});
    long n = o.ops;
    void **block = pk_alloc((size_t)n * sizeof *block);
    size_t *size = pk_alloc((size_t)n * sizeof *size);
    uint64_t rng = o.seed;
    long ops = 0;
    double start = pk_now();
    for (long i = 0; i < n; ++i) {
        size[i] = pk_size_between(&rng, o.min_size, o.max_size);
        block[i] = pk_alloc(size[i]);
        pk_fill(block[i], size[i], (uint64_t)i);
        ++ops;
    }
    long rss_peak_live = pk_rss_now();
    for (long i = 0; i < n; ++i) {
        if (pk_next(&rng) % 10 != 0) {
            pk_check_free(block[i], size[i], (uint64_t)i);
            block[i] = NULL;
            ++ops;
        }
    }
    long rss_after_free = pk_rss_now();
    for (long i = 0; i < n; ++i) {
        if (block[i] != NULL) continue;
        size[i] = pk_size_between(&rng, o.min_size, o.max_size);
        block[i] = pk_alloc(size[i]);
        pk_fill(block[i], size[i], (uint64_t)i);
        ++ops;
    }
    long rss_refilled = pk_rss_now();
    pk_phase_end();
    for (long i = 0; i < n; ++i) pk_check_free(block[i], size[i], (uint64_t)i), ++ops;
    double seconds = pk_now() - start;
    pk_free(block, (size_t)n * sizeof *block);
    pk_free(size, (size_t)n * sizeof *size);
    char extra[200];
    snprintf(extra, sizeof extra, ", \"rss_live_peak_bytes\": %ld, \"rss_after_free_bytes\": %ld, \"rss_refilled_bytes\": %ld",
             rss_peak_live, rss_after_free, rss_refilled);
    return pk_report("fragmentation", &o, ops, seconds, extra);
}
