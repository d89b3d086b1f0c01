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

tg_tensor *tg_inplace(tg_tensor *target, tg_tensor *result)
{
    if (!target || !result)
        return fail2(target, result);
    char s1[256], s2[256];
    if (!target->op && target->requires_grad && tg_grad_enabled()) {
        tg_error(TG_EINPUT, "a leaf Variable that requires grad is being used in an in-place "
                 "operation: write the update out of place (y = x + 1) or under no_grad");
        return fail2(target, result);
    }
    if (result->ndim != target->ndim || memcmp(result->shape, target->shape, target->ndim * sizeof(int64_t))) {
        tg_error(TG_EINPUT, "in-place update: output with shape %s doesn't match the broadcast "
                 "shape %s", tg_shape_str(target, s1, sizeof s1), tg_shape_str(result, s2, sizeof s2));
        return fail2(target, result);
    }
    if (tg_dtype_promote(result->dtype, target->dtype) != target->dtype) {
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
    /* result now lives in target's storage */
    tg_storage *own = result->storage;
    result->storage = target->storage;
    tg_atomic_inc(&target->storage->refcount);
    result->offset = target->offset;
    memcpy(result->stride, target->stride, sizeof result->stride);
    result->saved_version[3] = target->storage->version;
    if (tg_atomic_dec(&own->refcount) == 0) {
        tg_free(own->data);
        tg_free(own);
    }
    tg_release(target);
    return result;
}
