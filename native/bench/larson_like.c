/* larson_like: threads hold slots of blocks and free and refill them at random sizes; each
 * round ends with every thread exiting and its slots handed to a new thread, which frees
 * blocks another thread allocated (Larson and Krishnan's server simulation, in outline). */
#include "bench.h"

#define SLOTS 1000
#define ROUNDS 10

typedef struct {
    void *block[SLOTS];
    size_t size[SLOTS];
    uint64_t rng;
    long ops_per_round;
    size_t lo, hi;
    long ops;
} slots_t;

static void *round_worker(void *arg) {
    slots_t *t = arg;
    for (long i = 0; i < t->ops_per_round; ++i) {
        size_t s = pk_next(&t->rng) % SLOTS;
        if (t->block[s] != NULL) pk_check_free(t->block[s], t->size[s], s), ++t->ops;
        t->size[s] = pk_size_between(&t->rng, t->lo, t->hi);
        t->block[s] = pk_alloc(t->size[s]);
        pk_fill(t->block[s], t->size[s], s);
        ++t->ops;
    }
    return NULL;
}

int main(int argc, char **argv) {
    pk_options_t o = pk_parse(argc, argv, (pk_options_t){2, 2000000, 16, 512, 0});
    slots_t *sets = calloc((size_t)o.threads, sizeof *sets);
    for (long t = 0; t < o.threads; ++t) {
        sets[t].rng = o.seed + (uint64_t)t * 7919u;
        sets[t].ops_per_round = o.ops / o.threads / ROUNDS;
        sets[t].lo = o.min_size;
        sets[t].hi = o.max_size;
    }
    pthread_t *threads = calloc((size_t)o.threads, sizeof *threads);
    double start = pk_now();
    for (int round = 0; round < ROUNDS; ++round) {
        /* A new thread per set each round: the blocks it frees came from the last one. */
        for (long t = 0; t < o.threads; ++t) pthread_create(&threads[t], NULL, round_worker, &sets[(t + round) % o.threads]);
        for (long t = 0; t < o.threads; ++t) pthread_join(threads[t], NULL);
    }
    long ops = 0;
    pk_phase_end();
    for (long t = 0; t < o.threads; ++t) {
        for (size_t s = 0; s < SLOTS; ++s)
            if (sets[t].block[s] != NULL) pk_check_free(sets[t].block[s], sets[t].size[s], s), ++ops;
        ops += sets[t].ops;
    }
    double seconds = pk_now() - start;
    free(threads);
    free(sets);
    return pk_report("larson_like", &o, ops, seconds, "");
}
