/* test_opsdef.c -- every backend has every op of lib/ops/ops.def: the CPU
 * kernels, the CUDA device code (run through the backend's host emulation
 * where lib/libtg_cuda.so is built), the forms of compiled evaluation's
 * CUDA kernels, and the expression language's functions.  An op added to
 * ops.def that some backend lacks fails here, by name. */
#include "test.h"
#include "internal.h"
#include "expr/builtins.h"
#include "compile/fused.h"
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* each op's spelling in the expression language (ops.def's call column) */
#define CALL(name, params, fn) name
#define NOCALL NULL
#define OP(id, name, arity, flags, saves, infer, fwd, bwd, kind, call, ...) [TG_OP_##id] = call,
static const char *const spelling[TG_NOPS] = {
#include "ops/ops.def"
};
#undef OP
#undef CALL
#undef NOCALL

static bool maps_elements(int op) { return tg_ops[op].kind != TG_K_OTHER && tg_ops[op].kind != TG_K_CAST; }

TEST(opsdef_every_elementwise_op_has_cpu_kernels)
{
    for (int op = 0; op < TG_NOPS; op++) {
        if (!maps_elements(op))
            continue;
        for (tg_dtype dt = TG_FLOAT32; dt <= TG_FLOAT64; dt++)
            if (!tg_cpu_kernels[op][dt]) {
                test_failures++;
                fprintf(stderr, "  op %s has no CPU kernel for %s\n", tg_ops[op].name, tg_dtype_name(dt));
            }
    }
}

TEST(opsdef_fused_cuda_kernels_have_every_elementwise_op)
{
    for (int op = 0; op < TG_NOPS; op++)
        for (tg_dtype dt = TG_FLOAT32; dt <= TG_FLOAT64; dt++) {
            bool has = tg_fused_cuda_form(op, dt) >= 0;
            if (has != (tg_ops[op].kind != TG_K_OTHER)) {
                test_failures++;
                fprintf(stderr, "  op %s, %s: compiled evaluation's CUDA kernels %s it\n", tg_ops[op].name,
                        tg_dtype_name(dt), has ? "have a form for" : "have no form for");
            }
        }
}

/* every function ops.def names is a builtin, elementwise, and (for those
 * that apply their op as it is) gives a node of that op */
TEST(opsdef_every_op_spelling_is_a_builtin_of_that_op)
{
    int found = 0;
    for (int op = 0; op < TG_NOPS; op++) {
        const char *name = spelling[op];
        if (!name)
            continue;
        found++;
        if (!tg_builtin_find(name) || !tg_builtin_elementwise(name)) {
            test_failures++;
            fprintf(stderr, "  op %s: '%s' is not an elementwise function of the language\n", tg_ops[op].name, name);
            continue;
        }
        if (tg_builtin_op(name) < 0)
            continue; /* a handler of its own (pow, clamp, where) */
        char src[64];
        snprintf(src, sizeof src, tg_ops[op].arity == 1 ? "%s(x)" : "%s(x, y)", name);
        tg_program *p = tg_program_parse(src);
        tg_env env = {0};
        tg_env_set(&env, "x", tg_scalar(0.5, TG_FLOAT64));
        tg_env_set(&env, "y", tg_scalar(1.5, TG_FLOAT64));
        bool was = tg_set_trace(true); /* the node is recorded without gradients */
        tg_tensor *r = p ? tg_program_eval(p, &env) : NULL;
        tg_set_trace(was);
        if (!r || r->op != &tg_ops[op]) {
            test_failures++;
            fprintf(stderr, "  %s does not apply op %s\n", src, tg_ops[op].name);
        }
        tg_error_clear();
        tg_release(r);
        tg_env_free(&env);
        tg_program_free(p);
    }
    CHECK(found > 20);
    CHECK(tg_builtin_elementwise("gelu") && !tg_builtin_elementwise("sum") && !tg_builtin_elementwise("nope"));
}

/* ---- the CUDA device code, emulated on the host ---- */

#define N 64

/* op's inputs: values in [0.3, 1.7] (in every op's domain), a bool
 * condition for where */
static int make_inputs(int op, tg_dtype dt, tg_tensor **in)
{
    int n = tg_ops[op].arity;
    int64_t len = N;
    for (int k = 0; k < n; k++) {
        bool cond = tg_ops[op].kind == TG_K_SELECT && k == 0;
        in[k] = tg_empty(cond ? TG_BOOL : dt, 1, &len);
        for (int64_t i = 0; i < N; i++) {
            double v = test_uniform(0.3, 1.7);
            if (cond)
                ((bool *)tg_data(in[k]))[i] = v > 1;
            else if (dt == TG_FLOAT32)
                ((float *)tg_data(in[k]))[i] = (float)v;
            else
                ((double *)tg_data(in[k]))[i] = v;
        }
    }
    return n;
}

