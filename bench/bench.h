/* bench.h -- what the C harnesses share: the repetition loop and helpers.
 *
 * Every timed case prints one line per repetition, "SIZE<TAB>SECONDS", on
 * standard output; bench/bench.sh tags the lines with side and workload.
 * Repetitions: untimed calls, at least BENCH_WARMUP and more until
 * BENCH_WARMUP_TIME seconds are spent (this machine runs the first tenth
 * of a second of a process's work about twice as slowly, whatever the
 * work), then at least BENCH_MIN_REPS timed ones and more until
 * BENCH_MIN_TIME seconds are spent, at most BENCH_MAX_REPS
 * (bench/timing.py does the same for the references). */
#ifndef BENCH_H
#define BENCH_H

#include "tg.h"
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static inline double env_num(const char *name, double dflt)
{
    const char *s = getenv(name);
    return s && *s ? atof(s) : dflt;
}

static inline void die_tg(const char *what)
{
    fprintf(stderr, "bench: %s: %s\n", what, tg_errmsg());
    exit(1);
}

/* Runs f(ctx) as described above; f returns false on failure. */
static inline void bench_run(const char *size, bool (*f)(void *), void *ctx)
{
    int warm = (int)env_num("BENCH_WARMUP", 2), minr = (int)env_num("BENCH_MIN_REPS", 3);
    int maxr = (int)env_num("BENCH_MAX_REPS", 100);
    double mint = env_num("BENCH_MIN_TIME", 0.3), total = 0, warm_time = env_num("BENCH_WARMUP_TIME", 0.2);
    double w0 = tg_now();
    for (int i = 0; i < warm || (tg_now() - w0 < warm_time && i < 1000); i++)
        if (!f(ctx))
            die_tg(size);
    for (int r = 0; r < maxr && (r < minr || total < mint); r++) {
        double t0 = tg_now();
        if (!f(ctx))
            die_tg(size);
        double dt = tg_now() - t0;
        total += dt;
        printf("%s\t%.9f\n", size, dt);
    }
    fflush(stdout);
}

/* "1e6" or "1000000" */
static inline int64_t parse_count(const char *s) { return (int64_t)(strtod(s, NULL) + 0.5); }

/* resident set size now (VmRSS) and at its peak (getrusage), in kB */
static inline long rss_now_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

static inline long rss_peak_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

#endif
