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
 * devices, print() with PyTorch's text, f-strings and torch.func. */
#include "pyprog.h"
#include "builtins.h"
#include "io/torch_repr.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TENSOR, V_DTYPE, V_DEVICE, V_SIZE, V_LIST, V_TUPLE,
    V_FUNC,      /* def or lambda: fn */
    V_TRANSFORM, /* grad(f), vmap(f), ...: name, inner */
    V_MODULE,    /* name: "torch", "torch.nn.functional", "numpy", ... */
    V_BUILTIN,   /* a function of a module (mod) or of Python (mod NULL): name */
    V_GRADFN,    /* a tensor's grad_fn: name */
    V_GRADMODE,  /* torch.no_grad() / torch.enable_grad(): i */
} vkind;

typedef struct pv {
    int refs;
    vkind kind;
    int64_t i; /* bool, int, grad mode */
    double f;
    char *s; /* str (owned, slen bytes), device name (owned) */
    size_t slen;
    const char *name, *mod; /* static or the program's */
    tg_tensor *t;
    bool numpy; /* a tensor standing for a NumPy array (np.load, .numpy()) */
    tg_dtype dt;
    struct pv **items; /* list, tuple, torch.Size */
    int n;
    const pnode *fn;
    struct pv *inner;
} pv;

typedef struct scope {
    struct scope *globals; /* NULL for the globals themselves */
    const char **names;
    pv **vals;
    int n, cap;
} scope;

typedef struct {
    tg_program *arena; /* the tree, and the call nodes made for eval.c */
    tg_buf *out;       /* what print() wrote */
    bool printed;
    scope globals;
    pv *last; /* the last expression statement's value */
    int calls;
} interp;

/* a call's arguments, evaluated */
typedef struct {
    pv **v;
    const char **kw; /* NULL for positional */
    const pnode **node;
    int n;
} args;

#define MAX_CALL_DEPTH 100

static pv *eval(interp *I, scope *S, const pnode *n);
static tg_status exec_block(interp *I, scope *S, const pnode *b, pv **ret);
static pv *call_value(interp *I, pv *fn, args *A, int pos);

/* ---- values ---- */
static pv *pv_new(vkind k)
{
    pv *v = tg_calloc(1, sizeof *v);
    if (v) {
        v->refs = 1;
        v->kind = k;
    }
    return v;
}

static pv *pv_ref(pv *v)
{
    if (v)
        v->refs++;
    return v;
}

static void pv_unref(pv *v)
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

static pv *pv_int(int64_t i)
{
    pv *v = pv_new(V_INT);
    if (v)
        v->i = i;
    return v;
}

static pv *pv_bool(bool b)
{
    pv *v = pv_new(V_BOOL);
    if (v)
        v->i = b;
    return v;
}

static pv *pv_float(double f)
{
    pv *v = pv_new(V_FLOAT);
    if (v)
        v->f = f;
    return v;
}

static pv *pv_named(vkind k, const char *mod, const char *name)
{
    pv *v = pv_new(k);
    if (v) {
        v->mod = mod;
        v->name = name;
    }
    return v;
}

static pv *pv_str(const char *s, size_t n)
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

static pv *pv_device(const char *name)
{
    pv *v = pv_str(name, strlen(name));
    if (v)
        v->kind = V_DEVICE;
    return v;
}

static pv *pv_dtype(tg_dtype dt)
{
    pv *v = pv_new(V_DTYPE);
    if (v)
        v->dt = dt;
    return v;
}

/* consumes t */
static pv *pv_tensor(tg_tensor *t)
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
static pv *pv_seq(vkind k, int n)
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

static pv *pv_size(const tg_tensor *t)
{
    pv *v = pv_seq(V_SIZE, t->ndim);
    for (int d = 0; v && d < t->ndim; d++)
        if (!(v->items[d] = pv_int(t->shape[d]))) {
            pv_unref(v);
            return NULL;
        }
    return v;
}

static const char *type_name(const pv *v)
{
    static const char *const names[] = {"NoneType", "bool", "int", "float", "str", "Tensor", "torch.dtype",
                                        "torch.device", "torch.Size", "list", "tuple", "function", "function",
                                        "module", "builtin_function_or_method", "grad_fn", "no_grad"};
    return names[v->kind];
}

static bool is_number(const pv *v) { return v->kind == V_BOOL || v->kind == V_INT || v->kind == V_FLOAT; }
static double num(const pv *v) { return v->kind == V_FLOAT ? v->f : (double)v->i; }

/* ---- errors ---- */
/* gives the current error the position pos unless it has one */
static void error_at(int pos)
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
static pv **scope_slot(scope *S, const char *name)
{
    for (int i = S->n; i-- > 0;)
        if (!strcmp(S->names[i], name))
            return &S->vals[i];
    return NULL;
}

static pv *scope_get(scope *S, const char *name)
{
    pv **slot = scope_slot(S, name);
    if (!slot && S->globals)
        slot = scope_slot(S->globals, name);
    return slot ? *slot : NULL;
}

/* binds name (borrowed: the program's or static) to v (consumed) */
static tg_status scope_set(scope *S, const char *name, pv *v)
{
    if (!v)
        return tg_errcode() ? tg_errcode() : TG_ERESOURCE;
    pv **slot = scope_slot(S, name);
    if (slot) {
        pv_unref(*slot);
        *slot = v;
        return TG_OK;
    }
    if (S->n == S->cap) {
        int nc = S->cap ? S->cap * 2 : 16;
        const char **nn = tg_realloc(S->names, (size_t)nc * sizeof *nn);
        if (nn)
            S->names = nn;
        pv **nv = nn ? tg_realloc(S->vals, (size_t)nc * sizeof *nv) : NULL;
        if (!nv) {
            pv_unref(v);
            return TG_ERESOURCE;
        }
        S->vals = nv;
        S->cap = nc;
    }
    S->names[S->n] = name;
    S->vals[S->n++] = v;
    return TG_OK;
}

static void scope_free(scope *S)
{
    for (int i = 0; i < S->n; i++)
        pv_unref(S->vals[i]);
    tg_free(S->names);
    tg_free(S->vals);
}

/* every name bound to tensor old, in S and the globals, is bound to now
 * (x += 1: the names that share x see the update) */
static tg_status scope_rebind(scope *S, const tg_tensor *old, tg_tensor *now)
{
    for (scope *s = S; s; s = s == S ? S->globals : NULL)
        for (int i = 0; i < s->n; i++)
            if (s->vals[i]->kind == V_TENSOR && s->vals[i]->t == old) {
                pv *v = pv_tensor(tg_ref(now));
                if (!v)
                    return TG_ERESOURCE;
                v->numpy = s->vals[i]->numpy;
                pv_unref(s->vals[i]);
                s->vals[i] = v;
            }
    return TG_OK;
}

/* ---- tensors from Python values ---- */
typedef struct {
    double *f;
    int64_t *i;
    int64_t n, cap;
    int64_t shape[TG_MAX_DIMS];
    int ndim;
    int category; /* 0 bool, 1 int, 2 float */
} flat;

static tg_status flat_push(flat *F, double f, int64_t i)
{
    if (F->n == F->cap) {
        int64_t nc = F->cap ? F->cap * 2 : 16;
        double *nf = tg_realloc(F->f, (size_t)nc * sizeof *nf);
        if (nf)
            F->f = nf;
        int64_t *ni = nf ? tg_realloc(F->i, (size_t)nc * sizeof *ni) : NULL;
        if (!ni)
            return TG_ERESOURCE;
        F->i = ni;
        F->cap = nc;
    }
    F->f[F->n] = f;
    F->i[F->n++] = i;
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
    if (!is_number(v))
        return tg_error(TG_EINPUT, "could not make a tensor of a %s (tensor data are numbers, bools and "
                        "lists of them)", type_name(v));
    int c = v->kind == V_BOOL ? 0 : v->kind == V_INT ? 1 : 2;
    F->category = c > F->category ? c : F->category;
    return flat_push(F, num(v), v->kind == V_FLOAT ? tg_f64_to_i64(v->f) : v->i);
}

/* torch.tensor(data[, dtype]): ints give int64, any float the default
 * float dtype, bools bool; dt < 0: from the data */
