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
        tg_tensor **saved = tg_calloc(n ? (size_t)n : 1, sizeof *saved);
        if (!saved) {
            tg_release(g);
            return TG_ERESOURCE;
        }
        for (int i = 0; i < n; i++) {
            saved[i] = inputs[i]->grad;
            inputs[i]->grad = NULL;
        }
        st = tg_backward(y, g, true, create_graph);
        for (int i = 0; i < n; i++) {
            out[i] = inputs[i]->grad;
            inputs[i]->grad = saved[i];
        }
        tg_free(saved);
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

/* ---- the whole result, sized before any work ---- */
/* "WHAT would be ROWS x COLS DTYPE" checked against memory (status 4), then
 * the passes' work against the limit of work (status 3): `passes` backward
 * passes, each reading at least `per_pass` elements. */
static tg_status check_result(const char *what, int64_t rows, int64_t cols, const char *dtype, double bytes,
                              int64_t passes, int64_t per_pass)
{
    char desc[160];
    snprintf(desc, sizeof desc, "%s would be %lld x %lld %s", what, (long long)rows, (long long)cols, dtype);
    tg_status st = tg_check_fits(bytes, desc);
    if (st != TG_OK)
        return st;
    if ((double)passes * (double)per_pass > (double)tg_get_max_work()) /* in double: no overflow */
        return tg_error(TG_EINPUT, "%s needs %lld backward passes over %lld elements each, more work than "
                        "the limit (%lld elements): ask for the gradient of a reduction instead", what,
                        (long long)passes, (long long)per_pass, (long long)tg_get_max_work());
    return TG_OK;
}

/* the dtype shared by the inputs, or "mixed-dtype" */
static const char *inputs_dtype(tg_tensor **inputs, int n)
{
    for (int i = 1; i < n; i++)
        if (inputs[i]->dtype != inputs[0]->dtype)
            return "mixed-dtype";
    return n ? tg_dtype_name(inputs[0]->dtype) : "float32";
}

/* an empty tensor of shape prefix + like's shape, in like's dtype */
static tg_tensor *empty_block(int pnd, const int64_t *prefix, const tg_tensor *like)
{
    int64_t shape[TG_MAX_DIMS];
    if (pnd + like->ndim > TG_MAX_DIMS) {
        tg_error(TG_EINPUT, "the result would have rank %d, above the limit of %d", pnd + like->ndim, TG_MAX_DIMS);
        return NULL;
    }
    memcpy(shape, prefix, pnd * sizeof *shape);
    memcpy(shape + pnd, like->shape, like->ndim * sizeof *shape);
    return tg_empty(like->dtype, pnd + like->ndim, shape);
}

/* writes row r of out (out's leading dims flattened): t, like's shape,
 * cast to out's dtype; consumes t */
static tg_status put_row(tg_tensor *out, int64_t r, tg_tensor *t)
{
    bool old = tg_set_grad_enabled(false);
    tg_tensor *c = tg_contiguous(tg_detach(tg_cast(t, out->dtype)));
    tg_set_grad_enabled(old);
    if (!c)
        return tg_errcode();
    size_t per = (size_t)c->numel * tg_dtype_size(c->dtype);
    memcpy((char *)tg_data(out) + (size_t)r * per, tg_data(c), per);
    tg_release(c);
    return TG_OK;
}

/* sets element k of a float tensor to v */
static void set_element(tg_tensor *t, int64_t k, double v)
{
    if (t->dtype == TG_FLOAT32)
        ((float *)tg_data(t))[k] = (float)v;
    else
        ((double *)tg_data(t))[k] = v;
}

/* the one-hot upstream gradient for row r: `hot` is reused from row to row
 * while nothing else holds it or its storage (a gradient may be a view) */
static tg_tensor *one_hot(tg_tensor **hot, const tg_tensor *like, int64_t r)
{
    if (*hot && (__atomic_load_n(&(*hot)->refcount, __ATOMIC_ACQUIRE) > 1 ||
                 __atomic_load_n(&(*hot)->storage->refcount, __ATOMIC_ACQUIRE) > 1)) {
        tg_release(*hot);
        *hot = NULL;
    }
    if (!*hot && !(*hot = tg_zeros(like->dtype, like->ndim, like->shape)))
        return NULL;
    if (r > 0)
        set_element(*hot, r - 1, 0);
    set_element(*hot, r, 1);
    return tg_ref(*hot);
}

static void release_all(tg_tensor **t, int n)
{
    for (int i = 0; i < n; i++) {
        tg_release(t[i]);
        t[i] = NULL;
    }
}

/* Jacobians of y with respect to each input, y.shape + input.shape: one
 * backward pass per element of y with a one-hot upstream gradient.  The
 * whole result is sized first. */
