/* ops_reduce.c -- sum, amax/amin and max/min along a dim.
 *
 * The forward walks the input once in memory order and accumulates into the
 * output, whose strides are 0 along the reduced dims; float32 accumulates in
 * double.  The order is fixed, so results never depend on threads. */
#include "internal.h"
#include <math.h>
#include <string.h>

/* output shape: reduced dims become 1 (keepdim) or disappear */
tg_status op_reduce_infer(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    const tg_tensor *x = in[0];
    bool red[TG_MAX_DIMS] = {0};
    for (int i = 0; i < a->reduce.ndims; i++)
        red[a->reduce.dims[i]] = true;
    int nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (a->reduce.all || red[d]) {
            if (a->reduce.keepdim)
                out->shape[nd++] = 1;
        } else
            out->shape[nd++] = x->shape[d];
    }
    out->ndim = nd;
    return tg_shape_check(nd, out->shape, &out->numel);
}

/* strides of the keepdim-shaped output, 0 along reduced dims */
static void reduced_strides(const tg_tensor *x, const tg_attrs *a, int64_t *ost)
{
    bool red[TG_MAX_DIMS] = {0};
    for (int i = 0; i < a->reduce.ndims; i++)
        red[a->reduce.dims[i]] = true;
    int64_t s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        if (a->reduce.all || red[d] || x->shape[d] == 1)
            ost[d] = 0;
        else {
            ost[d] = s;
            s *= x->shape[d];
        }
    }
}

enum { R_SUM, R_MAX, R_MIN };

/* acc[o] (op)= x over the input; acc is double or int64 per ACC */
#define REDUCE_LOOP(T, ACC, COMBINE)                                          \
    do {                                                                      \
        const T *xp = base;                                                   \
        ACC *acc = accbuf;                                                    \
        for (int64_t it = 0; it < x->numel; it++) {                           \
            int64_t xo = 0, oo = 0;                                           \
            int64_t rem = it;                                                 \
            /* inner run: contiguous index along the last dim */              \
            int64_t last = x->shape[x->ndim - 1];                             \
            int64_t j0 = rem % last;                                          \
            rem /= last;                                                      \
            for (int d = x->ndim - 2; d >= 0; d--) {                          \
                int64_t id = rem % x->shape[d];                               \
                rem /= x->shape[d];                                           \
                xo += id * x->stride[d];                                      \
                oo += id * ost[d];                                            \
            }                                                                 \
            int64_t xs = x->stride[x->ndim - 1], os = ost[x->ndim - 1];       \
            if (os == 0) { /* into one output: kept in a register */          \
                ACC one = acc[oo], *r = &one;                                 \
                for (int64_t j = j0; j < last; j++, it++) {                   \
                    ACC v = (ACC)xp[xo + j * xs];                             \
                    COMBINE;                                                  \
                }                                                             \
                acc[oo] = one;                                                \
            } else                                                            \
                for (int64_t j = j0; j < last; j++, it++) {                   \
                    ACC v = (ACC)xp[xo + j * xs];                             \
                    ACC *r = &acc[oo + j * os];                               \
                    COMBINE;                                                  \
                }                                                             \
            it--;                                                             \
        }                                                                     \
    } while (0)

#define MAXC(v, r) (*r != *r) ? *r : (v != v || v > *r) ? v : *r
#define MINC(v, r) (*r != *r) ? *r : (v != v || v < *r) ? v : *r

/* The whole of a contiguous tensor: fixed blocks reduced in parallel, then
 * combined in block order, so the result is the same for any number of
 * threads.  float32 sums accumulate in double. */
#define BLOCK TG_SUM_BLOCK
#define SUM_LANES TG_SUM_PIECE
/* float32's lanes: eight independent vectors of double, as the additions'
 * latency, not the loads, bounds a sum; float64 keeps eight (its sums'
 * digits stay what they were) */
#define LANES(dt) TG_SUM_LANES_OF(dt)
#define LANE_SUM(T, L)                                                        \
    do {                                                                      \
        const T *v = x;                                                       \
        for (; i + (L) <= n; i += (L))                                        \
            for (int j = 0; j < (L); j++)                                     \
                acc[j] += v[i + j];                                           \
        for (; i < n; i++)                                                    \
            acc[0] += v[i];                                                   \
    } while (0)
