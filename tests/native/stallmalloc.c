/* An allocator for the tests that stalls: glibc's malloc, except that every
 * $STALL_EVERY-th call busy-waits $STALL_NS nanoseconds first, as a call held up by a purge
 * or a lock would. free is glibc's own (nothing is wrapped but malloc). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>

extern void *__libc_malloc(size_t size);

static long every = -1, stall_ns;
static __thread unsigned long calls;

static long from_env(const char *name, long fallback) {
    const char *text = getenv(name);
    return text != NULL ? atol(text) : fallback;
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void *malloc(size_t size) {
    if (every < 0) {
        stall_ns = from_env("STALL_NS", 50000);
        every = from_env("STALL_EVERY", 1000);
    }
    if (every > 0 && ++calls % (unsigned long)every == 0) {
        long long until = now_ns() + stall_ns;
        while (now_ns() < until) {
        }
    }
    return __libc_malloc(size);
}
