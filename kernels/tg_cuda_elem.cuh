// tg_cuda_elem.cuh -- what each elementwise op computes on the CUDA device:
// the one definition that the backend's map kernel (tg_cuda_ops.cu) and
// the kernels compiled evaluation generates (lib/compile/fused_cuda.c, compiled by
// NVRTC, whose source is this file's text after tg_cuda_attrs.h's, with
// the files it #includes in quotes put in their place: the Makefile's
// build/gen/tg_cuda_text.h) both use.  The formulas are lib/ops/ops.def's, the
// very text the CPU kernels are compiled from.
// NVRTC has the math functions built in; a host build includes <math.h>
// before this file.  Same order of operations as
// lib/backend/cpu_kernels.c (no contraction into FMA: -fmad=false).
//
// HD: compiled for the device and for the host, where tgc_emulate_* runs
// the very same code (TG_CUDA_EMULATE: the kernels' logic tested on
// machines without a GPU)
#define HD __host__ __device__

// the op numbers, TG_OP_NAME in lib/ops/ops.def's order (as lib/internal.h's)
enum {
#define OP(id, ...) TG_OP_##id,
#include "../lib/ops/ops.def"
#undef OP
    TG_NOPS
};
#include "tg_formulas.h"

// the math functions the formulas name, for float and double alike
#ifndef __CUDA_ARCH__
// On the host only (the emulation): TG_CUDA_EMULATE=ulp moves each
// transcendental result that is not a whole number one ulp up, as the
// device's own math functions differ from the CPU's in the last bits
// (where the result is exact, exp(0) or pow(2, 3), they agree) -- so that
// a test expecting the CPU's last digit from the cuda device shows up
// without a GPU.
#include <stdlib.h>
#include <string.h>
static inline bool tg_emulate_ulp(void)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("TG_CUDA_EMULATE");
        on = e && !strcmp(e, "ulp");
    }
    return on;
}
#define NUDGE(v) (tg_emulate_ulp() && (v) != floor(v) && (v) == (v) ? nextafter((v), (decltype(v))INFINITY) : (v))
#else
#define NUDGE(v) (v)
#endif
#define MATH1(NAME, F, D)                                                                  \
    HD inline float NAME(float x) { return NUDGE(F(x)); }                                  \
    HD inline double NAME(double x) { return NUDGE(D(x)); }
MATH1(m_exp, expf, exp)
MATH1(m_log, logf, log)
MATH1(m_sin, sinf, sin)
MATH1(m_cos, cosf, cos)
MATH1(m_tan, tanf, tan)
MATH1(m_tanh, tanhf, tanh)
MATH1(m_log1p, log1pf, log1p)
MATH1(m_expm1, expm1f, expm1)
MATH1(m_erf, erff, erf)
// correctly rounded on the device as on the CPU: no nudge
HD inline float m_sqrt(float x) { return sqrtf(x); }
HD inline double m_sqrt(double x) { return sqrt(x); }
HD inline float m_pow(float x, float y) { return NUDGE(powf(x, y)); }
HD inline double m_pow(double x, double y) { return NUDGE(pow(x, y)); }

// pow by a constant exponent with PyTorch's shortcuts (tg_formulas.h's,
// as lib/backend/cpu_kernels.c's)
template <typename T> HD inline T pow_const(T x, T e)
{
#define TG_POW_IF(k, EXPR) if (e == (T)(k)) return EXPR;
    TG_POW_SHORTCUTS(TG_POW_IF)
#undef TG_POW_IF
    return m_pow(x, e);
}

// the formulas of lib/ops/ops.def that read the op's attributes a
#define ATTR_CLAMP(x) TG_CLAMP_FLOAT(x, T, a.lo, a.hi, a.has_lo, a.has_hi)
#define ATTR_POW(x, y) (a.scalar_exponent ? pow_const(x, y) : m_pow(x, y))
#define ATTR_POW_BW(x, y) (x * ((T)a.exponent * pow_const(y, (T)a.exponent - 1)))

// An op the switches below have no case for never reaches them (the map
// kernel leaves it to the CPU: tg_cuda_ops.cu's map_supported; compiled
// evaluation runs it op by op: lib/compile/fused_cuda.c's device_form); were one
// to, its result is NaN, never a plausible number such as x itself.
template <typename T> HD inline T no_formula()
{
    T zero = 0;
    return zero / zero;
}

// every UNARY, BINARY and COMPARE op of lib/ops/ops.def, each its formula:
// KIND_IN_FN(id, formula) is op id's case in function FN, or nothing
#define FORMULA_CASE(id, F) case TG_OP_##id: return (F);
#define UNARY_IN_UNARY FORMULA_CASE
#define BINARY_IN_BINARY FORMULA_CASE
#define COMPARE_IN_COMPARE FORMULA_CASE
#define UNARY_IN_BINARY(id, F)
#define UNARY_IN_COMPARE(id, F)
#define BINARY_IN_UNARY(id, F)
#define BINARY_IN_COMPARE(id, F)
#define COMPARE_IN_UNARY(id, F)
#define COMPARE_IN_BINARY(id, F)
#define SELECT_IN_UNARY(id, F)
#define SELECT_IN_BINARY(id, F)
#define SELECT_IN_COMPARE(id, F)
#define CAST_IN_UNARY(id, F)
#define CAST_IN_BINARY(id, F)
#define CAST_IN_COMPARE(id, F)
#define OTHER_IN_UNARY(id, F)
#define OTHER_IN_BINARY(id, F)
#define OTHER_IN_COMPARE(id, F)

template <typename T> HD T unary(int op, T x, const tgc_op_attrs &a)
{
    switch (op) {
#define OP(id, name, arity, flags, saves, infer, fwd, bwd, kind, call, cpu, formula) kind##_IN_UNARY(id, formula)
#include "../lib/ops/ops.def"
#undef OP
    default: return no_formula<T>();
    }
}

template <typename T> HD T binary(int op, T x, T y, const tgc_op_attrs &a)
{
    switch (op) {
#define OP(id, name, arity, flags, saves, infer, fwd, bwd, kind, call, cpu, formula) kind##_IN_BINARY(id, formula)
#include "../lib/ops/ops.def"
#undef OP
    default: return no_formula<T>();
    }
}

template <typename T> HD bool compare(int op, T x, T y)
{
    switch (op) {
#define OP(id, name, arity, flags, saves, infer, fwd, bwd, kind, call, cpu, formula) kind##_IN_COMPARE(id, formula)
#include "../lib/ops/ops.def"
#undef OP
    default: return false;
    }
}
