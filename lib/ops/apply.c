/* apply.c -- running one op: type promotion, shape rule, forward, and
 * recording the node for autograd.  Every op goes through tg_apply. */
#include "internal.h"
#include <string.h>

/* PyTorch's result_type: dimensioned tensors outrank 0-D tensors, which
 * outrank wrapped Python numbers, unless the weaker tier is of a higher
 * category (bool < integer < floating).  -1 stands for "none yet". */
static int category(int dt) { return dt < 0 ? -1 : dt == TG_BOOL ? 0 : dt == TG_INT64 ? 1 : 2; }

static int promote_skip_none(int a, int b)
{
    if (a < 0) return b;
    if (b < 0) return a;
    return (int)tg_dtype_promote((tg_dtype)a, (tg_dtype)b);
}

static int combine_categories(int higher, int lower)
{
    if (category(higher) == 2)
        return higher;
    if (higher == TG_BOOL || category(lower) == 2)
        return promote_skip_none(higher, lower);
    return higher >= 0 ? higher : lower;
}

static tg_dtype result_type(int n, tg_tensor **in)
{
    /* the tiers in scalars, not an array the loop stores into and reads
     * back: it is on every op's path */
    int dims = -1, zero_d = -1, numbers = -1;
    for (int i = 0; i < n; i++) {
        tg_tensor *t = in[i];
        int dt = t->dtype;
        if (t->wrapped_number) /* a Python float takes the default dtype */
            numbers = promote_skip_none(numbers, dt == TG_FLOAT64 ? (int)tg_default_float : dt);
        else if (t->ndim == 0)
            zero_d = promote_skip_none(zero_d, dt);
        else
            dims = promote_skip_none(dims, dt);
    }
    int r = combine_categories(dims, combine_categories(zero_d, numbers));
    return r < 0 ? tg_default_float : (tg_dtype)r;
}

static void release_all(int n, tg_tensor **in)
{
    for (int i = 0; i < n; i++)
        tg_release(in[i]);
}

static bool differentiable(const tg_tensor *t) { return tg_dtype_is_float(t->dtype); }

/* The node keeps its own copy of the op's attributes, unless there are none
 * (all zero): then the shared tg_no_attrs, which costs the node nothing. */
static tg_status keep_attrs(tg_tensor *out, const tg_attrs *attrs)
{
    if (!attrs || !memcmp(attrs, &tg_no_attrs, sizeof *attrs))
        return TG_OK;
    tg_attrs *copy = tg_malloc(sizeof *copy);
    if (!copy)
        return TG_ERESOURCE;
    *copy = *attrs;
    out->attrs = copy;
    return TG_OK;
}

/* In-place writes bump the storage's version; a node remembers the versions
 * of what its backward reads, as PyTorch's saved variables do. */
static void record_versions(tg_tensor *out)
{
    for (int i = 0; i < out->nin; i++) /* an input whose memory went to out has none */
        out->tape.saved_version[i] = out->in[i]->storage ? (uint32_t)out->in[i]->storage->version : 0;
    out->tape.saved_version[3] = (uint32_t)out->storage->version;
}

/* vmap's rule for broadcasting: a batched operand's dims after the batch
 * dim are one point's, so it is aligned to the other operands' rank by
 * inserting size-1 dims after dim 0, not before it. */

static tg_status align_batched(int n, tg_tensor **args)
{
    if (!tg_mode.vmap)
        return TG_OK;
    int target = 0;
    bool any = false;
    for (int i = 0; i < n; i++) {
        int r = args[i]->ndim - (args[i]->batched ? 1 : 0);
        target = r > target ? r : target;
        any = any || args[i]->batched;
    }
    if (!any)
        return TG_OK;
    for (int i = 0; i < n; i++) {
        tg_tensor *a = args[i];
        int r = a->ndim - (a->batched ? 1 : 0);
        if (!a->batched || r == target)
            continue;
        int64_t shape[TG_MAX_DIMS];
        shape[0] = a->shape[0];
        for (int d = 1; d <= target - r; d++)
            shape[d] = 1;
        for (int d = 1; d < a->ndim; d++)
            shape[target - r + d] = a->shape[d];
        args[i] = tg_reshape(a, target + 1, shape);
        if (!args[i])
            return tg_errcode();
    }
    return TG_OK;
}

static int64_t max_work = TG_MAX_WORK;
int64_t tg_set_max_work(int64_t elements)
{
    int64_t old = max_work;
    max_work = elements > 0 ? elements : TG_MAX_WORK;
    return old;
}

int64_t tg_get_max_work(void) { return max_work; }

