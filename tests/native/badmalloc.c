/* A broken allocator for the tests: a bump allocator that, every 1000th call, hands out
 * the block it handed out last time (a double hand-out). The drivers must report the
 * corruption that follows. It never frees, so nothing else breaks first. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static unsigned char arena[256u << 20];
static size_t used;
static void *last;
static unsigned long calls;

void *malloc(size_t size) {
    if (last != NULL && ++calls % 1000 == 0) return last;
    size = (size + 15) & ~(size_t)15;
    if (size > sizeof arena - used) return NULL;
    last = arena + used;
    used += size;
    return last;
}

void free(void *p) { (void)p; }

void *calloc(size_t n, size_t size) {
    void *p = malloc(n * size);
    if (p != NULL) memset(p, 0, n * size);
    return p;
}

void *realloc(void *p, size_t size) {
    void *q = malloc(size);
    if (q != NULL && p != NULL) memmove(q, p, size); /* over-reads are within the arena */
    return q;
}
