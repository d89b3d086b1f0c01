/* eval.c -- running a parsed program: names, literals, operators, calls,
 * indexing and assignments.  Calls go through the table in builtins.c. */
#include "expr.h"
#include "builtins.h"
#include "ops/nn.h"
#include "batch_rules.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct evalctx {
    tg_program *prog;
    tg_env *env;
};

static tg_tensor *eval(evalctx *E, node *n);

/* Gives the current error the position pos unless it has one.  Kept out of
 * line: eval recurses once per tree level, so its frame must stay small. */
static __attribute__((noinline)) void error_at(int pos)
{
    if (!tg_errcode() || tg_errpos() >= 0)
        return;
    tg_status c = tg_errcode();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tg_errmsg());
    tg_error_clear();
    tg_error_at(pos, c, "%s", msg);
}

const char *tg_program_source(const tg_program *p) { return p->src; }

/* ---- constants ---- */
static const struct { const char *name; double v; bool is_bool; } constants[] = {
    {"pi", M_PI, false}, {"e", M_E, false}, {"inf", INFINITY, false}, {"nan", NAN, false},
    {"True", 1, true}, {"False", 0, true},
};
#define NCONST (int)(sizeof constants / sizeof *constants)

static int find_const(const char *name)
{
    for (int i = 0; i < NCONST; i++)
        if (!strcmp(constants[i].name, name))
            return i;
    return -1;
}

tg_tensor *tg_wrapped(double v, tg_dtype dt)
{
    tg_tensor *t = tg_scalar(v, dt);
    if (t)
        t->wrapped_number = true;
    return t;
}

static __attribute__((noinline)) tg_tensor *unknown_name(evalctx *E, node *n)
{
    if (tg_builtin_find(n->name)) {
        tg_error_at(n->pos, TG_EINPUT, "'%s' is a function: call it, as in %s(x)", n->name, n->name);
        return NULL;
    }
    int nb = 0;
    const char *const *builtins = tg_builtin_names();
    while (builtins[nb])
        nb++;
    /* the candidates for "did you mean": every name, constant and function */
    const char **cand = tg_calloc((size_t)E->env->n + NCONST + nb, sizeof *cand);
    if (!cand)
        return NULL;
    int k = 0;
    for (int i = 0; i < E->env->n; i++)
        cand[k++] = E->env->names[i];
    for (int i = 0; i < NCONST; i++)
        cand[k++] = constants[i].name;
    for (int i = 0; i < nb; i++)
        cand[k++] = builtins[i];
    const char *near = tg_nearest_name(n->name, cand, k);
    if (near)
        tg_error_at(n->pos, TG_EINPUT, "unknown name '%s' (did you mean '%s'?)", n->name, near);
    else
        tg_error_at(n->pos, TG_EINPUT, "unknown name '%s': give its value with --at %s=VALUE",
                    n->name, n->name);
    tg_free(cand);
    return NULL;
}

static tg_tensor *eval_name(evalctx *E, node *n)
{
    tg_tensor *t = tg_env_get(E->env, n->name);
    if (t)
        return tg_ref(t);
    int c = find_const(n->name);
    if (c >= 0)
        return tg_wrapped(constants[c].v, constants[c].is_bool ? TG_BOOL : TG_FLOAT64);
    return unknown_name(E, n);
}

static __attribute__((noinline)) tg_tensor *eval_number(node *n)
{
    if (!n->is_int)
        return tg_wrapped(n->num, TG_FLOAT64);
    char buf[128];
    int k = 0;
    for (const char *p = n->name; *p && k < 127; p++)
        if (*p != '_')
            buf[k++] = *p;
    buf[k] = 0;
    tg_tensor *t = tg_scalar_i64(strtoll(buf, NULL, 10));
    if (t)
        t->wrapped_number = true;
    return t;
}

/* [1, 2, 3] follows torch.tensor: integers give int64, any float gives the
 * default float dtype, booleans bool; elements must be constants. */
