/* large_blocks: each thread keeps 4 live blocks of 5-25 MiB and replaces a random one per
 * op; pk_fill writes every 4 KiB page of the new block, so its memory is really used. */
#include "bench.h"

#define LIVE 4

static pk_options_t opt;

static void *worker(void *arg) {
    uint64_t rng = opt.seed + (uint64_t)(uintptr_t)arg;
    void *block[LIVE] = {0};
    size_t size[LIVE] = {0};
    for (long i = 0; i < opt.ops / opt.threads / 2; ++i) {
        size_t s = pk_next(&rng) % LIVE;
        if (block[s] != NULL) pk_check_free(block[s], size[s], s);
        size[s] = pk_size_between(&rng, opt.min_size, opt.max_size);
        block[s] = pk_alloc(size[s]);
        pk_fill(block[s], size[s], s);
    }
    for (size_t s = 0; s < LIVE; ++s)
        if (block[s] != NULL) pk_check_free(block[s], size[s], s);
    return NULL;
}

int main(int argc, char **argv) {
    opt = pk_parse(argc, argv, (pk_options_t){1, 2000, 5u << 20, 25u << 20, 0});
    double start = pk_now();
    pk_run_threads(opt.threads, worker);
    double seconds = pk_now() - start;
    pk_phase_end();
    return pk_report("large_blocks", &opt, opt.ops / opt.threads / 2 * 2 * opt.threads, seconds, "");
}
