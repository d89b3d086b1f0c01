/* builtins.c -- the functions and methods of the expression language, one
 * table: name, parameters, and the handler (most are one line over the
 * library's ops).  x.f(a) is f(x, a).  Parameters are written as
 * "x,dim?,keepdim?": '?' marks an optional one, "*shape" collects the rest
 * of the positional arguments (x.reshape(2, 3) or x.reshape((2, 3))),
 * "$reduction" takes a string (reduction='sum'), "&tensors" a list or
 * tuple of tensors (cat([a, b])).  None leaves an optional one out.
 * The elementwise ops' rows come from lib/ops/ops.def. */
#include "builtins.h"
#include "ops/ops_nn.h"
#include "ops/nn.h"
#include "batch_rules.h"
#include <math.h>
#include <string.h>

#define MAXP 6

typedef struct call {
    const builtin *b;
    node *n;
    tg_tensor *a[MAXP]; /* bound parameters, borrowed (NULL when absent) */
    node *an[MAXP];
    tg_tensor *rest[TG_MAX_DIMS + 1];
    node *restn[TG_MAX_DIMS + 1];
    int nrest;
    tg_tensor **pair; /* where a pair's second element goes; NULL: no pair wanted */
    /* "$name": a string's text; "&name": a list or tuple's node, its
     * items evaluated by the handler through eval_arg */
    const char *str[MAXP];
    node *list[MAXP];
    tg_tensor *(*eval_arg)(evalctx *, node *);
    evalctx *ctx;
} call;

struct builtin {
    const char *name;
    const char *params;
    int op; /* an op of the table, or a handler-specific code */
    tg_tensor *(*fn)(call *c);
    unsigned flags; /* B_* */
};

enum {
    B_BATCHABLE = 1,  /* works on a --batch tensor (vmap) */
    B_ELEMENTWISE = 2 /* acts element by element: compiled evaluation fuses it */
};
#define EW (B_ELEMENTWISE | B_BATCHABLE)

/* --batch (vmap): a batched tensor's dim 0 indexes points; dims the user
 * names count from a point's first dim.  Returns the dims to reduce for a
 * batched x (all of a point's dims when none are given); -1 on error. */
static int batch_dims(const tg_tensor *x, const int64_t *dims, int nd, int64_t *out)
{
    int r = x->ndim - 1;
    if (nd == 0) {
        for (int d = 0; d < r; d++)
            out[d] = d + 1;
        return r;
    }
    for (int i = 0; i < nd; i++) {
        tg_status st;
        out[i] = tg_norm_dim(dims[i], r, "reduction", &st) + 1;
        if (st != TG_OK)
            return -1;
    }
    return nd;
}

/* the functions without a batching rule */
static tg_tensor *refuse_batched(call *c)
{
    tg_error_at(c->n->pos, TG_EINPUT, "%s is not supported with --batch yet (tgrad(1) lists the functions "
                "that are; --lines evaluates point by point)", c->b->name);
    return NULL;
}

/* --batch: a point's dims (all when nd is 0) as the batched *x's, in
 * dims; the count, or -1 (*x released) */
static int batch_point_dims(tg_tensor **x, int64_t *dims, int nd, const char *op)
{
    int64_t bd[TG_MAX_DIMS];
    nd = tg_batch_reduce_dims(x, dims, nd, op, bd);
    if (nd < 0) {
        tg_release(*x);
        return -1;
    }
    memcpy(dims, bd, (size_t)nd * sizeof *dims);
    return nd;
}

/* is any tensor argument batched (a --batch point's)? */
static bool any_batched(const call *c)
{
    return tg_batch_any(c->a, MAXP) || tg_batch_any(c->rest, c->nrest);
}

#define A(i) tg_ref(c->a[i])

static int call_pos(call *c, int i) { return c->an[i] ? c->an[i]->pos : c->n->pos; }

/* an int argument: a 0-D integral tensor */
static bool get_int(call *c, int i, int64_t *out)
{
    tg_tensor *t = c->a[i];
    if (t->ndim == 0 && (t->dtype == TG_INT64 || t->dtype == TG_BOOL)) {
        *out = tg_get_i64(t, 0);
        return true;
    }
    tg_error_at(call_pos(c, i), TG_EINPUT, "%s: expected an integer here, got a %s tensor of rank %d",
                c->b->name, tg_dtype_name(t->dtype), t->ndim);
    return false;
}

/* dims: an int or a list/tuple of ints; returns the count or -1 */
static int get_dims(call *c, int i, int64_t *dims)
{
    tg_tensor *t = c->a[i];
    if (t->ndim == 0)
        return get_int(c, i, dims) ? 1 : -1;
    if (t->ndim == 1 && t->numel == 0) /* () or []: no dims (a float32 literal) */
        return 0;
    if (t->ndim != 1 || t->dtype != TG_INT64 || t->numel > TG_MAX_DIMS) {
        tg_error_at(call_pos(c, i), TG_EINPUT, "%s: expected an int or a list of ints for the dims",
                    c->b->name);
        return -1;
    }
    for (int64_t k = 0; k < t->numel; k++)
        dims[k] = tg_get_i64(t, k);
    return (int)t->numel;
}

static bool get_bool(call *c, int i, bool dflt)
{
    return c->a[i] ? tg_item(c->a[i]) != 0 : dflt;
}

/* a shape from "*shape": ints as separate arguments or one list/tuple */
static int get_shape(call *c, int64_t *shape)
{
    if (c->nrest == 1 && c->rest[0]->ndim == 1) {
        tg_tensor *t = c->rest[0];
        if (t->numel == 0) /* () or []: the 0-D shape (an empty literal is float32) */
            return 0;
        if (t->dtype != TG_INT64 || t->numel > TG_MAX_DIMS) {
            tg_error_at(c->restn[0]->pos, TG_EINPUT, "%s: the shape must be a list of at most %d ints",
                        c->b->name, TG_MAX_DIMS);
            return -1;
        }
        for (int64_t k = 0; k < t->numel; k++)
            shape[k] = tg_get_i64(t, k);
        return (int)t->numel;
    }
    for (int k = 0; k < c->nrest; k++) {
        tg_tensor *t = c->rest[k];
        if (t->ndim != 0 || t->dtype != TG_INT64) {
            tg_error_at(c->restn[k]->pos, TG_EINPUT, "%s: the sizes must be integers", c->b->name);
            return -1;
        }
        shape[k] = tg_get_i64(t, 0);
    }
    return c->nrest;
}

