/* batch_rules.c -- --batch (vmap) rules for the functions that are not
 * elementwise (batch_rules.h).  Each rule lays its operands out with the
 * points along dim 0 (a shared operand expanded to every point, so that
 * its gradient is the sum of the points'), moves the dims a point names
 * past the batch dim, and runs the op once for all points.  Where the
 * layout is explicit, the op runs with vmap's broadcasting off (it would
 * align a batched operand's point dims again). */
#include "batch_rules.h"
#include "ops/ops_nn.h"
#include <math.h>
#include <string.h>

static tg_tensor *mark(tg_tensor *t)
{
    if (t)
        t->batched = true;
    return t;
}

static void release_n(tg_tensor **ts, int n)
{
    for (int i = 0; i < n; i++)
        tg_release(ts[i]);
}

/* a point's rank */
static int prank(const tg_tensor *t) { return t->ndim - (t->batched ? 1 : 0); }

bool tg_batch_any(tg_tensor *const *ts, int n)
{
    for (int i = 0; i < n; i++)
        if (ts[i] && ts[i]->batched)
            return true;
    return false;
}

/* the number of points: dim 0 of the batched ones, which must agree */
static tg_status points(tg_tensor *const *ts, int n, int64_t *np)
{
    *np = -1;
    for (int i = 0; i < n; i++) {
        if (!ts[i] || !ts[i]->batched)
            continue;
        if (*np >= 0 && ts[i]->shape[0] != *np)
            return tg_error(TG_EINPUT, "--batch: the operands have %lld and %lld points (dim 0 of the batched "
                            "variables must have one size)", (long long)*np, (long long)ts[i]->shape[0]);
        *np = ts[i]->shape[0];
    }
    return TG_OK;
}

/* t laid out for np points: a shared t expanded along a new dim 0
 * (consumed) */
static tg_tensor *spread(tg_tensor *t, int64_t np)
{
    if (!t || t->batched)
        return t;
    if (t->ndim + 1 > TG_MAX_DIMS) {
        tg_error(TG_EINPUT, "--batch: the result would have more than %d dimensions", TG_MAX_DIMS);
        tg_release(t);
        return NULL;
    }
    int64_t shape[TG_MAX_DIMS];
    shape[0] = np;
    memcpy(shape + 1, t->shape, (size_t)t->ndim * sizeof *shape);
    int nd = t->ndim + 1;
    return mark(tg_expand(tg_unsqueeze(t, 0), nd, shape));
}

/* a point's shape as text */
static const char *point_shape(const tg_tensor *t, char *buf, size_t n)
{
    int skip = t->batched ? 1 : 0;
    return tg_shape_str_raw(t->ndim - skip, t->shape + skip, buf, n);
}

static bool same_point_shape(const tg_tensor *a, const tg_tensor *b)
{
    int sa = a->batched ? 1 : 0, sb = b->batched ? 1 : 0;
    return prank(a) == prank(b) && !memcmp(a->shape + sa, b->shape + sb, (size_t)prank(a) * sizeof(int64_t));
}