static tg_tensor *tensor_of(const pv *v, int dt)
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
        if (F.ndim == 0 && F.n == 0 && v->kind != V_LIST)
            F.ndim = 0;
        t = tg_empty(d, F.ndim, F.shape);
        for (int64_t k = 0; t && k < F.n; k++) {
            void *p = (char *)tg_data(t) + k * (int64_t)tg_dtype_size(d);
            switch (d) {
            case TG_FLOAT32: *(float *)p = (float)F.f[k]; break;
            case TG_FLOAT64: *(double *)p = F.f[k]; break;
            case TG_INT64: *(int64_t *)p = F.i[k]; break;
            default: *(bool *)p = F.f[k] != 0; break;
            }
        }
    }
    tg_free(F.f);
    tg_free(F.i);
    return t;
}

/* a value as a tensor operand: Python numbers are wrapped numbers (weak
 * in type promotion), sequences torch.tensor's */
static tg_tensor *to_tensor(const pv *v, int pos)
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
        tg_tensor *t = tensor_of(v, -1);
        if (!t)
            error_at(pos);
        return t;
    }
    default:
        tg_error_at(pos, TG_EINPUT, "expected a tensor or a number, got %s", type_name(v));
        return NULL;
    }
}

/* ---- eval.c's functions, methods, attributes and indexing ---- */
static node *synth(interp *I, node_kind k, int pos, const char *name)
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

/* binds v as a fresh name in env and returns a name node for it */
static node *operand(interp *I, tg_env *env, const pv *v, int pos)
{
    char name[24];
    snprintf(name, sizeof name, "_%d", env->n);
    if (tg_env_set(env, name, to_tensor(v, pos)) != TG_OK)
        return NULL;
    return synth(I, N_NAME, pos, name);
}

/* The library makes an op's result on the current device: an op runs on
 * cuda when one of its tensors is there (x.cuda() * 2), else on the CPU.
 * Returns the device to restore. */
static tg_device follow_device(tg_tensor *const *t, int n)
{
    tg_device old = tg_get_device(), dev = TG_DEV_CPU;
    for (int i = 0; i < n; i++)
        if (t[i] && t[i]->storage && t[i]->storage->device == TG_DEV_CUDA)
            dev = TG_DEV_CUDA;
    tg_set_device(dev);
    return old;
}

/* runs one node of the expression language over env */
static pv *run_node(node *n, tg_env *env)
{
    tg_program p = {.stmts = &n, .nstmts = 1};
    tg_device old = follow_device(env->values, env->n);
    tg_tensor *r = n ? tg_program_eval(&p, env) : NULL;
    tg_set_device(old);
    tg_env_free(env);
    return pv_tensor(r);
}

/* name(self, args...) as the expression language calls it; None
 * arguments are left out */
static pv *builtin_call(interp *I, const char *name, const pv *self, const args *A, int pos)
{
    tg_env env = {0};
    node *c = synth(I, N_CALL, pos, name);
    int cap = 0;
    if (c && self && !(c->obj = operand(I, &env, self, pos)))
        c = NULL;
    for (int k = 0; c && k < A->n; k++) {
        if (A->v[k]->kind == V_NONE)
            continue;
        int apos = A->node[k] ? A->node[k]->pos : pos;
        node *a = operand(I, &env, A->v[k], apos);
        if (a && A->kw[k]) {
            node *kw = synth(I, N_KWARG, apos, A->kw[k]);
            if (kw)
                kw->obj = a;
            a = kw;
        }
        if (!a) {
            c = NULL;
            break;
        }
        if (c->nargs == cap) {
            cap = cap ? cap * 2 : 4;
            node **na = prog_alloc(I->arena, (size_t)cap * sizeof *na);
            if (!na) {
                c = NULL;
                break;
            }
            if (c->nargs)
                memcpy(na, c->args, (size_t)c->nargs * sizeof *na);
            c->args = na;
        }
        c->args[c->nargs++] = a;
    }
    if (!c) {
        tg_env_free(&env);
        return NULL;
    }
    return run_node(c, &env);
}

/* ---- text: str() and repr() ---- */
static tg_status put_value(tg_buf *b, const pv *v, bool repr);

static tg_status put_tensor(tg_buf *b, const pv *v)
{
    if (v->numpy)
        return tg_error(TG_EINPUT, "printing a NumPy array is not in the subset: print "
                        "torch.from_numpy(a) (the tensor) instead");
    return tg_repr_tensor(b, v->t, tg_grad_fn_name(v->t));
}

static tg_status put_value(tg_buf *b, const pv *v, bool repr)
{
    switch (v->kind) {
    case V_NONE: tg_buf_printf(b, "None"); break;
    case V_BOOL: tg_buf_printf(b, "%s", v->i ? "True" : "False"); break;
    case V_INT: tg_buf_printf(b, "%lld", (long long)v->i); break;
    case V_FLOAT: return tg_repr_pyfloat(b, v->f);
    case V_STR:
        if (repr) {
            bool dq = memchr(v->s, '\'', v->slen) && !memchr(v->s, '"', v->slen);
            tg_buf_add(b, dq ? "\"" : "'", 1);
            for (size_t k = 0; k < v->slen; k++) {
                char c = v->s[k];
                if (c == '\\' || (c == '\'' && !dq))
                    tg_buf_printf(b, "\\%c", c);
                else if (c == '\n')
                    tg_buf_printf(b, "\\n");
                else if (c == '\t')
                    tg_buf_printf(b, "\\t");
                else
                    tg_buf_add(b, &c, 1);
            }
            tg_buf_add(b, dq ? "\"" : "'", 1);
        } else
            tg_buf_add(b, v->s, v->slen);
        break;
    case V_TENSOR: return put_tensor(b, v);
    case V_DTYPE: tg_buf_printf(b, "torch.%s", tg_dtype_name(v->dt)); break;
    case V_DEVICE: tg_buf_printf(repr ? b : b, repr ? "device(type='%s')" : "%s", v->s); break;
    case V_SIZE:
    case V_LIST:
    case V_TUPLE:
        tg_buf_printf(b, "%s", v->kind == V_SIZE ? "torch.Size([" : v->kind == V_LIST ? "[" : "(");
        for (int k = 0; k < v->n; k++) {
            if (k)
                tg_buf_add(b, ", ", 2);
            tg_status st = put_value(b, v->items[k], true);
            if (st != TG_OK)
                return st;
        }
        tg_buf_printf(b, "%s", v->kind == V_SIZE ? "])" : v->kind == V_LIST ? "]" : v->n == 1 ? ",)" : ")");
        break;
    case V_GRADFN: tg_buf_printf(b, "<%s object>", v->name); break;
    case V_MODULE: tg_buf_printf(b, "<module '%s'>", v->name); break;
    case V_FUNC: tg_buf_printf(b, "<function %s>", v->fn->kind == S_DEF ? v->fn->name : "<lambda>"); break;
    default: tg_buf_printf(b, "<%s>", v->name ? v->name : type_name(v)); break;
    }
    return b->failed ? tg_error(TG_ERESOURCE, "out of memory") : TG_OK;
}

/* format(v, spec) for Python's mini-language: [[fill]align][sign][width]
 * [,][.precision][type], types f e g d % and none; a one-element tensor
 * formats as its number, as Tensor.__format__ does */
