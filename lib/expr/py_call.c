/* py_call.c -- calling a value in the Python program mode (pyprog.h):
 * functions made by def and lambda, torch.func's transforms (grad, vmap,
 * jacrev, jacfwd, hessian) and Python's own functions. */
#include "pyprog.h"
#include <math.h>
#include <string.h>

#define MAX_CALL_DEPTH 100

static pv *call1(interp *I, pv *f, tg_tensor *x, int pos)
{
    pv *xv = pv_tensor(x);
    if (!xv)
        return NULL;
    const pnode *none = NULL;
    const char *nokw = NULL;
    args A = {.v = &xv, .kw = &nokw, .node = &none, .n = 1};
    pv *r = py_call_value(I, f, &A, pos);
    pv_unref(xv);
    if (r && r->kind != V_TENSOR) {
        tg_error_at(pos, TG_EINPUT, "the function must return a tensor, not %s", py_type_name(r));
        pv_unref(r);
        return NULL;
    }
    return r;
}

/* vmap(f)(x): f of each x[i], stacked (point by point; the result carries
 * no gradient) */
static pv *vmap_call(interp *I, pv *f, tg_tensor *x, int pos)
{
    if (x->ndim == 0) {
        tg_error_at(pos, TG_EINPUT, "vmap: the input must have a dimension to map over (it is 0-D)");
        return NULL;
    }
    int64_t n = x->shape[0];
    tg_tensor *out = NULL;
    for (int64_t i = 0; i < n; i++) {
        pv *r = call1(I, f, tg_select(tg_ref(x), 0, i), pos);
        tg_tensor *c = r ? tg_contiguous(tg_detach(tg_ref(r->t))) : NULL;
        pv_unref(r);
        if (c && !out && c->ndim + 1 > TG_MAX_DIMS)
            tg_error_at(pos, TG_EINPUT, "vmap: the result would have %d dimensions (tgrad's tensors have at "
                        "most %d)", c->ndim + 1, TG_MAX_DIMS);
        else if (c && !out) {
            int64_t shape[TG_MAX_DIMS];
            shape[0] = n;
            memcpy(shape + 1, c->shape, (size_t)c->ndim * sizeof *shape);
            out = tg_empty(c->dtype, c->ndim + 1, shape);
        }
        if (c && out && (c->dtype != out->dtype || c->ndim + 1 != out->ndim ||
                         memcmp(c->shape, out->shape + 1, (size_t)c->ndim * sizeof *c->shape))) {
            tg_error_at(pos, TG_EINPUT, "vmap: the function returned tensors of different shapes or dtypes");
            tg_release(c);
            c = NULL;
        }
        if (!c || !out) {
            tg_release(c);
            tg_release(out);
            return NULL;
        }
        size_t bytes = (size_t)c->numel * tg_dtype_size(c->dtype);
        memcpy((char *)tg_data(out) + (size_t)i * bytes, tg_data(c), bytes);
        tg_release(c);
    }
    if (!out) { /* no points: f's result shape is unknown */
        int64_t zero = 0;
        out = tg_empty(x->dtype, 1, &zero);
    }
    return pv_tensor(out);
}

static pv *transform_call(interp *I, pv *tf, args *A, int pos)
{
    pv *x = A->n ? A->v[0] : NULL;
    if (!x || x->kind != V_TENSOR || A->n != 1 || A->kw[0]) {
        tg_error_at(pos, TG_EINPUT, "%s(f)(x) takes one tensor x in the subset tgrad runs", tf->name);
        return NULL;
    }
    if (!strcmp(tf->name, "vmap"))
        return vmap_call(I, tf->inner, x->t, pos);
    if (!tg_dtype_is_float(x->t->dtype)) {
        tg_error_at(pos, TG_EINPUT, "%s: only floating point inputs can be differentiated", tf->name);
        return NULL;
    }
    tg_tensor *leaf = tg_detach(tg_ref(x->t));
    if (!leaf)
        return NULL;
    tg_set_requires_grad(leaf, true);
    bool old = tg_set_grad_enabled(true);
    pv *y = call1(I, tf->inner, tg_ref(leaf), pos);
    tg_set_grad_enabled(old);
    tg_tensor *r = NULL;
    tg_status st = y ? TG_OK : tg_errcode();
    if (st == TG_OK && !y->t->requires_grad)
        r = tg_zeros(leaf->dtype, leaf->ndim, leaf->shape); /* f does not depend on x */
    else if (st == TG_OK && !strcmp(tf->name, "grad")) {
        if (y->t->numel != 1)
            tg_error_at(pos, TG_EINPUT, "grad(f)(x): expected f(x) to return a scalar tensor, got a tensor "
                        "with %d dims (use jacrev for a vector function)", y->t->ndim);
        else
            tg_grad(y->t, NULL, &leaf, 1, false, &r);
    } else if (st == TG_OK && !strcmp(tf->name, "hessian"))
        tg_hessian(y->t, &leaf, 1, &r);
    else if (st == TG_OK)
        (!strcmp(tf->name, "jacfwd") ? tg_jacobian_fwd : tg_jacobian)(y->t, &leaf, 1, &r);
    pv_unref(y);
    tg_release(leaf);
    if (!r)
        py_error_at(pos);
    return pv_tensor(r);
}