static __attribute__((noinline)) tg_tensor *eval_list(evalctx *E, node *n)
{
    tg_tensor **items = tg_calloc(n->nargs ? n->nargs : 1, sizeof *items);
    if (!items)
        return NULL;
    tg_tensor *out = NULL;
    int64_t shape[TG_MAX_DIMS];
    int ndim = 0;
    tg_dtype dt = TG_BOOL;
    bool ok = true;
    for (int i = 0; i < n->nargs && ok; i++) {
        items[i] = eval(E, n->args[i]);
        ok = items[i] != NULL;
        if (!ok)
            break;
        if (items[i]->requires_grad) {
            tg_error_at(n->args[i]->pos, TG_EINPUT, "a tensor literal takes constants; to combine "
                        "tensors that need gradients use arithmetic");
            ok = false;
            break;
        }
        tg_dtype d = items[i]->dtype;
        if (d == TG_FLOAT64 && items[i]->wrapped_number)
            d = tg_default_float;
        dt = i == 0 ? d : tg_dtype_promote(dt, d);
        if (i == 0) {
            ndim = items[0]->ndim;
            memcpy(shape + 1, items[0]->shape, ndim * sizeof *shape);
        } else if (items[i]->ndim != ndim || memcmp(items[i]->shape, shape + 1, ndim * sizeof *shape)) {
            tg_error_at(n->args[i]->pos, TG_EINPUT, "ragged tensor literal: element %d has a "
                        "different shape from element 0", i);
            ok = false;
        }
    }
    if (ok && ndim + 1 > TG_MAX_DIMS) {
        tg_error_at(n->pos, TG_EINPUT, "tensor literal nested deeper than %d", TG_MAX_DIMS);
        ok = false;
    }
    if (ok) {
        shape[0] = n->nargs;
        if (n->nargs == 0)
            dt = tg_default_float;
        out = tg_empty(dt, ndim + 1, shape);
        int64_t per = n->nargs ? items[0]->numel : 0;
        for (int i = 0; out && i < n->nargs; i++) {
            tg_tensor *c = tg_contiguous(tg_cast(tg_ref(items[i]), dt));
            if (!c) {
                tg_release(out);
                out = NULL;
                break;
            }
            memcpy((char *)tg_data(out) + i * per * (int64_t)tg_dtype_size(dt), tg_data(c),
                   (size_t)per * tg_dtype_size(dt));
            tg_release(c);
        }
    }
    for (int i = 0; i < n->nargs; i++)
        tg_release(items[i]);
    tg_free(items);
    return out;
}

static tg_tensor *eval_binary(evalctx *E, node *n)
{
    tg_tensor *a = eval(E, n->obj);
    if (!a)
        return NULL;
    tg_tensor *b = eval(E, n->rhs);
    if (!b) {
        tg_release(a);
        return NULL;
    }
    return tg_binary_op(n->op, a, b, n->pos);
}

tg_tensor *tg_binary_op(int op, tg_tensor *a, tg_tensor *b, int pos)
{
    int cmp = -1;
    switch (op) {
    case OP_ADD: return tg_add(a, b);
    case OP_SUB: return tg_sub(a, b); /* a bool operand: tg_apply refuses it */
    case OP_MUL: return tg_mul(a, b);
    case OP_DIV: return tg_div(a, b);
    case OP_POW: return tg_pow(a, b);
    case OP_MATMUL: return tg_matmul(a, b);
    case OP_LT: cmp = TG_OP_LT; break;
    case OP_LE: cmp = TG_OP_LE; break;
    case OP_GT: cmp = TG_OP_GT; break;
    case OP_GE: cmp = TG_OP_GE; break;
    case OP_EQ: cmp = TG_OP_EQ; break;
    case OP_NE: cmp = TG_OP_NE; break;
    default:
        tg_release(a), tg_release(b);
        tg_error_at(pos, TG_EINPUT, "the operators // and %% are not supported yet (use "
                    "division: x / y)");
        return NULL;
    }
    return tg_apply(cmp, 2, (tg_tensor *[]){a, b}, NULL);
}

