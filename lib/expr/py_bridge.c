/* py_bridge.c -- where the Python program mode (pyprog.h) meets the
 * library: tensors made of Python values, the call and index nodes of
 * the expression language that eval.c runs for it, and devices. */
#include "pyprog.h"
#include "builtins.h"
#include <string.h>

/* torch.tensor's data, flattened: each number as a double and as an
 * int64 (which one the tensor takes depends on the dtype) */
typedef struct {
    tg_buf f, i;
    int64_t n;
    int64_t shape[TG_MAX_DIMS];
    int ndim;
    int category; /* 0 bool, 1 int, 2 float */
} flat;

static tg_status flat_push(flat *F, double f, int64_t i)
{
    tg_buf_add(&F->f, &f, sizeof f);
    tg_buf_add(&F->i, &i, sizeof i);
    if (F->f.failed || F->i.failed)
        return tg_error(TG_ERESOURCE, "out of memory");
    F->n++;
    return TG_OK;
}

/* nested lists of numbers (torch.tensor's data) into F; depth is the
 * nesting level of v */
static tg_status flatten(flat *F, const pv *v, int depth)
{
    if (v->kind == V_LIST || v->kind == V_TUPLE || v->kind == V_SIZE) {
        if (depth >= TG_MAX_DIMS)
            return tg_error(TG_EINPUT, "tensor data nested deeper than %d", TG_MAX_DIMS);
        if (depth == F->ndim) {
            F->ndim++;
            F->shape[depth] = v->n;
        } else if (depth > F->ndim || F->shape[depth] != v->n)
            return tg_error(TG_EINPUT, "expected sequence of length %lld at dim %d (got %d)",
                            (long long)F->shape[depth], depth, v->n);
        for (int k = 0; k < v->n; k++) {
            tg_status st = flatten(F, v->items[k], depth + 1);
            if (st != TG_OK)
                return st;
        }
        return TG_OK;
    }
    if (depth < F->ndim)
        return tg_error(TG_EINPUT, "expected sequence of length %lld at dim %d (got a number)",
                        (long long)F->shape[depth], depth);
    if (v->kind == V_TENSOR && v->t->numel == 1 && v->t->ndim == 0) {
        int c = tg_dtype_category(v->t->dtype);
        F->category = c > F->category ? c : F->category;
        return flat_push(F, tg_item(v->t), tg_get_i64(v->t, 0));
    }
    if (!pv_is_number(v))
        return tg_error(TG_EINPUT, "could not make a tensor of a %s (tensor data are numbers, bools and "
                        "lists of them)", py_type_name(v));
    int c = v->kind == V_BOOL ? 0 : v->kind == V_INT ? 1 : 2;
    F->category = c > F->category ? c : F->category;
    return flat_push(F, pv_num(v), v->kind == V_FLOAT ? tg_f64_to_i64(v->f) : v->i);
}

/* torch.tensor(data[, dtype]): ints give int64, any float the default
 * float dtype, bools bool; dt < 0: from the data */
tg_tensor *py_tensor_of(const pv *v, int dt)
{
    if (v->kind == V_TENSOR) { /* a copy, as torch.tensor(t) makes */
        tg_tensor *c = tg_detach(tg_ref(v->t));
        return tg_detach(dt < 0 || (tg_dtype)dt == v->t->dtype ? tg_apply(TG_OP_CONTIGUOUS, 1, &c, NULL)
                                                               : tg_cast(c, (tg_dtype)dt));
    }
    flat F = {0};
    F.category = v->kind == V_LIST && v->n == 0 ? 2 : 0;
    tg_tensor *t = NULL;
    if (flatten(&F, v, 0) == TG_OK) {
        tg_dtype d = dt >= 0 ? (tg_dtype)dt : F.category == 2 ? tg_default_float : F.category ? TG_INT64 : TG_BOOL;
        const double *f = (const double *)F.f.data;
        const int64_t *i = (const int64_t *)F.i.data;
        t = tg_empty(d, F.ndim, F.shape);
        for (int64_t k = 0; t && k < F.n; k++) {
            void *p = (char *)tg_data(t) + k * (int64_t)tg_dtype_size(d);
            switch (d) {
            case TG_FLOAT32: *(float *)p = (float)f[k]; break;
            case TG_FLOAT64: *(double *)p = f[k]; break;
            case TG_INT64: *(int64_t *)p = i[k]; break;
            default: *(bool *)p = f[k] != 0; break;
            }
        }
    }
    tg_buf_free(&F.f);
    tg_buf_free(&F.i);
    return t;
}

/* a value as a tensor operand: Python numbers are wrapped numbers (weak
 * in type promotion), sequences torch.tensor's */
tg_tensor *py_to_tensor(const pv *v, int pos)
{
    switch (v->kind) {
    case V_TENSOR: return tg_ref(v->t);
    case V_BOOL: return tg_wrapped((double)v->i, TG_BOOL);
    case V_FLOAT: return tg_wrapped(v->f, TG_FLOAT64);
    case V_INT: {
        tg_tensor *t = tg_scalar_i64(v->i);
        if (t)
            t->wrapped_number = true;
        return t;
    }
    case V_LIST:
    case V_TUPLE:
    case V_SIZE: {
        tg_tensor *t = py_tensor_of(v, -1);
        if (!t)
            py_error_at(pos);
        return t;
    }
    default:
        tg_error_at(pos, TG_EINPUT, "expected a tensor or a number, got %s", py_type_name(v));
        return NULL;
    }
}

