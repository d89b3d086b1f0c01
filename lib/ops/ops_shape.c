/* ops_shape.c -- repeat (built from views, so its gradient sums the tiles
 * back) and linspace. */
#include "ops_nn.h"
#include <string.h>

/* Tensor.repeat: x gets leading size-1 dims up to nreps, then each dim i
 * with reps[i] > 1 becomes unsqueeze(i), expand to reps[i], reshape: one
 * dim at a time, so the rank never goes past nreps + 1 */
tg_tensor *tg_repeat(tg_tensor *x, int nreps, const int64_t *reps)
{
    if (!x)
        return NULL;
    if (nreps < x->ndim) {
        tg_error(TG_EINPUT, "repeat: the number of repeat dims (%d) cannot be smaller than the number "
                 "of dimensions of the tensor (%d)", nreps, x->ndim);
        tg_release(x);
        return NULL;
    }
    int64_t shape[TG_MAX_DIMS + 1] = {0}, numel;
    for (int i = 0; i < nreps; i++) {
        int64_t s = i < nreps - x->ndim ? 1 : x->shape[i - (nreps - x->ndim)];
        if (reps[i] < 0 || (s && reps[i] > INT64_MAX / s)) {
            tg_error(TG_EINPUT, reps[i] < 0 ? "repeat: repeats must be non-negative, got %lld"
                                            : "repeat: %lld repeats make a dimension too large",
                     (long long)reps[i]);
            tg_release(x);
            return NULL;
        }
        shape[i] = s * reps[i];
    }
    if (tg_shape_check(nreps, shape, &numel) != TG_OK) {
        tg_release(x);
        return NULL;
    }
    for (int i = 0; i < nreps; i++) /* the input's shape, with leading 1s */
        shape[i] = i < nreps - x->ndim ? 1 : x->shape[i - (nreps - x->ndim)];
    x = tg_reshape(x, nreps, shape);
    for (int i = 0; x && i < nreps; i++) {
        if (reps[i] == 1)
            continue;
        int64_t wide[TG_MAX_DIMS + 1];
        memcpy(wide, shape, i * sizeof *wide);
        wide[i] = reps[i];
        memcpy(wide + i + 1, shape + i, (nreps - i) * sizeof *wide);
        x = tg_expand(tg_unsqueeze(x, i), nreps + 1, wide);
        shape[i] *= reps[i];
        x = tg_reshape(x, nreps, shape);
    }
    return x;
}

/* PyTorch's kernel: step = (end - start) / (steps - 1) in the dtype; the
 * first half counts up from start, the second down from end */
#define LINSPACE(T)                                                            \
    do {                                                                       \
        T a = (T)start, b = (T)end, step = steps > 1 ? (b - a) / (T)(steps - 1) : 0; \
        T *o = tg_data(t);                                                     \
        for (int64_t i = 0; i < steps; i++)                                    \
            o[i] = steps == 1 ? a : i < steps / 2 ? a + step * (T)i : b - step * (T)(steps - i - 1); \
    } while (0)

tg_tensor *tg_linspace(double start, double end, int64_t steps, tg_dtype dt)
{
    if (steps < 0) {
        tg_error(TG_EINPUT, "linspace: number of steps must be non-negative, got %lld", (long long)steps);
        return NULL;
    }
    if (!tg_dtype_is_float(dt)) {
        tg_error(TG_EINPUT, "linspace: needs a float dtype");
        return NULL;
    }
    tg_tensor *t = tg_empty(dt, 1, &steps);
    if (t && dt == TG_FLOAT32)
        LINSPACE(float);
    else if (t)
        LINSPACE(double);
    return t;
}