/* ---- handlers ---- */
static tg_tensor *h_unary(call *c) { return tg_apply(c->b->op, 1, (tg_tensor *[]){A(0)}, NULL); }
static tg_tensor *h_binary(call *c) { return tg_apply(c->b->op, 2, (tg_tensor *[]){A(0), A(1)}, NULL); }
static tg_tensor *h_pow(call *c) { return tg_pow(A(0), A(1)); }
static tg_tensor *h_where(call *c) { return tg_where(A(0), A(1), A(2)); }
static tg_tensor *h_matmul(call *c) { return tg_matmul(A(0), A(1)); }
static tg_tensor *h_detach(call *c) { return tg_detach(A(0)); }
static tg_tensor *h_contiguous(call *c) { return tg_contiguous(A(0)); }
/* clone(): a copy with its own memory and an identity gradient */
static tg_tensor *h_clone(call *c) { return tg_apply(TG_OP_CONTIGUOUS, 1, (tg_tensor *[]){A(0)}, NULL); }
/* t() is for at most 2-D tensors (PyTorch's rule); .T reverses any */
static tg_tensor *h_t(call *c)
{
    int r = c->a[0]->ndim - c->a[0]->batched; /* a point's rank */
    if (r > 2) {
        tg_error_at(c->n->pos, TG_EINPUT, "t() expects a tensor with at most 2 dimensions, got %d-D "
                    "(use .mT or transpose(d0, d1))", r);
        return NULL;
    }
    if (c->a[0]->batched)
        return tg_name_grad_fn(r < 2 ? A(0) : tg_batch_transpose(A(0), 0, 1), "TBackward0");
    return tg_name_grad_fn(tg_t(A(0)), "TBackward0");
}
static tg_tensor *h_cast(call *c) { return tg_cast(A(0), (tg_dtype)c->b->op); }
static tg_tensor *h_square(call *c) { return tg_name_grad_fn(tg_mul(A(0), A(0)), "PowBackward0"); }

/* gelu(x) = x * 0.5 * (1 + erf(x / sqrt(2))), PyTorch's exact form */
static tg_tensor *h_gelu(call *c)
{
    tg_tensor *x = A(0);
    if (x && !tg_dtype_is_float(x->dtype))
        x = tg_cast(x, tg_default_float);
    if (!x)
        return NULL;
    tg_dtype dt = x->dtype;
    tg_tensor *e = tg_apply(TG_OP_ERF, 1, (tg_tensor *[]){tg_mul(tg_ref(x), tg_scalar(M_SQRT1_2, dt))}, NULL);
    tg_tensor *half_x = tg_mul(x, tg_scalar(0.5, dt));
    return tg_name_grad_fn(tg_mul(half_x, tg_add(tg_scalar(1, dt), e)), "GeluBackward0");
}

static tg_tensor *h_clamp(call *c)
{
    tg_attrs at;
    memset(&at, 0, sizeof at);
    at.clamp.has_lo = c->a[1] != NULL;
    at.clamp.has_hi = c->a[2] != NULL;
    if (!at.clamp.has_lo && !at.clamp.has_hi) {
        tg_error_at(c->n->pos, TG_EINPUT, "clamp: give at least one of min= and max=");
        return NULL;
    }
    /* tensor bounds (that need a gradient, or are not single numbers): as
     * where(), which is torch.clamp's gradient: x where min <= x <= max,
     * the bound elsewhere */
    bool tensor_bounds = false;
    for (int i = 1; i <= 2; i++)
        tensor_bounds = tensor_bounds || (c->a[i] && (c->a[i]->requires_grad || c->a[i]->numel != 1));
    if (tensor_bounds) {
        tg_tensor *r = A(0);
        if (c->a[1])
            r = tg_where(tg_apply(TG_OP_LT, 2, (tg_tensor *[]){tg_ref(r), A(1)}, NULL), A(1), r);
        if (c->a[2])
            r = tg_where(tg_apply(TG_OP_GT, 2, (tg_tensor *[]){tg_ref(r), A(2)}, NULL), A(2), r);
        return r;
    }
    at.clamp.lo = at.clamp.has_lo ? tg_item(c->a[1]) : 0;
    at.clamp.hi = at.clamp.has_hi ? tg_item(c->a[2]) : 0;
    tg_tensor *x = A(0);
    /* a float bound on an integer tensor promotes, as torch.clamp does */
    for (int i = 1; x && i <= 2; i++)
        if (c->a[i] && tg_dtype_is_float(c->a[i]->dtype) && !tg_dtype_is_float(x->dtype))
            x = tg_cast(x, tg_default_float);
    return tg_apply(TG_OP_CLAMP, 1, &x, &at);
}

/* leaky_relu(x, negative_slope=0.01), elu(x, alpha=1.0): the constant is
 * a number (PyTorch's Scalar), given to the op as a 0-D operand of x's
 * dtype; integer x is refused by the op, as by PyTorch */
static tg_tensor *h_act_const(call *c)
{
    double v = c->b->op == TG_OP_LEAKY_RELU ? 0.01 : 1.0;
    if (c->a[1]) {
        if (c->a[1]->numel != 1) {
            tg_error_at(call_pos(c, 1), TG_EINPUT, "%s: %s must be a number", c->b->name,
                        c->b->op == TG_OP_LEAKY_RELU ? "negative_slope" : "alpha");
            return NULL;
        }
        v = tg_item(c->a[1]);
    }
    tg_tensor *k = tg_scalar(v, c->a[0]->dtype);
    return tg_apply(c->b->op, 2, (tg_tensor *[]){A(0), k}, NULL);
}

/* var(x, [dim], [unbiased], [keepdim], *, [correction]) and std: PyTorch
 * 1.13's overloads; x.var(False) is var(x, unbiased=False) */
