/* PKMALLOC_CHECK=1: every free, realloc and malloc_usable_size first checks its pointer,
 * and aborts with a message naming the call, as glibc's "free(): double free detected"
 * does, when the pointer is not a live block of this allocator.
 *
 * - A small block's segment must be one of ours and its span in use, and the pointer at a
 *   block's start (or inside a block handed out by memalign).
 * - A freed small block carries a mark in its second word (a constant mixed with its
 *   address); every allocation clears it, so a block freed twice shows the mark.
 * - A huge block must be on the list of live huge blocks, which the check keeps.
 * The checks cost a lock and a walk of the segments per call: a debugging mode. */
#include "internal.h"

PK_INTERNAL atomic_int g_check; /* set once, at the first allocation; read relaxed (a plain load) */

static _pk_segment_t *g_huge_live; /* live huge blocks, by their ``next`` (g_huge_lock) */

#define PK_FREED_MARK 0x6672656564706b21ull /* "freedpk!" */

static inline uint64_t _pk_freed_mark(const void *block) { return PK_FREED_MARK ^ (uint64_t)(uintptr_t)block; }

static void _pk_check_fail(const char *call, const char *problem, const void *p) {
    char text[256];
    int n = snprintf(text, sizeof text, "pkmalloc: %s(): %s (%p)\n", call, problem, p);
    if (n > 0) (void)!write(STDERR_FILENO, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    abort();
}

PK_INTERNAL void _pk_check_huge_born(_pk_segment_t *segment) {
    pthread_mutex_lock(&g_huge_lock);
    segment->next = g_huge_live;
    g_huge_live = segment;
    pthread_mutex_unlock(&g_huge_lock);
}

/* A live huge block moved by realloc (g_huge_lock held): the list names its new header. */
PK_INTERNAL void _pk_check_huge_moved(_pk_segment_t *from, _pk_segment_t *to) {
    _pk_segment_t **link = &g_huge_live;
    while (*link != NULL && *link != from) link = &(*link)->next;
    if (*link != NULL) *link = to; /* ``to`` kept ``from``'s next: the pages moved with it */
}

static int _pk_check_huge_dies(_pk_segment_t *segment) {
    pthread_mutex_lock(&g_huge_lock);
    _pk_segment_t **link = &g_huge_live;
    while (*link != NULL && *link != segment) link = &(*link)->next;
    int found = *link != NULL;
    if (found) *link = segment->next;
    pthread_mutex_unlock(&g_huge_lock);
    return found;
}

static int _pk_check_huge_live(const _pk_segment_t *segment) {
    pthread_mutex_lock(&g_huge_lock);
    const _pk_segment_t *s = g_huge_live;
    while (s != NULL && s != segment) s = s->next;
    pthread_mutex_unlock(&g_huge_lock);
    return s != NULL;
}

/* The problem with ``p``, in one of our segments, as a small block; NULL when it is one. */
static const char *_pk_check_small(const void *p) {
    _pk_segment_t *segment = _pk_segment_of_block(p);
    _pk_page_t *page = _pk_page_of(segment, p);
    if ((size_t)(page - segment->pages) < 1 || page->block_size == 0) return "invalid pointer (not in use)";
    uint8_t *start = _pk_page_start(page);
    size_t offset = (size_t)((const uint8_t *)p - start);
    if (offset >= (size_t)page->capacity * page->block_size) return "invalid pointer (never handed out)";
    if (offset % page->block_size != 0 && !__atomic_load_n(&page->has_aligned, __ATOMIC_RELAXED))
        return "invalid pointer (inside a block)";
    return NULL;
}

/* Check ``p`` (not NULL) for ``call``; with ``freeing``, mark it freed. Aborts on a problem. */
PK_INTERNAL void _pk_check_pointer(const void *p, const char *call, int freeing) {
    _pk_segment_t *segment = _pk_segment_of_block(p);
    if (_pk_segment_known(segment)) {
        const char *problem = _pk_check_small(p);
        if (problem != NULL) _pk_check_fail(call, problem, p);
        _pk_page_t *page = _pk_page_of(segment, p);
        uint64_t *words = (uint64_t *)_pk_block_start(page, (void *)p);
        uint64_t mark = 0;
        __atomic_load(&words[1], &mark, __ATOMIC_RELAXED);
        if (mark == _pk_freed_mark(words)) _pk_check_fail(call, freeing ? "double free detected" : "pointer already freed", p);
        if (freeing) __atomic_store_n(&words[1], _pk_freed_mark(words), __ATOMIC_RELAXED);
        return;
    }
    if (freeing ? !_pk_check_huge_dies(segment) : !_pk_check_huge_live(segment))
        _pk_check_fail(call, "invalid pointer or double free detected", p);
}

/* A small block handed out: its freed mark goes. */
PK_INTERNAL void _pk_check_born(void *block) { ((uint64_t *)block)[1] = 0; }