/* adds n values into the lanes (element i to lane i % LANES, a last group
 * of fewer to lane 0 in order) */
TG_CLONES static void lanes_add(double *lanes, const void *x, int64_t n, tg_dtype dt)
{
    double acc[SUM_LANES];
    memcpy(acc, lanes, sizeof acc);
    int64_t i = 0;
    if (dt == TG_FLOAT32)
        LANE_SUM(float, SUM_LANES);
    else
        LANE_SUM(double, 8);
    memcpy(lanes, acc, sizeof acc);
}

/* the lanes' total, in a fixed tree (compile.c's fused sums use it too) */
double tg_sum_lanes_total(const double *lanes, tg_dtype dt)
{
    double acc[8];
    for (int j = 0; j < 8; j++)
        acc[j] = dt == TG_FLOAT32 ? ((lanes[j] + lanes[j + 8]) + (lanes[j + 16] + lanes[j + 24])) +
                                        ((lanes[j + 32] + lanes[j + 40]) + (lanes[j + 48] + lanes[j + 56]))
                                  : lanes[j];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

double tg_cpu_sum_run(const void *x, int64_t n, tg_dtype dt)
{
    double acc[SUM_LANES] = {0};
    lanes_add(acc, x, n, dt);
    return tg_sum_lanes_total(acc, dt);
}

/* Does the sum of all of a contiguous tensor of n elements of dtype dt
 * add lanes over blocks (reduce_all_contiguous), or one running sum? */
static bool sum_by_lanes(tg_dtype dt, int64_t n)
{
    /* float32 from 256 elements: the lanes' double sums round to the same
     * float32 as one running sum (a training step's sums of 10^4 elements
     * are then not bound by the latency of one addition after another) */
    return n >= (dt == TG_FLOAT32 ? 256 : 2 * BLOCK);
}

void tg_sum_stream_init(tg_sum_stream *s, tg_dtype dt, int64_t n)
{
    *s = (tg_sum_stream){.dt = dt, .lanes = sum_by_lanes(dt, n)};
}

/* a block's lanes into the total, in block order */
static void stream_block_done(tg_sum_stream *s)
{
    s->total += tg_sum_lanes_total(s->acc, s->dt);
    memset(s->acc, 0, sizeof s->acc);
}

void tg_sum_stream_add(tg_sum_stream *s, const void *x, int64_t len)
{
    if (!s->lanes) { /* the running sum of reduce()'s loop */
        for (int64_t i = 0; i < len; i++)
            s->total += s->dt == TG_FLOAT32 ? (double)((const float *)x)[i] : ((const double *)x)[i];
        return;
    }
    lanes_add(s->acc, x, len, s->dt);
    s->pos += len;
    if (s->pos % BLOCK == 0)
        stream_block_done(s);
}

double tg_sum_stream_end(tg_sum_stream *s)
{
    if (s->lanes && s->pos % BLOCK)
        stream_block_done(s); /* the last block, shorter */
    return s->total;
}

typedef struct {
    const tg_tensor *x;
    double *part;
} sum_job;

static void sum_item(int64_t b, void *ctx, int tid)
{
    const sum_job *J = ctx;
    (void)tid;
    const void *base = tg_data(J->x);
    int64_t n = J->x->numel - b * BLOCK < BLOCK ? J->x->numel - b * BLOCK : BLOCK;
    J->part[b] = tg_cpu_sum_run((const char *)base + b * BLOCK * (int64_t)tg_dtype_size(J->x->dtype), n, J->x->dtype);
}

static bool reduce_all_contiguous(int kind, const tg_tensor *x, tg_tensor *out)
{
    if (kind != 0 || !tg_dtype_is_float(x->dtype) || !tg_is_contiguous(x) || !sum_by_lanes(x->dtype, x->numel))
        return false;
    int64_t nb = (x->numel + BLOCK - 1) / BLOCK;
    double *part = tg_malloc((size_t)nb * sizeof *part);
    if (!part) {
        tg_error_clear(); /* the serial path needs no buffer this size */
        return false;
    }
    sum_job J = {x, part};
    /* a sum reads each element once: threads only for large ones */
    if (x->numel >= (1 << 20))
        tg_parallel_for(nb, sum_item, &J);
    else
        for (int64_t b = 0; b < nb; b++)
            sum_item(b, &J, 0);
    double s = 0;
    for (int64_t b = 0; b < nb; b++)
        s += part[b];
    tg_free(part);
    if (out->dtype == TG_FLOAT32)
        *(float *)tg_data(out) = (float)s;
    else
        *(double *)tg_data(out) = s;
    return true;
}

static tg_status reduce(int kind, tg_tensor *x, const tg_attrs *a, tg_tensor *out)
{
    int64_t ost[TG_MAX_DIMS];
    reduced_strides(x, a, ost);
    if (x->storage->device == TG_DEV_CUDA) {
        tg_status st = tg_cuda_reduce(kind, x, ost, out);
        if (st != TG_NO)
            return st;
    }
    if (out->numel == 1 && reduce_all_contiguous(kind, x, out))
        return TG_OK;
    if (kind != R_SUM && x->numel == 0 && out->numel > 0)
        return tg_error(TG_EINPUT, "%s: cannot reduce over a dimension of size 0 (the "
                        "operation has no identity)", kind == R_MAX ? "max" : "min");
    bool integral = x->dtype == TG_INT64 || x->dtype == TG_BOOL;
    size_t accsz = integral ? sizeof(int64_t) : sizeof(double);
    void *accbuf = tg_malloc((size_t)(out->numel ? out->numel : 1) * accsz);
    if (!accbuf)
        return TG_ERESOURCE;
    double init = kind == R_SUM ? 0 : kind == R_MAX ? -INFINITY : INFINITY;
    for (int64_t i = 0; i < out->numel; i++) {
        if (integral)
            ((int64_t *)accbuf)[i] = kind == R_SUM ? 0 : kind == R_MAX ? INT64_MIN : INT64_MAX;
        else
            ((double *)accbuf)[i] = init;
    }
    const void *base = tg_data(x);
    if (x->numel && x->ndim == 0) {
        /* a 0-D tensor: the result is its value */
        if (integral)
            ((int64_t *)accbuf)[0] = tg_get_i64(x, 0);
        else
            ((double *)accbuf)[0] = tg_get(x, 0);
    } else if (x->numel) {
        switch (x->dtype) {
        case TG_FLOAT32:
            if (kind == R_SUM) REDUCE_LOOP(float, double, *r += v);
            else if (kind == R_MAX) REDUCE_LOOP(float, double, *r = MAXC(v, r));
            else REDUCE_LOOP(float, double, *r = MINC(v, r));
            break;
        case TG_FLOAT64:
            if (kind == R_SUM) REDUCE_LOOP(double, double, *r += v);
            else if (kind == R_MAX) REDUCE_LOOP(double, double, *r = MAXC(v, r));
            else REDUCE_LOOP(double, double, *r = MINC(v, r));
            break;
        case TG_INT64:
            if (kind == R_SUM) REDUCE_LOOP(int64_t, int64_t, *r = (int64_t)((uint64_t)*r + (uint64_t)v));
            else if (kind == R_MAX) REDUCE_LOOP(int64_t, int64_t, *r = v > *r ? v : *r);
            else REDUCE_LOOP(int64_t, int64_t, *r = v < *r ? v : *r);
            break;
        case TG_BOOL:
            if (kind == R_SUM) REDUCE_LOOP(bool, int64_t, *r += v);
            else if (kind == R_MAX) REDUCE_LOOP(bool, int64_t, *r = v > *r ? v : *r);
            else REDUCE_LOOP(bool, int64_t, *r = v < *r ? v : *r);
            break;
        default: break;
        }
    }
    void *o = tg_data(out);
    for (int64_t i = 0; i < out->numel; i++) {
        switch (out->dtype) {
        case TG_FLOAT32: ((float *)o)[i] = (float)((double *)accbuf)[i]; break;
        case TG_FLOAT64: ((double *)o)[i] = ((double *)accbuf)[i]; break;
        case TG_INT64: ((int64_t *)o)[i] = ((int64_t *)accbuf)[i]; break;
        default: ((bool *)o)[i] = ((int64_t *)accbuf)[i] != 0; break;
        }
    }
    tg_free(accbuf);
    return TG_OK;
}

tg_status op_fwd_sum(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)op;
    return reduce(R_SUM, in[0], a, out);
}

