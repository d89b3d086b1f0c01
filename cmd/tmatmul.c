/* tmatmul -- A @ B with torch.matmul's rules (tmatmul(1)).
 *   tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]'   ->   [[19,22],[43,50]]  */
#include "tg.h"
#include "cli/cli.h"
#include "core/progress.h"
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define TOOL "tmatmul"

static const char usage[] =
    "usage: tmatmul A B [--ta] [--tb] [--grad] [--grad-output G] [--dtype DTYPE]\n"
    "               [--threads N] [--time] [--repeat N] [--device DEV] [-o FILE] [--pretty] [--typed] [--progress]\n"
    "               [--help] [--version]\n"
    "Prints A @ B (torch.matmul: 1-D dot, 2-D product, batched with broadcast batch dims).\n"
    "A, B and G are JSON, .npy or .json files, or - for standard input.\n"
    "  --ta, --tb          use A.mT / B.mT (the last two dims swapped; handed to BLAS as a transpose)\n"
    "  --grad              print {\"value\":A@B,\"grad\":{\"a\":dA,\"b\":dB}} for L = sum(A@B)\n"
    "  --grad-output G     the upstream gradient dL/d(A@B) instead of ones (implies --grad)\n"
    "  --dtype DTYPE       convert A and B to float32, float64 or int64 first\n"
    "  --threads N         OpenBLAS threads (default: OPENBLAS_NUM_THREADS, else all cores)\n"
    "  --time              print the product's time, GFLOP/s and thread count to standard error\n"
    "  --repeat N          compute the product N times (--time: the fastest; the first pays for set-up)\n"
    "  --device DEV        cpu, cuda or auto\n"
    "  -o, --out FILE      write the result to FILE (.npy or .json; - is stdout) instead of\n"
    "                      printing it (--grad: the object names the file)\n"
    "  --pretty            indent the --grad object\n"
    "  --typed             print each tensor as {\"data\":...,\"shape\":...,\"dtype\":...}\n"
    "  --progress          \"working...\" lines on standard error for a product over a second, also when\n"
    "                      standard error is not a terminal\n"
    "See tmatmul(1).\n";

typedef struct {
    const char *a, *b, *grad_output, *out;
    bool ta, tb, grad, time, pretty, progress;
    int dtype; /* -1: as given */
    int repeat;
} options;

static tg_tensor *load(const char *arg, int dtype, bool grad, bool mT)
{
    /* JSON numbers are read in the dtype asked for (not rounded through
     * float32 first); other inputs are converted */
    tg_tensor *t = tg_load_arg(arg, dtype, NULL);
    if (t && dtype >= 0)
        t = tg_cast(t, (tg_dtype)dtype);
    if (t && grad) {
        if (!tg_dtype_is_float(t->dtype)) {
            tg_error(TG_EINPUT, "--grad needs float operands, and %s is %s (use --dtype float32)",
                     arg, tg_dtype_name(t->dtype));
            tg_release(t);
            return NULL;
        }
        tg_set_requires_grad(t, true);
    }
    if (t && mT) {
        if (t->ndim < 2) {
            tg_error(TG_EINPUT, "--ta/--tb transpose the last two dims, and %s has %d", arg, t->ndim);
            tg_release(t);
            return NULL;
        }
        /* a view of the leaf: its gradient still reaches the leaf */
        return tg_transpose(t, -2, -1);
    }
    return t;
}

