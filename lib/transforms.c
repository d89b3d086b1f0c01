/* transforms.c -- what torch.autograd.grad and torch.func give: gradients
 * of any tensor with respect to chosen inputs, Jacobians (reverse mode, as
 * jacrev), Hessians and n-th derivatives.  Higher orders differentiate the
 * backward pass itself: each op's backward is written with ops, so running
 * it with the graph on (create_graph) records a graph of the gradient. */
#include "internal.h"
#include <string.h>

tg_status tg_grad(tg_tensor *y, tg_tensor *g, tg_tensor **inputs, int n, bool create_graph,
                  tg_tensor **out)
{
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    if (!y) {
        tg_release(g);
        return tg_errcode();
    }
    tg_status st = TG_OK;
    if (y->requires_grad) {
        /* keep the leaves' accumulated gradients out of this computation */
        tg_tensor *saved[256];
        for (int i = 0; i < n && i < 256; i++) {
            saved[i] = inputs[i]->grad;
            inputs[i]->grad = NULL;
        }
        st = tg_backward(y, g, true, create_graph);
        for (int i = 0; i < n && i < 256; i++) {
            out[i] = inputs[i]->grad;
            inputs[i]->grad = saved[i];
        }
    } else
        tg_release(g);
    for (int i = 0; i < n && st == TG_OK; i++)
        if (!out[i] && !(out[i] = tg_zeros_like(inputs[i])))
            st = TG_ERESOURCE;
    if (st != TG_OK)
        for (int i = 0; i < n; i++) {
            tg_release(out[i]);
            out[i] = NULL;
        }
    return st;
}

/* element k of t (flattened), as a differentiable 0-D tensor */
static tg_tensor *element(tg_tensor *t, int64_t k)
{
    int64_t minus1 = -1;
    return tg_select(tg_reshape(t, 1, &minus1), 0, k);
}

/* rows[r] for r < m: one tensor each of shape `shape`, stacked into
 * (prefix..., shape...) */
static tg_tensor *stack_rows(tg_tensor **rows, int64_t m, int pnd, const int64_t *prefix,
                             const tg_tensor *like)
{
    int64_t shape[TG_MAX_DIMS];
    if (pnd + like->ndim > TG_MAX_DIMS) {
        tg_error(TG_EINPUT, "the result would have rank %d, above the limit of %d", pnd + like->ndim, TG_MAX_DIMS);
        return NULL;
    }
    memcpy(shape, prefix, pnd * sizeof *shape);
    memcpy(shape + pnd, like->shape, like->ndim * sizeof *shape);
    tg_tensor *out = tg_empty(like->dtype, pnd + like->ndim, shape);
    size_t per = (size_t)like->numel * tg_dtype_size(like->dtype);
    for (int64_t r = 0; out && r < m; r++) {
        bool old = tg_set_grad_enabled(false);
        tg_tensor *c = tg_contiguous(tg_detach(tg_cast(tg_ref(rows[r]), like->dtype)));
        tg_set_grad_enabled(old);
        if (!c) {
            tg_release(out);
            return NULL;
        }
        memcpy((char *)tg_data(out) + r * per, tg_data(c), per);
        tg_release(c);
    }
    return out;
}

/* Jacobians of y with respect to each input, y.shape + input.shape: one
 * backward pass per element of y with a one-hot upstream gradient. */
tg_status tg_jacobian(tg_tensor *y, tg_tensor **inputs, int n, tg_tensor **jac)
{
    for (int i = 0; i < n; i++)
        jac[i] = NULL;
    if (!tg_dtype_is_float(y->dtype)) {
        char s[256];
        return tg_error(TG_EINPUT, "the result is %s of shape %s: only a floating-point result has a "
                        "Jacobian", tg_dtype_name(y->dtype), tg_shape_str(y, s, sizeof s));
    }
    int64_t m = y->numel;
    tg_tensor **rows = tg_calloc((size_t)(m ? m : 1) * (size_t)(n ? n : 1), sizeof *rows);
    if (!rows)
        return TG_ERESOURCE;
    tg_status st = TG_OK;
    for (int64_t r = 0; r < m && st == TG_OK; r++) {
        tg_tensor *onehot = tg_zeros(y->dtype, y->ndim, y->shape);
        if (!onehot) {
            st = TG_ERESOURCE;
            break;
        }
        if (y->dtype == TG_FLOAT32)
            ((float *)tg_data(onehot))[r] = 1;
        else
            ((double *)tg_data(onehot))[r] = 1;
        tg_tensor *g[256];
        st = tg_grad(y, onehot, inputs, n, false, g);
        for (int i = 0; i < n && st == TG_OK; i++)
            rows[i * m + r] = g[i];
    }
    for (int i = 0; i < n && st == TG_OK; i++)
        if (!(jac[i] = stack_rows(rows + i * m, m, y->ndim, y->shape, inputs[i])))
            st = tg_errcode();
    for (int64_t k = 0; k < m * n; k++)
        tg_release(rows[k]);
    tg_free(rows);
    return st;
}