/* ---- PyTorch's (values, indices) pair: max(dim=)/min(dim=) ----
 * A pair is no tensor: it is taken apart where it is made, by .values,
 * .indices, [0], [1] or unpacking (v, i = x.max(dim=1)). */

/* n's value; when n is a call that gives a pair, its values, and its
 * indices in *second (else NULL) */
static tg_tensor *eval_maybe_pair(evalctx *E, node *n, tg_tensor **second)
{
    *second = NULL;
    if (n->kind != N_CALL || !tg_builtin_gives_pair(n->name))
        return eval(E, n);
    tg_tensor *r = tg_eval_call_pair(E->env, n, eval, E, second);
    if (!r)
        error_at(n->pos);
    else if (r->op && r->pos < 0)
        r->pos = n->pos;
    return r;
}

/* element k (0 or 1, or -1, -2) of a pair; consumes both */
static tg_tensor *pair_item(tg_tensor *values, tg_tensor *indices, int64_t k, int pos)
{
    if (k < -2 || k > 1) {
        tg_release(values), tg_release(indices);
        tg_error_at(pos, TG_EINPUT, "tuple index out of range: the (values, indices) pair has 2 elements");
        return NULL;
    }
    tg_tensor *keep = k == 0 || k == -2 ? values : indices;
    tg_release(keep == values ? indices : values);
    return keep;
}

/* .T, .mT, .shape and .ndim of a --batch point (x consumed) */
static tg_tensor *batched_attr(tg_tensor *x, const char *name)
{
    int64_t r = x->ndim - 1, dims[TG_MAX_DIMS];
    if (!strcmp(name, "T")) {
        for (int d = 0; d < r; d++)
            dims[d] = r - 1 - d;
        return tg_batch_permute(x, (int)r, dims);
    }
    if (!strcmp(name, "mT"))
        return tg_batch_transpose(x, -2, -1);
    tg_tensor *v = name[0] == 's' ? tg_from_data(TG_INT64, 1, &r, x->shape + 1) : tg_scalar_i64(r);
    if (v && name[0] == 'n')
        v->wrapped_number = true;
    tg_release(x);
    return v;
}

static __attribute__((noinline)) tg_tensor *eval_attr(evalctx *E, node *n)
{
    tg_tensor *second, *x = eval_maybe_pair(E, n->obj, &second);
    if (!x)
        return NULL;
    if (second) {
        if (!strcmp(n->name, "values") || !strcmp(n->name, "indices"))
            return pair_item(x, second, n->name[0] == 'v' ? 0 : 1, n->pos);
        tg_release(x), tg_release(second);
        tg_error_at(n->pos, TG_EINPUT, "'.%s': %s(dim=...) gives a (values, indices) pair, which has "
                    ".values and .indices", n->name, n->obj->name);
        return NULL;
    }
    if (!strcmp(n->name, "values") || !strcmp(n->name, "indices")) {
        tg_release(x);
        tg_error_at(n->pos, TG_EINPUT, "a tensor has no attribute '.%s' (max(dim=...) and min(dim=...) "
                    "give a pair with .values and .indices)", n->name);
        return NULL;
    }
    if (x->batched && (!strcmp(n->name, "T") || !strcmp(n->name, "mT") || !strcmp(n->name, "shape") ||
                       !strcmp(n->name, "ndim")))
        return batched_attr(x, n->name);
    if (!strcmp(n->name, "T"))
        return tg_t(x);
    if (!strcmp(n->name, "mT"))
        return tg_transpose(x, -2, -1);
    if (!strcmp(n->name, "data"))
        return tg_detach(x);
    if (!strcmp(n->name, "shape")) {
        int64_t nd = x->ndim;
        tg_tensor *s = tg_from_data(TG_INT64, 1, &nd, x->shape);
        tg_release(x);
        return s;
    }
    if (!strcmp(n->name, "ndim")) {
        tg_tensor *s = tg_scalar_i64(x->ndim);
        tg_release(x);
        if (s)
            s->wrapped_number = true;
        return s;
    }
    tg_release(x);
    if (tg_builtin_find(n->name))
        tg_error_at(n->pos, TG_EINPUT, "'.%s' is a method: call it, as in x.%s()", n->name, n->name);
    else
        tg_error_at(n->pos, TG_EINPUT, "unknown attribute '.%s' (tensors have .T, .mT, .data, "
                    ".shape and .ndim)", n->name);
    return NULL;
}

