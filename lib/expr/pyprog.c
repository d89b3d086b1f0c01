/* pyprog.c -- running a Python-subset program (tg-expr(5), PYTHON
 * PROGRAMS) with PyTorch's meaning: the lesson's code as written.
 *
 * Values are Python's (None, bools, ints, floats, strings, lists and
 * tuples, torch.Size, dtypes, devices, functions, modules) and tensors.
 * Tensor work goes through the library: the operators through
 * tg_binary_op, and every function, method, attribute and index that the
 * expression language has through eval.c itself, over a call node made
 * for it whose arguments are bound in a small environment of their own.
 * What the expression language does not have is here: leaves made in the
 * program, backward() with gradients that accumulate, no_grad blocks,
 * devices, print() with PyTorch's text, f-strings and torch.func.
 *
 * This file has names, modules, expressions, statements and the program;
 * pyprog.h lists the parts in py_*.c (values, text, operators, arguments,
 * functions, tensors' methods, the bridge to eval.c). */
#include "pyprog.h"
#include <string.h>

/* ---- names ---- */
static pv *eval_name(interp *I, scope *S, const pnode *n)
{
    if (!strcmp(n->name, "None"))
        return pv_new(V_NONE);
    if (!strcmp(n->name, "True") || !strcmp(n->name, "False"))
        return pv_bool(n->name[0] == 'T');
    pv *v = py_scope_get(S, n->name);
    if (v)
        return pv_ref(v);
    const char *fn = py_python_function(n->name);
    if (fn)
        return pv_named(V_BUILTIN, NULL, fn);
    tg_error_at(n->pos, TG_EINPUT, "name '%s' is not defined (a Python program makes its own tensors, as in "
                "%s = torch.tensor(2.0, requires_grad=True); --at gives values to an expression)",
                n->name, n->name);
    return NULL;
}

/* ---- modules ---- */
/* the modules a program may import, and the name "import NAME" binds */
static const struct module {
    const char *name, *top;
} modules[] = {
    {"torch", "torch"}, {"torch.nn", "torch"}, {"torch.nn.functional", "torch"}, {"torch.func", "torch"},
    {"torch.cuda", "torch"}, {"functorch", "functorch"}, {"numpy", "numpy"},
};

/* the module NAME, or with parent non-NULL, PARENT.NAME */
static const struct module *find_module(const char *parent, const char *name)
{
    size_t n = parent ? strlen(parent) : 0;
    for (size_t k = 0; k < sizeof modules / sizeof *modules; k++) {
        const char *m = modules[k].name;
        if (parent && (strncmp(m, parent, n) || m[n] != '.'))
            continue;
        if (!strcmp(parent ? m + n + 1 : m, name))
            return &modules[k];
    }
    return NULL;
}

static bool dtype_name(const char *name, tg_dtype *dt)
{
    static const struct { const char *name; tg_dtype dt; } names[] = {
        {"float32", TG_FLOAT32}, {"float", TG_FLOAT32}, {"float64", TG_FLOAT64}, {"double", TG_FLOAT64},
        {"int64", TG_INT64}, {"long", TG_INT64}, {"bool", TG_BOOL},
    };
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
        if (!strcmp(names[k].name, name)) {
            *dt = names[k].dt;
            return true;
        }
    return false;
}

static pv *module_attr(const pv *m, const char *name, int pos)
{
    const struct module *sub = find_module(m->name, name);
    if (sub)
        return pv_named(V_MODULE, NULL, sub->name);
    tg_dtype dt;
    if (!strcmp(m->name, "torch") && dtype_name(name, &dt))
        return pv_dtype(dt);
    if (!strcmp(m->name, "torch") && (!strcmp(name, "int32") || !strcmp(name, "float16") ||
                                      !strcmp(name, "bfloat16") || !strcmp(name, "int8") || !strcmp(name, "uint8"))) {
        tg_error_at(pos, TG_EINPUT, "torch.%s is not supported: tgrad's dtypes are float32, float64, int64 "
                    "and bool", name);
        return NULL;
    }
    if (!strcmp(m->name, "torch") && (!strcmp(name, "optim") || !strcmp(name, "autograd") ||
                                      !strcmp(name, "utils") || !strcmp(name, "jit"))) {
        tg_error_at(pos, TG_EINPUT, "torch.%s is not in the subset tgrad runs (for gradients use backward(); "
                    "for Jacobians torch.func.jacrev or tgrad --jacobian)", name);
        return NULL;
    }
    return pv_named(V_BUILTIN, m->name, name);
}

