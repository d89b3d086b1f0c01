/* py_torch.c -- the functions of torch and NumPy in the Python program
 * mode (pyprog.h): creation functions with dtype=, device= and
 * requires_grad=, grad modes, devices, seeds, .npy files, each with its
 * signature in one table; the rest of torch's functions are the
 * expression language's (py_builtin_call). */
#include "pyprog.h"
#include <string.h>

/* dtype=, device= and requires_grad= of a creation function: t (consumed)
 * cast, moved and made a leaf */
static pv *created(tg_tensor *t, const pv *dtv, const pv *rgv, const pv *dv, int pos)
{
    tg_device dev;
    bool rg = false;
    if (t && dtv && dtv->kind == V_DTYPE && t->dtype != dtv->dt)
        t = tg_cast(t, dtv->dt);
    if (t && dv && dv->kind != V_NONE)
        t = py_parse_device(dv, &dev, pos) == TG_OK ? py_to_device(t, dev) : (tg_release(t), NULL);
    if (t && rgv && !py_truth(rgv, pos, &rg))
        t = (tg_release(t), NULL);
    if (t && rg && !tg_dtype_is_float(t->dtype)) {
        tg_error_at(pos, TG_EINPUT, "Only Tensors of floating point and complex dtype can require gradients");
        t = (tg_release(t), NULL);
    }
    if (t && rg && (t = tg_detach(t))) /* a fresh leaf */
        tg_set_requires_grad(t, true);
    return pv_tensor(t);
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
    pv *dtv = py_take_kw(A, "dtype"), *rgv = py_take_kw(A, "requires_grad"), *dv = py_take_kw(A, "device");
    tg_tensor *t = NULL;
    if (dtv && dtv->kind != V_DTYPE && dtv->kind != V_NONE)
        tg_error_at(pos, TG_EINPUT, "%s(): dtype must be a torch dtype (torch.float32, ...), not %s", name,
                    py_type_name(dtv));
    else if (!strcmp(name, "tensor") || !strcmp(name, "as_tensor")) {
        pv *data = py_arg(A, 0, "data");
        if (!data || A->n != 1)
            tg_error_at(pos, TG_EINPUT, "%s() takes one argument, the data", name);
        else if (!(t = py_tensor_of(data, dtv && dtv->kind == V_DTYPE ? (int)dtv->dt : -1)))
            py_error_at(A->node[0]->pos);
    } else {
        /* a float dtype is the default float while the tensor is made, so
         * that arange(0, 1, 0.1, dtype=torch.float64) is computed in it */
        tg_dtype old = tg_default_float;
        if (dtv && dtv->kind == V_DTYPE && tg_dtype_is_float(dtv->dt))
            tg_default_float = dtv->dt;
        pv *r = py_builtin_call(I, name, NULL, A, pos);
        tg_default_float = old;
        t = r ? tg_ref(r->t) : NULL;
        pv_unref(r);
    }
    pv *r = created(t, dtv, rgv, dv, pos);
    pv_unref(dtv);
    pv_unref(rgv);
    pv_unref(dv);
    return r;
}

/* a call of one of the functions below: the arguments fit its signature */
typedef struct module_fn module_fn;
typedef struct {
    const args *A;
    int pos;
    const module_fn *f;
} fcall;

/* a function of a module that the expression language does not have */
struct module_fn {
    const char *mod;
    py_sig sig;
    pv *(*run)(const fcall *c);
};

/* the arguments' error: the function's usage */
static pv *misused(const fcall *c)
{
    tg_error_at(c->pos, TG_EINPUT, "%s", c->f->sig.usage);
    return NULL;
}

static pv *f_cuda_available(const fcall *c) { return pv_bool(py_cuda_available()); }
static pv *f_device_count(const fcall *c) { return pv_int(py_cuda_available() ? tg_cuda_device_count() : 0); }
static pv *f_is_grad_enabled(const fcall *c) { return pv_bool(tg_grad_enabled()); }

/* torch.no_grad(), torch.enable_grad(): what a with statement takes */
static pv *f_grad_mode(const fcall *c)
{
    pv *v = pv_new(V_GRADMODE);
    if (v)
        v->i = !strcmp(c->f->sig.name, "enable_grad");
    return v;
}

static pv *f_device(const fcall *c)
{
    pv *d = py_arg(c->A, 0, "type");
    tg_device dev;
    if (d->kind != V_STR)
        return misused(c);
    if (strcmp(d->s, "cpu") && strcmp(d->s, "cuda") && strcmp(d->s, "cuda:0") && py_parse_device(d, &dev, c->pos))
        return NULL;
    return pv_device(d->s);
}