static tg_tensor *h_varstd(call *c)
{
    int64_t dims[TG_MAX_DIMS];
    int nd = 0;
    bool unbiased = true, has_unbiased = c->a[2] != NULL;
    tg_tensor *d = c->a[1];
    bool positional = !(c->an[1] && c->an[1]->kind == N_KWARG);
    if (d && d->dtype == TG_BOOL && d->ndim == 0 && positional && !c->a[2] && !c->a[3]) {
        unbiased = tg_item(d) != 0;
        has_unbiased = true;
    } else if (d && (nd = get_dims(c, 1, dims)) < 0)
        return NULL;
    if (c->a[2])
        unbiased = get_bool(c, 2, true);
    if (has_unbiased && c->a[4]) {
        tg_error_at(call_pos(c, 4), TG_EINPUT, "%s: give unbiased or correction, not both", c->b->name);
        return NULL;
    }
    int64_t correction = unbiased ? 1 : 0;
    if (c->a[4] && !get_int(c, 4, &correction))
        return NULL;
    bool keep = get_bool(c, 3, false);
    tg_tensor *x = A(0);
    if (x->batched && (nd = batch_point_dims(&x, dims, nd, c->b->name)) < 0)
        return NULL;
    return c->b->op ? tg_std(x, dims, nd, correction, keep) : tg_var(x, dims, nd, correction, keep);
}

/* norm(x, [p], [dim], [keepdim]): p a number, 2 by default ('fro') */
static tg_tensor *h_norm(call *c)
{
    int64_t dims[TG_MAX_DIMS];
    int nd = 0;
    double p = 2;
    if (c->a[1]) {
        if (c->a[1]->numel != 1 || c->a[1]->ndim != 0) {
            tg_error_at(call_pos(c, 1), TG_EINPUT, "norm: p must be a number");
            return NULL;
        }
        p = tg_item(c->a[1]);
    }
    if (c->a[2] && (nd = get_dims(c, 2, dims)) < 0)
        return NULL;
    tg_tensor *x = A(0);
    if (x->batched && (nd = batch_point_dims(&x, dims, nd, "norm")) < 0)
        return NULL;
    return tg_norm(x, p, dims, nd, get_bool(c, 3, false));
}

/* prod(x, [dim], [keepdim]): dim one int, as torch.prod */
static tg_tensor *h_prod(call *c)
{
    int64_t d;
    if (c->a[1] && !get_int(c, 1, &d))
        return NULL;
    if (c->a[0]->batched)
        return tg_batch_prod(A(0), c->a[1] ? &d : NULL, get_bool(c, 2, false));
    return tg_prod(A(0), c->a[1] ? &d : NULL, get_bool(c, 2, false));
}

static tg_tensor *h_cumsum(call *c)
{
    int64_t d;
    if (!get_int(c, 1, &d))
        return NULL;
    return c->a[0]->batched ? tg_batch_cumsum(A(0), d) : tg_cumsum(A(0), d);
}

/* expand_as: to a point's shape of other; x shared by the points stays so */
static tg_tensor *h_expand_as(call *c)
{
    tg_tensor *o = c->a[1];
    int skip = o->batched ? 1 : 0;
    if (c->a[0]->batched)
        return tg_batch_expand(A(0), o->ndim - skip, o->shape + skip);
    return tg_expand(A(0), o->ndim - skip, o->shape + skip);
}

static tg_tensor *h_repeat(call *c)
{
    int64_t reps[TG_MAX_DIMS + 1];
    int n = get_shape(c, reps);
    if (n < 0)
        return NULL;
    return c->a[0]->batched ? tg_batch_repeat(A(0), n, reps) : tg_repeat(A(0), n, reps);
}

/* linspace(start, end, steps): the default float dtype */
static tg_tensor *h_linspace(call *c)
{
    int64_t steps;
    for (int i = 0; i < 2; i++)
        if (c->a[i]->numel != 1 || c->a[i]->ndim != 0) {
            tg_error_at(call_pos(c, i), TG_EINPUT, "linspace: start and end must be numbers");
            return NULL;
        }
    if (!get_int(c, 2, &steps))
        return NULL;
    return tg_linspace(tg_item(c->a[0]), tg_item(c->a[1]), steps, tg_default_float);
}

/* randint(high, size) or randint(low, high, size); size a tuple */
static tg_tensor *h_randint(call *c)
{
    int size_at = c->a[2] ? 2 : 1, high_at = c->a[2] ? 1 : 0;
    int64_t low = 0, high, shape[TG_MAX_DIMS];
    if (!c->a[size_at] || (c->a[2] && !c->a[1])) {
        tg_error_at(c->n->pos, TG_EINPUT, "randint: expected randint(high, size) or randint(low, high, size)");
        return NULL;
    }
    if (c->a[size_at]->ndim != 1) {
        tg_error_at(call_pos(c, size_at), TG_EINPUT, "randint: size must be a tuple of ints, as (3,) or (2, 3)");
        return NULL;
    }
    int nd = get_dims(c, size_at, shape);
    if (nd < 0 || (c->a[2] && !get_int(c, 0, &low)) || !get_int(c, high_at, &high))
        return NULL;
    if (tg_shape_check(nd, shape, NULL) != TG_OK)
        return NULL;
    return tg_randint(low, high, nd, shape);
}

/* item(): the one element as a Python number (no gradient, the weakest
 * dtype in promotion) */
static tg_tensor *h_item(call *c)
{
    tg_tensor *x = c->a[0];
    if (x->numel != 1) {
        tg_error_at(c->n->pos, TG_EINPUT, "item(): a Tensor with %lld elements cannot be converted to Scalar",
                    (long long)x->numel);
        return NULL;
    }
    if (x->dtype != TG_INT64)
        return tg_wrapped(tg_item(x), tg_dtype_is_float(x->dtype) ? TG_FLOAT64 : x->dtype);
    tg_tensor *r = tg_scalar_i64(tg_get_i64(x, 0)); /* exact, not through a double */
    if (r)
        r->wrapped_number = true;
    return r;
}

enum { R_SUM, R_MEAN, R_AMAX, R_AMIN, R_LSE };

static tg_tensor *h_reduce(call *c)
{
    int64_t dims[TG_MAX_DIMS];
    int nd = 0;
    if (c->a[1] && (nd = get_dims(c, 1, dims)) < 0)
        return NULL;
    bool keep = get_bool(c, 2, false);
    if (c->a[0]->batched) {
        int64_t bd[TG_MAX_DIMS];
        if ((nd = batch_dims(c->a[0], dims, nd, bd)) < 0)
            return NULL;
        if (nd == 0) /* a point is a scalar: reducing it changes nothing */
            return c->b->op == R_SUM && c->a[0]->dtype == TG_BOOL ? tg_cast(A(0), TG_INT64) : A(0);
        memcpy(dims, bd, nd * sizeof *dims);
    }
    switch (c->b->op) {
    case R_SUM: return tg_sum(A(0), dims, nd, keep);
    case R_MEAN: return tg_mean(A(0), dims, nd, keep);
    case R_AMAX: return tg_amax(A(0), dims, nd, keep);
    case R_AMIN: return tg_amin(A(0), dims, nd, keep);
    default:
        if (!c->a[1] || nd == 0) { /* dim=(): PyTorch 1.13 fails too */
            tg_error_at(c->n->pos, TG_EINPUT, "logsumexp: give dim= (for all elements: dim=%s)", "(0,1,...)");
            return NULL;
        }
        return tg_logsumexp(A(0), dims, nd, keep);
    }
}

