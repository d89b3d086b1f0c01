/* argext.c -- the index of the largest (smallest) element along a dim:
 * argmax, argmin, and the indices of max(dim=)/min(dim=)'s (values,
 * indices) pair.  PyTorch's choice: the first extremal element, a NaN
 * counting as the extreme (so the first NaN when there is one).  An index
 * carries no gradient. */
#include "internal.h"
#include <math.h>
#include <string.h>

/* does v beat the best so far (NaN beats everything, and stays) */
static bool beats_f(double v, double best, bool is_max)
{
    if (isnan(best))
        return false;
    return isnan(v) || (is_max ? v > best : v < best);
}

static bool beats_i(int64_t v, int64_t best, bool is_max) { return is_max ? v > best : v < best; }

/* the index along the middle dim of x viewed as [outer, len, inner] */
static void scan(const tg_tensor *x, int64_t outer, int64_t len, int64_t inner, bool is_max, int64_t *out)
{
    bool ints = !tg_dtype_is_float(x->dtype);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t at = o * len * inner + i, best = 0;
            double bf = ints ? 0 : tg_get(x, at);
            int64_t bi = ints ? tg_get_i64(x, at) : 0;
            for (int64_t k = 1; k < len; k++) {
                int64_t e = at + k * inner;
                if (ints ? beats_i(tg_get_i64(x, e), bi, is_max) : beats_f(tg_get(x, e), bf, is_max)) {
                    best = k;
                    if (ints)
                        bi = tg_get_i64(x, e);
                    else
                        bf = tg_get(x, e);
                }
            }
            out[o * inner + i] = best;
        }
}

tg_tensor *tg_arg_extremum(const tg_tensor *x, const int64_t *dim, bool keepdim, bool is_max)
{
    const char *name = is_max ? "argmax" : "argmin";
    int64_t shape[TG_MAX_DIMS], outer = 1, len, inner = 1;
    int nd = 0, d = 0;
    if (!dim) { /* over every element, as if flattened: a 0-D index */
        if (x->numel == 0) {
            tg_error(TG_EINPUT, "%s(): Expected reduction dim to be specified for input.numel() == 0.", name);
            return NULL;
        }
        len = x->numel;
        for (int i = 0; keepdim && i < x->ndim; i++)
            shape[nd++] = 1;
    } else {
        tg_status st;
        d = (int)tg_norm_dim(*dim, x->ndim, name, &st);
        if (st != TG_OK)
            return NULL;
        len = x->ndim ? x->shape[d] : 1;
        if (len == 0) {
            tg_error(TG_EINPUT, "%s(): Expected reduction dim %d to have non-zero size.", name, d);
            return NULL;
        }
        for (int i = 0; i < x->ndim; i++) {
            if (i < d)
                outer *= x->shape[i];
            else if (i > d)
                inner *= x->shape[i];
            if (i != d || keepdim)
                shape[nd++] = i == d ? 1 : x->shape[i];
        }
    }
    tg_tensor *out = tg_empty(TG_INT64, nd, shape);
    if (out)
        scan(x, outer, len, inner, is_max, tg_data(out));
    return out;
}
