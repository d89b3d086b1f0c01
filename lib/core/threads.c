/* threads.c -- a small pool of worker threads for the elementwise loops,
 * the sums and compiled evaluation.
 *
 * Why not OpenMP: its runtime spins while it waits, and reads its wait
 * policy only at start-up, so on a machine where another process holds a
 * core every parallel region could wait a whole scheduler slice.  Here the
 * workers spin only briefly, then sleep on a condition variable; items are
 * handed out one at a time from a shared counter (the calling thread works
 * too, so an item is never waiting for a sleeping worker unless that worker
 * took it), and the pool is started on first use only: a scalar expression
 * starts no thread.
 * Each item writes its own part of the output, so results do not depend on
 * the number of threads.  TG_NUM_THREADS (else OMP_NUM_THREADS) sets it. */
#include "core/core.h"
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, finished = PTHREAD_COND_INITIALIZER;
static int nthreads = -1; /* including the caller */
static int nworkers;
static uint64_t generation;

/* the current job; next is the shared item counter */
static tg_task_fn job_fn;
static void *job_ctx;
static int64_t job_items;
static int64_t job_next, job_done;

int tg_threads(void)
{
    if (nthreads < 0) {
        const char *e = getenv("TG_NUM_THREADS");
        if (!e || !*e)
            e = getenv("OMP_NUM_THREADS");
        long n = e && *e ? atol(e) : sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
    }
    return nthreads;
}

/* takes items until none is left; returns how many it ran */
static int64_t work(int tid)
{
    int64_t ran = 0;
    for (;;) {
        int64_t i = __atomic_fetch_add(&job_next, 1, __ATOMIC_ACQ_REL);
        if (i >= __atomic_load_n(&job_items, __ATOMIC_ACQUIRE))
            break;
        job_fn(i, job_ctx, tid);
        ran++;
    }
    return ran;
}

static void finish(int64_t ran)
{
    if (ran && __atomic_add_fetch(&job_done, ran, __ATOMIC_ACQ_REL) == __atomic_load_n(&job_items, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&mu);
        pthread_cond_broadcast(&finished);
        pthread_mutex_unlock(&mu);
    }
}

/* Before sleeping, a thread waits this many pause instructions (tens of
 * microseconds) for what it waits for: the ops of a graph come one after
 * another, and a wake-up through the kernel can cost as much as a small
 * op.  Bounded, so that a busy machine loses little to it. */
#define SPIN 4000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static bool spin_until_changed(const uint64_t *v, uint64_t old)
{
    for (int i = 0; i < SPIN; i++) {
        if (__atomic_load_n(v, __ATOMIC_ACQUIRE) != old)
            return true;
        cpu_relax();
    }
    return false;
}

static void *worker(void *arg)
{
    int tid = (int)(intptr_t)arg;
    uint64_t seen = 0;
    for (;;) {
        if (!spin_until_changed(&generation, seen)) {
            pthread_mutex_lock(&mu);
            while (__atomic_load_n(&generation, __ATOMIC_ACQUIRE) == seen)
                pthread_cond_wait(&wake, &mu);
            pthread_mutex_unlock(&mu);
        }
        seen = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
        finish(work(tid));
    }
    return NULL;
}

static void start_pool(void)
{
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    /* under ulimit -v each worker's stack (8 MiB by default) counts
     * against the address space: the loops need little */
    if (tg_memory_limited())
        pthread_attr_setstacksize(&at, (size_t)1 << 20);
    for (int t = 1; t < tg_threads(); t++) {
        pthread_t th;
        if (pthread_create(&th, &at, worker, (void *)(intptr_t)t) != 0)
            break; /* fewer threads: the work still gets done */
        nworkers++;
    }
    pthread_attr_destroy(&at);
}

void tg_parallel_for(int64_t items, tg_task_fn fn, void *ctx)
{
    static bool started;
    static pthread_mutex_t one_job = PTHREAD_MUTEX_INITIALIZER;
    if (items <= 0)
        return;
    if (items == 1 || tg_threads() == 1 || pthread_mutex_trylock(&one_job) != 0) {
        /* one item, one thread, or a job already running (a nested call
         * from compiled evaluation's blocks): run here */
        for (int64_t i = 0; i < items; i++)
            fn(i, ctx, 0);
        return;
    }
    if (!started) {
        started = true;
        start_pool();
    }
    /* publish the job: the counter is parked past any item while the fields
     * change, so a worker still in the last job's loop takes nothing */
    __atomic_store_n(&job_next, INT64_MAX / 2, __ATOMIC_RELEASE);
    job_fn = fn;
    job_ctx = ctx;
    __atomic_store_n(&job_done, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&job_items, items, __ATOMIC_RELEASE);
    __atomic_store_n(&job_next, 0, __ATOMIC_RELEASE);
    pthread_mutex_lock(&mu);
    __atomic_add_fetch(&generation, 1, __ATOMIC_ACQ_REL);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);
    finish(work(0));
    for (int i = 0; i < SPIN && __atomic_load_n(&job_done, __ATOMIC_ACQUIRE) < items; i++)
        cpu_relax(); /* the last items are usually about to finish */
    pthread_mutex_lock(&mu);
    while (__atomic_load_n(&job_done, __ATOMIC_ACQUIRE) < items)
        pthread_cond_wait(&finished, &mu);
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&one_job);
}