/* ---- lists of tensors and gathers ---- */
tg_tensor *tg_batch_cat(tg_tensor **ts, int n, int64_t dim, bool stack)
{
    int64_t np;
    const char *op = stack ? "stack" : "cat";
    if (points(ts, n, &np) != TG_OK) {
        release_n(ts, n);
        return NULL;
    }
    /* cat skips a shared 1-D empty tensor beside others of another rank
     * (PyTorch's legacy rule); the first other one sets the rank */
    int ref = 0;
    while (!stack && ref < n - 1 && !ts[ref]->batched && ts[ref]->ndim == 1 && ts[ref]->numel == 0)
        ref++;
    int r = prank(ts[ref]), k = 0;
    tg_status st = TG_OK;
    for (int i = 0; i < n; i++) {
        bool skip = !stack && !ts[i]->batched && ts[i]->ndim == 1 && ts[i]->numel == 0 && r != 1;
        if (!stack && prank(ts[i]) == 0 && st == TG_OK)
            st = tg_error(TG_EINPUT, "zero-dimensional tensor (at position %d) cannot be concatenated", i);
        else if (!skip && prank(ts[i]) != r && st == TG_OK)
            st = tg_error(TG_EINPUT, "%s: tensors must have the same number of dimensions: got %d and %d", op, r,
                          prank(ts[i]));
        if (skip)
            tg_release(ts[i]);
        else
            ts[k++] = ts[i];
    }
    int64_t d = st == TG_OK ? tg_norm_dim(dim, stack ? r + 1 : r, op, &st) : 0;
    for (int i = 0; i < k && st == TG_OK; i++)
        if (!(ts[i] = spread(ts[i], np)))
            st = tg_errcode();
    if (st != TG_OK) {
        release_n(ts, k);
        return NULL;
    }
    bool old = tg_set_vmap(false);
    tg_tensor *out = stack ? tg_stack(ts, k, d + 1) : tg_cat(ts, k, d + 1);
    tg_set_vmap(old);
    return mark(out);
}

/* a point of rank 0 as rank 1 (gather takes those as 1-D) */
static tg_tensor *at_least_1d(tg_tensor *t)
{
    return t && t->ndim == 1 ? mark(tg_unsqueeze(t, 1)) : t;
}

tg_tensor *tg_batch_gather(tg_tensor *x, int64_t dim, tg_tensor *index)
{
    int64_t np;
    tg_status st = points((tg_tensor *[]){x, index}, 2, &np);
    int64_t d = st == TG_OK ? tg_norm_dim(dim, prank(x), "gather", &st) : 0;
    if (st != TG_OK) {
        tg_release(x);
        tg_release(index);
        return NULL;
    }
    bool index0 = prank(index) == 0;
    x = at_least_1d(spread(x, np));
    index = at_least_1d(spread(index, np));
    bool old = tg_set_vmap(false);
    tg_tensor *r = tg_gather(x, d + 1, index);
    tg_set_vmap(old);
    if (r && index0) /* a 0-D index gives a 0-D point */
        r = tg_reshape(r, 1, &np);
    return mark(r);
}

/* ---- advanced indexing ---- */
/* the broadcast rank of the subscripts' points */
static int run_rank(tg_tensor **ts, int k)
{
    int r = 0;
    for (int j = 0; j < k; j++)
        r = prank(ts[j]) > r ? prank(ts[j]) : r;
    return r;
}

/* a batched subscript's point dims aligned right within rank r (vmap's
 * broadcasting), so that its dim 0 meets the points' */
static tg_tensor *align_point(tg_tensor *t, int r)
{
    if (!t || !t->batched || prank(t) == r)
        return t;
    int64_t shape[TG_MAX_DIMS];
    int pad = r - prank(t);
    shape[0] = t->shape[0];
    for (int d = 1; d <= pad; d++)
        shape[d] = 1;
    memcpy(shape + 1 + pad, t->shape + 1, (size_t)prank(t) * sizeof *shape);
    return tg_reshape(t, r + 1, shape);
}

/* dim `from` of t moved to `to`, the others in order */
static tg_tensor *move_dim(tg_tensor *t, int from, int to)
{
    if (!t || from == to)
        return t;
    int perm[TG_MAX_DIMS], k = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (k == to)
            perm[k++] = from;
        if (d != from)
            perm[k++] = d;
    }
    if (k == to)
        perm[k++] = from;
    return tg_permute(t, perm);
}

