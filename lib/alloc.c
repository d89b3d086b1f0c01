/* alloc.c -- the checked allocator, with a failure-injection hook for tests. */
#include "tg.h"
#include <stdlib.h>
#include <unistd.h>

static long fail_countdown = -1; /* -1: never fail */
static bool fail_env_read;

void tg_alloc_fail_after(long n) { fail_countdown = n > 0 ? n : -1; fail_env_read = true; }

static bool should_fail(void)
{
    if (!fail_env_read) {
        fail_env_read = true;
        const char *e = getenv("TG_FAIL_ALLOC");
        if (e && atol(e) > 0)
            fail_countdown = atol(e);
    }
    if (fail_countdown < 0)
        return false;
    return --fail_countdown == 0;
}

/* Refuse sizes beyond physical memory up front: Linux overcommits, so a huge
 * malloc "succeeds" and the OOM killer ends the process later. */
static bool too_big(size_t n)
{
    static size_t phys;
    if (!phys) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        phys = (pages > 0 && psz > 0) ? (size_t)pages * (size_t)psz : (size_t)1 << 40;
    }
    return n > phys;
}

void *tg_malloc(size_t n)
{
    if (too_big(n)) {
        tg_error(TG_ERESOURCE, "out of memory: %zu bytes requested, more than this machine has", n);
        return NULL;
    }
    void *p = should_fail() ? NULL : malloc(n ? n : 1);
    if (!p)
        tg_error(TG_ERESOURCE, "out of memory (allocating %zu bytes)", n);
    return p;
}

void *tg_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) {
        tg_error(TG_ERESOURCE, "out of memory: size overflows");
        return NULL;
    }
    size_t n = count * size;
    if (too_big(n)) {
        tg_error(TG_ERESOURCE, "out of memory: %zu bytes requested, more than this machine has", n);
        return NULL;
    }
    void *p = should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
    if (!p)
        tg_error(TG_ERESOURCE, "out of memory (allocating %zu bytes)", n);
    return p;
}

void *tg_realloc(void *old, size_t n)
{
    if (too_big(n)) {
        tg_error(TG_ERESOURCE, "out of memory: %zu bytes requested, more than this machine has", n);
        return NULL;
    }
    void *p = should_fail() ? NULL : realloc(old, n ? n : 1);
    if (!p)
        tg_error(TG_ERESOURCE, "out of memory (allocating %zu bytes)", n);
    return p;
}

void tg_free(void *p) { free(p); }

bool tg_mul_overflows(int64_t a, int64_t b, int64_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}
