/* nn.h -- the ops a first network needs beyond the elementwise ones:
 * concatenation, gathers and advanced indexing (ops_gather.c), losses,
 * linear, dropout and one_hot (ops_loss.c).  Internal; each consumes its
 * tensor arguments (NULL is fine: the call then fails). */
#ifndef TG_NN_H
#define TG_NN_H
#include "internal.h"

/* ts[0..n) are consumed (the array itself is the caller's) */
tg_tensor *tg_cat(tg_tensor **ts, int n, int64_t dim);
tg_tensor *tg_stack(tg_tensor **ts, int n, int64_t dim);
tg_tensor *tg_gather(tg_tensor *x, int64_t dim, tg_tensor *index);
/* x[..., idx, ...] with idx an int64 tensor at dim, or a bool mask covering
 * dims dim..dim+mask.ndim-1 */
tg_tensor *tg_index_tensor(tg_tensor *x, int64_t dim, tg_tensor *idx);
tg_tensor *tg_index_mask(tg_tensor *x, int64_t dim, tg_tensor *mask);
/* k int64 tensors side by side at dims dim..dim+k-1 (ts[] consumed),
 * broadcast together */
tg_tensor *tg_index_tensors(tg_tensor *x, int64_t dim, tg_tensor **ts, int k);

/* reduction= of the losses */
typedef enum { TG_RED_NONE, TG_RED_MEAN, TG_RED_SUM } tg_reduction;
/* "none", "mean", "sum" -> *out; TG_EINPUT otherwise */
tg_status tg_reduction_parse(const char *s, tg_reduction *out);

typedef struct {
    tg_tensor *weight;    /* per class, or NULL (borrowed) */
    int64_t ignore_index; /* -100 by default */
    double label_smoothing;
    tg_reduction reduction;
} tg_class_loss_opts;

tg_tensor *tg_linear(tg_tensor *x, tg_tensor *w, tg_tensor *b); /* b may be NULL */
tg_tensor *tg_mse_loss(tg_tensor *x, tg_tensor *y, tg_reduction r);
tg_tensor *tg_l1_loss(tg_tensor *x, tg_tensor *y, tg_reduction r);
tg_tensor *tg_nll_loss(tg_tensor *logp, tg_tensor *target, const tg_class_loss_opts *o);
tg_tensor *tg_cross_entropy(tg_tensor *x, tg_tensor *target, const tg_class_loss_opts *o);
/* weight, pos_weight: NULL or borrowed */
tg_tensor *tg_binary_cross_entropy(tg_tensor *x, tg_tensor *y, tg_tensor *weight, tg_reduction r);
tg_tensor *tg_bce_with_logits(tg_tensor *x, tg_tensor *y, tg_tensor *weight, tg_tensor *pos_weight,
                              tg_reduction r);
tg_tensor *tg_dropout(tg_tensor *x, double p, bool training);
tg_tensor *tg_one_hot(tg_tensor *t, int64_t num_classes);
#endif