tg_tensor *tg_batch_index_tensors(tg_tensor *x, int *dim, tg_tensor **ts, int k)
{
    int64_t np;
    tg_tensor *all[TG_MAX_DIMS + 1];
    all[0] = x;
    memcpy(all + 1, ts, (size_t)k * sizeof *ts);
    int bnd = run_rank(ts, k);
    if (points(all, k + 1, &np) != TG_OK) {
        release_n(all, k + 1);
        return NULL;
    }
    bool old = tg_set_vmap(false);
    tg_tensor *r;
    if (!tg_batch_any(ts, k)) { /* shared subscripts: each point indexed alike */
        r = tg_index_tensors(x, *dim, ts, k);
    } else {
        /* per-point subscripts: the point number as one more subscript,
         * with x's batch dim moved right before the indexed ones (where
         * advanced indexing leaves the subscripts' dims) */
        if (!x->batched) {
            x = spread(x, np);
            (*dim)++;
        }
        tg_tensor *run[TG_MAX_DIMS + 1];
        int64_t shape[TG_MAX_DIMS];
        shape[0] = np;
        for (int d = 1; d <= bnd; d++)
            shape[d] = 1;
        run[0] = tg_reshape(tg_arange(0, (double)np, 1, TG_INT64), bnd + 1, shape);
        for (int j = 0; j < k; j++)
            run[j + 1] = align_point(ts[j], bnd);
        r = move_dim(tg_index_tensors(move_dim(x, 0, *dim - 1), *dim - 1, run, k + 1), *dim - 1, 0);
    }
    tg_set_vmap(old);
    *dim += bnd;
    return mark(r);
}

tg_tensor *tg_batch_index_mask(tg_tensor *x, int *dim, tg_tensor *mask)
{
    if (mask->batched) {
        tg_release(x);
        tg_release(mask);
        tg_error(TG_EINPUT, "indexing with a bool mask that differs from point to point gives each point a "
                 "shape of its own, which --batch cannot stack (torch.func.vmap refuses it too): evaluate "
                 "point by point with --lines, or use where()");
        return NULL;
    }
    bool old = tg_set_vmap(false);
    tg_tensor *r = tg_index_mask(x, *dim, mask);
    tg_set_vmap(old);
    *dim += 1;
    return mark(r);
}

/* ---- losses ---- */
/* each point's loss reduced as reduction= says */
static tg_tensor *point_reduce(tg_tensor *loss, tg_reduction r)
{
    if (!loss || r == TG_RED_NONE || loss->ndim <= 1)
        return mark(loss);
    int64_t dims[TG_MAX_DIMS];
    for (int d = 1; d < loss->ndim; d++)
        dims[d - 1] = d;
    int nd = loss->ndim - 1;
    return mark(r == TG_RED_SUM ? tg_sum(loss, dims, nd, false) : tg_mean(loss, dims, nd, false));
}

tg_tensor *tg_batch_loss(int kind, tg_tensor *x, tg_tensor *y, tg_tensor *weight, tg_tensor *pos_weight,
                         tg_reduction r)
{
    int64_t np;
    tg_status st = points((tg_tensor *[]){x, y, weight, pos_weight}, 4, &np);
    if (st == TG_OK && kind >= 2 && !same_point_shape(x, y)) { /* binary cross-entropy: one shape */
        char sx[256], sy[256];
        point_shape(x, sx, sizeof sx);
        point_shape(y, sy, sizeof sy);
        st = kind == 3 ? tg_error(TG_EINPUT, "Target size %s must be the same as input size %s", sy, sx)
                       : tg_error(TG_EINPUT, "Using a target size %s that is different to the input size %s is "
                                  "deprecated. Please ensure they have the same size.", sy, sx);
    }
    if (st != TG_OK) {
        tg_release(x);
        tg_release(y);
        return NULL;
    }
    if (kind >= 2) {
        x = spread(x, np);
        y = spread(y, np);
    }
    /* elementwise ('none'), with vmap's broadcasting; then per point */
    switch (kind) {
    case 0: return point_reduce(tg_mse_loss(x, y, TG_RED_NONE), r);
    case 1: return point_reduce(tg_l1_loss(x, y, TG_RED_NONE), r);
    case 2: return point_reduce(tg_binary_cross_entropy(x, y, weight, TG_RED_NONE), r);
    default: return point_reduce(tg_bce_with_logits(x, y, weight, pos_weight, TG_RED_NONE), r);
    }
}

