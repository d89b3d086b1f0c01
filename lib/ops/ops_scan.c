/* ops_scan.c -- prod along a dim and cumsum: loops over a contiguous copy
 * of the input, viewed as [outer, len, inner] around the dim; backwards
 * written with ops.  int64 arithmetic wraps modulo 2^64 as PyTorch's. */
#include "ops_nn.h"
#include <string.h>

tg_status op_reduce_infer(tg_tensor **in, const tg_attrs *a, tg_tensor *out); /* ops_reduce.c */

typedef struct {
    int64_t outer, len, inner;
} around_dim;

static around_dim split_at(const tg_tensor *x, int dim)
{
    around_dim s = {1, 1, 1};
    for (int d = 0; d < x->ndim; d++) {
        if (d < dim)
            s.outer *= x->shape[d];
        else if (d == dim)
            s.len = x->shape[d];
        else
            s.inner *= x->shape[d];
    }
    return s;
}

/* a contiguous copy (or reference) of x made without recording a graph */
static tg_tensor *plain_copy(tg_tensor *x)
{
    bool old = tg_set_grad_enabled(false);
    tg_tensor *c = tg_contiguous(tg_ref(x));
    tg_set_grad_enabled(old);
    return c;
}

/* ---- prod ---- */
#define PROD_LOOP(T, ACC, MUL)                                                \
    do {                                                                      \
        const T *xv = tg_data(c);                                             \
        T *ov = tg_data(out);                                                 \
        for (int64_t o = 0; o < s.outer; o++)                                 \
            for (int64_t i = 0; i < s.inner; i++) {                           \
                ACC acc = 1;                                                  \
                for (int64_t k = 0; k < s.len; k++)                           \
                    acc = MUL(acc, (ACC)xv[(o * s.len + k) * s.inner + i]);   \
                ov[o * s.inner + i] = (T)acc;                                 \
            }                                                                 \
    } while (0)
#define TIMES(a, b) ((a) * (b))

tg_status op_fwd_prod(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    tg_tensor *c = plain_copy(in[0]);
    if (!c)
        return tg_error(TG_ERESOURCE, "%s: out of memory", tg_ops[op].name);
    around_dim s = split_at(c, (int)a->reduce.dims[0]);
    tg_status st = tg_cuda_scan(op, c, (int)a->reduce.dims[0], false, out);
    if (st != TG_NO) {
        tg_release(c);
        return st;
    }
    switch (c->dtype) {
    case TG_FLOAT32: PROD_LOOP(float, float, TIMES); break;
    case TG_FLOAT64: PROD_LOOP(double, double, TIMES); break;
    default: PROD_LOOP(int64_t, uint64_t, TIMES); break; /* bool is cast to int64 first */
    }
    tg_release(c);
    return TG_OK;
}

/* t (shaped as the result) with the reduced dim kept as size 1 */
static tg_tensor *keep_dim(tg_tensor *t, const tg_tensor *x, const tg_attrs *a)
{
    if (a->reduce.keepdim || !t)
        return t;
    tg_attrs k = *a;
    k.reduce.keepdim = true;
    tg_tensor shape = {.ndim = 0};
    op_reduce_infer((tg_tensor **)&x, &k, &shape);
    return tg_reshape(t, shape.ndim, shape.shape);
}

/* PyTorch's prod_backward: g * result / x where x has no zeros; the
 * product of the others where it has (for the one zero of a slice, the
 * product of its non-zero elements; 0 for all when a slice has two).
 * Zeros are replaced by 1 before dividing and multiplying, so that no
 * branch that where() drops makes a NaN in the gradient of the gradient. */
tg_status op_bw_prod(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = self->in[0];
    const tg_attrs *a = self->attrs;
    int64_t dim = a->reduce.dims[0];
    tg_tensor *zero = tg_apply(TG_OP_EQ, 2, (tg_tensor *[]){tg_ref(x), tg_scalar_like(0, x)}, NULL);
    tg_tensor *safe = tg_where(tg_ref(zero), tg_scalar_like(1, x), tg_ref(x));
    tg_tensor *zeros_in_slice = tg_sum(tg_ref(zero), &dim, 1, true);
    tg_tensor *one_zero = tg_apply(TG_OP_EQ, 2, (tg_tensor *[]){zeros_in_slice, tg_scalar_i64(1)}, NULL);
    tg_tensor *nonzero_prod = tg_prod(tg_ref(safe), &dim, true);
    tg_tensor *at_zero = tg_where(one_zero, nonzero_prod, tg_scalar_like(0, x));
    tg_tensor *others = tg_where(zero, at_zero, tg_div(keep_dim(tg_ref(self), x, a), safe));
    gin[0] = tg_mul(keep_dim(tg_ref(g), x, a), others);
    return TG_OK;
}

