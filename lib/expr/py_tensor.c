/* py_tensor.c -- tensors' methods and attributes in the Python program
 * mode (pyprog.h): those eval.c does not have (backward(), item(), to(),
 * in-place updates, requires_grad ...); the rest go to eval.c. */
#include "pyprog.h"
#include "builtins.h"
#include "io/torch_repr.h"
#include <string.h>

/* x.to(device), x.to(dtype), x.to(device, dtype), keywords device= dtype= */
static pv *tensor_to(const pv *x, args *A, int pos)
{
    pv *dv = py_take_kw(A, "device"), *dtv = py_take_kw(A, "dtype");
    tg_status st = TG_OK;
    for (int k = 0; k < A->n && st == TG_OK; k++) {
        pv *v = A->v[k];
        if (A->kw[k])
            st = tg_error_at(pos, TG_EINPUT, "to() got an unexpected keyword argument '%s'", A->kw[k]);
        else if (v->kind == V_DTYPE && !dtv)
            dtv = pv_ref(v);
        else if ((v->kind == V_DEVICE || v->kind == V_STR) && !dv)
            dv = pv_ref(v);
        else
            st = tg_error_at(pos, TG_EINPUT, "to() takes a device and a dtype, not %s", py_type_name(v));
    }
    tg_device dev = x->t->storage->device;
    if (st == TG_OK && dv && dv->kind != V_NONE)
        st = py_parse_device(dv, &dev, pos);
    if (st == TG_OK && dtv && dtv->kind != V_DTYPE && dtv->kind != V_NONE)
        st = tg_error_at(pos, TG_EINPUT, "to(): dtype must be a torch dtype");
    tg_tensor *t = st == TG_OK ? py_to_device(tg_ref(x->t), dev) : NULL;
    if (t && dtv && dtv->kind == V_DTYPE && dtv->dt != t->dtype)
        t = tg_cast(t, dtv->dt);
    pv_unref(dv);
    pv_unref(dtv);
    return pv_tensor(t);
}

static pv *tolist(const tg_tensor *t, int dim, int64_t *at)
{
    if (dim == t->ndim) {
        int64_t i = (*at)++;
        if (tg_dtype_is_float(t->dtype))
            return pv_float(tg_get(t, i));
        return t->dtype == TG_BOOL ? pv_bool(tg_get(t, i) != 0) : pv_int(tg_get_i64(t, i));
    }
    if (t->shape[dim] > INT32_MAX) {
        tg_error(TG_EINPUT, "tolist(): too many elements");
        return NULL;
    }
    pv *l = pv_seq(V_LIST, (int)t->shape[dim]);
    for (int k = 0; l && k < l->n; k++)
        if (!(l->items[k] = tolist(t, dim + 1, at))) {
            pv_unref(l);
            return NULL;
        }
    return l;
}

/* y.backward(gradient, retain_graph, create_graph) */
static pv *backward(interp *I, pv *y, const args *A, int pos)
{
    pv *g = py_arg(A, 0, "gradient"), *rg = py_arg(A, 1, "retain_graph"), *cg = py_arg(A, 2, "create_graph");
    bool retain = false, create = false;
    tg_status st = TG_OK;
    if ((rg && !py_truth(rg, pos, &retain)) || (cg && !py_truth(cg, pos, &create)))
        st = tg_errcode();
    retain = retain || create;
    tg_tensor *gt = NULL;
    if (st == TG_OK && g && g->kind != V_NONE && g->kind != V_TENSOR) /* PyTorch makes no tensor of it */
        st = tg_error_at(pos, TG_EINPUT, "gradients can be either Tensors or None, but got %s (write "
                         "torch.tensor(...) around it)", py_type_name(g));
    if (st == TG_OK && g && g->kind != V_NONE && !(gt = py_to_tensor(g, pos)))
        st = tg_errcode();
    if (st == TG_OK && !y->t->requires_grad)
        st = tg_error_at(pos, TG_EINPUT, "element 0 of tensors does not require grad and does not have a grad_fn");
    else if (st == TG_OK && y->t->tape.graph_freed)
        st = tg_error_at(pos, TG_EINPUT, "Trying to backward through the graph a second time (or directly access "
                         "saved tensors after they have already been freed). Saved intermediate values of the graph "
                         "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you "
                         "need to backward through the graph a second time or if you need to access saved tensors "
                         "after calling backward.");
    if (st == TG_OK) {
        tg_device old = py_follow_device(&y->t, 1);
        st = tg_backward(y->t, gt, retain, create);
        tg_set_device(old);
        gt = NULL;
    }
    tg_release(gt);
    if (st != TG_OK) {
        py_error_at(pos);
        return NULL;
    }
    pv_unref(I->last); /* the program's value, when it prints nothing */
    I->last = pv_ref(y);
    return pv_new(V_NONE);
}

