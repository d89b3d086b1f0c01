/* loop.c -- the elementwise loop over broadcast strides.
 *
 * The output is contiguous; each input is viewed with the output's shape,
 * stride 0 along broadcast dimensions, so nothing is ever expanded in
 * memory.  Adjacent dimensions that are contiguous for every operand are
 * merged, so the kernel sees the longest possible runs: the whole tensor
 * for same-shape operands, a row for row/column broadcasts. */
#include "core/core.h"
#include <string.h>

#define MAXIN 3

#define CHUNK 16384
#define TG_PAR_CHEAP (1 << 18) /* elements before a cheap op uses every core */

typedef struct {
    tg_kernel_fn k;
    const tg_attrs *a;
    int nin, m;
    int64_t shape[TG_MAX_DIMS + 1], ost[TG_MAX_DIMS + 1], st[MAXIN][TG_MAX_DIMS + 1];
    size_t osz, isz[MAXIN];
    const char *base[MAXIN];
    char *obase;
    int64_t inner, nchunk;
} loop_job;

/* one work item: chunk (w % nchunk) of the inner run at outer index w / nchunk */
static void run_item(int64_t w, void *ctx, int tid)
{
    const loop_job *J = ctx;
    (void)tid;
    int64_t it = w / J->nchunk, start = (w % J->nchunk) * CHUNK;
    int64_t len = J->inner - start < CHUNK ? J->inner - start : CHUNK;
    int64_t ooff = start * J->ost[J->m - 1], ioff[MAXIN], istride[MAXIN];
    for (int j = 0; j < J->nin; j++) {
        istride[j] = J->st[j][J->m - 1];
        ioff[j] = start * istride[j];
    }
    for (int d = J->m - 2; d >= 0; d--) {
        int64_t id = it % J->shape[d];
        it /= J->shape[d];
        ooff += id * J->ost[d];
        for (int j = 0; j < J->nin; j++)
            ioff[j] += id * J->st[j][d];
    }
    const void *ip[MAXIN];
    for (int j = 0; j < J->nin; j++)
        ip[j] = J->base[j] + ioff[j] * (int64_t)J->isz[j];
    J->k(len, J->obase + ooff * (int64_t)J->osz, ip, istride, J->a);
}

int tg_loop_plan(const tg_tensor *out, int nin, tg_tensor *const *in, int64_t *shape, int64_t *ost,
                 int64_t (*st)[TG_MAX_DIMS + 1])
{
    int nd = out->ndim;
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
    return m;
}

void tg_loop_ex(tg_tensor *out, int nin, tg_tensor **in, tg_kernel_fn k, const tg_attrs *a, bool heavy)
{
    if (out->numel == 0)
        return;
    /* planned straight into the job, which is not cleared first: its
     * arrays are some 700 bytes, more than the work of a small op; what
     * is read of them (m dims, nin inputs) is written here */
    loop_job J;
    J.k = k;
    J.a = a;
    J.nin = nin;
    J.m = tg_loop_plan(out, nin, in, J.shape, J.ost, J.st);
    J.osz = tg_dtype_size(out->dtype);
    J.obase = tg_data(out);
    for (int j = 0; j < nin; j++) {
        J.isz[j] = tg_dtype_size(in[j]->dtype);
        J.base[j] = tg_data(in[j]);
    }
    int m = J.m;
    const int64_t *shape = J.shape;
    J.inner = shape[m - 1];

    /* Work items: the outer index times chunks of the inner run, so that
     * large tensors use every core whether their extent is in the outer
     * dimensions or the inner one.  Each item writes its own part of the
     * output: the result does not depend on the thread count. */
    int64_t outer = 1;
    for (int d = 0; d < m - 1; d++)
        outer *= shape[d];
    J.nchunk = (J.inner + CHUNK - 1) / CHUNK;
    int64_t items = outer * J.nchunk;
    /* Threads pay off early for the math functions; the cheap ops (add,
     * mul, where, copies) are bound by memory bandwidth, which one core
     * alone does not saturate either, but they need larger tensors before
     * a second thread is worth waking. */
    if (out->numel >= (heavy ? 65536 : TG_PAR_CHEAP) && items > 1)
        tg_parallel_for(items, run_item, &J);
    else
        for (int64_t w = 0; w < items; w++)
            run_item(w, &J, 0);
}

void tg_loop(tg_tensor *out, int nin, tg_tensor **in, tg_kernel_fn k, const tg_attrs *a)
{
    tg_loop_ex(out, nin, in, k, a, false);
}
