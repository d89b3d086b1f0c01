/* compile.c -- compiled (fused) evaluation, what torch.compile does for the
 * lesson's elementwise programs.
 *
 * The program runs once, eagerly, on a probe: the first block of its
 * variables, with create_graph on, so that the gradients come with graphs
 * of their own, and with tracing on (apply.c), so that what does not
 * require grad -- comparisons, the masks of backward formulas -- is
 * recorded too.  The forward graph and those gradient graphs together are
 * one DAG of elementwise ops over the variables; it is flattened into a list
 * of registers (fused.h), each op's values a scratch block of
 * TG_FUSE_BLOCK elements (a register no later op reads gives its block to
 * the next op).  That plan is kept on the program for the next call with
 * the same variables.
 *
 * Then every block of the variables goes through the whole list while it
 * is in cache, and the blocks run in parallel on every core: memory is read
 * and written once (the variables in, the value and gradients out, with
 * non-temporal stores), no intermediate ever has the full size.  A block
 * runs through the plan's generated loop (fused_codegen.c: every register
 * a local variable; compiled once, jit.c) or, without a C compiler, op by
 * op through the eager kernels, its inputs prefetched a block ahead.
 *
 * Either way each op computes the eager kernel's own expression, so values
 * and gradients are the same element for element; a final sum adds block
 * partials in block order (in double), so its last digit may differ from
 * the eager sum, and it never depends on the thread count.  A program of
 * another form (reductions other than a final sum, shape ops, broadcasting
 * between variables, rand) is reported as not
 * compilable, and the caller runs it eagerly; so is a program over tensors
 * on cuda (the same generated text, with CUDA's types, is what NVRTC would
 * compile there: a later version). */
#include "fused.h"
#include "expr.h"
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <immintrin.h>
#endif

#define TG_FUSE_RUN 32     /* consecutive blocks a thread takes at a time */

static bool elementwise(int op)
{
    return op == TG_OP_CAST || tg_cpu_kernels[op][TG_FLOAT32] || tg_cpu_kernels[op][TG_FLOAT64] ||
           tg_cpu_kernels[op][TG_BOOL];
}

static int find(tg_tensor **nodes, int n, const tg_tensor *t)
{
    for (int i = n - 1; i >= 0; i--)
        if (nodes[i] == t)
            return i;
    return -1;
}

/* Merges the graphs of several roots into one data-flow order. */
static tg_status collect(tg_tensor **roots, int nroots, tg_tensor ***out, int *n)
{
    tg_tensor **all = NULL;
    int cnt = 0, cap = 0;
    for (int r = 0; r < nroots; r++) {
        if (!roots[r])
            continue;
        tg_graph g;
        if (tg_graph_collect(roots[r], &g) != TG_OK) {
            tg_free(all);
            return tg_errcode();
        }
        for (int i = 0; i < g.n; i++) {
            if (find(all, cnt, g.nodes[i]) >= 0)
                continue;
            if (cnt == cap) {
                cap = cap ? cap * 2 : 64;
                tg_tensor **na = tg_realloc(all, (size_t)cap * sizeof *na);
                if (!na) {
                    tg_graph_free(&g);
                    tg_free(all);
                    return TG_ERESOURCE;
                }
                all = na;
            }
            all[cnt++] = g.nodes[i];
        }
        tg_graph_free(&g);
    }
    *out = all;
    *n = cnt;
    return TG_OK;
}

static bool all_equal(const tg_tensor *t)
{
    double v0 = tg_get(t, 0);
    for (int64_t i = 1; i < t->numel; i++)
        if (tg_get(t, i) != v0)
            return false;
    return v0 == v0;
}

/* Are all of node i's inputs registers of one value? */
static bool uniform_inputs(const tg_fused *F, tg_tensor **nodes, int i, const tg_tensor *t)
{
    for (int k = 0; k < t->nin; k++) {
        int j = find(nodes, i, t->in[k]);
        if (j < 0 || !F->r[j].scalar)
            return false;
    }
    return true;
}

int tg_fused_owner(const tg_fused *F, int i)
{
    while (F->r[i].kind == R_ALIAS)
        i = F->r[i].alias;
    return i;
}