static tg_status exec_import(interp *I, scope *S, const pnode *n)
{
    const struct module *mod = find_module(NULL, n->name);
    if (!mod)
        return tg_error_at(n->pos, TG_EINPUT, "module '%s' is not in the subset tgrad runs (it has torch, "
                           "torch.nn.functional, torch.func, functorch and numpy)", n->name);
    if (n->kind == S_IMPORT) /* import torch.nn.functional binds torch; with "as F", F */
        return py_scope_set(S, n->str ? n->str : mod->top, pv_named(V_MODULE, NULL, n->str ? mod->name : mod->top));
    pv *m = pv_named(V_MODULE, NULL, mod->name);
    tg_status st = m ? TG_OK : TG_ERESOURCE;
    for (int k = 0; k < n->nv && st == TG_OK; k++) {
        const pnode *p = n->v[k];
        pv *v = module_attr(m, p->name, p->pos);
        st = py_scope_set(S, p->str ? p->str : p->name, v);
    }
    pv_unref(m);
    return st;
}

static pv *eval_call(interp *I, scope *S, const pnode *n)
{
    const pnode *callee = n->a;
    if (callee->kind == P_ATTR && !strcmp(callee->name, "zero_") && callee->a->kind == P_ATTR &&
        !strcmp(callee->a->name, "grad") && n->nv == 0)
        return py_zero_grad(I, S, callee->a->a);
    pv *recv = callee->kind == P_ATTR ? py_eval(I, S, callee->a) : NULL, *fn = NULL, *r = NULL;
    if (callee->kind == P_ATTR && !recv)
        return NULL;
    args A;
    if (py_args_eval(I, S, n, &A) != TG_OK) {
        pv_unref(recv);
        return NULL;
    }
    if (recv && recv->kind == V_TENSOR)
        r = py_tensor_method(I, S, recv, callee->name, &A, callee->pos);
    else if (recv && recv->kind == V_GRADFN && !strcmp(callee->name, "name") &&
             py_check_args(&A, &(py_sig){.name = "name"}, n->pos) == TG_OK)
        r = pv_str(recv->name, strlen(recv->name));
    else if (recv && recv->kind == V_MODULE)
        fn = module_attr(recv, callee->name, callee->pos);
    else if (recv && !tg_errcode())
        tg_error_at(callee->pos, TG_EINPUT, "'%s' object has no attribute '%s'", py_type_name(recv), callee->name);
    else if (!recv)
        fn = py_eval(I, S, callee);
    if (fn)
        r = py_call_value(I, fn, &A, callee->kind == P_ATTR ? callee->pos : n->pos);
    pv_unref(fn);
    pv_unref(recv);
    py_args_free(&A);
    return r;
}

static pv *eval_attr(interp *I, scope *S, const pnode *n)
{
    pv *x = py_eval(I, S, n->a), *r = NULL;
    if (!x)
        return NULL;
    if (x->kind == V_TENSOR)
        r = py_tensor_attr(I, x, n->name, n->pos);
    else if (x->kind == V_MODULE)
        r = module_attr(x, n->name, n->pos);
    else if (x->kind == V_DEVICE && !strcmp(n->name, "type")) {
        const char *c = strchr(x->s, ':');
        r = pv_str(x->s, c ? (size_t)(c - x->s) : strlen(x->s));
    } else if (x->kind == V_DTYPE && !strcmp(n->name, "is_floating_point"))
        r = pv_bool(tg_dtype_is_float(x->dt));
    else
        tg_error_at(n->pos, TG_EINPUT, "'%s' object has no attribute '%s'", py_type_name(x), n->name);
    pv_unref(x);
    return r;
}

/* seq[i] on a list, tuple or torch.Size (ints and slices with step 1) */
static pv *index_seq(const pv *x, const pv *i, int pos)
{
    if (i->kind != V_INT) {
        tg_error_at(pos, TG_EINPUT, "%s indices must be integers", py_type_name(x));
        return NULL;
    }
    int64_t k = i->i < 0 ? i->i + x->n : i->i;
    if (k < 0 || k >= x->n) {
        tg_error_at(pos, TG_EINPUT, "%s index out of range", py_type_name(x));
        return NULL;
    }
    return pv_ref(x->items[k]);
}

