/* tg_cuda_abi.h -- what lib/backend/cuda.c (C) and the CUDA backend (kernels/tg_cuda*.cu,
 * C++) pass each other: plain structs, so that the library and the backend
 * it loads at run time agree without sharing any other header.  Op numbers
 * are the op table's (lib/ops/ops.def, in its order); dtypes are tg_dtype's. */
#ifndef TG_CUDA_ABI_H
#define TG_CUDA_ABI_H

#include <stdint.h>
#include "tg_cuda_attrs.h"

#define TGC_ABI_VERSION 6
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

/* The ops that move elements by position or run along one dim
 * (lib/ops/ops_gather.c, ops_scan.c, ops_view.c's copies, one_hot), over
 * contiguous operands unless said otherwise; sizes in elements. */
enum {
    TGC_COPY,         /* out (strided: shape, ost over m dims) = x (st), converted from dtype to out_dtype */
    TGC_CAT,          /* out [outer, len + len2, inner] = x [outer, len, inner] then y [outer, len2, inner] */
    TGC_GATHER,       /* out (index's shape) = x (shape big) at index along dim */
    TGC_SCATTER_ADD,  /* out (shape big) = zeros, + x (index's shape) at index along dim */
    TGC_INDEX_SELECT, /* out [outer, nidx, inner] = x [outer, len, inner] at index (1-D, negatives wrap) */
    TGC_INDEX_ADD,    /* out [outer, len, inner] = zeros, + x [outer, nidx, inner] at index */
    TGC_CUMSUM,       /* out [outer, len, inner] = running sums of x along len (from the end: reverse) */
    TGC_PROD,         /* out [outer, inner] = products of x [outer, len, inner] along len */
    TGC_ONE_HOT,      /* out int64 [nidx, len] = index[i] == c */
    TGC_ZERO,         /* numel bytes of out = 0 */
    TGC_COUNT,        /* out int64 [1] = the number of true elements of x (bool, nidx of them) */
    TGC_NONZERO,      /* out int64 [that number] = their positions, in order */
    TGC_TARGETS       /* class indices index (nidx) of len classes: out int64 = index, 0 where it is
                         ignore; out2 (dtype) = 0 there, 1 elsewhere */
};

typedef struct {
    int kind;          /* TGC_* above */
    int dtype;         /* the values' (tg_dtype): x's, and out's but for TGC_COPY */
    int out_dtype;     /* TGC_COPY's output dtype */
    int ndim, dim;     /* TGC_GATHER, TGC_SCATTER_ADD: rank, and the dim indexed */
    int reverse;       /* TGC_CUMSUM */
    int64_t shape[TGC_MAX_DIMS]; /* TGC_COPY: the merged dims, as tgc_map_args'; gathers: the index's */
    int64_t big[TGC_MAX_DIMS];   /* gathers: the shape of x (TGC_GATHER) or out (TGC_SCATTER_ADD) */
    int64_t ost[TGC_MAX_DIMS], st[TGC_MAX_DIMS]; /* TGC_COPY's strides */
    int m;                       /* TGC_COPY's number of dims */
    int64_t outer, len, len2, inner;
    int64_t nidx;      /* elements of index */
    int64_t numel;     /* elements of out */
    const void *x, *y;
    const int64_t *index;
    void *out;
    void *out2;        /* TGC_TARGETS' second output */
    int64_t ignore;    /* TGC_TARGETS' ignore_index */
} tgc_move_args;

#endif
