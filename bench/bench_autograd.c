/* bench_autograd.c -- in-process autograd timings against lib/libtg.a.
 *
 *   bench_autograd grad EXPR SIZE...   x = randn(SIZE) float32 (seeded); the
 *                                      program is parsed once and
 *                                      tg_grad_eval (value + backward) timed
 *   bench_autograd cgrad EXPR SIZE...  the same through tg_compiled_eval (--compile)
 *   bench_autograd dgrad EXPR SIZE...  the same as tgrad's default path evaluates
 *                                      it: tg_fused_default_eval, else tg_grad_eval
 *   bench_autograd value|cvalue|dvalue EXPR SIZE...
 *                                      the value alone (x needs no gradient): eager,
 *                                      compiled, the default path
 *   bench_autograd net                 sum(tanh(x@w1)@w2), x 256x512,
 *                                      w1 512x512, w2 512x10; grads in w1, w2
 *   bench_autograd peak EXPR SIZE      two evaluations, then "BASE_KB<TAB>PEAK_KB":
 *                                      RSS before x exists, and peak RSS
 *   bench_autograd cpeak EXPR SIZE     the same, compiled
 *   bench_autograd dpeak EXPR SIZE     the same, the default path
 *   bench_autograd node N              memory of a graph node: RSS growth
 *                                      over a chain of N scalar products
 *                                      y = y * 1.0001 (y float32 requiring
 *                                      grad, the number a wrapped literal),
 *                                      divided by N: "N<TAB>BYTES" (N as given)
 *   bench_autograd bandwidth           memory bandwidth (best of memcpy and a
 *                                      streaming add, 1 and BENCH_THREADS
 *                                      threads): "NAME<TAB>GB/s"; and the
 *                                      vectorised tanh rate (the float32
 *                                      tanh kernel over a block in L1, on
 *                                      BENCH_THREADS threads): "tanh_Gps"
 * BENCH_DEVICE=cuda makes the inputs on the GPU (tests/gpu/run.sh).
 * Timings print "SIZE<TAB>SECONDS" per repetition (see bench.h). */
#include "bench.h"
#include "internal.h" /* the tanh kernel itself, for the math rate */
#include <pthread.h>

typedef struct {
    tg_program *prog;
    tg_env env;
    int nvars;
} gcase;

static bool grad_once(void *p)
{
    gcase *c = p;
    tg_tensor *grads[4] = {0};
    tg_grad_opts o = {0};
    tg_tensor *v = tg_grad_eval(c->prog, &c->env, c->nvars, &o, grads);
    for (int i = 0; i < c->nvars; i++)
        tg_release(grads[i]);
    tg_release(v);
    return v != NULL;
}

/* the same through compiled (fused) evaluation */
static bool cgrad_once(void *p)
{
    gcase *c = p;
    tg_tensor *grads[4] = {0}, *v = NULL;
    tg_grad_opts o = {0};
    tg_status st = tg_compiled_eval(c->prog, &c->env, c->nvars, &o, &v, grads);
    for (int i = 0; i < c->nvars; i++)
        tg_release(grads[i]);
    tg_release(v);
    return st == TG_OK;
}

/* the default path's evaluation (tg_run_eval without --compile) */
static bool dgrad_once(void *p)
{
    gcase *c = p;
    tg_tensor *grads[4] = {0}, *v = NULL;
    tg_grad_opts o = {0};
    tg_status st = tg_fused_default_eval(c->prog, &c->env, c->nvars, &o, &v, grads);
    if (st == TG_NO)
        v = tg_grad_eval(c->prog, &c->env, c->nvars, &o, grads);
    for (int i = 0; i < c->nvars; i++)
        tg_release(grads[i]);
    tg_release(v);
    return v != NULL;
}

/* adds a seeded randn input to the case */
static void input(gcase *c, const char *name, int ndim, const int64_t *shape, bool grad)
{
    tg_tensor *t = tg_randn(TG_FLOAT32, ndim, shape);
    if (!t)
        die_tg(name);
    tg_set_requires_grad(t, grad);
    if (tg_env_set(&c->env, name, t) != TG_OK)
        die_tg(name);
    c->nvars++;
}

static gcase setup(const char *expr)
{
    gcase c = {.prog = tg_program_parse(expr)};
    if (!c.prog)
        die_tg(expr);
    tg_seed(1);
    return c;
}

static void done(gcase *c)
{
    tg_env_free(&c->env);
    tg_program_free(c->prog);
}

/* ---- memory bandwidth: memcpy (glibc's, non-temporal stores) and a
 * streaming add c = a + b over 256 MiB arrays split between threads, best of
 * 5 each.  Bytes counted as the floors count them: read + written. */
typedef struct { float *a, *b, *c; size_t n; bool copy; } span;

static void *stream(void *p)
{
    span *s = p;
    if (s->copy)
        memcpy(s->c, s->a, s->n * sizeof *s->a);
    else
        for (size_t i = 0; i < s->n; i++)
            s->c[i] = s->a[i] + s->b[i];
    return NULL;
}

