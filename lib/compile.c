/* compile.c -- compiled (fused) evaluation, what torch.compile does for the
 * lesson's elementwise programs.  A program that is a chain of elementwise
 * ops over its variables, ending either there or in a sum of everything, is
 * run block by block: each block of 16384 elements goes through the whole
 * forward and backward pass while it is in cache, so memory is read and
 * written once (the variables in, the gradients out) and no intermediate
 * ever has the full size.  Blocks run in parallel on every core.
 *
 * The values and gradients are the eager path's, element for element; a
 * sum adds block partials in block order, so its last digit may differ from
 * the eager sum's (and never depends on the thread count).  Programs of
 * another form are reported as not compilable: the caller runs them eagerly. */
#include "internal.h"
#include <string.h>

#define BLOCK 16384

static bool elementwise_op(const tg_tensor *t)
{
    static const int ok[] = {TG_OP_NEG, TG_OP_EXP, TG_OP_LOG, TG_OP_SQRT, TG_OP_SIN, TG_OP_COS,
                             TG_OP_TAN, TG_OP_TANH, TG_OP_SIGMOID, TG_OP_RELU, TG_OP_ABS, TG_OP_SIGN,
                             TG_OP_LOG1P, TG_OP_EXPM1, TG_OP_ERF, TG_OP_SOFTPLUS, TG_OP_CLAMP,
                             TG_OP_ADD, TG_OP_SUB, TG_OP_MUL, TG_OP_DIV, TG_OP_POW, TG_OP_MAXIMUM,
                             TG_OP_MINIMUM, TG_OP_EQ, TG_OP_NE, TG_OP_LT, TG_OP_LE, TG_OP_GT,
                             TG_OP_GE, TG_OP_WHERE, TG_OP_CAST, TG_OP_CONTIGUOUS};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (t->op == &tg_ops[ok[i]])
            return true;
    return false;
}

/* Checks the probe's graph: elementwise ops over block-shaped or
 * single-element operands, the root optionally a sum of everything. */
static bool fusable(tg_tensor *root, int64_t block, bool *sum_root)
{
    tg_graph g;
    if (tg_graph_collect(root, &g) != TG_OK) {
        tg_error_clear();
        return false;
    }
    *sum_root = root->op == &tg_ops[TG_OP_SUM] && root->attrs.reduce.all;
    bool ok = true;
    for (int i = 0; i < g.n && ok; i++) {
        tg_tensor *t = g.nodes[i];
        bool full = t->ndim == 1 && t->numel == block;
        if (t == root && *sum_root)
            continue;
        if (t->op)
            ok = elementwise_op(t) && (full || t->numel == 1);
        else
            ok = full || t->numel == 1;
    }
    if (*sum_root)
        ok = ok && root->in[0]->numel == block;
    else
        ok = ok && root->numel == block;
    tg_graph_free(&g);
    return ok;
}

typedef struct {
    tg_program *p;
    const tg_env *env;
    int nvars;
    tg_tensor *flat[256];   /* each variable as 1-D, or NULL for a scalar */
    int64_t n, nblocks;
    bool no_grad, sum_root;
    tg_tensor *grad_output; /* flat, or NULL */
} job;

/* One block: a fresh environment of views, the eager engine on it. */
static tg_status run_block(const job *J, int64_t b, tg_tensor **value, tg_tensor **grads)
{
    int64_t start = b * BLOCK, len = J->n - start < BLOCK ? J->n - start : BLOCK;
    tg_env env = {0};
    tg_status st = TG_OK;
    for (int i = 0; i < J->nvars && st == TG_OK; i++) {
        const tg_tensor *v = J->env->values[i];
        tg_tensor *leaf = J->flat[i] ? tg_detach(tg_slice(tg_ref(J->flat[i]), 0, start, start + len, 1))
                                     : tg_detach(tg_ref((tg_tensor *)v));
        if (!leaf) {
            st = tg_errcode();
            break;
        }
        tg_set_requires_grad(leaf, v->requires_grad);
        st = tg_env_set(&env, J->env->names[i], leaf);
    }
    tg_grad_opts o = {.no_grad = J->no_grad};
    if (st == TG_OK && J->grad_output)
        o.grad_output = tg_detach(tg_slice(tg_ref(J->grad_output), 0, start, start + len, 1));
    if (st == TG_OK && !(*value = tg_grad_eval(J->p, &env, J->nvars, &o, grads)))
        st = tg_errcode();
    tg_env_free(&env);
    return st;
}

static void copy_block(tg_tensor *dst, int64_t start, const tg_tensor *src)
{
    tg_tensor *c = tg_contiguous(tg_cast(tg_ref((tg_tensor *)src), dst->dtype));
    if (c) {
        size_t sz = tg_dtype_size(dst->dtype);
        memcpy((char *)tg_data(dst) + start * (int64_t)sz, tg_data(c), (size_t)c->numel * sz);
    }
    tg_release(c);
}

