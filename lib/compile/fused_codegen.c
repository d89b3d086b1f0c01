/* fused_codegen.c -- a fused program (fused.h) as C: one loop over the
 * elements of a block in which every register is a local variable, so that
 * the whole chain of ops, forward and backward, runs in the processor's
 * registers with one read of each input and one write of each output.
 *
 * Each op is written as its eager kernel's own expression
 * (tg_cpu_kernel_src, the text of the very expression the kernel is
 * compiled from), over locals of the kernel's types, and the file is
 * compiled with the kernels' floating-point flags (jit.c): the values are
 * the eager ones.  (On the cuda device the same plan becomes a CUDA
 * kernel of the backend's own device code instead: fused_cuda.c.) */
#include "fused.h"
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* the source under construction */
typedef tg_buf text;
#define put tg_buf_printf

const char *tg_fused_ctype(tg_dtype dt)
{
    static const char *const names[TG_NDTYPES] = {"float", "double", "int64_t", "bool"};
    return names[dt];
}

/* v as a C constant of dtype dt, exactly: the value the interpreter puts
 * in a constant's register */
static void put_literal(text *t, tg_dtype dt, double v, int64_t iv)
{
    if (dt == TG_FLOAT32 || dt == TG_FLOAT64) {
        double x = dt == TG_FLOAT32 ? (double)(float)v : v;
        const char *f = dt == TG_FLOAT32 ? "f" : "";
        if (x != x)
            put(t, "(%s__builtin_nan%s(\"\"))", signbit(x) ? "-" : "", f);
        else if (isinf(x))
            put(t, "(%s__builtin_inf%s())", x < 0 ? "-" : "", f);
        else
            put(t, "((%s)%a)", tg_fused_ctype(dt), x);
    } else if (dt == TG_INT64)
        put(t, "((int64_t)0x%016" PRIx64 "ULL)", (uint64_t)iv);
    else
        put(t, "((bool)%d)", v != 0);
}

/* the expression of op register R, or NULL; binds says which locals it reads */
static const char *op_source(const tg_fused *F, const tg_reg *R)
{
    if (R->op == TG_OP_POW) {
        const tg_reg *e = &F->r[tg_fused_owner(F, R->in[1])];
        /* a constant exponent takes the kernel's shortcut for it; NaN is
         * none of them: the general formula */
        double exponent = e->kind == R_CONST ? (R->kdtype == TG_FLOAT32 ? (double)(float)e->value : e->value) : NAN;
        return tg_cpu_pow_src(R->kdtype, exponent, false);
    }
    if (R->op == TG_OP_POW_BW)
        return tg_cpu_pow_src(R->kdtype, R->attrs.pow.exponent, true);
    if (R->op == TG_OP_CAST)
        return tg_cpu_conv_src[R->kdtype][R->dtype];
    return tg_cpu_kernel_src[R->op][R->kdtype];
}

/* How register i reads inside the loop of segment seg: a stream element, a
 * constant, a local of this segment, or the array an earlier segment left
 * it in.  (Aliases read what their owner reads.) */
static void put_value(text *t, const tg_fused *F, const int *seg, int i, int at)
{
    i = tg_fused_owner(F, i);
    const tg_reg *R = &F->r[i];
    if (R->kind == R_STREAM)
        put(t, "s%d[c + j]", R->stream);
    else if (R->kind == R_CONST)
        put_literal(t, R->dtype, R->value, R->ivalue);
    else if (seg[i] == at)
        put(t, "r%d", i);
    else
        put(t, "a%d[j]", i);
}

static void put_op(text *t, const tg_fused *F, const int *seg, int i, const char *src)
{
    const tg_reg *R = &F->r[i];
    const char *T = tg_fused_ctype(R->kdtype);
    static const char names[] = "xyz";
    put(t, "            %s r%d;\n            {\n", tg_fused_ctype(R->dtype), i);
    for (int k = 0; k < R->nin; k++) {
        /* where's condition is bool; pow's backward reads g, then x */
        const char *type = R->op == TG_OP_WHERE && k == 0 ? "bool" : T;
        char name = R->op == TG_OP_POW_BW ? "gx"[k] : names[k];
        put(t, "                const %s %c = ", type, name);
        put_value(t, F, seg, R->in[k], seg[i]);
        put(t, ";\n");
    }
    if (R->op == TG_OP_POW_BW) { /* as the kernel: e in the kernel's type, em1 = e - 1 in it too */
        put(t, "                const %s e = ", T);
        put_literal(t, R->kdtype, R->attrs.pow.exponent, 0);
        put(t, ", em1 = e - 1;\n");
    }
    put(t, "                r%d = (%s);\n            }\n", i, src);
}

/* The loop is cut into segments.  An op whose expression calls a function
 * (expf, powf, sqrtf, ...), or that has no expression (clamp), is run by
 * its kernel itself, called from the generated code on one chunk at a
 * time: the same machine code as the eager path, so the same vector or
 * scalar version of every function computes each element, whatever
 * compiler builds the generated file.  The ops of plain arithmetic between
 * them share loops, where vectorising or not changes no bit (IEEE
 * arithmetic, no contraction: jit.c's flags).  Values that cross from one
 * segment to another go through arrays of one chunk (in L1). */
#define CHUNK 256

/* a kernel op's input as the kernel reads it: an address and a stride */
static void put_kernel_input(text *t, const tg_fused *F, int r)
{
    r = tg_fused_owner(F, r);
    const tg_reg *R = &F->r[r];
    if (R->kind == R_STREAM)
        put(t, "s%d + c", R->stream);
    else if (R->kind == R_CONST)
        put(t, "&k%d", r);
    else
        put(t, "a%d", r);
}