/* the integer of a 0-D integral tensor (an index, a slice bound) */
static bool index_int(tg_tensor *t, node *at, int64_t *out)
{
    if (!t)
        return false;
    bool ok = t->ndim == 0 && t->dtype == TG_INT64; /* x[True] is not an index */
    if (ok)
        *out = tg_get_i64(t, 0);
    else
        tg_error_at(at->pos, TG_EINPUT, "slice indices must be integers");
    tg_release(t);
    return ok;
}

/* Subscript *i of n, not a slice: None (a new dim of size 1), an integer
 * (select), an int64 tensor or a bool mask (advanced indexing); int64
 * tensors side by side (x[i, j]) are taken together, *i moved to the last.
 * x is consumed; *dim is the next dim of x the subscripts index.  Tensor
 * indices apart (x[i, :, j]) or with a mask are refused: PyTorch moves
 * their dims first, which is not done yet. */
static tg_tensor *too_many_indices(tg_tensor *x, const node *s)
{
    tg_error_at(s->pos, TG_EINPUT, "too many indices for a tensor of dimension %d", x->ndim - x->batched);
    tg_release(x);
    return NULL;
}

/* --batch (batch_rules.c): x indexed by int64 tensors or a mask where x
 * or a subscript is batched */
static bool batched_subscripts(const tg_tensor *x, tg_tensor **ts, int k)
{
    return x->batched || tg_batch_any(ts, k);
}

static tg_tensor *index_one(evalctx *E, tg_tensor *x, node *n, int *i, int *dim, bool *tensor_seen)
{
    node *s = n->args[*i];
    if (s->kind == N_NAME && !strcmp(s->name, "None"))
        return tg_unsqueeze(x, (*dim)++);
    tg_tensor *t = eval(E, s);
    if (!t) {
        tg_release(x);
        return NULL;
    }
    if (*dim >= x->ndim && !(t->dtype == TG_BOOL && t->ndim == 0 && !t->batched)) {
        tg_release(t);
        return too_many_indices(x, s);
    }
    if (t->ndim == 0 && t->dtype == TG_INT64) {
        int64_t k = tg_get_i64(t, 0);
        tg_release(t);
        return tg_select(x, *dim, k);
    }
    if (t->dtype != TG_INT64 && t->dtype != TG_BOOL) {
        tg_release(t);
        tg_release(x);
        tg_error_at(s->pos, TG_EINPUT, "tensors used as indices must be long, byte or bool tensors");
        return NULL;
    }
    if (*tensor_seen) {
        tg_release(t);
        tg_release(x);
        tg_error_at(s->pos, TG_EINPUT, "tensor indices apart or with a mask are not supported yet (index "
                    "twice: x[i][:, j])");
        return NULL;
    }
    *tensor_seen = true;
    if (t->dtype == TG_BOOL && batched_subscripts(x, &t, 1))
        return tg_batch_index_mask(x, dim, t);
    if (t->dtype == TG_BOOL) { /* its dims become one */
        x = tg_index_mask(x, *dim, t);
        *dim += 1;
        return x;
    }
    tg_tensor *run[TG_MAX_DIMS];
    int k = 0;
    run[k++] = t;
    while (*i + 1 < n->nargs && k < TG_MAX_DIMS && n->args[*i + 1]->kind != N_SLICE) {
        node *u = n->args[*i + 1];
        if (u->kind == N_NAME && !strcmp(u->name, "None"))
            break;
        tg_tensor *v = eval(E, u);
        if (!v) { /* it would fail as its own subscript too */
            while (k > 0)
                tg_release(run[--k]);
            tg_release(x);
            return NULL;
        }
        if (v->ndim == 0 || v->dtype != TG_INT64) { /* evaluated again as its own subscript */
            tg_release(v);
            break;
        }
        run[k++] = v;
        (*i)++;
    }
    if (batched_subscripts(x, run, k))
        return tg_batch_index_tensors(x, dim, run, k);
    int bnd = 0; /* their broadcast rank: the dims they leave */
    for (int j = 0; j < k; j++)
        bnd = run[j]->ndim > bnd ? run[j]->ndim : bnd;
    *dim += bnd;
    return tg_index_tensors(x, *dim - bnd, run, k);
}