tg_status tg_compiled_eval(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor **value,
                           tg_tensor **grads)
{
    *value = NULL;
    for (int i = 0; i < nvars; i++)
        grads[i] = NULL;
    if (nvars > 256 || tg_program_calls(p, "rand"))
        return TG_NO;
    job J = {.p = p, .env = env, .nvars = nvars, .no_grad = o->no_grad, .n = -1};
    for (int i = 0; i < nvars; i++) {
        tg_tensor *v = env->values[i];
        if (!tg_dtype_is_float(v->dtype) && v->numel != 1)
            return TG_NO;
        if (v->numel == 1)
            continue;
        if (J.n >= 0 && v->numel != J.n)
            return TG_NO; /* broadcasting between variables: eager */
        J.n = v->numel;
    }
    if (J.n < 2 * BLOCK)
        return TG_NO; /* too small to gain anything */
    tg_status st = TG_OK;
    int64_t minus1 = -1;
    for (int i = 0; i < nvars && st == TG_OK; i++)
        if (env->values[i]->numel != 1 && !(J.flat[i] = tg_reshape(tg_detach(tg_ref(env->values[i])), 1, &minus1)))
            st = tg_errcode();
    if (st == TG_OK && o->grad_output) {
        if (o->grad_output->numel != J.n)
            st = TG_NO;
        else if (!(J.grad_output = tg_reshape(tg_detach(tg_ref(o->grad_output)), 1, &minus1)))
            st = tg_errcode();
    }
    J.nblocks = (J.n + BLOCK - 1) / BLOCK;

    /* the probe: block 0, whose graph says whether the program fuses */
    tg_tensor *v0 = NULL, *g0[256];
    if (st == TG_OK)
        st = run_block(&J, 0, &v0, g0);
    if (st == TG_OK && !fusable(v0, BLOCK, &J.sum_root))
        st = TG_NO;
    if (st == TG_OK && !J.sum_root && !o->no_grad && !J.grad_output)
        st = TG_NO; /* a non-scalar result needs an upstream gradient: eager says so */
    /* the outputs */
    tg_tensor *out = NULL;
    double *partial = NULL;
    if (st == TG_OK) {
        const tg_tensor *like = env->values[0];
        for (int i = 0; i < nvars; i++)
            if (env->values[i]->numel == J.n)
                like = env->values[i];
        out = J.sum_root ? tg_zeros(v0->dtype, 0, NULL) : tg_empty(v0->dtype, like->ndim, like->shape);
        partial = tg_calloc((size_t)J.nblocks, sizeof *partial * 257);
        if (!out || !partial)
            st = TG_ERESOURCE;
        for (int i = 0; i < nvars && st == TG_OK && !o->no_grad; i++)
            if (env->values[i]->requires_grad &&
                !(grads[i] = J.flat[i] ? tg_empty(env->values[i]->dtype, 1, &J.n) : tg_zeros_like(env->values[i])))
                st = TG_ERESOURCE;
    }
    /* partial[b * 257]: block b's sum; partial[b * 257 + 1 + i]: its
     * contribution to scalar variable i's gradient */
    tg_status bad = TG_OK;
    int64_t bad_block = -1;
    char bad_msg[1024] = "";
    if (st == TG_OK) {
        bool old_grad = tg_grad_enabled();
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t b = 0; b < J.nblocks; b++) {
            tg_tensor *v = NULL, *g[256];
            tg_status s;
            if (b == 0) {
                v = tg_ref(v0);
                for (int i = 0; i < nvars; i++)
                    g[i] = tg_ref(g0[i]);
                s = TG_OK;
            } else {
                tg_set_grad_enabled(old_grad);
                s = run_block(&J, b, &v, g);
            }
            if (s == TG_OK) {
                int64_t start = b * BLOCK;
                if (J.sum_root)
                    partial[b * 257] = tg_item(v);
                else
                    copy_block(out, start, v);
                for (int i = 0; i < nvars; i++) {
                    if (!grads[i] || !g[i])
                        continue;
                    if (J.flat[i])
                        copy_block(grads[i], start, g[i]);
                    else
                        partial[b * 257 + 1 + i] = tg_item(g[i]);
                }
                tg_release(v);
                for (int i = 0; i < nvars; i++)
                    tg_release(g[i]);
            } else {
#pragma omp critical
                if (bad_block < 0 || b < bad_block) {
                    bad = s;
                    bad_block = b;
                    snprintf(bad_msg, sizeof bad_msg, "%s", tg_errmsg());
                }
                tg_error_clear();
            }
        }
        if (bad != TG_OK)
            st = tg_error(bad, "%s", bad_msg);
    }
    if (st == TG_OK) {
        if (J.sum_root) {
            double s = 0;
            for (int64_t b = 0; b < J.nblocks; b++)
                s += partial[b * 257];
            if (out->dtype == TG_FLOAT32)
                *(float *)tg_data(out) = (float)s;
            else
                *(double *)tg_data(out) = s;
        }
        for (int i = 0; i < nvars; i++) {
            if (!grads[i])
                continue;
            if (J.flat[i]) {
                tg_tensor *r = tg_reshape(grads[i], env->values[i]->ndim, env->values[i]->shape);
                grads[i] = r;
            } else {
                double s = 0;
                for (int64_t b = 0; b < J.nblocks; b++)
                    s += partial[b * 257 + 1 + i];
                tg_release(grads[i]);
                grads[i] = tg_scalar(s, env->values[i]->dtype);
                if (grads[i] && env->values[i]->ndim) {
                    tg_tensor *r = tg_reshape(grads[i], env->values[i]->ndim, env->values[i]->shape);
                    grads[i] = r;
                }
            }
            if (!grads[i])
                st = tg_errcode();
        }
    }
    tg_release(v0);
    if (v0)
        for (int i = 0; i < nvars; i++)
            tg_release(g0[i]);
    tg_free(partial);
    for (int i = 0; i < nvars; i++)
        tg_release(J.flat[i]);
    tg_release(J.grad_output);
    tg_release(o->grad_output);
    if (st != TG_OK) {
        tg_release(out);
        for (int i = 0; i < nvars; i++) {
            tg_release(grads[i]);
            grads[i] = NULL;
        }
        if (st == TG_NO)
            tg_error_clear();
        return st;
    }
    *value = out;
    return TG_OK;
}
