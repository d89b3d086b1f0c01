/* inplace.c -- x += y and friends, with PyTorch's two safety rules: a leaf
 * that requires grad cannot be changed in place, and a value the backward
 * still needs must not have changed (checked there by the version counter
 * that this file bumps). */
#include "internal.h"
#include <string.h>

static tg_tensor *fail2(tg_tensor *a, tg_tensor *b)
{
    tg_release(a);
    tg_release(b);
    return NULL;
}

/* t (an op's fresh result) gives up its own storage and lives in home's,
 * where its values were just written */
static void live_in(tg_tensor *t, const tg_tensor *home)
{
    tg_storage *own = t->storage;
    tg_share_storage(t, home);
    memcpy(t->stride, home->stride, sizeof t->stride);
    t->tape.saved_version[3] = (uint32_t)home->storage->version;
    tg_storage_release(own);
}

tg_tensor *tg_inplace(tg_tensor *target, tg_tensor *result)
{
    if (!target || !result)
        return fail2(target, result);
    char s1[256], s2[256];
    for (int d = 0; d < target->ndim; d++)
        if (target->shape[d] > 1 && target->stride[d] == 0) { /* an expand()ed tensor */
            tg_error(TG_EINPUT, "unsupported operation: more than one element of the written-to tensor "
                     "refers to a single memory location; clone() the tensor before the in-place update");
            return fail2(target, result);
        }
    bool tracked = target->requires_grad && tg_grad_enabled();
    if (tracked && !target->op) {
        tg_error(TG_EINPUT, "a leaf Variable that requires grad is being used in an in-place "
                 "operation: write the update out of place into a new name (y = x + 1), or under --no-grad");
        return fail2(target, result);
    }
    if (tracked && (target->op->flags & TG_F_VIEW)) {
        const tg_tensor *base = target;
        while (base->op && (base->op->flags & TG_F_VIEW))
            base = base->in[0];
        tg_error(TG_EINPUT, base->op ? "in-place update of a view (an index, slice or transpose): "
                 "not supported with autograd; write the update out of place" :
                 "a view of a leaf Variable that requires grad is being used in an in-place operation");
        return fail2(target, result);
    }
    if (tracked && target->storage->grad_views > 0) {
        /* a view of it would keep a graph that no longer matches its values */
        tg_error(TG_EINPUT, "in-place update of a tensor that a view shares memory with: not "
                 "supported with autograd; write the update out of place");
        return fail2(target, result);
    }
    if (result->ndim != target->ndim || memcmp(result->shape, target->shape, target->ndim * sizeof(int64_t))) {
        tg_error(TG_EINPUT, "in-place update: output with shape %s doesn't match the broadcast "
                 "shape %s", tg_shape_str(target, s1, sizeof s1), tg_shape_str(result, s2, sizeof s2));
        return fail2(target, result);
    }
    /* torch.can_cast: within a category or down to a lower precision is
     * fine (float64 into float32); float into int or int into bool is not */
    if (tg_dtype_category(result->dtype) > tg_dtype_category(target->dtype)) {
        tg_error(TG_EINPUT, "in-place update: result type %s can't be cast to the desired output "
                 "type %s", tg_dtype_name(result->dtype), tg_dtype_name(target->dtype));
        return fail2(target, result);
    }
    result = tg_cast(result, target->dtype);
    if (!result)
        return fail2(target, NULL);
    /* write result's values into target's storage (target may be a view) */
    bool old = tg_set_grad_enabled(false);
    tg_tensor *src = tg_contiguous(tg_ref(result));
    tg_set_grad_enabled(old);
    if (!src)
        return fail2(target, result);
    size_t sz = tg_dtype_size(target->dtype);
    char *dst = tg_data(target);
    const char *sp = tg_data(src);
    for (int64_t i = 0; i < target->numel; i++) {
        int64_t off = 0, r = i;
        for (int d = target->ndim - 1; d >= 0; d--) {
            off += (r % target->shape[d]) * target->stride[d];
            r /= target->shape[d];
        }
        memcpy(dst + off * (int64_t)sz, sp + i * (int64_t)sz, sz);
    }
    tg_release(src);
    target->storage->version++;
    live_in(result, target);
    tg_release(target);
    return result;
}

/* Writes src's values (contiguous, same shape) into the view dst's memory. */
static void write_into(tg_tensor *dst, const tg_tensor *src)
{
    size_t sz = tg_dtype_size(dst->dtype);
    char *d = tg_data(dst);
    const char *sp = tg_data(src);
    for (int64_t i = 0; i < dst->numel; i++) {
        int64_t off = 0, r = i;
        for (int k = dst->ndim - 1; k >= 0; k--) {
            off += (r % dst->shape[k]) * dst->stride[k];
            r /= dst->shape[k];
        }
        memcpy(d + off * (int64_t)sz, sp + i * (int64_t)sz, sz);
    }
}

