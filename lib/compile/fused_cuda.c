/* fused_cuda.c -- compiled evaluation on the cuda device: a program's plan
 * (fused_plan.c) as one CUDA kernel.  Each thread takes elements in a
 * grid-stride loop and runs every register, forward and backward, as a
 * local variable: the variables are read once, the value and gradients
 * written once, no intermediate goes to memory.  A final sum (and a
 * one-value parameter's gradient) is summed in double by each thread,
 * then by each block (tg_block_sums), and the blocks' partials are added
 * on the host in block order: the same result on every run.
 *
 * Each op is the backend's own device code for it (kernels/tg_cuda_elem.cuh,
 * whose text starts the generated source, as the eager map kernel uses
 * it), so compiled and eager values on cuda agree; both agree with the
 * CPU's within float32 tolerance (CUDA's math functions are not glibc's).
 * The source is compiled by NVRTC for the device's architecture
 * (kernels/tg_cuda_fused.cu) once per plan, and its machine code kept in
 * the cache folder of the CPU's loops (jit.c) for later processes;
 * TG_JIT=0 turns it off, as it does those.  Where the device is emulated
 * (TG_CUDA_EMULATE), NVRTC still compiles it, to check it, and the same
 * text built for the host by the C++ compiler (jit.c) runs the kernel one
 * block of one thread at a time. */
#include "fused.h"
#include "tg_cuda_text.h" /* the kernels/ files generated code starts with, as strings (Makefile) */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 256   /* TG_FUSED_THREADS in kernels/tg_fused_prelude.cuh */
#define GRID_MAX 2048 /* blocks: a few per multiprocessor on the largest cards */

/* each op's name in lib/ops/ops.def: the device code (tg_cuda_elem.cuh, which
 * includes it) numbers them TG_OP_NAME in the same order */
static const char *const op_ids[TG_NOPS] = {
#define OP(id, ...) #id,
#include "ops/ops.def"
#undef OP
};

typedef tg_buf text;
#define put tg_buf_printf

static void put_const(text *t, tg_dtype dt, double v, int64_t iv)
{
    if (dt == TG_FLOAT32) {
        float f = (float)v;
        uint32_t b;
        memcpy(&b, &f, sizeof b);
        put(t, "tg_f32(0x%08" PRIx32 "u) /* %.9g */", b, f);
    } else if (dt == TG_FLOAT64) {
        uint64_t b;
        memcpy(&b, &v, sizeof b);
        put(t, "tg_f64(0x%016" PRIx64 "ull) /* %.17g */", b, v);
    } else if (dt == TG_INT64)
        put(t, "(int64_t)0x%016" PRIx64 "ull", (uint64_t)iv);
    else
        put(t, "%s", v != 0 ? "true" : "false");
}

/* How the device code computes an op register (tg_cuda_elem.cuh's
 * template functions, which have a case for every op of their kind in
 * lib/ops/ops.def, a conditional, a conversion), or NONE for one it does not
 * have: the plan then runs op by op. */
enum device_form { NONE, UNARY, BINARY, COMPARE, WHERE, CAST };
static const char *const template_fn[] = {[UNARY] = "unary", [BINARY] = "binary", [COMPARE] = "compare"};

static enum device_form device_form(const tg_reg *R)
{
    bool fl = tg_dtype_is_float(R->kdtype);
    switch (tg_ops[R->op].kind) {
    case TG_K_UNARY: return fl && R->dtype == R->kdtype ? UNARY : NONE;
    case TG_K_BINARY: return fl && R->dtype == R->kdtype ? BINARY : NONE;
    case TG_K_COMPARE: return fl && R->dtype == TG_BOOL ? COMPARE : NONE;
    case TG_K_SELECT: return fl && R->dtype == R->kdtype ? WHERE : NONE;
    case TG_K_CAST: /* conversions C++ defines for every value: not float to integer */
        return tg_dtype_is_float(R->dtype) || R->dtype == TG_BOOL || !fl ? CAST : NONE;
    default:
        return NONE;
    }
}