char *tg_fused_source(const tg_fused *F, size_t *tmp_bytes)
{
    text t = {0};
    *tmp_bytes = 0;
    const char **src = tg_calloc((size_t)F->n, sizeof *src);
    int *seg = tg_calloc((size_t)F->n * 3, sizeof *seg), *crosses = seg ? seg + F->n : NULL,
        *by_kernel = seg ? seg + 2 * F->n : NULL;
    if (!src || !seg) {
        tg_free(src);
        tg_free(seg);
        tg_error_clear();
        return NULL;
    }
    int nseg = 0;
    bool open = false; /* the current segment takes more ops */
    for (int i = 0; i < F->n; i++) {
        if (F->r[i].kind != R_OP)
            continue;
        src[i] = op_source(F, &F->r[i]);
        by_kernel[i] = !src[i] || tg_cpu_src_calls(src[i]);
        if (!open || by_kernel[i])
            nseg++;
        seg[i] = nseg - 1;
        open = !by_kernel[i];
        crosses[i] |= by_kernel[i]; /* a kernel writes an array */
    }
    for (int i = 0; i < F->n; i++)
        for (int k = 0; F->r[i].kind == R_OP && k < F->r[i].nin; k++) {
            int o = tg_fused_owner(F, F->r[i].in[k]);
            if (F->r[o].kind == R_OP && seg[o] != seg[i])
                crosses[o] = 1;
        }

    put(&t, "/* generated by the tgrad toolkit's compiled evaluation (lib/compile/fused_codegen.c) */\n"
            "#include <stdbool.h>\n#include <stdint.h>\n"
            "/* the eager kernels' type (lib/internal.h), their attributes passed opaquely */\n"
            "typedef void (*kernel)(int64_t, void *, const void *const *, const int64_t *, const void *);\n\n");
    put(&t, "void tg_fused_block(int64_t n, const void *const *in, void *const *out, const kernel *kern,\n"
            "                    const void *const *attrs, void *tmp)\n{\n");
    for (int i = 0; i < F->n; i++)
        if (F->r[i].kind == R_STREAM)
            put(&t, "    const %s *restrict s%d = in[%d];\n", tg_fused_ctype(F->r[i].dtype), F->r[i].stream, F->r[i].stream);
    for (int k = 0; k < F->nouts; k++)
        put(&t, "    %s *restrict o%d = out[%d];\n", tg_fused_ctype(F->r[F->outs[k]].dtype), k, k);
    for (int i = 0; i < F->n; i++) {
        if (crosses[i]) { /* in the caller's memory, not on a thread's stack */
            put(&t, "    %s *restrict a%d = (%s *)((char *)tmp + %zu);\n", tg_fused_ctype(F->r[i].dtype), i,
                tg_fused_ctype(F->r[i].dtype), *tmp_bytes);
            *tmp_bytes += CHUNK * 8;
        }
        if (F->r[i].kind == R_CONST) { /* addressable, for the kernels */
            put(&t, "    const %s k%d = ", tg_fused_ctype(F->r[i].dtype), i);
            put_literal(&t, F->r[i].dtype, F->r[i].value, F->r[i].ivalue);
            put(&t, ";\n");
        }
    }
    /* each chunk asks for its inputs two blocks ahead: the reads then
     * overlap the arithmetic (the next blocks of this thread's run follow
     * in memory; a prefetch past the end is harmless) */
    put(&t, "    for (int64_t c = 0; c < n; c += %d) {\n        const int64_t m = n - c < %d ? n - c : %d;\n", CHUNK,
        CHUNK, CHUNK);
    for (int i = 0; i < F->n; i++)
        if (F->r[i].kind == R_STREAM)
            put(&t, "        for (int64_t p = 0; p < %d; p += %d)\n            __builtin_prefetch(s%d + c + p + %d);\n",
                CHUNK, 64 / (int)tg_dtype_size(F->r[i].dtype), F->r[i].stream, 2 * TG_FUSE_BLOCK);
    for (int g = 0; g < nseg && !t.failed; g++) {
        int first = -1;
        for (int i = 0; i < F->n && first < 0; i++)
            if (F->r[i].kind == R_OP && seg[i] == g)
                first = i;
        if (by_kernel[first]) {
            const tg_reg *R = &F->r[first];
            put(&t, "        {\n            const void *ki[3] = {");
            for (int k = 0; k < R->nin; k++) {
                put(&t, k ? ", " : "");
                put_kernel_input(&t, F, R->in[k]);
            }
            put(&t, "};\n            const int64_t ks[3] = {");
            for (int k = 0; k < R->nin; k++)
                put(&t, "%s%d", k ? ", " : "", F->r[tg_fused_owner(F, R->in[k])].kind == R_CONST ? 0 : 1);
            put(&t, "};\n            kern[%d](m, a%d, ki, ks, attrs[%d]);\n        }\n", first, first, first);
        }
        put(&t, "#pragma omp simd\n        for (int64_t j = 0; j < m; j++) {\n");
        for (int i = 0; i < F->n; i++) {
            if (F->r[i].kind != R_OP || seg[i] != g)
                continue;
            if (by_kernel[i])
                put(&t, "            const %s r%d = a%d[j];\n", tg_fused_ctype(F->r[i].dtype), i, i);
            else {
                put_op(&t, F, seg, i, src[i]);
                if (crosses[i])
                    put(&t, "            a%d[j] = r%d;\n", i, i);
            }
            for (int k = 0; k < F->nouts; k++)
                if (F->outs[k] == i)
                    put(&t, "            o%d[c + j] = r%d;\n", k, i);
        }
        put(&t, "        }\n");
    }
    put(&t, "    }\n}\n");
    tg_free(src);
    tg_free(seg);
    if (t.failed) {
        tg_free(t.data);
        return NULL;
    }
    return t.data;
}
