/* train_fused.c -- the training loop's fused step: a loss made of
 * elementwise ops over the data, summed (sum(), mean()), with parameters
 * of one value each or of the data's size, evaluated in one pass over
 * the data per step.
 *
 * A step of such a program costs the eager path a tensor, a graph node
 * and a pass over memory per op, forward and backward, and the sums of the
 * gradients; the arithmetic is a few operations per element.  So before
 * the loop the program runs once, eagerly, building differentiable
 * gradients (create_graph) with tracing on, as compiled evaluation's probe
 * does (lib/compile/fused_plan.c): the value and the gradients are then one
 * graph of elementwise ops over the variables.  Each step walks that graph
 * over chunks of the data that stay in the first-level cache, every op
 * through its eager kernel, the one-value ops (the parameters' own, the
 * constants of the backward formulas) once per step, and feeds the sums as
 * they go (ops.h's tg_sum_stream, the eager sum's order).  The parameters
 * are leaves of the graph, read where the optimizer updates them in place;
 * the data are the variables' own memory.  So each step's numbers are the
 * eager path's bit for bit, without a tensor made or freed.
 *
 * What is not of that form -- matmul, shape ops, reductions inside the
 * program, broadcasting between variables, random numbers, mini-batches --
 * keeps the eager path (tg_train_fused_new returns NULL). */
#include "internal.h"
#include "train.h"
#include <string.h>

/* elements of a chunk: a multiple of the kernels' vector widths and of
 * TG_SUM_PIECE that divides TG_SUM_BLOCK and the elementwise loop's runs,
 * so each kernel sees the vector and scalar parts the eager one does */
#define CHUNK 1024
/* from this size the eager ops of math functions run on every core, which
 * this single-threaded loop does not */
#define MAX_ELEMENTS 65536

typedef enum { F_LEAF, F_OP, F_ALIAS, F_SUM } fkind;

typedef struct {
    tg_tensor *t;        /* the probe's node (the graph holds it) */
    fkind kind;
    bool full;           /* n values, or one (broadcast: stride 0) */
    bool late;           /* computed after the sums (depends on one) */
    int owner;           /* F_ALIAS: the node whose values these are */
    int in[3], nin;
    /* where input k's values for the chunk at c are: base[k] + c * step[k],
     * their stride stride[k] (set once the chunks are placed) */
    const char *base[3];
    int64_t step[3], stride[3];
    tg_kernel_fn kernel; /* F_OP */
    const char *data;    /* F_LEAF: the variable's values; F_OP full: its chunk */
    union {
        double f64;
        float f32;
        int64_t i64;
        bool b;
    } one;               /* a one-value op's or sum's value */
    tg_sum_stream sum;   /* F_SUM */
} fnode;

struct tg_train_fused {
    int nn;
    fnode *nodes;
    int64_t n;           /* elements of a full-size value */
    int value;           /* the loss's node */
    int nparams;
    tg_tensor **params;  /* borrowed */
    int *grad;           /* per parameter: its gradient's node, -1 none */
    tg_tensor **grads;   /* per parameter: the gradient tensor, written each step */
    tg_tensor **roots;   /* held: the probe's value and gradients (the graph) */
    int nroots;
    char *chunks;
};

void tg_train_fused_free(tg_train_fused *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->nroots; i++)
        tg_release(f->roots[i]);
    for (int k = 0; f->grads && k < f->nparams; k++)
        tg_release(f->grads[k]);
    tg_free(f->roots);
    tg_free(f->grads);
    tg_free(f->grad);
    tg_free(f->nodes);
    tg_free(f->chunks);
    tg_free(f);
}

/* ---- the graph ---- */

static int node_index(const tg_train_fused *f, const tg_tensor *t)
{
    for (int i = f->nn - 1; i >= 0; i--)
        if (f->nodes[i].t == t)
            return i;
    return -1;
}

/* every node of the roots' graphs, once, inputs before the ops that read them */
static bool collect_nodes(tg_train_fused *f)
{
    int cap = 0;
    for (int r = 0; r < f->nroots; r++) {
        tg_graph g;
        if (!f->roots[r] || tg_graph_collect(f->roots[r], &g) != TG_OK)
            return false;
        for (int i = 0; i < g.n; i++) {
            if (node_index(f, g.nodes[i]) >= 0)
                continue;
            if (f->nn == cap) {
                cap = cap ? 2 * cap : 32;
                fnode *nn = tg_realloc(f->nodes, (size_t)cap * sizeof *nn);
                if (!nn) {
                    tg_graph_free(&g);
                    return false;
                }
                f->nodes = nn;
            }
            f->nodes[f->nn++] = (fnode){.t = g.nodes[i], .owner = -1};
        }
        tg_graph_free(&g);
    }
    return true;
}