static __attribute__((noinline)) tg_tensor *eval_index(evalctx *E, node *n)
{
    tg_tensor *second, *x = eval_maybe_pair(E, n->obj, &second);
    if (second) { /* x.max(dim=1)[0]: a pair's element */
        int64_t k;
        if (n->nargs != 1 || n->args[0]->kind == N_SLICE) {
            tg_release(x), tg_release(second);
            tg_error_at(n->pos, TG_EINPUT, "a (values, indices) pair takes one index, 0 or 1");
            return NULL;
        }
        if (!index_int(eval(E, n->args[0]), n->args[0], &k)) {
            tg_release(x), tg_release(second);
            return NULL;
        }
        return pair_item(x, second, k, n->args[0]->pos);
    }
    int dim = x && x->batched ? 1 : 0; /* --batch: the subscripts index a point's dims */
    bool tensor_seen = false;
    for (int i = 0; i < n->nargs && x; i++) {
        node *s = n->args[i];
        if (s->kind == N_SLICE && dim >= x->ndim) {
            tg_error_at(s->pos, TG_EINPUT, "too many indices for a tensor of dimension %d", x->ndim - x->batched);
            tg_release(x);
            return NULL;
        }
        if (s->kind == N_SLICE) {
            int64_t v[3] = {0, INT64_MAX, 1};
            node *parts[3] = {s->obj, s->rhs, s->args[0]};
            for (int k = 0; k < 3; k++)
                if (parts[k] && !index_int(eval(E, parts[k]), parts[k], &v[k])) {
                    tg_release(x);
                    return NULL;
                }
            x = tg_slice(x, dim, v[0], v[1], v[2]);
            dim++;
        } else {
            x = index_one(E, x, n, &i, &dim, &tensor_seen);
        }
        if (!x)
            error_at(s->pos);
    }
    return x;
}

/* x += y: evaluated out of place, then written back in place */
static __attribute__((noinline)) tg_tensor *eval_augassign(evalctx *E, node *n)
{
    tg_tensor *target = tg_env_get(E->env, n->name);
    if (!target) {
        tg_error_at(n->pos, TG_EINPUT, "name '%s' is not defined, so it cannot be updated", n->name);
        return NULL;
    }
    tg_tensor *rhs = eval(E, n->obj);
    if (!rhs)
        return NULL;
    /* the update reads the value from before it (PyTorch's original self):
     * a copy with an identity gradient, since the storage is overwritten */
    bool tracked = target->op && target->requires_grad && tg_grad_enabled();
    tg_tensor *src = tg_ref(target);
    if (tracked)
        src = tg_apply(TG_OP_CONTIGUOUS, 1, &src, NULL);
    tg_tensor *r = tg_binary_op(n->op, src, rhs, n->pos);
    if (r)
        r->pos = n->pos;
    tg_tensor *old = tg_ref(target), *old_base = NULL, *new_base = NULL;
    if (tracked && (target->op->flags & TG_F_VIEW))
        r = tg_inplace_view(tg_ref(target), r, &old_base, &new_base);
    else
        r = tg_inplace(tg_ref(target), r);
    /* every name bound to the old tensor (or its base) sees the update */
    if (r && (tg_env_rebind(E->env, old, r) != TG_OK ||
              (old_base && tg_env_rebind(E->env, old_base, new_base) != TG_OK))) {
        tg_release(r);
        r = NULL;
    }
    if (!r)
        error_at(n->pos);
    tg_release(new_base);
    tg_release(old);
    return r;
}

