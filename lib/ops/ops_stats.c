/* ops_stats.c -- var, std and norm, built from ops so that their gradients
 * (and higher derivatives) come from the primitives' rules.  Where PyTorch's
 * backward makes a choice at a point the formula leaves open (std and the
 * 2-norm at 0), a where() on the result makes the same one: the gradient
 * flows only through the branch taken, and the other branch's argument is
 * kept finite (the "double where"). */
#include "ops_nn.h"
#include <math.h>

/* the number of elements each result element reduces (all when ndims == 0) */
static bool reduced_count(const tg_tensor *x, const int64_t *dims, int ndims, const char *op, int64_t *n)
{
    *n = 1;
    if (ndims == 0) {
        *n = x->numel;
        return true;
    }
    for (int i = 0; i < ndims; i++) {
        tg_status st;
        int64_t d = tg_norm_dim(dims[i], x->ndim, op, &st);
        if (st != TG_OK)
            return false;
        *n *= x->ndim ? x->shape[d] : 1;
    }
    return true;
}

/* x itself when it is a float tensor, else the error PyTorch gives */
static tg_tensor *float_only(tg_tensor *x, const char *op, const char *what)
{
    if (x && !tg_dtype_is_float(x->dtype)) {
        tg_error(TG_EINPUT, "%s: %s, got %s", op, what, tg_dtype_name(x->dtype));
        tg_release(x);
        return NULL;
    }
    return x;
}

static tg_tensor *apply1(int op, tg_tensor *x) { return tg_apply(op, 1, &x, NULL); }
static tg_tensor *apply2(int op, tg_tensor *x, tg_tensor *y)
{
    return tg_apply(op, 2, (tg_tensor *[]){x, y}, NULL);
}

/* where(v != 0, f(where(v != 0, v, 1)), 0): f(v), with value and gradient 0
 * where v is 0 (a NaN v takes f) */
static tg_tensor *where_nonzero(tg_tensor *v, tg_tensor *(*f)(tg_tensor *, void *), void *ctx)
{
    if (!v)
        return NULL;
    tg_tensor *nz = apply2(TG_OP_NE, tg_ref(v), tg_scalar_like(0, v));
    tg_tensor *safe = tg_where(tg_ref(nz), tg_ref(v), tg_scalar_like(1, v));
    tg_tensor *zero = tg_scalar_like(0, v);
    tg_release(v);
    return tg_where(nz, f(safe, ctx), zero);
}

/* var in x's dtype, float64 for float32 (PyTorch accumulates float32's in
 * double: a std of 1e30 does not overflow through its square) */
static tg_tensor *variance(tg_tensor *x, const int64_t *dims, int ndims, int64_t correction, bool keepdim,
                           tg_tensor *(*then)(tg_tensor *))
{
    tg_dtype dt = x->dtype;
    if (dt == TG_FLOAT32)
        x = tg_cast(x, TG_FLOAT64);
    tg_tensor *v = then(tg_var(x, dims, ndims, correction, keepdim));
    return v && v->dtype != dt ? tg_cast(v, dt) : v;
}

static tg_tensor *as_is(tg_tensor *v) { return v; }

tg_tensor *tg_var(tg_tensor *x, const int64_t *dims, int ndims, int64_t correction, bool keepdim)
{
    x = float_only(x, "var", "std and var only support floating point dtypes");
    if (x && x->dtype == TG_FLOAT32)
        return variance(x, dims, ndims, correction, keepdim, as_is);
    int64_t n;
    if (!x || !reduced_count(x, dims, ndims, "var", &n)) {
        tg_release(x);
        return NULL;
    }
    /* the mean is not detached: its path adds nothing to the gradient (the
     * deviations sum to 0) but is what makes the second derivative right */
    tg_tensor *d = tg_sub(tg_ref(x), tg_mean(tg_ref(x), dims, ndims, true));
    tg_release(x);
    tg_tensor *ss = tg_sum(tg_mul(tg_ref(d), d), dims, ndims, keepdim);
    /* PyTorch divides by max(N - correction, 0): inf, or NaN for 0 / 0 */
    double divisor = n > correction ? (double)(n - correction) : 0;
    return ss ? tg_div(ss, tg_scalar_like(divisor, ss)) : NULL;
}

static tg_tensor *sqrt_of(tg_tensor *v, void *ctx)
{
    (void)ctx;
    return apply1(TG_OP_SQRT, v);
}

static tg_tensor *std_of_var(tg_tensor *v) { return where_nonzero(v, sqrt_of, NULL); }

tg_tensor *tg_std(tg_tensor *x, const int64_t *dims, int ndims, int64_t correction, bool keepdim)
{
    x = float_only(x, "std", "std and var only support floating point dtypes");
    return x ? variance(x, dims, ndims, correction, keepdim, std_of_var) : NULL;
}

/* s ** (1 / p) for the sum s of |x| ** p */
static tg_tensor *root_of(tg_tensor *s, void *ctx)
{
    double p = *(double *)ctx;
    return p == 2 ? apply1(TG_OP_SQRT, s) : tg_pow(s, tg_scalar_like(1 / p, s));
}

tg_tensor *tg_norm(tg_tensor *x, double p, const int64_t *dims, int ndims, bool keepdim)
{
    x = float_only(x, "norm", "input dtype should be floating point");
    if (!x)
        return NULL;
    if (!(p == 0 || p >= 1 || p == -INFINITY)) {
        tg_error(TG_EINPUT, "norm: p = %g is not supported (p = 0, 1, 2, inf, -inf or any p > 1 is)", p);
        tg_release(x);
        return NULL;
    }
    if (p == 0) { /* the count of non-zero elements: no gradient */
        tg_dtype dt = x->dtype;
        tg_tensor *nz = apply2(TG_OP_NE, tg_ref(x), tg_scalar_like(0, x));
        tg_release(x);
        return tg_cast(tg_sum(nz, dims, ndims, keepdim), dt);
    }
    if (p == 1)
        return tg_sum(apply1(TG_OP_ABS, x), dims, ndims, keepdim);
    /* amax/amin's ties share the gradient evenly, as norm_backward's mask */
    if (p == INFINITY)
        return tg_amax(apply1(TG_OP_ABS, x), dims, ndims, keepdim);
    if (p == -INFINITY)
        return tg_amin(apply1(TG_OP_ABS, x), dims, ndims, keepdim);
    /* |x| ** p: x * x for 2 (no abs, whose gradient at 0 is 0 anyway) */
    tg_tensor *powered = p == 2 ? tg_mul(tg_ref(x), tg_ref(x))
                                : tg_pow(apply1(TG_OP_ABS, tg_ref(x)), tg_scalar_like(p, x));
    tg_release(x);
    /* gradient 0 where the norm is 0, as PyTorch's masked_fill */
    return where_nonzero(tg_sum(powered, dims, ndims, keepdim), root_of, &p);
}
