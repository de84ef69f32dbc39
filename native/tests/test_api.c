/* The malloc API and its glibc edge cases. Built twice: linked with pkmalloc, and plain
 * (glibc's malloc), so every expectation here is checked against glibc as well. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pkmalloc.h" /* with -DPK_DIRECT: the pk_ names */

static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                              \
        }                                                                            \
    } while (0)

/* Called through volatile pointers, so the compiler's own checks of impossible sizes and
 * of pointers used after a (failed) realloc do not reject the edge cases under test. */
static void *(*volatile do_malloc)(size_t) = malloc;
static void *(*volatile do_calloc)(size_t, size_t) = calloc;
static void *(*volatile do_realloc)(void *, size_t) = realloc;
static void *(*volatile do_reallocarray)(void *, size_t, size_t) = reallocarray;

static int aligned(const void *p, size_t alignment) { return ((uintptr_t)p % alignment) == 0; }

static void fill(unsigned char *p, size_t n, unsigned char seed) {
    for (size_t i = 0; i < n; ++i) p[i] = (unsigned char)(seed + i * 31u);
}

static int intact(const unsigned char *p, size_t n, unsigned char seed) {
    for (size_t i = 0; i < n; ++i)
        if (p[i] != (unsigned char)(seed + i * 31u)) return 0;
    return 1;
}

static void test_malloc_sizes(void) {
    void *zero_a = malloc(0), *zero_b = malloc(0);
    CHECK(zero_a != NULL && zero_b != NULL && zero_a != zero_b);
    free(zero_a);
    free(zero_b);
    static const size_t sizes[] = {1, 7, 16, 17, 100, 128, 129, 1000, 4096, 5000, 65536,
                                   100000, 262144, 262145, 1 << 20, 5u << 20, 25u << 20};
    void *blocks[sizeof sizes / sizeof sizes[0]];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
        blocks[i] = malloc(sizes[i]);
        CHECK(blocks[i] != NULL);
        CHECK(aligned(blocks[i], 16));
        CHECK(malloc_usable_size(blocks[i]) >= sizes[i]);
        fill(blocks[i], sizes[i], (unsigned char)i);
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
        CHECK(intact(blocks[i], sizes[i], (unsigned char)i));
        free(blocks[i]);
    }
    errno = 0;
    CHECK(do_malloc(SIZE_MAX) == NULL);
    CHECK(errno == ENOMEM);
    errno = 0;
    CHECK(do_malloc(SIZE_MAX / 2) == NULL);
    CHECK(errno == ENOMEM);
    free(NULL);
    CHECK(malloc_usable_size(NULL) == 0);
}

static void test_calloc(void) {
    for (size_t n = 8; n <= (8u << 20); n *= 4) {
        unsigned char *dirty = malloc(n);
        CHECK(dirty != NULL);
        memset(dirty, 0xAB, n);
        free(dirty);
        unsigned char *p = calloc(n, 1);
        CHECK(p != NULL);
        size_t nonzero = 0;
        for (size_t i = 0; i < n; ++i) nonzero += p[i] != 0;
        CHECK(nonzero == 0);
        free(p);
    }
    void *z = calloc(0, 10);
    CHECK(z != NULL);
    free(z);
    errno = 0;
    CHECK(do_calloc(SIZE_MAX / 2, 3) == NULL);
    CHECK(errno == ENOMEM);
}

static void test_realloc(void) {
    unsigned char *p = realloc(NULL, 40);
    CHECK(p != NULL);
    fill(p, 40, 3);
    static const size_t steps[] = {100, 5000, 300000, 30u << 20, 1000, 24, 200000};
    size_t have = 40;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; ++i) {
        size_t keep = have < steps[i] ? have : steps[i];
        unsigned char *q = do_realloc(p, steps[i]);
        CHECK(q != NULL);
        CHECK(intact(q, keep, 3));
        fill(q, steps[i], 3);
        p = q;
        have = steps[i];
    }
    errno = 0;
    CHECK(do_realloc(p, SIZE_MAX) == NULL);
    CHECK(errno == ENOMEM);
    CHECK(intact(p, have, 3)); /* a failed realloc leaves the block alone */
    CHECK(do_realloc(p, 0) == NULL); /* glibc: frees the block, returns NULL */
    void *r = reallocarray(NULL, 10, 10);
    CHECK(r != NULL);
    errno = 0;
    CHECK(do_reallocarray(r, SIZE_MAX / 2, 3) == NULL);
    CHECK(errno == ENOMEM);
    free(r);
}

/* A huge block that cannot grow where it lies (a page is mapped right after it) still
 * grows, its contents kept: pkmalloc moves its pages (MREMAP_MAYMOVE), glibc too. */
