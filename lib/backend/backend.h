/* backend.h -- the devices' kernels and memory: CPU (OpenBLAS, the
 * generated elementwise kernels) and CUDA (internal). */
#ifndef TG_BACKEND_BACKEND_H
#define TG_BACKEND_BACKEND_H
#include "ops/ops.h"

/* The CUDA backend's memory and kernels (cuda.c).  Storage on cuda is
 * managed memory, readable and writable by the host code too.  tg_cuda_map
 * and tg_cuda_reduce return TG_NO (no error) for what the kernels do not
 * do: the caller computes on the CPU. */
void *tg_cuda_alloc(size_t bytes);
void tg_cuda_free(void *p, size_t bytes);
tg_status tg_cuda_map(int op, int nin, tg_tensor **in, const tg_attrs *a, tg_tensor *out);
tg_status tg_cuda_reduce(int kind, const tg_tensor *x, const int64_t *ost, tg_tensor *out);
/* The ops that move elements by position or run along a dim, on device
 * tensors (kernels/tg_cuda_move.cu), each the CPU loop's numbers exactly;
 * TG_NO where an operand is not on cuda (or the kernels do not do it): the
 * caller's host loop runs.  Operands contiguous, but copy's (any layouts
 * of the same shape, converting between dtypes).  Where an index is
 * checked, *bad is its first position (row-major) out of range, or -1;
 * then nothing is written and the caller reports it as its loop would. */
tg_status tg_cuda_copy(tg_tensor *dst, tg_tensor *src);
tg_status tg_cuda_zero(tg_tensor *t); /* all of t's storage */
tg_status tg_cuda_cat(const tg_tensor *a, const tg_tensor *b, int dim, tg_tensor *out);
/* op: TG_OP_GATHER, _SCATTER_ADD (into zeros), _INDEX_SELECT or _INDEX_ADD
 * (into zeros; a 1-D index, negatives from the end), as ops_gather.c's */
tg_status tg_cuda_index(int op, const tg_tensor *src, const tg_tensor *idx, int dim, tg_tensor *out, int64_t *bad);
/* op: TG_OP_CUMSUM (reverse: from the end) or TG_OP_PROD along dim */
tg_status tg_cuda_scan(int op, const tg_tensor *x, int dim, bool reverse, tg_tensor *out);
/* out [t.numel, n] int64 = one_hot(t, n) */
tg_status tg_cuda_one_hot(const tg_tensor *t, int64_t n, tg_tensor *out, int64_t *bad);
/* *pos: a new 1-D int64 tensor on cuda, the positions (row-major) of the
 * true elements of the bool mask */
tg_status tg_cuda_nonzero(const tg_tensor *mask, tg_tensor **pos);
/* the class losses' targets (ops_loss.c): safe = t, 0 where t is ignore;
 * keep (float) = 0 there, 1 elsewhere; a target out of [0, nclass) that is
 * not ignore: *bad */
tg_status tg_cuda_targets(const tg_tensor *t, int64_t nclass, int64_t ignore, tg_tensor *safe, tg_tensor *keep,
                          int64_t *bad);
/* Is the cuda device emulated on the host (TG_CUDA_EMULATE)? */
bool tg_cuda_emulated(void);
/* A kernel of compiled evaluation (fused_cuda.c): dev_src compiled by
 * NVRTC and loaded; where the device is emulated, dev_src is compiled (to
 * check it) and host_src, the same kernel with a launcher for the host
 * (NULL elsewhere), built by the C++ compiler runs instead.  TG_ERESOURCE with the reason
 * where NVRTC or the compiler is missing or the source does not compile. */
tg_status tg_cuda_fused_load(const char *dev_src, const char *host_src, void **kernel);
/* why the kernels cannot be compiled (no NVRTC, no device), or NULL */
const char *tg_cuda_fused_unavailable_reason(void);
/* runs it on grid blocks of block threads; args as cudaLaunchKernel's */
tg_status tg_cuda_fused_launch(void *kernel, unsigned grid, unsigned block, void **args);

/* kernel tables, indexed by op and dtype of the computation; an empty slot
 * means "not supported for that dtype". */
extern const tg_kernel_fn tg_cpu_kernels[TG_NOPS][TG_NDTYPES];
/* conversions, [from][to] (the cast op) */
extern const tg_kernel_fn tg_cpu_conv[TG_NDTYPES][TG_NDTYPES];

/* each kernel's expression as C text over its inputs x, y, z (NULL where
 * its body is not one expression), and pow's formula for a constant
 * exponent (bw: its backward, over g, x, e, em1) */
extern const char *const tg_cpu_kernel_src[TG_NOPS][TG_NDTYPES];
extern const char *const tg_cpu_conv_src[TG_NDTYPES][TG_NDTYPES];
const char *tg_cpu_pow_src(tg_dtype dt, double exponent, bool bw);
/* does that text call a function? */
bool tg_cpu_src_calls(const char *src);

/* OpenBLAS is loaded on first use (cpu_blas.c): NULL once it is, else why
 * it cannot be ("libopenblas.so.0: cannot open shared object file ..."). */
const char *tg_blas_unavailable_reason(void);

/* the sum of n contiguous float32 or float64 values, accumulated in double
 * in a fixed order (lanes, element i to lane i % 32 for float32, i % 8 for
 * float64, then a fixed tree; ops_reduce.c):
 * the block sums of the whole-tensor sum and of compiled evaluation */
double tg_cpu_sum_run(const void *x, int64_t n, tg_dtype dt);

/* kernels are compiled for the baseline and for AVX2 and AVX-512 (files
 * built with -O3, see the Makefile), the best the processor has chosen when
 * the program starts */
#if defined(__x86_64__) && !defined(TG_NO_CLONES) && !defined(__clang__)
#define TG_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define TG_CLONES
#endif

/* the backend's matrix product: c[b] = a[b] @ b[b] for batch-broadcast
 * operands already laid out by the matmul op. */
tg_status tg_cpu_matmul(tg_tensor *a, tg_tensor *b, tg_tensor *out);
#endif
