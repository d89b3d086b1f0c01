/* batch_rules.h -- --batch (vmap) rules for the functions that are not
 * elementwise: lists of tensors, gathers, advanced indexing, the losses
 * and the shape functions (internal).  A batched tensor's dim 0 indexes
 * the points; a dim the user names counts from a point's first dim.
 * Every function consumes its tensor arguments and returns a batched
 * tensor, or NULL with the error set; each gives what evaluating the
 * program point by point (--lines) gives, stacked. */
#ifndef TG_BATCH_RULES_H
#define TG_BATCH_RULES_H
#include "expr.h"
#include "ops/nn.h"

/* is any of ts[0..n) (NULL entries skipped) batched? */
bool tg_batch_any(tg_tensor *const *ts, int n);

/* cat(ts, dim) or stack(ts, dim) (ts[] consumed, the array is the caller's) */
tg_tensor *tg_batch_cat(tg_tensor **ts, int n, int64_t dim, bool stack);
tg_tensor *tg_batch_gather(tg_tensor *x, int64_t dim, tg_tensor *index);

/* x[..., run, ...]: k int64 tensors side by side at point dim *dim (ts[]
 * consumed); *dim is a dim of x as it is (the batch dim counted), and
 * moves past the dims the subscripts leave */
tg_tensor *tg_batch_index_tensors(tg_tensor *x, int *dim, tg_tensor **ts, int k);
/* x[..., mask, ...]: only a mask shared by the points (a batched one gives
 * each point a shape of its own) */
tg_tensor *tg_batch_index_mask(tg_tensor *x, int *dim, tg_tensor *mask);

/* mse_loss, l1_loss, binary_cross_entropy(_with_logits): kind as
 * builtins.c's L_* (0 mse, 1 l1, 2 bce, 3 bce with logits); weight and
 * pos_weight borrowed, NULL when absent */
tg_tensor *tg_batch_loss(int kind, tg_tensor *x, tg_tensor *y, tg_tensor *weight, tg_tensor *pos_weight,
                         tg_reduction r);
/* cross_entropy (ce) or nll_loss */
tg_tensor *tg_batch_class_loss(bool ce, tg_tensor *x, tg_tensor *target, const tg_class_loss_opts *o);

/* shape functions; the dims and shapes are a point's */
tg_tensor *tg_batch_reshape(tg_tensor *x, int nd, const int64_t *shape);
tg_tensor *tg_batch_expand(tg_tensor *x, int nd, const int64_t *shape);
tg_tensor *tg_batch_permute(tg_tensor *x, int nd, const int64_t *dims);
tg_tensor *tg_batch_transpose(tg_tensor *x, int64_t d0, int64_t d1);
tg_tensor *tg_batch_unsqueeze(tg_tensor *x, int64_t dim);
tg_tensor *tg_batch_squeeze(tg_tensor *x, const int64_t *dim);
tg_tensor *tg_batch_flatten(tg_tensor *x, int64_t start, int64_t end);
tg_tensor *tg_batch_repeat(tg_tensor *x, int n, const int64_t *reps);

/* the point's dims dims[0..nd) (all of them when nd is 0) of the batched
 * *x as its dims into out[]; a 0-D point is viewed as one element along
 * dim 1 (*x replaced; still the caller's, NULL when that failed).  The
 * count, or -1 on error. */
int tg_batch_reduce_dims(tg_tensor **x, const int64_t *dims, int nd, const char *op, int64_t *out);
/* argmax/argmin, prod, cumsum, one_hot of a point */
tg_tensor *tg_batch_argext(tg_tensor *x, const int64_t *dim, bool keepdim, bool is_max);
tg_tensor *tg_batch_prod(tg_tensor *x, const int64_t *dim, bool keepdim);
tg_tensor *tg_batch_cumsum(tg_tensor *x, int64_t dim);
tg_tensor *tg_batch_one_hot(tg_tensor *t, int64_t num_classes);
#endif