/* x op= y (and x.add_(y) ...) through eval.c's in-place update; the names
 * bound to x see the new tensor */
pv *py_update(interp *I, scope *S, pv *x, int op, const pv *y, int pos)
{
    if (!x->t->op && x->t->requires_grad && tg_grad_enabled()) { /* PyTorch's words */
        tg_error_at(pos, TG_EINPUT, "a leaf Variable that requires grad is being used in an in-place operation.");
        return NULL;
    }
    tg_env env = {0};
    node *n = py_synth(I, N_AUGASSIGN, pos, "_x");
    node *rhs = n && tg_env_set(&env, "_x", tg_ref(x->t)) == TG_OK ? py_operand(I, &env, y, pos) : NULL;
    if (!rhs) {
        tg_env_free(&env);
        return NULL;
    }
    n->op = op;
    n->obj = rhs;
    tg_tensor *old = x->t;
    pv *r = py_run_node(n, &env);
    if (r && r->t != old && !old->op && !r->t->op) {
        /* a leaf updated under no_grad (w -= lr * w.grad) stays the same
         * leaf in PyTorch: it still requires grad and keeps its .grad */
        r->t->requires_grad = old->requires_grad;
        if (!r->t->grad)
            r->t->grad = old->grad ? tg_ref(old->grad) : NULL;
    }
    if (r && py_scope_rebind(S, old, r->t) != TG_OK) {
        pv_unref(r);
        return NULL;
    }
    return r;
}

pv *py_set_requires_grad(pv *x, const pv *flag, int pos)
{
    bool on = true;
    if (flag && !py_truth(flag, pos, &on))
        return NULL;
    if (x->t->op && !on) {
        tg_error_at(pos, TG_EINPUT, "you can only change requires_grad flags of leaf variables. If you want to use "
                    "a computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach().");
        return NULL;
    }
    if (on && !tg_dtype_is_float(x->t->dtype)) {
        tg_error_at(pos, TG_EINPUT, "only Tensors of floating point dtype can require gradients");
        return NULL;
    }
    if (!x->t->op)
        tg_set_requires_grad(x->t, on);
    return pv_ref(x);
}

/* ---- attributes ---- */
static pv *attr_grad(const tg_tensor *t) { return t->grad ? pv_tensor(tg_ref(t->grad)) : pv_new(V_NONE); }
static pv *attr_requires_grad(const tg_tensor *t) { return pv_bool(t->requires_grad); }
static pv *attr_is_leaf(const tg_tensor *t) { return pv_bool(!t->op || !t->requires_grad); }
static pv *attr_dtype(const tg_tensor *t) { return pv_dtype(t->dtype); }
static pv *attr_shape(const tg_tensor *t) { return pv_size(t); }
static pv *attr_ndim(const tg_tensor *t) { return pv_int(t->ndim); }
static pv *attr_is_cuda(const tg_tensor *t) { return pv_bool(t->storage->device == TG_DEV_CUDA); }
static pv *attr_device(const tg_tensor *t) { return pv_device(t->storage->device == TG_DEV_CUDA ? "cuda:0" : "cpu"); }

static pv *attr_grad_fn(const tg_tensor *t)
{
    const char *fn = tg_grad_fn_name(t);
    return fn ? pv_named(V_GRADFN, NULL, fn) : pv_new(V_NONE);
}

/* the attributes of a tensor; NULL get: eval.c's attribute of that name */
static const struct {
    const char *name;
    pv *(*get)(const tg_tensor *t);
} tensor_attrs[] = {
    {"grad", attr_grad}, {"requires_grad", attr_requires_grad}, {"is_leaf", attr_is_leaf},
    {"grad_fn", attr_grad_fn}, {"dtype", attr_dtype}, {"device", attr_device}, {"shape", attr_shape},
    {"ndim", attr_ndim}, {"T", NULL}, {"mT", NULL}, {"data", NULL}, {"is_cuda", attr_is_cuda},
};
enum { N_TENSOR_ATTRS = sizeof tensor_attrs / sizeof *tensor_attrs };