static pv *eval_index(interp *I, scope *S, const pnode *n)
{
    pv *x = py_eval(I, S, n->a), *r = NULL;
    if (!x)
        return NULL;
    if (x->kind != V_TENSOR) {
        pv *i = n->nv == 1 && n->v[0]->kind != P_SLICE ? py_eval(I, S, n->v[0]) : NULL;
        if (i && (x->kind == V_LIST || x->kind == V_TUPLE || x->kind == V_SIZE))
            r = index_seq(x, i, n->pos);
        else if (!tg_errcode())
            tg_error_at(n->pos, TG_EINPUT, "indexing a %s this way is not in the subset", py_type_name(x));
        pv_unref(i);
        pv_unref(x);
        return r;
    }
    tg_env env = {0};
    node *ix = py_synth(I, N_INDEX, n->pos, NULL);
    if (ix && (!(ix->obj = py_operand(I, &env, x, n->pos)) ||
               !(ix->args = prog_alloc(I->arena, (size_t)(n->nv ? n->nv : 1) * sizeof *ix->args))))
        ix = NULL;
    for (int k = 0; ix && k < n->nv; k++) {
        const pnode *s = n->v[k];
        const pnode *parts[3] = {s->kind == P_SLICE ? s->a : s, s->kind == P_SLICE ? s->b : NULL,
                                 s->kind == P_SLICE ? s->c : NULL};
        node *nodes[3] = {0};
        for (int j = 0; j < 3 && ix; j++) {
            pv *v = parts[j] ? py_eval(I, S, parts[j]) : NULL;
            if (parts[j] && !v)
                ix = NULL;
            else if (v && v->kind != V_NONE && !(nodes[j] = py_operand(I, &env, v, parts[j]->pos)))
                ix = NULL;
            pv_unref(v);
        }
        node *sub = nodes[0];
        if (ix && s->kind == P_SLICE) {
            if (!(sub = py_synth(I, N_SLICE, s->pos, NULL)) || !(sub->args = prog_alloc(I->arena, sizeof(node *))))
                ix = NULL;
            else {
                sub->obj = nodes[0];
                sub->rhs = nodes[1];
                sub->args[0] = nodes[2];
            }
        } else if (ix && !sub) {
            tg_error_at(s->pos, TG_EINPUT, "indexing with None is not in the subset");
            ix = NULL;
        }
        if (ix)
            ix->args[ix->nargs++] = sub;
    }
    pv_unref(x);
    if (!ix) {
        tg_env_free(&env);
        return NULL;
    }
    return py_run_node(ix, &env);
}

static pv *eval_seq(interp *I, scope *S, const pnode *n)
{
    pv *r = pv_seq(n->kind == P_LIST ? V_LIST : V_TUPLE, n->nv);
    for (int k = 0; r && k < n->nv; k++)
        if (!(r->items[k] = py_eval(I, S, n->v[k]))) {
            pv_unref(r);
            return NULL;
        }
    return r;
}

static pv *eval_unary(interp *I, scope *S, const pnode *n)
{
    pv *x = py_eval(I, S, n->a), *r = NULL;
    if (!x || n->op == OP_ADD)
        return x;
    if (x->kind == V_FLOAT)
        r = pv_float(-x->f);
    else if (x->kind == V_INT || x->kind == V_BOOL)
        r = py_int_result(-(__int128)x->i, n->pos);
    else if (x->kind == V_TENSOR && x->t->dtype == TG_BOOL)
        tg_error_at(n->pos, TG_EINPUT, "Negation, the `-` operator, on a bool tensor is not supported. If you are "
                    "trying to invert a mask, use the `~` or `logical_not()` operator instead.");
    else if (x->kind == V_TENSOR)
        r = pv_tensor(tg_neg(tg_ref(x->t)));
    else
        tg_error_at(n->pos, TG_EINPUT, "bad operand type for unary -: '%s'", py_type_name(x));
    pv_unref(x);
    return r;
}

