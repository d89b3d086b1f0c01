/* ops_nn.h -- the statistics, scans and shape helpers of issue 19
 * (internal): var/std/norm (ops_stats.c), prod/cumsum (ops_scan.c),
 * repeat/linspace/randint (ops_shape.c).  Each consumes its tensor
 * arguments, as the ops of tg.h do; dims == NULL or ndims == 0 means every
 * dimension. */
#ifndef TG_OPS_NN_H
#define TG_OPS_NN_H
#include "internal.h"

/* sum((x - mean)^2) / max(N - correction, 0), as torch.var */
tg_tensor *tg_var(tg_tensor *x, const int64_t *dims, int ndims, int64_t correction, bool keepdim);
/* sqrt(var), with gradient 0 where the result is 0 (PyTorch's std_backward) */
tg_tensor *tg_std(tg_tensor *x, const int64_t *dims, int ndims, int64_t correction, bool keepdim);
/* the vector p-norm over dims, as torch.norm: p = 2 (the default, 'fro'),
 * 1, INFINITY, -INFINITY, 0, or any p > 1 */
tg_tensor *tg_norm(tg_tensor *x, double p, const int64_t *dims, int ndims, bool keepdim);

/* product along dim (dim == NULL: of every element), as torch.prod */
tg_tensor *tg_prod(tg_tensor *x, const int64_t *dim, bool keepdim);
/* running sum along dim, as torch.cumsum */
tg_tensor *tg_cumsum(tg_tensor *x, int64_t dim);

/* x tiled reps[i] times along dim i, as Tensor.repeat */
tg_tensor *tg_repeat(tg_tensor *x, int nreps, const int64_t *reps);
/* steps evenly spaced values from start to end, as torch.linspace */
tg_tensor *tg_linspace(double start, double end, int64_t steps, tg_dtype dt);
#endif