/* TG_OK, or the limit's error: "WHAT would DOING N elements ..." */
static tg_status within_work(const char *what, const char *doing, const tg_tensor *t)
{
    if (t->numel <= max_work)
        return TG_OK;
    char s[256];
    return tg_error(TG_EINPUT, "%s would %s %lld elements (shape %s), more than one operation may "
                    "(%lld): an expand()ed tensor is larger than memory; reduce before expanding",
                    what, doing, (long long)t->numel, tg_shape_str(t, s, sizeof s), (long long)max_work);
}

tg_status tg_check_write_size(const tg_tensor *t) { return within_work("the output", "write", t); }

/* Refuses an op that would read or write more elements than the limit
 * (views read nothing) */
static tg_status check_work(const tg_opdef *def, int n, tg_tensor **args, const tg_tensor *out)
{
    if (def->flags & TG_F_VIEW)
        return TG_OK;
    const tg_tensor *big = out;
    for (int i = 0; i < n; i++)
        if (args[i]->numel > big->numel)
            big = args[i];
    return within_work(def->name, big == out ? "write" : "read", big);
}


/* what the node out of def would read of each input (TG_S_IN0...) and of
 * itself (TG_S_OUT): the values the gradients to be computed need */
static unsigned saved_needs(const tg_opdef *def, int n, tg_tensor **args)
{
    unsigned need = 0;
    for (int i = 0; i < n; i++)
        if (args[i]->requires_grad)
            need |= TG_SAVES_FOR(def->saves, i);
    return need;
}

/* Lets an intermediate's storage go when only the graph holds it and no
 * backward reads its values (the nodes keep it for the graph's structure:
 * shape, dtype, its own inputs).  Views are left alone: their memory is
 * another tensor's. */
static void drop_unsaved_values(tg_tensor *t)
{
    if (!tg_mode.free_unsaved || !t->op || (t->op->flags & TG_F_VIEW) || t->tape.grad_view || !t->storage ||
        t->tape.data_needed > 0 || __atomic_load_n(&t->refcount, __ATOMIC_ACQUIRE) != t->tape.graph_refs)
        return;
    tg_storage_release(t->storage);
    t->storage = NULL;
}

/* Records what the new node out holds and reads: each input is held; an
 * input (or out itself) whose values a gradient to be computed reads is
 * needed. */
static void record_uses(tg_tensor *out)
{
    unsigned need = saved_needs(out->op, out->nin, out->in);
    if (need & TG_S_OUT)
        out->tape.data_needed++;
    for (int i = 0; i < out->nin; i++) {
        out->in[i]->tape.graph_refs++;
        if (need & (1u << i))
            out->in[i]->tape.data_needed++;
    }
    for (int i = 0; i < out->nin; i++)
        drop_unsaved_values(out->in[i]);
}


/* one value broadcast: every dimension of size 1 or stride 0 */
static bool uniform(const tg_tensor *t)
{
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] != 1 && t->stride[d] != 0)
            return false;
    return true;
}

/* In a backward pass building no graph, gradients are often one value
 * broadcast (the gradient of a sum, and what neg, 2*g or g + h make of it).
 * An elementwise op on such inputs computes its one value and returns it
 * expanded: neg(g) over a million elements costs one element.  Only there:
 * results a user sees are fresh tensors that in-place updates may write.
 * Returns false when the inputs are not all uniform (nothing done); else
 * *result is the expanded result, or NULL with the error set. */
static bool apply_uniform(int op, int n, tg_tensor **args, const tg_attrs *attrs, const tg_tensor *shaped,
                          tg_tensor **result)
{
    const tg_opdef *def = &tg_ops[op];
    if (!tg_mode.in_backward || tg_mode.grad || def->forward != op_fwd_map || shaped->numel <= 1)
        return false;
    for (int i = 0; i < n; i++)
        if (!uniform(args[i]))
            return false;
    tg_tensor *one[3] = {0}, *out = tg_new_meta(shaped->dtype, 0, NULL);
    bool ok = out && tg_alloc_storage(out) == TG_OK;
    for (int i = 0; i < n && ok; i++) { /* each input's one element, as a 0-d view */
        ok = (one[i] = tg_new_meta(args[i]->dtype, 0, NULL)) != NULL;
        if (ok)
            tg_share_storage(one[i], args[i]);
    }
    ok = ok && def->forward(op, one, attrs, out) == TG_OK;
    release_all(n, one);
    if (!ok) {
        tg_release(out);
        out = NULL;
    }
    *result = out ? tg_expand(out, shaped->ndim, shaped->shape) : NULL;
    return true;
}

/* whether t's memory is exactly its values, laid out as out's are */
static bool same_layout(const tg_tensor *t, const tg_tensor *out)
{
    return t->dtype == out->dtype && t->ndim == out->ndim && t->storage && t->offset == 0 &&
           t->storage->device == TG_DEV_CPU && !memcmp(t->shape, out->shape, out->ndim * sizeof *out->shape) &&
           t->storage->nbytes == (size_t)out->numel * tg_dtype_size(out->dtype) && tg_is_contiguous(t);
}