/* Gives every op a scratch block, reusing the block of a register no later
 * op reads: the blocks in use at once, not the ops, set the working set,
 * which then stays in the first-level cache.  An op never writes the block
 * of one of its own inputs (the vectorised loops assume no overlap), and
 * the outputs keep theirs to the end, when they are stored. */
static bool assign_slots(tg_fused *F, int nvars)
{
    int n = F->n, *last = tg_malloc((size_t)n * 2 * sizeof *last), *free_at;
    if (!last) {
        tg_error_clear();
        return false;
    }
    free_at = last + n; /* slot -> register that holds it, or -1 */
    for (int i = 0; i < n; i++)
        last[i] = -1;
    for (int i = 0; i < n; i++)
        for (int k = 0; F->r[i].kind == R_OP && k < F->r[i].nin; k++)
            last[tg_fused_owner(F, F->r[i].in[k])] = i;
    last[tg_fused_owner(F, F->value_reg)] = n;
    for (int v = 0; v < nvars; v++)
        if (F->grad_reg[v] >= 0)
            last[tg_fused_owner(F, F->grad_reg[v])] = n;
    F->nslots = F->nouts = 0;
    for (int i = 0; i < n; i++) {
        tg_reg *R = &F->r[i];
        if (R->kind != R_OP)
            continue;
        int slot = -1;
        for (int k = 0; k < F->nslots && slot < 0; k++)
            if (free_at[k] < 0 || last[free_at[k]] < i)
                slot = k;
        if (slot < 0)
            slot = F->nslots++;
        R->slot = slot;
        free_at[slot] = i;
        if (last[i] == n) /* an output's values: the generated loop writes them out */
            F->outs[F->nouts++] = i;
    }
    tg_free(last);
    return true;
}

/* Turns the probe's DAG into registers; false when it does not fuse.
 * streams[s] are the probe's full-block leaves (variables, upstream grad). */
static bool build(tg_fused *F, tg_tensor *value, tg_tensor **grads, int nvars, tg_tensor **streams,
                  int nstreams, int64_t block)
{
    F->sum_root = value->op == &tg_ops[TG_OP_SUM] && value->attrs.reduce.all;
    tg_tensor *roots[257];
    int nroots = 0;
    roots[nroots++] = F->sum_root ? value->in[0] : value;
    for (int i = 0; i < nvars; i++)
        roots[nroots++] = grads[i];
    tg_tensor **nodes = NULL;
    int n = 0;
    if (collect(roots, nroots, &nodes, &n) != TG_OK) {
        tg_error_clear();
        return false;
    }
    bool ok = (F->r = tg_calloc((size_t)(n ? n : 1), sizeof *F->r)) != NULL;
    for (int i = 0; i < n && ok; i++) {
        tg_tensor *t = nodes[i];
        tg_reg *R = &F->r[i];
        R->dtype = t->dtype;
        R->scalar = t->numel == 1;
        bool full = t->numel == block;
        if (!R->scalar && !full) {
            ok = false;
            break;
        }
        int s = -1;
        for (int k = 0; k < nstreams; k++)
            if (streams[k] == t)
                s = k;
        if (s >= 0) {
            R->kind = R_STREAM;
            R->stream = s;
        } else if (R->scalar || (!t->op && all_equal(t))) {
            /* a constant, or a value computed from constants only (every
             * input stream was made to require grad in the probe, so what
             * depends on one is recorded): the probe's */
            R->kind = R_CONST;
            R->scalar = true;
            R->value = tg_item(t);
        } else if (!t->op) {
            ok = false; /* a full-size tensor that is not an input */
        } else if (elementwise((int)(t->op - tg_ops)) && uniform_inputs(F, nodes, i, t)) {
            /* an elementwise op of values that are the same everywhere (the
             * upstream gradient of a sum, 2 * it): the same everywhere too */
            R->kind = R_CONST;
            R->scalar = true;
            R->value = tg_get(t, 0);
        } else {
            int op = (int)(t->op - tg_ops);
            if (op == TG_OP_RESHAPE || op == TG_OP_CONTIGUOUS || op == TG_OP_EXPAND) {
                R->kind = R_ALIAS; /* the same values, in flat order */
                R->alias = find(nodes, i, t->in[0]);
                R->scalar = F->r[R->alias].scalar;
                ok = R->alias >= 0;
            } else if (op == TG_OP_WHERE && find(nodes, i, t->in[0]) >= 0 &&
                       F->r[find(nodes, i, t->in[0])].kind == R_CONST) {
                /* where(constant, a, b) is a or b: pow's backward has one */
                const tg_reg *c = &F->r[find(nodes, i, t->in[0])];
                R->kind = R_ALIAS;
                R->alias = find(nodes, i, t->in[c->value != 0 ? 1 : 2]);
                ok = R->alias >= 0 && F->r[R->alias].dtype == R->dtype && !F->r[R->alias].scalar;
                if (ok)
                    R->scalar = false;
            } else if (elementwise(op)) {
                R->kind = R_OP;
                R->op = op;
                R->nin = t->nin;
                R->kdtype = t->in[t->nin - 1]->dtype;
                R->attrs = t->attrs;
                for (int k = 0; k < t->nin && ok; k++)
                    ok = (R->in[k] = find(nodes, i, t->in[k])) >= 0;
                R->kernel = op == TG_OP_CAST ? tg_cpu_conv[R->kdtype][R->dtype] : tg_cpu_kernels[op][R->kdtype];
                ok = ok && R->kernel;
            } else
                ok = false;
        }
    }
    if (ok) {
        F->n = n;
        F->value_reg = find(nodes, n, roots[0]);
        for (int i = 0; i < nvars; i++)
            F->grad_reg[i] = grads[i] ? find(nodes, n, grads[i]) : -1;
        ok = assign_slots(F, nvars);
    }
    tg_free(nodes);
    return ok;
}