/* for the tests: the device code's form of op computed in dtype dt (-1: it
 * has none) */
int tg_fused_cuda_form(int op, tg_dtype dt)
{
    if (op < 0 || op >= TG_NOPS)
        return -1;
    tg_reg R = {.kind = R_OP, .op = op, .kdtype = dt, .dtype = tg_ops[op].kind == TG_K_COMPARE ? TG_BOOL : dt};
    enum device_form f = device_form(&R);
    return f == NONE ? -1 : (int)f;
}

/* register i's line in the loop body */
static bool put_register(text *t, const tg_fused *F, int i)
{
    const tg_reg *R = &F->r[i];
    const char *T = tg_fused_ctype(R->dtype);
    int a[3];
    for (int k = 0; k < R->nin; k++)
        a[k] = tg_fused_owner(F, R->in[k]);
    switch (R->kind) {
    case R_STREAM:
        put(t, "        const %s r%d = s%d[e];\n", T, i, R->stream);
        return true;
    case R_CONST:
        put(t, "        const %s r%d = ", T, i);
        put_const(t, R->dtype, R->value, R->ivalue);
        put(t, ";\n");
        return true;
    case R_ALIAS:
        put(t, "        const %s r%d = r%d;\n", T, i, tg_fused_owner(F, i));
        return true;
    }
    if (!tg_dtype_is_float(R->kdtype) && R->op != TG_OP_CAST) {
        /* integer and bool ops (masks: clamp's backward ands two) round
         * nowhere: the CPU kernel's own expression, where it calls nothing */
        const char *src = tg_cpu_kernel_src[R->op][R->kdtype];
        if (!src || tg_cpu_src_calls(src))
            return false;
        put(t, "        %s r%d;\n        {\n", T, i);
        for (int k = 0; k < R->nin; k++)
            put(t, "            const %s %c = r%d;\n", R->op == TG_OP_WHERE && k == 0 ? "bool" : tg_fused_ctype(R->kdtype),
                "xyz"[k], a[k]);
        put(t, "            r%d = (%s);\n        }\n", i, src);
        return true;
    }
    enum device_form form = device_form(R);
    if (form == NONE)
        return false;
    const char *K = tg_fused_ctype(R->kdtype);
    if (form == CAST && R->dtype == TG_BOOL)
        put(t, "        const bool r%d = r%d != 0;\n", i, a[0]);
    else if (form == CAST)
        put(t, "        const %s r%d = (%s)r%d;\n", T, i, T, a[0]);
    else if (form == WHERE)
        put(t, "        const %s r%d = r%d ? r%d : r%d;\n", T, i, a[0], a[1], a[2]);
    else {
        bool attrs = R->op == TG_OP_CLAMP || R->op == TG_OP_POW || R->op == TG_OP_POW_BW;
        if (attrs) { /* as tg_cuda_map sets them */
            const tg_reg *e = R->op == TG_OP_POW ? &F->r[a[1]] : NULL;
            bool clamp = R->op == TG_OP_CLAMP;
            put(t, "        const tgc_op_attrs A%d = {", i);
            put_const(t, TG_FLOAT64, clamp ? R->attrs.clamp.lo : 0, 0);
            put(t, ", ");
            put_const(t, TG_FLOAT64, clamp ? R->attrs.clamp.hi : 0, 0);
            put(t, ", %d, %d, ", clamp && R->attrs.clamp.has_lo, clamp && R->attrs.clamp.has_hi);
            put_const(t, TG_FLOAT64, R->op == TG_OP_POW_BW ? R->attrs.pow.exponent : 0, 0);
            put(t, ", %d};\n", e && e->kind == R_CONST);
        }
        put(t, "        const %s r%d = %s<%s>(TG_OP_%s", T, i, template_fn[form], K, op_ids[R->op]);
        for (int k = 0; k < R->nin; k++)
            put(t, ", r%d", a[k]);
        if (form != COMPARE)
            attrs ? put(t, ", A%d", i) : put(t, ", tg_none");
        put(t, ");\n");
    }
    return true;
}