/* checks a point's input (C) or (B, C, d...) against its target: class
 * indices (B, d...) or probabilities of the input's shape (*probs) */
static tg_status check_class_points(bool ce, const tg_tensor *x, const tg_tensor *t, bool *probs)
{
    char s1[256], s2[256];
    int rx = prank(x), rt = prank(t), sx = x->batched ? 1 : 0, st = t->batched ? 1 : 0;
    if (rx == 0)
        return tg_error(TG_EINPUT, "%sthe input must have a class dim: (C) or (N, C, ...), got a 0-D tensor",
                        ce ? "cross_entropy: " : "");
    *probs = ce && same_point_shape(x, t);
    if (*probs)
        return TG_OK;
    if (rx >= 2 && rt >= 1 && t->shape[st] != x->shape[sx])
        return tg_error(TG_EINPUT, "Expected input batch_size (%lld) to match target batch_size (%lld).",
                        (long long)x->shape[sx], (long long)t->shape[st]);
    int cd = rx == 1 ? 0 : 1;
    bool ok = rt == rx - 1;
    for (int d = 0, k = 0; ok && d < rx; d++)
        if (d != cd)
            ok = t->shape[st + k++] == x->shape[sx + d];
    if (!ok)
        return tg_error(TG_EINPUT, "the target's shape %s does not fit the input's %s (the input's without its "
                        "class dim %d)", point_shape(t, s1, sizeof s1), point_shape(x, s2, sizeof s2), cd);
    return TG_OK;
}

/* dims 0 and 1 of t merged: the points' samples as one batch */
static tg_tensor *merge_points(tg_tensor *t)
{
    if (!t)
        return t;
    int64_t shape[TG_MAX_DIMS];
    shape[0] = t->shape[0] * t->shape[1]; /* at most t's numel */
    memcpy(shape + 1, t->shape + 2, (size_t)(t->ndim - 2) * sizeof *shape);
    return tg_reshape(t, t->ndim - 1, shape);
}

/* per point: sum / denom, NaN where denom is 0 (every target ignored:
 * PyTorch's 0/0, with a gradient of 0) */
static tg_tensor *divide_or_nan(tg_tensor *sum, tg_tensor *denom)
{
    if (!sum || !denom) {
        tg_release(sum);
        tg_release(denom);
        return NULL;
    }
    tg_dtype dt = sum->dtype;
    tg_tensor *none = tg_apply(TG_OP_EQ, 2, (tg_tensor *[]){tg_ref(denom), tg_scalar(0, dt)}, NULL);
    tg_tensor *safe = tg_where(tg_ref(none), tg_scalar(1, dt), denom);
    return tg_where(none, tg_scalar(NAN, dt), tg_div(sum, safe));
}

/* each point's weight of its kept targets: nll_loss of -1 everywhere */
static tg_tensor *kept_weight(const tg_tensor *x, tg_tensor *t, const tg_class_loss_opts *o)
{
    tg_class_loss_opts none = *o;
    none.reduction = TG_RED_NONE;
    none.label_smoothing = 0;
    tg_dtype dt = tg_dtype_is_float(x->dtype) ? x->dtype : tg_default_float;
    return tg_nll_loss(tg_full(dt, x->ndim, x->shape, -1), t, &none);
}

