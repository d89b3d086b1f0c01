/* ops_backward.c -- fused backward formulas: PyTorch's tanh_backward,
 * sigmoid_backward and pow_backward as ops of their own.
 *
 * Written with ops, tanh's gradient g * (1 - y*y) is three passes over
 * memory and two intermediates; as one kernel it is one pass.  The kernels
 * (cpu_kernels.c) round each step as the formula written with ops does, in
 * its order of operations, so the numbers are the same.  Each op has its
 * own backward, written with ops (derivatives.yaml's formulas), so that
 * higher derivatives work through them. */
#include "internal.h"

/* The backward rules of the fused ops.  Their inputs are borrowed:
 * grad_arg = self->in[0] (the gradient the fused op was given) and
 * y = self->in[1] (its saved result or input), as is g; every op consumes
 * its operands, so each use passes a reference of its own, tg_ref(y). */
#define K(v) tg_scalar_like(v, g) /* a constant of g's dtype */
#define NEED(i) (self->in[i]->requires_grad)
#define TO_IN(i, t) tg_sum_to(t, self->in[i]->ndim, self->in[i]->shape)

static tg_tensor *fused(int op, tg_tensor *g, tg_tensor *y, const tg_attrs *a)
{
    return tg_apply(op, 2, (tg_tensor *[]){g, y}, a);
}

tg_tensor *tg_tanh_backward(tg_tensor *g, tg_tensor *y) { return fused(TG_OP_TANH_BW, g, y, NULL); }
tg_tensor *tg_sigmoid_backward(tg_tensor *g, tg_tensor *y) { return fused(TG_OP_SIGMOID_BW, g, y, NULL); }

tg_tensor *tg_pow_backward(tg_tensor *g, tg_tensor *x, double exponent)
{
    tg_attrs a = {.pow.exponent = exponent};
    return fused(TG_OP_POW_BW, g, x, &a);
}

/* tanh_backward(g, y) = g * (1 - y*y) */
tg_status op_bw_tanh_bw(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *grad_arg = self->in[0], *y = self->in[1];
    if (NEED(0)) gin[0] = TO_IN(0, tg_tanh_backward(tg_ref(g), tg_ref(y)));
    if (NEED(1))
        gin[1] = TO_IN(1, tg_mul(tg_ref(g), tg_mul(tg_mul(K(-2), tg_ref(y)), tg_ref(grad_arg))));
    return TG_OK;
}

/* sigmoid_backward(g, y) = g * (1 - y) * y */
tg_status op_bw_sigmoid_bw(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *grad_arg = self->in[0], *y = self->in[1];
    if (NEED(0)) gin[0] = TO_IN(0, tg_sigmoid_backward(tg_ref(g), tg_ref(y)));
    if (NEED(1))
        gin[1] = TO_IN(1, tg_mul(tg_mul(tg_ref(g), tg_ref(grad_arg)),
                                 tg_add(tg_mul(K(-2), tg_ref(y)), K(1))));
    return TG_OK;
}

/* pow_backward(g, x; e) = g * (e * x**(e-1)); its derivative in x is
 * g * e * (e-1) * x**(e-2), pow_backward again with the exponent e-1 (and
 * zero for e == 1, as pow's own rule gives for a zero exponent). */
tg_status op_bw_pow_bw(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *grad_arg = self->in[0], *y = self->in[1];
    double e = self->attrs->pow.exponent;
    if (NEED(0)) gin[0] = TO_IN(0, tg_pow_backward(tg_ref(g), tg_ref(y), e));
    if (NEED(1)) {
        double em1 = self->dtype == TG_FLOAT32 ? (double)((float)e - 1.0f) : e - 1;
        gin[1] = em1 == 0 ? tg_zeros_like(self->in[1])
                          : TO_IN(1, tg_pow_backward(tg_mul(tg_mul(tg_ref(g), tg_ref(grad_arg)), K(e)),
                                                     tg_ref(y), em1));
    }
    return TG_OK;
}