/* Hessian blocks of a scalar y: hess[a * n + b] = d2y / da db, shaped
 * a.shape + b.shape.  First gradients with create_graph, then one backward
 * per element of them. */
tg_status tg_hessian(tg_tensor *y, tg_tensor **inputs, int n, tg_tensor **hess)
{
    for (int i = 0; i < n * n; i++)
        hess[i] = NULL;
    if (y->numel != 1) {
        char s[256];
        return tg_error(TG_EINPUT, "the Hessian needs a single-number result, and this one has shape %s "
                        "(reduce it with .sum())", tg_shape_str(y, s, sizeof s));
    }
    tg_tensor *g1[256];
    tg_status st = tg_grad(y, NULL, inputs, n, true, g1);
    if (st != TG_OK)
        return st;
    for (int a = 0; a < n && st == TG_OK; a++) {
        int64_t m = inputs[a]->numel;
        tg_tensor **rows = tg_calloc((size_t)(m ? m : 1) * (size_t)n, sizeof *rows);
        if (!rows) {
            st = TG_ERESOURCE;
            break;
        }
        for (int64_t k = 0; k < m && st == TG_OK; k++) {
            tg_tensor *g2[256];
            tg_tensor *e = element(tg_ref(g1[a]), k);
            st = e ? tg_grad(e, NULL, inputs, n, false, g2) : tg_errcode();
            tg_release(e);
            for (int b = 0; b < n && st == TG_OK; b++)
                rows[b * m + k] = g2[b];
        }
        for (int b = 0; b < n && st == TG_OK; b++)
            if (!(hess[a * n + b] = stack_rows(rows + b * m, m, inputs[a]->ndim, inputs[a]->shape, inputs[b])))
                st = tg_errcode();
        for (int64_t k = 0; k < m * n; k++)
            tg_release(rows[k]);
        tg_free(rows);
    }
    for (int i = 0; i < n; i++)
        tg_release(g1[i]);
    if (st != TG_OK)
        for (int i = 0; i < n * n; i++) {
            tg_release(hess[i]);
            hess[i] = NULL;
        }
    return st;
}

/* The order-th derivative of a scalar y with respect to the scalar x. */
tg_tensor *tg_nth_derivative(tg_tensor *y, tg_tensor *x, int order)
{
    if (y->numel != 1 || x->numel != 1) {
        tg_error(TG_EINPUT, "--order needs a scalar function of one scalar variable (the result "
                 "has %lld elements, the variable %lld)", (long long)y->numel, (long long)x->numel);
        return NULL;
    }
    tg_tensor *d = tg_ref(y);
    for (int k = 0; k < order && d; k++) {
        tg_tensor *next;
        tg_status st = tg_grad(d, NULL, &x, 1, k + 1 < order, &next);
        tg_release(d);
        d = st == TG_OK ? next : NULL;
        /* each order can double the graph (x**x): stop before it explodes */
        tg_graph g;
        if (d && k + 1 < order && tg_graph_collect(d, &g) == TG_OK) {
            int nodes = g.n;
            tg_graph_free(&g);
            if (nodes > TG_MAX_DERIVATIVE_NODES) {
                tg_error(TG_EINPUT, "--order: the graph of derivative %d already has %d nodes (the "
                         "limit is %d; each order can double it): ask for a lower order", k + 1, nodes,
                         TG_MAX_DERIVATIVE_NODES);
                tg_release(d);
                return NULL;
            }
        }
    }
    return d;
}

/* Forward mode: J v, the Jacobian of y times the tangents v (one per input,
 * each of its input's shape), as torch.func.jvp gives.  Computed exactly by
 * differentiating the backward pass: g(u) = J^T u is linear in u, so
 * d/du <g(u), v> = J v. */