static tg_status put_formatted(tg_buf *b, const pv *v, const char *spec, size_t slen, int pos)
{
    pv tmp = *v;
    if (v->kind == V_TENSOR && v->t->ndim == 0) {
        tmp.kind = tg_dtype_is_float(v->t->dtype) ? V_FLOAT : v->t->dtype == TG_BOOL ? V_BOOL : V_INT;
        tmp.f = tg_item(v->t);
        tmp.i = tg_get_i64(v->t, 0);
    }
    if (!slen)
        return put_value(b, &tmp, false);
    const char *p = spec, *end = spec + slen;
    char fill = ' ', align = 0, sign = 0, type = 0;
    int width = 0, prec = -1;
    if (p + 1 < end && strchr("<>^=", p[1]))
        fill = *p++, align = *p++;
    else if (p < end && strchr("<>^=", *p))
        align = *p++;
    if (p < end && strchr("+- ", *p))
        sign = *p++;
    while (p < end && *p >= '0' && *p <= '9' && width < 1000)
        width = width * 10 + (*p++ - '0');
    if (p < end && *p == '.')
        for (p++, prec = 0; p < end && *p >= '0' && *p <= '9' && prec < 100;)
            prec = prec * 10 + (*p++ - '0');
    if (p < end && strchr("fFeEgGd%", *p))
        type = *p++;
    bool numeric = tmp.kind == V_INT || tmp.kind == V_FLOAT || tmp.kind == V_BOOL;
    if (p != end || (type && !numeric) || (type == 'd' && tmp.kind == V_FLOAT))
        return tg_error_at(pos, TG_EINPUT, "format spec '%.*s' is not in the subset for a %s (it has "
                           "[[fill]align][sign][width][.precision][f|e|g|d|%%])", (int)slen, spec, type_name(&tmp));
    tg_buf body = {0};
    char fmt[16];
    if (type && type != 'd') {
        double x = num(&tmp) * (type == '%' ? 100 : 1);
        snprintf(fmt, sizeof fmt, "%%%s.*%c", sign == '+' ? "+" : sign == ' ' ? " " : "", type == '%' ? 'f' : type);
        char nb[400];
        tg_snprintf_c(nb, sizeof nb, fmt, prec < 0 ? 6 : prec, x);
        tg_buf_printf(&body, "%s%s", nb, type == '%' ? "%" : "");
    } else if (tmp.kind == V_FLOAT && prec >= 0) { /* no type, a precision: %g with repr's ".0" rules */
        char nb[400];
        tg_snprintf_c(nb, sizeof nb, "%.*g", prec ? prec : 1, tmp.f);
        tg_buf_printf(&body, "%s", nb);
    } else {
        if (sign == '+' && numeric && num(&tmp) >= 0)
            tg_buf_add(&body, "+", 1);
        put_value(&body, &tmp, false);
    }
    size_t len = body.len;
    int pad = width > (int)len ? width - (int)len : 0;
    if (!align)
        align = numeric ? '>' : '<';
    int left = align == '>' || align == '=' ? pad : align == '^' ? pad / 2 : 0;
    for (int k = 0; k < left; k++)
        tg_buf_add(b, &fill, 1);
    tg_buf_add(b, body.data ? body.data : "", len);
    for (int k = left; k < pad; k++)
        tg_buf_add(b, &fill, 1);
    bool failed = body.failed;
    tg_buf_free(&body);
    return failed || b->failed ? tg_error(TG_ERESOURCE, "out of memory") : TG_OK;
}

static pv *eval_fstring(interp *I, scope *S, const pnode *n)
{
    tg_buf b = {0};
    tg_status st = TG_OK;
    for (int k = 0; k < n->nv && st == TG_OK; k++) {
        const pnode *part = n->v[k];
        if (part->kind == P_STR) {
            tg_buf_add(&b, part->str, part->slen);
            continue;
        }
        pv *v = eval(I, S, part->a);
        if (!v)
            st = tg_errcode();
        else if (part->conv_repr)
            st = put_value(&b, v, true);
        else
            st = put_formatted(&b, v, part->str, part->slen, part->pos);
        pv_unref(v);
    }
    pv *r = st == TG_OK && !b.failed ? pv_str(b.data ? b.data : "", b.len) : NULL;
    if (st == TG_OK && b.failed)
        tg_error(TG_ERESOURCE, "out of memory");
    tg_buf_free(&b);
    return r;
}

/* ---- Python's own operators ---- */
static bool truth(const pv *v, int pos, bool *out)
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

static pv *int_result(__int128 r, int pos)
{
    if (r > INT64_MAX || r < INT64_MIN) {
        tg_error_at(pos, TG_EINPUT, "integer overflow: the result does not fit in int64 (Python's ints are "
                    "unbounded, tgrad's are int64)");
        return NULL;
    }
    return pv_int((int64_t)r);
}

static pv *number_op(int op, const pv *a, const pv *b, int pos)
{
    bool ints = a->kind != V_FLOAT && b->kind != V_FLOAT;
    double x = num(a), y = num(b);
    switch (op) {
    case OP_ADD: return ints ? int_result((__int128)a->i + b->i, pos) : pv_float(x + y);
    case OP_SUB: return ints ? int_result((__int128)a->i - b->i, pos) : pv_float(x - y);
    case OP_MUL: return ints ? int_result((__int128)a->i * b->i, pos) : pv_float(x * y);
    case OP_DIV:
    case OP_FLOORDIV:
    case OP_MOD:
        if (y == 0) {
            tg_error_at(pos, TG_EINPUT, "%s by zero", ints && op != OP_DIV ? "integer division or modulo" : "float division");
            return NULL;
        }
        if (op == OP_DIV)
            return pv_float(x / y);
        if (ints) {
            int64_t q = a->i / b->i, m = a->i % b->i;
            if (m && ((m < 0) != (b->i < 0)))
                q--, m += b->i;
            return pv_int(op == OP_FLOORDIV ? q : m);
        }
        return pv_float(op == OP_FLOORDIV ? floor(x / y) : x - floor(x / y) * y);
    case OP_POW:
        if (ints && b->i >= 0) {
            __int128 r = 1;
            for (int64_t k = 0; k < b->i; k++) {
                r *= a->i;
                if (r > INT64_MAX || r < INT64_MIN)
                    return int_result(r, pos);
                if (r == 0 || r == 1)
                    break;
            }
            if (r == 1 && a->i == -1 && (b->i & 1))
                r = -1;
            return int_result(r, pos);
        }
        return pv_float(pow(x, y));
    case OP_LT: return pv_bool(x < y);
    case OP_LE: return pv_bool(x <= y);
    case OP_GT: return pv_bool(x > y);
    case OP_GE: return pv_bool(x >= y);
    case OP_EQ: return pv_bool(ints ? a->i == b->i : x == y);
    case OP_NE: return pv_bool(ints ? a->i != b->i : x != y);
    default:
        tg_error_at(pos, TG_EINPUT, "unsupported operand types for @: a number");
        return NULL;
    }
}

static pv *concat(const pv *a, const pv *b)
{
    if (a->kind == V_STR) {
        pv *r = pv_str(a->s, a->slen + b->slen);
        if (r)
            memcpy(r->s + a->slen, b->s, b->slen);
        return r;
    }
    pv *r = pv_seq(a->kind, a->n + b->n);
    for (int k = 0; r && k < a->n + b->n; k++)
        r->items[k] = pv_ref(k < a->n ? a->items[k] : b->items[k - a->n]);
    return r;
}

static pv *binary_op(int op, const pv *a, const pv *b, int pos)
{
    if (is_number(a) && is_number(b))
        return number_op(op, a, b, pos);
    if (a->kind == b->kind && (a->kind == V_STR || a->kind == V_LIST || a->kind == V_TUPLE) && op == OP_ADD)
        return concat(a, b);
    if (a->kind == V_TENSOR || b->kind == V_TENSOR) {
        if (op == OP_FLOORDIV || op == OP_MOD) {
            tg_error_at(pos, TG_EINPUT, "the operators // and %% on tensors are not supported yet (use "
                        "division: x / y)");
            return NULL;
        }
        tg_tensor *x = to_tensor(a, pos), *y = x ? to_tensor(b, pos) : NULL;
        if (!y) {
            tg_release(x);
            return NULL;
        }
        tg_device old = follow_device((tg_tensor *[]){x, y}, 2);
        tg_tensor *r = tg_binary_op(op, x, y, pos);
        tg_set_device(old);
        return pv_tensor(r);
    }
    if (op == OP_EQ || op == OP_NE) {
        bool same = a->kind == b->kind &&
                    ((a->kind == V_STR && a->slen == b->slen && !memcmp(a->s, b->s, a->slen)) ||
                     (a->kind == V_DTYPE && a->dt == b->dt) || (a->kind == V_DEVICE && !strcmp(a->s, b->s)) ||
                     a->kind == V_NONE);
        if (a->kind == V_SIZE || a->kind == V_TUPLE || a->kind == V_LIST) {
            same = (b->kind == V_SIZE || b->kind == V_TUPLE || b->kind == V_LIST) && a->n == b->n;
            for (int k = 0; same && k < a->n; k++) {
                pv *e = binary_op(OP_EQ, a->items[k], b->items[k], pos);
                same = e && e->i;
                pv_unref(e);
            }
        }
        return pv_bool(op == OP_EQ ? same : !same);
    }
    tg_error_at(pos, TG_EINPUT, "unsupported operand types for this operator: '%s' and '%s'", type_name(a),
                type_name(b));
    return NULL;
}