typedef struct {
    const void *data; /* stream data (element 0) */
    size_t esz;
} stream;

/* A thread's scratch: the op blocks, then per register a constant's value,
 * its values' address and stride. */
typedef struct {
    char *blocks;
    double *consts;
    const void **ptr;
    int64_t *stride;
} scratch;

/* Runs the registers over elements [start, start + len): through the
 * generated loop when there is one, else op by op through the eager
 * kernels; either way each register's values are then at ptr[i] (stride 0
 * for one value). */
static void run_block(const tg_fused *F, const stream *S, int nstreams, const scratch *W, int64_t start, int64_t len)
{
    const void **ptr = W->ptr;
    int64_t *stride = W->stride;
    if (F->jit) {
        const void *in[TG_FUSE_MAXVARS + 1];
        void *out[TG_FUSE_MAXVARS + 1];
        for (int s = 0; s < nstreams; s++)
            in[s] = (const char *)S[s].data + start * (int64_t)S[s].esz;
        for (int k = 0; k < F->nouts; k++)
            out[k] = W->blocks + (size_t)F->r[F->outs[k]].slot * TG_FUSE_BLOCK * 8;
        F->jit(len, in, out, F->kernels, F->attrs);
    }
    for (int i = 0; i < F->n; i++) {
        const tg_reg *R = &F->r[i];
        char *mine = R->kind == R_OP ? W->blocks + (size_t)R->slot * TG_FUSE_BLOCK * 8 : (char *)&W->consts[i];
        switch (R->kind) {
        case R_STREAM:
            ptr[i] = (const char *)S[R->stream].data + start * (int64_t)S[R->stream].esz;
            stride[i] = 1;
            break;
        case R_CONST:
            if (R->dtype == TG_FLOAT32) *(float *)mine = (float)R->value;
            else if (R->dtype == TG_FLOAT64) *(double *)mine = R->value;
            else if (R->dtype == TG_INT64) *(int64_t *)mine = (int64_t)R->value;
            else *(bool *)mine = R->value != 0;
            ptr[i] = mine;
            stride[i] = 0;
            break;
        case R_ALIAS:
            ptr[i] = ptr[R->alias];
            stride[i] = stride[R->alias];
            break;
        default:
            if (!F->jit) {
                const void *in[3];
                int64_t st[3];
                for (int k = 0; k < R->nin; k++) {
                    in[k] = ptr[R->in[k]];
                    st[k] = stride[R->in[k]];
                }
                R->kernel(len, mine, in, st, &R->attrs);
            }
            ptr[i] = mine;
            stride[i] = 1;
        }
    }
}

/* Copies n bytes to d with non-temporal stores where the processor has
 * them: an output is written once and not read again here, so it goes to
 * memory without first being read into the cache (which an ordinary store
 * does), a third less memory traffic for a value or gradient. */