static pv *eval_boolop(interp *I, scope *S, const pnode *n)
{
    pv *a = py_eval(I, S, n->a);
    bool t;
    if (!a || !py_truth(a, n->pos, &t)) {
        pv_unref(a);
        return NULL;
    }
    if ((n->kind == P_AND) != t) /* a and b: a when false; a or b: a when true */
        return a;
    pv_unref(a);
    return py_eval(I, S, n->b);
}

pv *py_eval(interp *I, scope *S, const pnode *n)
{
    pv *r = NULL;
    switch (n->kind) {
    case P_NUM: r = n->is_int ? pv_int(n->ival) : pv_float(n->num); break;
    case P_STR: r = pv_str(n->str, n->slen); break;
    case P_FSTR: r = py_eval_fstring(I, S, n); break;
    case P_NAME: r = eval_name(I, S, n); break;
    case P_LIST:
    case P_TUPLE: r = eval_seq(I, S, n); break;
    case P_UNARY: r = eval_unary(I, S, n); break;
    case P_NOT: {
        pv *x = py_eval(I, S, n->a);
        bool t;
        if (x && py_truth(x, n->pos, &t))
            r = pv_bool(!t);
        pv_unref(x);
        break;
    }
    case P_BINARY: {
        pv *a = py_eval(I, S, n->a), *b = a ? py_eval(I, S, n->b) : NULL;
        if (b)
            r = py_binary_op(n->op, a, b, n->pos);
        pv_unref(a);
        pv_unref(b);
        break;
    }
    case P_COMPARE: r = py_compare(I, S, n); break;
    case P_AND:
    case P_OR: r = eval_boolop(I, S, n); break;
    case P_IFEXP: {
        pv *c = py_eval(I, S, n->b);
        bool t;
        if (c && py_truth(c, n->pos, &t))
            r = py_eval(I, S, t ? n->a : n->c);
        pv_unref(c);
        break;
    }
    case P_LAMBDA:
        if ((r = pv_new(V_FUNC)))
            r->fn = n;
        break;
    case P_CALL: r = eval_call(I, S, n); break;
    case P_ATTR: r = eval_attr(I, S, n); break;
    case P_INDEX: r = eval_index(I, S, n); break;
    case P_SLICE: tg_error_at(n->pos, TG_EINPUT, "a slice (a:b) can only stand inside brackets"); break;
    case P_KWARG: tg_error_at(n->pos, TG_EINPUT, "a keyword argument can only stand in a call"); break;
    default: tg_error_at(n->pos, TG_EINPUT, "a statement where an expression was expected"); break;
    }
    if (!r)
        py_error_at(n->pos);
    return r;
}

/* ---- statements ---- */
static tg_status assign_attr(interp *I, scope *S, const pnode *target, pv *v)
{
    pv *x = py_eval(I, S, target->a), *r = NULL;
    tg_status st = x ? TG_OK : tg_errcode();
    if (st == TG_OK && x->kind == V_TENSOR && !strcmp(target->name, "requires_grad"))
        st = (r = py_set_requires_grad(x, v, target->pos)) ? TG_OK : tg_errcode();
    else if (st == TG_OK && x->kind == V_TENSOR && !strcmp(target->name, "grad") && v->kind == V_NONE)
        tg_zero_grad(x->t); /* x.grad = None */
    else if (st == TG_OK)
        st = tg_error_at(target->pos, TG_EINPUT, "assigning .%s is not in the subset (it has x.requires_grad = "
                         "True/False and x.grad = None)", target->name);
    pv_unref(r);
    pv_unref(x);
    pv_unref(v);
    return st;
}

static tg_status assign(interp *I, scope *S, const pnode *target, pv *v)
{
    if (!v)
        return tg_errcode();
    if (target->kind == P_NAME) {
        if (!strcmp(target->name, "None") || !strcmp(target->name, "True") || !strcmp(target->name, "False")) {
            pv_unref(v);
            return tg_error_at(target->pos, TG_EINPUT, "cannot assign to %s", target->name);
        }
        return py_scope_set(S, target->name, v);
    }
    if (target->kind == P_ATTR)
        return assign_attr(I, S, target, v);
    if (target->kind == P_TUPLE || target->kind == P_LIST) {
        tg_status st = TG_OK;
        if (v->kind != V_TUPLE && v->kind != V_LIST && v->kind != V_SIZE)
            st = tg_error_at(target->pos, TG_EINPUT, "cannot unpack a %s into %d names", py_type_name(v), target->nv);
        else if (v->n != target->nv)
            st = tg_error_at(target->pos, TG_EINPUT, "%s values to unpack (expected %d, got %d)",
                             v->n > target->nv ? "too many" : "not enough", target->nv, v->n);
        for (int k = 0; k < target->nv && st == TG_OK; k++)
            st = assign(I, S, target->v[k], pv_ref(v->items[k]));
        pv_unref(v);
        return st;
    }
    pv_unref(v);
    return tg_error_at(target->pos, TG_EINPUT, "assigning to %s is not in the subset (it assigns names, "
                       "tuples of names and x.requires_grad)", target->kind == P_INDEX ? "an element" : "this");
}