tg_tensor *tg_batch_class_loss(bool ce, tg_tensor *x, tg_tensor *t, const tg_class_loss_opts *o)
{
    int64_t np;
    bool probs = false;
    tg_status st = points((tg_tensor *[]){x, t}, 2, &np);
    if (st == TG_OK && o->weight && o->weight->batched)
        st = tg_error(TG_EINPUT, "%s: a weight that differs from point to point is not supported with --batch "
                      "(evaluate point by point with --lines)", ce ? "cross_entropy" : "nll_loss");
    if (st == TG_OK)
        st = check_class_points(ce, x, t, &probs);
    if (st != TG_OK) {
        tg_release(x);
        tg_release(t);
        return NULL;
    }
    /* the sample dims of a point's loss ('none'): the target's, or the
     * input's without the class dim */
    int64_t shape[TG_MAX_DIMS];
    int rx = prank(x), nd = 1;
    shape[0] = np;
    for (int d = 0; d < rx; d++)
        if (d != (rx == 1 ? 0 : 1))
            shape[nd++] = x->shape[d + (x->batched ? 1 : 0)];
    x = spread(x, np);
    t = spread(t, np);
    if (rx >= 2) { /* (N, B, C, d...): the points' samples as one batch of N B */
        x = merge_points(x);
        t = merge_points(t);
    }
    tg_class_loss_opts none = *o;
    none.reduction = TG_RED_NONE;
    bool old = tg_set_vmap(false);
    tg_tensor *wt = x && t && !probs && o->reduction == TG_RED_MEAN ? kept_weight(x, tg_ref(t), o) : NULL;
    tg_tensor *loss = ce ? tg_cross_entropy(x, t, &none) : tg_nll_loss(x, t, &none);
    tg_set_vmap(old);
    loss = tg_reshape(loss, nd, shape);
    if (o->reduction == TG_RED_NONE || !loss) {
        tg_release(wt);
        return mark(loss);
    }
    int64_t samples = 1;
    for (int d = 1; d < nd; d++)
        samples *= shape[d];
    tg_tensor *sum = point_reduce(loss, TG_RED_SUM);
    if (o->reduction == TG_RED_SUM)
        return sum;
    if (probs) /* the mean over the samples */
        return mark(tg_div(sum, tg_scalar((double)samples, sum ? sum->dtype : TG_FLOAT32)));
    return mark(divide_or_nan(sum, point_reduce(tg_reshape(wt, nd, shape), TG_RED_SUM)));
}

/* ---- shape functions ---- */
/* a point's dim d (of a rank-r point) as a dim of the batched tensor */
static bool batch_dim(int64_t d, int r, const char *op, int64_t *out)
{
    tg_status st;
    *out = tg_norm_dim(d, r, op, &st) + 1;
    return st == TG_OK;
}

static tg_tensor *fail(tg_tensor *x)
{
    tg_release(x);
    return NULL;
}

/* [N] + shape[0..nd), or an error past the limit of dims */
static bool with_points(const tg_tensor *x, int nd, const int64_t *shape, int64_t *out)
{
    if (nd + 1 > TG_MAX_DIMS) {
        tg_error(TG_EINPUT, "--batch: the result would have more than %d dimensions", TG_MAX_DIMS);
        return false;
    }
    out[0] = x->shape[0];
    memcpy(out + 1, shape, (size_t)nd * sizeof *out);
    return true;
}

tg_tensor *tg_batch_reshape(tg_tensor *x, int nd, const int64_t *shape)
{
    int64_t s[TG_MAX_DIMS];
    if (!with_points(x, nd, shape, s))
        return fail(x);
    return mark(tg_reshape(x, nd + 1, s));
}

tg_tensor *tg_batch_expand(tg_tensor *x, int nd, const int64_t *shape)
{
    int r = prank(x);
    if (nd < r) {
        tg_error(TG_EINPUT, "expand: the number of sizes provided (%d) must be greater or equal to the number "
                 "of dimensions in the tensor (%d)", nd, r);
        return fail(x);
    }
    for (int d = 0; d < nd - r; d++)
        if (shape[d] < 0) {
            tg_error(TG_EINPUT, "expand: the expanded size of the tensor (%lld) isn't allowed in a leading, "
                     "non-existing dimension %d", (long long)shape[d], d);
            return fail(x);
        }
    int64_t s[TG_MAX_DIMS], ones[TG_MAX_DIMS];
    for (int d = 0; d < nd - r; d++)
        ones[d] = 1;
    memcpy(ones + nd - r, x->shape + 1, (size_t)r * sizeof *ones);
    if (!with_points(x, nd, ones, s))
        return fail(x);
    x = mark(tg_reshape(x, nd + 1, s)); /* the new dims after the batch dim */
    if (!x || !with_points(x, nd, shape, s))
        return fail(x);
    return mark(tg_expand(x, nd + 1, s));
}

