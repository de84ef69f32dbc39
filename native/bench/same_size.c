/* same_size: the allocator's fast path alone, as glibc's bench-malloc-simple measures it
 * (and mimalloc-bench's version of it): each thread allocates a batch of blocks of one size,
 * then frees them, newest first (LIFO) or oldest first (FIFO); batches of 1, 10, 100 and
 * 1000 blocks, sizes from --min-size doubling up to --max-size, by turns. Nothing
 * else happens between the calls: one turn in CHECK_EVERY tags its blocks at both ends and
 * checks them when freed, as every driver does (a block handed out twice shows there); the
 * others touch no block, so a cost added to malloc or free is not diluted. */
#include "bench.h"

#define MAX_BATCH 1000
#define CHECK_EVERY 16 /* one turn of MAX_BATCH blocks in this many is tagged and checked */

static const int BATCHES[] = {1, 10, 100, MAX_BATCH};
#define KINDS (int)(sizeof BATCHES / sizeof BATCHES[0])

static pk_options_t opt;

/* One batch of ``count`` blocks of ``size`` bytes, freed in order (fifo) or in reverse;
 * ``checked``: each block tagged at both ends and checked when freed (the other batches
 * touch no block, so the allocator's own calls are all that is timed). */
static void batch(void **block, int count, size_t size, int fifo, uint64_t tag, int checked) {
    if (!checked) {
        for (int i = 0; i < count; ++i) block[i] = pk_alloc(size);
        if (fifo)
            for (int i = 0; i < count; ++i) pk_free(block[i], size);
        else
            for (int i = count - 1; i >= 0; --i) pk_free(block[i], size);
        return;
    }
    for (int i = 0; i < count; ++i) {
        block[i] = pk_alloc(size);
        pk_fill(block[i], size, tag + (uint64_t)i);
    }
    if (fifo)
        for (int i = 0; i < count; ++i) pk_check_free(block[i], size, tag + (uint64_t)i);
    else
        for (int i = count - 1; i >= 0; --i) pk_check_free(block[i], size, tag + (uint64_t)i);
}

static void *worker(void *arg) {
    uint64_t tag = opt.seed + (uint64_t)(uintptr_t)arg;
    void **block = pk_alloc(MAX_BATCH * sizeof *block);
    long left = opt.ops / opt.threads / 2; /* blocks to allocate (and free) */
    /* Every (size, batch, order) in turn gets the same number of blocks, MAX_BATCH a turn. */
    while (left > 0) {
        for (size_t size = opt.min_size; size <= opt.max_size && left > 0; size *= 2)
            for (int k = 0; k < KINDS && left > 0; ++k)
                for (int fifo = 0; fifo < 2 && left > 0; ++fifo)
                    for (int done = 0; done < MAX_BATCH && left > 0; done += BATCHES[k]) {
                        int count = BATCHES[k] < left ? BATCHES[k] : (int)left;
                        batch(block, count, size, fifo, tag, (tag / MAX_BATCH) % CHECK_EVERY == 0);
                        left -= count;
                        tag += (uint64_t)count;
                    }
    }
    pk_free(block, MAX_BATCH * sizeof *block);
    return NULL;
}

int main(int argc, char **argv) {
    opt = pk_parse(argc, argv, (pk_options_t){1, 20000000, 16, 128, 0});
    double start = pk_now();
    pk_run_threads(opt.threads, worker);
    double seconds = pk_now() - start;
    pk_phase_end();
    long ops = opt.ops / opt.threads / 2 * 2 * opt.threads;
    return pk_report("same_size", &opt, ops, seconds, "");
}