/* max(x, dim) is PyTorch's (values, indices) pair, which has no tensor
 * value of its own */
static tg_tensor *refuse_pair(call *c)
{
    tg_error_at(c->n->pos, TG_EINPUT, "%s(dim=...) gives PyTorch's (values, indices) pair, not a tensor: "
                "take .values or [0] for the values, .indices or [1] for the indices, or unpack it "
                "(v, i = x.%s(dim=1)); a%s gives the values alone", c->b->name, c->b->name, c->b->name);
    return NULL;
}

/* the pair: the values, and the indices into *c->pair */
static tg_tensor *maxmin_pair(call *c, int64_t d, bool keep, bool is_max)
{
    if (!c->pair)
        return refuse_pair(c);
    tg_tensor *v = is_max ? tg_max(A(0), &d, keep) : tg_min(A(0), &d, keep);
    if (v && !(*c->pair = tg_arg_extremum(c->a[0], &d, keep, is_max))) {
        tg_release(v);
        return NULL;
    }
    if (v)
        (*c->pair)->batched = c->a[0]->batched; /* --batch: dim 0 still indexes the points */
    return v;
}

/* argmax(x), argmax(x, dim, keepdim): int64 indices, no gradient */
static tg_tensor *h_argext(call *c)
{
    int64_t d;
    if (c->a[1] && !get_int(c, 1, &d))
        return NULL;
    if (c->a[0]->dtype == TG_BOOL) { /* PyTorch 1.13's words */
        tg_error_at(c->n->pos, TG_EINPUT, "\"%s_cpu\" not implemented for 'Bool'", c->b->name);
        return NULL;
    }
    if (c->a[0]->batched)
        return tg_batch_argext(A(0), c->a[1] ? &d : NULL, get_bool(c, 2, false), c->b->op);
    return tg_arg_extremum(c->a[0], c->a[1] ? &d : NULL, get_bool(c, 2, false), c->b->op);
}

/* max(x), max(x, dim, keepdim) -> (values, indices); max(x, y) -> maximum(x, y) */
static tg_tensor *h_maxmin(call *c)
{
    bool is_max = c->b->op == TG_OP_MAXIMUM;
    if (c->a[1] && !(c->a[1]->wrapped_number && c->a[1]->dtype == TG_INT64) &&
        !(c->an[1] && c->an[1]->kind == N_KWARG)) {
        if (c->a[2]) {
            tg_error_at(call_pos(c, 2), TG_EINPUT, "%s of two tensors takes no keepdim", c->b->name);
            return NULL;
        }
        return tg_apply(c->b->op, 2, (tg_tensor *[]){A(0), A(1)}, NULL);
    }
    int64_t d;
    if (c->a[1] && !get_int(c, 1, &d))
        return NULL;
    bool keep = get_bool(c, 2, false);
    if (c->a[0]->batched) {
        int64_t bd[TG_MAX_DIMS];
        int nd = batch_dims(c->a[0], &d, c->a[1] ? 1 : 0, bd);
        if (nd < 0)
            return NULL;
        if (nd == 0)
            return A(0);
        if (!c->a[1]) /* max() over a point: ties share, as amax */
            return is_max ? tg_amax(A(0), bd, nd, false) : tg_amin(A(0), bd, nd, false);
        d = bd[0];
    }
    if (c->a[1])
        return maxmin_pair(c, d, keep, is_max);
    return is_max ? tg_max(A(0), NULL, keep) : tg_min(A(0), NULL, keep);
}

static tg_tensor *h_softmax(call *c)
{
    int64_t d;
    if (!get_int(c, 1, &d))
        return NULL;
    if (c->a[0]->batched) {
        int64_t bd;
        if (batch_dims(c->a[0], &d, 1, &bd) < 0)
            return NULL;
        d = bd;
    }
    return c->b->op ? tg_log_softmax(A(0), d) : tg_softmax(A(0), d);
}

static tg_tensor *h_transpose(call *c)
{
    int64_t d0, d1;
    if (!get_int(c, 1, &d0) || !get_int(c, 2, &d1))
        return NULL;
    if (c->a[0]->batched)
        return tg_batch_transpose(A(0), d0, d1);
    return tg_transpose(A(0), d0, d1);
}

static tg_tensor *h_unsqueeze(call *c)
{
    int64_t d;
    if (!get_int(c, 1, &d))
        return NULL;
    return c->a[0]->batched ? tg_batch_unsqueeze(A(0), d) : tg_unsqueeze(A(0), d);
}

static tg_tensor *h_squeeze(call *c)
{
    int64_t d;
    if (c->a[1] && !get_int(c, 1, &d))
        return NULL;
    if (c->a[0]->batched)
        return tg_batch_squeeze(A(0), c->a[1] ? &d : NULL);
    return tg_squeeze(A(0), c->a[1] ? &d : NULL);
}

static tg_tensor *h_reshape(call *c)
{
    int64_t shape[TG_MAX_DIMS + 1];
    int nd = get_shape(c, shape);
    if (nd < 0)
        return NULL;
    bool batched = c->a[0]->batched;
    if (c->b->op == 1)
        return batched ? tg_batch_expand(A(0), nd, shape) : tg_expand(A(0), nd, shape);
    tg_tensor *r = batched ? tg_batch_reshape(A(0), nd, shape) : tg_reshape(A(0), nd, shape);
    return c->b->op == 2 ? tg_name_grad_fn(r, "ViewBackward0") : r;
}

