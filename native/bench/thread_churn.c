/* thread_churn: short-lived threads, --threads at a time, each allocating 2000 blocks,
 * freeing half and leaving the rest to be freed by the next generation's main-thread
 * sweep; ends with the resident memory left behind. */
#include "bench.h"

#define PER_THREAD 2000

typedef struct {
    void *block[PER_THREAD];
    size_t size[PER_THREAD];
    uint64_t rng;
} work_t;

static pk_options_t opt;

static void *short_life(void *arg) {
    work_t *w = arg;
    for (int i = 0; i < PER_THREAD; ++i) {
        w->size[i] = pk_size_between(&w->rng, opt.min_size, opt.max_size);
        w->block[i] = pk_alloc(w->size[i]);
        pk_fill(w->block[i], w->size[i], (uint64_t)i);
    }
    for (int i = 0; i < PER_THREAD; i += 2) {
        pk_check_free(w->block[i], w->size[i], (uint64_t)i);
        w->block[i] = NULL;
    }
    return NULL;
}

int main(int argc, char **argv) {
    opt = pk_parse(argc, argv, (pk_options_t){1, 2000000, 16, 2048, 0});
    long generations = opt.ops / (opt.threads * PER_THREAD * 2);
    work_t *work = calloc((size_t)opt.threads, sizeof *work);
    pthread_t *threads = calloc((size_t)opt.threads, sizeof *threads);
    double start = pk_now();
    for (long g = 0; g < generations; ++g) {
        for (long t = 0; t < opt.threads; ++t) {
            work[t].rng = opt.seed + (uint64_t)(g * opt.threads + t);
            pthread_create(&threads[t], NULL, short_life, &work[t]);
        }
        for (long t = 0; t < opt.threads; ++t) pthread_join(threads[t], NULL);
        /* The survivors are freed here, by a thread that did not allocate them. */
        for (long t = 0; t < opt.threads; ++t)
            for (int i = 1; i < PER_THREAD; i += 2) pk_check_free(work[t].block[i], work[t].size[i], (uint64_t)i);
    }
    double seconds = pk_now() - start;
    pk_phase_end();
    free(threads);
    free(work);
    return pk_report("thread_churn", &opt, generations * opt.threads * PER_THREAD * 2, seconds, "");
}
