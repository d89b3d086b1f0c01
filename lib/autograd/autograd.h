/* autograd.h -- what the tape shares with tg_apply (internal). */
#ifndef TG_AUTOGRAD_AUTOGRAD_H
#define TG_AUTOGRAD_AUTOGRAD_H
#include "core/core.h"

/* anomaly.c: called by tg_apply and tg_backward */
void tg_anomaly_check(const char *op, tg_tensor *out, int nin, tg_tensor **in);
void tg_anomaly_set_backward(const tg_tensor *node);
#endif
