/* ops_matmul.c -- torch.matmul.  The op itself is the batched product of
 * operands of rank >= 2 with broadcast batch dims:
 *     a (..., n, k) @ b (..., k, m) -> (broadcast(...), n, m)
 *     da = g @ b^T  summed to a's shape;  db = a^T @ g  summed to b's shape.
 * tg_matmul adds torch.matmul's 1-D rules around it with views. */
#include "internal.h"
#include <string.h>

tg_status op_infer_matmul(tg_tensor **in, const tg_attrs *at, tg_tensor *out)
{
    (void)at;
    const tg_tensor *a = in[0], *b = in[1];
    char sa[256], sb[256];
    int64_t n = a->shape[a->ndim - 2], k = a->shape[a->ndim - 1];
    int64_t k2 = b->shape[b->ndim - 2], m = b->shape[b->ndim - 1];
    if (k != k2)
        return tg_error(TG_EINPUT, "matmul: shapes %s and %s cannot be multiplied (%lldx%lld "
                        "and %lldx%lld: the inner dimensions %lld and %lld differ)",
                        tg_shape_str(a, sa, sizeof sa), tg_shape_str(b, sb, sizeof sb),
                        (long long)n, (long long)k, (long long)k2, (long long)m,
                        (long long)k, (long long)k2);
    if (a->dtype == TG_BOOL)
        return tg_error(TG_EINPUT, "matmul: not implemented for bool tensors (cast them to int64 or float)");
    int nd;
    int64_t shape[TG_MAX_DIMS];
    if (tg_broadcast_shapes(a->ndim - 2, a->shape, b->ndim - 2, b->shape, &nd, shape) != TG_OK) {
        tg_error_clear();
        return tg_error(TG_EINPUT, "matmul: the batch dimensions of %s and %s cannot be "
                        "broadcast together", tg_shape_str(a, sa, sizeof sa), tg_shape_str(b, sb, sizeof sb));
    }
    shape[nd++] = n;
    shape[nd++] = m;
    out->ndim = nd;
    memcpy(out->shape, shape, nd * sizeof *shape);
    return tg_shape_check(nd, shape, &out->numel);
}

tg_status op_fwd_matmul(int op, tg_tensor **in, const tg_attrs *at, tg_tensor *out)
{
    (void)op, (void)at;
    if (tg_get_device() == TG_DEV_CUDA && tg_dtype_is_float(out->dtype)) {
        tg_status st = tg_cuda_matmul(in[0], in[1], out);
        if (st != TG_NO)
            return st; /* done on the GPU, or its error */
    }
    return tg_cpu_matmul(in[0], in[1], out);
}

static tg_tensor *mT(tg_tensor *t) { return tg_transpose(t, -2, -1); }

tg_status op_bw_matmul(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    const tg_tensor *a = self->in[0], *b = self->in[1];
    if (a->requires_grad)
        gin[0] = tg_sum_to(tg_apply(TG_OP_MATMUL, 2, (tg_tensor *[]){tg_ref(g), mT(IN(self, 1))}, NULL),
                           a->ndim, a->shape);
    if (b->requires_grad)
        gin[1] = tg_sum_to(tg_apply(TG_OP_MATMUL, 2, (tg_tensor *[]){mT(IN(self, 0)), tg_ref(g)}, NULL),
                           b->ndim, b->shape);
    return TG_OK;
}

tg_tensor *tg_matmul(tg_tensor *a, tg_tensor *b)
{
    if (!a || !b) {
        tg_release(a);
        tg_release(b);
        return NULL;
    }
    /* under vmap a batched operand's dim 0 is not part of a point */
    bool vmap = tg_vmap_active();
    int ra = a->ndim - (vmap && a->batched), rb = b->ndim - (vmap && b->batched);
    if (ra == 0 || rb == 0) {
        tg_error(TG_EINPUT, "matmul: both arguments need at least 1 dimension, got %d-D and %d-D "
                 "(use * for a product with a scalar)", ra, rb);
        tg_release(a);
        tg_release(b);
        return NULL;
    }
    bool a1 = ra == 1, b1 = rb == 1;
    if (a1)
        a = tg_unsqueeze(a, -2); /* (k) -> (1, k) */
    if (b1)
        b = tg_unsqueeze(b, -1); /* (k) -> (k, 1) */
    tg_tensor *c = tg_apply(TG_OP_MATMUL, 2, (tg_tensor *[]){a, b}, NULL);
    if (c && b1) {
        int64_t d = -1;
        c = tg_squeeze(c, &d);
    }
    if (c && a1) {
        int64_t d = b1 ? -1 : -2;
        c = tg_squeeze(c, &d);
    }
    /* PyTorch's names of these forms (2-D @ 2-D and batched: the op's) */
    if (a1 || b1)
        c = tg_name_grad_fn(c, a1 && b1 ? "DotBackward0" : a1 && rb == 2 ? "SqueezeBackward3"
                               : ra == 2 && b1 ? "MvBackward0" : "UnsafeViewBackward0");
    return c;
}