tg_status op_fwd_amax(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)op;
    return reduce(R_MAX, in[0], a, out);
}

tg_status op_fwd_amin(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)op;
    return reduce(R_MIN, in[0], a, out);
}

/* the gradient (or result) viewed with the reduced dims kept as size 1 */
static tg_tensor *keepdim_view(tg_tensor *t, const tg_tensor *x, const tg_attrs *a)
{
    if (a->reduce.keepdim || !t)
        return t;
    tg_attrs k = *a;
    k.reduce.keepdim = true;
    tg_tensor tmp = {.ndim = 0};
    op_reduce_infer((tg_tensor **)&x, &k, &tmp);
    return tg_reshape(t, tmp.ndim, tmp.shape);
}

tg_status op_bw_sum(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    const tg_tensor *x = self->in[0];
    gin[0] = tg_expand(keepdim_view(tg_ref(g), x, self->attrs), x->ndim, x->shape);
    return TG_OK;
}

/* amax/amin and max()/min() over everything: ties share the gradient evenly,
 * as PyTorch's amax backward and evenly_distribute_backward do. */
tg_status op_bw_aminmax(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    const tg_tensor *x = self->in[0];
    const tg_attrs *a = self->attrs;
    tg_tensor *mask = tg_apply(TG_OP_EQ, 2, (tg_tensor *[]){IN(self, 0), keepdim_view(tg_ref(self), x, a)}, NULL);
    tg_tensor *count = tg_sum(tg_ref(mask), a->reduce.all ? NULL : a->reduce.dims,
                              a->reduce.all ? 0 : a->reduce.ndims, true);
    tg_tensor *share = tg_div(keepdim_view(tg_ref(g), x, a), tg_cast(count, g->dtype));
    /* PyTorch's (g / count) * mask: where no element equals the result (a
     * NaN), every gradient is NaN, as there */
    gin[0] = tg_mul(share, tg_cast(mask, g->dtype));
    return TG_OK;
}