/* An elementwise op may write its result over an operand whose values
 * nobody reads again: a temporary only this call holds, or (in
 * free_unsaved mode) an intermediate only the graph holds whose values no
 * backward reads, the new node included.  Its memory becomes the result's,
 * and a chain of elementwise ops over large tensors needs one buffer, not
 * one per op (peak memory, and no page faults on fresh blocks).  Returns
 * the operand's index, or -1. */
static int memory_donor(const tg_opdef *def, int n, tg_tensor **args, const tg_tensor *out, bool node)
{
    if (def->forward != op_fwd_map || tg_mode.tracing || tg_anomaly_enabled() || (node && !tg_mode.free_unsaved))
        return -1;
    unsigned need = node ? saved_needs(def, n, args) : 0;
    for (int i = 0; i < n; i++) {
        const tg_tensor *a = args[i];
        int refs = __atomic_load_n(&a->refcount, __ATOMIC_ACQUIRE);
        if (!same_layout(a, out) || a->storage->refcount != 1 || a->storage->grad_views || a->tape.grad_view)
            continue;
        if (!node && refs == 1 && a->tape.graph_refs == 0)
            return i;
        /* a leaf that needs a gradient keeps its values: the user's variable */
        if (node && !(need & (1u << i)) && refs == a->tape.graph_refs + 1 && a->tape.data_needed == 0 &&
            (a->op || !a->requires_grad))
            return i;
    }
    return -1;
}

/* PyTorch lets a 0-d cpu tensor that needs no gradient (a number) take part
 * in an op on cuda: here it is copied over.  Anything else is returned as
 * it is (and a mix of devices is refused by the caller). */
static tg_tensor *number_to_device(tg_tensor *t)
{
    if (t->ndim != 0 || t->requires_grad || t->storage->device != TG_DEV_CPU)
        return t;
    tg_device old = tg_get_device();
    tg_set_device(TG_DEV_CUDA);
    tg_tensor *c = tg_empty(t->dtype, 0, NULL);
    tg_set_device(old);
    if (!c) {
        tg_error_clear(); /* the mix is reported instead */
        return t;
    }
    memcpy(tg_data(c), tg_data(t), tg_dtype_size(t->dtype));
    c->wrapped_number = t->wrapped_number;
    tg_release(t);
    return c;
}

/* PyTorch refuses subtraction with any bool operand (a bool number too),
 * with these words */
static bool refuse_bool_sub(tg_tensor **args)
{
    bool a = args[0]->dtype == TG_BOOL, b = args[1]->dtype == TG_BOOL;
    if (a && b)
        tg_error(TG_EINPUT, "Subtraction, the `-` operator, with two bool tensors is not "
                 "supported. Use the `^` or `logical_xor()` operator instead.");
    else if (a || b)
        tg_error(TG_EINPUT, "Subtraction, the `-` operator, with a bool tensor is not supported. "
                 "If you are trying to invert a mask, use the `~` or `logical_not()` operator "
                 "instead.");
    return a || b;
}

