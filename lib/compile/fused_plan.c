/* fused_plan.c -- compiled evaluation's plan (fused.h): the probe, its
 * DAG turned into registers, scratch blocks by liveness, the plan kept on
 * the program for the next call, and its generated loop attached.
 *
 * The program runs once, eagerly, on a probe: the first block of its
 * variables, with create_graph on, so that the gradients come with graphs
 * of their own, and with tracing on (apply.c), so that what does not
 * require grad -- data, comparisons, the masks of backward formulas, ops on
 * constants -- is recorded too.  The forward graph and those gradient graphs together are
 * one DAG of elementwise ops over the variables; it is flattened into a
 * list of registers, each op's values a scratch block of TG_FUSE_BLOCK
 * elements (a register no later op reads gives its block to the next op). */
#include "fused.h"
#include "expr/expr.h"
#include <stdlib.h>
#include <string.h>

/* an op that maps elements (ops.def's kind): a register of the plan */
static bool elementwise(int op)
{
    return tg_ops[op].kind != TG_K_OTHER;
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
 * the outputs keep theirs to the end, when they are stored.  A block goes
 * only to values of the same size: a short block runs its whole chunks
 * and then its last one (compile.c), and element i of each register must
 * then have the same bytes of a block in both. */
static bool assign_slots(tg_fused *F)
{
    int n = F->n, *last = tg_malloc((size_t)n * 2 * sizeof *last), *free_at;
    if (!last) {
        tg_error_clear();
        return false;
    }
    free_at = last + n; /* slot -> the register that holds it */
    for (int i = 0; i < n; i++)
        last[i] = -1;
    for (int i = 0; i < n; i++)
        for (int k = 0; F->r[i].kind == R_OP && k < F->r[i].nin; k++)
            last[tg_fused_owner(F, F->r[i].in[k])] = i;
    last[tg_fused_owner(F, F->value_reg)] = n;
    for (int v = 0; v < F->nvars; v++)
        if (F->grad_reg[v] >= 0)
            last[tg_fused_owner(F, F->grad_reg[v])] = n;
    F->nslots = F->nouts = F->nstreams = 0;
    for (int i = 0; i < n; i++) {
        tg_reg *R = &F->r[i];
        if (R->kind == R_STREAM && R->stream >= F->nstreams)
            F->nstreams = R->stream + 1;
        if (R->kind != R_OP)
            continue;
        int slot = -1;
        for (int k = 0; k < F->nslots && slot < 0; k++)
            if (last[free_at[k]] < i && tg_dtype_size(F->r[free_at[k]].dtype) == tg_dtype_size(R->dtype))
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

/* What t sums element by element, as a new reference, or NULL: t is the
 * sum of one block-sized tensor (through reshapes, as tg_sum_to leaves
 * it), the sum of such sums (a parameter used more than once) or one
 * times a constant, whose summands are then added or multiplied here, in
 * the probe's graph (tracing is on).  A gradient that is a constant alone
 * (the sum of a broadcast one: the block's size) is not one: NULL. */
static tg_tensor *summand_of(tg_tensor *t, int64_t block, bool exact)
{
    while (t && t->op == &tg_ops[TG_OP_RESHAPE])
        t = t->in[0];
    if (t && t->op == &tg_ops[TG_OP_SUM] && t->numel == 1 && t->in[0]->numel == block)
        return tg_ref(t->in[0]);
    if (exact) /* no sum made otherwise than the eager path makes it */
        return NULL;
    if (t && t->op == &tg_ops[TG_OP_ADD] && t->numel == 1) {
        tg_tensor *a = summand_of(t->in[0], block, exact), *b = a ? summand_of(t->in[1], block, exact) : NULL;
        if (a && b && a->dtype == b->dtype)
            return tg_add(a, b);
        tg_release(a);
        tg_release(b);
    }
    /* a sum times a constant (w * b * x's gradient in w: b * sum(g * x)) */
    for (int k = 0; t && t->op == &tg_ops[TG_OP_MUL] && t->numel == 1 && k < 2; k++)
        if (!t->in[1 - k]->op) {
            tg_tensor *a = summand_of(t->in[k], block, exact);
            if (a && a->dtype == t->in[1 - k]->dtype)
                return tg_mul(a, tg_ref(t->in[1 - k]));
            tg_release(a);
        }
    return NULL;
}

/* Turns the probe's DAG into registers; false when it does not fuse.
 * streams[s] are the probe's full-block leaves (variables, upstream grad). */
static bool build(tg_fused *F, tg_tensor *value, tg_tensor **grads, int nvars, tg_tensor **streams,
                  int nstreams, int64_t block, bool exact)
{
    tg_tensor *roots[TG_FUSE_MAXVARS + 1], *summands[TG_FUSE_MAXVARS + 1] = {0};
    int nroots = 0;
    bool ok = true;
    summands[0] = summand_of(value, block, exact);
    F->sum_root = summands[0] != NULL;
    roots[nroots++] = F->sum_root ? summands[0] : value;
    for (int i = 0; i < nvars; i++) {
        /* a one-value variable's gradient sums the block's contributions
         * (broadcasting's backward): the summand is the output, summed as
         * a final sum is */
        bool one = grads[i] && grads[i]->numel == 1 && block > 1; /* (a block of one: every gradient is) */
        tg_tensor *sm = one ? summand_of(grads[i], block, exact) : NULL;
        ok = ok && !(one && !sm);
        F->grad_sum[i] = sm != NULL;
        summands[1 + i] = sm;
        roots[nroots++] = sm ? sm : grads[i];
    }
    tg_error_clear();
    tg_tensor **nodes = NULL;
    int n = 0;
    if (ok && collect(roots, nroots, &nodes, &n) != TG_OK) {
        tg_error_clear();
        ok = false;
    }
    ok = ok && (F->r = tg_calloc((size_t)(n ? n : 1), sizeof *F->r)) != NULL;
    for (int i = 0; i < n && ok; i++) {
        tg_tensor *t = nodes[i];
        tg_reg *R = &F->r[i];
        R->dtype = t->dtype;
        /* (a block of one element: the streams' values are its size) */
        R->scalar = t->numel == 1 && block > 1;
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
        } else if (!t->op && (t->numel == 1 || all_equal(t))) {
            /* a constant: a leaf (the probe traces every op, so what depends
             * on a stream is recorded, with its op) */
            R->kind = R_CONST;
            R->scalar = true;
            R->value = tg_item(t);
            R->ivalue = tg_get_i64(t, 0);
        } else if (!t->op) {
            ok = false; /* a full-size tensor that is not an input */
        } else if (elementwise((int)(t->op - tg_ops)) && uniform_inputs(F, nodes, i, t)) {
            /* an elementwise op of values that are the same everywhere (the
             * upstream gradient of a sum, 2 * it): the same everywhere too */
            R->kind = R_CONST;
            R->scalar = true;
            R->value = tg_get(t, 0);
            R->ivalue = tg_get_i64(t, 0);
        } else {
            int op = (int)(t->op - tg_ops);
            if (op == TG_OP_RESHAPE || op == TG_OP_CONTIGUOUS || op == TG_OP_EXPAND) {
                R->kind = R_ALIAS; /* the same values, in flat order */
                R->alias = find(nodes, i, t->in[0]);
                R->scalar = F->r[R->alias].scalar;
                ok = R->alias >= 0;
            } else if (R->scalar) {
                ok = false; /* reduced from the streams (a sum, mean, max inside the
                               program): it depends on every block, not on one */
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
                R->attrs = *t->attrs;
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
        F->nvars = nvars;
        F->value_reg = find(nodes, n, roots[0]);
        for (int i = 0; i < nvars; i++)
            F->grad_reg[i] = grads[i] ? find(nodes, n, roots[1 + i]) : -1;
        ok = assign_slots(F);
        if (ok)
            tg_fused_vm_build(F); /* else op by op */
    }
    tg_free(nodes);
    for (int i = 0; i <= nvars; i++)
        tg_release(summands[i]);
    return ok;
}

void tg_fused_plan_free(struct tg_fused_plan *pl)
{
    if (pl) {
        tg_fused_plan_free(pl->other);
        tg_free(pl->F.r);
        tg_free(pl->F.kernels);
        tg_free(pl->F.attrs);
        tg_free(pl->F.vm);
        tg_free(pl->F.vm_out);
        tg_free(pl->F.vm_streams);
        tg_free(pl->key);
        tg_free(pl->small);
        tg_free(pl);
    }
}

/* A plan's key is written (buf) or, on every later call, compared with
 * the kept one as it would be written (kept), which allocates nothing. */
typedef struct {
    tg_buf *buf;
    const char *kept;
    size_t keptlen, at;
    bool differs;
} key_sink;

/* (inlined: with n known, the comparison is a load or two, not a call
 * of memcmp; a small call repeated compares its key every time) */
static inline __attribute__((always_inline)) void key_add(key_sink *k, const void *p, size_t n)
{
    if (k->buf)
        tg_buf_add(k->buf, p, n);
    else if (!k->differs && n <= k->keptlen - k->at && !memcmp(k->kept + k->at, p, n))
        k->at += n;
    else
        k->differs = true;
}

static void key_tensor(key_sink *k, const tg_tensor *t, bool value)
{
    key_add(k, &t->dtype, sizeof t->dtype);
    key_add(k, &t->ndim, sizeof t->ndim);
    key_add(k, t->shape, (size_t)t->ndim * sizeof *t->shape);
    key_add(k, &t->requires_grad, sizeof t->requires_grad);
    if (value) /* a constant's value is folded into the plan */
        key_add(k, tg_data(t), tg_dtype_size(t->dtype));
}

/* everything of the call, other than the program, a plan depends on */
static void plan_key(key_sink *k, const tg_env *env, int nvars, const tg_grad_opts *o, const tg_tensor *gout,
                     int64_t n, bool exact)
{
    key_add(k, &nvars, sizeof nvars);
    key_add(k, &exact, sizeof exact);
    tg_device dev = tg_get_device(); /* the kernel kept with the plan is for one device */
    key_add(k, &dev, sizeof dev);
    key_add(k, &o->no_grad, sizeof o->no_grad);
    key_add(k, &(bool){gout != NULL}, sizeof(bool));
    if (gout)
        key_tensor(k, gout, false);
    for (int i = 0; i < nvars; i++) {
        const tg_tensor *v = env->values[i];
        key_add(k, env->names[i], strlen(env->names[i]) + 1);
        /* one value among full-size variables: the plan holds it as a
         * constant (where every variable has one value, n is 1 and each
         * is a stream) */
        key_tensor(k, v, v->numel != n);
    }
}

static bool key_matches(const struct tg_fused_plan *pl, const tg_env *env, int nvars, const tg_grad_opts *o,
                        const tg_tensor *gout, int64_t n, bool exact)
{
    if (!pl)
        return false;
    key_sink k = {NULL, pl->key, pl->keylen, 0, false};
    plan_key(&k, env, nvars, o, gout, n, exact);
    return !k.differs && k.at == k.keptlen;
}

/* Runs the program on the probe -- the first block of every full-size
 * variable, as leaves -- and turns what it recorded into registers. */
static tg_status make_plan(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor *gout,
                           int64_t n, bool exact, struct tg_fused_plan *pl)
{
    /* the probe sees each variable as one flat block: only a program that
     * means the same on any flat run of elements fuses (this is kept with
     * the plan: a later call with the same variables does not ask again) */
    pl->fusable = false;
    if (tg_program_calls(p, "rand") || !tg_program_elementwise(p))
        return TG_NO;
    /* the probe: the first block of every full-size variable, flat, or
     * where n is one block at most, the variables as they are (then the
     * probe's value has the result's shape) */
    const bool whole = n <= TG_FUSE_BLOCK;
    const int64_t B = whole ? n : TG_FUSE_BLOCK;
    tg_env penv = {0};
    tg_tensor *streams[TG_FUSE_MAXVARS + 1], *pv = NULL, *pg[TG_FUSE_MAXVARS] = {0};
    int nstreams = 0;
    int64_t minus1 = -1;
    tg_status st = TG_OK;
    for (int i = 0; i < nvars && st == TG_OK; i++) {
        tg_tensor *v = env->values[i];
        tg_tensor *leaf = v->numel == n && !whole
                              ? tg_detach(tg_slice(tg_reshape(tg_detach(tg_ref(v)), 1, &minus1), 0, 0, B, 1))
                              : tg_detach(tg_ref(v));
        if (!leaf) {
            st = tg_errcode();
            break;
        }
        tg_set_requires_grad(leaf, v->requires_grad); /* tracing records what the rest feed */
        if (v->numel == n)
            streams[nstreams++] = leaf;
        st = tg_env_set(&penv, env->names[i], leaf);
    }
    tg_grad_opts po = {.no_grad = o->no_grad, .create_graph = true, .retain_graph = true};
    if (st == TG_OK && gout) {
        po.grad_output = whole ? tg_detach(tg_ref(gout))
                               : tg_detach(tg_slice(tg_reshape(tg_detach(tg_ref(gout)), 1, &minus1), 0, 0, B, 1));
        streams[nstreams++] = po.grad_output;
    }
    tg_grad_opts po_call = po; /* tg_grad_eval consumes the upstream gradient; we keep ours */
    po_call.grad_output = tg_ref(po.grad_output);
    bool was_tracing = tg_set_trace(true); /* through build, which adds summands */
    if (st == TG_OK && !(pv = tg_grad_eval(p, &penv, nvars, &po_call, pg)))
        st = tg_errcode();
    else if (st != TG_OK)
        tg_release(po_call.grad_output);
    for (int i = 0; i < nvars && st == TG_OK; i++)
        if (!env->values[i]->requires_grad || o->no_grad) { /* only asked-for gradients */
            tg_release(pg[i]);
            pg[i] = NULL;
        }
    pl->fusable = st == TG_OK && build(&pl->F, pv, pg, nvars, streams, nstreams, B, exact) &&
                  (pl->F.sum_root || pv->numel == B);
    /* the sum of one value without dimensions is that value (-0 stays -0),
     * not a sum from 0: the eager path's */
    for (const tg_tensor *t = pv; pl->fusable && t && t->op; t = t->in[0])
        if (t->op == &tg_ops[TG_OP_SUM] && t->in[0]->ndim == 0)
            pl->fusable = false;
        else if (t->op != &tg_ops[TG_OP_RESHAPE])
            break;
    tg_set_trace(was_tracing);
    if (pl->fusable) {
        pl->out_dtype = pv->dtype;
        pl->out_ndim = whole ? pv->ndim : -1;
        if (whole)
            memcpy(pl->out_shape, pv->shape, (size_t)pv->ndim * sizeof *pv->shape);
    }
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

/* The program keeps two plans: the one used last (p->plan) and the one
 * before (its other), so that a program evaluated at two sizes in turn
 * keeps both.  pl, kept or new, goes in front. */
static void keep_first(tg_program *p, struct tg_fused_plan *pl)
{
    struct tg_fused_plan *head = p->plan;
    if (pl == head)
        return;
    if (head && head->other == pl) { /* the one before: the two change places */
        head->other = NULL;
        pl->other = head;
        p->plan = pl;
        return;
    }
    if (head) { /* a new one: the oldest goes */
        tg_fused_plan_free(head->other);
        head->other = NULL;
    }
    pl->other = head;
    p->plan = pl;
}

/* pl no longer kept (wherever it is) and freed */
static void drop(tg_program *p, struct tg_fused_plan *pl)
{
    if (p->plan == pl) {
        p->plan = pl->other;
        pl->other = NULL;
    } else if (p->plan && p->plan->other == pl) {
        p->plan->other = NULL;
    }
    tg_fused_plan_free(pl);
}

/* The plan for this call: a kept one when its key matches, else a new
 * one (kept).  With later, a new key is only kept (TG_NO); its plan is
 * made when the key comes again. */
tg_status tg_fused_plan_get(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor *gout, int64_t n,
                            bool exact, bool later, struct tg_fused_plan **out)
{
    struct tg_fused_plan *pl = p->plan;
    while (pl && !key_matches(pl, env, nvars, o, gout, n, exact))
        pl = pl->other;
    if (pl)
        keep_first(p, pl);
    if (pl && pl->made) {
        *out = pl;
        return pl->fusable ? TG_OK : TG_NO;
    }
    if (pl) /* seen once: made now, in its place */
        later = false;
    else {
        tg_buf k = {0};
        key_sink sink = {&k, NULL, 0, 0, false};
        plan_key(&sink, env, nvars, o, gout, n, exact);
        if (k.failed || !(pl = tg_calloc(1, sizeof *pl))) {
            tg_free(k.data);
            tg_error_clear();
            return tg_error(TG_ERESOURCE, "out of memory (compiled evaluation's plan)");
        }
        pl->key = k.data;
        pl->keylen = k.len;
    }
    if (later) {
        keep_first(p, pl);
        *out = pl;
        return TG_NO;
    }
    pl->made = true;
    tg_status st = make_plan(p, env, nvars, o, gout, n, exact, pl);
    if (st == TG_ERESOURCE) { /* out of memory now, not the program's doing: not kept */
        drop(p, pl);
        return st;
    }
    if (st != TG_OK) { /* the probe failed: the eager run will say why, if it is an error */
        tg_error_clear();
        st = TG_NO;
    }
    keep_first(p, pl);
    *out = pl;
    return st;
}

/* The plan's generated loop, compiled once (jit.c); without a compiler the
 * registers keep running through the eager kernels. */
void tg_fused_plan_jit(struct tg_fused_plan *pl, bool may_compile)
{
    if (pl->jit_tried || (!may_compile && pl->jit_looked))
        return;
    pl->jit_looked = true;
    pl->jit_tried = may_compile; /* a look in the cache leaves compiling to a later --compile call */
    tg_fused *F = &pl->F;
    if (F->n > TG_FUSE_MAX_JIT)
        return;
    if (!F->kernels)
        F->kernels = tg_calloc((size_t)F->n, sizeof *F->kernels);
    if (!F->attrs)
        F->attrs = tg_calloc((size_t)F->n, sizeof *F->attrs);
    size_t tmp = 0;
    char *src = F->kernels && F->attrs ? tg_fused_source(F, &tmp) : NULL;
    for (int i = 0; src && i < F->n; i++) {
        F->kernels[i] = F->r[i].kernel;
        F->attrs[i] = &F->r[i].attrs;
    }
    if (src && (F->jit = (tg_fused_fn)(may_compile ? tg_jit : tg_jit_lookup)(src, "tg_fused_block"))) {
        F->jit_tmp = tmp;
        pl->jit_tried = true;
    }
    tg_free(src);
    tg_error_clear(); /* without the loop, the kernels run the blocks */
}
