/* torch_repr.h -- what PyTorch 1.13 prints (torch_repr.c): a tensor as
 * print(t) and repr(t) write it, a Python float as repr() writes it, and
 * the class name of a node's grad_fn.  For the Python subset's print()
 * and f-strings. */
#ifndef TG_TORCH_REPR_H
#define TG_TORCH_REPR_H
#include "internal.h"

/* Appends repr(t) (borrowed) to out, with PyTorch's default print options:
 * "tensor([1., 2.])", "tensor(9.)", "tensor([1, 2, 3])",
 * "tensor([1.0000e-05, 1.0000e+05], dtype=torch.float64)", nested rows
 * for more dims, "..." beyond 1000 elements.  grad_fn, when not NULL,
 * adds ", grad_fn=<NAME>"; else a t that requires grad adds
 * ", requires_grad=True".  A cuda tensor adds ", device='cuda:0'".  The
 * dtype left unsaid is tg_default_float (PyTorch's default dtype), int64
 * or bool.  TG_EINPUT when the text would show more elements than
 * tg_get_max_work(); TG_ERESOURCE when out ran out of memory. */
tg_status tg_repr_tensor(tg_buf *out, const tg_tensor *t, const char *grad_fn);

/* Appends Python's repr of v: the shortest digits that read back, "9.0",
 * "0.30000000000000004", "1e-05", "1e+16", "inf", "nan", "-0.0". */
tg_status tg_repr_pyfloat(tg_buf *out, double v);

/* PyTorch's class name of t's grad_fn ("AddBackward0", "MeanBackward1"),
 * or NULL for a leaf or a tensor that does not require grad.  From the
 * node's op, attributes and inputs, or the name a composite gave it
 * (tg_name_grad_fn, internal.h). */
const char *tg_grad_fn_name(const tg_tensor *t);

#endif