/* flatten(x, start_dim=0, end_dim=-1): dims start..end merged into one */
static tg_tensor *h_flatten(call *c)
{
    tg_tensor *x = c->a[0];
    int64_t start = 0, end = -1;
    if ((c->a[1] && !get_int(c, 1, &start)) || (c->a[2] && !get_int(c, 2, &end)))
        return NULL;
    if (x->batched)
        return tg_batch_flatten(A(0), start, end);
    tg_status st;
    int s = (int)tg_norm_dim(start, x->ndim, "flatten", &st);
    int e = st == TG_OK ? (int)tg_norm_dim(end, x->ndim, "flatten", &st) : 0;
    if (st != TG_OK)
        return NULL;
    if (s > e) {
        tg_error_at(c->n->pos, TG_EINPUT, "flatten() has invalid args: start_dim cannot come after end_dim");
        return NULL;
    }
    if (x->ndim == 0) { /* a 0-D tensor becomes 1-D, as in PyTorch */
        int64_t one = 1;
        return tg_reshape(A(0), 1, &one);
    }
    int64_t shape[TG_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d <= s || d > e)
            shape[nd++] = x->shape[d];
        else
            shape[nd - 1] *= x->shape[d]; /* the product is x's numel at most */
    }
    return tg_reshape(A(0), nd, shape);
}

static tg_tensor *h_permute(call *c)
{
    int64_t dims[TG_MAX_DIMS + 1];
    int nd = get_shape(c, dims);
    if (nd < 0)
        return NULL;
    if (c->a[0]->batched)
        return tg_batch_permute(A(0), nd, dims);
    if (nd != c->a[0]->ndim) {
        tg_error_at(c->n->pos, TG_EINPUT, "permute: %d dims given for a tensor of dimension %d",
                    nd, c->a[0]->ndim);
        return NULL;
    }
    int perm[TG_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        tg_status st;
        perm[i] = (int)tg_norm_dim(dims[i], nd, "permute", &st);
        if (st != TG_OK)
            return NULL;
    }
    return tg_permute(A(0), perm);
}

enum { C_ZEROS, C_ONES, C_RAND, C_RANDN };

static tg_tensor *h_create(call *c)
{
    int64_t shape[TG_MAX_DIMS + 1];
    int nd = get_shape(c, shape);
    if (nd < 0)
        return NULL;
    if (tg_shape_check(nd, shape, NULL) != TG_OK)
        return NULL;
    tg_dtype dt = tg_default_float;
    switch (c->b->op) {
    case C_ZEROS: return tg_zeros(dt, nd, shape);
    case C_ONES: return tg_full(dt, nd, shape, 1);
    case C_RAND: return tg_rand(dt, nd, shape);
    default: return tg_randn(dt, nd, shape);
    }
}

static tg_tensor *h_like(call *c)
{
    tg_tensor *x = c->a[0];
    tg_dtype dt = tg_dtype_is_float(x->dtype) || c->b->op < C_RAND ? x->dtype : tg_default_float;
    switch (c->b->op) {
    case C_ZEROS: return tg_zeros(dt, x->ndim, x->shape);
    case C_ONES: return tg_full(dt, x->ndim, x->shape, 1);
    case C_RAND: return tg_rand(dt, x->ndim, x->shape);
    default: return tg_randn(dt, x->ndim, x->shape);
    }
}

static tg_tensor *h_full(call *c)
{
    int64_t shape[TG_MAX_DIMS];
    int nd = get_dims(c, 0, shape);
    if (nd < 0)
        return NULL;
    tg_dtype dt = c->a[1]->dtype == TG_FLOAT64 && c->a[1]->wrapped_number ? tg_default_float : c->a[1]->dtype;
    if (dt == TG_INT64) /* exact, not through a double */
        return tg_full_i64(nd, shape, tg_get_i64(c->a[1], 0));
    return tg_full(dt, nd, shape, tg_item(c->a[1]));
}

/* arange(end) / arange(start, end, step): int64 unless a bound is a float */
static tg_tensor *h_arange(call *c)
{
    double v[3] = {0, 0, 1};
    bool is_float = false;
    int n = c->a[1] ? (c->a[2] ? 3 : 2) : 1;
    for (int i = 0; i < n; i++) {
        if (c->a[i]->numel != 1) {
            tg_error_at(call_pos(c, i), TG_EINPUT, "arange: bounds must be numbers");
            return NULL;
        }
        is_float = is_float || tg_dtype_is_float(c->a[i]->dtype);
    }
    if (!is_float) { /* exact, not through a double */
        int64_t w[3] = {0, 0, 1};
        for (int i = 0; i < n; i++)
            w[n == 1 ? 1 : i] = tg_get_i64(c->a[i], 0);
        return tg_arange_i64(w[0], w[1], w[2]);
    }
    if (n == 1)
        v[1] = tg_item(c->a[0]);
    else
        for (int i = 0; i < n; i++)
            v[i] = tg_item(c->a[i]);
    return tg_arange(v[0], v[1], v[2], is_float ? tg_default_float : TG_INT64);
}

static tg_tensor *h_eye(call *c)
{
    int64_t n, m;
    if (!get_int(c, 0, &n) || (c->a[1] && !get_int(c, 1, &m)))
        return NULL;
    if (n < 0 || (c->a[1] && m < 0)) {
        tg_error_at(c->n->pos, TG_EINPUT, "eye: sizes must be non-negative");
        return NULL;
    }
    return tg_eye(n, c->a[1] ? m : n, tg_default_float);
}

/* tensor(data): a copy without a graph; a Python number becomes a tensor
 * as torch.tensor makes it: a float takes the default dtype (float32),
 * an int is int64, a bool bool */
static tg_tensor *h_tensor(call *c)
{
    tg_tensor *x = c->a[0];
    if (!x->wrapped_number)
        return tg_detach(A(0));
    tg_dtype dt = x->dtype == TG_FLOAT64 ? tg_default_float : x->dtype;
    tg_tensor *t = dt == TG_INT64 ? tg_scalar_i64(tg_get_i64(x, 0)) : tg_scalar(tg_item(x), dt);
    return t; /* a fresh 0-D tensor: no longer a Python number */
}

/* ---- lists of tensors, gathers, linear, losses (nn.h) ---- */
/* the tensors of list parameter k, each evaluated (new references in
 * *out, an array the caller frees with free_list); -1 on error */
static int eval_list_arg(call *c, int k, tg_tensor ***out)
{
    node *l = c->list[k];
    *out = tg_calloc(l->nargs ? (size_t)l->nargs : 1, sizeof **out);
    if (!*out)
        return -1;
    for (int i = 0; i < l->nargs; i++) {
        tg_tensor *t = c->eval_arg(c->ctx, l->args[i]);
        if (!t) {
            for (int j = 0; j < i; j++)
                tg_release((*out)[j]);
            tg_free(*out);
            *out = NULL;
            return -1;
        }
        (*out)[i] = t;
    }
    return l->nargs;
}