static void stream_copy(char *d, const char *src, size_t n)
{
#ifdef __SSE2__
    size_t i = 0;
    if (((uintptr_t)d & 15) == 0) {
        for (; i + 64 <= n; i += 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + i)), b = _mm_loadu_si128((const __m128i *)(src + i + 16)),
                    c = _mm_loadu_si128((const __m128i *)(src + i + 32)), e = _mm_loadu_si128((const __m128i *)(src + i + 48));
            _mm_stream_si128((__m128i *)(d + i), a);
            _mm_stream_si128((__m128i *)(d + i + 16), b);
            _mm_stream_si128((__m128i *)(d + i + 32), c);
            _mm_stream_si128((__m128i *)(d + i + 48), e);
        }
    }
    memcpy(d + i, src + i, n - i);
#else
    memcpy(d, src, n);
#endif
}

static void store(tg_tensor *dst, int64_t start, int64_t len, const void *src, int64_t stride)
{
    size_t sz = tg_dtype_size(dst->dtype);
    char *d = (char *)tg_data(dst) + start * (int64_t)sz;
    if (stride)
        stream_copy(d, src, (size_t)len * sz);
    else if (sz == 4)
        for (int64_t i = 0; i < len; i++) /* one value everywhere: a fill */
            ((float *)d)[i] = *(const float *)src;
    else if (sz == 8)
        for (int64_t i = 0; i < len; i++)
            ((double *)d)[i] = *(const double *)src;
    else
        for (int64_t i = 0; i < len; i++)
            memcpy(d + i * (int64_t)sz, src, sz);
}

/* a block's sum in double, in the whole-tensor sum's fixed order */
static double block_sum(const void *p, int64_t stride, int64_t len, tg_dtype dt)
{
    if (stride == 0)
        return (dt == TG_FLOAT32 ? *(const float *)p : *(const double *)p) * (double)len;
    return tg_cpu_sum_run(p, len, dt);
}

typedef struct {
    const tg_fused *F;
    const stream *S;
    int nstreams;
    double *partial;
    tg_tensor *out, **grads;
    int nvars;
    int64_t n;
    scratch *work; /* per thread */
    int64_t nblocks;
} block_job;

/* Asks for the next block's inputs while this one computes: the hardware
 * prefetchers alone fall behind when the reads come in bursts between
 * stretches of arithmetic, and the first op then waits on memory. */
static void prefetch_block(const block_job *J, int64_t start)
{
#ifdef __SSE2__
    int64_t len = J->n - start < TG_FUSE_BLOCK ? J->n - start : TG_FUSE_BLOCK;
    for (int s = 0; s < J->nstreams && len > 0; s++) {
        const char *p = (const char *)J->S[s].data + start * (int64_t)J->S[s].esz;
        for (int64_t o = 0; o < len * (int64_t)J->S[s].esz; o += 64)
            _mm_prefetch(p + o, _MM_HINT_T0);
    }
#else
    (void)J;
    (void)start;
#endif
}

/* one block through all the registers; its sum or its values, and the
 * gradients, go to the outputs */
static void run_one_block(int64_t b, void *ctx, int tid)
{
    const block_job *J = ctx;
    const tg_fused *F = J->F;
    const scratch *W = &J->work[tid];
    int64_t start = b * TG_FUSE_BLOCK, len = J->n - start < TG_FUSE_BLOCK ? J->n - start : TG_FUSE_BLOCK;
    if (!F->jit) /* the generated loop asks for its inputs itself */
        prefetch_block(J, start + TG_FUSE_BLOCK);
    run_block(F, J->S, J->nstreams, W, start, len);
    int vi = F->value_reg;
    if (F->sum_root)
        J->partial[b] = block_sum(W->ptr[vi], W->stride[vi], len, F->r[vi].dtype);
    else
        store(J->out, start, len, W->ptr[vi], W->stride[vi]);
    for (int i = 0; i < J->nvars; i++) {
        int gi = F->grad_reg[i];
        if (gi >= 0)
            store(J->grads[i], start, len, W->ptr[gi], W->stride[gi]);
    }
}

/* A thread takes TG_FUSE_RUN consecutive blocks at a time: its reads and
 * writes then run through memory in order, which the hardware prefetchers
 * follow, instead of hopping over the other threads' blocks. */
