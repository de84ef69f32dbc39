/* pkmalloc's own memory behaviour (pkmalloc only: it reads pk_stats_mapped):
 *
 * - a producer thread whose blocks a consumer thread frees reuses that memory, round after
 *   round, instead of mapping more (its spans sit on its full list when the consumer frees
 *   into them, and the consumer's frees must bring them back);
 * - free memory goes back to the OS once it has stayed unused for a purge period: the
 *   resident size of freed spans and the mappings of freed huge blocks;
 * - malloc_trim gives it back at once.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pkmalloc.h" /* with -DPK_DIRECT: the pk_ names */

#define BATCH 20000
#define ROUNDS 60
#define MIB ((size_t)1 << 20)

static int failures;

#define CHECK(cond, ...)                                 \
    do {                                                 \
        if (!(cond)) {                                   \
            fprintf(stderr, "test_reuse: " __VA_ARGS__); \
            fputc('\n', stderr);                         \
            ++failures;                                  \
        }                                                \
    } while (0)

static void *batch[BATCH];
static atomic_int turn; /* 0: the producer fills the batch, 1: the consumer empties it */

static void *consumer(void *arg) {
    (void)arg;
    for (int round = 0; round < ROUNDS; ++round) {
        while (atomic_load(&turn) != 1) sched_yield();
        for (int i = 0; i < BATCH; ++i) free(batch[i]);
        atomic_store(&turn, 0);
    }
    return NULL;
}

static void test_cross_thread_frees_are_reused(void) {
    pthread_t thread;
    pthread_create(&thread, NULL, consumer, NULL);
    size_t warm = 0;
    for (int round = 0; round < ROUNDS; ++round) {
        while (atomic_load(&turn) != 0) sched_yield();
        if (round == 5) warm = pk_stats_mapped();
        for (int i = 0; i < BATCH; ++i) {
            batch[i] = malloc(64);
            memset(batch[i], round, 64);
        }
        atomic_store(&turn, 1);
    }
    pthread_join(thread, NULL);
    size_t end = pk_stats_mapped();
    /* One batch is 1.25 MiB: without reuse, 55 more rounds would map about 70 MiB more. */
    CHECK(end <= warm + 4 * MIB, "a producer mapped %zu MiB more over %d rounds of frees from "
          "another thread (%zu MiB mapped at round 5)", (end - warm) / MIB, ROUNDS - 5, warm / MIB);
}

static long resident_bytes(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    if (f != NULL) fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

enum { SPANS = 256, SPAN_BYTES = 256 << 10, HUGE = 6 };

/* 64 MiB of 256 KiB blocks (a span each), written, and 36 MiB of huge blocks, all freed:
 * the resident and mapped bytes before the frees. */
static void allocate_and_free(long *resident, size_t *mapped) {
    void *spans[SPANS], *huge[HUGE];
    for (int i = 0; i < SPANS; ++i) {
        spans[i] = malloc(SPAN_BYTES);
        memset(spans[i], 1, SPAN_BYTES);
    }
    for (int i = 0; i < HUGE; ++i) huge[i] = malloc(6 * MIB);
    *resident = resident_bytes();
    *mapped = pk_stats_mapped();
    for (int i = 0; i < SPANS; ++i) free(spans[i]);
    for (int i = 0; i < HUGE; ++i) free(huge[i]); /* kept in the huge-block cache */
}

/* A malloc and a free the compiler cannot leave out (it may drop free(malloc(n))). */
static void malloc_then_free(size_t size) {
    unsigned char *volatile p = malloc(size);
    p[0] = 1;
    free(p);
}

/* Free memory goes back when frees happen after it has been idle a purge period (10 ms):
 * free a span-sized and a huge block now and then until it has (or give up after 2 s). */
static void test_idle_memory_goes_back(void) {
    long full;
    size_t mapped_full;
    allocate_and_free(&full, &mapped_full);
    long now = full;
    size_t mapped = mapped_full;
    for (int tries = 0; tries < 100; ++tries) {
        if (full - now >= (long)(48 * MIB) && mapped_full - mapped >= 30 * MIB) break;
        sleep_ms(20);
        malloc_then_free(SPAN_BYTES);
        malloc_then_free(2 * MIB);
        now = resident_bytes();
        mapped = pk_stats_mapped();
    }
    CHECK(full - now >= (long)(48 * MIB), "64 MiB of freed spans left %ld MiB resident",
          (now - (full - (long)(64 * MIB))) / (long)MIB);
    CHECK(mapped_full - mapped >= 30 * MIB, "36 MiB of freed huge blocks are still mapped");
}

static void test_malloc_trim_gives_memory_back_at_once(void) {
    long full;
    size_t mapped_full;
    allocate_and_free(&full, &mapped_full);
    CHECK(malloc_trim(0) == 1, "malloc_trim found nothing to give back");
    long now = resident_bytes();
    size_t mapped = pk_stats_mapped();
    CHECK(full - now >= (long)(48 * MIB), "after malloc_trim, 64 MiB of freed spans left %ld MiB resident",
          (now - (full - (long)(64 * MIB))) / (long)MIB);
    CHECK(mapped_full - mapped >= 30 * MIB, "after malloc_trim, freed huge blocks are still mapped");
    CHECK(malloc_trim(0) == 0, "a second malloc_trim gave memory back");
}

int main(void) {
    test_cross_thread_frees_are_reused();
    test_idle_memory_goes_back();
    test_malloc_trim_gives_memory_back_at_once();
    if (failures) return 1;
    puts("test_reuse: ok");
    return 0;
}