/* cat(tensors, dim=0), stack(tensors, dim=0) */
static tg_tensor *h_cat(call *c)
{
    int64_t d = 0;
    if (c->a[1] && !get_int(c, 1, &d))
        return NULL;
    tg_tensor **ts;
    int n = eval_list_arg(c, 0, &ts);
    if (n < 0)
        return NULL;
    tg_tensor *r;
    if (tg_batch_any(ts, n))
        r = tg_batch_cat(ts, n, d, c->b->op);
    else
        r = c->b->op ? tg_stack(ts, n, d) : tg_cat(ts, n, d);
    r = c->b->op ? tg_name_grad_fn(r, "StackBackward0") : r;
    tg_free(ts);
    return r;
}

static tg_tensor *h_gather(call *c)
{
    int64_t d;
    if (!get_int(c, 1, &d))
        return NULL;
    return any_batched(c) ? tg_batch_gather(A(0), d, A(2)) : tg_gather(A(0), d, A(2));
}

static tg_tensor *h_linear(call *c)
{
    if (c->a[1]->batched) { /* x @ w.T would move the points' dim */
        tg_error_at(call_pos(c, 1), TG_EINPUT, "linear: a weight that differs from point to point is not "
                    "supported with --batch (write x @ w.mT + b, or evaluate point by point with --lines)");
        return NULL;
    }
    return tg_linear(A(0), A(1), c->a[2] ? A(2) : NULL);
}

static bool get_reduction(call *c, int k, tg_reduction *r)
{
    *r = TG_RED_MEAN;
    if (!c->str[k] || tg_reduction_parse(c->str[k], r) == TG_OK)
        return true;
    tg_error_at(call_pos(c, k), TG_EINPUT, "%s: %s is not a valid value for reduction (none, mean, sum)",
                c->b->name, c->str[k]);
    return false;
}

enum { L_MSE, L_L1, L_BCE, L_BCE_LOGITS };

/* mse_loss, l1_loss (input, target, reduction); binary_cross_entropy and
 * _with_logits (input, target, weight, reduction, pos_weight) */
static tg_tensor *h_loss(call *c)
{
    int rk = c->b->op == L_MSE || c->b->op == L_L1 ? 2 : 3;
    tg_reduction r;
    if (!get_reduction(c, rk, &r))
        return NULL;
    if (any_batched(c))
        return tg_batch_loss(c->b->op, A(0), A(1), c->a[2], c->a[4], r);
    switch (c->b->op) {
    case L_MSE: return tg_mse_loss(A(0), A(1), r);
    case L_L1: return tg_l1_loss(A(0), A(1), r);
    case L_BCE: return tg_binary_cross_entropy(A(0), A(1), c->a[2], r);
    default: return tg_bce_with_logits(A(0), A(1), c->a[2], c->a[4], r);
    }
}

/* cross_entropy and nll_loss: input, target, weight, ignore_index,
 * reduction, label_smoothing */
static tg_tensor *h_class_loss(call *c)
{
    tg_class_loss_opts o = {.weight = c->a[2], .ignore_index = -100};
    if ((c->a[3] && !get_int(c, 3, &o.ignore_index)) || !get_reduction(c, 4, &o.reduction))
        return NULL;
    if (c->a[5])
        o.label_smoothing = tg_item(c->a[5]);
    if (any_batched(c))
        return tg_batch_class_loss(c->b->op, A(0), A(1), &o);
    return c->b->op ? tg_cross_entropy(A(0), A(1), &o) : tg_nll_loss(A(0), A(1), &o);
}

static tg_tensor *h_dropout(call *c)
{
    double p = c->a[1] ? tg_item(c->a[1]) : 0.5;
    return tg_dropout(A(0), p, get_bool(c, 2, true));
}

static tg_tensor *h_one_hot(call *c)
{
    int64_t n = -1;
    if (c->a[1] && !get_int(c, 1, &n))
        return NULL;
    return c->a[0]->batched ? tg_batch_one_hot(A(0), n) : tg_one_hot(A(0), n);
}

/* The functions of ops.def's call column (its elementwise ops), in its
 * order: CALL(name, parameters, handler) gives a row, NOCALL none. */
#define CALL(name, params, fn) CALL_ROW, name, params, fn
#define NOCALL NO_ROW, , ,
#define CALL_ROW(id, name, params, fn) {name, params, TG_OP_##id, fn, EW},
#define NO_ROW(id, name, params, fn)
#define OP_ROW(id, ...) OP_ROW_(id, __VA_ARGS__)
#define OP_ROW_(id, row, name, params, fn) row(id, name, params, fn)

