/* ops_loss.c -- linear, the losses of torch.nn.functional, dropout and
 * one_hot, written with the primitives so that their gradients (and
 * higher derivatives) come from the primitives' rules.  Each follows
 * PyTorch 1.13's formula: cross_entropy is nll_loss of log_softmax (label
 * smoothing as PyTorch mixes it in), binary_cross_entropy clamps the logs
 * at -100, binary_cross_entropy_with_logits is the stable form
 * (1 - y) x + lw (log(exp(-m) + exp(-x - m)) + m), m = max(-x, 0). */
#include "internal.h"
#include "nn.h"
#include <math.h>
#include <string.h>

static tg_tensor *fail2(tg_tensor *a, tg_tensor *b)
{
    tg_release(a);
    tg_release(b);
    return NULL;
}

tg_status tg_reduction_parse(const char *s, tg_reduction *out)
{
    static const char *names[] = {"none", "mean", "sum"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, names[i])) {
            *out = (tg_reduction)i;
            return TG_OK;
        }
    return tg_error(TG_EINPUT, "%s is not a valid value for reduction", s);
}

static tg_tensor *reduce(tg_tensor *loss, tg_reduction r)
{
    switch (r) {
    case TG_RED_NONE: return loss;
    case TG_RED_SUM: return tg_sum(loss, NULL, 0, false);
    default: return tg_mean(loss, NULL, 0, false);
    }
}

static tg_tensor *unary(int op, tg_tensor *x) { return tg_apply(op, 1, &x, NULL); }

static tg_tensor *clamp_min(tg_tensor *x, double lo)
{
    tg_attrs at;
    memset(&at, 0, sizeof at);
    at.clamp.has_lo = true;
    at.clamp.lo = lo;
    return tg_apply(TG_OP_CLAMP, 1, &x, &at);
}

static tg_tensor *as_float(tg_tensor *x)
{
    return x && !tg_dtype_is_float(x->dtype) ? tg_cast(x, tg_default_float) : x;
}

tg_tensor *tg_linear(tg_tensor *x, tg_tensor *w, tg_tensor *b)
{
    if (w && w->ndim > 2) {
        tg_error(TG_EINPUT, "linear: the weight must be 1-D or 2-D (out_features, in_features), got %d-D",
                 w->ndim);
        tg_release(b);
        return fail2(x, w);
    }
    tg_tensor *y = tg_matmul(x, tg_t(w));
    return b ? tg_add(y, b) : y;
}

tg_tensor *tg_mse_loss(tg_tensor *x, tg_tensor *y, tg_reduction r)
{
    tg_tensor *d = tg_sub(x, y);
    return tg_name_grad_fn(reduce(tg_mul(tg_ref(d), d), r), "MseLossBackward0");
}

tg_tensor *tg_l1_loss(tg_tensor *x, tg_tensor *y, tg_reduction r)
{
    return reduce(unary(TG_OP_ABS, tg_sub(x, y)), r);
}

/* ---- nll_loss and cross_entropy ---- */
/* checks input (C) or (N, C, d1, ...) against an int64 target () or
 * (N, d1, ...) and the weight; the class dim in *cd */
static tg_status check_class_shapes(const tg_tensor *x, const tg_tensor *t, const tg_tensor *w, int *cd)
{
    char s1[256], s2[256];
    if (x->ndim == 0)
        return tg_error(TG_EINPUT, "the input must have a class dim: (C) or (N, C, ...), got a 0-D tensor");
    *cd = x->ndim == 1 ? 0 : 1;
    /* PyTorch's loss kernels take the target and weight on the input's
     * device only (indexing alone takes cpu indices for a cuda tensor) */
    const tg_tensor *other = t->storage->device != x->storage->device ? t
                           : w && w->storage->device != x->storage->device ? w : NULL;
    if (other)
        return tg_error(TG_EINPUT, "expected all tensors to be on the same device, but found %s and %s (the %s)",
                        tg_device_name(x->storage->device), tg_device_name(other->storage->device),
                        other == t ? "target" : "weight");
    if (t->dtype != TG_INT64)
        return tg_error(TG_EINPUT, "expected scalar type Long but found %s for the target (class indices)",
                        tg_dtype_name(t->dtype));
    if (x->ndim >= 2 && t->ndim >= 1 && t->shape[0] != x->shape[0])
        return tg_error(TG_EINPUT, "Expected input batch_size (%lld) to match target batch_size (%lld).",
                        (long long)x->shape[0], (long long)t->shape[0]);
    bool ok = t->ndim == x->ndim - 1;
    for (int d = 0, k = 0; ok && d < x->ndim; d++)
        if (d != *cd)
            ok = t->shape[k++] == x->shape[d];
    if (!ok)
        return tg_error(TG_EINPUT, "the target's shape %s does not fit the input's %s (the input's without its "
                        "class dim %d)", tg_shape_str(t, s1, sizeof s1), tg_shape_str(x, s2, sizeof s2), *cd);
    if (w && (w->ndim != 1 || w->shape[0] != x->shape[*cd]))
        return tg_error(TG_EINPUT, "weight tensor should be defined either for all %lld classes or no classes "
                        "but got weight tensor of shape: %s", (long long)x->shape[*cd],
                        tg_shape_str(w, s1, sizeof s1));
    return TG_OK;
}