tg_tensor *tg_prod(tg_tensor *x, const int64_t *dim, bool keepdim)
{
    if (!x)
        return NULL;
    if (x->dtype == TG_BOOL) /* as torch.prod: bool multiplies as int64 */
        x = tg_cast(x, TG_INT64);
    if (!x)
        return NULL;
    if (!dim || x->ndim == 0) { /* every element: of the flattened tensor */
        tg_status st = TG_OK;
        if (dim)
            tg_norm_dim(*dim, x->ndim, "prod", &st);
        int64_t flat = -1, zero = 0;
        tg_tensor *r = st == TG_OK ? tg_prod(tg_reshape(x, 1, &flat), &zero, false) : NULL;
        if (st != TG_OK)
            tg_release(x);
        /* 0-D, as PyTorch's (keepdim or not); x.prod() is its own node there */
        return dim ? r : tg_name_grad_fn(r, "ProdBackward0");
    }
    tg_status st;
    int64_t d = tg_norm_dim(*dim, x->ndim, "prod", &st);
    if (st != TG_OK) {
        tg_release(x);
        return NULL;
    }
    tg_attrs at;
    memset(&at, 0, sizeof at);
    at.reduce.dims[0] = d;
    at.reduce.ndims = 1;
    at.reduce.keepdim = keepdim;
    return tg_apply(TG_OP_PROD, 1, &x, &at);
}

/* ---- cumsum ---- */
#define CUMSUM_LOOP(T, ACC)                                                   \
    do {                                                                      \
        const T *xv = tg_data(c);                                             \
        T *ov = tg_data(out);                                                 \
        for (int64_t o = 0; o < s.outer; o++)                                 \
            for (int64_t i = 0; i < s.inner; i++) {                           \
                ACC acc = 0;                                                  \
                for (int64_t j = 0; j < s.len; j++) {                         \
                    int64_t k = a->slice.step < 0 ? s.len - 1 - j : j;        \
                    int64_t at = (o * s.len + k) * s.inner + i;               \
                    acc += (ACC)xv[at];                                       \
                    ov[at] = (T)acc;                                          \
                }                                                             \
            }                                                                 \
    } while (0)

tg_status op_fwd_cumsum(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    tg_tensor *c = plain_copy(in[0]);
    if (!c)
        return tg_error(TG_ERESOURCE, "%s: out of memory", tg_ops[op].name);
    around_dim s = split_at(c, a->slice.dim);
    tg_status st = tg_cuda_scan(op, c, a->slice.dim, a->slice.step < 0, out);
    if (st != TG_NO) {
        tg_release(c);
        return st;
    }
    switch (c->dtype) {
    case TG_FLOAT32: CUMSUM_LOOP(float, double); break; /* PyTorch's CPU accumulates in double */
    case TG_FLOAT64: CUMSUM_LOOP(double, double); break;
    default: CUMSUM_LOOP(int64_t, uint64_t); break;
    }
    tg_release(c);
    return TG_OK;
}

/* the gradient of a running sum is the running sum of g from the end (and
 * that one's is the forward one again) */
tg_status op_bw_cumsum(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_attrs at = *self->attrs;
    at.slice.step = -at.slice.step;
    tg_tensor *gr = tg_ref(g);
    gin[0] = tg_apply(TG_OP_CUMSUM, 1, &gr, &at);
    return TG_OK;
}

tg_tensor *tg_cumsum(tg_tensor *x, int64_t dim)
{
    if (x && x->dtype == TG_BOOL) /* as torch.cumsum: bool sums as int64 */
        x = tg_cast(x, TG_INT64);
    if (!x)
        return NULL;
    tg_status st;
    int64_t d = tg_norm_dim(dim, x->ndim, "cumsum", &st);
    if (st != TG_OK) {
        tg_release(x);
        return NULL;
    }
    tg_attrs at;
    memset(&at, 0, sizeof at);
    at.slice.dim = (int)d;
    at.slice.step = 1;
    return tg_apply(TG_OP_CUMSUM, 1, &x, &at);
}
