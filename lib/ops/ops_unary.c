/* ops_unary.c -- elementwise unary ops: forward through the backend's
 * kernel table, backward written with ops (so it is itself differentiable,
 * which is what higher derivatives need).  Each rule is PyTorch's formula
 * from derivatives.yaml, so the numbers agree to the last digit where the
 * forward does. */
#include "internal.h"
#include <math.h>

/* the shared forward of every elementwise op: out is already shaped */
tg_status op_fwd_map(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    int n = tg_ops[op].arity;
    tg_dtype dt = in[n - 1]->dtype; /* the dtype the op computes in */
    if (out->storage->device == TG_DEV_CUDA) {
        tg_status st = tg_cuda_map(op, n, in, a, out);
        if (st != TG_NO)
            return st;
    }
    tg_kernel_fn k = tg_cpu_kernels[op][dt];
    if (!k)
        return tg_error(TG_EINPUT, "%s is not supported for %s tensors", tg_ops[op].name,
                        tg_dtype_name(dt));
    /* the float functions (exp, tanh, ...) and pow are compute-bound */
    tg_loop_ex(out, n, in, k, a, (tg_ops[op].flags & TG_F_FLOAT) || op == TG_OP_POW);
    return TG_OK;
}

/* The backward rules.  self (the op's result), g (its gradient) and the
 * inputs self->in[] are borrowed, and every op consumes its operands, so
 * each use passes a reference of its own: tg_ref(g), tg_ref(x). */
#define K(v) tg_scalar_like(v, g) /* a constant of g's dtype */

tg_status op_bw_neg(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    (void)self;
    gin[0] = tg_neg(tg_ref(g));
    return TG_OK;
}

tg_status op_bw_exp(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tg_ref(g), tg_ref(self));
    return TG_OK;
}

tg_status op_bw_log(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = self->in[0];
    gin[0] = tg_div(tg_ref(g), tg_ref(x));
    return TG_OK;
}

tg_status op_bw_sqrt(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_div(tg_ref(g), tg_mul(K(2), tg_ref(self)));
    return TG_OK;
}

tg_status op_bw_sin(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = self->in[0];
    gin[0] = tg_mul(tg_ref(g), tg_apply(TG_OP_COS, 1, (tg_tensor *[]){tg_ref(x)}, NULL));
    return TG_OK;
}

tg_status op_bw_cos(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = self->in[0];
    gin[0] = tg_mul(tg_ref(g), tg_neg(tg_apply(TG_OP_SIN, 1, (tg_tensor *[]){tg_ref(x)}, NULL)));
    return TG_OK;
}

tg_status op_bw_tan(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tg_ref(g), tg_add(K(1), tg_mul(tg_ref(self), tg_ref(self))));
    return TG_OK;
}

tg_status op_bw_tanh(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_tanh_backward(tg_grad_take(g), tg_ref(self));
    return TG_OK;
}

tg_status op_bw_sigmoid(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_sigmoid_backward(tg_grad_take(g), tg_ref(self));
    return TG_OK;
}

/* relu'(0) = 0: PyTorch's threshold_backward zeroes the gradient where the
 * result is <= 0 (so a NaN input passes its gradient on). */
tg_status op_bw_relu(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *not_positive =
        tg_apply(TG_OP_LE, 2, (tg_tensor *[]){tg_ref(self), tg_scalar_like(0, self)}, NULL);
    gin[0] = tg_where(not_positive, K(0), tg_ref(g));
    return TG_OK;
}

/* abs'(0) = sign(0) = 0 */
tg_status op_bw_abs(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = self->in[0];
    gin[0] = tg_mul(tg_ref(g), tg_apply(TG_OP_SIGN, 1, (tg_tensor *[]){tg_ref(x)}, NULL));
    return TG_OK;
}

tg_status op_bw_zero(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    (void)self;
    gin[0] = tg_zeros_like(g);
    return TG_OK;
}

tg_status op_bw_log1p(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = self->in[0];
    gin[0] = tg_div(tg_ref(g), tg_add(tg_ref(x), K(1)));
    return TG_OK;
}

tg_status op_bw_expm1(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tg_ref(g), tg_add(tg_ref(self), K(1)));
    return TG_OK;
}

tg_status op_bw_erf(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = self->in[0];
    tg_tensor *e = tg_apply(TG_OP_EXP, 1, (tg_tensor *[]){tg_neg(tg_mul(tg_ref(x), tg_ref(x)))}, NULL);
    gin[0] = tg_mul(tg_mul(K(2.0 / sqrt(M_PI)), e), tg_ref(g));
    return TG_OK;
}

/* PyTorch's softplus_backward (beta 1, threshold 20): z = exp(x);
 * x > 20 ? g : g * z / (z + 1) */
tg_status op_bw_softplus(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = self->in[0];
    /* C leaves the order of arguments open: take references before a
     * sibling argument may consume z */
    tg_tensor *z = tg_apply(TG_OP_EXP, 1, (tg_tensor *[]){tg_ref(x)}, NULL);
    tg_tensor *gz = tg_mul(tg_ref(g), tg_ref(z));
    tg_tensor *soft = tg_div(gz, tg_add(z, K(1)));
    gin[0] = tg_where(tg_apply(TG_OP_GT, 2, (tg_tensor *[]){tg_ref(x), K(20)}, NULL), tg_ref(g), soft);
    return TG_OK;
}

/* clamp passes the gradient where lo <= x <= hi (both ends included) */
tg_status op_bw_clamp(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = self->in[0];
    const tg_attrs *a = self->attrs;
    tg_tensor *in_range = tg_full(TG_BOOL, g->ndim, g->shape, 1);
    if (a->clamp.has_lo)
        in_range = tg_mul(in_range, tg_apply(TG_OP_GE, 2,
                                             (tg_tensor *[]){tg_ref(x), tg_scalar_like(a->clamp.lo, x)}, NULL));
    if (a->clamp.has_hi)
        in_range = tg_mul(in_range, tg_apply(TG_OP_LE, 2,
                                             (tg_tensor *[]){tg_ref(x), tg_scalar_like(a->clamp.hi, x)}, NULL));
    gin[0] = tg_where(in_range, tg_ref(g), K(0));
    return TG_OK;
}

tg_status op_bw_none(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    (void)self, (void)g, (void)gin;
    return TG_OK;
}

tg_status op_bw_identity(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    (void)self;
    gin[0] = tg_ref(g);
    return TG_OK;
}

tg_tensor *tg_neg(tg_tensor *a) { return tg_apply(TG_OP_NEG, 1, &a, NULL); }
