/* ops_view.c -- reshape, expand, permute and slice as views (no copies),
 * plus the copies: contiguous and dtype casts. */
#include "internal.h"
#include <string.h>

tg_status op_infer_reshape(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)in;
    out->ndim = a->shape.ndim;
    memcpy(out->shape, a->shape.shape, a->shape.ndim * sizeof(int64_t));
    return tg_shape_check(out->ndim, out->shape, &out->numel);
}

tg_status op_infer_expand(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    return op_infer_reshape(in, a, out);
}

tg_status op_infer_permute(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    for (int d = 0; d < a->perm.ndim; d++)
        out->shape[d] = in[0]->shape[a->perm.perm[d]];
    return TG_OK;
}

/* ceil((stop - start) / step) without forming stop - start + step, which
 * overflows for a step near INT64_MAX */
static int64_t slice_len(int64_t start, int64_t stop, int64_t step)
{
    return stop > start ? (stop - start - 1) / step + 1 : 0;
}

tg_status op_infer_slice(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)in;
    out->shape[a->slice.dim] = slice_len(a->slice.start, a->slice.stop, a->slice.step);
    return tg_shape_check(out->ndim, out->shape, &out->numel);
}

/* every view shares input 0's storage with its own shape, strides, offset */
tg_status op_fwd_view(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    const tg_tensor *x = in[0];
    tg_share_storage(out, x);
    switch (op) {
    case TG_OP_RESHAPE: /* the input is contiguous (tg_reshape sees to it) */
        tg_set_contiguous_strides(out);
        break;
    case TG_OP_EXPAND: {
        int off = out->ndim - x->ndim;
        for (int d = 0; d < out->ndim; d++)
            out->stride[d] = d < off || x->shape[d - off] != out->shape[d] ? 0 : x->stride[d - off];
        break;
    }
    case TG_OP_PERMUTE:
        for (int d = 0; d < out->ndim; d++)
            out->stride[d] = x->stride[a->perm.perm[d]];
        break;
    case TG_OP_SLICE:
        memcpy(out->stride, x->stride, sizeof out->stride);
        if (out->shape[a->slice.dim] > 0)
            out->offset += a->slice.start * x->stride[a->slice.dim];
        out->stride[a->slice.dim] *= a->slice.step;
        break;
    default:
        return tg_error(TG_EINPUT, "%s is not a view", tg_ops[op].name);
    }
    return TG_OK;
}

#define G tg_ref(g)

tg_status op_bw_reshape(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_reshape(G, self->in[0]->ndim, self->in[0]->shape);
    return TG_OK;
}

tg_status op_bw_expand(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_sum_to(G, self->in[0]->ndim, self->in[0]->shape);
    return TG_OK;
}

tg_status op_bw_permute(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    int inv[TG_MAX_DIMS];
    for (int d = 0; d < self->attrs->perm.ndim; d++)
        inv[self->attrs->perm.perm[d]] = d;
    gin[0] = tg_permute(G, inv);
    return TG_OK;
}

/* slice_backward: the gradient placed into zeros of the input's shape;
 * its own backward is the slice again. */
tg_status op_bw_slice(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_attrs a = *self->attrs;
    a.shape.ndim = self->in[0]->ndim;
    memcpy(a.shape.shape, self->in[0]->shape, sizeof a.shape.shape);
    tg_tensor *gg = G;
    gin[0] = tg_apply(TG_OP_SLICE_BACKWARD, 1, &gg, &a);
    return TG_OK;
}

tg_status op_infer_slice_bw(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    return op_infer_reshape(in, a, out);
}

static tg_status copy_into(tg_tensor *dst, tg_tensor *src);

tg_status op_fwd_slice_bw(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)op;
    tg_status st = tg_cuda_zero(out); /* on the device where out is there */
    if (st == TG_NO)
        memset(tg_data(out), 0, out->storage->nbytes);
    else if (st != TG_OK)
        return st;
    tg_tensor view = *out; /* the slice of out, as a view on the stack */
    view.shape[a->slice.dim] = in[0]->shape[a->slice.dim];
    if (view.shape[a->slice.dim] > 0)
        view.offset += a->slice.start * out->stride[a->slice.dim];
    view.stride[a->slice.dim] *= a->slice.step;
    view.numel = in[0]->numel;
    return copy_into(&view, in[0]);
}

tg_status op_bw_slice_bw(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *gg = G;
    gin[0] = tg_apply(TG_OP_SLICE, 1, &gg, self->attrs);
    return TG_OK;
}