static pv *compare(interp *I, scope *S, const pnode *n)
{
    pv *left = eval(I, S, n->v[0]), *result = NULL;
    for (int k = 1; left && k < n->nv; k++) {
        pv *right = eval(I, S, n->v[k]), *r = NULL;
        if (!right)
            break;
        int op = n->ops[k - 1];
        if (op == OP_IS || op == OP_ISNOT) {
            bool same = left == right || (left->kind == V_NONE && right->kind == V_NONE) ||
                        (left->kind == V_TENSOR && right->kind == V_TENSOR && left->t == right->t) ||
                        (left->kind == V_BOOL && right->kind == V_BOOL && left->i == right->i);
            r = pv_bool(op == OP_IS ? same : !same);
        } else if (op == OP_IN || op == OP_NOTIN) {
            tg_error_at(n->pos, TG_EINPUT, "'in' is not in the subset tgrad runs");
        } else
            r = binary_op(op, left, right, n->pos);
        pv_unref(left);
        left = right;
        if (!r)
            break;
        if (result) { /* a < b < c: (a < b) and (b < c) */
            bool t;
            if (!truth(result, n->pos, &t)) {
                pv_unref(r);
                break;
            }
            if (!t) {
                pv_unref(r);
                continue;
            }
            pv_unref(result);
        }
        result = r;
        r = NULL;
    }
    pv_unref(left);
    if (tg_errcode()) {
        pv_unref(result);
        return NULL;
    }
    return result;
}

/* ---- names ---- */
static const char *const python_builtins[] = {"print", "len", "float", "int", "str", "bool", "abs", "round",
                                              "repr", "type", "isinstance", NULL};

static pv *eval_name(interp *I, scope *S, const pnode *n)
{
    if (!strcmp(n->name, "None"))
        return pv_new(V_NONE);
    if (!strcmp(n->name, "True") || !strcmp(n->name, "False"))
        return pv_bool(n->name[0] == 'T');
    pv *v = scope_get(S, n->name);
    if (v)
        return pv_ref(v);
    for (int k = 0; python_builtins[k]; k++)
        if (!strcmp(python_builtins[k], n->name))
            return pv_named(V_BUILTIN, NULL, python_builtins[k]);
    (void)I;
    tg_error_at(n->pos, TG_EINPUT, "name '%s' is not defined (a Python program makes its own tensors, as in "
                "%s = torch.tensor(2.0, requires_grad=True); --at gives values to an expression)",
                n->name, n->name);
    return NULL;
}

/* ---- modules ---- */
static const struct { const char *name, *top; } modules[] = {
    {"torch", "torch"}, {"torch.nn", "torch"}, {"torch.nn.functional", "torch"}, {"torch.func", "torch"},
    {"torch.cuda", "torch"}, {"functorch", "functorch"}, {"numpy", "numpy"},
};

static const char *module_name(const char *name)
{
    for (size_t k = 0; k < sizeof modules / sizeof *modules; k++)
        if (!strcmp(modules[k].name, name))
            return modules[k].name;
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
    char full[64];
    snprintf(full, sizeof full, "%s.%s", m->name, name);
    const char *sub = strlen(m->name) + strlen(name) + 2 <= sizeof full ? module_name(full) : NULL;
    if (sub)
        return pv_named(V_MODULE, NULL, sub);
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
    const char *mod = module_name(n->name);
    if (!mod)
        return tg_error_at(n->pos, TG_EINPUT, "module '%s' is not in the subset tgrad runs (it has torch, "
                           "torch.nn.functional, torch.func, functorch and numpy)", n->name);
    if (n->kind == S_IMPORT) {
        if (n->str)
            return scope_set(S, n->str, pv_named(V_MODULE, NULL, mod));
        const char *top = strchr(mod, '.') ? "torch" : mod;
        return scope_set(S, top, pv_named(V_MODULE, NULL, top));
    }
    pv *m = pv_named(V_MODULE, NULL, mod);
    tg_status st = m ? TG_OK : TG_ERESOURCE;
    for (int k = 0; k < n->nv && st == TG_OK; k++) {
        const pnode *p = n->v[k];
        pv *v = module_attr(m, p->name, p->pos);
        st = scope_set(S, p->str ? p->str : p->name, v);
    }
    pv_unref(m);
    return st;
}

/* ---- arguments ---- */
static void args_free(args *A)
{
    for (int k = 0; k < A->n; k++)
        pv_unref(A->v[k]);
    tg_free(A->v);
    tg_free(A->kw);
    tg_free(A->node);
    memset(A, 0, sizeof *A);
}

static tg_status args_eval(interp *I, scope *S, const pnode *call, args *A)
{
    memset(A, 0, sizeof *A);
    int n = call->nv;
    if (!(A->v = tg_calloc((size_t)n + 1, sizeof *A->v)) || !(A->kw = tg_calloc((size_t)n + 1, sizeof *A->kw)) ||
        !(A->node = tg_calloc((size_t)n + 1, sizeof *A->node))) {
        args_free(A);
        return TG_ERESOURCE;
    }
    for (int k = 0; k < n; k++) {
        const pnode *a = call->v[k];
        A->kw[k] = a->kind == P_KWARG ? a->name : NULL;
        A->node[k] = a;
        if (!(A->v[k] = eval(I, S, a->kind == P_KWARG ? a->a : a))) {
            args_free(A);
            return tg_errcode();
        }
        A->n++;
    }
    return TG_OK;
}

/* removes the keyword argument name from A: its value (a new reference)
 * or NULL */
static pv *take_kw(args *A, const char *name)
{
    for (int k = 0; k < A->n; k++)
        if (A->kw[k] && !strcmp(A->kw[k], name)) {
            pv *v = A->v[k];
            memmove(A->v + k, A->v + k + 1, (size_t)(A->n - k - 1) * sizeof *A->v);
            memmove(A->kw + k, A->kw + k + 1, (size_t)(A->n - k - 1) * sizeof *A->kw);
            memmove(A->node + k, A->node + k + 1, (size_t)(A->n - k - 1) * sizeof *A->node);
            A->n--;
            return v;
        }
    return NULL;
}

/* parameter k: positional k or keyword name (borrowed), or NULL */
static pv *arg(const args *A, int k, const char *name)
{
    int pos = 0;
    for (int i = 0; i < A->n; i++) {
        if (!A->kw[i] && pos++ == k)
            return A->v[i];
        if (A->kw[i] && name && !strcmp(A->kw[i], name))
            return A->v[i];
    }
    return NULL;
}

static tg_status no_args(const args *A, const char *fn, int pos)
{
    return A->n ? tg_error_at(pos, TG_EINPUT, "%s() takes no arguments", fn) : TG_OK;
}

/* ---- devices ---- */
static bool cuda_available(void) { return tg_cuda_unavailable_reason() == NULL; }

static tg_status parse_device(const pv *v, tg_device *dev, int pos)
{
    if (v->kind != V_DEVICE && v->kind != V_STR)
        return tg_error_at(pos, TG_EINPUT, "expected a device ('cpu', 'cuda', torch.device(...)), got %s",
                           type_name(v));
    const char *s = v->s;
    if (!strcmp(s, "cpu")) {
        *dev = TG_DEV_CPU;
        return TG_OK;
    }
    if (strcmp(s, "cuda") && strcmp(s, "cuda:0"))
        return tg_error_at(pos, TG_EINPUT, "unknown device '%s' (tgrad has 'cpu', 'cuda' and 'cuda:0')", s);
    if (!cuda_available())
        return tg_error_at(pos, TG_ERESOURCE, "cuda is not available here: %s (choose the device as the lesson "
                           "does, torch.device('cuda' if torch.cuda.is_available() else 'cpu'), or run tgrad "
                           "--device auto)", tg_cuda_unavailable_reason());
    *dev = TG_DEV_CUDA;
    return TG_OK;
}

/* x.to(dev): the same tensor when it is there, else a copy that passes
 * gradients back */
