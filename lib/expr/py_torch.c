/* py_torch.c -- the functions of torch and NumPy in the Python program
 * mode (pyprog.h): creation functions with dtype=, device= and
 * requires_grad=, grad modes, devices, seeds, .npy files; the rest of
 * torch's functions are the expression language's (py_builtin_call). */
#include "pyprog.h"
#include <string.h>

/* dtype=, requires_grad= and device= of a creation function: the tensor
 * made by make(c), cast, moved and made a leaf */
static pv *created(pv *r, pv *dtv, pv *rgv, pv *dv, int pos)
{
    tg_device dev;
    if (r && dtv && dtv->kind == V_DTYPE && r->t->dtype != dtv->dt) {
        tg_tensor *t = tg_cast(tg_ref(r->t), dtv->dt);
        pv_unref(r);
        r = pv_tensor(t);
    }
    if (r && dv && dv->kind != V_NONE) {
        if (py_parse_device(dv, &dev, pos) != TG_OK) {
            pv_unref(r);
            return NULL;
        }
        tg_tensor *t = py_to_device(tg_ref(r->t), dev);
        pv_unref(r);
        r = pv_tensor(t);
    }
    bool rg = false;
    if (r && rgv && !py_truth(rgv, pos, &rg)) {
        pv_unref(r);
        return NULL;
    }
    if (r && rg) {
        if (!tg_dtype_is_float(r->t->dtype)) {
            tg_error_at(pos, TG_EINPUT, "Only Tensors of floating point and complex dtype can require gradients");
            pv_unref(r);
            return NULL;
        }
        tg_tensor *leaf = tg_detach(tg_ref(r->t)); /* a fresh leaf */
        pv_unref(r);
        r = pv_tensor(leaf);
        if (r)
            tg_set_requires_grad(r->t, true);
    }
    return r;
}

static bool is_creation(const char *name)
{
    static const char *const names[] = {"tensor", "zeros", "ones", "rand", "randn", "full", "arange", "eye",
                                        "zeros_like", "ones_like", "rand_like", "randn_like", "as_tensor", NULL};
    for (int k = 0; names[k]; k++)
        if (!strcmp(names[k], name))
            return true;
    return false;
}

static pv *creation_call(interp *I, const char *name, args *A, int pos)
{
    pv *dtv = py_take_kw(A, "dtype"), *rgv = py_take_kw(A, "requires_grad"), *dv = py_take_kw(A, "device"), *r = NULL;
    if (dtv && dtv->kind != V_DTYPE && dtv->kind != V_NONE)
        tg_error_at(pos, TG_EINPUT, "%s(): dtype must be a torch dtype (torch.float32, ...), not %s", name,
                    py_type_name(dtv));
    else if (!strcmp(name, "tensor") || !strcmp(name, "as_tensor")) {
        pv *data = py_arg(A, 0, "data");
        if (!data || A->n != 1)
            tg_error_at(pos, TG_EINPUT, "%s() takes one argument, the data", name);
        else {
            r = pv_tensor(py_tensor_of(data, dtv && dtv->kind == V_DTYPE ? (int)dtv->dt : -1));
            if (!r)
                py_error_at(A->node[0]->pos);
        }
    } else {
        /* a float dtype is the default float while the tensor is made, so
         * that arange(0, 1, 0.1, dtype=torch.float64) is computed in it */
        tg_dtype old = tg_default_float;
        if (dtv && dtv->kind == V_DTYPE && tg_dtype_is_float(dtv->dt))
            tg_default_float = dtv->dt;
        r = py_builtin_call(I, name, NULL, A, pos);
        tg_default_float = old;
    }
    r = created(r, dtv, rgv, dv, pos);
    pv_unref(dtv);
    pv_unref(rgv);
    pv_unref(dv);
    return r;
}

static pv *grad_mode(const args *A, bool enable, int pos)
{
    if (py_no_args(A, enable ? "enable_grad" : "no_grad", pos) != TG_OK)
        return NULL;
    pv *v = pv_new(V_GRADMODE);
    if (v)
        v->i = enable;
    return v;
}