static int run(const options *o)
{
    int status = 0;
    tg_tensor *a = NULL, *b = NULL, *c = NULL, *leaf_a = NULL, *leaf_b = NULL;
    tg_tensor *grads[2] = {0};
    tg_progress_ticker *ticker = NULL; /* "working..." lines while a long product runs */
    a = load(o->a, o->dtype, o->grad, o->ta);
    b = a ? load(o->b, o->dtype, o->grad, o->tb) : NULL;
    if (!a || !b)
        goto fail;
    /* the leaves, whose gradients are printed (a itself, or a's base for --ta) */
    leaf_a = tg_ref(o->ta ? a->in[0] : a);
    leaf_b = tg_ref(o->tb ? b->in[0] : b);
    int64_t n = a->ndim > 1 ? a->shape[a->ndim - 2] : 1, k = a->ndim ? a->shape[a->ndim - 1] : 1;
    int64_t m = b->ndim > 1 ? b->shape[b->ndim - 1] : 1;
    /* on cuda the operands go to the device first, so --time is the
     * product's: files were moved when read (tg_load_arg), but a --dtype
     * conversion is written by the host */
    if (tg_prefetch(leaf_a) != TG_OK || tg_prefetch(leaf_b) != TG_OK)
        goto fail;
    double dt = 0;
    char what[160]; /* the work, for the progress lines of a long product (core/progress.h) */
    snprintf(what, sizeof what, "computing %s%lldx%lld @ %lldx%lld", o->repeat > 1 ? "each product " : "",
             (long long)n, (long long)k, (long long)k, (long long)m);
    ticker = tg_progress_ticker_start(what);
    for (int r = 0; r < o->repeat; r++) { /* the last product is the result */
        tg_release(c);
        double t0 = tg_now();
        c = tg_matmul(tg_ref(a), tg_ref(b));
        double t = tg_now() - t0;
        if (!c)
            goto fail;
        dt = r == 0 || t < dt ? t : dt;
    }
    tg_progress_ticker_stop(ticker);
    ticker = NULL;
    if (o->time) {
        double batches = c->numel / (double)(n * m > 0 ? n * m : 1);
        double flops = 2.0 * (double)n * (double)m * (double)k * batches;
        char best[48] = "";
        if (o->repeat > 1)
            snprintf(best, sizeof best, " (the fastest of %d)", o->repeat);
        fprintf(stderr, "tmatmul: product %lldx%lldx%lld%s %s in %.6f s%s, %.2f GFLOP/s, %d BLAS thread%s\n",
                (long long)n, (long long)k, (long long)m, batches > 1 ? " (batched)" : "",
                tg_dtype_name(c->dtype), dt, best, dt > 0 ? flops / dt * 1e-9 : 0.0, tg_blas_threads(),
                tg_blas_threads() == 1 ? "" : "s");
    }
    if (o->grad) {
        tg_tensor *g = o->grad_output ? tg_load_arg(o->grad_output, -1, NULL) : NULL;
        if (o->grad_output && !g)
            goto fail;
        if (!g && !(g = tg_full(c->dtype, c->ndim, c->shape, 1))) /* L = sum(A@B) */
            goto fail;
        ticker = tg_progress_ticker_start("computing the gradients");
        if (tg_backward(c, g, false, false) != TG_OK)
            goto fail;
        tg_progress_ticker_stop(ticker);
        ticker = NULL;
        grads[0] = tg_ref(leaf_a->grad);
        grads[1] = tg_ref(leaf_b->grad);
        const char *names[2] = {"a", "b"};
        /* -o FILE: the value to FILE, named in the object */
        if (tg_write_result_files(stdout, o->out, NULL, c, names, grads, 2, o->pretty) != TG_OK)
            goto fail;
    } else if (tg_save(o->out ? o->out : "-", c) != TG_OK) /* "-": standard output */
        goto fail;
    if (tg_cli_finish_output() != TG_OK)
        goto fail;
    goto done;
fail:
    tg_progress_ticker_stop(ticker); /* its last line before the message */
    status = tg_cli_fail(TOOL);
done:
    tg_release(grads[0]);
    tg_release(grads[1]);
    tg_release(c);
    tg_release(a);
    tg_release(b);
    tg_release(leaf_a);
    tg_release(leaf_b);
    return status;
}

int main(int argc, char **argv)
{
    enum { O_TA = 256, O_TB, O_GRAD, O_GRAD_OUTPUT, O_DTYPE, O_THREADS, O_TIME, O_REPEAT, O_PRETTY, O_PROGRESS };
    static const struct option longopts[] = {
        {"ta", no_argument, 0, O_TA}, {"tb", no_argument, 0, O_TB}, {"grad", no_argument, 0, O_GRAD},
        {"grad-output", required_argument, 0, O_GRAD_OUTPUT}, {"dtype", required_argument, 0, O_DTYPE},
        {"threads", required_argument, 0, O_THREADS}, {"time", no_argument, 0, O_TIME},
        {"repeat", required_argument, 0, O_REPEAT}, {"progress", no_argument, 0, O_PROGRESS},
        TG_CLI_DEVICE_OPTION, {"out", required_argument, 0, 'o'},
        {"pretty", no_argument, 0, O_PRETTY}, TG_CLI_TYPED_OPTION, TG_CLI_OPTIONS, {0, 0, 0, 0}};
    options o = {.dtype = -1, .repeat = 1};
    int c, status;
    long threads, repeat;
    tg_dtype dt;
    if (!(argv = tg_cli_begin(TOOL, &argc, argv, ":o:hV", longopts)))
        return tg_cli_fail(TOOL);
    while ((c = getopt_long(argc, argv, ":o:hV", longopts, NULL)) != -1) {
        switch (c) {
        case O_TA: o.ta = true; break;
        case O_TB: o.tb = true; break;
        case O_GRAD: o.grad = true; break;
        case O_GRAD_OUTPUT: o.grad_output = optarg; o.grad = true; break;
        case O_DTYPE:
            if (tg_cli_parse_dtype(optarg, TG_INT64, &dt) != TG_OK)
                return tg_cli_fail(TOOL);
            o.dtype = dt;
            break;
        case O_THREADS:
            if (tg_cli_parse_long("--threads", optarg, 1, 1024, &threads) != TG_OK)
                return tg_cli_fail(TOOL);
            tg_blas_set_threads((int)threads);
            break;
        case O_TIME: o.time = true; break;
        case O_REPEAT:
            if (tg_cli_parse_long("--repeat", optarg, 1, 1000, &repeat) != TG_OK)
                return tg_cli_fail(TOOL);
            o.repeat = (int)repeat;
            break;
        case 'o': o.out = optarg; break;
        case O_PRETTY: o.pretty = true; break;
        case O_PROGRESS: o.progress = true; break;
        default: /* --device, --help, --version, errors */
            if ((status = tg_cli_common_option(TOOL, usage, c, argv)) >= 0)
                return status;
        }
    }
    if (argc - optind != 2) {
        tg_error(TG_EUSAGE, "expected two operands A and B, got %d (usage: tmatmul A B)", argc - optind);
        return tg_cli_fail(TOOL);
    }
    o.a = argv[optind];
    o.b = argv[optind + 1];
    tg_progress_setup(stderr, TOOL, o.progress); /* on a terminal, or with --progress */
    return run(&o);
}