static tg_tensor *to_device(tg_tensor *t, tg_device dev)
{
    if (!t || t->storage->device == dev)
        return t;
    tg_device old = tg_get_device();
    tg_set_device(dev);
    tg_tensor *r = tg_apply(TG_OP_CONTIGUOUS, 1, &t, NULL);
    tg_set_device(old);
    return r;
}

/* x.to(device), x.to(dtype), x.to(device, dtype), keywords device= dtype= */
static pv *tensor_to(const pv *x, args *A, int pos)
{
    pv *dv = take_kw(A, "device"), *dtv = take_kw(A, "dtype");
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
            st = tg_error_at(pos, TG_EINPUT, "to() takes a device and a dtype, not %s", type_name(v));
    }
    tg_device dev = x->t->storage->device;
    if (st == TG_OK && dv && dv->kind != V_NONE)
        st = parse_device(dv, &dev, pos);
    if (st == TG_OK && dtv && dtv->kind != V_DTYPE && dtv->kind != V_NONE)
        st = tg_error_at(pos, TG_EINPUT, "to(): dtype must be a torch dtype");
    tg_tensor *t = st == TG_OK ? to_device(tg_ref(x->t), dev) : NULL;
    if (t && dtv && dtv->kind == V_DTYPE && dtv->dt != t->dtype)
        t = tg_cast(t, dtv->dt);
    pv_unref(dv);
    pv_unref(dtv);
    return pv_tensor(t);
}

/* ---- torch functions ---- */
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
        if (parse_device(dv, &dev, pos) != TG_OK) {
            pv_unref(r);
            return NULL;
        }
        tg_tensor *t = to_device(tg_ref(r->t), dev);
        pv_unref(r);
        r = pv_tensor(t);
    }
    bool rg = false;
    if (r && rgv && !truth(rgv, pos, &rg)) {
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
    pv *dtv = take_kw(A, "dtype"), *rgv = take_kw(A, "requires_grad"), *dv = take_kw(A, "device"), *r = NULL;
    if (dtv && dtv->kind != V_DTYPE && dtv->kind != V_NONE)
        tg_error_at(pos, TG_EINPUT, "%s(): dtype must be a torch dtype (torch.float32, ...), not %s", name,
                    type_name(dtv));
    else if (!strcmp(name, "tensor") || !strcmp(name, "as_tensor")) {
        pv *data = arg(A, 0, "data");
        if (!data || A->n != 1)
            tg_error_at(pos, TG_EINPUT, "%s() takes one argument, the data", name);
        else {
            r = pv_tensor(tensor_of(data, dtv && dtv->kind == V_DTYPE ? (int)dtv->dt : -1));
            if (!r)
                error_at(A->node[0]->pos);
        }
    } else {
        /* a float dtype is the default float while the tensor is made, so
         * that arange(0, 1, 0.1, dtype=torch.float64) is computed in it */
        tg_dtype old = tg_default_float;
        if (dtv && dtv->kind == V_DTYPE && tg_dtype_is_float(dtv->dt))
            tg_default_float = dtv->dt;
        r = builtin_call(I, name, NULL, A, pos);
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
    if (no_args(A, enable ? "enable_grad" : "no_grad", pos) != TG_OK)
        return NULL;
    pv *v = pv_new(V_GRADMODE);
    if (v)
        v->i = enable;
    return v;
}

static pv *torch_call(interp *I, const char *mod, const char *name, args *A, int pos)
{
    bool torch = !strcmp(mod, "torch");
    if (!strcmp(mod, "torch.cuda")) {
        if (!strcmp(name, "is_available") && no_args(A, name, pos) == TG_OK)
            return pv_bool(cuda_available());
        if (!strcmp(name, "device_count") && no_args(A, name, pos) == TG_OK)
            return pv_int(cuda_available() ? tg_cuda_device_count() : 0);
        if (!tg_errcode())
            tg_error_at(pos, TG_EINPUT, "torch.cuda.%s is not in the subset (it has is_available() and "
                        "device_count())", name);
        return NULL;
    }
    if (torch && (!strcmp(name, "no_grad") || !strcmp(name, "enable_grad")))
        return grad_mode(A, name[0] == 'e', pos);
    if (torch && !strcmp(name, "is_grad_enabled"))
        return no_args(A, name, pos) == TG_OK ? pv_bool(tg_grad_enabled()) : NULL;
    if (torch && !strcmp(name, "device")) {
        pv *d = arg(A, 0, "type");
        tg_device dev;
        if (!d || A->n != 1 || d->kind != V_STR) {
            tg_error_at(pos, TG_EINPUT, "torch.device() takes one string, 'cpu' or 'cuda'");
            return NULL;
        }
        if (strcmp(d->s, "cpu") && strcmp(d->s, "cuda") && strcmp(d->s, "cuda:0") && parse_device(d, &dev, pos))
            return NULL;
        return pv_device(d->s);
    }
    if (torch && !strcmp(name, "manual_seed")) {
        pv *s = arg(A, 0, "seed");
        if (!s || s->kind != V_INT || s->i < 0) {
            tg_error_at(pos, TG_EINPUT, "manual_seed() takes a non-negative int");
            return NULL;
        }
        tg_seed((uint64_t)s->i); /* the generator is tgrad's (--seed): not PyTorch's numbers */
        return pv_new(V_NONE);
    }
    if (torch && !strcmp(name, "is_tensor")) {
        pv *x = arg(A, 0, "obj");
        return x ? pv_bool(x->kind == V_TENSOR && !x->numpy) : NULL;
    }
    if (torch && !strcmp(name, "from_numpy")) {
        pv *a = arg(A, 0, "ndarray");
        if (!a || A->n != 1 || a->kind != V_TENSOR || !a->numpy) {
            tg_error_at(pos, TG_EINPUT, "from_numpy() expects a NumPy array (np.load('file.npy'), or x.numpy())");
            return NULL;
        }
        return pv_tensor(tg_ref(a->t)); /* shares the memory, as PyTorch's does */
    }
    if (is_creation(name))
        return creation_call(I, name, A, pos);
    return builtin_call(I, name, NULL, A, pos);
}

static pv *numpy_call(const char *name, args *A, int pos)
{
    if (!strcmp(name, "load")) {
        pv *p = arg(A, 0, "file");
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
            error_at(pos);
        return r;
    }
    if (!strcmp(name, "save")) {
        pv *p = arg(A, 0, "file"), *a = arg(A, 1, "arr");
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
            error_at(pos);
            return NULL;
        }
        return pv_new(V_NONE);
    }
    tg_error_at(pos, TG_EINPUT, "np.%s is not in the subset: tgrad takes NumPy arrays from .npy files "
                "(np.load('a.npy'), torch.from_numpy, x.numpy(), np.save)", name);
    return NULL;
}

