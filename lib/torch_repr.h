/* torch_repr.h -- PyTorch's printed forms (internal).  The interface of
 * the `repr` branch's lib/torch_repr.c; this branch (py) carries a copy of
 * the declarations and a stub (lib/torch_repr_stub.c) until that lands:
 * at the merge, keep the `repr` branch's version of this file. */
#ifndef TG_TORCH_REPR_H
#define TG_TORCH_REPR_H
#include "internal.h"

/* PyTorch 1.13's repr of t appended to out: "tensor([7.])",
 * "tensor([11.], grad_fn=<AddBackward0>)", "tensor([1., 2.],
 * requires_grad=True)" for a leaf that requires grad, with its default
 * print options; grad_fn is NULL when there is none. */
tg_status tg_repr_tensor(tg_buf *out, const tg_tensor *t, const char *grad_fn);
/* Python's repr of a float: "9.0", "0.30000000000000004", "inf", "nan" */
tg_status tg_repr_pyfloat(tg_buf *out, double v);
/* PyTorch's name of t's grad_fn ("AddBackward0"), or NULL for a leaf or a
 * tensor that does not require grad */
const char *tg_grad_fn_name(const tg_tensor *t);
#endif