static const builtin builtins[] = {
#define OP(id, name, arity, flags, saves, infer, fwd, bwd, kind, call, ...) OP_ROW(id, call)
#include "ops/ops.def"
#undef OP
    /* elementwise, written with ops (derivatives: tg-expr(5)) */
    {"gelu", "x", 0, h_gelu, EW}, {"square", "x", 0, h_square, EW},
    {"clip", "x,min?,max?", 0, h_clamp, EW},
    /* reductions */
    {"sum", "x,dim?,keepdim?", R_SUM, h_reduce, B_BATCHABLE}, {"mean", "x,dim?,keepdim?", R_MEAN, h_reduce, B_BATCHABLE},
    {"amax", "x,dim?,keepdim?", R_AMAX, h_reduce, B_BATCHABLE}, {"amin", "x,dim?,keepdim?", R_AMIN, h_reduce, B_BATCHABLE},
    {"logsumexp", "x,dim?,keepdim?", R_LSE, h_reduce, B_BATCHABLE},
    {"max", "x,dim?,keepdim?", TG_OP_MAXIMUM, h_maxmin, B_BATCHABLE},
    {"min", "x,dim?,keepdim?", TG_OP_MINIMUM, h_maxmin, B_BATCHABLE},
    {"argmax", "x,dim?,keepdim?", 1, h_argext, B_BATCHABLE}, {"argmin", "x,dim?,keepdim?", 0, h_argext, B_BATCHABLE},
    {"softmax", "x,dim", 0, h_softmax, B_BATCHABLE}, {"log_softmax", "x,dim", 1, h_softmax, B_BATCHABLE},
    /* products */
    {"matmul", "x,y", 0, h_matmul, B_BATCHABLE}, {"mm", "x,y", 0, h_matmul, B_BATCHABLE},
    {"dot", "x,y", 0, h_matmul, B_BATCHABLE}, {"mv", "x,y", 0, h_matmul, B_BATCHABLE},
    {"bmm", "x,y", 0, h_matmul, B_BATCHABLE},
    /* shapes and views (batch_rules.c) */
    {"transpose", "x,dim0,dim1", 0, h_transpose, B_BATCHABLE}, {"t", "x", 0, h_t, B_BATCHABLE},
    {"reshape", "x,*shape", 0, h_reshape, B_BATCHABLE}, {"view", "x,*shape", 2, h_reshape, B_BATCHABLE},
    {"expand", "x,*shape", 1, h_reshape, B_BATCHABLE}, {"permute", "x,*dims", 0, h_permute, B_BATCHABLE},
    {"unsqueeze", "x,dim", 0, h_unsqueeze, B_BATCHABLE}, {"squeeze", "x,dim?", 0, h_squeeze, B_BATCHABLE},
    {"flatten", "x,start_dim?,end_dim?", 0, h_flatten, B_BATCHABLE}, {"detach", "x", 0, h_detach, EW},
    {"contiguous", "x", 0, h_contiguous, EW}, {"clone", "x", 0, h_clone, EW},
    {"float", "x", TG_FLOAT32, h_cast, EW}, {"double", "x", TG_FLOAT64, h_cast, EW},
    {"long", "x", TG_INT64, h_cast, EW}, {"bool", "x", TG_BOOL, h_cast, EW},
    /* creation */
    {"zeros", "*shape", C_ZEROS, h_create, 0}, {"ones", "*shape", C_ONES, h_create, 0},
    {"rand", "*shape", C_RAND, h_create, 0}, {"randn", "*shape", C_RANDN, h_create, 0},
    {"zeros_like", "x", C_ZEROS, h_like, EW}, {"ones_like", "x", C_ONES, h_like, EW},
    {"rand_like", "x", C_RAND, h_like, B_BATCHABLE}, {"randn_like", "x", C_RANDN, h_like, B_BATCHABLE},
    {"full", "size,fill_value", 0, h_full, 0}, {"arange", "start,end?,step?", 0, h_arange, 0},
    {"eye", "n,m?", 0, h_eye, 0}, {"tensor", "data", 0, h_tensor, 0},
    /* statistics (ops_stats.c) */
    {"var", "x,dim?,unbiased?,keepdim?,correction?", 0, h_varstd, B_BATCHABLE},
    {"std", "x,dim?,unbiased?,keepdim?,correction?", 1, h_varstd, B_BATCHABLE},
    {"norm", "x,p?,dim?,keepdim?", 0, h_norm, B_BATCHABLE},
    /* products and running sums along a dim (ops_scan.c) */
    {"prod", "x,dim?,keepdim?", 0, h_prod, B_BATCHABLE}, {"cumsum", "x,dim", 0, h_cumsum, B_BATCHABLE},
    /* shapes and creation (ops_shape.c) */
    {"expand_as", "x,other", 0, h_expand_as, B_BATCHABLE}, {"repeat", "x,*sizes", 0, h_repeat, B_BATCHABLE},
    {"linspace", "start,end,steps", 0, h_linspace, 0}, {"randint", "low,high?,size?", 0, h_randint, 0},
    {"item", "x", 0, h_item, 0},
    /* lists of tensors, gathers, linear, losses (nn.h) */
    {"cat", "&tensors,dim?", 0, h_cat, B_BATCHABLE}, {"concat", "&tensors,dim?", 0, h_cat, B_BATCHABLE},
    {"stack", "&tensors,dim?", 1, h_cat, B_BATCHABLE},
    {"gather", "input,dim,index", 0, h_gather, B_BATCHABLE},
    {"linear", "input,weight,bias?", 0, h_linear, B_BATCHABLE},
    {"mse_loss", "input,target,$reduction?", L_MSE, h_loss, B_BATCHABLE},
    {"l1_loss", "input,target,$reduction?", L_L1, h_loss, B_BATCHABLE},
    {"binary_cross_entropy", "input,target,weight?,$reduction?", L_BCE, h_loss, B_BATCHABLE},
    {"binary_cross_entropy_with_logits", "input,target,weight?,$reduction?,pos_weight?", L_BCE_LOGITS, h_loss,
     B_BATCHABLE},
    {"nll_loss", "input,target,weight?,ignore_index?,$reduction?", 0, h_class_loss, B_BATCHABLE},
    {"cross_entropy", "input,target,weight?,ignore_index?,$reduction?,label_smoothing?", 1, h_class_loss,
     B_BATCHABLE},
    {"dropout", "input,p?,training?", 0, h_dropout, 0},
    {"one_hot", "tensor,num_classes?", 0, h_one_hot, B_BATCHABLE},
};
#define NBUILTINS (int)(sizeof builtins / sizeof *builtins)

const builtin *tg_builtin_find(const char *name)
{
    for (int i = 0; i < NBUILTINS; i++)
        if (builtins[i].name[0] == name[0] && !strcmp(builtins[i].name, name)) /* most differ at once */
            return &builtins[i];
    return NULL;
}

bool tg_builtin_elementwise(const char *name)
{
    const builtin *b = tg_builtin_find(name);
    return b && (b->flags & B_ELEMENTWISE);
}

int tg_builtin_op(const char *name)
{
    const builtin *b = tg_builtin_find(name);
    return b && (b->fn == h_unary || b->fn == h_binary) ? b->op : -1;
}

const char *const *tg_builtin_names(void)
{
    static const char *names[NBUILTINS + 1];
    for (int i = 0; i < NBUILTINS; i++)
        names[i] = builtins[i].name;
    return names;
}

/* A spec like "x,dim?,keepdim?" read into its parameters: each name is a
 * span of the spec (the table's strings live for the program) */
typedef struct {
    const char *name[MAXP];
    int len[MAXP];
    bool optional[MAXP];
    char form[MAXP]; /* 0 a tensor, '$' a string, '&' a list of tensors */
    int n;
    bool rest; /* "*shape": the rest of the positional arguments */
} params;

static void read_params(const char *spec, params *P)
{
    P->n = 0;
    P->rest = false;
    for (const char *p = spec; *p && P->n < MAXP;) { /* the table's specs have at most MAXP (a unit test) */
        const char *e = strchr(p, ',');
        int len = e ? (int)(e - p) : (int)strlen(p);
        if (*p == '*') {
            P->rest = true;
            break;
        }
        P->optional[P->n] = p[len - 1] == '?';
        P->form[P->n] = *p == '$' || *p == '&' ? *p : 0;
        P->name[P->n] = p + (P->form[P->n] != 0);
        P->len[P->n] = len - P->optional[P->n] - (P->form[P->n] != 0);
        P->n++;
        p += len + (e ? 1 : 0);
    }
}