tg_status op_infer_cast(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)in;
    out->dtype = a->cast.dtype;
    return TG_OK;
}

/* ---- copies between layouts and dtypes (the conversion kernels: cpu_kernels.c) ---- */
/* dst may be a strided view when src is contiguous of the same shape; on
 * the device where both are there (a copy between devices: on the host) */
static tg_status copy_into(tg_tensor *dst, tg_tensor *src)
{
    tg_status st = tg_cuda_copy(dst, src);
    if (st != TG_NO)
        return st;
    if (tg_is_contiguous(dst)) {
        tg_loop(dst, 1, &src, tg_cpu_conv[src->dtype][dst->dtype], NULL);
        return TG_OK;
    }
    /* scatter: walk dst's view element by element (slice_backward only) */
    size_t sz = tg_dtype_size(dst->dtype);
    char *d = tg_data(dst);
    for (int64_t i = 0; i < dst->numel; i++) {
        int64_t off = 0, r = i;
        for (int k = dst->ndim - 1; k >= 0; k--) {
            off += (r % dst->shape[k]) * dst->stride[k];
            r /= dst->shape[k];
        }
        double v = tg_get(src, i);
        void *p = d + off * (int64_t)sz;
        switch (dst->dtype) {
        case TG_FLOAT32: *(float *)p = (float)v; break;
        case TG_FLOAT64: *(double *)p = v; break;
        case TG_INT64: *(int64_t *)p = tg_get_i64(src, i); break; /* exact, not through v */
        default: *(bool *)p = v != 0; break;
        }
    }
    return TG_OK;
}

tg_status op_fwd_copy(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)op, (void)a;
    return copy_into(out, in[0]);
}

/* A copy (x.contiguous(), or x.to(device): the copy made on another
 * device) passes its gradient back to its input's device, as PyTorch's
 * ToCopyBackward does: the gradient of a cpu leaf sent to cuda is on the
 * cpu.  The move is this op again, so that it is differentiable too. */
tg_status op_bw_contiguous(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    /* (an input whose values were let go, free_unsaved, is the CLI's, on
     * the device of the whole run) */
    const tg_storage *from = self->in[0]->storage;
    tg_device dev = from ? from->device : g->storage->device;
    if (g->storage->device == dev) {
        gin[0] = G;
        return TG_OK;
    }
    tg_device old = tg_get_device();
    tg_set_device(dev);
    gin[0] = tg_name_grad_fn(tg_apply(TG_OP_CONTIGUOUS, 1, (tg_tensor *[]){G}, NULL), "ToCopyBackward0");
    tg_set_device(old);
    return gin[0] ? TG_OK : tg_errcode();
}

tg_status op_bw_cast(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_cast(G, self->in[0]->dtype);
    return TG_OK;
}

/* ---- the public view functions ---- */
static tg_tensor *fail(tg_tensor *a) { tg_release(a); return NULL; }

tg_tensor *tg_contiguous(tg_tensor *a)
{
    if (!a || tg_is_contiguous(a))
        return a;
    return tg_apply(TG_OP_CONTIGUOUS, 1, &a, NULL);
}

tg_tensor *tg_cast(tg_tensor *a, tg_dtype dt)
{
    if (!a || a->dtype == dt)
        return a;
    tg_attrs at = {.cast.dtype = dt};
    return tg_apply(TG_OP_CAST, 1, &a, &at);
}

tg_tensor *tg_reshape(tg_tensor *a, int ndim, const int64_t *shape)
{
    if (!a)
        return NULL;
    tg_attrs at;
    memset(&at, 0, sizeof at);
    if (ndim > TG_MAX_DIMS) {
        tg_error(TG_EINPUT, "reshape: rank %d exceeds the limit of %d", ndim, TG_MAX_DIMS);
        return fail(a);
    }
    int infer = -1;
    int64_t known = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == -1) {
            if (infer >= 0) {
                tg_error(TG_EINPUT, "reshape: only one dimension can be -1");
                return fail(a);
            }
            infer = d;
        } else if (shape[d] < 0) {
            tg_error(TG_EINPUT, "reshape: invalid size %lld", (long long)shape[d]);
            return fail(a);
        } else if (tg_mul_overflows(known, shape[d], &known)) {
            tg_error(TG_EINPUT, "reshape: shape has too many elements");
            return fail(a);
        }
        at.shape.shape[d] = shape[d];
    }
    at.shape.ndim = ndim;
    if (infer >= 0) {
        if (known == 0 || a->numel % known) {
            char s[256];
            tg_error(TG_EINPUT, "reshape: shape %s is invalid for input of size %lld",
                     tg_shape_str_raw(ndim, shape, s, sizeof s), (long long)a->numel);
            return fail(a);
        }
        at.shape.shape[infer] = a->numel / known;
        known = a->numel;
    }
    if (known != a->numel) {
        char s[256];
        tg_error(TG_EINPUT, "reshape: shape %s is invalid for input of size %lld",
                 tg_shape_str_raw(ndim, shape, s, sizeof s), (long long)a->numel);
        return fail(a);
    }
    /* PyTorch's reshape of a tensor that must be copied is a view of the copy */
    const char *copied = tg_is_contiguous(a) ? NULL : "UnsafeViewBackward0";
    a = tg_contiguous(a);
    return tg_name_grad_fn(tg_apply(TG_OP_RESHAPE, 1, &a, &at), copied);
}

