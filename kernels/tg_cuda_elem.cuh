// tg_cuda_elem.cuh -- what each elementwise op computes on the CUDA device:
// the one definition that the backend's map kernel (tg_cuda_ops.cu, where
// the op numbers TG_OP_* come from lib/ops.def) and the kernels compiled
// evaluation generates (lib/fused_cuda.c, compiled by NVRTC, whose source
// is this file's text after tg_cuda_attrs.h's and the op numbers) both use.
// NVRTC has the math functions built in; a host build includes <math.h>
// before this file.  Same order of operations as
// lib/cpu_kernels.c (no contraction into FMA: -fmad=false).
//
// the math functions, for float and double alike
// HD: compiled for the device and for the host, where tgc_emulate_* runs
// the very same code (TG_CUDA_EMULATE: the kernels' logic tested on
// machines without a GPU)
#define HD __host__ __device__
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

// pow by a constant exponent with PyTorch's shortcuts (cpu_kernels.c's too)
template <typename T> HD inline T pow_const(T x, T e)
{
    if (e == (T)2) return x * x;
    if (e == (T)3) return x * x * x;
    if (e == (T)1) return x;
    if (e == (T)0.5) return m_sqrt(x);
    if (e == (T)-1) return (T)1 / x;
    if (e == (T)-2) return (T)1 / (x * x);
    return m_pow(x, e);
}

template <typename T> HD T unary(int op, T x, const tgc_op_attrs &a)
{
    switch (op) {
    case TG_OP_NEG: return -x;
    case TG_OP_EXP: return m_exp(x);
    case TG_OP_LOG: return m_log(x);
    case TG_OP_SQRT: return m_sqrt(x);
    case TG_OP_SIN: return m_sin(x);
    case TG_OP_COS: return m_cos(x);
    case TG_OP_TAN: return m_tan(x);
    case TG_OP_TANH: return m_tanh(x);
    case TG_OP_SIGMOID: return (T)1 / ((T)1 + m_exp(-x));
    case TG_OP_RELU: return (x > (T)0 || x != x) ? x : (T)0;
    case TG_OP_ABS: return x < (T)0 ? -x : x;
    case TG_OP_SIGN: return x != x ? x : (T)((x > (T)0) - (x < (T)0));
    case TG_OP_LOG1P: return m_log1p(x);
    case TG_OP_EXPM1: return m_expm1(x);
    case TG_OP_ERF: return m_erf(x);
    case TG_OP_SOFTPLUS: return x > (T)20 ? x : m_log1p(m_exp(x));
    case TG_OP_CLAMP: {
        if (x != x)
            return x;
        if (a.has_lo && a.has_hi && (a.lo != a.lo || a.hi != a.hi))
            return (T)(a.lo + a.hi); // NaN: a NaN bound with both given, as lib/cpu_kernels.c
        T y = (a.has_lo && x < (T)a.lo) ? (T)a.lo : x; // min first, then max, as PyTorch
        return (a.has_hi && y > (T)a.hi) ? (T)a.hi : y;
    }
    default: return x;
    }
}

template <typename T> HD T binary(int op, T x, T y, const tgc_op_attrs &a)
{
    switch (op) {
    case TG_OP_ADD: return x + y;
    case TG_OP_SUB: return x - y;
    case TG_OP_MUL: return x * y;
    case TG_OP_DIV: return x / y;
    case TG_OP_POW: return a.scalar_exponent ? pow_const(x, y) : m_pow(x, y);
    case TG_OP_MAXIMUM: return (x != x) ? x : (y != y) ? y : (x > y ? x : y);
    case TG_OP_MINIMUM: return (x != x) ? x : (y != y) ? y : (x < y ? x : y);
    case TG_OP_TANH_BW: return x * ((T)1 - y * y);
    case TG_OP_SIGMOID_BW: return x * ((T)1 - y) * y;
    case TG_OP_POW_BW: {
        T e = (T)a.exponent;
        return x * (e * pow_const(y, e - (T)1));
    }
    default: return x;
    }
}

template <typename T> HD bool compare(int op, T x, T y)
{
    switch (op) {
    case TG_OP_EQ: return x == y;
    case TG_OP_NE: return x != y;
    case TG_OP_LT: return x < y;
    case TG_OP_LE: return x <= y;
    case TG_OP_GT: return x > y;
    default: return x >= y;
    }
}

