/* loop.c -- the elementwise loop over broadcast strides.
 *
 * The output is contiguous; each input is viewed with the output's shape,
 * stride 0 along broadcast dimensions, so nothing is ever expanded in
 * memory.  Adjacent dimensions that are contiguous for every operand are
 * merged, so the kernel sees the longest possible runs: the whole tensor
 * for same-shape operands, a row for row/column broadcasts. */
#include "internal.h"
#include <string.h>

#define MAXIN 3

void tg_loop(tg_tensor *out, int nin, tg_tensor **in, tg_kernel_fn k, const tg_attrs *a)
{
    int nd = out->ndim;
    int64_t shape[TG_MAX_DIMS + 1], st[MAXIN][TG_MAX_DIMS + 1], ost[TG_MAX_DIMS + 1];
    if (out->numel == 0)
        return;
    memcpy(shape, out->shape, nd * sizeof *shape);
    memcpy(ost, out->stride, nd * sizeof *ost);
    for (int j = 0; j < nin; j++) {
        const tg_tensor *t = in[j];
        int off = nd - t->ndim;
        for (int d = 0; d < nd; d++) {
            int dd = d - off;
            st[j][d] = (dd < 0 || t->shape[dd] == 1) ? 0 : t->stride[dd];
        }
    }
    /* drop size-1 dims, then merge dims that are contiguous for all */
    int m = 0;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == 1)
            continue;
        if (m > 0) {
            bool merge = ost[m - 1] == ost[d] * shape[d];
            for (int j = 0; j < nin && merge; j++)
                merge = st[j][m - 1] == st[j][d] * shape[d];
            if (merge) {
                shape[m - 1] *= shape[d];
                ost[m - 1] = ost[d];
                for (int j = 0; j < nin; j++)
                    st[j][m - 1] = st[j][d];
                continue;
            }
        }
        shape[m] = shape[d];
        ost[m] = ost[d];
        for (int j = 0; j < nin; j++)
            st[j][m] = st[j][d];
        m++;
    }
    if (m == 0) { /* a single element */
        shape[0] = 1;
        ost[0] = 1;
        for (int j = 0; j < nin; j++)
            st[j][0] = 0;
        m = 1;
    }

    size_t osz = tg_dtype_size(out->dtype);
    size_t isz[MAXIN];
    const char *base[MAXIN];
    for (int j = 0; j < nin; j++) {
        isz[j] = tg_dtype_size(in[j]->dtype);
        base[j] = tg_data(in[j]);
    }
    char *obase = tg_data(out);
    int64_t inner = shape[m - 1], istride[MAXIN];
    for (int j = 0; j < nin; j++)
        istride[j] = st[j][m - 1];

    /* Work items: the outer index times chunks of the inner run, so that
     * large tensors use every core whether their extent is in the outer
     * dimensions or the inner one.  Each item writes its own part of the
     * output: the result does not depend on the thread count. */
    int64_t outer = 1;
    for (int d = 0; d < m - 1; d++)
        outer *= shape[d];
    const int64_t chunk = 16384;
    int64_t nchunk = (inner + chunk - 1) / chunk;
    int64_t items = outer * nchunk;
    bool parallel = out->numel >= 65536 && items > 1;
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
    for (int64_t w = 0; w < items; w++) {
        int64_t it = w / nchunk, start = (w % nchunk) * chunk;
        int64_t len = inner - start < chunk ? inner - start : chunk;
        int64_t ooff = start, ioff[MAXIN];
        for (int j = 0; j < nin; j++)
            ioff[j] = start * istride[j];
        ooff = start * ost[m - 1];
        for (int d = m - 2, rem = 0; d >= 0; d--) {
            int64_t id = it % shape[d];
            it /= shape[d];
            ooff += id * ost[d];
            for (int j = 0; j < nin; j++)
                ioff[j] += id * st[j][d];
            (void)rem;
        }
        const void *ip[MAXIN];
        for (int j = 0; j < nin; j++)
            ip[j] = base[j] + ioff[j] * (int64_t)isz[j];
        k(len, obase + ooff * (int64_t)osz, ip, istride, a);
    }
}
