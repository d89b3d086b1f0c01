/* alloc.c -- the checked allocator, with a failure-injection hook for tests. */
#include "core/core.h"
#include <malloc.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
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

bool tg_alloc_injected_failure(void)
{
    if (!should_fail())
        return false;
    tg_error(TG_ERESOURCE, "out of memory (allocating a tensor)");
    return true;
}

/* The memory this process may use: the machine's physical memory, or the
 * address-space limit (ulimit -v, RLIMIT_AS) when that is lower. */
uint64_t tg_memory_limit(void)
{
    static uint64_t limit;
    if (!limit) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        limit = (pages > 0 && psz > 0) ? (uint64_t)pages * (uint64_t)psz : (uint64_t)1 << 40;
        struct rlimit rl;
        if (!getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY && (uint64_t)rl.rlim_cur < limit)
            limit = rl.rlim_cur;
    }
    return limit;
}

bool tg_memory_limited(void)
{
    struct rlimit rl;
    return !getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY;
}

void tg_format_bytes(char *buf, size_t n, double bytes)
{
    static const char *const units[] = {"bytes", "kB", "MB", "GB", "TB", "PB", "EB"};
    int u = 0;
    while (bytes >= 1000 && u < 6) {
        bytes /= 1000;
        u++;
    }
    snprintf(buf, n, u ? "%.3g %s" : "%.0f %s", bytes, units[u]);
}

tg_status tg_check_fits(double bytes, const char *what)
{
    uint64_t limit = tg_memory_limit();
    if (bytes <= (double)limit)
        return TG_OK;
    char need[32], have[32];
    tg_format_bytes(need, sizeof need, bytes);
    tg_format_bytes(have, sizeof have, (double)limit);
    return tg_error(TG_ERESOURCE, "out of memory: %s = %s, more than the %s this process may use (%s)",
                    what, need, have, tg_memory_limited() ? "its ulimit -v" : "the machine's memory");
}

/* Refuse sizes beyond that up front: Linux overcommits, so a huge malloc
 * "succeeds" and the OOM killer ends the process later.  Sets the error. */
static bool too_big(size_t n)
{
    if ((uint64_t)n <= tg_memory_limit())
        return false;
    char what[64];
    snprintf(what, sizeof what, "%zu bytes requested", n);
    tg_check_fits((double)n, what);
    return true;
}

/* Large blocks (tensor data) are kept for reuse when freed: a fresh block
 * from the kernel costs a page fault per 4 KiB, which for a chain of
 * elementwise ops over large tensors costs more than the arithmetic.  A
 * freed large block goes to a small cache; an allocation takes a cached
 * block when one is big enough and not more than twice the size. */
#define LARGE ((size_t)1 << 20)
#define NLIVE 256
#define NCACHE 32
/* per thread: a block freed by another thread is simply freed */
static _Thread_local struct { void *p; size_t n; } live[NLIVE], cache[NCACHE];
static _Thread_local int nlive, ncache;

static void *cache_take(size_t n)
{
    int best = -1;
    for (int i = 0; i < ncache; i++)
        if (cache[i].n >= n && cache[i].n / 2 <= n && (best < 0 || cache[i].n < cache[best].n))
            best = i;
    if (best < 0)
        return NULL;
    void *p = cache[best].p;
    size_t sz = cache[best].n;
    cache[best] = cache[--ncache];
    if (nlive < NLIVE) {
        live[nlive].p = p;
        live[nlive++].n = sz;
    }
    return p;
}

static void remember(void *p, size_t n)
{
    if (p && n >= LARGE && nlive < NLIVE) {
        live[nlive].p = p;
        live[nlive++].n = n;
    }
}

/* true when p was a live large block, now cached (or freed) */
static bool cache_put(void *p)
{
    for (int i = 0; i < nlive; i++)
        if (live[i].p == p) {
            size_t n = live[i].n;
            live[i] = live[--nlive];
            if (ncache == NCACHE) { /* evict the oldest */
                free(cache[0].p);
                cache[0] = cache[--ncache];
            }
            cache[ncache].p = p;
            cache[ncache++].n = n;
            return true;
        }
    return false;
}

/* gives the cached blocks back (at exit, and before a large allocation
 * would fail) */
void tg_alloc_trim(void)
{
    for (int i = 0; i < ncache; i++)
        free(cache[i].p);
    ncache = 0;
}

/* glibc gives blocks above 128 KiB back to the kernel when freed, so each
 * op's output of a mid-size tensor page-faults again: keep them in the heap
 * (up to glibc's 32 MiB mmap ceiling; larger ones go through the cache). */
static void tune_malloc(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

/* A fresh block of tensor data from the kernel costs a page fault per
 * 4 KiB touched, more than the arithmetic on it for a single pass (a
 * whole tgrad or tbroadcast run over 10^7 elements spent most of its time
 * in 30,000 faults): where the kernel allows transparent huge pages on
 * request (/sys/kernel/mm/transparent_hugepage/enabled: madvise), ask for
 * them over the block's whole 2 MiB pages, as NumPy does for its arrays
 * from 4 MiB.  Advice only: nothing changes where it is refused. */
#define HUGE_FROM ((size_t)4 << 20)
#define HUGE_PAGE ((uintptr_t)2 << 20)
static void advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    uintptr_t from = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1), to = ((uintptr_t)p + n) & ~(HUGE_PAGE - 1);
    if (to > from)
        madvise((void *)from, to - from, MADV_HUGEPAGE);
#else
    (void)p, (void)n;
#endif
}

void *tg_malloc(size_t n)
{
    tune_malloc();
    if (n >= LARGE && !should_fail()) {
        void *p = cache_take(n);
        if (p)
            return p;
    } else if (n >= LARGE) {
        tg_error(TG_ERESOURCE, "out of memory (allocating %zu bytes)", n);
        return NULL;
    }
    if (too_big(n))
        return NULL;
    void *p = n >= LARGE ? malloc(n) : should_fail() ? NULL : malloc(n ? n : 1);
    if (!p && n >= LARGE) {
        tg_alloc_trim();
        p = malloc(n);
    }
    if (!p)
        tg_error(TG_ERESOURCE, "out of memory (allocating %zu bytes)", n);
    else if (n >= HUGE_FROM)
        advise_huge(p, n);
    remember(p, n);
    return p;
}

void *tg_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) {
        tg_error(TG_ERESOURCE, "out of memory: size overflows");
        return NULL;
    }
    size_t n = count * size;
    if (too_big(n))
        return NULL;
    void *p = should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
    if (!p)
        tg_error(TG_ERESOURCE, "out of memory (allocating %zu bytes)", n);
    return p;
}

void *tg_realloc(void *old, size_t n)
{
    size_t old_n = 0;
    for (int i = 0; old && i < nlive; i++)
        if (live[i].p == old) { /* a large block may move: it leaves the registry */
            old_n = live[i].n;
            live[i] = live[--nlive];
            break;
        }
    if (too_big(n))
        return NULL;
    void *p = should_fail() ? NULL : realloc(old, n ? n : 1);
    if (!p) {
        tg_error(TG_ERESOURCE, "out of memory (allocating %zu bytes)", n);
        remember(old, old_n); /* still valid, still ours */
    } else
        remember(p, n);
    return p;
}

void tg_free(void *p)
{
    if (p && !cache_put(p))
        free(p);
}

bool tg_mul_overflows(int64_t a, int64_t b, int64_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}