/* The inverse of one view op for a gradient-carrying tensor of its shape:
 * a slice goes back into zeros of its input's shape, a permute is undone,
 * a reshape reshapes back. */
static tg_tensor *unview(const tg_tensor *v, tg_tensor *d)
{
    const tg_tensor *in = v->in[0];
    if (v->op == &tg_ops[TG_OP_SLICE]) {
        tg_attrs a = *v->attrs;
        a.shape.ndim = in->ndim;
        memcpy(a.shape.shape, in->shape, sizeof a.shape.shape);
        return tg_apply(TG_OP_SLICE_BACKWARD, 1, &d, &a);
    }
    if (v->op == &tg_ops[TG_OP_PERMUTE]) {
        int inv[TG_MAX_DIMS];
        for (int k = 0; k < v->attrs->perm.ndim; k++)
            inv[v->attrs->perm.perm[k]] = k;
        return tg_permute(d, inv);
    }
    if (v->op == &tg_ops[TG_OP_RESHAPE])
        return tg_reshape(d, in->ndim, in->shape);
    tg_release(d);
    tg_error(TG_EINPUT, "in-place update of an expanded view: not supported (PyTorch refuses it too)");
    return NULL;
}

/* x[...] += y where x is an intermediate: PyTorch's CopySlices.  The base
 * becomes base + scatter(result - view), which has the right gradient for
 * both; its values are the exact ones, written into the shared memory. */
tg_tensor *tg_inplace_view(tg_tensor *view, tg_tensor *result, tg_tensor **base_out, tg_tensor **new_base)
{
    *base_out = *new_base = NULL;
    if (!view || !result)
        return fail2(view, result);
    const tg_tensor *chain[TG_MAX_DIMS * 4];
    int depth = 0;
    tg_tensor *base = view;
    while (base->op && (base->op->flags & TG_F_VIEW) && depth < (int)(sizeof chain / sizeof *chain)) {
        chain[depth++] = base;
        base = base->in[0];
    }
    char s1[256], s2[256];
    if (!base->op && base->requires_grad) {
        tg_error(TG_EINPUT, "a view of a leaf Variable that requires grad is being used in an in-place operation");
        return fail2(view, result);
    }
    if (base->op && (base->op->flags & TG_F_VIEW)) {
        tg_error(TG_EINPUT, "in-place update: the chain of views is too long");
        return fail2(view, result);
    }
    if (result->ndim != view->ndim || memcmp(result->shape, view->shape, view->ndim * sizeof(int64_t))) {
        tg_error(TG_EINPUT, "in-place update: output with shape %s doesn't match the broadcast shape %s",
                 tg_shape_str(view, s1, sizeof s1), tg_shape_str(result, s2, sizeof s2));
        return fail2(view, result);
    }
    if (tg_dtype_category(result->dtype) > tg_dtype_category(view->dtype)) {
        tg_error(TG_EINPUT, "in-place update: result type %s can't be cast to %s",
                 tg_dtype_name(result->dtype), tg_dtype_name(view->dtype));
        return fail2(view, result);
    }
    result = tg_cast(result, view->dtype);
    /* the graph: base + unview(result - view), from the view back to the base */
    tg_tensor *d = tg_sub(tg_ref(result), tg_ref(view));
    for (int k = 0; k < depth && d; k++)
        d = unview(chain[k], d);
    tg_tensor *nb = d ? tg_add(tg_ref(base), d) : NULL;
    bool old = tg_set_grad_enabled(false);
    tg_tensor *src = result ? tg_contiguous(tg_ref(result)) : NULL;
    tg_set_grad_enabled(old);
    if (!nb || !src) {
        tg_release(nb);
        tg_release(src);
        return fail2(view, result);
    }
    /* the values: exactly result's, in the memory the base and view share */
    write_into(view, src);
    tg_release(src);
    base->storage->version++;
    live_in(nb, base);
    /* the view again, now of the updated base */
    tg_tensor *nv = tg_ref(nb);
    for (int k = depth - 1; k >= 0 && nv; k--) {
        tg_tensor *arg = nv;
        nv = tg_apply((int)(chain[k]->op - tg_ops), 1, &arg, chain[k]->attrs);
    }
    tg_release(result);
    if (!nv) {
        tg_release(nb);
        tg_release(view);
        return NULL;
    }
    *base_out = base; /* borrowed: the caller still holds it through view */
    *new_base = nb;
    tg_release(view);
    return nv;
}