static tg_attrs op_attrs(void)
{
    tg_attrs a;
    memset(&a, 0, sizeof a);
    a.clamp.lo = 0.6, a.clamp.hi = 1.2, a.clamp.has_lo = a.clamp.has_hi = true;
    a.pow.exponent = 2.5;
    return a;
}

/* In a child process, where the backend is loaded emulated: each op's
 * result by tg_cuda_map into out (TG_NOPS x 2 dtypes x N doubles), ok[op *
 * 2 + d] set where the device code computed it. */
static void device_results(double *out, bool *ok)
{
    tg_attrs a = op_attrs();
    for (int op = 0; op < TG_NOPS; op++)
        for (int d = 0; d < 2; d++) {
            if (!maps_elements(op))
                continue;
            tg_dtype dt = d ? TG_FLOAT64 : TG_FLOAT32;
            tg_tensor *in[3] = {0}, *dev[3] = {0};
            int n = make_inputs(op, dt, in);
            int64_t len = N;
            for (int k = 0; k < n; k++)
                dev[k] = tg_from_data(in[k]->dtype, 1, &len, tg_data(in[k]));
            tg_dtype odt = tg_ops[op].kind == TG_K_COMPARE ? TG_BOOL : dt;
            tg_tensor *o = tg_empty(odt, 1, &len);
            ok[op * 2 + d] = o && o->storage->device == TG_DEV_CUDA && tg_cuda_map(op, n, dev, &a, o) == TG_OK;
            for (int64_t i = 0; ok[op * 2 + d] && i < N; i++)
                out[(op * 2 + d) * N + i] = tg_get(o, i);
            tg_release(o);
            for (int k = 0; k < n; k++) {
                tg_release(in[k]);
                tg_release(dev[k]);
            }
        }
}

TEST(opsdef_cuda_device_code_computes_every_elementwise_op)
{
    const char *lib = "lib/libtg_cuda.so";
    if (access(lib, R_OK) != 0) {
        fprintf(stderr, "  (no %s: the CUDA backend is not built here; skipped)\n", lib);
        return;
    }
    size_t vals = (size_t)TG_NOPS * 2 * N;
    double *out = mmap(NULL, vals * sizeof *out + TG_NOPS * 2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(out != MAP_FAILED);
    if (out == MAP_FAILED)
        return;
    bool *ok = (bool *)(out + vals);
    pid_t pid = fork();
    if (pid == 0) { /* the backend is loaded once per process: in one of its own */
        char path[4096];
        setenv("TG_CUDA_LIBRARY", realpath(lib, path) ? path : lib, 1);
        setenv("TG_CUDA_EMULATE", "1", 1);
        tg_set_device(TG_DEV_CUDA);
        device_results(out, ok);
        _exit(0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the CPU's results for the same inputs: the child drew them from the
     * same state of the random numbers */
    tg_attrs a = op_attrs();
    for (int op = 0; op < TG_NOPS; op++)
        for (int d = 0; d < 2; d++) {
            if (!maps_elements(op))
                continue;
            tg_dtype dt = d ? TG_FLOAT64 : TG_FLOAT32;
            tg_tensor *in[3] = {0};
            int n = make_inputs(op, dt, in);
            if (!ok[op * 2 + d]) {
                test_failures++;
                fprintf(stderr, "  op %s, %s: the CUDA device code does not compute it\n", tg_ops[op].name,
                        tg_dtype_name(dt));
                for (int k = 0; k < n; k++)
                    tg_release(in[k]);
                continue;
            }
            tg_tensor *r = tg_apply(op, n, in, &a);
            double rtol = d ? 1e-13 : 1e-6;
            for (int64_t i = 0; r && i < N; i++) {
                double want = tg_get(r, i), got = out[(op * 2 + d) * N + i];
                if (!(fabs(got - want) <= rtol * fabs(want))) {
                    test_failures++;
                    fprintf(stderr, "  op %s, %s, element %lld: device code %.17g, CPU %.17g\n", tg_ops[op].name,
                            tg_dtype_name(dt), (long long)i, got, want);
                    break;
                }
            }
            CHECK(r != NULL);
            tg_release(r);
        }
    munmap(out, vals * sizeof *out + TG_NOPS * 2);
}