static bool is_variable(const tg_env *env, const tg_tensor *t)
{
    for (int i = 0; i < env->n; i++)
        if (env->values[i] == t)
            return true;
    return false;
}

/* Classifies node i, whose inputs are done; false when it is not of the form. */
static bool classify(tg_train_fused *f, const tg_env *env, int i)
{
    fnode *N = &f->nodes[i];
    tg_tensor *t = N->t;
    if (t->storage->device != TG_DEV_CPU || (t->numel != 1 && t->numel != f->n))
        return false;
    if (!t->op) { /* a variable's values (data, parameter), or a constant of one value */
        N->kind = F_LEAF;
        N->full = t->numel == f->n && t->numel > 1;
        N->data = tg_data(t);
        return tg_is_contiguous(t) && (t->numel == 1 || is_variable(env, t));
    }
    int op = (int)(t->op - tg_ops);
    if (t->nin < 1 || t->nin > 3)
        return false;
    N->nin = t->nin;
    for (int k = 0; k < t->nin; k++) {
        if ((N->in[k] = node_index(f, t->in[k])) < 0 || N->in[k] >= i)
            return false;
        N->late = N->late || f->nodes[N->in[k]].late;
    }
    const fnode *A = &f->nodes[N->in[0]];
    if (op == TG_OP_RESHAPE || op == TG_OP_EXPAND || op == TG_OP_CONTIGUOUS) {
        /* the same values in the same order (or one value, broadcast) */
        N->kind = F_ALIAS;
        N->owner = A->kind == F_ALIAS ? A->owner : N->in[0];
        N->full = A->full;
        return !A->full || t->numel == f->n;
    }
    if (op == TG_OP_SUM) { /* of all the values: a sum fed chunk by chunk */
        N->kind = F_SUM;
        N->late = true;
        return A->full && t->numel == 1 && tg_dtype_is_float(t->dtype) && t->dtype == A->t->dtype;
    }
    if (tg_ops[op].kind == TG_K_OTHER)
        return false;
    N->kind = F_OP;
    tg_dtype kdt = t->in[t->nin - 1]->dtype; /* as the eager op calls it (compiled evaluation's rule) */
    N->kernel = op == TG_OP_CAST ? tg_cpu_conv[kdt][t->dtype] : tg_cpu_kernels[op][kdt];
    for (int k = 0; k < t->nin; k++)
        N->full = N->full || f->nodes[N->in[k]].full;
    /* the data's values cannot wait for a sum over them */
    return N->kernel && !(N->full && N->late) && (N->full ? t->numel == f->n : true);
}

/* ---- a step ---- */

/* where node i's values for the chunk at c are, and their stride */
static const void *values_at(tg_train_fused *f, int i, int64_t c, int64_t *stride)
{
    fnode *N = &f->nodes[i];
    if (N->kind == F_ALIAS)
        N = &f->nodes[N->owner];
    *stride = N->full;
    if (N->kind == F_LEAF)
        return N->full ? N->data + c * (int64_t)tg_dtype_size(N->t->dtype) : N->data;
    return N->full ? (const void *)N->data : (const void *)&N->one;
}

/* the op's inputs located once: a leaf's chunk moves with c, an op's
 * chunk buffer and a one-value stay */
static void locate_inputs(tg_train_fused *f, fnode *N)
{
    for (int k = 0; k < N->nin; k++) {
        N->base[k] = values_at(f, N->in[k], 0, &N->stride[k]);
        const fnode *A = &f->nodes[N->in[k]];
        if (A->kind == F_ALIAS)
            A = &f->nodes[A->owner];
        N->step[k] = A->kind == F_LEAF && A->full ? (int64_t)tg_dtype_size(A->t->dtype) : 0;
    }
}

static void run_op(fnode *N, int64_t c, int64_t len)
{
    const void *in[3];
    for (int k = 0; k < N->nin; k++)
        in[k] = N->base[k] + c * N->step[k];
    N->kernel(len, N->full ? (void *)N->data : (void *)&N->one, in, N->stride, N->t->attrs);
}

/* one-value ops, before the chunks (!late) or after them */
static void run_ones(tg_train_fused *f, bool late)
{
    for (int i = 0; i < f->nn; i++)
        if (f->nodes[i].kind == F_OP && !f->nodes[i].full && f->nodes[i].late == late)
            run_op(&f->nodes[i], 0, 1);
}

/* len values into dst: written (the step's first pass), or added as the
 * eager accumulation of .grad adds them */