/* v, i = x.max(dim=1) (a pair), or a, b = t (a tensor along its dim 0, as
 * Python iterates it): each name bound to its part; the value is the
 * first part */
static __attribute__((noinline)) tg_tensor *eval_unpack(evalctx *E, node *n)
{
    tg_tensor *second, *x = eval_maybe_pair(E, n->obj, &second);
    if (!x)
        return NULL;
    int64_t have = second ? 2 : x->ndim ? x->shape[0] : -1;
    bool batched = x->batched && !second;
    if (have != n->nargs || batched) {
        tg_release(x), tg_release(second);
        if (have < 0 || batched)
            tg_error_at(n->pos, TG_EINPUT, "cannot unpack a %s tensor", have < 0 ? "0-D" : "--batch");
        else
            tg_error_at(n->pos, TG_EINPUT, "%s values to unpack (expected %d, got %lld)",
                        have < n->nargs ? "not enough" : "too many", n->nargs, (long long)have);
        return NULL;
    }
    tg_tensor *first = NULL;
    bool ok = true;
    for (int k = 0; k < n->nargs && ok; k++) {
        const char *name = n->args[k]->name;
        tg_tensor *part = second ? tg_ref(k ? second : x) : tg_select(tg_ref(x), 0, k);
        if (part && part->op && !part->name && (part->name = tg_malloc(strlen(name) + 1)))
            memcpy(part->name, name, strlen(name) + 1);
        ok = part && tg_env_set(E->env, name, tg_ref(part)) == TG_OK;
        if (ok && k == 0)
            first = tg_ref(part);
        tg_release(part);
    }
    tg_release(x), tg_release(second);
    if (!ok)
        tg_release(first);
    return ok ? first : NULL;
}

static tg_tensor *eval(evalctx *E, node *n)
{
    tg_tensor *r = NULL;
    switch (n->kind) {
    case N_NUM: r = eval_number(n); break;
    case N_NAME: r = eval_name(E, n); break;
    case N_LIST: r = eval_list(E, n); break;
    case N_TUPLE: /* (0, 1) as dims: a list literal of its items */
        r = eval_list(E, n);
        break;
    case N_UNARY: {
        tg_tensor *x = eval(E, n->obj);
        if (x && n->op == OP_SUB && x->dtype == TG_BOOL) {
            tg_release(x);
            tg_error_at(n->pos, TG_EINPUT, "negation, the '-' operator, on a bool tensor is not "
                        "supported (use logical_not)");
            return NULL;
        }
        if (n->op != OP_SUB || !x)
            r = x;
        else if (x->wrapped_number && x->dtype == TG_INT64) /* exact, checked: 0 - x */
            r = tg_sub(tg_wrapped(0, TG_INT64), x);
        else if (x->wrapped_number) { /* -2.5 stays a Python number */
            r = tg_wrapped(-tg_item(x), x->dtype);
            tg_release(x);
        } else
            r = tg_neg(x);
        break;
    }
    case N_BINARY: r = eval_binary(E, n); break;
    case N_CALL: r = tg_eval_call(E->env, n, eval, E); break;
    case N_ATTR: r = eval_attr(E, n); break;
    case N_INDEX: r = eval_index(E, n); break;
    case N_SLICE:
        tg_error_at(n->pos, TG_EINPUT, "a slice (a:b) can only stand inside brackets");
        return NULL;
    case N_KWARG:
        tg_error_at(n->pos, TG_EINPUT, "a keyword argument can only stand in a call");
        return NULL;
    case N_STR:
        tg_error_at(n->pos, TG_EINPUT, "a string can only be a keyword argument's value (reduction='sum')");
        return NULL;
    case N_ASSIGN:
        if (n->nargs) { /* v, i = ... */
            r = eval_unpack(E, n);
            break;
        }
        r = eval(E, n->obj);
        if (r && !r->name && r->op) {
            size_t len = strlen(n->name) + 1;
            if ((r->name = tg_malloc(len)))
                memcpy(r->name, n->name, len);
        }
        if (r && tg_env_set(E->env, n->name, tg_ref(r)) != TG_OK) {
            tg_release(r);
            r = NULL;
        }
        break;
    case N_AUGASSIGN: r = eval_augassign(E, n); break;
    }
    if (!r)
        error_at(n->pos); /* the innermost node that failed */
    if (r && r->op && r->pos < 0)
        r->pos = n->pos;
    return r;
}

