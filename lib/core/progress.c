/* progress.c -- progress lines on standard error (progress.h): where
 * they go, how often, and the ticker thread for a call that cannot
 * report from inside. */
#include "core/progress.h"
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static FILE *stream;     /* NULL: nothing shown */
static const char *tool; /* each line's "TOOL: " */
static bool stream_tty;

void tg_progress_setup(FILE *s, const char *name, bool forced)
{
    stream_tty = s && isatty(fileno(s));
    stream = stream_tty || forced ? s : NULL;
    tool = name;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* TG_PROGRESS_INTERVAL_MS in seconds, or -1 when it is not set (or not a
 * number of milliseconds up to an hour) */
static double interval_from_env(void)
{
    const char *s = getenv("TG_PROGRESS_INTERVAL_MS");
    char *end;
    errno = 0;
    long ms = s && *s ? strtol(s, &end, 10) : -1;
    return s && *s && !errno && !*end && ms >= 0 && ms <= 3600000 ? (double)ms / 1000 : -1;
}

void tg_progress_begin(tg_progress *p, double quiet)
{
    double env = interval_from_env();
    *p = (tg_progress){.out = stream, .tty = stream_tty, .start = now()};
    p->every = env >= 0 ? env : stream_tty ? 0.1 : 1.0;
    p->next = p->start + (env >= 0 ? env : quiet);
}

bool tg_progress_due(const tg_progress *p) { return p->out && now() >= p->next; }

double tg_progress_elapsed(const tg_progress *p) { return now() - p->start; }

void tg_progress_show(tg_progress *p, const char *fmt, ...)
{
    if (!p->out)
        return;
    va_list ap;
    va_start(ap, fmt);
    flockfile(p->out);
    fprintf(p->out, "%s%s: ", p->tty ? "\r" : "", tool ? tool : "tg");
    vfprintf(p->out, fmt, ap);
    fputs(p->tty ? "\033[K" : "\n", p->out); /* a terminal: the rest of a longer line before erased */
    fflush(p->out);
    funlockfile(p->out);
    va_end(ap);
    p->open = p->tty;
    p->shown++;
    p->next = now() + p->every;
}

void tg_progress_end(tg_progress *p)
{
    if (p->out && p->open) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    p->open = false;
}

/* ---- the ticker ---- */

struct tg_progress_ticker {
    tg_progress p;
    char *what;
    bool stop;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

static struct timespec monotonic_at(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts = (struct timespec){ts.tv_sec + 1, 0};
    return ts;
}

static void *tick(void *arg)
{
    tg_progress_ticker *t = arg;
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        if (now() >= t->p.next)
            tg_progress_show(&t->p, "%s... %.0fs", t->what, tg_progress_elapsed(&t->p));
        struct timespec until = monotonic_at(t->p.next);
        pthread_cond_timedwait(&t->wake, &t->lock, &until);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static void ticker_free(tg_progress_ticker *t)
{
    free(t->what);
    free(t);
}

tg_progress_ticker *tg_progress_ticker_start(const char *what)
{
    if (!stream)
        return NULL;
    tg_progress_ticker *t = calloc(1, sizeof *t);
    if (!t || !(t->what = strdup(what))) {
        free(t);
        return NULL;
    }
    tg_progress_begin(&t->p, 1.0);
    if (t->p.every < 0.1)
        t->p.every = 0.1; /* (the tests' 0: no busy loop of lines) */
    if (tg_progress_due(&t->p)) /* the first line at once, here: the tests count on it */
        tg_progress_show(&t->p, "%s... %.0fs", t->what, 0.0);
    pthread_condattr_t ca;
    bool made = pthread_condattr_init(&ca) == 0;
    made = made && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&t->wake, &ca) == 0;
    if (made && pthread_mutex_init(&t->lock, NULL) != 0) {
        pthread_cond_destroy(&t->wake);
        made = false;
    }
    pthread_condattr_destroy(&ca);
    if (made && pthread_create(&t->thread, NULL, tick, t) != 0) {
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
        made = false;
    }
    if (!made) {
        tg_progress_end(&t->p);
        ticker_free(t);
        return NULL;
    }
    return t;
}

void tg_progress_ticker_stop(tg_progress_ticker *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    if (t->p.shown)
        tg_progress_show(&t->p, "%s: done in %.1fs", t->what, tg_progress_elapsed(&t->p));
    tg_progress_end(&t->p);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    ticker_free(t);
}
