/* py_value.c -- the Python program mode's values (pyprog.h): made,
 * shared by reference count and named as Python names their types; the
 * scopes that bind names to them; Python's truth; errors at a position. */
#include "pyprog.h"
#include <stdlib.h>
#include <string.h>

/* a fresh value, one reference, with the fields of proto */
static pv *pv_of(pv proto)
{
    pv *v = tg_malloc(sizeof *v);
    if (v) {
        *v = proto;
        v->refs = 1;
    }
    return v;
}

pv *pv_new(vkind k) { return pv_of((pv){.kind = k}); }
pv *pv_int(int64_t i) { return pv_of((pv){.kind = V_INT, .i = i}); }
pv *pv_bool(bool b) { return pv_of((pv){.kind = V_BOOL, .i = b}); }
pv *pv_float(double f) { return pv_of((pv){.kind = V_FLOAT, .f = f}); }
pv *pv_dtype(tg_dtype dt) { return pv_of((pv){.kind = V_DTYPE, .dt = dt}); }
pv *pv_named(vkind k, const char *mod, const char *name) { return pv_of((pv){.kind = k, .mod = mod, .name = name}); }

pv *pv_ref(pv *v)
{
    if (v)
        v->refs++;
    return v;
}

void pv_unref(pv *v)
{
    if (!v || --v->refs > 0)
        return;
    for (int i = 0; i < v->n; i++)
        pv_unref(v->items[i]);
    tg_free(v->items);
    tg_free(v->s);
    tg_release(v->t);
    pv_unref(v->inner);
    tg_free(v);
}

pv *pv_str(const char *s, size_t n)
{
    pv *v = pv_new(V_STR);
    if (v && !(v->s = tg_malloc(n + 1))) {
        pv_unref(v);
        return NULL;
    }
    if (v) {
        memcpy(v->s, s, n);
        v->s[n] = 0;
        v->slen = n;
    }
    return v;
}

pv *pv_device(const char *name)
{
    pv *v = pv_str(name, strlen(name));
    if (v)
        v->kind = V_DEVICE;
    return v;
}



/* consumes t */
pv *pv_tensor(tg_tensor *t)
{
    if (!t)
        return NULL;
    pv *v = pv_new(V_TENSOR);
    if (!v) {
        tg_release(t);
        return NULL;
    }
    v->t = t;
    return v;
}

/* a list, tuple or torch.Size of n items, each set by the caller */
pv *pv_seq(vkind k, int n)
{
    pv *v = pv_new(k);
    if (v && n && !(v->items = tg_calloc((size_t)n, sizeof *v->items))) {
        pv_unref(v);
        return NULL;
    }
    if (v)
        v->n = n;
    return v;
}

pv *pv_size(const tg_tensor *t)
{
    pv *v = pv_seq(V_SIZE, t->ndim);
    for (int d = 0; v && d < t->ndim; d++)
        if (!(v->items[d] = pv_int(t->shape[d]))) {
            pv_unref(v);
            return NULL;
        }
    return v;
}

const char *py_type_name(const pv *v)
{
    static const char *const names[] = {"NoneType", "bool", "int", "float", "str", "Tensor", "torch.dtype",
                                        "torch.device", "torch.Size", "list", "tuple", "function", "function",
                                        "module", "builtin_function_or_method", "grad_fn", "no_grad"};
    return names[v->kind];
}

/* ---- errors ---- */
/* gives the current error the position pos unless it has one */
void py_error_at(int pos)
{
    if (!tg_errcode() || tg_errpos() >= 0)
        return;
    tg_status c = tg_errcode();
    size_t len = strlen(tg_errmsg()) + 1;
    char *msg = malloc(len);
    if (!msg)
        return;
    memcpy(msg, tg_errmsg(), len);
    tg_error_clear();
    tg_error_at(pos, c, "%s", msg);
    free(msg);
}

/* ---- scopes ---- */
pv **py_scope_slot(scope *S, const char *name)
{
    for (int i = S->n; i-- > 0;)
        if (!strcmp(S->b[i].name, name))
            return &S->b[i].v;
    return NULL;
}

pv *py_scope_get(scope *S, const char *name)
{
    pv **slot = py_scope_slot(S, name);
    if (!slot && S->globals)
        slot = py_scope_slot(S->globals, name);
    return slot ? *slot : NULL;
}

/* binds name (borrowed: the program's or static) to v (consumed) */
tg_status py_scope_set(scope *S, const char *name, pv *v)
{
    if (!v)
        return tg_errcode() ? tg_errcode() : TG_ERESOURCE;
    pv **slot = py_scope_slot(S, name);
    if (slot) {
        pv_unref(*slot);
        *slot = v;
        return TG_OK;
    }
    if (S->n == S->cap) {
        int nc = S->cap ? S->cap * 2 : 16;
        binding *nb = tg_realloc(S->b, (size_t)nc * sizeof *nb);
        if (!nb) {
            pv_unref(v);
            return TG_ERESOURCE;
        }
        S->b = nb;
        S->cap = nc;
    }
    S->b[S->n++] = (binding){name, v};
    return TG_OK;
}

void py_scope_free(scope *S)
{
    for (int i = 0; i < S->n; i++)
        pv_unref(S->b[i].v);
    tg_free(S->b);
}

/* every name bound to tensor old, in S and the globals, is bound to now
 * (x += 1: the names that share x see the update) */
tg_status py_scope_rebind(scope *S, const tg_tensor *old, tg_tensor *now)
{
    for (scope *s = S; s; s = s == S ? S->globals : NULL)
        for (int i = 0; i < s->n; i++)
            if (s->b[i].v->kind == V_TENSOR && s->b[i].v->t == old) {
                pv *v = pv_tensor(tg_ref(now));
                if (!v)
                    return TG_ERESOURCE;
                v->numpy = s->b[i].v->numpy;
                pv_unref(s->b[i].v);
                s->b[i].v = v;
            }
    return TG_OK;
}

bool py_truth(const pv *v, int pos, bool *out)
{
    switch (v->kind) {
    case V_NONE: *out = false; return true;
    case V_BOOL: case V_INT: *out = v->i != 0; return true;
    case V_FLOAT: *out = v->f != 0; return true;
    case V_STR: *out = v->slen != 0; return true;
    case V_LIST: case V_TUPLE: case V_SIZE: *out = v->n != 0; return true;
    case V_TENSOR:
        if (v->t->numel != 1) {
            tg_error_at(pos, TG_EINPUT, "Boolean value of Tensor with more than one value is ambiguous");
            return false;
        }
        *out = tg_item(v->t) != 0;
        return true;
    default: *out = true; return true;
    }
}