tg_tensor *tg_program_eval(tg_program *p, tg_env *env)
{
    evalctx E = {.prog = p, .env = env};
    tg_tensor *last = NULL;
    for (int i = 0; i < p->nstmts; i++) {
        tg_release(last);
        last = eval(&E, p->stmts[i]);
        if (!last)
            return NULL;
    }
    /* a bare Python number as the result is a tensor of the default dtype,
     * as torch.tensor(3.14) is float32 */
    if (last->wrapped_number && last->dtype == TG_FLOAT64 && tg_default_float != TG_FLOAT64)
        last = tg_cast(last, tg_default_float);
    return last;
}

/* ---- free variables ---- */
/* a growing list of names (borrowed from the program) with a hash index */
typedef struct {
    const char **v;
    int n, cap;
    tg_name_index ix;
} name_set;

static bool set_has(const name_set *s, const char *name)
{
    return tg_name_index_find(&s->ix, s->v, name) >= 0;
}

static tg_status set_add(name_set *s, const char *name)
{
    if (set_has(s, name))
        return TG_OK;
    if (s->n == s->cap) {
        if (s->cap > INT_MAX / 2)
            return tg_error(TG_EINPUT, "too many names: the limit is %d", INT_MAX / 2);
        int nc = s->cap ? s->cap * 2 : 16;
        const char **nv = tg_realloc(s->v, (size_t)nc * sizeof *nv);
        if (!nv)
            return TG_ERESOURCE;
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n] = name;
    tg_status st = tg_name_index_add(&s->ix, s->v, s->n + 1, s->n);
    if (st == TG_OK)
        s->n++;
    return st;
}

static void set_free(name_set *s)
{
    tg_free(s->v);
    tg_free(s->ix.slots);
}

typedef struct {
    name_set free, bound;
    tg_status st;
} freectx;

/* recursion follows the expression's nesting, which the parser bounds
 * (TG_MAX_EXPR_DEPTH); statements are walked in a loop */
static void walk_free(freectx *F, const node *n)
{
    if (!n || F->st != TG_OK)
        return;
    switch (n->kind) {
    case N_NAME:
        /* None (an index, an argument left out) is Python's, not a variable */
        if (find_const(n->name) < 0 && strcmp(n->name, "None") && !set_has(&F->bound, n->name))
            F->st = set_add(&F->free, n->name);
        return;
    case N_ASSIGN:
    case N_AUGASSIGN:
        if (n->kind == N_AUGASSIGN) {
            node nm = {.kind = N_NAME, .name = n->name};
            walk_free(F, &nm);
        }
        walk_free(F, n->obj);
        if (F->st == TG_OK)
            F->st = set_add(&F->bound, n->name);
        for (int i = 0; i < n->nargs && F->st == TG_OK; i++) /* v, i = ... */
            F->st = set_add(&F->bound, n->args[i]->name);
        return;
    default:
        walk_free(F, n->obj);
        walk_free(F, n->rhs);
        if (n->kind == N_SLICE) {
            walk_free(F, n->args[0]);
            return;
        }
        for (int i = 0; i < n->nargs; i++)
            walk_free(F, n->args[i]);
    }
}

