/* fifo_lifo: each thread allocates batches of 1000 small blocks and frees them, in
 * allocation order (FIFO) and in reverse (LIFO) by turns. */
#include "bench.h"

#define BATCH 1000

static pk_options_t opt;

static void *worker(void *arg) {
    uint64_t rng = opt.seed + (uint64_t)(uintptr_t)arg;
    void **block = pk_alloc(BATCH * sizeof *block);
    size_t *size = pk_alloc(BATCH * sizeof *size);
    long batches = opt.ops / opt.threads / (2 * BATCH);
    for (long b = 0; b < batches; ++b) {
        for (int i = 0; i < BATCH; ++i) {
            size[i] = pk_size_between(&rng, opt.min_size, opt.max_size);
            block[i] = pk_alloc(size[i]);
            pk_fill(block[i], size[i], (uint64_t)i);
        }
        if (b % 2 == 0)
            for (int i = 0; i < BATCH; ++i) pk_check_free(block[i], size[i], (uint64_t)i);
        else
            for (int i = BATCH - 1; i >= 0; --i) pk_check_free(block[i], size[i], (uint64_t)i);
    }
    pk_free(block, BATCH * sizeof *block);
    pk_free(size, BATCH * sizeof *size);
    return NULL;
}

int main(int argc, char **argv) {
    opt = pk_parse(argc, argv, (pk_options_t){1, 8000000, 16, 256, 0});
    double start = pk_now();
    pk_run_threads(opt.threads, worker);
    double seconds = pk_now() - start;
    pk_phase_end();
    long ops = opt.ops / opt.threads / (2 * BATCH) * 2 * BATCH * opt.threads;
    return pk_report("fifo_lifo", &opt, ops, seconds, "");
}
