/* tg_cuda_abi.h -- what lib/backend/cuda.c (C) and the CUDA backend (kernels/tg_cuda*.cu,
 * C++) pass each other: plain structs, so that the library and the backend
 * it loads at run time agree without sharing any other header.  Op numbers
 * are the op table's (lib/ops/ops.def, in its order); dtypes are tg_dtype's. */
#ifndef TG_CUDA_ABI_H
#define TG_CUDA_ABI_H

#include <stdint.h>
#include "tg_cuda_attrs.h"

#define TGC_ABI_VERSION 5
#define TGC_MAX_DIMS 17 /* TG_MAX_DIMS + 1 */

/* One elementwise op over an output of m (merged) dims: element i of the
 * output sits at sum(idx[d] * ost[d]), input k's at sum(idx[d] * st[k][d])
 * (stride 0 along broadcast dims), all in elements. */
typedef struct {
    int op;        /* TG_OP_* */
    int dtype;     /* what it computes in: TG_FLOAT32 or TG_FLOAT64 */
    int out_dtype; /* the same, or TG_BOOL for comparisons */
    int nin;
    int m;
    int64_t numel;
    int64_t shape[TGC_MAX_DIMS];
    int64_t ost[TGC_MAX_DIMS];
    int64_t st[3][TGC_MAX_DIMS];
    void *out;
    const void *in[3];
    tgc_op_attrs attrs;
} tgc_map_args;

/* A sum, max or min: output element o (contiguous, row-major over the kept
 * dims kshape) reduces the input elements at base(o) + sum(r[d] * rst[d])
 * over the reduced dims rshape. */
typedef struct {
    int kind;  /* 0 sum, 1 max, 2 min */
    int dtype; /* TG_FLOAT32 or TG_FLOAT64, input and output alike */
    int nk, nr;
    int64_t kshape[TGC_MAX_DIMS], kst[TGC_MAX_DIMS];
    int64_t rshape[TGC_MAX_DIMS], rst[TGC_MAX_DIMS];
    int64_t nout, nred;
    const void *x;
    void *out;
} tgc_reduce_args;

#endif