/* the targets with ignore_index replaced by 0 (safe to gather) and the
 * float mask of those kept; out-of-range targets are an error */
static tg_status safe_targets(const tg_tensor *t, int64_t nclass, int64_t ignore, tg_dtype dt, tg_tensor **safe,
                              tg_tensor **keep)
{
    *safe = tg_empty(TG_INT64, t->ndim, t->shape);
    *keep = tg_empty(dt, t->ndim, t->shape);
    if (!*safe || !*keep)
        return tg_errcode();
    int64_t bad;
    tg_status st = tg_cuda_targets(t, nclass, ignore, *safe, *keep, &bad); /* where all are on cuda */
    if (st == TG_OK && bad >= 0)
        return tg_error(TG_EINPUT, "Target %lld is out of bounds.", (long long)tg_get_i64(t, bad));
    if (st != TG_NO)
        return st;
    int64_t *sv = tg_data(*safe);
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t k = tg_get_i64(t, i);
        bool ignored = k == ignore;
        if (!ignored && (k < 0 || k >= nclass))
            return tg_error(TG_EINPUT, "Target %lld is out of bounds.", (long long)k);
        sv[i] = ignored ? 0 : k;
        if (dt == TG_FLOAT32)
            ((float *)tg_data(*keep))[i] = !ignored;
        else
            ((double *)tg_data(*keep))[i] = !ignored;
    }
    return TG_OK;
}