static void run_blocks(int64_t item, void *ctx, int tid)
{
    const block_job *J = ctx;
    for (int64_t b = item * TG_FUSE_RUN; b < J->nblocks && b < (item + 1) * TG_FUSE_RUN; b++)
        run_one_block(b, ctx, tid);
#ifdef __SSE2__
    _mm_sfence(); /* the non-temporal stores are done before the pool hears this item is */
#endif
}

/* ---- the plan: what the probe found, kept on the program for the next
 * call with variables of the same names, dtypes, shapes and constants */
struct tg_fused_plan {
    char *key;
    size_t keylen;
    bool fusable;       /* false: the program does not fuse (TG_NO, cached too) */
    bool jit_tried;
    tg_fused F;
    tg_dtype out_dtype;
};

void tg_fused_plan_free(struct tg_fused_plan *pl)
{
    if (pl) {
        tg_free(pl->F.r);
        tg_free(pl->F.kernels);
        tg_free(pl->F.attrs);
        tg_free(pl->key);
        tg_free(pl);
    }
}

typedef struct {
    char *b;
    size_t n, cap;
    bool failed;
} keybuf;

static void key_add(keybuf *k, const void *p, size_t n)
{
    if (k->failed)
        return;
    if (k->n + n > k->cap) {
        size_t cap = (k->cap ? k->cap * 2 : 256) + n;
        char *b = tg_realloc(k->b, cap);
        if (!b) {
            k->failed = true;
            return;
        }
        k->b = b;
        k->cap = cap;
    }
    memcpy(k->b + k->n, p, n);
    k->n += n;
}

static void key_tensor(keybuf *k, const tg_tensor *t, bool value)
{
    key_add(k, &t->dtype, sizeof t->dtype);
    key_add(k, &t->ndim, sizeof t->ndim);
    key_add(k, t->shape, (size_t)t->ndim * sizeof *t->shape);
    key_add(k, &t->requires_grad, sizeof t->requires_grad);
    if (value) /* a constant's value is folded into the plan */
        key_add(k, tg_data(t), tg_dtype_size(t->dtype));
}

/* everything of the call, other than the program, a plan depends on */
static bool plan_key(keybuf *k, const tg_env *env, int nvars, const tg_grad_opts *o, const tg_tensor *gout)
{
    key_add(k, &nvars, sizeof nvars);
    key_add(k, &o->no_grad, sizeof o->no_grad);
    key_add(k, &(bool){gout != NULL}, sizeof(bool));
    if (gout)
        key_tensor(k, gout, false);
    for (int i = 0; i < nvars; i++) {
        const tg_tensor *v = env->values[i];
        key_add(k, env->names[i], strlen(env->names[i]) + 1);
        key_tensor(k, v, v->numel == 1); /* one value: the plan holds it as a constant */
    }
    if (k->failed)
        tg_error_clear();
    return !k->failed;
}

/* Runs the program on the probe -- the first block of every full-size
 * variable, as leaves -- and turns what it recorded into registers. */
