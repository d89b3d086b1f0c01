/* ops_binary.c -- elementwise binary ops with NumPy broadcasting.  The
 * backward sums each gradient back to its input's shape (tg_sum_to), once,
 * here, rather than in every rule. */
#include "internal.h"

tg_status op_infer_bcast(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)a;
    int n = in[2] ? 3 : in[1] ? 2 : 1;
    return tg_infer_broadcast(in, n, out);
}

tg_status op_infer_cmp(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    out->dtype = TG_BOOL;
    return op_infer_bcast(in, a, out);
}

/* The backward rules.  self, g and the inputs a = self->in[0] and
 * b = self->in[1] are borrowed, and every op consumes its operands, so
 * each use passes a reference of its own: tg_ref(g), tg_ref(a). */
#define K(v) tg_scalar_like(v, g) /* a constant of g's dtype */
#define NEED(i) (self->in[i]->requires_grad)
#define TO_IN(i, t) tg_sum_to(t, self->in[i]->ndim, self->in[i]->shape)
#define CMP(op, x, y) tg_apply(TG_OP_##op, 2, (tg_tensor *[]){x, y}, NULL)

tg_status op_bw_add(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    if (NEED(0)) gin[0] = TO_IN(0, tg_ref(g));
    if (NEED(1)) gin[1] = TO_IN(1, tg_ref(g));
    return TG_OK;
}

tg_status op_bw_sub(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    if (NEED(0)) gin[0] = TO_IN(0, tg_ref(g));
    if (NEED(1)) gin[1] = TO_IN(1, tg_neg(tg_ref(g)));
    return TG_OK;
}

tg_status op_bw_mul(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *a = self->in[0], *b = self->in[1];
    if (NEED(0)) gin[0] = TO_IN(0, tg_mul(tg_ref(g), tg_ref(b)));
    if (NEED(1)) gin[1] = TO_IN(1, tg_mul(tg_ref(g), tg_ref(a)));
    return TG_OK;
}

/* d(a/b)/db = -g * ((a / b) / b), PyTorch's order of operations */
tg_status op_bw_div(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *a = self->in[0], *b = self->in[1];
    if (NEED(0)) gin[0] = TO_IN(0, tg_div(tg_ref(g), tg_ref(b)));
    if (NEED(1))
        gin[1] = TO_IN(1, tg_mul(tg_neg(tg_ref(g)), tg_div(tg_div(tg_ref(a), tg_ref(b)), tg_ref(b))));
    return TG_OK;
}

/* PyTorch's pow_backward_self / pow_backward_exponent: a zero exponent gives
 * a zero gradient (not 0 * inf), and so does a zero base with b >= 0. */
tg_status op_bw_pow(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *a = self->in[0], *b = self->in[1];
    if (NEED(0) && b->numel == 1 && !b->requires_grad) {
        /* a constant exponent (x**2): the same formula without the where,
         * and a**1 is a itself (PyTorch's pow returns a copy for 1) */
        double exponent = tg_item(b);
        if (exponent == 0)
            gin[0] = TO_IN(0, tg_zeros_like(g));
        else /* g * (b * a**(b-1)) in one pass (ops_backward.c) */
            gin[0] = TO_IN(0, tg_pow_backward(tg_grad_take(g), tg_ref(a), exponent)); /* its last use */
    } else if (NEED(0)) {
        tg_tensor *d = tg_mul(tg_ref(g), tg_mul(tg_ref(b), tg_pow(tg_ref(a), tg_sub(tg_ref(b), K(1)))));
        gin[0] = TO_IN(0, tg_where(CMP(EQ, tg_ref(b), K(0)), K(0), d));
    }
    if (NEED(1)) {
        tg_tensor *log_a = tg_apply(TG_OP_LOG, 1, (tg_tensor *[]){tg_ref(a)}, NULL);
        tg_tensor *d = tg_mul(tg_ref(g), tg_mul(tg_ref(self), log_a));
        tg_tensor *cond = tg_mul(CMP(EQ, tg_ref(a), K(0)), CMP(GE, tg_ref(b), K(0)));
        gin[1] = TO_IN(1, tg_where(cond, K(0), d));
    }
    return TG_OK;
}

/* maximum/minimum: ties split the gradient in half, as PyTorch does */
static tg_status bw_extremum(tg_tensor *self, tg_tensor *g, tg_tensor **gin, int loser0, int loser1)
{
    tg_tensor *a = self->in[0], *b = self->in[1];
    if (NEED(0)) {
        tg_tensor *t = tg_where(CMP(EQ, tg_ref(a), tg_ref(b)), tg_div(tg_ref(g), K(2)), tg_ref(g));
        tg_tensor *lost = tg_apply(loser0, 2, (tg_tensor *[]){tg_ref(a), tg_ref(b)}, NULL);
        gin[0] = TO_IN(0, tg_where(lost, K(0), t));
    }
    if (NEED(1)) {
        tg_tensor *t = tg_where(CMP(EQ, tg_ref(a), tg_ref(b)), tg_div(tg_ref(g), K(2)), tg_ref(g));
        tg_tensor *lost = tg_apply(loser1, 2, (tg_tensor *[]){tg_ref(a), tg_ref(b)}, NULL);
        gin[1] = TO_IN(1, tg_where(lost, K(0), t));
    }
    return TG_OK;
}

tg_status op_bw_maximum(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    return bw_extremum(self, g, gin, TG_OP_LT, TG_OP_GT);
}