/* What leaves the kernel, in the order of its parameters: the value (when
 * not summed), then each gradient that is not summed; and the sums, in the
 * order of the partials: the value's (when summed), then each summed
 * gradient.  reg: the register; var: -1 for the value, else the variable. */
typedef struct {
    int nout, nsum;
    int out_reg[TG_FUSE_MAXVARS + 1], out_var[TG_FUSE_MAXVARS + 1];
    int sum_reg[TG_FUSE_MAXVARS + 1], sum_var[TG_FUSE_MAXVARS + 1];
} outputs;

static void list_outputs(const tg_fused *F, outputs *O)
{
    O->nout = O->nsum = 0;
    for (int v = -1; v < F->nvars; v++) {
        int reg = v < 0 ? F->value_reg : F->grad_reg[v];
        bool summed = v < 0 ? F->sum_root : F->grad_sum[v];
        if (reg < 0)
            continue;
        if (summed) {
            O->sum_reg[O->nsum] = reg;
            O->sum_var[O->nsum++] = v;
        } else {
            O->out_reg[O->nout] = reg;
            O->out_var[O->nout++] = v;
        }
    }
}

/* the kernel's source, with the host's launcher when host; NULL when an op
 * is not one the device code has, or memory ran out (no error left set) */
static char *kernel_source(const tg_fused *F, const tg_fused_stream *S, int nstreams, bool host)
{
    text t = {0};
    outputs O;
    list_outputs(F, &O);
    put(&t, "// generated by the tgrad toolkit's compiled evaluation (lib/compile/fused_cuda.c)\n");
    if (host)
        put(&t, "#define TG_FUSED_HOST 1\n");
    put(&t, "%s%s%s\n", tg_fused_prelude_src, tg_cuda_attrs_src, tg_cuda_elem_src);
    put(&t, "extern \"C\" __global__ void tg_fused_kernel(long long n");
    for (int s = 0; s < nstreams; s++)
        put(&t, ", const %s *__restrict__ s%d", tg_fused_ctype(S[s].dtype), s);
    for (int k = 0; k < O.nout; k++)
        put(&t, ", %s *__restrict__ o%d", tg_fused_ctype(F->r[O.out_reg[k]].dtype), k);
    put(&t, ", double *__restrict__ part)\n{\n");
    put(&t, "    const tgc_op_attrs tg_none = {0, 0, 0, 0, 0, 0};\n");
    put(&t, "    double acc[%d] = {0};\n", O.nsum ? O.nsum : 1);
    put(&t, "    const long long step = (long long)gridDim.x * blockDim.x;\n"
            "    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += step) {\n");
    bool ok = true;
    for (int i = 0; i < F->n && ok; i++)
        ok = put_register(&t, F, i);
    for (int k = 0; k < O.nout; k++)
        put(&t, "        o%d[e] = r%d;\n", k, tg_fused_owner(F, O.out_reg[k]));
    for (int k = 0; k < O.nsum; k++)
        put(&t, "        acc[%d] += (double)r%d;\n", k, tg_fused_owner(F, O.sum_reg[k]));
    put(&t, "    }\n    (void)tg_none;\n");
    if (O.nsum)
        put(&t, "    tg_block_sums(acc, %d, part);\n", O.nsum);
    put(&t, "}\n");
    if (host) { /* the kernel's blocks one after another, one thread each */
        put(&t, "\nextern \"C\" void tg_fused_host(unsigned grid, void **args)\n{\n"
                "    gridDim.x = grid;\n    blockDim.x = 1;\n    threadIdx.x = 0;\n"
                "    for (unsigned b = 0; b < grid; b++) {\n        blockIdx.x = b;\n"
                "        tg_fused_kernel(*(long long *)args[0]");
        int a = 1;
        for (int s = 0; s < nstreams; s++, a++)
            put(&t, ", *(const %s **)args[%d]", tg_fused_ctype(S[s].dtype), a);
        for (int k = 0; k < O.nout; k++, a++)
            put(&t, ", *(%s **)args[%d]", tg_fused_ctype(F->r[O.out_reg[k]].dtype), a);
        put(&t, ", *(double **)args[%d]);\n    }\n}\n", a);
    }
    if (!ok || t.failed) {
        tg_free(t.data);
        return NULL;
    }
    return t.data;
}