static tg_status make_plan(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor *gout,
                           int64_t n, struct tg_fused_plan *pl)
{
    const int64_t B = TG_FUSE_BLOCK;
    tg_env penv = {0};
    tg_tensor *streams[TG_FUSE_MAXVARS + 1], *pv = NULL, *pg[TG_FUSE_MAXVARS] = {0};
    int nstreams = 0;
    int64_t minus1 = -1;
    tg_status st = TG_OK;
    for (int i = 0; i < nvars && st == TG_OK; i++) {
        tg_tensor *v = env->values[i];
        tg_tensor *leaf = v->numel == n ? tg_detach(tg_slice(tg_reshape(tg_detach(tg_ref(v)), 1, &minus1), 0, 0, B, 1))
                                        : tg_detach(tg_ref(v));
        if (!leaf) {
            st = tg_errcode();
            break;
        }
        /* streams require grad in the probe so that all they feed is recorded */
        tg_set_requires_grad(leaf, v->requires_grad || v->numel == n);
        if (v->numel == n)
            streams[nstreams++] = leaf;
        st = tg_env_set(&penv, env->names[i], leaf);
    }
    tg_grad_opts po = {.no_grad = o->no_grad, .create_graph = true, .retain_graph = true};
    if (st == TG_OK && gout) {
        po.grad_output = tg_detach(tg_slice(tg_reshape(tg_detach(tg_ref(gout)), 1, &minus1), 0, 0, B, 1));
        if (po.grad_output)
            tg_set_requires_grad(po.grad_output, true);
        streams[nstreams++] = po.grad_output;
    }
    tg_grad_opts po_call = po; /* tg_grad_eval consumes the upstream gradient; we keep ours */
    po_call.grad_output = tg_ref(po.grad_output);
    bool was_tracing = tg_set_trace(true);
    if (st == TG_OK && !(pv = tg_grad_eval(p, &penv, nvars, &po_call, pg)))
        st = tg_errcode();
    else if (st != TG_OK)
        tg_release(po_call.grad_output);
    tg_set_trace(was_tracing);
    for (int i = 0; i < nvars && st == TG_OK; i++)
        if (!env->values[i]->requires_grad || o->no_grad) { /* only asked-for gradients */
            tg_release(pg[i]);
            pg[i] = NULL;
        }
    pl->fusable = st == TG_OK && build(&pl->F, pv, pg, nvars, streams, nstreams, B) &&
                  (pl->F.sum_root || pv->numel == B);
    if (pl->fusable)
        pl->out_dtype = pv->dtype;
    tg_release(pv);
    for (int i = 0; i < nvars; i++)
        tg_release(pg[i]);
    tg_env_free(&penv);
    tg_release(po.grad_output);
    if (st == TG_OK && !pl->fusable)
        st = TG_NO;
    if (st == TG_NO)
        tg_error_clear();
    return st;
}

/* The plan for this call: the program's kept one when its key matches,
 * else a new one (kept in its place). */
static tg_status get_plan(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor *gout, int64_t n,
                          struct tg_fused_plan **out)
{
    keybuf k = {0};
    if (!plan_key(&k, env, nvars, o, gout)) {
        tg_free(k.b);
        return tg_error(TG_ERESOURCE, "out of memory (compiled evaluation's plan)");
    }
    struct tg_fused_plan *pl = p->plan;
    if (pl && pl->keylen == k.n && !memcmp(pl->key, k.b, k.n)) {
        tg_free(k.b);
        *out = pl;
        return pl->fusable ? TG_OK : TG_NO;
    }
    if (!(pl = tg_calloc(1, sizeof *pl))) {
        tg_free(k.b);
        return TG_ERESOURCE;
    }
    pl->key = k.b;
    pl->keylen = k.n;
    tg_status st = make_plan(p, env, nvars, o, gout, n, pl);
    if (st != TG_OK && st != TG_NO) { /* an error of this call's, not the program's: not kept */
        tg_fused_plan_free(pl);
        return st;
    }
    tg_fused_plan_free(p->plan);
    p->plan = pl;
    *out = pl;
    return st;
}

/* The plan's generated loop, compiled once (jit.c); without a compiler the
 * registers keep running through the eager kernels. */
static void attach_jit(struct tg_fused_plan *pl)
{
    if (pl->jit_tried)
        return;
    pl->jit_tried = true;
    tg_fused *F = &pl->F;
    F->kernels = tg_calloc((size_t)F->n, sizeof *F->kernels);
    F->attrs = tg_calloc((size_t)F->n, sizeof *F->attrs);
    char *src = F->kernels && F->attrs ? tg_fused_source(F) : NULL;
    for (int i = 0; src && i < F->n; i++) {
        F->kernels[i] = F->r[i].kernel;
        F->attrs[i] = &F->r[i].attrs;
    }
    if (src)
        F->jit = (tg_fused_fn)tg_jit(src, "tg_fused_block", false);
    tg_free(src);
    tg_error_clear(); /* without the loop, the kernels run the blocks */
}