static void put_grad(void *dst, const void *src, int64_t stride, int64_t len, tg_dtype dt, bool first)
{
    for (int64_t j = 0; j < len; j++) {
        if (dt == TG_FLOAT32) {
            float v = ((const float *)src)[j * stride], *d = (float *)dst + j;
            *d = first ? v : *d + v;
        } else {
            double v = ((const double *)src)[j * stride], *d = (double *)dst + j;
            *d = first ? v : *d + v;
        }
    }
}

tg_status tg_train_fused_pass(tg_train_fused *f, bool first, double *loss, tg_dtype *dt)
{
    run_ones(f, false);
    for (int i = 0; i < f->nn; i++)
        if (f->nodes[i].kind == F_SUM)
            tg_sum_stream_init(&f->nodes[i].sum, f->nodes[i].t->dtype, f->n);
    for (int64_t c = 0; c < f->n && f->n > 1; c += CHUNK) {
        int64_t len = f->n - c < CHUNK ? f->n - c : CHUNK, st;
        for (int i = 0; i < f->nn; i++) {
            fnode *N = &f->nodes[i];
            if (N->kind == F_OP && N->full)
                run_op(N, c, len);
            else if (N->kind == F_SUM)
                tg_sum_stream_add(&N->sum, values_at(f, N->in[0], c, &st), len);
        }
        for (int k = 0; k < f->nparams; k++)
            if (f->grad[k] >= 0 && f->params[k]->numel > 1) {
                tg_tensor *g = f->grads[k];
                put_grad((char *)tg_data(g) + c * (int64_t)tg_dtype_size(g->dtype),
                         values_at(f, f->grad[k], c, &st), st, len, g->dtype, first);
            }
    }
    for (int i = 0; i < f->nn; i++) {
        fnode *N = &f->nodes[i];
        if (N->kind != F_SUM)
            continue;
        double s = tg_sum_stream_end(&N->sum);
        if (N->t->dtype == TG_FLOAT32)
            N->one.f32 = (float)s;
        else
            N->one.f64 = s;
    }
    run_ones(f, true);
    int64_t st;
    for (int k = 0; k < f->nparams; k++) {
        tg_tensor *p = f->params[k], *g = f->grads[k];
        if (f->grad[k] < 0)
            continue;
        if (p->numel == 1)
            put_grad(tg_data(g), values_at(f, f->grad[k], 0, &st), 0, 1, g->dtype, first);
        if (p->grad != g) {
            tg_release(p->grad);
            p->grad = tg_ref(g);
        }
    }
    const fnode *V = &f->nodes[f->value];
    const void *v = values_at(f, f->value, 0, &st);
    *dt = V->t->dtype;
    *loss = *dt == TG_FLOAT32 ? *(const float *)v : *(const double *)v;
    return TG_OK;
}

/* ---- making it ---- */

/* A copy of the variables' values and versions, to put back when the
 * probe wrote one in place (x += 1: each eager pass does, so the first
 * must find the values as they were) */
typedef struct {
    uint64_t *version;
    char **bytes;
    int n;
} snapshot;

static bool snapshot_take(snapshot *s, const tg_env *env)
{
    s->n = env->n;
    s->version = tg_calloc((size_t)env->n + 1, sizeof *s->version);
    s->bytes = tg_calloc((size_t)env->n + 1, sizeof *s->bytes);
    bool ok = s->version && s->bytes;
    for (int i = 0; ok && i < env->n; i++) {
        const tg_tensor *v = env->values[i];
        size_t len = (size_t)v->numel * tg_dtype_size(v->dtype); /* <= MAX_ELEMENTS: no overflow */
        s->version[i] = v->storage->version;
        ok = (s->bytes[i] = tg_malloc(len ? len : 1)) != NULL;
        if (ok)
            memcpy(s->bytes[i], tg_data(v), len);
    }
    return ok;
}

/* puts back what the probe wrote; false when it wrote anything */
static bool snapshot_restore(snapshot *s, const tg_env *env)
{
    bool same = true;
    for (int i = 0; s->bytes && i < s->n; i++) {
        tg_tensor *v = env->values[i];
        if (s->bytes[i] && v->storage->version != s->version[i]) {
            memcpy(tg_data(v), s->bytes[i], (size_t)v->numel * tg_dtype_size(v->dtype));
            same = false;
        }
        tg_free(s->bytes[i]);
    }
    tg_free(s->bytes);
    tg_free(s->version);
    return same;
}

/* The probe: the program once, eagerly, with differentiable gradients
 * and every op recorded; roots[0] the value, roots[1 + k] parameter k's
 * gradient.  A program that writes a variable in place is not of the
 * form. */