typedef struct method method;
static const method *find_method(const char *name);

/* x.name where a tensor has no attribute name: say what it is */
static void no_attribute(const char *name, int pos)
{
    /* x.size is PyTorch's method, x.shape the attribute */
    const char *near = !strcmp(name, "size") ? "shape' or 'size()" : NULL;
    if (!near && (tg_builtin_find(name) || find_method(name))) {
        tg_error_at(pos, TG_EINPUT, "'.%s' is a method: call it, as in x.%s()", name, name);
        return;
    }
    const char *names[N_TENSOR_ATTRS];
    for (int k = 0; k < N_TENSOR_ATTRS; k++)
        names[k] = tensor_attrs[k].name;
    if (!near)
        near = tg_nearest_name(name, names, N_TENSOR_ATTRS);
    if (near)
        tg_error_at(pos, TG_EINPUT, "'Tensor' object has no attribute '%s' (did you mean '%s'?)", name, near);
    else
        tg_error_at(pos, TG_EINPUT, "'Tensor' object has no attribute '%s'", name);
}

pv *py_tensor_attr(interp *I, const pv *x, const char *name, int pos)
{
    for (int k = 0; k < N_TENSOR_ATTRS; k++) {
        if (strcmp(tensor_attrs[k].name, name))
            continue;
        if (tensor_attrs[k].get)
            return tensor_attrs[k].get(x->t);
        tg_env env = {0};
        node *a = py_synth(I, N_ATTR, pos, name);
        if (a && !(a->obj = py_operand(I, &env, x, pos)))
            a = NULL;
        return py_run_node(a, &env);
    }
    no_attribute(name, pos);
    return NULL;
}

/* ---- methods ---- */
/* a method's call: the arguments fit the method's signature */
typedef struct {
    interp *I;
    scope *S;
    pv *x; /* the tensor */
    args *A;
    int pos;
    const method *m;
} mcall;

/* a method eval.c does not have: its signature, what runs it, and for
 * the in-place ones the operator they apply */
struct method {
    py_sig sig;
    pv *(*run)(const mcall *c);
    int op;
};

static pv *m_backward(const mcall *c) { return backward(c->I, c->x, c->A, c->pos); }
static pv *m_to(const mcall *c) { return tensor_to(c->x, c->A, c->pos); }

static pv *m_requires_grad(const mcall *c)
{
    return py_set_requires_grad(c->x, py_arg(c->A, 0, "requires_grad"), c->pos);
}

static pv *m_update(const mcall *c)
{
    return py_update(c->I, c->S, c->x, c->m->op, py_arg(c->A, 0, "other"), c->pos);
}
static pv *m_dim(const mcall *c) { return pv_int(c->x->t->ndim); }
static pv *m_numel(const mcall *c) { return pv_int(c->x->t->numel); }

/* x.cuda(), x.cpu() */
static pv *m_device(const mcall *c)
{
    tg_device dev = TG_DEV_CPU;
    if (!strcmp(c->m->sig.name, "cuda")) {
        pv *d = pv_device("cuda");
        tg_status st = d ? py_parse_device(d, &dev, c->pos) : TG_ERESOURCE;
        pv_unref(d);
        if (st != TG_OK)
            return NULL;
    }
    return pv_tensor(py_to_device(tg_ref(c->x->t), dev));
}

static pv *m_numpy(const mcall *c)
{
    tg_tensor *t = c->x->t;
    if (t->requires_grad) {
        tg_error_at(c->pos, TG_EINPUT, "Can't call numpy() on Tensor that requires grad. Use "
                    "tensor.detach().numpy() instead.");
        return NULL;
    }
    if (t->storage->device != TG_DEV_CPU) {
        tg_error_at(c->pos, TG_EINPUT, "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to "
                    "copy the tensor to host memory first.");
        return NULL;
    }
    pv *r = pv_tensor(tg_ref(t));
    if (r)
        r->numpy = true;
    return r;
}

/* x.tolist(), and x.item(): the list of a one-element tensor's innermost
 * dimension */