/* max(dim=d)/min(dim=d): the gradient goes to the element torch.max returns
 * the index of, the first extremal one (NaN counts as extremal). */
static tg_tensor *first_extremum_mask(const tg_tensor *x, const tg_tensor *res, int dim)
{
    bool old = tg_set_grad_enabled(false);
    tg_tensor *xc = tg_contiguous(tg_cast(tg_ref((tg_tensor *)x), TG_FLOAT64));
    tg_tensor *rc = tg_contiguous(tg_cast(tg_ref((tg_tensor *)res), TG_FLOAT64));
    tg_set_grad_enabled(old);
    tg_tensor *mask = xc && rc ? tg_zeros(TG_BOOL, x->ndim, x->shape) : NULL;
    if (mask) {
        int64_t outer = 1, len = x->ndim ? x->shape[dim] : 1, inner = 1;
        for (int d = 0; d < dim; d++) outer *= x->shape[d];
        for (int d = dim + 1; d < x->ndim; d++) inner *= x->shape[d];
        const double *xv = tg_data(xc), *rv = tg_data(rc);
        bool *m = tg_data(mask);
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                double r = rv[o * inner + i];
                for (int64_t k = 0; k < len; k++) {
                    double v = xv[(o * len + k) * inner + i];
                    if (v == r || (v != v && r != r)) {
                        m[(o * len + k) * inner + i] = true;
                        break;
                    }
                }
            }
    }
    tg_release(xc);
    tg_release(rc);
    return mask;
}