/* w.data -= lr * w.grad: the update of a leaf's values that autograd does
 * not see (as under no_grad) */
static tg_status exec_data_update(interp *I, scope *S, const pnode *n)
{
    pv *x = py_eval(I, S, n->a->a), *y = x ? py_eval(I, S, n->b) : NULL, *r = NULL;
    if (y && x->kind != V_TENSOR)
        tg_error_at(n->a->pos, TG_EINPUT, "'%s' object has no attribute 'data'", py_type_name(x));
    else if (y) {
        bool old = tg_set_grad_enabled(false);
        r = py_update(I, S, x, n->op, y, n->pos);
        tg_set_grad_enabled(old);
    }
    pv_unref(x);
    pv_unref(y);
    pv_unref(r);
    return r ? TG_OK : tg_errcode();
}

static tg_status exec_augassign(interp *I, scope *S, const pnode *n)
{
    if (n->a->kind == P_ATTR && !strcmp(n->a->name, "data"))
        return exec_data_update(I, S, n);
    if (n->a->kind != P_NAME)
        return tg_error_at(n->pos, TG_EINPUT, "only a name can be updated in place (x += 1) in the subset");
    pv *x = py_eval(I, S, n->a), *y = x ? py_eval(I, S, n->b) : NULL, *r = NULL;
    if (y && x->kind == V_TENSOR)
        r = py_update(I, S, x, n->op, y, n->pos);
    else if (y)
        r = py_binary_op(n->op, x, y, n->pos);
    tg_status st = r ? TG_OK : tg_errcode();
    if (r && x->kind != V_TENSOR)
        st = py_scope_set(S, n->a->name, pv_ref(r));
    pv_unref(x);
    pv_unref(y);
    pv_unref(r);
    return st;
}

static tg_status exec_with(interp *I, scope *S, const pnode *n, pv **ret)
{
    pv *m = py_eval(I, S, n->a);
    if (!m)
        return tg_errcode();
    tg_status st;
    if (m->kind != V_GRADMODE)
        st = tg_error_at(n->a->pos, TG_EINPUT, "with: only torch.no_grad() and torch.enable_grad() are in the "
                         "subset (tgrad --no-grad evaluates an expression without gradients)");
    else {
        bool old = tg_set_grad_enabled(m->i != 0);
        st = py_exec_block(I, S, n->b, ret);
        tg_set_grad_enabled(old);
    }
    pv_unref(m);
    return st;
}

static tg_status exec_stmt(interp *I, scope *S, const pnode *n, pv **ret)
{
    switch (n->kind) {
    case S_EXPR:
    case S_ASSIGN: {
        pv *v = py_eval(I, S, n->kind == S_EXPR ? n->a : n->b);
        if (v && v->kind == V_TENSOR && S == &I->globals) { /* the program's value, when it prints nothing */
            pv_unref(I->last);
            I->last = pv_ref(v);
        }
        if (n->kind == S_ASSIGN)
            return assign(I, S, n->a, v);
        pv_unref(v);
        return v ? TG_OK : tg_errcode();
    }
    case S_AUGASSIGN: return exec_augassign(I, S, n);
    case S_IMPORT:
    case S_FROM: return exec_import(I, S, n);
    case S_DEF: {
        pv *f = pv_new(V_FUNC);
        if (f)
            f->fn = n;
        return py_scope_set(S, n->name, f);
    }
    case S_RETURN:
        if (S == &I->globals)
            return tg_error_at(n->pos, TG_EINPUT, "'return' outside function");
        *ret = n->a ? py_eval(I, S, n->a) : pv_new(V_NONE);
        return *ret ? TG_OK : tg_errcode();
    case S_IF: {
        pv *c = py_eval(I, S, n->a);
        bool t = false;
        tg_status st = c && py_truth(c, n->a->pos, &t) ? TG_OK : tg_errcode();
        pv_unref(c);
        if (st != TG_OK)
            return st;
        if (t)
            return py_exec_block(I, S, n->b, ret);
        return n->c ? (n->c->kind == S_IF ? exec_stmt(I, S, n->c, ret) : py_exec_block(I, S, n->c, ret)) : TG_OK;
    }
    case S_WITH: return exec_with(I, S, n, ret);
    case S_PASS: return TG_OK;
    default: return tg_error_at(n->pos, TG_EINPUT, "not a statement");
    }
}