tg_tensor *tg_apply(int op, int n, tg_tensor **in, const tg_attrs *attrs)
{
    const tg_opdef *def = &tg_ops[op];
    tg_tensor *args[3] = {0};
    bool ok = n == def->arity;
    for (int i = 0; i < n && i < 3; i++) {
        args[i] = in[i];
        ok = ok && in[i];
    }
    if (!ok) {
        if (n != def->arity)
            tg_error(TG_EINPUT, "%s takes %d argument%s, %d given", def->name, def->arity,
                     def->arity == 1 ? "" : "s", n);
        release_all(n < 3 ? n : 3, args);
        return NULL;
    }
    bool on_cuda = false;
    for (int i = 0; i < n; i++)
        on_cuda = on_cuda || args[i]->storage->device == TG_DEV_CUDA;
    for (int i = 0; i < n && on_cuda; i++) /* a number on the cpu may join an op on cuda */
        args[i] = number_to_device(args[i]);
    for (int i = 1; i < n; i++)
        if (args[i]->storage->device != args[0]->storage->device) {
            tg_error(TG_EINPUT, "%s: expected all tensors to be on the same device, but found "
                     "%s and %s", def->name, tg_device_name(args[0]->storage->device),
                     tg_device_name(args[i]->storage->device));
            release_all(n, args);
            return NULL;
        }

    if (op == TG_OP_SUB && refuse_bool_sub(args)) {
        release_all(n, args);
        return NULL;
    }
    /* type promotion: cast inputs (a differentiable op) to the common dtype */
    int first = (def->flags & TG_F_COND) ? 1 : 0;
    if (def->flags & TG_F_COND && args[0]->dtype != TG_BOOL) {
        tg_error(TG_EINPUT, "%s: the condition must be a bool tensor, got %s", def->name,
                 tg_dtype_name(args[0]->dtype));
        release_all(n, args);
        return NULL;
    }
    if (def->flags & (TG_F_PROMOTE | TG_F_FLOAT)) {
        tg_dtype dt = (def->flags & TG_F_PROMOTE) ? result_type(n - first, args + first) : args[0]->dtype;
        if ((def->flags & TG_F_FLOAT) && !tg_dtype_is_float(dt))
            dt = tg_default_float;
        for (int i = first; i < n; i++)
            if (args[i]->dtype != dt) {
                bool number = args[i]->wrapped_number;
                args[i] = tg_cast(args[i], dt);
                if (!args[i]) {
                    release_all(n, args);
                    return NULL;
                }
                /* still a Python number to the node: 2 - x is PyTorch's
                 * rsub (its grad_fn name, torch_repr.c) */
                args[i]->wrapped_number = number;
            }
    }

    if (n > 1 && !(def->flags & TG_F_VIEW) && align_batched(n, args) != TG_OK) {
        release_all(n, args);
        return NULL;
    }
    tg_tensor *out = tg_new_meta(args[n - 1]->dtype, args[0]->ndim, args[0]->shape);
    if (!out || def->infer(args, attrs, out) != TG_OK || check_work(def, n, args, out) != TG_OK) {
        tg_release(out);
        release_all(n, args);
        return NULL;
    }
    tg_tensor *expanded;
    if (apply_uniform(op, n, args, attrs, out, &expanded)) {
        if (expanded)
            tg_anomaly_check(def->name, expanded, n, args);
        tg_release(out);
        release_all(n, args);
        return expanded;
    }
    bool needs_grad = false;
    if (tg_grad_enabled() && !(def->flags & TG_F_NODIFF) && differentiable(out))
        for (int i = 0; i < n; i++)
            needs_grad = needs_grad || args[i]->requires_grad;
    int donor = memory_donor(def, n, args, out, needs_grad);
    if (donor >= 0) {
        tg_share_storage(out, args[donor]);
        tg_set_contiguous_strides(out);
    } else if (!(def->flags & TG_F_VIEW) && tg_alloc_storage(out) != TG_OK) {
        tg_release(out);
        release_all(n, args);
        return NULL;
    }
    if (def->forward(op, args, attrs, out) != TG_OK) {
        tg_release(out);
        release_all(n, args);
        return NULL;
    }
    if (donor >= 0) { /* its values are out's now */
        tg_storage_release(args[donor]->storage);
        args[donor]->storage = NULL;
    }

    tg_anomaly_check(def->name, out, n, args);
    for (int i = 0; i < n; i++)
        out->batched = out->batched || args[i]->batched;
    if (!needs_grad && tg_mode.tracing) {
        /* recorded, not differentiated: the backward never visits a node
         * that does not require grad, the trace reader (fused_plan.c) sees
         * it -- ops on constants too, so that a value computed from the
         * probe's shape (a sum of a broadcast one) shows as the op it is */
        if (keep_attrs(out, attrs) != TG_OK) {
            tg_release(out);
            release_all(n, args);
            return NULL;
        }
        out->op = def;
        out->nin = n;
        memcpy(out->in, args, n * sizeof *args);
        return out;
    }
    if (!needs_grad) {
        release_all(n, args);
        return out;
    }
    if (keep_attrs(out, attrs) != TG_OK) {
        tg_release(out);
        release_all(n, args);
        return NULL;
    }
    out->requires_grad = true;
    out->op = def;
    if (def->flags & TG_F_VIEW) {
        out->tape.grad_view = true;
        out->storage->grad_views++;
    }
    out->nin = n;
    memcpy(out->in, args, n * sizeof *args);
    record_versions(out);
    record_uses(out);
    return out;
}

int tg_op_find(const char *name)
{
    for (int i = 0; i < TG_NOPS; i++)
        if (!strcmp(tg_ops[i].name, name))
            return i;
    return -1;
}

/* ---- shape rules shared by several families ---- */
tg_status op_infer_same(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)in, (void)a, (void)out; /* tg_apply starts out as input 0's shape and dtype */
    return TG_OK;
}

tg_status tg_infer_broadcast(tg_tensor **in, int n, tg_tensor *out)
{
    int nd = in[0]->ndim;
    int64_t shape[TG_MAX_DIMS];
    memcpy(shape, in[0]->shape, nd * sizeof *shape);
    for (int i = 1; i < n; i++)
        if (tg_broadcast_shapes(nd, shape, in[i]->ndim, in[i]->shape, &nd, shape) != TG_OK)
            return TG_EINPUT;
    out->ndim = nd;
    memcpy(out->shape, shape, nd * sizeof *shape);
    return tg_shape_check(nd, shape, &out->numel);
}
