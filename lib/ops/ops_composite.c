/* ops_composite.c -- ops built from other ops, so that their gradients (and
 * higher derivatives) come from the primitives' rules. */
#include "internal.h"
#include <math.h>
#include <string.h>

/* the shape of x reduced over dims without keepdim (all when ndims == 0) */
static tg_status reduced_shape(const tg_tensor *x, const int64_t *dims, int ndims, int *nd, int64_t *shape)
{
    bool red[TG_MAX_DIMS] = {0};
    for (int i = 0; i < ndims; i++) {
        tg_status st;
        int64_t d = tg_norm_dim(dims[i], x->ndim, "reduction", &st);
        if (st != TG_OK)
            return st;
        if (x->ndim)
            red[d] = true;
    }
    *nd = 0;
    for (int d = 0; d < x->ndim; d++)
        if (ndims && !red[d])
            shape[(*nd)++] = x->shape[d];
    return TG_OK;
}

/* logsumexp = m + log(sum(exp(x - m))), m = amax(x) detached (the shift only
 * guards against overflow; it changes neither value nor gradient).  Where m
 * is infinite the shift is 0, as in PyTorch. */
tg_tensor *tg_logsumexp(tg_tensor *x, const int64_t *dims, int ndims, bool keepdim)
{
    if (!x)
        return NULL;
    int nd;
    int64_t shape[TG_MAX_DIMS];
    if (reduced_shape(x, dims, ndims, &nd, shape) != TG_OK) {
        tg_release(x);
        return NULL;
    }
    if (!tg_dtype_is_float(x->dtype))
        x = tg_cast(x, tg_default_float);
    if (x && x->numel == 0) { /* log(sum(exp(empty))) = log(0) = -inf */
        tg_tensor *e = tg_apply(TG_OP_EXP, 1, &x, NULL);
        tg_tensor *r = tg_apply(TG_OP_LOG, 1, (tg_tensor *[]){tg_sum(e, dims, ndims, true)}, NULL);
        return tg_name_grad_fn(keepdim ? r : tg_reshape(r, nd, shape), "LogsumexpBackward0");
    }
    tg_tensor *m = tg_detach(tg_amax(tg_ref(x), dims, ndims, true));
    if (m) {
        tg_tensor *inf = tg_apply(TG_OP_EQ, 2, (tg_tensor *[]){tg_apply(TG_OP_ABS, 1, (tg_tensor *[]){tg_ref(m)}, NULL),
                                                               tg_scalar(INFINITY, m->dtype)}, NULL);
        m = tg_where(inf, tg_scalar(0, m->dtype), m);
    }
    tg_tensor *e = tg_apply(TG_OP_EXP, 1, (tg_tensor *[]){tg_sub(x, tg_ref(m))}, NULL);
    tg_tensor *s = tg_sum(e, dims, ndims, true);
    tg_tensor *r = tg_add(tg_apply(TG_OP_LOG, 1, &s, NULL), m);
    return tg_name_grad_fn(keepdim ? r : tg_reshape(r, nd, shape), "LogsumexpBackward0");
}

/* log_softmax = x - logsumexp(x, dim, keepdim) */
tg_tensor *tg_log_softmax(tg_tensor *x, int64_t dim)
{
    if (!x)
        return NULL;
    if (!tg_dtype_is_float(x->dtype))
        x = tg_cast(x, tg_default_float);
    return tg_name_grad_fn(tg_sub(tg_ref(x), tg_logsumexp(x, &dim, 1, true)), "LogSoftmaxBackward0");
}

/* softmax = exp(x - max) / sum(exp(x - max)) */
tg_tensor *tg_softmax(tg_tensor *x, int64_t dim)
{
    if (!x)
        return NULL;
    if (!tg_dtype_is_float(x->dtype))
        x = tg_cast(x, tg_default_float);
    if (x && x->numel == 0) { /* nothing to normalise: an empty result */
        tg_status st;
        tg_norm_dim(dim, x->ndim, "softmax", &st);
        if (st != TG_OK) {
            tg_release(x);
            return NULL;
        }
        return tg_name_grad_fn(tg_apply(TG_OP_EXP, 1, &x, NULL), "SoftmaxBackward0");
    }
    tg_tensor *m = tg_detach(tg_amax(tg_ref(x), &dim, 1, true));
    tg_tensor *e = tg_apply(TG_OP_EXP, 1, (tg_tensor *[]){tg_sub(x, m)}, NULL);
    tg_tensor *s = tg_sum(tg_ref(e), &dim, 1, true);
    return tg_name_grad_fn(tg_div(e, s), "SoftmaxBackward0");
}