static bool probe(tg_train_fused *f, tg_program *p, const tg_env *env)
{
    tg_env e = {0};
    tg_tensor **g = tg_calloc((size_t)env->n + 1, sizeof *g);
    snapshot snap = {0};
    bool ok = g != NULL && snapshot_take(&snap, env);
    for (int i = 0; ok && i < env->n; i++)
        ok = tg_env_set(&e, env->names[i], tg_ref(env->values[i])) == TG_OK;
    tg_tensor *value = NULL;
    if (ok) {
        tg_grad_opts po = {.create_graph = true, .retain_graph = true};
        bool was_tracing = tg_set_trace(true);
        value = tg_grad_eval(p, &e, env->n, &po, g);
        tg_set_trace(was_tracing);
    }
    ok = snapshot_restore(&snap, env) && value && value->numel == 1 && tg_dtype_is_float(value->dtype) &&
         value->requires_grad;
    f->roots[f->nroots++] = value;
    for (int k = 0; k < f->nparams; k++) {
        int v = -1;
        for (int i = 0; i < env->n; i++)
            v = env->values[i] == f->params[k] ? i : v;
        tg_tensor *gk = g && v >= 0 ? g[v] : NULL;
        if (g && v >= 0)
            g[v] = NULL;
        /* a leaf gradient is the zeros of a parameter the loss does not
         * reach (the eager path leaves it without one) or a loss that is
         * the parameter: not of the form */
        ok = ok && gk && gk->op && gk->numel == f->params[k]->numel;
        f->roots[f->nroots++] = gk;
    }
    for (int i = 0; g && i < env->n; i++)
        tg_release(g[i]);
    tg_free(g);
    tg_env_free(&e);
    tg_error_clear();
    return ok;
}

/* the size of the data: the one size every variable has but 1 */
static int64_t data_size(const tg_env *env)
{
    int64_t n = 1;
    for (int i = 0; i < env->n; i++) {
        int64_t m = env->values[i]->numel;
        if (m != 1 && n != 1 && m != n)
            return -1;
        n = m != 1 ? m : n;
    }
    return n;
}

static bool build(tg_train_fused *f, tg_program *p, const tg_env *env)
{
    if (!probe(f, p, env) || !collect_nodes(f))
        return false;
    int nfull = 0;
    for (int i = 0; i < f->nn; i++) {
        if (!classify(f, env, i))
            return false;
        nfull += f->nodes[i].kind == F_OP && f->nodes[i].full;
    }
    f->value = node_index(f, f->roots[0]);
    for (int k = 0; k < f->nparams; k++) {
        f->grad[k] = node_index(f, f->roots[1 + k]);
        /* a parameter's gradient has its size (one value, or the data's)
         * and dtype */
        tg_tensor *pk = f->params[k];
        if (f->grad[k] < 0 || f->nodes[f->grad[k]].full != (pk->numel > 1) ||
            f->nodes[f->grad[k]].t->dtype != pk->dtype)
            return false;
        if (!(f->grads[k] = tg_empty(pk->dtype, pk->ndim, pk->shape)))
            return false;
    }
    if (f->value < 0 || f->nodes[f->value].full)
        return false;
    if (!(f->chunks = tg_malloc((size_t)(nfull ? nfull : 1) * CHUNK * 8)))
        return false;
    for (int i = 0, k = 0; i < f->nn; i++)
        if (f->nodes[i].kind == F_OP && f->nodes[i].full)
            f->nodes[i].data = f->chunks + (size_t)k++ * CHUNK * 8;
    for (int i = 0; i < f->nn; i++)
        if (f->nodes[i].kind == F_OP)
            locate_inputs(f, &f->nodes[i]);
    return true;
}

tg_train_fused *tg_train_fused_new(tg_program *p, const tg_env *env, tg_tensor *const *params, int nparams)
{
    int64_t n = data_size(env);
    /* random numbers would be drawn once; a variable off the CPU is the
     * eager path's */
    if (n < 0 || n > MAX_ELEMENTS || !nparams || tg_program_calls(p, "rand") || tg_program_calls(p, "dropout"))
        return NULL;
    for (int i = 0; i < env->n; i++)
        if (env->values[i]->storage->device != TG_DEV_CPU || !tg_is_contiguous(env->values[i]))
            return NULL;
    tg_train_fused *f = tg_calloc(1, sizeof *f);
    if (!f)
        return tg_error_clear(), NULL;
    f->n = n;
    f->nparams = nparams;
    f->params = (tg_tensor **)params;
    f->grad = tg_calloc((size_t)nparams, sizeof *f->grad);
    f->grads = tg_calloc((size_t)nparams, sizeof *f->grads);
    f->roots = tg_calloc((size_t)nparams + 1, sizeof *f->roots);
    if (!f->grad || !f->grads || !f->roots || !build(f, p, env)) {
        tg_train_fused_free(f);
        tg_error_clear(); /* the eager path runs it, and says what is wrong */
        return NULL;
    }
    return f;
}