tg_tensor *tg_expand(tg_tensor *a, int ndim, const int64_t *shape)
{
    if (!a)
        return NULL;
    char sa[256], sb[256];
    if (ndim < a->ndim || ndim > TG_MAX_DIMS) {
        tg_error(TG_EINPUT, "expand: the shape %s has fewer dimensions than the tensor's %s",
                 tg_shape_str_raw(ndim, shape, sa, sizeof sa), tg_shape_str(a, sb, sizeof sb));
        return fail(a);
    }
    tg_attrs at;
    memset(&at, 0, sizeof at);
    at.shape.ndim = ndim;
    int off = ndim - a->ndim;
    for (int d = 0; d < ndim; d++) {
        int64_t want = shape[d];
        int64_t have = d < off ? 1 : a->shape[d - off];
        if (want == -1 && d >= off)
            want = have;
        if (want != have && have != 1) {
            tg_error(TG_EINPUT, "expand: the tensor of shape %s cannot be expanded to %s "
                     "(dimension %d is %lld, not 1)", tg_shape_str(a, sa, sizeof sa),
                     tg_shape_str_raw(ndim, shape, sb, sizeof sb), d, (long long)have);
            return fail(a);
        }
        at.shape.shape[d] = want;
    }
    return tg_apply(TG_OP_EXPAND, 1, &a, &at);
}

tg_tensor *tg_permute(tg_tensor *a, const int *perm)
{
    if (!a)
        return NULL;
    tg_attrs at;
    memset(&at, 0, sizeof at);
    bool seen[TG_MAX_DIMS] = {0};
    for (int d = 0; d < a->ndim; d++) {
        if (perm[d] < 0 || perm[d] >= a->ndim || seen[perm[d]]) {
            tg_error(TG_EINPUT, "permute: the dims are not a permutation of 0..%d", a->ndim - 1);
            return fail(a);
        }
        seen[perm[d]] = true;
        at.perm.perm[d] = perm[d];
    }
    at.perm.ndim = a->ndim;
    return tg_apply(TG_OP_PERMUTE, 1, &a, &at);
}

tg_tensor *tg_transpose(tg_tensor *a, int64_t d0, int64_t d1)
{
    if (!a)
        return NULL;
    tg_status st;
    d0 = tg_norm_dim(d0, a->ndim, "transpose", &st);
    if (st == TG_OK)
        d1 = tg_norm_dim(d1, a->ndim, "transpose", &st);
    if (st != TG_OK)
        return fail(a);
    if (a->ndim < 2)
        return a;
    int perm[TG_MAX_DIMS];
    for (int d = 0; d < a->ndim; d++)
        perm[d] = d;
    perm[d0] = (int)d1;
    perm[d1] = (int)d0;
    return tg_name_grad_fn(tg_permute(a, perm), "TransposeBackward0");
}

tg_tensor *tg_t(tg_tensor *a)
{
    if (!a || a->ndim < 2)
        return a;
    int perm[TG_MAX_DIMS];
    for (int d = 0; d < a->ndim; d++)
        perm[d] = a->ndim - 1 - d;
    return tg_permute(a, perm);
}

tg_tensor *tg_unsqueeze(tg_tensor *a, int64_t dim)
{
    if (!a)
        return NULL;
    tg_status st;
    int n = a->ndim + 1;
    if (dim < -n || dim >= n) {
        tg_error(TG_EINPUT, "unsqueeze: dimension %lld is out of range (expected %d to %d)",
                 (long long)dim, -n, n - 1);
        return fail(a);
    }
    (void)st;
    if (dim < 0)
        dim += n;
    int64_t shape[TG_MAX_DIMS + 1];
    for (int d = 0, k = 0; d < n; d++)
        shape[d] = d == dim ? 1 : a->shape[k++];
    return tg_name_grad_fn(tg_reshape(a, n, shape), "UnsqueezeBackward0");
}

