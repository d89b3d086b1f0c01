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

static pv *backward(interp *I, pv *y, args *A, int pos)
{
    pv *g = py_take_kw(A, "gradient"), *rg = py_take_kw(A, "retain_graph"), *cg = py_take_kw(A, "create_graph");
    if (!g && A->n && !A->kw[0])
        g = pv_ref(A->v[0]);
    bool retain = false, create = false;
    tg_status st = TG_OK;
    if (A->n > (g && !A->kw[0] ? 1 : 0))
        st = tg_error_at(pos, TG_EINPUT, "backward() takes gradient, retain_graph and create_graph");
    if (st == TG_OK && ((rg && !py_truth(rg, pos, &retain)) || (cg && !py_truth(cg, pos, &create))))
        st = tg_errcode();
    retain = retain || create;
    tg_tensor *gt = NULL;
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
    pv_unref(g);
    pv_unref(rg);
    pv_unref(cg);
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

static const char *const tensor_attrs[] = {"grad", "requires_grad", "is_leaf", "grad_fn", "dtype", "device",
                                           "shape", "ndim", "T", "mT", "data", "is_cuda", NULL};

pv *py_tensor_attr(interp *I, const pv *x, const char *name, int pos)
{
    tg_tensor *t = x->t;
    if (!strcmp(name, "grad"))
        return t->grad ? pv_tensor(tg_ref(t->grad)) : pv_new(V_NONE);
    if (!strcmp(name, "requires_grad"))
        return pv_bool(t->requires_grad);
    if (!strcmp(name, "is_leaf"))
        return pv_bool(!t->op || !t->requires_grad);
    if (!strcmp(name, "is_cuda"))
        return pv_bool(t->storage->device == TG_DEV_CUDA);
    if (!strcmp(name, "grad_fn")) {
        const char *fn = tg_grad_fn_name(t);
        return fn ? pv_named(V_GRADFN, NULL, fn) : pv_new(V_NONE);
    }
    if (!strcmp(name, "dtype"))
        return pv_dtype(t->dtype);
    if (!strcmp(name, "device"))
        return pv_device(t->storage->device == TG_DEV_CUDA ? "cuda:0" : "cpu");
    if (!strcmp(name, "shape"))
        return pv_size(t);
    if (!strcmp(name, "ndim"))
        return pv_int(t->ndim);
    if (!strcmp(name, "T") || !strcmp(name, "mT") || !strcmp(name, "data")) {
        tg_env env = {0};
        node *a = py_synth(I, N_ATTR, pos, name);
        if (a && !(a->obj = py_operand(I, &env, x, pos)))
            a = NULL;
        return py_run_node(a, &env);
    }
    if (tg_builtin_find(name))
        tg_error_at(pos, TG_EINPUT, "'.%s' is a method: call it, as in x.%s()", name, name);
    else {
        const char *near = tg_nearest_name(name, tensor_attrs, (int)(sizeof tensor_attrs / sizeof *tensor_attrs) - 1);
        if (!strcmp(name, "size"))
            near = "shape' or 'size()";
        if (near)
            tg_error_at(pos, TG_EINPUT, "'Tensor' object has no attribute '%s' (did you mean '%s'?)", name, near);
        else
            tg_error_at(pos, TG_EINPUT, "'Tensor' object has no attribute '%s'", name);
    }
    return NULL;
}

/* the in-place methods and the operator each applies */
static int inplace_op(const char *name)
{
    static const struct { const char *name; int op; } ops[] = {
        {"add_", OP_ADD}, {"sub_", OP_SUB}, {"mul_", OP_MUL}, {"div_", OP_DIV}, {"pow_", OP_POW},
    };
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
        if (!strcmp(ops[k].name, name))
            return ops[k].op;
    return 0;
}

pv *py_tensor_method(interp *I, scope *S, pv *x, const char *name, args *A, int pos)
{
    tg_tensor *t = x->t;
    if (!strcmp(name, "backward"))
        return backward(I, x, A, pos);
    if (!strcmp(name, "requires_grad_"))
        return py_set_requires_grad(x, py_arg(A, 0, "requires_grad"), pos);
    if (!strcmp(name, "to"))
        return tensor_to(x, A, pos);
    if (!strcmp(name, "cuda") || !strcmp(name, "cpu")) {
        tg_device dev = TG_DEV_CPU;
        pv *d = pv_device(name);
        tg_status st = d ? py_no_args(A, name, pos) : TG_ERESOURCE;
        if (st == TG_OK && name[1] == 'u')
            st = py_parse_device(d, &dev, pos);
        pv_unref(d);
        return st == TG_OK ? pv_tensor(py_to_device(tg_ref(t), dev)) : NULL;
    }
    if (!strcmp(name, "numpy")) {
        if (py_no_args(A, name, pos) != TG_OK)
            return NULL;
        if (t->requires_grad) {
            tg_error_at(pos, TG_EINPUT, "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                        "instead.");
            return NULL;
        }
        if (t->storage->device != TG_DEV_CPU) {
            tg_error_at(pos, TG_EINPUT, "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy "
                        "the tensor to host memory first.");
            return NULL;
        }
        pv *r = pv_tensor(tg_ref(t));
        if (r)
            r->numpy = true;
        return r;
    }
    if (!strcmp(name, "item")) {
        if (py_no_args(A, name, pos) != TG_OK)
            return NULL;
        if (t->numel != 1) {
            tg_error_at(pos, TG_EINPUT, "a Tensor with %lld elements cannot be converted to Scalar", (long long)t->numel);
            return NULL;
        }
        int64_t at = 0;
        tg_tensor *c = tg_contiguous(tg_ref(t));
        pv *r = c ? tolist(c, c->ndim, &at) : NULL;
        tg_release(c);
        return r;
    }
    if (!strcmp(name, "tolist")) {
        int64_t at = 0;
        tg_tensor *c = py_no_args(A, name, pos) == TG_OK ? tg_contiguous(tg_ref(t)) : NULL;
        pv *r = c ? tolist(c, 0, &at) : NULL;
        tg_release(c);
        return r;
    }
    if (!strcmp(name, "dim") || !strcmp(name, "ndimension"))
        return py_no_args(A, name, pos) == TG_OK ? pv_int(t->ndim) : NULL;
    if (!strcmp(name, "numel") || !strcmp(name, "nelement"))
        return py_no_args(A, name, pos) == TG_OK ? pv_int(t->numel) : NULL;
    if (!strcmp(name, "size")) {
        pv *d = py_arg(A, 0, "dim");
        if (!d)
            return A->n ? (tg_error_at(pos, TG_EINPUT, "size() takes one dim"), NULL) : pv_size(t);
        tg_status st = d->kind == V_INT ? TG_OK : tg_error_at(pos, TG_EINPUT, "size(): dim must be an int");
        int64_t k = st == TG_OK ? tg_norm_dim(d->i, t->ndim, "size", &st) : 0;
        if (st != TG_OK) {
            py_error_at(pos);
            return NULL;
        }
        return pv_int(t->shape[k]);
    }
    if (!strcmp(name, "zero_")) {
        if (py_no_args(A, name, pos) != TG_OK)
            return NULL;
        tg_tensor *r = tg_inplace(tg_ref(t), tg_zeros_like(t)); /* the leaf rule applies */
        if (r && py_scope_rebind(S, t, r) != TG_OK) {
            tg_release(r);
            r = NULL;
        }
        return pv_tensor(r);
    }
    int op = inplace_op(name);
    if (op) {
        pv *y = py_arg(A, 0, "other");
        if (!y || A->n != 1) {
            tg_error_at(pos, TG_EINPUT, "%s() takes one argument", name);
            return NULL;
        }
        return py_update(I, S, x, op, y, pos);
    }
    return py_builtin_call(I, name, x, A, pos);
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