/* the free names in F.free; TG_OK or the error */
static tg_status collect_free(const tg_program *p, freectx *F)
{
    memset(F, 0, sizeof *F);
    for (int i = 0; i < p->nstmts && F->st == TG_OK; i++)
        walk_free(F, p->stmts[i]);
    set_free(&F->bound);
    if (F->st != TG_OK)
        set_free(&F->free);
    return F->st;
}

int tg_program_free_names(const tg_program *p, const char **names, int max)
{
    freectx F;
    if (collect_free(p, &F) != TG_OK)
        return -1;
    int n = F.free.n < max ? F.free.n : max;
    for (int i = 0; i < n; i++)
        names[i] = F.free.v[i];
    set_free(&F.free);
    return n;
}

int tg_program_free_names_all(const tg_program *p, const char ***names)
{
    freectx F;
    *names = NULL;
    if (collect_free(p, &F) != TG_OK)
        return -1;
    tg_free(F.free.ix.slots);
    if (!F.free.v && !(F.free.v = tg_malloc(sizeof *F.free.v))) /* none: still an array to free */
        return -1;
    *names = F.free.v;
    return F.free.n;
}

/* does the program call a function whose name starts with prefix? */
static bool walk_calls(const node *n, const char *prefix)
{
    if (!n)
        return false;
    if (n->kind == N_CALL && !strncmp(n->name, prefix, strlen(prefix)))
        return true;
    if (walk_calls(n->obj, prefix) || walk_calls(n->rhs, prefix))
        return true;
    if (n->kind == N_SLICE)
        return walk_calls(n->args[0], prefix);
    for (int i = 0; i < n->nargs; i++)
        if (walk_calls(n->args[i], prefix))
            return true;
    return false;
}

bool tg_program_calls(const tg_program *p, const char *prefix)
{
    for (int i = 0; i < p->nstmts; i++)
        if (walk_calls(p->stmts[i], prefix))
            return true;
    return false;
}

static bool walk_elementwise(const node *n)
{
    if (!n)
        return true;
    switch (n->kind) {
    case N_NUM:
    case N_NAME:
        return true;
    case N_UNARY:
        return walk_elementwise(n->obj);
    case N_BINARY:
        return n->op != OP_MATMUL && walk_elementwise(n->obj) && walk_elementwise(n->rhs);
    case N_ASSIGN: /* (not an unpacking: it selects) */
        return !n->nargs && walk_elementwise(n->obj);
    case N_KWARG: /* clamp(x, min=0): a value, not a dim */
        return strcmp(n->name, "dim") && strcmp(n->name, "keepdim") && walk_elementwise(n->obj);
    case N_CALL: {
        /* sum of everything: sum(e) or e.sum(), nothing more */
        bool sum = !strcmp(n->name, "sum") && n->nargs == (n->obj ? 0 : 1);
        if (!sum && !tg_builtin_elementwise(n->name)) /* builtins.c says which */
            return false;
        for (int i = 0; i < n->nargs; i++)
            if (!walk_elementwise(n->args[i]))
                return false;
        return walk_elementwise(n->obj);
    }
    default: /* lists, tuples, attributes (.T, .shape), indexing, x += ... */
        return false;
    }
}

bool tg_program_elementwise(const tg_program *p)
{
    for (int i = 0; i < p->nstmts; i++)
        if (!walk_elementwise(p->stmts[i]))
            return false;
    return true;
}
