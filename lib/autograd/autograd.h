/* autograd.h -- what the tape shares with tg_apply (internal). */
#ifndef TG_AUTOGRAD_AUTOGRAD_H
#define TG_AUTOGRAD_AUTOGRAD_H
#include "core/core.h"

/* node's local derivatives (graph.c): its backward rule applied to ones
 * shaped as g, with no graph recorded; loc[i] a new reference or NULL per
 * input (the derivative summed to input i's shape) */
tg_status tg_node_local_derivatives(tg_tensor *node, const tg_tensor *g, tg_tensor **loc);

/* For a backward rule, at the last use of its upstream gradient g: g with
 * one reference for the op it is given to.  While tg_backward runs a rule
 * the pass's own reference is handed over (the pass lets go of g), so an
 * elementwise op may write its result over g when nothing else holds it
 * (tg_apply's memory donor): tanh_backward(g, y) needs no third buffer.
 * Anywhere else, tg_ref(g).  g must not be read after. */
tg_tensor *tg_grad_take(tg_tensor *g);

/* anomaly.c: called by tg_apply and tg_backward */
void tg_anomaly_check(const char *op, tg_tensor *out, int nin, tg_tensor **in);
void tg_anomaly_set_backward(const tg_tensor *node);
#endif
