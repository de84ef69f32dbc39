/* pkmalloc's memory across generations of threads (pkmalloc only: it reads pk_stats_mapped).
 *
 * Generation after generation, THREADS threads each allocate a batch, hand it to the next
 * thread of their generation (which frees it, often after its owner has exited), leave some
 * blocks for the next generation to free, and exit; between generations the main thread,
 * long-lived, takes fresh pages for records it keeps a while. The pages of exited threads
 * must be reused or given back: the memory mapped late in the run must not exceed what was
 * mapped early by more than SLACK. An allocator whose long-lived thread adopts pages it never
 * looks at again maps about 50 KiB more with every generation.
 *
 * Argument: generations (default 1000; at least 200).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkmalloc.h" /* with -DPK_DIRECT: the pk_ names */

#define THREADS 2
#define BATCH 512
#define KEEP 64
#define RECORDS 128 /* kept by the main thread per generation */
#define FLUSH 100   /* generations between two releases of the main thread's records */
#define SLACK ((size_t)8 << 20)

typedef struct {
    void *block[BATCH];
    size_t size[BATCH];
} batch_t;

typedef struct {
    int number;
    uint32_t rng;
    batch_t *_Atomic inbox;
    batch_t kept;
    int kept_count;
} slot_t;

static slot_t slots[THREADS];
static int corrupt;
static pthread_mutex_t corrupt_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t next_random(uint32_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

static void *make(size_t size, unsigned char tag) {
    unsigned char *p = malloc(size);
    if (p == NULL) {
        fprintf(stderr, "test_generations: malloc(%zu) failed\n", size);
        exit(1);
    }
    p[0] = tag;
    p[size - 1] = tag;
    return p;
}

static void check_free(void *block, size_t size, unsigned char tag) {
    unsigned char *p = block;
    if (p[0] != tag || p[size - 1] != tag) {
        pthread_mutex_lock(&corrupt_lock);
        ++corrupt;
        pthread_mutex_unlock(&corrupt_lock);
    }
    free(block);
}

static void *generation(void *arg) {
    slot_t *self = arg;
    slot_t *next = &slots[(self->number + 1) % THREADS];
    for (int i = 0; i < self->kept_count; ++i) check_free(self->kept.block[i], self->kept.size[i], (unsigned char)i);
    batch_t *out = make(sizeof *out, 1);
    for (int i = 0; i < BATCH; ++i) {
        out->size[i] = 16 + next_random(&self->rng) % 1009;
        out->block[i] = make(out->size[i], (unsigned char)i);
    }
    for (int i = 0; i < KEEP; ++i) {
        self->kept.size[i] = 16 + next_random(&self->rng) % 1009;
        self->kept.block[i] = make(self->kept.size[i], (unsigned char)i);
    }
    self->kept_count = KEEP;
    atomic_store(&next->inbox, out);
    batch_t *in;
    while ((in = atomic_exchange(&self->inbox, NULL)) == NULL) sched_yield();
    for (int i = 0; i < BATCH; ++i) check_free(in->block[i], in->size[i], (unsigned char)i);
    free(in);
    return NULL;
}

int main(int argc, char **argv) {
    int generations = argc > 1 ? atoi(argv[1]) : 1000;
    if (generations < 200) generations = 200;
    static void *records[FLUSH * RECORDS];
    int record_count = 0;
    uint32_t record_rng = 12345;
    size_t early = 0, late = 0;
    for (int t = 0; t < THREADS; ++t) slots[t].number = t;
    for (int g = 0; g < generations; ++g) {
        pthread_t threads[THREADS];
        for (int t = 0; t < THREADS; ++t) {
            slots[t].rng = (uint32_t)(g * THREADS + t) * 2654435761u + 1u;
            if (pthread_create(&threads[t], NULL, generation, &slots[t]) != 0) {
                fprintf(stderr, "test_generations: pthread_create failed\n");
                return 1;
            }
        }
        for (int t = 0; t < THREADS; ++t) pthread_join(threads[t], NULL);
        for (int r = 0; r < RECORDS; ++r) records[record_count++] = make(32 + next_random(&record_rng) % 65, 7);
        if ((g + 1) % FLUSH == 0) {
            for (int r = 0; r < record_count; ++r) free(records[r]);
            record_count = 0;
        }
        size_t mapped = pk_stats_mapped();
        if (g < 2 * FLUSH && mapped > early) early = mapped;
        if (g >= generations - FLUSH && mapped > late) late = mapped;
    }
    for (int r = 0; r < record_count; ++r) free(records[r]);
    for (int t = 0; t < THREADS; ++t)
        for (int i = 0; i < slots[t].kept_count; ++i) check_free(slots[t].kept.block[i], slots[t].kept.size[i], (unsigned char)i);
    if (corrupt) {
        fprintf(stderr, "test_generations: %d blocks came back changed\n", corrupt);
        return 1;
    }
    if (late > early + SLACK) {
        fprintf(stderr,
                "test_generations: %zu KiB mapped in the last %d of %d generations against %zu KiB in "
                "the first %d: the memory of exited threads is not reused\n",
                late >> 10, FLUSH, generations, early >> 10, 2 * FLUSH);
        return 1;
    }
    printf("test_generations: ok (%d generations, %zu KiB mapped early, %zu KiB late)\n", generations,
           early >> 10, late >> 10);
    return 0;
}
