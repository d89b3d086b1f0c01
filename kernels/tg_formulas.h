/* tg_formulas.h -- the parts of lib/ops/ops.def's formulas that read an op's
 * attributes, written once for the CPU kernels (lib/backend/cpu_kernels.c) and
 * the CUDA device code (tg_cuda_elem.cuh, whose text the kernels of
 * compiled evaluation start with).  Plain C and C++, no includes; x is
 * the element, m_sqrt each backend's square root for float and double. */
#ifndef TG_FORMULAS_H
#define TG_FORMULAS_H

/* pow by a constant exponent takes PyTorch's shortcuts, which are also
 * what makes its answers to the last digit: CASE(exponent, formula) for
 * each, in the order they are tested; other exponents call pow. */
#define TG_POW_SHORTCUTS(CASE)                                                \
    CASE(2, x * x)                                                            \
    CASE(3, x * x * x)                                                        \
    CASE(1, x)                                                                \
    CASE(0.5, m_sqrt(x))                                                      \
    CASE(-1, 1 / x)                                                           \
    CASE(-2, 1 / (x * x))

/* clamp(x, lo, hi) in type T, lo and hi doubles: min first, then max, so
 * that with lo > hi every element becomes hi, as in PyTorch; NaN stays */
#define TG_CLAMP_LO(x, T, lo, has_lo) ((has_lo) && x < (T)(lo) ? (T)(lo) : x)
#define TG_CLAMP(x, T, lo, hi, has_lo, has_hi)                               \
    (x != x ? x                                                               \
            : (has_hi) && TG_CLAMP_LO(x, T, lo, has_lo) > (T)(hi) ? (T)(hi)   \
                                                                : TG_CLAMP_LO(x, T, lo, has_lo))
/* for floats: a NaN bound is ignored alone, but with both bounds given
 * makes every element NaN (PyTorch 1.13's clamp and clamp_min/clamp_max
 * do so; lo + hi is that NaN) */
#define TG_CLAMP_FLOAT(x, T, lo, hi, has_lo, has_hi)                         \
    ((has_lo) && (has_hi) && ((lo) != (lo) || (hi) != (hi)) ? (T)((lo) + (hi)) \
                                                             : TG_CLAMP(x, T, lo, hi, has_lo, has_hi))
#endif