tg_tensor *tg_batch_permute(tg_tensor *x, int nd, const int64_t *dims)
{
    int r = prank(x), perm[TG_MAX_DIMS];
    if (nd != r) {
        tg_error(TG_EINPUT, "permute: %d dims given for a tensor of dimension %d", nd, r);
        return fail(x);
    }
    perm[0] = 0;
    for (int i = 0; i < nd; i++) {
        int64_t d;
        if (!batch_dim(dims[i], r, "permute", &d))
            return fail(x);
        perm[i + 1] = (int)d;
    }
    return mark(tg_permute(x, perm));
}

tg_tensor *tg_batch_transpose(tg_tensor *x, int64_t d0, int64_t d1)
{
    int64_t a, b;
    if (!batch_dim(d0, prank(x), "transpose", &a) || !batch_dim(d1, prank(x), "transpose", &b))
        return fail(x);
    if (prank(x) == 0) /* a 0-D point: nothing to swap */
        return x;
    return mark(tg_transpose(x, a, b));
}

tg_tensor *tg_batch_unsqueeze(tg_tensor *x, int64_t dim)
{
    int64_t d;
    if (!batch_dim(dim, prank(x) + 1, "unsqueeze", &d))
        return fail(x);
    return mark(tg_unsqueeze(x, d));
}

tg_tensor *tg_batch_squeeze(tg_tensor *x, const int64_t *dim)
{
    int64_t shape[TG_MAX_DIMS];
    int nd = 0;
    if (dim) {
        int64_t d;
        if (!batch_dim(*dim, prank(x), "squeeze", &d))
            return fail(x);
        if (prank(x) == 0 || x->shape[d] != 1)
            return x;
        for (int k = 1; k < x->ndim; k++)
            if (k != d)
                shape[nd++] = x->shape[k];
    } else {
        for (int k = 1; k < x->ndim; k++)
            if (x->shape[k] != 1)
                shape[nd++] = x->shape[k];
    }
    return tg_batch_reshape(x, nd, shape);
}

tg_tensor *tg_batch_flatten(tg_tensor *x, int64_t start, int64_t end)
{
    int r = prank(x);
    int64_t s, e;
    if (!batch_dim(start, r, "flatten", &s) || !batch_dim(end, r, "flatten", &e))
        return fail(x);
    if (s > e) {
        tg_error(TG_EINPUT, "flatten() has invalid args: start_dim cannot come after end_dim");
        return fail(x);
    }
    int64_t shape[TG_MAX_DIMS];
    int nd = 0;
    if (r == 0) /* a 0-D point becomes 1-D, as in PyTorch */
        shape[nd++] = 1;
    for (int d = 1; d < x->ndim; d++) {
        if (d <= s || d > e)
            shape[nd++] = x->shape[d];
        else
            shape[nd - 1] *= x->shape[d]; /* the product is x's numel at most */
    }
    return tg_batch_reshape(x, nd, shape);
}