static pv *m_tolist(const mcall *c)
{
    tg_tensor *t = c->x->t;
    bool item = !strcmp(c->m->sig.name, "item");
    if (item && t->numel != 1) {
        tg_error_at(c->pos, TG_EINPUT, "a Tensor with %lld elements cannot be converted to Scalar",
                    (long long)t->numel);
        return NULL;
    }
    int64_t at = 0;
    tg_tensor *contig = tg_contiguous(tg_ref(t));
    pv *r = contig ? tolist(contig, item ? contig->ndim : 0, &at) : NULL;
    tg_release(contig);
    return r;
}

static pv *m_size(const mcall *c)
{
    tg_tensor *t = c->x->t;
    pv *d = py_arg(c->A, 0, "dim");
    if (!d)
        return pv_size(t);
    tg_status st = d->kind == V_INT ? TG_OK : tg_error_at(c->pos, TG_EINPUT, "size(): dim must be an int");
    int64_t k = st == TG_OK ? tg_norm_dim(d->i, t->ndim, "size", &st) : 0;
    if (st != TG_OK) {
        py_error_at(c->pos);
        return NULL;
    }
    return pv_int(t->shape[k]);
}

static pv *m_zero(const mcall *c)
{
    tg_tensor *t = c->x->t;
    tg_tensor *r = tg_inplace(tg_ref(t), tg_zeros_like(t)); /* the leaf rule applies */
    if (r && py_scope_rebind(c->S, t, r) != TG_OK) {
        tg_release(r);
        r = NULL;
    }
    return pv_tensor(r);
}

static const method methods[] = {
    {{.name = "backward", .most = 3, .params = {"gradient", "retain_graph", "create_graph"}}, m_backward, 0},
    {{.name = "requires_grad_", .most = 1, .params = {"requires_grad"}}, m_requires_grad, 0},
    {{.name = "to", .most = PY_ANY}, m_to, 0},
    {{.name = "cuda"}, m_device, 0},
    {{.name = "cpu"}, m_device, 0},
    {{.name = "numpy"}, m_numpy, 0},
    {{.name = "item"}, m_tolist, 0},
    {{.name = "tolist"}, m_tolist, 0},
    {{.name = "dim"}, m_dim, 0},
    {{.name = "ndimension"}, m_dim, 0},
    {{.name = "numel"}, m_numel, 0},
    {{.name = "nelement"}, m_numel, 0},
    {{.name = "size", .most = 1, .params = {"dim"}}, m_size, 0},
    {{.name = "zero_"}, m_zero, 0},
    {{.name = "add_", .least = 1, .most = 1, .params = {"other"}}, m_update, OP_ADD},
    {{.name = "sub_", .least = 1, .most = 1, .params = {"other"}}, m_update, OP_SUB},
    {{.name = "mul_", .least = 1, .most = 1, .params = {"other"}}, m_update, OP_MUL},
    {{.name = "div_", .least = 1, .most = 1, .params = {"other"}}, m_update, OP_DIV},
    {{.name = "pow_", .least = 1, .most = 1, .params = {"other"}}, m_update, OP_POW},
};

static const method *find_method(const char *name)
{
    for (size_t k = 0; k < sizeof methods / sizeof *methods; k++)
        if (!strcmp(methods[k].sig.name, name))
            return &methods[k];
    return NULL;
}

pv *py_tensor_method(interp *I, scope *S, pv *x, const char *name, args *A, int pos)
{
    const method *m = find_method(name);
    if (!m)
        return py_builtin_call(I, name, x, A, pos);
    if (py_check_args(A, &m->sig, pos) != TG_OK)
        return NULL;
    mcall c = {.I = I, .S = S, .x = x, .A = A, .pos = pos, .m = m};
    return m->run(&c);
}

/* x.grad.zero_(): the leaf's gradient is replaced by zeros (a gradient is
 * no graph's node, and later passes add into it) */
pv *py_zero_grad(interp *I, scope *S, const pnode *owner)
{
    pv *o = py_eval(I, S, owner);
    pv *r = NULL;
    if (o && o->kind == V_TENSOR && o->t->grad) {
        tg_tensor *z = tg_zeros_like(o->t->grad);
        if (z) {
            tg_release(o->t->grad);
            o->t->grad = z;
            r = pv_tensor(tg_ref(z));
        }
    } else if (o)
        tg_error_at(owner->pos, TG_EINPUT, "'NoneType' object has no attribute 'zero_' (x.grad is None before the "
                    "first backward())");
    pv_unref(o);
    return r;
}