pv *py_torch_call(interp *I, const char *mod, const char *name, args *A, int pos)
{
    bool torch = !strcmp(mod, "torch");
    if (!strcmp(mod, "torch.cuda")) {
        if (!strcmp(name, "is_available") && py_no_args(A, name, pos) == TG_OK)
            return pv_bool(py_cuda_available());
        if (!strcmp(name, "device_count") && py_no_args(A, name, pos) == TG_OK)
            return pv_int(py_cuda_available() ? tg_cuda_device_count() : 0);
        if (!tg_errcode())
            tg_error_at(pos, TG_EINPUT, "torch.cuda.%s is not in the subset (it has is_available() and "
                        "device_count())", name);
        return NULL;
    }
    if (torch && (!strcmp(name, "no_grad") || !strcmp(name, "enable_grad")))
        return grad_mode(A, name[0] == 'e', pos);
    if (torch && !strcmp(name, "is_grad_enabled"))
        return py_no_args(A, name, pos) == TG_OK ? pv_bool(tg_grad_enabled()) : NULL;
    if (torch && !strcmp(name, "device")) {
        pv *d = py_arg(A, 0, "type");
        tg_device dev;
        if (!d || A->n != 1 || d->kind != V_STR) {
            tg_error_at(pos, TG_EINPUT, "torch.device() takes one string, 'cpu' or 'cuda'");
            return NULL;
        }
        if (strcmp(d->s, "cpu") && strcmp(d->s, "cuda") && strcmp(d->s, "cuda:0") && py_parse_device(d, &dev, pos))
            return NULL;
        return pv_device(d->s);
    }
    if (torch && !strcmp(name, "manual_seed")) {
        pv *s = py_arg(A, 0, "seed");
        if (!s || s->kind != V_INT || s->i < 0) {
            tg_error_at(pos, TG_EINPUT, "manual_seed() takes a non-negative int");
            return NULL;
        }
        tg_seed((uint64_t)s->i); /* the generator is tgrad's (--seed): not PyTorch's numbers */
        return pv_new(V_NONE);
    }
    if (torch && !strcmp(name, "is_tensor")) {
        pv *x = py_arg(A, 0, "obj");
        return x ? pv_bool(x->kind == V_TENSOR && !x->numpy) : NULL;
    }
    if (torch && !strcmp(name, "from_numpy")) {
        pv *a = py_arg(A, 0, "ndarray");
        if (!a || A->n != 1 || a->kind != V_TENSOR || !a->numpy) {
            tg_error_at(pos, TG_EINPUT, "from_numpy() expects a NumPy array (np.load('file.npy'), or x.numpy())");
            return NULL;
        }
        return pv_tensor(tg_ref(a->t)); /* shares the memory, as PyTorch's does */
    }
    if (is_creation(name))
        return creation_call(I, name, A, pos);
    return py_builtin_call(I, name, NULL, A, pos);
}

pv *py_numpy_call(const char *name, args *A, int pos)
{
    if (!strcmp(name, "load")) {
        pv *p = py_arg(A, 0, "file");
        size_t len;
        if (!p || A->n != 1 || p->kind != V_STR) {
            tg_error_at(pos, TG_EINPUT, "np.load() takes the name of a .npy file");
            return NULL;
        }
        char *bytes = tg_read_file(p->s, &len);
        tg_tensor *t = bytes ? tg_npy_read(bytes, len) : NULL;
        tg_free(bytes);
        pv *r = pv_tensor(t);
        if (r)
            r->numpy = true;
        else
            py_error_at(pos);
        return r;
    }
    if (!strcmp(name, "save")) {
        pv *p = py_arg(A, 0, "file"), *a = py_arg(A, 1, "arr");
        if (!p || !a || A->n != 2 || p->kind != V_STR || a->kind != V_TENSOR) {
            tg_error_at(pos, TG_EINPUT, "np.save() takes a file name and an array");
            return NULL;
        }
        tg_buf path = {0};
        size_t n = strlen(p->s);
        tg_buf_printf(&path, "%s%s", p->s, n >= 4 && !strcmp(p->s + n - 4, ".npy") ? "" : ".npy");
        tg_status st = path.failed ? tg_error(TG_ERESOURCE, "out of memory") : tg_save(path.data, a->t);
        tg_buf_free(&path);
        if (st != TG_OK) {
            py_error_at(pos);
            return NULL;
        }
        return pv_new(V_NONE);
    }
    tg_error_at(pos, TG_EINPUT, "np.%s is not in the subset: tgrad takes NumPy arrays from .npy files "
                "(np.load('a.npy'), torch.from_numpy, x.numpy(), np.save)", name);
    return NULL;
}
