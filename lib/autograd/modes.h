/* modes.h -- the modes that change what tg_apply records, and the
 * tape's bookkeeping (internal). */
#ifndef TG_AUTOGRAD_MODES_H
#define TG_AUTOGRAD_MODES_H
#include "core/core.h"

/* Set while compiled evaluation runs its probe (fused_plan.c): ops whose
 * result does not require grad (comparisons, the masks of backward
 * formulas, ops on constants) are recorded too, with their inputs, so the
 * whole computation is one graph.  Returns the previous setting. */
bool tg_set_trace(bool on);

/* Set during a backward pass that builds no graph (apply.c): elementwise
 * ops on inputs that are one value broadcast then compute that value once
 * and return it expanded.  Returns the previous setting. */
bool tg_set_in_backward(bool on);
/* Set while tg_grad_eval evaluates for one backward pass that builds no
 * graph of its own (apply.c): an intermediate that only the graph holds and
 * whose values no backward formula reads gives up its memory at once, as
 * PyTorch frees what its nodes do not save.  Returns the previous setting. */
bool tg_set_free_unsaved(bool on);

/* inside vmap (transforms.c): ops see the batch dim (apply.c) */
bool tg_vmap_active(void);

/* anomaly.c: called by tg_apply and tg_backward */
void tg_anomaly_check(const char *op, tg_tensor *out, int nin, tg_tensor **in);
void tg_anomaly_set_backward(const tg_tensor *node);
#endif
