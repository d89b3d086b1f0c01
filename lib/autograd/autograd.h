/* autograd.h -- what the tape shares with tg_apply (internal). */
#ifndef TG_AUTOGRAD_AUTOGRAD_H
#define TG_AUTOGRAD_AUTOGRAD_H
#include "core/core.h"

/* node's local derivatives (graph.c): its backward rule applied to ones
 * shaped as g, with no graph recorded; loc[i] a new reference or NULL per
 * input (the derivative summed to input i's shape) */
tg_status tg_node_local_derivatives(tg_tensor *node, const tg_tensor *g, tg_tensor **loc);

/* anomaly.c: called by tg_apply and tg_backward */
void tg_anomaly_check(const char *op, tg_tensor *out, int nin, tg_tensor **in);
void tg_anomaly_set_backward(const tg_tensor *node);
#endif
