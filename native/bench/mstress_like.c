/* mstress_like: threads allocate a random mix of sizes (mostly small, one in 200 between
 * 64 KiB and 1 MiB), keep them in private slots, and swap blocks with each other through a
 * shared array, so blocks are freed by threads that did not allocate them (after mimalloc's
 * mstress, in outline). */
#include "bench.h"

#define SLOTS 2000
#define SHARED 4096

typedef struct {
    void *block;
    size_t size;
    uint64_t tag;
} item_t;

static _Atomic(item_t *) shared[SHARED];
static pk_options_t opt;
static atomic_long total_ops;

static item_t *make(uint64_t *rng) {
    item_t *item = pk_alloc(sizeof *item);
    int large = pk_next(rng) % 200 == 0;
    item->size = large ? pk_size_between(rng, 65536, 1 << 20) : pk_size_between(rng, opt.min_size, opt.max_size);
    item->tag = pk_next(rng);
    item->block = pk_alloc(item->size);
    pk_fill(item->block, item->size, item->tag);
    return item;
}

static long release(item_t *item) {
    pk_check_free(item->block, item->size, item->tag);
    pk_free(item, sizeof *item);
    return 2;
}

static void *worker(void *arg) {
    uint64_t rng = opt.seed * 31u + (uint64_t)(uintptr_t)arg;
    item_t *slots[SLOTS] = {0};
    long ops = 0;
    for (long i = 0; i < opt.ops / opt.threads / 2; ++i) {
        size_t s = pk_next(&rng) % SLOTS;
        if (slots[s] != NULL) ops += release(slots[s]);
        slots[s] = make(&rng);
        ops += 2;
        if (pk_next(&rng) % 4 == 0) slots[s] = atomic_exchange(&shared[pk_next(&rng) % SHARED], slots[s]);
    }
    for (size_t s = 0; s < SLOTS; ++s)
        if (slots[s] != NULL) ops += release(slots[s]);
    atomic_fetch_add(&total_ops, ops);
    return NULL;
}

int main(int argc, char **argv) {
    opt = pk_parse(argc, argv, (pk_options_t){1, 2000000, 8, 2048, 0});
    double start = pk_now();
    pk_run_threads(opt.threads, worker);
    pk_phase_end();
    long ops = atomic_load(&total_ops);
    for (size_t i = 0; i < SHARED; ++i) {
        item_t *item = atomic_exchange(&shared[i], NULL);
        if (item != NULL) ops += release(item);
    }
    double seconds = pk_now() - start;
    return pk_report("mstress_like", &opt, ops, seconds, "");
}
