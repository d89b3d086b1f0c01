/* modes.c -- the modes that change what tg_apply does, one struct per
 * thread (core.h documents the fields).  Threads start with grad mode on
 * and everything else off, as PyTorch's do. */
#include "core/core.h"

_Thread_local tg_modes tg_mode = {.grad = true};

tg_modes tg_modes_get(void) { return tg_mode; }
void tg_modes_set(tg_modes m) { tg_mode = m; }

/* the one-field setters, each returning the field's previous value */
#define SETTER(fn, field)            \
    bool fn(bool on)                 \
    {                                \
        bool old = tg_mode.field;    \
        tg_mode.field = on;          \
        return old;                  \
    }
SETTER(tg_set_grad_enabled, grad)
SETTER(tg_set_vmap, vmap)
SETTER(tg_set_trace, tracing)
SETTER(tg_set_in_backward, in_backward)
SETTER(tg_set_free_unsaved, free_unsaved)

bool tg_grad_enabled(void) { return tg_mode.grad; }
bool tg_vmap_active(void) { return tg_mode.vmap; }