/* ---- torch.func ---- */
static pv *call1(interp *I, pv *f, tg_tensor *x, int pos)
{
    pv *xv = pv_tensor(x);
    if (!xv)
        return NULL;
    const pnode *none = NULL;
    const char *nokw = NULL;
    args A = {.v = &xv, .kw = &nokw, .node = &none, .n = 1};
    pv *r = call_value(I, f, &A, pos);
    pv_unref(xv);
    if (r && r->kind != V_TENSOR) {
        tg_error_at(pos, TG_EINPUT, "the function must return a tensor, not %s", type_name(r));
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
        if (c && !out) {
            int64_t shape[TG_MAX_DIMS];
            shape[0] = n;
            memcpy(shape + 1, c->shape, (size_t)c->ndim * sizeof *shape);
            out = c->ndim + 1 > TG_MAX_DIMS ? (tg_error(TG_EINPUT, "vmap: too many dimensions"), NULL)
                                            : tg_empty(c->dtype, c->ndim + 1, shape);
        }
        if (c && out && (c->dtype != out->dtype || c->numel * n != out->numel)) {
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
        error_at(pos);
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

/* ---- Python's functions ---- */
static pv *python_call(interp *I, const char *name, args *A, int pos)
{
    if (!strcmp(name, "print")) {
        pv *sep = take_kw(A, "sep"), *end = take_kw(A, "end");
        tg_status st = TG_OK;
        for (int k = 0; k < A->n && st == TG_OK; k++) {
            if (A->kw[k])
                st = tg_error_at(pos, TG_EINPUT, "print() got an unexpected keyword argument '%s'", A->kw[k]);
            else if (k && sep && sep->kind == V_STR)
                tg_buf_add(I->out, sep->s, sep->slen);
            else if (k)
                tg_buf_add(I->out, " ", 1);
            if (st == TG_OK)
                st = put_value(I->out, A->v[k], false);
        }
        if (st == TG_OK && end && end->kind == V_STR)
            tg_buf_add(I->out, end->s, end->slen);
        else if (st == TG_OK)
            tg_buf_add(I->out, "\n", 1);
        pv_unref(sep);
        pv_unref(end);
        I->printed = true;
        if (st != TG_OK)
            error_at(A->n ? A->node[0]->pos : pos);
        return st == TG_OK ? pv_new(V_NONE) : NULL;
    }
    pv *x = A->n == 1 && !A->kw[0] ? A->v[0] : NULL;
    if (!x) {
        tg_error_at(pos, TG_EINPUT, "%s() takes one argument in the subset tgrad runs", name);
        return NULL;
    }
    if (!strcmp(name, "len")) {
        if (x->kind == V_TENSOR && x->t->ndim == 0)
            tg_error_at(pos, TG_EINPUT, "len() of a 0-d tensor");
        else if (x->kind == V_TENSOR)
            return pv_int(x->t->shape[0]);
        else if (x->kind == V_STR)
            return pv_int((int64_t)x->slen);
        else if (x->kind == V_LIST || x->kind == V_TUPLE || x->kind == V_SIZE)
            return pv_int(x->n);
        else
            tg_error_at(pos, TG_EINPUT, "object of type '%s' has no len()", type_name(x));
        return NULL;
    }
    if (!strcmp(name, "str") || !strcmp(name, "repr")) {
        tg_buf b = {0};
        pv *r = put_value(&b, x, name[0] == 'r') == TG_OK ? pv_str(b.data ? b.data : "", b.len) : NULL;
        tg_buf_free(&b);
        return r;
    }
    double v = 0;
    if (x->kind == V_TENSOR && x->t->numel == 1)
        v = tg_item(x->t);
    else if (is_number(x))
        v = num(x);
    else {
        tg_error_at(pos, TG_EINPUT, "%s() of a %s%s is not in the subset", name, type_name(x),
                    x->kind == V_TENSOR ? " with more than one element" : "");
        return NULL;
    }
    if (!strcmp(name, "float"))
        return pv_float(v);
    if (!strcmp(name, "bool"))
        return pv_bool(v != 0);
    if (!strcmp(name, "abs"))
        return x->kind == V_FLOAT || x->kind == V_TENSOR ? pv_float(fabs(v)) : int_result(x->i < 0 ? -(__int128)x->i : x->i, pos);
    if (!strcmp(name, "int") || !strcmp(name, "round")) {
        double r = name[0] == 'i' ? trunc(v) : nearbyint(v);
        if (!(r >= -9.2233720368547758e18 && r < 9.2233720368547758e18)) {
            tg_error_at(pos, TG_EINPUT, "cannot convert %g to an integer", v);
            return NULL;
        }
        return x->kind == V_INT ? pv_int(x->i) : pv_int((int64_t)r);
    }
    tg_error_at(pos, TG_EINPUT, "%s() is not in the subset tgrad runs", name);
    return NULL;
}

/* ---- user functions ---- */
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
        else if (scope_slot(&local, f->v[p]->name))
            st = tg_error_at(pos, TG_EINPUT, "got multiple values for argument '%s'", f->v[p]->name);
        else
            st = scope_set(&local, f->v[p]->name, pv_ref(A->v[k]));
    }
    for (int j = 0; j < f->nv && st == TG_OK; j++)
        if (!scope_slot(&local, f->v[j]->name))
            st = tg_error_at(pos, TG_EINPUT, "missing required argument: '%s'", f->v[j]->name);
    pv *r = NULL;
    I->calls++;
    if (st == TG_OK && f->kind == P_LAMBDA)
        r = eval(I, &local, f->a);
    else if (st == TG_OK && exec_block(I, &local, f->a, &r) == TG_OK && !r)
        r = pv_new(V_NONE);
    I->calls--;
    scope_free(&local);
    return r;
}

static pv *call_value(interp *I, pv *fn, args *A, int pos)
{
    switch (fn->kind) {
    case V_FUNC: return call_user(I, fn, A, pos);
    case V_TRANSFORM: return transform_call(I, fn, A, pos);
    case V_BUILTIN:
        if (!fn->mod)
            return python_call(I, fn->name, A, pos);
        if (!strcmp(fn->mod, "torch.func") || !strcmp(fn->mod, "functorch"))
            return func_call(fn->mod, fn->name, A, pos);
        if (!strcmp(fn->mod, "numpy"))
            return numpy_call(fn->name, A, pos);
        if (!strcmp(fn->mod, "torch.nn")) {
            tg_error_at(pos, TG_EINPUT, "torch.nn.%s is not in the subset tgrad runs (it has the functions of "
                        "torch.nn.functional)", fn->name);
            return NULL;
        }
        return torch_call(I, fn->mod, fn->name, A, pos);
    default:
        tg_error_at(pos, TG_EINPUT, "'%s' object is not callable", type_name(fn));
        return NULL;
    }
}

/* ---- tensors' methods and attributes ---- */
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
    pv *g = take_kw(A, "gradient"), *rg = take_kw(A, "retain_graph"), *cg = take_kw(A, "create_graph");
    if (!g && A->n && !A->kw[0])
        g = pv_ref(A->v[0]);
    bool retain = false, create = false;
    tg_status st = TG_OK;
    if (A->n > (g && !A->kw[0] ? 1 : 0))
        st = tg_error_at(pos, TG_EINPUT, "backward() takes gradient, retain_graph and create_graph");
    if (st == TG_OK && ((rg && !truth(rg, pos, &retain)) || (cg && !truth(cg, pos, &create))))
        st = tg_errcode();
    retain = retain || create;
    tg_tensor *gt = NULL;
    if (st == TG_OK && g && g->kind != V_NONE && !(gt = to_tensor(g, pos)))
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
        tg_device old = follow_device(&y->t, 1);
        st = tg_backward(y->t, gt, retain, create);
        tg_set_device(old);
        gt = NULL;
    }
    tg_release(gt);
    pv_unref(g);
    pv_unref(rg);
    pv_unref(cg);
    if (st != TG_OK) {
        error_at(pos);
        return NULL;
    }
    pv_unref(I->last); /* the program's value, when it prints nothing */
    I->last = pv_ref(y);
    return pv_new(V_NONE);
}

/* x op= y (and x.add_(y) ...) through eval.c's in-place update; the names
 * bound to x see the new tensor */
static pv *update(interp *I, scope *S, pv *x, int op, const pv *y, int pos)
{
    if (!x->t->op && x->t->requires_grad && tg_grad_enabled()) { /* PyTorch's words */
        tg_error_at(pos, TG_EINPUT, "a leaf Variable that requires grad is being used in an in-place operation.");
        return NULL;
    }
    tg_env env = {0};
    node *n = synth(I, N_AUGASSIGN, pos, "_x");
    node *rhs = n && tg_env_set(&env, "_x", tg_ref(x->t)) == TG_OK ? operand(I, &env, y, pos) : NULL;
    if (!rhs) {
        tg_env_free(&env);
        return NULL;
    }
    n->op = op;
    n->obj = rhs;
    tg_tensor *old = x->t;
    pv *r = run_node(n, &env);
    if (r && r->t != old && !old->op && !r->t->op) {
        /* a leaf updated under no_grad (w -= lr * w.grad) stays the same
         * leaf in PyTorch: it still requires grad and keeps its .grad */
        r->t->requires_grad = old->requires_grad;
        if (!r->t->grad)
            r->t->grad = old->grad ? tg_ref(old->grad) : NULL;
    }
    if (r && scope_rebind(S, old, r->t) != TG_OK) {
        pv_unref(r);
        return NULL;
    }
    return r;
}