static double bandwidth(int threads, bool copy)
{
    size_t n = (size_t)64 << 20;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    double best = 0;
    for (size_t i = 0; a && b && c && i < n; i++) /* not zeros: zero pages may be shared */
        a[i] = b[i] = c[i] = (float)(i & 1023);
    for (int r = 0; r < 5 && a && b && c; r++) {
        pthread_t th[64];
        span s[64];
        double t0 = tg_now();
        for (int i = 0; i < threads; i++) {
            size_t lo = n * i / threads, hi = n * (i + 1) / threads;
            s[i] = (span){a + lo, b + lo, c + lo, hi - lo, copy};
            pthread_create(&th[i], NULL, stream, &s[i]);
        }
        for (int i = 0; i < threads; i++)
            pthread_join(th[i], NULL);
        double gbs = (copy ? 8.0 : 12.0) * n / (tg_now() - t0) * 1e-9;
        best = gbs > best ? gbs : best;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

/* ---- the vectorised math rate: tanh, the one transcendental function of
 * the benchmarks' programs, evaluated by the library's own float32 kernel
 * (libmvec's vector tanhf) over 2048 elements in L1, on every thread */
typedef struct { float x[2048], y[2048]; } tanh_span;

static void *tanh_loop(void *p)
{
    tanh_span *s = p;
    const void *in[1] = {s->x};
    int64_t st[1] = {1};
    for (int r = 0; r < 2000; r++)
        tg_cpu_kernels[TG_OP_TANH][TG_FLOAT32](2048, s->y, in, st, NULL);
    return NULL;
}

static double tanh_rate(int threads)
{
    tanh_span *s = calloc((size_t)threads, sizeof *s);
    double best = 0;
    for (int t = 0; s && t < threads; t++)
        for (int i = 0; i < 2048; i++)
            s[t].x[i] = (float)(i - 1024) / 256; /* -4 .. 4 */
    for (int r = 0; r < 5 && s; r++) {
        pthread_t th[64];
        double t0 = tg_now();
        for (int i = 0; i < threads; i++)
            pthread_create(&th[i], NULL, tanh_loop, &s[i]);
        for (int i = 0; i < threads; i++)
            pthread_join(th[i], NULL);
        double gps = 2048.0 * 2000 * threads / (tg_now() - t0) * 1e-9;
        best = gps > best ? gps : best;
    }
    free(s);
    return best;
}

/* "node N": bytes of RSS per recorded node, as ref_torch.py's "node" */
static void node_memory(const char *label, int64_t n)
{
    tg_tensor *x = tg_scalar(1, TG_FLOAT32);
    if (!x)
        die_tg("scalar");
    tg_set_requires_grad(x, true);
    long r0 = rss_now_kb();
    tg_tensor *y = tg_ref(x);
    for (int64_t i = 0; i < n && y; i++) {
        tg_tensor *c = tg_scalar(1.0001, TG_FLOAT64);
        if (c)
            c->wrapped_number = true;
        y = tg_mul(y, c);
    }
    if (!y)
        die_tg("node");
    printf("%s\t%.1f\n", label, (double)(rss_now_kb() - r0) * 1024 / (double)n);
    tg_release(y);
    tg_release(x);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    const char *dev = getenv("BENCH_DEVICE"); /* cuda: the inputs, and so the work, on the GPU */
    if (dev && *dev && tg_device_select(dev) != TG_OK)
        die_tg(dev);
    const char *kind = mode[0] == 'c' || mode[0] == 'd' ? mode + 1 : mode; /* grad or value */
    if ((!strcmp(kind, "grad") || !strcmp(kind, "value")) && argc > 3) {
        for (int i = 3; i < argc; i++) {
            gcase c = setup(argv[2]);
            int64_t n = parse_count(argv[i]);
            input(&c, "x", 1, &n, !strcmp(kind, "grad"));
            bench_run(argv[i], mode[0] == 'c' ? cgrad_once : mode[0] == 'd' ? dgrad_once : grad_once, &c);
            done(&c);
        }
    } else if (!strcmp(mode, "net")) {
        gcase c = setup("sum(tanh(x@w1)@w2)");
        input(&c, "x", 2, (int64_t[]){256, 512}, false);
        input(&c, "w1", 2, (int64_t[]){512, 512}, true);
        input(&c, "w2", 2, (int64_t[]){512, 10}, true);
        bench_run("256x512x512x10", grad_once, &c);
        done(&c);
    } else if ((!strcmp(mode, "peak") || !strcmp(mode, "cpeak") || !strcmp(mode, "dpeak")) && argc == 4) {
        long base = rss_now_kb();
        gcase c = setup(argv[2]);
        int64_t n = parse_count(argv[3]);
        input(&c, "x", 1, &n, true);
        bool (*once)(void *) = mode[0] == 'c' ? cgrad_once : mode[0] == 'd' ? dgrad_once : grad_once;
        if (!once(&c) || !once(&c))
            die_tg(argv[2]);
        printf("%ld\t%ld\n", base, rss_peak_kb());
        done(&c);
    } else if (!strcmp(mode, "node") && argc == 3) {
        node_memory(argv[2], parse_count(argv[2]));
    } else if (!strcmp(mode, "bandwidth")) {
        int th = (int)env_num("BENCH_THREADS", 2);
        th = th < 1 ? 1 : th > 64 ? 64 : th;
        double c1 = bandwidth(1, true), s1 = bandwidth(1, false), cn = bandwidth(th, true), sn = bandwidth(th, false);
        double best1 = c1 > s1 ? c1 : s1, bestn = cn > sn ? cn : sn;
        printf("bw_1thread_GBps\t%.2f\nbw_GBps\t%.2f\n", best1, bestn > best1 ? bestn : best1);
        printf("bw_detail\tmemcpy %.1f/%.1f, add %.1f/%.1f GB/s (1/%d threads)\n", c1, cn, s1, sn, th);
        printf("tanh_Gps\t%.3f\n", tanh_rate(th));
    } else {
        fprintf(stderr, "usage: bench_autograd [c|d]grad|[c|d]value EXPR SIZE... | net | [c|d]peak EXPR SIZE | node N | "
                        "bandwidth\n");
        return 2;
    }
    return 0;
}