tg_status tg_compiled_eval(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor **value,
                           tg_tensor **grads)
{
    *value = NULL;
    for (int i = 0; i < nvars; i++)
        grads[i] = NULL;
    tg_tensor *gout = o->grad_output;
    tg_status st = TG_OK;
    int64_t n = -1;
    if (nvars > TG_FUSE_MAXVARS || tg_program_calls(p, "rand"))
        st = TG_NO;
    for (int i = 0; i < nvars && st == TG_OK; i++) {
        tg_tensor *v = env->values[i];
        if (v->storage->device != TG_DEV_CPU)
            st = TG_NO; /* the fused loops are the CPU's: on cuda the eager kernels run */
        if (v->numel == 1 && !v->requires_grad)
            continue; /* a constant */
        if (!tg_dtype_is_float(v->dtype) || (n >= 0 && v->numel != n) || !tg_is_contiguous(v))
            st = TG_NO;
        n = v->numel;
    }
    if (st == TG_OK && (n < 4 * TG_FUSE_BLOCK || (gout && (gout->numel != n || !tg_is_contiguous(gout)))))
        st = TG_NO;
    struct tg_fused_plan *pl = NULL;
    if (st == TG_OK)
        st = get_plan(p, env, nvars, o, gout, n, &pl);
    if (st != TG_OK) {
        tg_release(gout);
        return st;
    }
    attach_jit(pl);
    const tg_fused *F = &pl->F;

    /* the inputs, in the probe's order: full-size variables, then the upstream gradient */
    stream S[TG_FUSE_MAXVARS + 1];
    int nstreams = 0;
    const tg_tensor *shaped = NULL;
    for (int i = 0; i < nvars; i++)
        if (env->values[i]->numel == n) {
            shaped = env->values[i];
            S[nstreams++] = (stream){tg_data(shaped), tg_dtype_size(shaped->dtype)};
        }
    if (gout)
        S[nstreams++] = (stream){tg_data(gout), tg_dtype_size(gout->dtype)};

    /* the outputs */
    const int64_t B = TG_FUSE_BLOCK;
    int64_t nblocks = (n + B - 1) / B;
    tg_tensor *out = F->sum_root ? tg_empty(pl->out_dtype, 0, NULL) : tg_empty(pl->out_dtype, shaped->ndim, shaped->shape);
    double *partial = F->sum_root ? tg_calloc((size_t)nblocks, sizeof *partial) : NULL;
    if (!out || (F->sum_root && !partial))
        st = TG_ERESOURCE;
    for (int i = 0; i < nvars && st == TG_OK; i++)
        if (F->grad_reg[i] >= 0 &&
            !(grads[i] = tg_empty(env->values[i]->dtype, env->values[i]->ndim, env->values[i]->shape)))
            st = TG_ERESOURCE;
    if (st == TG_OK) {
        /* scratch per thread: the op blocks, then the per-register parts */
        int nt = tg_threads();
        size_t blocks = (size_t)F->nslots * TG_FUSE_BLOCK * 8;
        size_t per_reg = sizeof(double) + sizeof(void *) + sizeof(int64_t);
        scratch *work = tg_calloc((size_t)nt, sizeof *work);
        bool nomem = !work;
        for (int t = 0; work && t < nt && !nomem; t++) {
            char *m = tg_malloc(blocks + (size_t)F->n * per_reg);
            nomem = !m;
            if (m)
                work[t] = (scratch){m, (double *)(m + blocks), (const void **)(m + blocks + (size_t)F->n * sizeof(double)),
                                    (int64_t *)(m + blocks + (size_t)F->n * (sizeof(double) + sizeof(void *)))};
        }
        if (nomem) {
            tg_error_clear();
            st = tg_error(TG_ERESOURCE, "out of memory (compiled evaluation's registers)");
        } else {
            block_job J = {F, S, nstreams, partial, out, grads, nvars, n, work, nblocks};
            tg_parallel_for((nblocks + TG_FUSE_RUN - 1) / TG_FUSE_RUN, run_blocks, &J);
        }
        for (int t = 0; work && t < nt; t++)
            tg_free(work[t].blocks);
        tg_free(work);
    }
    if (st == TG_OK && F->sum_root) {
        double s = 0;
        for (int64_t b = 0; b < nblocks; b++)
            s += partial[b];
        if (out->dtype == TG_FLOAT32)
            *(float *)tg_data(out) = (float)s;
        else
            *(double *)tg_data(out) = s;
    }
    tg_free(partial);
    tg_release(gout);
    if (st != TG_OK) {
        tg_release(out);
        for (int i = 0; i < nvars; i++) {
            tg_release(grads[i]);
            grads[i] = NULL;
        }
        return st;
    }
    *value = out;
    return TG_OK;
}