static pv *set_requires_grad(pv *x, const pv *flag, int pos)
{
    bool on = true;
    if (flag && !truth(flag, pos, &on))
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

static pv *tensor_attr(interp *I, const pv *x, const char *name, int pos)
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
        node *a = synth(I, N_ATTR, pos, name);
        if (a && !(a->obj = operand(I, &env, x, pos)))
            a = NULL;
        return run_node(a, &env);
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

static pv *tensor_method(interp *I, scope *S, pv *x, const char *name, args *A, int pos)
{
    tg_tensor *t = x->t;
    if (!strcmp(name, "backward"))
        return backward(I, x, A, pos);
    if (!strcmp(name, "requires_grad_"))
        return set_requires_grad(x, arg(A, 0, "requires_grad"), pos);
    if (!strcmp(name, "to"))
        return tensor_to(x, A, pos);
    if (!strcmp(name, "cuda") || !strcmp(name, "cpu")) {
        tg_device dev = TG_DEV_CPU;
        pv *d = pv_device(name);
        tg_status st = d ? no_args(A, name, pos) : TG_ERESOURCE;
        if (st == TG_OK && name[1] == 'u')
            st = parse_device(d, &dev, pos);
        pv_unref(d);
        return st == TG_OK ? pv_tensor(to_device(tg_ref(t), dev)) : NULL;
    }
    if (!strcmp(name, "numpy")) {
        if (no_args(A, name, pos) != TG_OK)
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
        if (no_args(A, name, pos) != TG_OK)
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
        tg_tensor *c = no_args(A, name, pos) == TG_OK ? tg_contiguous(tg_ref(t)) : NULL;
        pv *r = c ? tolist(c, 0, &at) : NULL;
        tg_release(c);
        return r;
    }
    if (!strcmp(name, "dim") || !strcmp(name, "ndimension"))
        return no_args(A, name, pos) == TG_OK ? pv_int(t->ndim) : NULL;
    if (!strcmp(name, "numel") || !strcmp(name, "nelement"))
        return no_args(A, name, pos) == TG_OK ? pv_int(t->numel) : NULL;
    if (!strcmp(name, "size")) {
        pv *d = arg(A, 0, "dim");
        if (!d)
            return A->n ? (tg_error_at(pos, TG_EINPUT, "size() takes one dim"), NULL) : pv_size(t);
        tg_status st = d->kind == V_INT ? TG_OK : tg_error_at(pos, TG_EINPUT, "size(): dim must be an int");
        int64_t k = st == TG_OK ? tg_norm_dim(d->i, t->ndim, "size", &st) : 0;
        if (st != TG_OK) {
            error_at(pos);
            return NULL;
        }
        return pv_int(t->shape[k]);
    }
    if (!strcmp(name, "zero_")) {
        if (no_args(A, name, pos) != TG_OK)
            return NULL;
        tg_tensor *r = tg_inplace(tg_ref(t), tg_zeros_like(t)); /* the leaf rule applies */
        if (r && scope_rebind(S, t, r) != TG_OK) {
            tg_release(r);
            r = NULL;
        }
        return pv_tensor(r);
    }
    int op = inplace_op(name);
    if (op) {
        pv *y = arg(A, 0, "other");
        if (!y || A->n != 1) {
            tg_error_at(pos, TG_EINPUT, "%s() takes one argument", name);
            return NULL;
        }
        return update(I, S, x, op, y, pos);
    }
    return builtin_call(I, name, x, A, pos);
}

/* x.grad.zero_(): the leaf's gradient is replaced by zeros (a gradient is
 * no graph's node, and later passes add into it) */
static pv *zero_grad(interp *I, scope *S, const pnode *owner)
{
    pv *o = eval(I, S, owner);
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

static pv *eval_call(interp *I, scope *S, const pnode *n)
{
    const pnode *callee = n->a;
    if (callee->kind == P_ATTR && !strcmp(callee->name, "zero_") && callee->a->kind == P_ATTR &&
        !strcmp(callee->a->name, "grad") && n->nv == 0)
        return zero_grad(I, S, callee->a->a);
    pv *recv = callee->kind == P_ATTR ? eval(I, S, callee->a) : NULL, *fn = NULL, *r = NULL;
    if (callee->kind == P_ATTR && !recv)
        return NULL;
    args A;
    if (args_eval(I, S, n, &A) != TG_OK) {
        pv_unref(recv);
        return NULL;
    }
    if (recv && recv->kind == V_TENSOR)
        r = tensor_method(I, S, recv, callee->name, &A, callee->pos);
    else if (recv && recv->kind == V_GRADFN && !strcmp(callee->name, "name") && no_args(&A, "name", n->pos) == TG_OK)
        r = pv_str(recv->name, strlen(recv->name));
    else if (recv && recv->kind == V_MODULE)
        fn = module_attr(recv, callee->name, callee->pos);
    else if (recv && !tg_errcode())
        tg_error_at(callee->pos, TG_EINPUT, "'%s' object has no attribute '%s'", type_name(recv), callee->name);
    else if (!recv)
        fn = eval(I, S, callee);
    if (fn)
        r = call_value(I, fn, &A, callee->kind == P_ATTR ? callee->pos : n->pos);
    pv_unref(fn);
    pv_unref(recv);
    args_free(&A);
    return r;
}

static pv *eval_attr(interp *I, scope *S, const pnode *n)
{
    pv *x = eval(I, S, n->a), *r = NULL;
    if (!x)
        return NULL;
    if (x->kind == V_TENSOR)
        r = tensor_attr(I, x, n->name, n->pos);
    else if (x->kind == V_MODULE)
        r = module_attr(x, n->name, n->pos);
    else if (x->kind == V_DEVICE && !strcmp(n->name, "type")) {
        const char *c = strchr(x->s, ':');
        r = pv_str(x->s, c ? (size_t)(c - x->s) : strlen(x->s));
    } else if (x->kind == V_DTYPE && !strcmp(n->name, "is_floating_point"))
        r = pv_bool(tg_dtype_is_float(x->dt));
    else
        tg_error_at(n->pos, TG_EINPUT, "'%s' object has no attribute '%s'", type_name(x), n->name);
    pv_unref(x);
    return r;
}

/* seq[i] on a list, tuple or torch.Size (ints and slices with step 1) */
static pv *index_seq(const pv *x, const pv *i, int pos)
{
    if (i->kind != V_INT) {
        tg_error_at(pos, TG_EINPUT, "%s indices must be integers", type_name(x));
        return NULL;
    }
    int64_t k = i->i < 0 ? i->i + x->n : i->i;
    if (k < 0 || k >= x->n) {
        tg_error_at(pos, TG_EINPUT, "%s index out of range", type_name(x));
        return NULL;
    }
    return pv_ref(x->items[k]);
}

static pv *eval_index(interp *I, scope *S, const pnode *n)
{
    pv *x = eval(I, S, n->a), *r = NULL;
    if (!x)
        return NULL;
    if (x->kind != V_TENSOR) {
        pv *i = n->nv == 1 && n->v[0]->kind != P_SLICE ? eval(I, S, n->v[0]) : NULL;
        if (i && (x->kind == V_LIST || x->kind == V_TUPLE || x->kind == V_SIZE))
            r = index_seq(x, i, n->pos);
        else if (!tg_errcode())
            tg_error_at(n->pos, TG_EINPUT, "indexing a %s this way is not in the subset", type_name(x));
        pv_unref(i);
        pv_unref(x);
        return r;
    }
    tg_env env = {0};
    node *ix = synth(I, N_INDEX, n->pos, NULL);
    if (ix && (!(ix->obj = operand(I, &env, x, n->pos)) ||
               !(ix->args = prog_alloc(I->arena, (size_t)(n->nv ? n->nv : 1) * sizeof *ix->args))))
        ix = NULL;
    for (int k = 0; ix && k < n->nv; k++) {
        const pnode *s = n->v[k];
        const pnode *parts[3] = {s->kind == P_SLICE ? s->a : s, s->kind == P_SLICE ? s->b : NULL,
                                 s->kind == P_SLICE ? s->c : NULL};
        node *nodes[3] = {0};
        for (int j = 0; j < 3 && ix; j++) {
            pv *v = parts[j] ? eval(I, S, parts[j]) : NULL;
            if (parts[j] && !v)
                ix = NULL;
            else if (v && v->kind != V_NONE && !(nodes[j] = operand(I, &env, v, parts[j]->pos)))
                ix = NULL;
            pv_unref(v);
        }
        node *sub = nodes[0];
        if (ix && s->kind == P_SLICE) {
            if (!(sub = synth(I, N_SLICE, s->pos, NULL)) || !(sub->args = prog_alloc(I->arena, sizeof(node *))))
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
    return run_node(ix, &env);
}

static pv *eval_seq(interp *I, scope *S, const pnode *n)
{
    pv *r = pv_seq(n->kind == P_LIST ? V_LIST : V_TUPLE, n->nv);
    for (int k = 0; r && k < n->nv; k++)
        if (!(r->items[k] = eval(I, S, n->v[k]))) {
            pv_unref(r);
            return NULL;
        }
    return r;
}

static pv *eval_unary(interp *I, scope *S, const pnode *n)
{
    pv *x = eval(I, S, n->a), *r = NULL;
    if (!x || n->op == OP_ADD)
        return x;
    if (x->kind == V_FLOAT)
        r = pv_float(-x->f);
    else if (x->kind == V_INT || x->kind == V_BOOL)
        r = int_result(-(__int128)x->i, n->pos);
    else if (x->kind == V_TENSOR && x->t->dtype == TG_BOOL)
        tg_error_at(n->pos, TG_EINPUT, "Negation, the `-` operator, on a bool tensor is not supported. If you are "
                    "trying to invert a mask, use the `~` or `logical_not()` operator instead.");
    else if (x->kind == V_TENSOR)
        r = pv_tensor(tg_neg(tg_ref(x->t)));
    else
        tg_error_at(n->pos, TG_EINPUT, "bad operand type for unary -: '%s'", type_name(x));
    pv_unref(x);
    return r;
}

static pv *eval_boolop(interp *I, scope *S, const pnode *n)
{
    pv *a = eval(I, S, n->a);
    bool t;
    if (!a || !truth(a, n->pos, &t)) {
        pv_unref(a);
        return NULL;
    }
    if ((n->kind == P_AND) != t) /* a and b: a when false; a or b: a when true */
        return a;
    pv_unref(a);
    return eval(I, S, n->b);
}

static pv *eval(interp *I, scope *S, const pnode *n)
{
    pv *r = NULL;
    switch (n->kind) {
    case P_NUM: r = n->is_int ? pv_int(n->ival) : pv_float(n->num); break;
    case P_STR: r = pv_str(n->str, n->slen); break;
    case P_FSTR: r = eval_fstring(I, S, n); break;
    case P_NAME: r = eval_name(I, S, n); break;
    case P_LIST:
    case P_TUPLE: r = eval_seq(I, S, n); break;
    case P_UNARY: r = eval_unary(I, S, n); break;
    case P_NOT: {
        pv *x = eval(I, S, n->a);
        bool t;
        if (x && truth(x, n->pos, &t))
            r = pv_bool(!t);
        pv_unref(x);
        break;
    }
    case P_BINARY: {
        pv *a = eval(I, S, n->a), *b = a ? eval(I, S, n->b) : NULL;
        if (b)
            r = binary_op(n->op, a, b, n->pos);
        pv_unref(a);
        pv_unref(b);
        break;
    }
    case P_COMPARE: r = compare(I, S, n); break;
    case P_AND:
    case P_OR: r = eval_boolop(I, S, n); break;
    case P_IFEXP: {
        pv *c = eval(I, S, n->b);
        bool t;
        if (c && truth(c, n->pos, &t))
            r = eval(I, S, t ? n->a : n->c);
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
        error_at(n->pos);
    return r;
}

/* ---- statements ---- */
static tg_status assign_attr(interp *I, scope *S, const pnode *target, pv *v)
{
    pv *x = eval(I, S, target->a), *r = NULL;
    tg_status st = x ? TG_OK : tg_errcode();
    if (st == TG_OK && x->kind == V_TENSOR && !strcmp(target->name, "requires_grad"))
        st = (r = set_requires_grad(x, v, target->pos)) ? TG_OK : tg_errcode();
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
        return scope_set(S, target->name, v);
    }
    if (target->kind == P_ATTR)
        return assign_attr(I, S, target, v);
    if (target->kind == P_TUPLE || target->kind == P_LIST) {
        tg_status st = TG_OK;
        if (v->kind != V_TUPLE && v->kind != V_LIST && v->kind != V_SIZE)
            st = tg_error_at(target->pos, TG_EINPUT, "cannot unpack a %s into %d names", type_name(v), target->nv);
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
    pv *x = eval(I, S, n->a->a), *y = x ? eval(I, S, n->b) : NULL, *r = NULL;
    if (y && x->kind != V_TENSOR)
        tg_error_at(n->a->pos, TG_EINPUT, "'%s' object has no attribute 'data'", type_name(x));
    else if (y) {
        bool old = tg_set_grad_enabled(false);
        r = update(I, S, x, n->op, y, n->pos);
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
    pv *x = eval(I, S, n->a), *y = x ? eval(I, S, n->b) : NULL, *r = NULL;
    if (y && x->kind == V_TENSOR)
        r = update(I, S, x, n->op, y, n->pos);
    else if (y)
        r = binary_op(n->op, x, y, n->pos);
    tg_status st = r ? TG_OK : tg_errcode();
    if (r && x->kind != V_TENSOR)
        st = scope_set(S, n->a->name, pv_ref(r));
    pv_unref(x);
    pv_unref(y);
    pv_unref(r);
    return st;
}

static tg_status exec_with(interp *I, scope *S, const pnode *n, pv **ret)
{
    pv *m = eval(I, S, n->a);
    if (!m)
        return tg_errcode();
    tg_status st;
    if (m->kind != V_GRADMODE)
        st = tg_error_at(n->a->pos, TG_EINPUT, "with: only torch.no_grad() and torch.enable_grad() are in the "
                         "subset (tgrad --no-grad evaluates an expression without gradients)");
    else {
        bool old = tg_set_grad_enabled(m->i != 0);
        st = exec_block(I, S, n->b, ret);
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
        pv *v = eval(I, S, n->kind == S_EXPR ? n->a : n->b);
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
        return scope_set(S, n->name, f);
    }
    case S_RETURN:
        if (S == &I->globals)
            return tg_error_at(n->pos, TG_EINPUT, "'return' outside function");
        *ret = n->a ? eval(I, S, n->a) : pv_new(V_NONE);
        return *ret ? TG_OK : tg_errcode();
    case S_IF: {
        pv *c = eval(I, S, n->a);
        bool t = false;
        tg_status st = c && truth(c, n->a->pos, &t) ? TG_OK : tg_errcode();
        pv_unref(c);
        if (st != TG_OK)
            return st;
        if (t)
            return exec_block(I, S, n->b, ret);
        return n->c ? (n->c->kind == S_IF ? exec_stmt(I, S, n->c, ret) : exec_block(I, S, n->c, ret)) : TG_OK;
    }
    case S_WITH: return exec_with(I, S, n, ret);
    case S_PASS: return TG_OK;
    default: return tg_error_at(n->pos, TG_EINPUT, "not a statement");
    }
}

static tg_status exec_block(interp *I, scope *S, const pnode *b, pv **ret)
{
    for (int k = 0; k < b->nv && !*ret; k++) {
        tg_status st = exec_stmt(I, S, b->v[k], ret);
        if (st != TG_OK) {
            error_at(b->v[k]->pos);
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
        const pv *v = G->vals[k];
        if (v->kind == V_TENSOR && !v->t->op && v->t->grad) {
            names[n] = G->names[k];
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
    tg_status st = prog ? scope_set(&I.globals, "torch", pv_named(V_MODULE, NULL, "torch")) : tg_errcode();
    bool grad_mode = tg_grad_enabled();
    /* as in PyTorch, tensors start on the CPU whatever TG_DEVICE or
     * --device say: the program moves them with .to(device) */
    tg_device device = tg_get_device();
    tg_set_device(TG_DEV_CPU);
    pv *ret = NULL;
    if (st == TG_OK)
        st = exec_block(&I, &I.globals, prog, &ret);
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
    scope_free(&I.globals);
    tg_buf_free(&printed);
    tg_program_free(I.arena);
    return st;
}
