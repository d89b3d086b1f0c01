/* anomaly.c -- torch.autograd.detect_anomaly: the first op whose output
 * holds a NaN or an infinity while its inputs held none, in the forward
 * pass or in a backward rule.  Off by default: the check reads every
 * output once. */
#include "internal.h"
#include <math.h>

static _Thread_local bool enabled;
static _Thread_local tg_tensor *first;      /* the node (forward) or the node whose backward produced it */
static _Thread_local bool in_backward;
static _Thread_local bool first_backward;
static _Thread_local const char *first_op; /* the op, even where no graph is recorded */
static _Thread_local const tg_tensor *backward_node; /* the node whose backward rule is running */

void tg_anomaly_enable(bool on)
{
    enabled = on;
    tg_release(first);
    first = NULL;
}

static bool finite_all(const tg_tensor *t)
{
    if (!tg_dtype_is_float(t->dtype))
        return true;
    for (int64_t i = 0; i < t->numel; i++)
        if (!isfinite(tg_get(t, i)))
            return false;
    return true;
}

bool tg_anomaly_enabled(void) { return enabled; }

void tg_anomaly_set_backward(const tg_tensor *node)
{
    backward_node = node;
    in_backward = node != NULL;
}

/* called by tg_apply for every new output */
void tg_anomaly_check(const char *op, tg_tensor *out, int nin, tg_tensor **in)
{
    if (!enabled || first || finite_all(out))
        return;
    for (int i = 0; i < nin; i++)
        if (!finite_all(in[i]))
            return; /* passed on, not produced here */
    first = tg_ref(in_backward ? (tg_tensor *)backward_node : out);
    first_backward = in_backward;
    first_op = in_backward ? (backward_node->op ? backward_node->op->name : NULL) : op;
}

const tg_tensor *tg_anomaly_first(bool *backward, const char **op)
{
    if (backward)
        *backward = first_backward;
    if (op)
        *op = first ? first_op : NULL;
    return first;
}