static bool param_is(const params *P, int k, const char *name)
{
    return (int)strlen(name) == P->len[k] && !strncmp(P->name[k], name, (size_t)P->len[k]);
}

/* the i-th argument of a call: the receiver of a method call first */
static node *argument(const node *n, int i)
{
    return n->obj ? (i ? n->args[i - 1] : n->obj) : n->args[i];
}

/* None, a Python keyword: leaves an optional parameter out */
static bool is_none(const node *v) { return v->kind == N_NAME && !strcmp(v->name, "None"); }

/* binds the value v to parameter k as its form says */
static bool bind_arg(call *c, const params *P, int k, node *v)
{
    const char *fn = c->b->name;
    int len = P->len[k];
    if (is_none(v)) {
        if (P->optional[k])
            return true;
        tg_error_at(v->pos, TG_EINPUT, "%s(): argument '%.*s' must be given, not None", fn, len, P->name[k]);
        return false;
    }
    if (P->form[k] == '$') {
        if (v->kind != N_STR) {
            tg_error_at(v->pos, TG_EINPUT, "%s(): argument '%.*s' must be a string (as in %.*s='sum')", fn, len,
                        P->name[k], len, P->name[k]);
            return false;
        }
        c->str[k] = v->name;
        return true;
    }
    if (P->form[k] == '&') {
        if (v->kind != N_LIST && v->kind != N_TUPLE) {
            tg_error_at(v->pos, TG_EINPUT, "%s(): argument '%.*s' must be a list or tuple of tensors, as in "
                        "%s([a, b])", fn, len, P->name[k], fn);
            return false;
        }
        c->list[k] = v;
        return true;
    }
    if (v->kind == N_STR) {
        tg_error_at(v->pos, TG_EINPUT, "%s(): argument '%.*s' takes a tensor or a number, not a string", fn,
                    len, P->name[k]);
        return false;
    }
    return (c->a[k] = c->eval_arg(c->ctx, v)) != NULL;
}

bool tg_builtin_gives_pair(const char *name)
{
    const builtin *b = tg_builtin_find(name);
    return b && b->fn == h_maxmin;
}

tg_tensor *tg_eval_call(tg_env *env, node *n, tg_tensor *(*eval_arg)(evalctx *, node *), evalctx *ctx)
{
    return tg_eval_call_pair(env, n, eval_arg, ctx, NULL);
}

__attribute__((noinline)) tg_tensor *tg_eval_call_pair(tg_env *env, node *n,
                                                       tg_tensor *(*eval_arg)(evalctx *, node *), evalctx *ctx,
                                                       tg_tensor **second)
{
    (void)env;
    const builtin *b = tg_builtin_find(n->name);
    if (!b) {
        const char *near = tg_nearest_name(n->name, tg_builtin_names(), NBUILTINS);
        if (near)
            tg_error_at(n->pos, TG_EINPUT, "unknown function '%s' (did you mean '%s'?)", n->name, near);
        else
            tg_error_at(n->pos, TG_EINPUT, "unknown function '%s' (the functions are listed in "
                        "tg-expr(5))", n->name);
        return NULL;
    }
    call c;
    memset(&c, 0, sizeof c);
    c.b = b;
    c.n = n;
    c.pair = second;
    c.eval_arg = eval_arg;
    c.ctx = ctx;
    params P;
    read_params(b->params, &P);
    int np = P.n, npos = 0;
    tg_tensor *r = NULL;
    bool ok = true;
    int nargs = n->nargs + (n->obj != NULL);
    for (int i = 0; i < nargs && ok; i++) {
        node *a = argument(n, i);
        if (a->kind == N_KWARG) {
            int k = 0;
            while (k < np && !param_is(&P, k, a->name))
                k++;
            if (k == np) {
                tg_error_at(a->pos, TG_EINPUT, "%s() got an unexpected keyword argument '%s'",
                            b->name, a->name);
                ok = false;
            } else if (c.an[k]) {
                tg_error_at(a->pos, TG_EINPUT, "%s() got multiple values for argument '%s'",
                            b->name, a->name);
                ok = false;
            } else {
                c.an[k] = a;
                ok = bind_arg(&c, &P, k, a->obj);
            }
        } else if (npos < np) {
            c.an[npos] = a;
            ok = bind_arg(&c, &P, npos++, a);
        } else if (P.rest && c.nrest < TG_MAX_DIMS + 1) {
            c.rest[c.nrest] = eval_arg(ctx, a);
            c.restn[c.nrest] = a;
            ok = c.rest[c.nrest++] != NULL;
        } else if (P.rest) {
            tg_error_at(a->pos, TG_EINPUT, "%s(): at most %d sizes (the limit of dimensions is %d)", b->name,
                        TG_MAX_DIMS, TG_MAX_DIMS);
            ok = false;
        } else {
            tg_error_at(a->pos, TG_EINPUT, "%s() takes %s%d argument%s but more were given", b->name,
                        n->obj ? "(with the tensor it is called on) " : "", np, np == 1 ? "" : "s");
            ok = false;
        }
    }
    for (int k = 0; k < np && ok; k++)
        if (!c.an[k] && !P.optional[k]) {
            tg_error_at(n->pos, TG_EINPUT, "%s() missing required argument '%.*s' (%s(%s))", b->name,
                        P.len[k], P.name[k], b->name, b->params);
            ok = false;
        }
    if (ok && any_batched(&c) && !(b->flags & B_BATCHABLE))
        r = refuse_batched(&c);
    else if (ok)
        r = b->fn(&c);
    for (int k = 0; k < MAXP; k++)
        tg_release(c.a[k]);
    for (int k = 0; k < c.nrest; k++)
        tg_release(c.rest[k]);
    return r;
}

/* does every spec of the table have at most MAXP named parameters (what
 * read_params holds)?  For the unit tests. */
bool tg_builtin_specs_fit(void)
{
    for (int i = 0; i < NBUILTINS; i++) {
        int commas = 0;
        for (const char *p = builtins[i].params; *p && *p != '*'; p++)
            commas += *p == ',';
        if (commas + 1 > MAXP)
            return false;
    }
    return true;
}