tg_status op_bw_minmax_dim(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    const tg_tensor *x = self->in[0];
    const tg_attrs *a = self->attrs;
    tg_tensor *res = keepdim_view(tg_ref(self), x, a);
    tg_tensor *mask = res ? first_extremum_mask(x, res, (int)a->reduce.dims[0]) : NULL;
    tg_release(res);
    gin[0] = tg_where(mask, keepdim_view(tg_ref(g), x, a), tg_scalar_like(0, g));
    return TG_OK;
}

/* ---- the public reductions ---- */
static tg_tensor *reduction(int op, tg_tensor *x, const int64_t *dims, int ndims, bool keepdim)
{
    if (!x)
        return NULL;
    tg_attrs a;
    memset(&a, 0, sizeof a);
    a.reduce.keepdim = keepdim;
    a.reduce.all = ndims == 0;
    if (ndims > TG_MAX_DIMS) {
        tg_release(x);
        tg_error(TG_EINPUT, "%s: too many dims", tg_ops[op].name);
        return NULL;
    }
    for (int i = 0; i < ndims; i++) {
        tg_status st;
        int64_t d = tg_norm_dim(dims[i], x->ndim, tg_ops[op].name, &st);
        if (st != TG_OK) {
            tg_release(x);
            return NULL;
        }
        for (int j = 0; j < a.reduce.ndims; j++)
            if (a.reduce.dims[j] == d) {
                tg_release(x);
                tg_error(TG_EINPUT, "%s: dim %lld appears more than once in the list of dims",
                         tg_ops[op].name, (long long)d);
                return NULL;
            }
        if (x->ndim)
            a.reduce.dims[a.reduce.ndims++] = d;
        else
            a.reduce.all = true;
    }
    return tg_apply(op, 1, &x, &a);
}

/* sum of bool or int64 is int64, as in PyTorch */
tg_tensor *tg_sum(tg_tensor *a, const int64_t *dims, int ndims, bool keepdim)
{
    if (a && a->dtype == TG_BOOL)
        a = tg_cast(a, TG_INT64);
    return reduction(TG_OP_SUM, a, dims, ndims, keepdim);
}

/* mean = sum / count, as PyTorch computes it (so the gradient is g / count) */
tg_tensor *tg_mean(tg_tensor *a, const int64_t *dims, int ndims, bool keepdim)
{
    if (!a)
        return NULL;
    if (!tg_dtype_is_float(a->dtype)) {
        tg_error(TG_EINPUT, "mean: could not infer output dtype: input is %s, mean needs a "
                 "float tensor (cast it with .float() or use sum)", tg_dtype_name(a->dtype));
        tg_release(a);
        return NULL;
    }
    int64_t count = 1;
    if (ndims == 0)
        count = a->numel;
    else
        for (int i = 0; i < ndims; i++) {
            tg_status st;
            int64_t d = tg_norm_dim(dims[i], a->ndim, "mean", &st);
            if (st != TG_OK) {
                tg_release(a);
                return NULL;
            }
            count *= a->ndim ? a->shape[d] : 1;
        }
    tg_dtype dt = a->dtype;
    return tg_name_grad_fn(tg_div(tg_sum(a, dims, ndims, keepdim), tg_scalar((double)count, dt)),
                           ndims ? "MeanBackward1" : "MeanBackward0");
}

tg_tensor *tg_amax(tg_tensor *a, const int64_t *dims, int ndims, bool keepdim)
{
    return reduction(TG_OP_AMAX, a, dims, ndims, keepdim);
}

tg_tensor *tg_amin(tg_tensor *a, const int64_t *dims, int ndims, bool keepdim)
{
    return reduction(TG_OP_AMIN, a, dims, ndims, keepdim);
}

tg_tensor *tg_max(tg_tensor *a, const int64_t *dim, bool keepdim)
{
    return dim ? reduction(TG_OP_MAX_DIM, a, dim, 1, keepdim)
               : tg_name_grad_fn(reduction(TG_OP_AMAX, a, NULL, 0, false), "MaxBackward1");
}

tg_tensor *tg_min(tg_tensor *a, const int64_t *dim, bool keepdim)
{
    return dim ? reduction(TG_OP_MIN_DIM, a, dim, 1, keepdim)
               : tg_name_grad_fn(reduction(TG_OP_AMIN, a, NULL, 0, false), "MinBackward1");
}