static void test_realloc_moves_a_huge_block(void) {
    size_t size = 5u << 20, page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *p = malloc(size);
    CHECK(p != NULL);
    fill(p, size, 5);
    uintptr_t end = ((uintptr_t)p + malloc_usable_size(p) + page - 1) & ~(uintptr_t)(page - 1);
    void *guard = mmap((void *)end, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    unsigned char *q = realloc(p, 9 * size);
    CHECK(q != NULL && q != p); /* it moved */
    CHECK(intact(q, size, 5));
    fill(q, 9 * size, 6);
    CHECK(intact(q, 9 * size, 6));
    free(q);
    if (guard != MAP_FAILED) munmap(guard, page);
}

static void test_alignment(void) {
    void *p = (void *)1;
    CHECK(posix_memalign(&p, 0, 8) == EINVAL);
    CHECK(posix_memalign(&p, 24, 8) == EINVAL);
    CHECK(posix_memalign(&p, 4, 8) == EINVAL); /* not a multiple of sizeof(void *) */
    CHECK(p == (void *)1);                     /* untouched on error */
    static const size_t sizes[] = {0, 1, 24, 100, 3000, 70000, 300000, 3u << 20};
    for (size_t alignment = sizeof(void *); alignment <= 65536; alignment *= 2) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
            int saved = errno = 77;
            void *q = NULL;
            CHECK(posix_memalign(&q, alignment, sizes[i]) == 0);
            CHECK(errno == saved);
            CHECK(q != NULL && aligned(q, alignment));
            CHECK(malloc_usable_size(q) >= sizes[i]);
            fill(q, sizes[i], (unsigned char)alignment);
            void *r = aligned_alloc(alignment, sizes[i] ? sizes[i] : 1);
            CHECK(r != NULL && aligned(r, alignment));
            void *m = memalign(alignment, sizes[i]);
            CHECK(m != NULL && aligned(m, alignment));
            CHECK(intact(q, sizes[i], (unsigned char)alignment));
            free(q);
            free(r);
            free(m);
        }
    }
    /* Alignments of a segment (4 MiB) and more, as glibc serves them; such a block grows,
     * shrinks and is freed like any other. */
    for (size_t alignment = (size_t)4 << 20; alignment <= (size_t)32 << 20; alignment *= 2) {
        static const size_t big_sizes[] = {1, 100, 5u << 20};
        for (size_t i = 0; i < sizeof big_sizes / sizeof big_sizes[0]; ++i) {
            void *q = NULL;
            CHECK(posix_memalign(&q, alignment, big_sizes[i]) == 0);
            CHECK(q != NULL && aligned(q, alignment));
            CHECK(malloc_usable_size(q) >= big_sizes[i]);
            fill(q, big_sizes[i], 91);
            void *m = aligned_alloc(alignment, big_sizes[i]);
            CHECK(m != NULL && aligned(m, alignment));
            q = realloc(q, big_sizes[i] + (3u << 20));
            CHECK(q != NULL && intact(q, big_sizes[i], 91));
            free(q);
            free(m);
        }
    }
    void *odd = memalign(48, 10); /* glibc rounds a non-power-of-two alignment up */
    CHECK(odd != NULL && aligned(odd, 64));
    free(odd);
    long page = sysconf(_SC_PAGESIZE);
    void *v = valloc(10);
    CHECK(v != NULL && aligned(v, (size_t)page));
    free(v);
    void *pv = pvalloc(10);
    CHECK(pv != NULL && aligned(pv, (size_t)page));
    CHECK(malloc_usable_size(pv) >= (size_t)page);
    free(pv);
}

static void test_free_keeps_errno(void) {
    void *small = malloc(10), *huge = malloc(40u << 20);
    errno = 1234;
    free(small);
    free(huge);
    CHECK(errno == 1234);
}

int main(void) {
    test_malloc_sizes();
    test_calloc();
    test_realloc();
    test_realloc_moves_a_huge_block();
    test_alignment();
    test_free_keeps_errno();
#if defined(PK_LINKED) || defined(PK_DIRECT)
    /* The calls above reached pkmalloc, not glibc: it holds memory from the OS. */
    void *probe = malloc(100);
    CHECK(pk_stats_mapped() > 0);
    CHECK(malloc_usable_size(probe) == 112); /* pkmalloc's size class; glibc says 104 */
    free(probe);
#endif
    if (failures) {
        fprintf(stderr, "test_api: %d checks failed\n", failures);
        return 1;
    }
    puts("test_api: ok");
    return 0;
}
