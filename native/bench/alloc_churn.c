/* alloc_churn: one thread, random sizes (8 B - 1 KiB by default), random free order
 * (malloc-lab style): 10 000 slots, each op frees a random slot's block and refills it. */
#include "bench.h"

#define SLOTS 10000

int main(int argc, char **argv) {
    pk_options_t o = pk_parse(argc, argv, (pk_options_t){1, 4000000, 8, 1024, 0});
    static void *block[SLOTS];
    static size_t size[SLOTS];
    uint64_t rng = o.seed;
    long ops = 0;
    double start = pk_now();
    for (long i = 0; i < o.ops; ++i) {
        size_t s = pk_next(&rng) % SLOTS;
        if (block[s] != NULL) {
            pk_check_free(block[s], size[s], s);
            ++ops;
        }
        size[s] = pk_size_between(&rng, o.min_size, o.max_size);
        block[s] = pk_alloc(size[s]);
        pk_fill(block[s], size[s], s);
        ++ops;
    }
    pk_phase_end();
    for (size_t s = 0; s < SLOTS; ++s)
        if (block[s] != NULL) pk_check_free(block[s], size[s], s), ++ops;
    return pk_report("alloc_churn", &o, ops, pk_now() - start, "");
}