tg_status tg_jacobian(tg_tensor *y, tg_tensor **inputs, int n, tg_tensor **jac)
{
    for (int i = 0; i < n; i++)
        jac[i] = NULL;
    if (!tg_dtype_is_float(y->dtype)) {
        char s[256];
        return tg_error(TG_EINPUT, "the result is %s of shape %s: only a floating-point result has a "
                        "Jacobian", tg_dtype_name(y->dtype), tg_shape_str(y, s, sizeof s));
    }
    int64_t m = y->numel, cols = 0;
    double bytes = 0;
    for (int i = 0; i < n; i++) {
        cols += inputs[i]->numel;
        bytes += (double)m * (double)inputs[i]->numel * (double)tg_dtype_size(inputs[i]->dtype);
    }
    tg_status st = check_result("the Jacobian", m, cols, inputs_dtype(inputs, n), bytes, m, m);
    for (int i = 0; i < n && st == TG_OK; i++)
        if (!(jac[i] = empty_block(y->ndim, y->shape, inputs[i])))
            st = tg_errcode();
    tg_tensor **g = st == TG_OK ? tg_calloc(n ? (size_t)n : 1, sizeof *g) : NULL;
    if (st == TG_OK && !g)
        st = TG_ERESOURCE;
    tg_tensor *hot = NULL;
    for (int64_t r = 0; r < m && st == TG_OK; r++) {
        tg_tensor *onehot = one_hot(&hot, y, r);
        st = onehot ? tg_grad(y, onehot, inputs, n, false, g) : tg_errcode();
        for (int i = 0; i < n && st == TG_OK; i++) {
            st = put_row(jac[i], r, g[i]);
            g[i] = NULL;
        }
        release_all(g, n);
    }
    tg_release(hot);
    tg_free(g);
    if (st != TG_OK)
        release_all(jac, n);
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
    int64_t cols = 0;
    double bytes = 0;
    for (int a = 0; a < n; a++) {
        cols += inputs[a]->numel;
        for (int b = 0; b < n; b++)
            bytes += (double)inputs[a]->numel * (double)inputs[b]->numel * (double)tg_dtype_size(inputs[b]->dtype);
    }
    tg_status st = check_result("the Hessian", cols, cols, inputs_dtype(inputs, n), bytes, cols, cols);
    if (st != TG_OK)
        return st;
    for (int a = 0; a < n && st == TG_OK; a++)
        for (int b = 0; b < n && st == TG_OK; b++)
            if (!(hess[a * n + b] = empty_block(inputs[a]->ndim, inputs[a]->shape, inputs[b])))
                st = tg_errcode();
    tg_tensor **g1 = st == TG_OK ? tg_calloc(2 * (size_t)(n ? n : 1), sizeof *g1) : NULL, **g2 = g1 ? g1 + n : NULL;
    if (st == TG_OK && !g1)
        st = TG_ERESOURCE;
    if (st == TG_OK)
        st = tg_grad(y, NULL, inputs, n, true, g1);
    for (int a = 0; a < n && st == TG_OK; a++)
        for (int64_t k = 0; k < inputs[a]->numel && st == TG_OK; k++) {
            tg_tensor *e = element(tg_ref(g1[a]), k);
            st = e ? tg_grad(e, NULL, inputs, n, false, g2) : tg_errcode();
            tg_release(e);
            for (int b = 0; b < n && st == TG_OK; b++) {
                st = put_row(hess[a * n + b], k, g2[b]);
                g2[b] = NULL;
            }
            release_all(g2, n);
        }
    if (g1)
        release_all(g1, n);
    tg_free(g1);
    if (st != TG_OK)
        release_all(hess, n * n);
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
    tg_tensor **g = tg_calloc(n ? (size_t)n : 1, sizeof *g);
    if (!g) {
        tg_release(u);
        return TG_ERESOURCE;
    }
    tg_status st = tg_grad(y, tg_ref(u), inputs, n, true, g);
    tg_tensor *s = NULL;
    for (int i = 0; i < n && st == TG_OK; i++) {
        tg_tensor *term = tg_sum(tg_mul(g[i], tg_cast(tg_ref(tangents[i]), inputs[i]->dtype)), NULL, 0, false);
        g[i] = NULL;
        s = s ? tg_add(s, term) : term;
        if (!s)
            st = tg_errcode();
    }
    release_all(g, n);
    tg_free(g);
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
    int64_t cols = 0;
    for (int i = 0; i < n; i++)
        cols += inputs[i]->numel;
    double bytes = (double)y->numel * (double)cols * (double)tg_dtype_size(y->dtype);
    tg_status st = check_result("the Jacobian", y->numel, cols, tg_dtype_name(y->dtype), bytes, cols, y->numel);
    tg_tensor **tangent = st == TG_OK ? tg_calloc(n ? (size_t)n : 1, sizeof *tangent) : NULL;
    if (st == TG_OK && !tangent)
        st = TG_ERESOURCE;
    for (int j = 0; j < n && st == TG_OK; j++)
        if (!(tangent[j] = tg_zeros_like(inputs[j])))
            st = tg_errcode();
    for (int i = 0; i < n && st == TG_OK; i++) {
        /* one jvp per element of input i, each y's shape: stacked as
         * (input..., y...), then y's dims moved first */
        int64_t m = inputs[i]->numel;
        tg_tensor *stacked = empty_block(inputs[i]->ndim, inputs[i]->shape, y);
        if (!stacked)
            st = tg_errcode();
        for (int64_t k = 0; k < m && st == TG_OK; k++) {
            tg_tensor *col;
            set_element(tangent[i], k, 1);
            st = tg_jvp(y, inputs, tangent, n, &col);
            set_element(tangent[i], k, 0);
            if (st == TG_OK)
                st = put_row(stacked, k, col);
        }
        if (st == TG_OK) {
            int perm[TG_MAX_DIMS], a = inputs[i]->ndim, b = y->ndim;
            for (int d = 0; d < b; d++)
                perm[d] = a + d;
            for (int d = 0; d < a; d++)
                perm[b + d] = d;
            if (!(jac[i] = tg_contiguous(tg_permute(stacked, perm))))
                st = tg_errcode();
        } else
            tg_release(stacked);
    }
    if (tangent)
        release_all(tangent, n);
    tg_free(tangent);
    if (st != TG_OK)
        release_all(jac, n);
    return st;
}
