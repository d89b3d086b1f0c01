/* tg_cuda_attrs.h -- an elementwise op's attributes as the CUDA kernels
 * read them: part of tgc_map_args (tg_cuda_abi.h), and written out as a
 * constant in the kernels that compiled evaluation generates, whose source
 * includes this file's text (lib/compile/fused_cuda.c).  Plain C, no includes. */
#ifndef TG_CUDA_ATTRS_H
#define TG_CUDA_ATTRS_H
typedef struct {
    double lo, hi; /* clamp's bounds */
    int has_lo, has_hi;
    double exponent;     /* pow_backward */
    int scalar_exponent; /* pow: the exponent is one value (PyTorch's shortcuts apply) */
} tgc_op_attrs;
#endif
