/* ops_act.c -- the backward rules of the activations and reciprocals of
 * lib/ops.def (silu, reciprocal, rsqrt, leaky_relu, elu), each PyTorch's
 * formula (derivatives.yaml and the CPU backward kernels of 1.13) written
 * with ops, so that it is differentiable in turn.  As in ops_unary.c, self,
 * g and self->in[] are borrowed and every use takes a reference. */
#include "internal.h"

#define K(v) tg_scalar_like(v, g) /* a constant of g's dtype */

static tg_tensor *apply1(int op, tg_tensor *x) { return tg_apply(op, 1, &x, NULL); }
static tg_tensor *apply2(int op, tg_tensor *x, tg_tensor *y)
{
    return tg_apply(op, 2, (tg_tensor *[]){x, y}, NULL);
}

/* silu_backward: s = sigmoid(x); g * s * (1 + x * (1 - s)) */
tg_status op_bw_silu(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = self->in[0];
    tg_tensor *s = apply1(TG_OP_SIGMOID, tg_ref(x));
    tg_tensor *gs = tg_mul(tg_ref(g), tg_ref(s));
    tg_tensor *slope = tg_add(K(1), tg_mul(tg_ref(x), tg_sub(K(1), s)));
    gin[0] = tg_mul(gs, slope);
    return TG_OK;
}

/* reciprocal: -g * (r * r), r the result */
tg_status op_bw_reciprocal(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_mul(tg_neg(tg_ref(g)), tg_mul(tg_ref(self), tg_ref(self)));
    return TG_OK;
}

/* rsqrt: -0.5 * g * r**3, r the result (pow's shortcut: r * r * r) */
tg_status op_bw_rsqrt(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *cube = tg_pow(tg_ref(self), tg_scalar(3, TG_INT64));
    gin[0] = tg_mul(tg_mul(K(-0.5), tg_ref(g)), cube);
    return TG_OK;
}

/* leaky_relu_backward: x > 0 ? g : g * negative_slope (a NaN x takes the
 * slope, as PyTorch's).  The slope y is a constant: no gradient. */
tg_status op_bw_leaky_relu(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = self->in[0], *slope = self->in[1];
    tg_tensor *positive = apply2(TG_OP_GT, tg_ref(x), tg_scalar_like(0, x));
    gin[0] = tg_where(positive, tg_ref(g), tg_mul(tg_ref(g), tg_ref(slope)));
    return TG_OK;
}

/* elu_backward (from the input): x <= 0 ? g * alpha * exp(x) : g (a NaN
 * x passes g on, as PyTorch's).  alpha, y, is a constant: no gradient.
 * exp reads where(x < 0, x, 0): the same value, but at x = 0 the second
 * derivative is 0, as PyTorch's elu_double_backward (x < 0) has it. */
tg_status op_bw_elu(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *x = self->in[0], *alpha = self->in[1];
    tg_tensor *not_positive = apply2(TG_OP_LE, tg_ref(x), tg_scalar_like(0, x));
    tg_tensor *negative = apply2(TG_OP_LT, tg_ref(x), tg_scalar_like(0, x));
    tg_tensor *x_neg = tg_where(negative, tg_ref(x), tg_scalar_like(0, x));
    tg_tensor *neg = tg_mul(tg_mul(tg_ref(g), tg_ref(alpha)), apply1(TG_OP_EXP, x_neg));
    gin[0] = tg_where(not_positive, neg, tg_ref(g));
    return TG_OK;
}