tg_status tg_jvp(tg_tensor *y, tg_tensor **inputs, tg_tensor **tangents, int n, tg_tensor **out)
{
    *out = NULL;
    if (!y->requires_grad || !tg_dtype_is_float(y->dtype)) {
        *out = tg_dtype_is_float(y->dtype) ? tg_zeros_like(y) : tg_zeros(tg_default_float, y->ndim, y->shape);
        return *out ? TG_OK : tg_errcode();
    }
    for (int i = 0; i < n; i++) {
        char s1[256], s2[256];
        if (tangents[i]->ndim != inputs[i]->ndim ||
            memcmp(tangents[i]->shape, inputs[i]->shape, inputs[i]->ndim * sizeof(int64_t)))
            return tg_error(TG_EINPUT, "the tangent has shape %s but its variable has shape %s",
                            tg_shape_str(tangents[i], s1, sizeof s1), tg_shape_str(inputs[i], s2, sizeof s2));
    }
    tg_tensor *u = tg_zeros_like(y);
    if (!u)
        return tg_errcode();
    tg_set_requires_grad(u, true);
    tg_tensor *g[256];
    tg_status st = tg_grad(y, tg_ref(u), inputs, n, true, g);
    tg_tensor *s = NULL;
    for (int i = 0; i < n && st == TG_OK; i++) {
        tg_tensor *term = tg_sum(tg_mul(g[i], tg_cast(tg_ref(tangents[i]), inputs[i]->dtype)), NULL, 0, false);
        g[i] = NULL;
        s = s ? tg_add(s, term) : term;
        if (!s)
            st = tg_errcode();
    }
    if (st != TG_OK)
        for (int i = 0; i < n; i++)
            tg_release(g[i]);
    if (st == TG_OK && s)
        st = tg_grad(s, NULL, &u, 1, false, out);
    else if (st == TG_OK)
        st = (*out = tg_zeros_like(y)) ? TG_OK : tg_errcode();
    tg_release(s);
    tg_release(u);
    return st;
}

/* jacfwd: the Jacobian by forward mode, one jvp per input element with a
 * one-hot tangent; the same layout as tg_jacobian, y.shape + input.shape. */
tg_status tg_jacobian_fwd(tg_tensor *y, tg_tensor **inputs, int n, tg_tensor **jac)
{
    for (int i = 0; i < n; i++)
        jac[i] = NULL;
    tg_status st = TG_OK;
    for (int i = 0; i < n && st == TG_OK; i++) {
        int64_t m = inputs[i]->numel;
        tg_tensor **cols = tg_calloc((size_t)(m ? m : 1), sizeof *cols);
        tg_tensor *tangent[256] = {0};
        if (!cols)
            return TG_ERESOURCE;
        for (int j = 0; j < n && st == TG_OK; j++)
            if (!(tangent[j] = tg_zeros_like(inputs[j])))
                st = tg_errcode();
        for (int64_t k = 0; k < m && st == TG_OK; k++) {
            if (inputs[i]->dtype == TG_FLOAT32)
                ((float *)tg_data(tangent[i]))[k] = 1;
            else
                ((double *)tg_data(tangent[i]))[k] = 1;
            st = tg_jvp(y, inputs, tangent, n, &cols[k]);
            if (inputs[i]->dtype == TG_FLOAT32)
                ((float *)tg_data(tangent[i]))[k] = 0;
            else
                ((double *)tg_data(tangent[i]))[k] = 0;
        }
        /* cols[k] has y's shape: stack as (input..., y...) then move y's dims first */
        if (st == TG_OK) {
            tg_tensor *stacked = stack_rows(cols, m, inputs[i]->ndim, inputs[i]->shape, y);
            if (!stacked)
                st = tg_errcode();
            else {
                int perm[TG_MAX_DIMS], a = inputs[i]->ndim, b = y->ndim;
                for (int d = 0; d < b; d++)
                    perm[d] = a + d;
                for (int d = 0; d < a; d++)
                    perm[b + d] = d;
                jac[i] = tg_contiguous(tg_permute(stacked, perm));
                if (!jac[i])
                    st = tg_errcode();
            }
        }
        for (int64_t k = 0; k < m; k++)
            tg_release(cols[k]);
        tg_free(cols);
        for (int j = 0; j < n; j++)
            tg_release(tangent[j]);
    }
    if (st != TG_OK)
        for (int i = 0; i < n; i++) {
            tg_release(jac[i]);
            jac[i] = NULL;
        }
    return st;
}