tg_tensor *tg_batch_repeat(tg_tensor *x, int n, const int64_t *reps)
{
    int r = prank(x);
    if (n < r) {
        tg_error(TG_EINPUT, "Number of dimensions of repeat dims can not be smaller than number of dimensions "
                 "of tensor");
        return fail(x);
    }
    int64_t ones[TG_MAX_DIMS], all[TG_MAX_DIMS + 1];
    for (int d = 0; d < n; d++)
        ones[d] = d < n - r ? 1 : x->shape[1 + d - (n - r)];
    if (!with_points(x, n, ones, all))
        return fail(x);
    x = mark(tg_reshape(x, n + 1, all));
    all[0] = 1;
    memcpy(all + 1, reps, (size_t)n * sizeof *all);
    return mark(tg_repeat(x, n + 1, all));
}

/* ---- reductions, scans and indices along a point's dims ---- */
int tg_batch_reduce_dims(tg_tensor **x, const int64_t *dims, int nd, const char *op, int64_t *out)
{
    int r = prank(*x);
    for (int i = 0; i < nd; i++)
        if (!batch_dim(dims[i], r, op, &out[i]))
            return -1;
    if (r == 0) { /* a 0-D point as one element along dim 1 */
        if (!(*x = mark(tg_unsqueeze(*x, 1))))
            return -1;
        out[0] = 1;
        return 1;
    }
    for (int d = 0; d < r && nd == 0; d++)
        out[d] = d + 1;
    return nd ? nd : r;
}

/* each point flattened: [N, P] */
static tg_tensor *flat_points(tg_tensor *x)
{
    int64_t shape[2] = {x->shape[0], 1};
    for (int d = 1; d < x->ndim; d++)
        shape[1] *= x->shape[d]; /* at most x's numel, or 0 */
    return mark(tg_reshape(x, 2, shape));
}

tg_tensor *tg_batch_argext(tg_tensor *x, const int64_t *dim, bool keepdim, bool is_max)
{
    int r = prank(x);
    const char *name = is_max ? "argmax" : "argmin";
    int64_t d = 1, shape[TG_MAX_DIMS];
    if (dim && !batch_dim(*dim, r, name, &d))
        return fail(x);
    if (!dim || r == 0) { /* over the point's elements, as if flattened */
        if (x->shape[0] > 0 && x->numel == 0) {
            tg_error(TG_EINPUT, "%s(): Expected reduction dim to be specified for input.numel() == 0.", name);
            return fail(x);
        }
        tg_tensor *flat = flat_points(x);
        tg_tensor *i = flat ? tg_arg_extremum(flat, &d, false, is_max) : NULL;
        tg_release(flat);
        shape[0] = i ? i->shape[0] : 0;
        for (int k = 1; k <= r; k++)
            shape[k] = 1;
        return mark(keepdim && !dim ? tg_reshape(i, r + 1, shape) : i);
    }
    tg_tensor *i = tg_arg_extremum(x, &d, keepdim, is_max);
    tg_release(x);
    return mark(i);
}

tg_tensor *tg_batch_prod(tg_tensor *x, const int64_t *dim, bool keepdim)
{
    int64_t d = 1;
    if (dim && !batch_dim(*dim, prank(x), "prod", &d))
        return fail(x);
    if (!dim || prank(x) == 0) /* the product of the point's elements */
        return mark(tg_prod(flat_points(x), &d, keepdim && dim));
    return mark(tg_prod(x, &d, keepdim));
}

tg_tensor *tg_batch_cumsum(tg_tensor *x, int64_t dim)
{
    int64_t d;
    if (!batch_dim(dim, prank(x), "cumsum", &d))
        return fail(x);
    if (prank(x) == 0) /* a 0-D point's running sum is itself */
        return mark(tg_apply(TG_OP_CONTIGUOUS, 1, &x, NULL));
    return mark(tg_cumsum(x, d));
}

tg_tensor *tg_batch_one_hot(tg_tensor *t, int64_t num_classes)
{
    if (num_classes < 0) {
        tg_error(TG_EINPUT, "one_hot with --batch needs num_classes= (inferred from the data, the number of "
                 "classes could differ from point to point, which torch.func.vmap refuses too)");
        return fail(t);
    }
    return mark(tg_one_hot(t, num_classes));
}
