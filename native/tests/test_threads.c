/* Many threads allocating, checking and freeing, with blocks handed between threads
 * (frees from a thread that did not allocate) and threads that exit while others still
 * hold their blocks. Every block carries a pattern derived from its size and tag; a block
 * that comes back changed fails the test. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkmalloc.h" /* with -DPK_DIRECT: the pk_ names */

#define THREADS 8
#define SLOTS 512
#define EXCHANGE 256
#define STRIDE 61 /* bytes between checked bytes: every cache line, not every byte */

typedef struct {
    size_t size;
    uint32_t tag;
} header_t;

static _Atomic(header_t *) exchange[EXCHANGE];
static atomic_int corrupt;
static int rounds = 30000; /* per thread; the first argument overrides it */

static uint32_t next_random(uint32_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

static size_t pick_size(uint32_t r) {
    uint32_t kind = r % 100;
    if (kind < 70) return 32 + r % 224;           /* small (room for the header) */
    if (kind < 95) return 256 + r % 8000;         /* medium */
    if (kind < 99) return 8192 + r % 250000;      /* large classes */
    return (size_t)(300000 + r % (3u << 20));     /* huge */
}

static header_t *make(size_t size, uint32_t tag) {
    header_t *h = malloc(size);
    if (h == NULL) return NULL;
    h->size = size;
    h->tag = tag;
    unsigned char *bytes = (unsigned char *)(h + 1);
    for (size_t i = 0; i + sizeof *h < size; i += STRIDE) bytes[i] = (unsigned char)(tag + i);
    size_t last = size - sizeof *h - 1; /* and the very last byte */
    bytes[last] = (unsigned char)(tag + last);
    return h;
}

static void check_and_free(header_t *h) {
    unsigned char *bytes = (unsigned char *)(h + 1);
    for (size_t i = 0; i + sizeof *h < h->size; i += STRIDE) {
        if (bytes[i] != (unsigned char)(h->tag + i)) {
            atomic_fetch_add(&corrupt, 1);
            break;
        }
    }
    size_t last = h->size - sizeof *h - 1;
    if (bytes[last] != (unsigned char)(h->tag + last)) atomic_fetch_add(&corrupt, 1);
    free(h);
}

static void *worker(void *arg) {
    uint32_t state = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
    header_t *slots[SLOTS] = {0};
    for (int round = 0; round < rounds; ++round) {
        uint32_t r = next_random(&state);
        unsigned slot = r % SLOTS;
        if (slots[slot] != NULL) check_and_free(slots[slot]);
        slots[slot] = make(pick_size(next_random(&state)), r);
        if (slots[slot] == NULL) {
            atomic_fetch_add(&corrupt, 1);
            return NULL;
        }
        if (r % 7 == 0) {
            /* Hand a block to whichever thread takes this exchange slot next. */
            header_t *theirs = atomic_exchange(&exchange[r % EXCHANGE], slots[slot]);
            slots[slot] = theirs;
        }
        if (r % 1001 == 0) {
            header_t *grown = realloc(slots[slot], 0);
            (void)grown; /* realloc(p, 0) frees p; the slot is empty again */
            slots[slot] = NULL;
        }
    }
    /* Leave a quarter of the blocks behind for main to free after this thread exits. */
    for (unsigned i = 0; i < SLOTS; ++i) {
        if (slots[i] == NULL) continue;
        if (i % 4 == 0) {
            header_t *theirs = atomic_exchange(&exchange[i % EXCHANGE], slots[i]);
            if (theirs != NULL) check_and_free(theirs);
        } else {
            check_and_free(slots[i]);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) rounds = atoi(argv[1]);
    for (int generation = 0; generation < 3; ++generation) {
        pthread_t threads[THREADS];
        for (uintptr_t i = 0; i < THREADS; ++i)
            pthread_create(&threads[i], NULL, worker, (void *)(i + 1 + (uintptr_t)generation * THREADS));
        for (int i = 0; i < THREADS; ++i) pthread_join(threads[i], NULL);
    }
    for (int i = 0; i < EXCHANGE; ++i) {
        header_t *h = atomic_exchange(&exchange[i], NULL);
        if (h != NULL) check_and_free(h);
    }
    if (atomic_load(&corrupt)) {
        fprintf(stderr, "test_threads: %d corrupted or failed blocks\n", atomic_load(&corrupt));
        return 1;
    }
    puts("test_threads: ok");
    return 0;
}