static pv *func_call(const char *mod, const char *name, args *A, int pos)
{
    static const char *const names[] = {"grad", "vmap", "jacrev", "jacfwd", "hessian", NULL};
    int k = 0;
    while (names[k] && strcmp(names[k], name))
        k++;
    if (!names[k]) {
        tg_error_at(pos, TG_EINPUT, "%s.%s is not in the subset (it has grad, vmap, jacrev, jacfwd and hessian)",
                    mod, name);
        return NULL;
    }
    pv *f = A->n == 1 && !A->kw[0] ? A->v[0] : NULL;
    if (!f || (f->kind != V_FUNC && f->kind != V_TRANSFORM && f->kind != V_BUILTIN)) {
        tg_error_at(pos, TG_EINPUT, "%s() takes one function (argnums, in_dims and the other options are not in "
                    "the subset)", name);
        return NULL;
    }
    pv *t = pv_named(V_TRANSFORM, mod, names[k]);
    if (t)
        t->inner = pv_ref(f);
    return t;
}

/* print(*values, sep=' ', end='\n') */
static pv *print_call(interp *I, const char *name, args *A, int pos)
{
    pv *sep = py_take_kw(A, "sep"), *end = py_take_kw(A, "end");
    tg_status st = TG_OK;
    for (int k = 0; k < A->n && st == TG_OK; k++) {
        if (A->kw[k])
            st = tg_error_at(pos, TG_EINPUT, "print() got an unexpected keyword argument '%s'", A->kw[k]);
        else if (k && sep && sep->kind == V_STR)
            tg_buf_add(I->out, sep->s, sep->slen);
        else if (k)
            tg_buf_add(I->out, " ", 1);
        if (st == TG_OK)
            st = py_put_value(I->out, A->v[k], false);
    }
    if (st == TG_OK && end && end->kind == V_STR)
        tg_buf_add(I->out, end->s, end->slen);
    else if (st == TG_OK)
        tg_buf_add(I->out, "\n", 1);
    pv_unref(sep);
    pv_unref(end);
    I->printed = true;
    if (st != TG_OK)
        py_error_at(A->n ? A->node[0]->pos : pos);
    return st == TG_OK ? pv_new(V_NONE) : NULL;
}

static pv *len_of(const char *name, const pv *x, int pos)
{
    if (x->kind == V_TENSOR && x->t->ndim == 0)
        tg_error_at(pos, TG_EINPUT, "len() of a 0-d tensor");
    else if (x->kind == V_TENSOR)
        return pv_int(x->t->shape[0]);
    else if (x->kind == V_STR)
        return pv_int((int64_t)x->slen);
    else if (x->kind == V_LIST || x->kind == V_TUPLE || x->kind == V_SIZE)
        return pv_int(x->n);
    else
        tg_error_at(pos, TG_EINPUT, "object of type '%s' has no len()", py_type_name(x));
    return NULL;
}

/* str(x), repr(x) */
static pv *text_of(const char *name, const pv *x, int pos)
{
    tg_buf b = {0};
    pv *r = py_put_value(&b, x, name[0] == 'r') == TG_OK ? pv_str(b.data ? b.data : "", b.len) : NULL;
    tg_buf_free(&b);
    return r;
}

/* float(x), bool(x), abs(x), int(x), round(x) of a number or a
 * one-element tensor */
static pv *number_of(const char *name, const pv *x, int pos)
{
    double v = 0;
    if (x->kind == V_TENSOR && x->t->numel == 1)
        v = tg_item(x->t);
    else if (pv_is_number(x))
        v = pv_num(x);
    else {
        tg_error_at(pos, TG_EINPUT, "%s() of a %s%s is not in the subset", name, py_type_name(x),
                    x->kind == V_TENSOR ? " with more than one element" : "");
        return NULL;
    }
    if (!strcmp(name, "float"))
        return pv_float(v);
    if (!strcmp(name, "bool"))
        return pv_bool(v != 0);
    if (!strcmp(name, "abs"))
        return x->kind == V_FLOAT || x->kind == V_TENSOR ? pv_float(fabs(v))
                                                         : py_int_result(x->i < 0 ? -(__int128)x->i : x->i, pos);
    double r = !strcmp(name, "int") ? trunc(v) : nearbyint(v);
    if (!(r >= -9.2233720368547758e18 && r < 9.2233720368547758e18)) {
        tg_error_at(pos, TG_EINPUT, "cannot convert %g to an integer", v);
        return NULL;
    }
    return x->kind == V_INT ? pv_int(x->i) : pv_int((int64_t)r);
}