static pv *f_manual_seed(const fcall *c)
{
    pv *s = py_arg(c->A, 0, "seed");
    if (s->kind != V_INT || s->i < 0)
        return misused(c);
    tg_seed((uint64_t)s->i); /* the generator is tgrad's (--seed): not PyTorch's numbers */
    return pv_new(V_NONE);
}

static pv *f_is_tensor(const fcall *c)
{
    pv *x = py_arg(c->A, 0, "obj");
    return pv_bool(x->kind == V_TENSOR && !x->numpy);
}

static pv *f_from_numpy(const fcall *c)
{
    pv *a = py_arg(c->A, 0, "ndarray");
    if (a->kind != V_TENSOR || !a->numpy)
        return misused(c);
    return pv_tensor(tg_ref(a->t)); /* shares the memory, as PyTorch's does */
}

static pv *f_np_load(const fcall *c)
{
    pv *p = py_arg(c->A, 0, "file");
    size_t len;
    if (p->kind != V_STR)
        return misused(c);
    char *bytes = tg_read_file(p->s, &len);
    tg_tensor *t = bytes ? tg_npy_read(bytes, len) : NULL;
    tg_free(bytes);
    pv *r = pv_tensor(t);
    if (r)
        r->numpy = true;
    else
        py_error_at(c->pos);
    return r;
}

static pv *f_np_save(const fcall *c)
{
    pv *p = py_arg(c->A, 0, "file"), *a = py_arg(c->A, 1, "arr");
    if (p->kind != V_STR || a->kind != V_TENSOR)
        return misused(c);
    tg_buf path = {0};
    size_t n = strlen(p->s);
    tg_buf_printf(&path, "%s%s", p->s, n >= 4 && !strcmp(p->s + n - 4, ".npy") ? "" : ".npy");
    tg_status st = path.failed ? tg_error(TG_ERESOURCE, "out of memory") : tg_save(path.data, a->t);
    tg_buf_free(&path);
    if (st != TG_OK) {
        py_error_at(c->pos);
        return NULL;
    }
    return pv_new(V_NONE);
}

/* the modules' functions that the expression language does not have */
static const module_fn module_fns[] = {
    {"torch.cuda", {.name = "is_available"}, f_cuda_available},
    {"torch.cuda", {.name = "device_count"}, f_device_count},
    {"torch", {.name = "no_grad"}, f_grad_mode},
    {"torch", {.name = "enable_grad"}, f_grad_mode},
    {"torch", {.name = "is_grad_enabled"}, f_is_grad_enabled},
    {"torch", {.name = "device", .least = 1, .most = 1, .params = {"type"},
               .usage = "torch.device() takes one string, 'cpu' or 'cuda'"}, f_device},
    {"torch", {.name = "manual_seed", .least = 1, .most = 1, .params = {"seed"},
               .usage = "manual_seed() takes a non-negative int"}, f_manual_seed},
    {"torch", {.name = "is_tensor", .least = 1, .most = 1, .params = {"obj"}}, f_is_tensor},
    {"torch", {.name = "from_numpy", .least = 1, .most = 1, .params = {"ndarray"},
               .usage = "from_numpy() expects a NumPy array (np.load('file.npy'), or x.numpy())"}, f_from_numpy},
    {"numpy", {.name = "load", .least = 1, .most = 1, .params = {"file"},
               .usage = "np.load() takes the name of a .npy file"}, f_np_load},
    {"numpy", {.name = "save", .least = 2, .most = 2, .params = {"file", "arr"},
               .usage = "np.save() takes a file name and an array"}, f_np_save},
};

pv *py_module_call(interp *I, const char *mod, const char *name, args *A, int pos)
{
    for (size_t k = 0; k < sizeof module_fns / sizeof *module_fns; k++) {
        const module_fn *f = &module_fns[k];
        if (strcmp(f->mod, mod) || strcmp(f->sig.name, name))
            continue;
        fcall c = {.A = A, .pos = pos, .f = f};
        return py_check_args(A, &f->sig, pos) == TG_OK ? f->run(&c) : NULL;
    }
    if (!strcmp(mod, "torch.cuda")) {
        tg_error_at(pos, TG_EINPUT, "torch.cuda.%s is not in the subset (it has is_available() and "
                    "device_count())", name);
        return NULL;
    }
    if (!strcmp(mod, "numpy")) {
        tg_error_at(pos, TG_EINPUT, "np.%s is not in the subset: tgrad takes NumPy arrays from .npy files "
                    "(np.load('a.npy'), torch.from_numpy, x.numpy(), np.save)", name);
        return NULL;
    }
    if (is_creation(name))
        return creation_call(I, name, A, pos);
    return py_builtin_call(I, name, NULL, A, pos);
}