tg_tensor *tg_squeeze(tg_tensor *a, const int64_t *dim)
{
    if (!a)
        return NULL;
    int64_t shape[TG_MAX_DIMS];
    int n = 0;
    int64_t only = -1;
    if (dim) {
        tg_status st;
        only = tg_norm_dim(*dim, a->ndim, "squeeze", &st);
        if (st != TG_OK)
            return fail(a);
    }
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != 1 || (only >= 0 && d != only))
            shape[n++] = a->shape[d];
    return tg_name_grad_fn(tg_reshape(a, n, shape), dim ? "SqueezeBackward1" : "SqueezeBackward0");
}

/* Python's slice semantics: negative indices count from the end, and
 * bounds are clipped; step must be positive (as in PyTorch). */
tg_tensor *tg_slice(tg_tensor *a, int64_t dim, int64_t start, int64_t stop, int64_t step)
{
    if (!a)
        return NULL;
    tg_status st;
    if (a->ndim == 0) {
        tg_error(TG_EINPUT, "slice: a 0-D tensor cannot be sliced");
        return fail(a);
    }
    dim = tg_norm_dim(dim, a->ndim, "slice", &st);
    if (st != TG_OK)
        return fail(a);
    if (step <= 0) {
        tg_error(TG_EINPUT, "slice: step must be greater than zero");
        return fail(a);
    }
    int64_t n = a->shape[dim];
    if (start < 0) start += n;
    if (stop < 0) stop += n;
    start = start < 0 ? 0 : start > n ? n : start;
    stop = stop < start ? start : stop > n ? n : stop;
    /* a step past the end takes the first element alone: as that step,
     * but the view's stride (stride * step) stays within int64 */
    if (step > stop - start)
        step = stop > start ? stop - start : 1;
    tg_attrs at;
    memset(&at, 0, sizeof at);
    at.slice.dim = (int)dim;
    at.slice.start = start;
    at.slice.stop = stop;
    at.slice.step = step;
    return tg_apply(TG_OP_SLICE, 1, &a, &at);
}

tg_tensor *tg_select(tg_tensor *a, int64_t dim, int64_t index)
{
    if (!a)
        return NULL;
    tg_status st;
    if (a->ndim == 0) {
        tg_error(TG_EINPUT, "index: a 0-D tensor cannot be indexed");
        return fail(a);
    }
    dim = tg_norm_dim(dim, a->ndim, "index", &st);
    if (st != TG_OK)
        return fail(a);
    int64_t n = a->shape[dim];
    if (index < -n || index >= n) {
        tg_error(TG_EINPUT, "index %lld is out of bounds for dimension %lld with size %lld",
                 (long long)index, (long long)dim, (long long)n);
        return fail(a);
    }
    if (index < 0)
        index += n;
    return tg_name_grad_fn(tg_squeeze(tg_slice(a, dim, index, index + 1, 1), &dim), "SelectBackward0");
}

tg_tensor *tg_detach(tg_tensor *a)
{
    if (!a)
        return NULL;
    tg_tensor *d = tg_new_meta(a->dtype, a->ndim, a->shape);
    if (!d)
        return fail(a);
    tg_share_storage(d, a);
    memcpy(d->stride, a->stride, sizeof d->stride);
    d->batched = a->batched;
    tg_release(a);
    return d;
}

/* Sum g down to shape: leading dims summed away, dims of size 1 summed with
 * keepdim.  Broadcasting's backward, done once for every op. */
tg_tensor *tg_sum_to(tg_tensor *g, int ndim, const int64_t *shape)
{
    if (!g)
        return NULL;
    if (g->ndim == ndim && !memcmp(g->shape, shape, ndim * sizeof *shape))
        return g;
    int64_t dims[TG_MAX_DIMS];
    int nd = 0, lead = g->ndim - ndim;
    for (int d = 0; d < g->ndim; d++)
        if (d < lead || (shape[d - lead] == 1 && g->shape[d] != 1))
            dims[nd++] = d;
    if (nd)
        g = tg_sum(g, dims, nd, true);
    return tg_reshape(g, ndim, shape);
}