tg_status tg_fused_cuda_ready(struct tg_fused_plan *pl, const tg_fused_stream *S, int nstreams)
{
    if (pl->cuda_tried)
        return pl->cuda_kernel ? TG_OK : TG_NO;
    pl->cuda_tried = true;
    if (!tg_jit_enabled())
        return TG_NO;
    /* the host's build only where the device is emulated: it runs there */
    char *dev = kernel_source(&pl->F, S, nstreams, false);
    char *host = dev && tg_cuda_emulated() ? kernel_source(&pl->F, S, nstreams, true) : NULL;
    tg_error_clear();
    tg_status st = TG_NO; /* an op the device code lacks (or no memory for the text) */
    if (dev && (host || !tg_cuda_emulated()))
        st = tg_cuda_fused_load(dev, host, &pl->cuda_kernel);
    tg_free(dev);
    tg_free(host);
    /* TG_FUSED_STRICT=1: a kernel that does not build is an error, not a
     * silent op-by-op run (the tests: it is ours to mend) */
    const char *strict = getenv("TG_FUSED_STRICT");
    if (st != TG_OK && !(strict && *strict && strcmp(strict, "0"))) {
        tg_error_clear();
        st = TG_NO;
    }
    return st;
}

tg_status tg_fused_cuda_run(const struct tg_fused_plan *pl, const tg_fused_stream *S, int nstreams, int64_t n,
                            tg_tensor *value, tg_tensor **grads)
{
    const tg_fused *F = &pl->F;
    outputs O;
    list_outputs(F, &O);
    int64_t grid = (n + THREADS - 1) / THREADS;
    grid = grid > GRID_MAX ? GRID_MAX : grid;
    int64_t nparts = grid * O.nsum;
    tg_tensor *part = O.nsum ? tg_empty(TG_FLOAT64, 1, &nparts) : NULL;
    if (O.nsum && !part)
        return TG_ERESOURCE;
    /* the kernel's arguments, as its parameters are listed: n, the
     * inputs, the outputs, the partial sums */
    void *args[2 * TG_FUSE_MAXVARS + 4], *ptr[2 * TG_FUSE_MAXVARS + 4];
    int na = 0;
    long long count = (long long)n;
    args[na++] = &count;
    for (int s = 0; s < nstreams; s++, na++) {
        ptr[na] = (void *)S[s].data;
        args[na] = &ptr[na];
    }
    for (int k = 0; k < O.nout; k++, na++) {
        ptr[na] = tg_data(O.out_var[k] < 0 ? value : grads[O.out_var[k]]);
        args[na] = &ptr[na];
    }
    ptr[na] = part ? tg_data(part) : NULL;
    args[na] = &ptr[na];
    tg_status st = tg_cuda_fused_launch(pl->cuda_kernel, (unsigned)grid, THREADS, args);
    /* each sum: its blocks' partials in block order */
    for (int k = 0; k < O.nsum && st == TG_OK; k++)
        tg_fused_set_sum(O.sum_var[k] < 0 ? value : grads[O.sum_var[k]], (const double *)tg_data(part) + k * grid,
                         grid);
    tg_release(part);
    return st;
}
