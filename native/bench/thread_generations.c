/* thread_generations: generation after generation of --threads threads. Each thread
 * allocates a batch of blocks, hands it to the next thread of its generation (which checks
 * and frees it, often after the allocating thread has exited), keeps an eighth of its own
 * blocks alive for the next generation's thread of the same number to free, and exits.
 * Between generations the main thread, long-lived, gathers RECORDS small result records
 * per thread and lets them go every FLUSH generations, so it too takes fresh pages now
 * and then. Peak RSS must stay flat however many generations run: an allocator that
 * strands the memory of exited threads (with the long-lived thread, say) grows with every
 * generation. */
#include "bench.h"

#define BATCH 512
#define KEEP 64 /* blocks of each thread that outlive it by one generation */
#define RECORDS 64 /* result records the main thread gathers per thread and generation */
#define FLUSH 100 /* generations between two releases of the result records */

typedef struct {
    void *block[BATCH];
    size_t size[BATCH];
} batch_t;

typedef struct {
    long number;
    uint64_t rng;
    batch_t *inbox;   /* the batch handed to this thread (NULL until posted) */
    pthread_mutex_t lock;
    pthread_cond_t posted;
    batch_t kept;     /* blocks left alive by this slot's thread of the last generation */
    size_t kept_count;
} slot_t;

static pk_options_t opt;
static slot_t *slots;

static void *generation_worker(void *arg) {
    slot_t *self = arg;
    slot_t *next = &slots[(self->number + 1) % opt.threads];
    for (size_t i = 0; i < self->kept_count; ++i)
        pk_check_free(self->kept.block[i], self->kept.size[i], i);
    self->kept_count = 0;
    batch_t *out = pk_alloc(sizeof *out);
    for (int i = 0; i < BATCH; ++i) {
        out->size[i] = pk_size_between(&self->rng, opt.min_size, opt.max_size);
        out->block[i] = pk_alloc(out->size[i]);
        pk_fill(out->block[i], out->size[i], (uint64_t)i);
    }
    for (size_t i = 0; i < KEEP; ++i) {
        self->kept.size[i] = pk_size_between(&self->rng, opt.min_size, opt.max_size);
        self->kept.block[i] = pk_alloc(self->kept.size[i]);
        pk_fill(self->kept.block[i], self->kept.size[i], i);
    }
    self->kept_count = KEEP;
    pthread_mutex_lock(&next->lock);
    next->inbox = out;
    pthread_cond_signal(&next->posted);
    pthread_mutex_unlock(&next->lock);
    pthread_mutex_lock(&self->lock);
    while (self->inbox == NULL) pthread_cond_wait(&self->posted, &self->lock);
    batch_t *in = self->inbox;
    self->inbox = NULL;
    pthread_mutex_unlock(&self->lock);
    for (int i = 0; i < BATCH; ++i) pk_check_free(in->block[i], in->size[i], (uint64_t)i);
    pk_free(in, sizeof *in);
    return NULL;
}

int main(int argc, char **argv) {
    opt = pk_parse(argc, argv, (pk_options_t){2, 2 * 1000L * 2 * (BATCH + KEEP + RECORDS), 16, 1024, 0});
    long per_generation = opt.threads * 2 * (BATCH + KEEP + RECORDS);
    long generations = opt.ops / per_generation;
    if (generations < 1) generations = 1;
    slots = calloc((size_t)opt.threads, sizeof *slots);
    pthread_t *threads = calloc((size_t)opt.threads, sizeof *threads);
    for (long t = 0; t < opt.threads; ++t) {
        slots[t].number = t;
        pthread_mutex_init(&slots[t].lock, NULL);
        pthread_cond_init(&slots[t].posted, NULL);
    }
    size_t record_count = 0, record_cap = (size_t)(FLUSH * opt.threads * RECORDS);
    void **records = calloc(record_cap, sizeof *records);
    size_t *record_size = calloc(record_cap, sizeof *record_size);
    uint64_t record_rng = opt.seed ^ 0x5deece66dull;
    double start = pk_now();
    for (long g = 0; g < generations; ++g) {
        for (long t = 0; t < opt.threads; ++t) {
            slots[t].rng = opt.seed + (uint64_t)(g * opt.threads + t);
            pthread_create(&threads[t], NULL, generation_worker, &slots[t]);
        }
        for (long t = 0; t < opt.threads; ++t) pthread_join(threads[t], NULL);
        for (long r = 0; r < opt.threads * RECORDS; ++r) {
            record_size[record_count] = pk_size_between(&record_rng, 32, 96);
            records[record_count] = pk_alloc(record_size[record_count]);
            pk_fill(records[record_count], record_size[record_count], (uint64_t)r);
            ++record_count;
        }
        if ((g + 1) % FLUSH == 0 || g + 1 == generations) {
            for (size_t r = 0; r < record_count; ++r)
                pk_check_free(records[r], record_size[r], (uint64_t)(r % (size_t)(opt.threads * RECORDS)));
            record_count = 0;
        }
    }
    pk_phase_end();
    for (long t = 0; t < opt.threads; ++t)
        for (size_t i = 0; i < slots[t].kept_count; ++i)
            pk_check_free(slots[t].kept.block[i], slots[t].kept.size[i], i);
    double seconds = pk_now() - start;
    char extra[64];
    snprintf(extra, sizeof extra, ", \"generations\": %ld", generations);
    free(record_size);
    free(records);
    free(threads);
    free(slots);
    return pk_report("thread_generations", &opt, generations * per_generation, seconds, extra);
}