node *py_synth(interp *I, node_kind k, int pos, const char *name)
{
    node *n = prog_alloc(I->arena, sizeof *n);
    if (n) {
        n->kind = k;
        n->pos = pos;
        n->depth = 1;
        if (name && (n->name = prog_alloc(I->arena, strlen(name) + 1)))
            strcpy(n->name, name);
        else if (name)
            return NULL;
    }
    return n;
}

/* a list or tuple holding a tensor is a list of operands (torch.cat([a,
 * b])), not tensor data: torch.tensor([a, b]) is data only for 0-d ones */
static bool holds_tensor(const pv *v)
{
    if (v->kind != V_LIST && v->kind != V_TUPLE)
        return false;
    for (int k = 0; k < v->n; k++)
        if (v->items[k]->kind == V_TENSOR)
            return true;
    return false;
}

/* binds v as a fresh name in env and returns a name node for it; a
 * string is a string node (reduction='sum'), a list of tensors a list
 * node of operands */
node *py_operand(interp *I, tg_env *env, const pv *v, int pos)
{
    if (v->kind == V_STR)
        return py_synth(I, N_STR, pos, v->s);
    if (holds_tensor(v)) {
        node *l = py_synth(I, v->kind == V_LIST ? N_LIST : N_TUPLE, pos, NULL);
        int cap = 0;
        for (int k = 0; l && k < v->n; k++) {
            node *item = py_operand(I, env, v->items[k], pos);
            node **items = item ? prog_grow(I->arena, l->args, l->nargs, &cap, sizeof *items) : NULL;
            if (!items)
                return NULL;
            l->args = items;
            l->args[l->nargs++] = item;
        }
        return l;
    }
    char name[24];
    snprintf(name, sizeof name, "_%d", env->n);
    if (tg_env_set(env, name, py_to_tensor(v, pos)) != TG_OK)
        return NULL;
    return py_synth(I, N_NAME, pos, name);
}

/* The library makes an op's result on the current device: an op runs on
 * cuda when one of its tensors is there (x.cuda() * 2), else on the CPU.
 * Returns the device to restore. */
tg_device py_follow_device(tg_tensor *const *t, int n)
{
    tg_device old = tg_get_device(), dev = TG_DEV_CPU;
    for (int i = 0; i < n; i++)
        if (t[i] && t[i]->storage && t[i]->storage->device == TG_DEV_CUDA)
            dev = TG_DEV_CUDA;
    tg_set_device(dev);
    return old;
}

/* runs one node of the expression language over env */
pv *py_run_node(node *n, tg_env *env)
{
    tg_program p = {.stmts = &n, .nstmts = 1};
    tg_device old = py_follow_device(env->values, env->n);
    tg_tensor *r = n ? tg_program_eval(&p, env) : NULL;
    tg_set_device(old);
    tg_env_free(env);
    return pv_tensor(r);
}

/* name(self, args...) as the expression language calls it; None
 * arguments are left out */
pv *py_builtin_call(interp *I, const char *name, const pv *self, const args *A, int pos)
{
    tg_env env = {0};
    node *c = py_synth(I, N_CALL, pos, name);
    int cap = 0;
    if (c && self && !(c->obj = py_operand(I, &env, self, pos)))
        c = NULL;
    for (int k = 0; c && k < A->n; k++) {
        if (A->v[k]->kind == V_NONE)
            continue;
        int apos = A->node[k] ? A->node[k]->pos : pos;
        node *a = py_operand(I, &env, A->v[k], apos);
        if (a && A->kw[k]) {
            node *kw = py_synth(I, N_KWARG, apos, A->kw[k]);
            if (kw)
                kw->obj = a;
            a = kw;
        }
        if (!a) {
            c = NULL;
            break;
        }
        node **na = prog_grow(I->arena, c->args, c->nargs, &cap, sizeof *na);
        if (!na) {
            c = NULL;
            break;
        }
        c->args = na;
        c->args[c->nargs++] = a;
    }
    if (!c) {
        tg_env_free(&env);
        return NULL;
    }
    return py_run_node(c, &env);
}

bool py_cuda_available(void) { return tg_cuda_unavailable_reason() == NULL; }

tg_status py_parse_device(const pv *v, tg_device *dev, int pos)
{
    if (v->kind != V_DEVICE && v->kind != V_STR)
        return tg_error_at(pos, TG_EINPUT, "expected a device ('cpu', 'cuda', torch.device(...)), got %s",
                           py_type_name(v));
    const char *s = v->s;
    if (!strcmp(s, "cpu")) {
        *dev = TG_DEV_CPU;
        return TG_OK;
    }
    if (strcmp(s, "cuda") && strcmp(s, "cuda:0"))
        return tg_error_at(pos, TG_EINPUT, "unknown device '%s' (tgrad has 'cpu', 'cuda' and 'cuda:0')", s);
    if (!py_cuda_available())
        return tg_error_at(pos, TG_ERESOURCE, "cuda is not available here: %s (choose the device as the lesson "
                           "does, torch.device('cuda' if torch.cuda.is_available() else 'cpu'), or run tgrad "
                           "--device auto)", tg_cuda_unavailable_reason());
    *dev = TG_DEV_CUDA;
    return TG_OK;
}

/* x.to(dev): the same tensor when it is there, else a copy that passes
 * gradients back (to x's device: ops_view.c), PyTorch's ToCopyBackward0 */
tg_tensor *py_to_device(tg_tensor *t, tg_device dev)
{
    if (!t || t->storage->device == dev)
        return t;
    tg_device old = tg_get_device();
    tg_set_device(dev);
    tg_tensor *r = tg_apply(TG_OP_CONTIGUOUS, 1, &t, NULL);
    tg_set_device(old);
    return tg_name_grad_fn(r, "ToCopyBackward0");
}
