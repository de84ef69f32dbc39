/* producer_consumer: --threads producers allocate batches of blocks and pass them through
 * a bounded queue to as many consumers, which check and free them (xmalloc-style): every
 * free is a free from another thread. */
#include "bench.h"

#define BATCH 64
#define QUEUE 256

typedef struct {
    void *block[BATCH];
    size_t size[BATCH];
} batch_t;

static batch_t *queue[QUEUE];
static long head, tail;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static pk_options_t opt;

static void *producer(void *arg) {
    uint64_t rng = opt.seed + (uint64_t)(uintptr_t)arg;
    long batches = opt.ops / 2 / BATCH / opt.threads;
    for (long b = 0; b < batches; ++b) {
        batch_t *batch = pk_alloc(sizeof *batch);
        for (int i = 0; i < BATCH; ++i) {
            batch->size[i] = pk_size_between(&rng, opt.min_size, opt.max_size);
            batch->block[i] = pk_alloc(batch->size[i]);
            pk_fill(batch->block[i], batch->size[i], (uint64_t)i);
        }
        pthread_mutex_lock(&lock);
        while (tail - head == QUEUE) pthread_cond_wait(&not_full, &lock);
        queue[tail++ % QUEUE] = batch;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void *consumer(void *arg) {
    long batches = (long)(uintptr_t)arg;
    for (long b = 0; b < batches; ++b) {
        pthread_mutex_lock(&lock);
        while (tail == head) pthread_cond_wait(&not_empty, &lock);
        batch_t *batch = queue[head++ % QUEUE];
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&lock);
        for (int i = 0; i < BATCH; ++i) pk_check_free(batch->block[i], batch->size[i], (uint64_t)i);
        pk_free(batch, sizeof *batch);
    }
    return NULL;
}

int main(int argc, char **argv) {
    opt = pk_parse(argc, argv, (pk_options_t){1, 4000000, 16, 1024, 0});
    long per_producer = opt.ops / 2 / BATCH / opt.threads;
    pthread_t *threads = calloc((size_t)opt.threads * 2, sizeof *threads);
    double start = pk_now();
    for (long t = 0; t < opt.threads; ++t) {
        pthread_create(&threads[2 * t], NULL, producer, (void *)(uintptr_t)(t + 1));
        pthread_create(&threads[2 * t + 1], NULL, consumer, (void *)(uintptr_t)per_producer);
    }
    for (long t = 0; t < 2 * opt.threads; ++t) pthread_join(threads[t], NULL);
    double seconds = pk_now() - start;
    pk_phase_end();
    free(threads);
    return pk_report("producer_consumer", &opt, per_producer * opt.threads * BATCH * 2, seconds, "");
}