/* the weight as a shape that broadcasts along the class dim cd of x */
static tg_tensor *weight_along(const tg_tensor *w, const tg_tensor *x, int cd)
{
    int64_t shape[TG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        shape[d] = d == cd ? w->shape[0] : 1;
    return tg_reshape(tg_detach(tg_ref((tg_tensor *)w)), x->ndim, shape);
}

/* sum(loss) / sum(wt), wt a constant (borrowed).  With nothing kept
 * (every target ignored) PyTorch's value is 0/0 = NaN and its gradient 0:
 * so is this one's (not 0 * (1/0) = NaN) */
static tg_tensor *weighted_mean(tg_tensor *loss, const tg_tensor *wt)
{
    if (!loss || !wt)
        return fail2(loss, NULL);
    double total = 0;
    for (int64_t i = 0; i < wt->numel; i++)
        total += tg_get(wt, i);
    tg_dtype dt = loss->dtype;
    tg_tensor *s = tg_sum(loss, NULL, 0, false);
    if (total == 0)
        return tg_add(tg_mul(s, tg_scalar(0, dt)), tg_scalar(NAN, dt));
    return tg_div(s, tg_sum(tg_ref((tg_tensor *)wt), NULL, 0, false));
}

/* nll_loss of log-probabilities logp (consumed) with class indices t
 * (borrowed); with smoothing > 0, cross_entropy's label-smoothed mix */
static tg_tensor *class_loss(tg_tensor *logp, const tg_tensor *t, const tg_class_loss_opts *o, double smoothing)
{
    int cd;
    tg_tensor *safe = NULL, *keep = NULL;
    if (!logp || check_class_shapes(logp, t, o->weight, &cd) != TG_OK ||
        safe_targets(t, logp->shape[cd], o->ignore_index, logp->dtype, &safe, &keep) != TG_OK) {
        tg_release(keep);
        return fail2(logp, safe);
    }
    /* w_t: the weight of each target, 0 where ignored */
    tg_tensor *wt = tg_ref(keep);
    if (o->weight)
        wt = tg_mul(tg_cast(tg_index_tensor(tg_detach(tg_ref(o->weight)), 0, tg_ref(safe)), logp->dtype), wt);
    tg_tensor *picked = tg_squeeze(tg_gather(tg_ref(logp), cd, tg_unsqueeze(safe, cd)), (int64_t[]){cd});
    tg_tensor *loss = tg_neg(tg_mul(picked, tg_ref(wt)));
    if (o->reduction == TG_RED_SUM)
        loss = tg_sum(loss, NULL, 0, false);
    else if (o->reduction == TG_RED_MEAN)
        loss = weighted_mean(loss, wt);
    if (smoothing <= 0 || !loss) {
        tg_release(wt);
        tg_release(keep);
        tg_release(logp);
        return tg_name_grad_fn(loss, "NllLossBackward0");
    }
    /* PyTorch: (1 - s) * nll + s / C * smooth, smooth_i = -sum_c w_c logp_ic
     * where kept, reduced as nll is */
    int64_t nclass = logp->shape[cd];
    tg_tensor *wl = o->weight ? tg_mul(tg_ref(logp), weight_along(o->weight, logp, cd)) : tg_ref(logp);
    tg_tensor *smooth = tg_neg(tg_mul(tg_sum(wl, (int64_t[]){cd}, 1, false), keep));
    if (o->reduction == TG_RED_SUM)
        smooth = tg_sum(smooth, NULL, 0, false);
    else if (o->reduction == TG_RED_MEAN)
        smooth = weighted_mean(smooth, wt);
    tg_release(wt);
    tg_dtype dt = logp->dtype;
    tg_release(logp);
    return tg_add(tg_mul(loss, tg_scalar(1 - smoothing, dt)), tg_mul(smooth, tg_scalar(smoothing / (double)nclass, dt)));
}

static tg_status check_opts(const tg_class_loss_opts *o)
{
    if (!(o->label_smoothing >= 0 && o->label_smoothing <= 1))
        return tg_error(TG_EINPUT, "label_smoothing must be between 0.0 and 1.0. Got: %g", o->label_smoothing);
    return TG_OK;
}

tg_tensor *tg_nll_loss(tg_tensor *logp, tg_tensor *target, const tg_class_loss_opts *o)
{
    if (!logp || !target)
        return fail2(logp, target);
    tg_tensor *r = class_loss(as_float(logp), target, o, 0);
    tg_release(target);
    return r;
}

/* class probabilities: -(sum over the class dim of w * logp * t'), with
 * t' = t (1 - s) + s / C; the mean divides by the number of samples */
static tg_tensor *prob_loss(tg_tensor *logp, tg_tensor *t, const tg_class_loss_opts *o)
{
    if (!tg_dtype_is_float(t->dtype)) {
        tg_error(TG_EINPUT, "Expected floating point type for target with class probabilities, got %s",
                 tg_dtype_name(t->dtype));
        return fail2(logp, t);
    }
    int cd = logp->ndim == 1 ? 0 : 1;
    int64_t nclass = logp->shape[cd];
    if (o->weight && (o->weight->ndim != 1 || o->weight->shape[0] != nclass)) {
        char s[256];
        tg_error(TG_EINPUT, "weight tensor should be defined either for all %lld classes or no classes but got "
                 "weight tensor of shape: %s", (long long)nclass, tg_shape_str(o->weight, s, sizeof s));
        return fail2(logp, t);
    }
    double s = o->label_smoothing;
    tg_dtype dt = logp->dtype;
    if (s > 0)
        t = tg_add(tg_mul(t, tg_scalar(1 - s, dt)), tg_scalar(s / (double)nclass, dt));
    tg_tensor *prod = tg_mul(logp, t);
    if (prod && o->weight)
        prod = tg_mul(prod, weight_along(o->weight, prod, cd));
    if (!prod)
        return NULL;
    int64_t samples = prod->numel / (nclass ? nclass : 1);
    switch (o->reduction) {
    case TG_RED_NONE: return tg_neg(tg_sum(prod, (int64_t[]){cd}, 1, false));
    case TG_RED_SUM: return tg_neg(tg_sum(prod, NULL, 0, false));
    default: /* an empty input gives NaN, as 0/0 */
        return tg_name_grad_fn(tg_div(tg_neg(tg_sum(prod, NULL, 0, false)), tg_scalar((double)samples, dt)),
                               "DivBackward1"); /* PyTorch divides by a Python number */
    }
}

tg_tensor *tg_cross_entropy(tg_tensor *x, tg_tensor *target, const tg_class_loss_opts *o)
{
    if (!x || !target || check_opts(o) != TG_OK)
        return fail2(x, target);
    if (x->ndim == 0) {
        tg_error(TG_EINPUT, "cross_entropy: the input must have a class dim: (C) or (N, C, ...), got a 0-D tensor");
        return fail2(x, target);
    }
    int cd = x->ndim == 1 ? 0 : 1;
    tg_tensor *logp = tg_log_softmax(x, cd);
    if (!logp)
        return fail2(NULL, target);
    /* PyTorch takes a target of the input's shape as class probabilities */
    if (target->ndim == logp->ndim && !memcmp(target->shape, logp->shape, logp->ndim * sizeof(int64_t)))
        return prob_loss(logp, target, o);
    tg_tensor *r = class_loss(logp, target, o, o->label_smoothing);
    tg_release(target);
    return r;
}

/* ---- binary cross-entropy ---- */
static tg_status same_size(const tg_tensor *x, const tg_tensor *y, bool logits)
{
    if (x->ndim == y->ndim && !memcmp(x->shape, y->shape, x->ndim * sizeof(int64_t)))
        return TG_OK;
    char sx[256], sy[256];
    tg_shape_str(x, sx, sizeof sx);
    tg_shape_str(y, sy, sizeof sy);
    if (logits)
        return tg_error(TG_EINPUT, "Target size %s must be the same as input size %s", sy, sx);
    return tg_error(TG_EINPUT, "Using a target size %s that is different to the input size %s is deprecated. "
                    "Please ensure they have the same size.", sy, sx);
}

static tg_tensor *weighted(tg_tensor *loss, tg_tensor *weight)
{
    return weight ? tg_mul(loss, tg_ref(weight)) : loss;
}

/* max(log(v), -100), with v = 0 taken apart so that its gradient is 0,
 * not 0 * (1 / 0) = NaN (PyTorch's bounds x(1 - x) below by 1e-12
 * instead: there the gradients differ) */
static tg_tensor *safe_log(tg_tensor *v)
{
    if (!v)
        return NULL;
    tg_tensor *pos = tg_apply(TG_OP_GT, 2, (tg_tensor *[]){tg_ref(v), tg_scalar(0, v->dtype)}, NULL);
    tg_tensor *vs = tg_where(tg_ref(pos), tg_ref(v), tg_scalar(1, v->dtype));
    tg_tensor *lo = tg_scalar(-100, v->dtype);
    tg_release(v);
    return tg_where(pos, clamp_min(unary(TG_OP_LOG, vs), -100), lo);
}

tg_tensor *tg_binary_cross_entropy(tg_tensor *x, tg_tensor *y, tg_tensor *weight, tg_reduction r)
{
    if (!x || !y || same_size(x, y, false) != TG_OK)
        return fail2(x, y);
    x = as_float(x);
    for (int64_t i = 0; x && i < x->numel; i++) {
        double v = tg_get(x, i);
        if (!(v >= 0 && v <= 1)) {
            tg_error(TG_EINPUT, "all elements of input should be between 0 and 1");
            return fail2(x, y);
        }
    }
    tg_tensor *one = x ? tg_scalar(1, x->dtype) : NULL;
    tg_tensor *log_x = safe_log(tg_ref(x));
    tg_tensor *log_1mx = safe_log(tg_sub(tg_ref(one), x));
    /* -(y log x + (1 - y) log(1 - x)); y log x first: the other term
     * consumes y (C leaves the order of a call's arguments open) */
    tg_tensor *y_log_x = tg_mul(tg_ref(y), log_x);
    tg_tensor *loss = tg_neg(tg_add(y_log_x, tg_mul(tg_sub(one, y), log_1mx)));
    return tg_name_grad_fn(reduce(weighted(loss, weight), r), "BinaryCrossEntropyBackward0");
}

tg_tensor *tg_bce_with_logits(tg_tensor *x, tg_tensor *y, tg_tensor *weight, tg_tensor *pos_weight,
                              tg_reduction r)
{
    if (!x || !y || same_size(x, y, true) != TG_OK)
        return fail2(x, y);
    x = as_float(x);
    if (!x)
        return fail2(NULL, y);
    tg_dtype dt = x->dtype;
    /* m only keeps exp from overflowing: value and gradient do not depend on it */
    tg_tensor *m = tg_detach(clamp_min(tg_neg(tg_ref(x)), 0));
    tg_tensor *e1 = unary(TG_OP_EXP, tg_neg(tg_ref(m)));
    tg_tensor *e2 = unary(TG_OP_EXP, tg_sub(tg_neg(tg_ref(x)), tg_ref(m)));
    tg_tensor *core = tg_add(unary(TG_OP_LOG, tg_add(e1, e2)), m);
    if (pos_weight) /* log_weight = (pos_weight - 1) y + 1 */
        core = tg_mul(core, tg_add(tg_mul(tg_sub(tg_ref(pos_weight), tg_scalar(1, dt)), tg_ref(y)),
                                   tg_scalar(1, dt)));
    tg_tensor *loss = tg_add(tg_mul(tg_sub(tg_scalar(1, dt), y), x), core);
    return tg_name_grad_fn(reduce(weighted(loss, weight), r), "BinaryCrossEntropyWithLogitsBackward0");
}

/* ---- dropout and one_hot ---- */
/* Zeroes each element with probability p and scales the rest by 1/(1-p),
 * from the seeded generator (--seed): the same masks on every run, not
 * PyTorch's.  Off (x itself) when not training and under --no-grad. */
tg_tensor *tg_dropout(tg_tensor *x, double p, bool training)
{
    if (!x)
        return NULL;
    if (!(p >= 0 && p <= 1)) {
        tg_error(TG_EINPUT, "dropout probability has to be between 0 and 1, but got %g", p);
        return fail2(x, NULL);
    }
    if (!training || !tg_grad_enabled() || p == 0)
        return x;
    x = as_float(x);
    if (!x)
        return NULL;
    if (p == 1)
        return tg_mul(x, tg_scalar(0, x->dtype));
    tg_tensor *u = tg_rand(x->dtype, x->ndim, x->shape);
    /* kept where u < 1 - p, as bernoulli(1 - p) */
    tg_tensor *keep = tg_apply(TG_OP_LT, 2, (tg_tensor *[]){u, tg_scalar(1 - p, x->dtype)}, NULL);
    tg_tensor *mask = tg_mul(tg_cast(keep, x->dtype), tg_scalar(1 / (1 - p), x->dtype));
    return tg_mul(x, mask);
}

/* r = one_hot(t, n) for a contiguous t, or *bad: the position of the
 * first class out of range */
static tg_status one_hot_host(const tg_tensor *t, int64_t n, tg_tensor *r, int64_t *bad)
{
    const int64_t *tv = tg_data(t);
    for (int64_t i = 0; i < t->numel; i++)
        if (tv[i] < 0 || tv[i] >= n) {
            *bad = i;
            return TG_OK;
        }
    int64_t *rv = tg_data(r);
    memset(rv, 0, (size_t)r->numel * sizeof *rv);
    for (int64_t i = 0; i < t->numel; i++)
        rv[i * n + tv[i]] = 1;
    return TG_OK;
}

tg_tensor *tg_one_hot(tg_tensor *t, int64_t num_classes)
{
    if (!t)
        return NULL;
    if (t->dtype != TG_INT64) {
        tg_error(TG_EINPUT, "one_hot is only applicable to index tensor.");
        return fail2(t, NULL);
    }
    int64_t n = num_classes;
    if (n == -1) {
        if (t->numel == 0) {
            tg_error(TG_EINPUT, "Can not infer total number of classes from empty tensor.");
            return fail2(t, NULL);
        }
        n = 0;
        for (int64_t i = 0; i < t->numel; i++)
            n = tg_get_i64(t, i) + 1 > n ? tg_get_i64(t, i) + 1 : n;
    } else if (n < -1) {
        tg_error(TG_EINPUT, "num_classes should be -1 or a non-negative number, got %lld", (long long)n);
        return fail2(t, NULL);
    }
    if (t->ndim + 1 > TG_MAX_DIMS) {
        tg_error(TG_EINPUT, "one_hot: the result would have more than %d dimensions", TG_MAX_DIMS);
        return fail2(t, NULL);
    }
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, t->shape, t->ndim * sizeof *shape);
    shape[t->ndim] = n;
    t = tg_contiguous(t);
    tg_tensor *r = t ? tg_empty(TG_INT64, t->ndim + 1, shape) : NULL;
    int64_t bad = -1;
    tg_status st = r ? tg_cuda_one_hot(t, n, r, &bad) : TG_ERESOURCE; /* where t and r are on cuda */
    if (st == TG_NO)
        st = one_hot_host(t, n, r, &bad);
    if (st == TG_OK && bad >= 0)
        st = tg_error(TG_EINPUT, tg_get_i64(t, bad) < 0 ? "Class values must be non-negative."
                                                        : "Class values must be smaller than num_classes.");
    tg_release(t);
    if (st != TG_OK) {
        tg_release(r);
        return NULL;
    }
    return r;
}