tg_status py_exec_block(interp *I, scope *S, const pnode *b, pv **ret)
{
    for (int k = 0; k < b->nv && !*ret; k++) {
        tg_status st = exec_stmt(I, S, b->v[k], ret);
        if (st != TG_OK) {
            py_error_at(b->v[k]->pos);
            return st;
        }
    }
    return TG_OK;
}

/* ---- the program ---- */
bool tg_python_program(const char *file, const char *src)
{
    size_t n = file ? strlen(file) : 0;
    if (n >= 3 && !strcmp(file + n - 3, ".py"))
        return true;
    if (!src)
        return false;
    for (const char *line = src; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        while (*line == ' ' || *line == '\t')
            line++;
        static const char *const starts[] = {"import ", "from ", "print(", "def ", "with ", "if ", NULL};
        for (int k = 0; starts[k]; k++)
            if (!strncmp(line, starts[k], strlen(starts[k])))
                return true;
    }
    return strstr(src, ".backward(") != NULL || strstr(src, "requires_grad=") != NULL;
}

/* the result of a program that printed nothing: {"value":V,"grad":{...}}
 * of its last expression statement and the leaves it named */
static tg_status result_json(interp *I, bool pretty, tg_buf *out)
{
    if (!I->last || I->last->kind != V_TENSOR)
        return TG_OK;
    scope *G = &I->globals;
    const char **names = tg_calloc((size_t)G->n + 1, sizeof *names);
    tg_tensor **grads = tg_calloc((size_t)G->n + 1, sizeof *grads);
    int n = 0;
    tg_status st = names && grads ? TG_OK : TG_ERESOURCE;
    for (int k = 0; k < G->n && st == TG_OK; k++) {
        const pv *v = G->b[k].v;
        if (v->kind == V_TENSOR && !v->t->op && v->t->grad) {
            names[n] = G->b[k].name;
            grads[n++] = v->t->grad;
        }
    }
    if (st == TG_OK)
        st = tg_result_grad(out, I->last->t, n ? names : NULL, grads, n, pretty, NULL);
    tg_free(names);
    tg_free(grads);
    return st;
}

tg_status tg_python_run(const char *src, bool pretty, tg_buf *out)
{
    interp I = {0};
    tg_buf printed = {0};
    I.out = &printed;
    I.arena = tg_calloc(1, sizeof *I.arena);
    pnode *prog = I.arena ? tg_py_parse(I.arena, src) : NULL;
    /* torch is there without "import torch", for one-line programs */
    tg_status st = prog ? py_scope_set(&I.globals, "torch", pv_named(V_MODULE, NULL, "torch")) : tg_errcode();
    bool grad_mode = tg_grad_enabled();
    /* as in PyTorch, tensors start on the CPU whatever TG_DEVICE or
     * --device say: the program moves them with .to(device) */
    tg_device device = tg_get_device();
    tg_set_device(TG_DEV_CPU);
    pv *ret = NULL;
    if (st == TG_OK)
        st = py_exec_block(&I, &I.globals, prog, &ret);
    tg_set_grad_enabled(grad_mode);
    tg_set_device(device);
    if (st == TG_OK && printed.failed)
        st = tg_error(TG_ERESOURCE, "out of memory");
    if (st == TG_OK && I.printed)
        tg_buf_add(out, printed.data ? printed.data : "", printed.len);
    else if (st == TG_OK)
        st = result_json(&I, pretty, out);
    pv_unref(ret);
    pv_unref(I.last);
    py_scope_free(&I.globals);
    tg_buf_free(&printed);
    tg_program_free(I.arena);
    return st;
}
