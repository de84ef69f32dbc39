/* One-time set-up (the size-class tables, the thread-exit key) and the fork handlers. */
#include "internal.h"

PK_INTERNAL pthread_once_t g_once = PTHREAD_ONCE_INIT;
PK_INTERNAL pthread_key_t g_key; /* its destructor gives up the heap at thread exit */
static atomic_int g_atfork_registered;
PK_INTERNAL uint32_t g_class_size[PK_CLASSES];
PK_INTERNAL uint32_t g_class_pages[PK_CLASSES];
/* The class of sizes up to PK_SMALL_DIRECT, by (size + 15) / 16: constant, because a
 * thread's first malloc reads it before any set-up (_pk_init checks it against
 * _pk_class_of in the debug build). */
PK_INTERNAL const uint8_t g_small_class[PK_SMALL_DIRECT / 16 + 1] = {
    0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 10, 10, 11,
    11, 12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15,
    15, 16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17,
    17, 18, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19,
    19,
};

PK_INTERNAL void _pk_init(void) {
    unsigned c = 0;
    for (uint32_t size = 16; size <= 128; size += 16) g_class_size[c++] = size;
    for (uint32_t base = 128; c < PK_CLASSES; base *= 2)
        for (uint32_t step = 1; step <= 4 && c < PK_CLASSES; ++step) g_class_size[c++] = base + step * base / 4;
    for (c = 0; c < PK_CLASSES; ++c) {
        size_t blocks = g_class_size[c] >= PK_LARGE_BLOCK ? 1 : PK_MIN_SPAN_BLOCKS;
        size_t bytes = (size_t)g_class_size[c] * blocks;
        size_t pages = (bytes + PK_PAGE_SIZE - 1) / PK_PAGE_SIZE;
        if (pages > PK_MAX_SPAN_PAGES) pages = PK_MAX_SPAN_PAGES;
        g_class_pages[c] = (uint32_t)(pages ? pages : 1);
    }
    for (unsigned i = 0; i <= PK_SMALL_DIRECT / 16; ++i) PK_ASSERT(g_small_class[i] == _pk_class_of(i * 16));
    pthread_key_create(&g_key, _pk_thread_exit);
    const char *check = getenv("PKMALLOC_CHECK"); /* getenv does not allocate */
    atomic_store_explicit(&g_check, check != NULL && check[0] == '1', memory_order_relaxed);
}

/* Every lock, in one fixed order, across a fork: the child starts with none held. */
static void _pk_atfork_prepare(void) {
    pthread_mutex_lock(&g_heap_lock);
    pthread_mutex_lock(&g_abandon_lock);
    pthread_mutex_lock(&g_span_lock);
    while (g_span_purging) { /* pages out of the bitmaps: let the purge put them back */
        pthread_mutex_unlock(&g_span_lock);
        sched_yield();
        pthread_mutex_lock(&g_span_lock);
    }
    pthread_mutex_lock(&g_huge_lock);
}

static void _pk_atfork_parent(void) {
    pthread_mutex_unlock(&g_huge_lock);
    pthread_mutex_unlock(&g_span_lock);
    pthread_mutex_unlock(&g_abandon_lock);
    pthread_mutex_unlock(&g_heap_lock);
}

static void _pk_atfork_child(void) {
    pthread_mutex_init(&g_heap_lock, NULL);
    pthread_mutex_init(&g_abandon_lock, NULL);
    pthread_mutex_init(&g_span_lock, NULL);
    pthread_mutex_init(&g_huge_lock, NULL);
}

/* The fork handlers must be in place before a second thread can hold a lock: a fork that
 * found another thread inside the lock would leave the child's lock held forever. The
 * library's constructor registers them while the process is still single-threaded (the
 * rest of the set-up stays lazy); the first heap registers them instead when malloc runs
 * before constructors do. */
PK_INTERNAL void _pk_register_atfork(void) {
    if (!atomic_exchange(&g_atfork_registered, 1))
        pthread_atfork(_pk_atfork_prepare, _pk_atfork_parent, _pk_atfork_child);
}

__attribute__((constructor)) static void _pk_load(void) {
    _pk_register_atfork();
    _pk_stats_init(); /* here, not in _pk_init: atexit may allocate */
}

#ifdef PK_DEBUG
/* A broken invariant in the debug build: say which and where, then abort. Written with
 * write(2): the allocator cannot be called from here. */
void _pk_assert_fail(const char *condition, const char *file, int line) {
    char text[512];
    int n = snprintf(text, sizeof text, "pkmalloc: internal assertion failed: %s (%s:%d)\n", condition, file, line);
    if (n > 0) (void)!write(STDERR_FILENO, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    abort();
}
#endif