/* Python's functions that a program may name: print takes any arguments,
 * the others one; NULL: named, but not in the subset */
static const struct {
    const char *name;
    pv *(*of)(const char *name, const pv *x, int pos);
} python_fns[] = {
    {"print", NULL}, {"len", len_of}, {"float", number_of}, {"int", number_of}, {"str", text_of},
    {"bool", number_of}, {"abs", number_of}, {"round", number_of}, {"repr", text_of}, {"type", NULL},
    {"isinstance", NULL},
};

const char *py_python_function(const char *name)
{
    for (size_t k = 0; k < sizeof python_fns / sizeof *python_fns; k++)
        if (!strcmp(python_fns[k].name, name))
            return python_fns[k].name;
    return NULL;
}

static pv *python_call(interp *I, const char *name, args *A, int pos)
{
    if (!strcmp(name, "print"))
        return print_call(I, name, A, pos);
    pv *x = A->n == 1 && !A->kw[0] ? A->v[0] : NULL;
    if (!x) {
        tg_error_at(pos, TG_EINPUT, "%s() takes one argument in the subset tgrad runs", name);
        return NULL;
    }
    for (size_t k = 0; k < sizeof python_fns / sizeof *python_fns; k++)
        if (!strcmp(python_fns[k].name, name) && python_fns[k].of)
            return python_fns[k].of(name, x, pos);
    tg_error_at(pos, TG_EINPUT, "%s() is not in the subset tgrad runs", name);
    return NULL;
}

static pv *call_user(interp *I, pv *fn, args *A, int pos)
{
    const pnode *f = fn->fn;
    if (I->calls >= MAX_CALL_DEPTH) {
        tg_error_at(pos, TG_EINPUT, "maximum recursion depth exceeded (%d calls)", MAX_CALL_DEPTH);
        return NULL;
    }
    scope local = {.globals = &I->globals};
    tg_status st = TG_OK;
    int npos = 0;
    for (int k = 0; k < A->n && st == TG_OK; k++) {
        int p = -1;
        if (A->kw[k]) {
            for (int j = 0; j < f->nv && p < 0; j++)
                if (!strcmp(f->v[j]->name, A->kw[k]))
                    p = j;
        } else
            p = npos++;
        if (p < 0 || p >= f->nv)
            st = tg_error_at(pos, TG_EINPUT, "%s() got %s", f->kind == S_DEF ? f->name : "<lambda>",
                             p < 0 ? "an unexpected keyword argument" : "too many arguments");
        else if (py_scope_slot(&local, f->v[p]->name))
            st = tg_error_at(pos, TG_EINPUT, "got multiple values for argument '%s'", f->v[p]->name);
        else
            st = py_scope_set(&local, f->v[p]->name, pv_ref(A->v[k]));
    }
    for (int j = 0; j < f->nv && st == TG_OK; j++)
        if (!py_scope_slot(&local, f->v[j]->name))
            st = tg_error_at(pos, TG_EINPUT, "missing required argument: '%s'", f->v[j]->name);
    pv *r = NULL;
    I->calls++;
    if (st == TG_OK && f->kind == P_LAMBDA)
        r = py_eval(I, &local, f->a);
    else if (st == TG_OK && py_exec_block(I, &local, f->a, &r) == TG_OK && !r)
        r = pv_new(V_NONE);
    I->calls--;
    py_scope_free(&local);
    return r;
}

pv *py_call_value(interp *I, pv *fn, args *A, int pos)
{
    switch (fn->kind) {
    case V_FUNC: return call_user(I, fn, A, pos);
    case V_TRANSFORM: return transform_call(I, fn, A, pos);
    case V_BUILTIN:
        if (!fn->mod)
            return python_call(I, fn->name, A, pos);
        if (!strcmp(fn->mod, "torch.func") || !strcmp(fn->mod, "functorch"))
            return func_call(fn->mod, fn->name, A, pos);
        if (!strcmp(fn->mod, "torch.nn")) {
            tg_error_at(pos, TG_EINPUT, "torch.nn.%s is not in the subset tgrad runs (it has the functions of "
                        "torch.nn.functional)", fn->name);
            return NULL;
        }
        return py_module_call(I, fn->mod, fn->name, A, pos);
    default:
        tg_error_at(pos, TG_EINPUT, "'%s' object is not callable", py_type_name(fn));
        return NULL;
    }
}