tg_status op_bw_minimum(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    return bw_extremum(self, g, gin, TG_OP_GT, TG_OP_LT);
}

tg_status op_bw_where(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_tensor *a = self->in[0];
    if (NEED(1)) gin[1] = TO_IN(1, tg_where(tg_ref(a), tg_ref(g), K(0)));
    if (NEED(2)) gin[2] = TO_IN(2, tg_where(tg_ref(a), K(0), tg_ref(g)));
    return TG_OK;
}

/* base**e for e >= 0 by squaring; true when a step leaves int64 (the base
 * is squared only while bits of e remain, so 2**62 does not overflow). */
static bool pow_i64_overflows(int64_t base, int64_t e, int64_t *out)
{
    int64_t r = 1;
    for (;;) {
        if ((e & 1) && __builtin_mul_overflow(r, base, &r))
            return true;
        e >>= 1;
        if (!e)
            break;
        if (__builtin_mul_overflow(base, base, &base))
            return true; /* (|base| > 2^31: 0 and +-1 never get here) */
    }
    *out = r;
    return false;
}

/* Two Python integers (wrapped int64 numbers) combine as Python does,
 * exactly; a result beyond int64 cannot meet a tensor, and PyTorch refuses
 * it ("Overflow when unpacking long"), so it is an error here, not a
 * silent wrap.  Returns false when a or b is not such a number. */
static bool python_int_op(int op, tg_tensor *a, tg_tensor *b, tg_tensor **result)
{
    if (!a || !b || !a->wrapped_number || !b->wrapped_number || a->dtype != TG_INT64 ||
        b->dtype != TG_INT64 || a->numel != 1 || b->numel != 1)
        return false;
    int64_t x = tg_get_i64(a, 0), y = tg_get_i64(b, 0), r = 0;
    bool over;
    const char *sym;
    switch (op) {
    case TG_OP_ADD: over = __builtin_add_overflow(x, y, &r), sym = "+"; break;
    case TG_OP_SUB: over = __builtin_sub_overflow(x, y, &r), sym = "-"; break;
    case TG_OP_MUL: over = __builtin_mul_overflow(x, y, &r), sym = "*"; break;
    case TG_OP_POW:
        if (y < 0)
            return false; /* the float path or pow's own error */
        over = pow_i64_overflows(x, y, &r), sym = "**";
        break;
    default: return false;
    }
    tg_release(a);
    tg_release(b);
    if (over) { /* negative operands in brackets: (-2) ** 63, not -2 ** 63 */
        tg_error(TG_EINPUT, "integer overflow: %s%lld%s %s %s%lld%s is beyond int64 (PyTorch: "
                 "\"Overflow when unpacking long\"; use floats, e.g. 2.0**63)", x < 0 ? "(" : "",
                 (long long)x, x < 0 ? ")" : "", sym, y < 0 ? "(" : "", (long long)y, y < 0 ? ")" : "");
        *result = NULL;
        return true;
    }
    *result = tg_scalar_i64(r);
    if (*result)
        (*result)->wrapped_number = true;
    return true;
}

static tg_tensor *bin(int op, tg_tensor *a, tg_tensor *b)
{
    tg_tensor *r;
    if (python_int_op(op, a, b, &r))
        return r;
    return tg_apply(op, 2, (tg_tensor *[]){a, b}, NULL);
}

tg_tensor *tg_add(tg_tensor *a, tg_tensor *b) { return bin(TG_OP_ADD, a, b); }
tg_tensor *tg_sub(tg_tensor *a, tg_tensor *b) { return bin(TG_OP_SUB, a, b); }
tg_tensor *tg_mul(tg_tensor *a, tg_tensor *b) { return bin(TG_OP_MUL, a, b); }
tg_tensor *tg_div(tg_tensor *a, tg_tensor *b) { return bin(TG_OP_DIV, a, b); }
tg_tensor *tg_maximum(tg_tensor *a, tg_tensor *b) { return bin(TG_OP_MAXIMUM, a, b); }
tg_tensor *tg_minimum(tg_tensor *a, tg_tensor *b) { return bin(TG_OP_MINIMUM, a, b); }
tg_tensor *tg_where(tg_tensor *c, tg_tensor *a, tg_tensor *b)
{
    return tg_apply(TG_OP_WHERE, 3, (tg_tensor *[]){c, a, b}, NULL);
}

/* Integers to negative integer powers are refused, as PyTorch refuses them. */
tg_tensor *tg_pow(tg_tensor *a, tg_tensor *b)
{
    /* two Python numbers follow Python: 2**-1 is 0.5 */
    if (a && b && a->wrapped_number && b->wrapped_number && a->dtype == TG_INT64 &&
        b->dtype == TG_INT64 && tg_item(b) < 0) {
        a = tg_cast(a, TG_FLOAT64);
        if (a)
            a->wrapped_number = true;
    }
    /* (over the work limit the op itself is refused: no scan of a huge
     * expand()ed exponent first) */
    if (a && b && !tg_dtype_is_float(a->dtype) && !tg_dtype_is_float(b->dtype) && b->numel <= tg_get_max_work())
        for (int64_t i = 0; i < b->numel; i++)
            if (tg_get(b, i) < 0) {
                tg_release(a);
                tg_release(b);
                tg_error(TG_EINPUT, "pow: integers to negative integer powers are not allowed "
                         "(make the base a float, e.g. 2.0**-1)");
                return NULL;
            }
    return bin(TG_OP_POW, a, b);
}
