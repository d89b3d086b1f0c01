/* cpu_kernels.c -- the CPU backend's elementwise kernels and their table.
 *
 * Each kernel computes one contiguous run of the output (see loop.c); the
 * unit-stride and broadcast-scalar cases are separate loops so that the
 * compiler vectorises them.  float32 is computed in float32 with the C
 * library's float functions, as PyTorch computes it. */
#include "internal.h"
#include "../kernels/tg_formulas.h"
#include <ctype.h>
#include <math.h>
#include <string.h>

/* glibc's libmvec has vector versions of these float functions; declaring
 * them "simd" lets the vectoriser call them (compiled with -fopenmp-simd,
 * see the Makefile), 4, 8 or 16 lanes at a time, instead of one element per
 * call.  Their error is within a few ulp, like PyTorch's own SLEEF kernels. */
#define SIMD_MATH(X) X(expf) X(logf) X(sinf) X(cosf) X(tanhf) X(expm1f) X(log1pf) X(erff)
#define DECLARE_SIMD(f) _Pragma("omp declare simd notinbranch") float f(float);
SIMD_MATH(DECLARE_SIMD)

/* Does a kernel's expression call a function (sqrtf, powf, expf, ...)?
 * Generated code calls such an op's kernel instead of writing its text:
 * whether a loop is vectorised depends on the compiler and on all that is
 * in it, and the vector and scalar versions of a function may differ in
 * the last bit. */
bool tg_cpu_src_calls(const char *src)
{
    for (const char *p = src; *p;) {
        if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
            while (isalnum((unsigned char)*p) || *p == '.' || *p == '_')
                p++; /* a number, 1.0f included */
            continue;
        }
        if (!isalpha((unsigned char)*p) && *p != '_') {
            p++;
            continue;
        }
        const char *name = p;
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        const char *q = p;
        while (*q == ' ')
            q++;
        if (*q == '(' && strncmp(name, "__typeof__", (size_t)(p - name)))
            return true;
    }
    return false;
}

#define CLONES TG_CLONES

#define KARGS int64_t n, void *o_, const void *const *in, const int64_t *s, const tg_attrs *at

/* Each kernel's expression is also kept as text, NAME_src, for generated
 * code (fused_codegen.c): x is the first input, y the second. */
#define UNARY(NAME, T, OT, EXPR)                                              \
    static const char NAME##_src[] __attribute__((unused)) = #EXPR;           \
    CLONES static void NAME(KARGS)                                            \
    {                                                                         \
        OT *o = o_;                                                           \
        const T *p = in[0];                                                   \
        int64_t sx = s[0];                                                    \
        (void)at;                                                             \
        if (sx == 1)                                                          \
            for (int64_t i = 0; i < n; i++) { T x = p[i]; o[i] = (EXPR); }    \
        else                                                                  \
            for (int64_t i = 0; i < n; i++) { T x = p[i * sx]; o[i] = (EXPR); } \
    }

#define BINARY(NAME, T, OT, EXPR)                                             \
    static const char NAME##_src[] __attribute__((unused)) = #EXPR;           \
    CLONES static void NAME(KARGS)                                            \
    {                                                                         \
        OT *o = o_;                                                           \
        const T *pa = in[0], *pb = in[1];                                     \
        int64_t sa = s[0], sb = s[1];                                         \
        (void)at;                                                             \
        if (sa == 1 && sb == 1)                                               \
            for (int64_t i = 0; i < n; i++) { T x = pa[i], y = pb[i]; o[i] = (EXPR); } \
        else if (sa == 1 && sb == 0) {                                        \
            T y = pb[0];                                                      \
            for (int64_t i = 0; i < n; i++) { T x = pa[i]; o[i] = (EXPR); }   \
        } else if (sa == 0 && sb == 1) {                                      \
            T x = pa[0];                                                      \
            for (int64_t i = 0; i < n; i++) { T y = pb[i]; o[i] = (EXPR); }   \
        } else                                                                \
            for (int64_t i = 0; i < n; i++) { T x = pa[i * sa], y = pb[i * sb]; o[i] = (EXPR); } \
    }

/* The kernels of lib/ops/ops.def's formulas.  Its math functions are the C
 * library's, float32's in float32 (expf: libmvec's vector version, above)
 * and float64's in float64. */
#define m_float_fn(F, D, x) _Generic((x), float: F, double: D)(x)
#define m_exp(x) m_float_fn(expf, exp, x)
#define m_log(x) m_float_fn(logf, log, x)
#define m_sqrt(x) m_float_fn(sqrtf, sqrt, x)
#define m_sin(x) m_float_fn(sinf, sin, x)
#define m_cos(x) m_float_fn(cosf, cos, x)
#define m_tan(x) m_float_fn(tanf, tan, x)
#define m_tanh(x) m_float_fn(tanhf, tanh, x)
#define m_log1p(x) m_float_fn(log1pf, log1p, x)
#define m_expm1(x) m_float_fn(expm1f, expm1, x)
#define m_erf(x) m_float_fn(erff, erf, x)

/* k_ID_DT: op ID's kernel for dtype DT, from its formula for the dtypes
 * ops.def's cpu column gives (the others are written below) */
#define F_KERNELS(K, id, OT, EXPR) K(k_##id##_f32, float, OT(float), EXPR) K(k_##id##_f64, double, OT(double), EXPR)
#define N_KERNELS(K, id, OT, EXPR) F_KERNELS(K, id, OT, EXPR) K(k_##id##_i64, int64_t, OT(int64_t), EXPR)
#define A_KERNELS(K, id, OT, EXPR) N_KERNELS(K, id, OT, EXPR) K(k_##id##_b, bool, OT(bool), EXPR)
#define NI_KERNELS F_KERNELS
#define AI_KERNELS F_KERNELS
#define AB_KERNELS N_KERNELS
#define OWN_F_KERNELS(K, id, OT, EXPR)
#define OWN_N_KERNELS OWN_F_KERNELS
#define OWN_A_KERNELS OWN_F_KERNELS
#define NONE_KERNELS OWN_F_KERNELS
#define SAME_TYPE(T) T
#define BOOL_TYPE(T) bool
#define UNARY_KERNELS(id, cpu, EXPR) cpu##_KERNELS(UNARY, id, SAME_TYPE, EXPR)
#define BINARY_KERNELS(id, cpu, EXPR) cpu##_KERNELS(BINARY, id, SAME_TYPE, EXPR)
#define COMPARE_KERNELS(id, cpu, EXPR) cpu##_KERNELS(BINARY, id, BOOL_TYPE, EXPR)
#define SELECT_KERNELS(id, cpu, EXPR)
#define CAST_KERNELS(id, cpu, EXPR)
#define OTHER_KERNELS(id, cpu, EXPR)
#define OP(id, name, arity, flags, saves, infer, fwd, bwd, kind, call, cpu, formula) \
    kind##_KERNELS(id, cpu, formula)
#include "ops/ops.def"
#undef OP

/* The integer kernels of NI, AI and AB ops: int64 arithmetic wraps modulo
 * 2^64, as PyTorch's does (in uint64: signed overflow is undefined in C;
 * INT64_MIN's negation stays INT64_MIN); bool adds and takes the maximum
 * as "or", multiplies and takes the minimum as "and" */
UNARY(k_NEG_i64, int64_t, int64_t, (int64_t)(0 - (uint64_t)x))
UNARY(k_ABS_i64, int64_t, int64_t, x < 0 ? (int64_t)(0 - (uint64_t)x) : x)
BINARY(k_ADD_i64, int64_t, int64_t, (int64_t)((uint64_t)x + (uint64_t)y))
BINARY(k_ADD_b, bool, bool, x || y)
BINARY(k_SUB_i64, int64_t, int64_t, (int64_t)((uint64_t)x - (uint64_t)y))
BINARY(k_MUL_i64, int64_t, int64_t, (int64_t)((uint64_t)x * (uint64_t)y))
BINARY(k_MUL_b, bool, bool, x && y)
BINARY(k_MAXIMUM_b, bool, bool, x || y)
BINARY(k_MINIMUM_b, bool, bool, x && y)

/* dtype conversions, conv_FROM_TO (the cast op, copies between dtypes):
 * as C converts, except float to int64, tg_f64_to_i64 (NaN and out of range
 * give INT64_MIN, as PyTorch's conversion does on x86-64), and to bool, x != 0 */
#define CONV_FROM(sn, S)                                                      \
    UNARY(conv_##sn##_f32, S, float, (float)x) UNARY(conv_##sn##_f64, S, double, (double)x) \
    UNARY(conv_##sn##_i64, S, int64_t, tg_f64_to_i64((double)x)) UNARY(conv_##sn##_b, S, bool, x != 0)
UNARY(conv_i64_f32, int64_t, float, (float)x)
UNARY(conv_i64_f64, int64_t, double, (double)x)
UNARY(conv_i64_i64, int64_t, int64_t, x)
UNARY(conv_i64_b, int64_t, bool, x != 0)
CONV_FROM(f32, float)
CONV_FROM(f64, double)
CONV_FROM(b, bool)
#define CONV_ROW(sn, S) {conv_##sn##_f32##S, conv_##sn##_f64##S, conv_##sn##_i64##S, conv_##sn##_b##S}
const tg_kernel_fn tg_cpu_conv[TG_NDTYPES][TG_NDTYPES] = {
    [TG_FLOAT32] = CONV_ROW(f32, ), [TG_FLOAT64] = CONV_ROW(f64, ),
    [TG_INT64] = CONV_ROW(i64, ), [TG_BOOL] = CONV_ROW(b, ),
};
/* tg_f64_to_i64 is the library's: generated code has no text for it */
const char *const tg_cpu_conv_src[TG_NDTYPES][TG_NDTYPES] = {
    [TG_FLOAT32] = {conv_f32_f32_src, conv_f32_f64_src, NULL, conv_f32_b_src},
    [TG_FLOAT64] = {conv_f64_f32_src, conv_f64_f64_src, NULL, conv_f64_b_src},
    [TG_INT64] = CONV_ROW(i64, _src), [TG_BOOL] = CONV_ROW(b, _src),
};

/* The OWN kernels: clamp, pow, pow's backward and where. */
#define CLAMP_ATTRS(F, T) F(x, T, at->clamp.lo, at->clamp.hi, at->clamp.has_lo, at->clamp.has_hi)
/* int64's bounds saturated first: 9223372036854775807 is the double 2^63,
 * which no int64 holds (converting it is undefined) */
static inline int64_t clamp_bound_i64(double v)
{
    return v >= 0x1p63 ? INT64_MAX : !(v >= -0x1p63) ? INT64_MIN : (int64_t)v;
}
#define CLAMP_ATTRS_I64(F, T) F(x, T, clamp_bound_i64(at->clamp.lo), clamp_bound_i64(at->clamp.hi), \
                                at->clamp.has_lo, at->clamp.has_hi)
#undef UNARY
#define UNARY(NAME, T, OT, EXPR)                                              \
    static void NAME(KARGS)                                                   \
    {                                                                         \
        OT *o = o_;                                                           \
        const T *p = in[0];                                                   \
        int64_t sx = s[0];                                                    \
        for (int64_t i = 0; i < n; i++) { T x = p[i * sx]; o[i] = (EXPR); }   \
    }
UNARY(k_CLAMP_f32, float, float, CLAMP_ATTRS(TG_CLAMP_FLOAT, float))
UNARY(k_CLAMP_f64, double, double, CLAMP_ATTRS(TG_CLAMP_FLOAT, double))
UNARY(k_CLAMP_i64, int64_t, int64_t, CLAMP_ATTRS_I64(TG_CLAMP, int64_t))

/* pow by a constant exponent: the shortcuts of tg_formulas.h, each with a
 * loop of its own; POW_APPLY(the formula of x) for the exponent pow_e */
#define POW_IF(e, EXPR) if (pow_e == (e)) POW_APPLY(EXPR);
#define POW_CONST(EXPR)                                                       \
    do {                                                                      \
        if (sa == 1)                                                          \
            for (int64_t i = 0; i < n; i++) { __typeof__(*o) x = pa[i]; o[i] = (EXPR); } \
        else                                                                  \
            for (int64_t i = 0; i < n; i++) { __typeof__(*o) x = pa[i * sa]; o[i] = (EXPR); } \
        return;                                                               \
    } while (0)
#define POW_KERNEL(NAME, T, POW)                                              \
    CLONES static void NAME(KARGS)                                            \
    {                                                                         \
        T *o = o_;                                                            \
        const T *pa = in[0], *pb = in[1];                                     \
        int64_t sa = s[0], sb = s[1];                                         \
        (void)at;                                                             \
        if (sb == 0) {                                                        \
            T pow_e = pb[0];                                                  \
            TG_POW_SHORTCUTS(POW_IF)                                          \
        }                                                                     \
        for (int64_t i = 0; i < n; i++)                                       \
            o[i] = POW(pa[i * sa], pb[i * sb]);                               \
    }
#define POW_APPLY POW_CONST
POW_KERNEL(k_POW_f32, float, powf)
POW_KERNEL(k_POW_f64, double, pow)
#undef POW_APPLY

/* integer power by squaring; PyTorch refuses negative exponents up front */
static int64_t ipow(int64_t b, int64_t e)
{
    uint64_t r = 1, ub = (uint64_t)b;
    if (e < 0)
        return b == 1 ? 1 : b == -1 ? ((e & 1) ? -1 : 1) : 0;
    while (e) {
        if (e & 1)
            r *= ub;
        ub *= ub;
        e >>= 1;
    }
    return (int64_t)r;
}
BINARY(k_POW_i64, int64_t, int64_t, ipow(x, y))

/* pow's backward, g * (e * x**(e-1)), in the order of operations of the
 * formula it replaces, with pow's shortcuts for the exponent e-1 */
#define POW_BW_CONST(EXPR)                                                    \
    do {                                                                      \
        if (sg == 0 && sx == 1) {                                             \
            __typeof__(*o) g = pg[0];                                         \
            for (int64_t i = 0; i < n; i++) { __typeof__(*o) x = px[i]; o[i] = g * (e * (EXPR)); } \
        } else                                                                \
            for (int64_t i = 0; i < n; i++) {                                 \
                __typeof__(*o) g = pg[i * sg], x = px[i * sx];                \
                o[i] = g * (e * (EXPR));                                      \
            }                                                                 \
        return;                                                               \
    } while (0)
#define POW_BW_KERNEL(NAME, T, POW)                                           \
    CLONES static void NAME(KARGS)                                            \
    {                                                                         \
        T *o = o_;                                                            \
        const T *pg = in[0], *px = in[1];                                     \
        int64_t sg = s[0], sx = s[1];                                         \
        T e = (T)at->pow.exponent, em1 = e - 1, pow_e = em1;                  \
        TG_POW_SHORTCUTS(POW_IF)                                              \
        POW_BW_CONST(POW(x, em1));                                            \
    }
#define POW_APPLY POW_BW_CONST
POW_BW_KERNEL(k_POW_BW_f32, float, powf)
POW_BW_KERNEL(k_POW_BW_f64, double, pow)
#undef POW_APPLY

/* where(cond, a, b) */
#define WHERE(NAME, T)                                                        \
    CLONES static void NAME(KARGS)                                            \
    {                                                                         \
        T *o = o_;                                                            \
        const bool *c = in[0];                                                \
        const T *pa = in[1], *pb = in[2];                                     \
        (void)at;                                                             \
        if (s[0] == 1 && s[1] == 1 && s[2] == 0) {                            \
            T b = pb[0];                                                      \
            for (int64_t i = 0; i < n; i++)                                   \
                o[i] = c[i] ? pa[i] : b;                                      \
        } else if (s[0] == 1 && s[1] == 0 && s[2] == 1) {                     \
            T a = pa[0];                                                      \
            for (int64_t i = 0; i < n; i++)                                   \
                o[i] = c[i] ? a : pb[i];                                      \
        } else if (s[0] == 1 && s[1] == 1 && s[2] == 1) {                     \
            for (int64_t i = 0; i < n; i++)                                   \
                o[i] = c[i] ? pa[i] : pb[i];                                  \
        } else                                                                \
            for (int64_t i = 0; i < n; i++)                                   \
                o[i] = c[i * s[0]] ? pa[i * s[1]] : pb[i * s[2]];             \
    }
WHERE(k_WHERE_f32, float)
WHERE(k_WHERE_f64, double)
WHERE(k_WHERE_i64, int64_t)
WHERE(k_WHERE_b, bool)

/* the kernel table, and the same shape of table of their expressions (S is
 * empty or _src), by ops.def's cpu column; an empty slot: no kernel */
#define F_ROW(id, S) {[TG_FLOAT32] = k_##id##_f32##S, [TG_FLOAT64] = k_##id##_f64##S}
#define N_ROW(id, S) {[TG_FLOAT32] = k_##id##_f32##S, [TG_FLOAT64] = k_##id##_f64##S, [TG_INT64] = k_##id##_i64##S}
#define A_ROW(id, S)                                                          \
    {[TG_FLOAT32] = k_##id##_f32##S, [TG_FLOAT64] = k_##id##_f64##S, [TG_INT64] = k_##id##_i64##S, \
     [TG_BOOL] = k_##id##_b##S}
#define NI_ROW N_ROW
#define AI_ROW A_ROW
#define AB_ROW A_ROW
#define OWN_F_ROW F_ROW
#define OWN_N_ROW N_ROW
#define OWN_A_ROW A_ROW
#define NONE_ROW(id, S) {0}

const tg_kernel_fn tg_cpu_kernels[TG_NOPS][TG_NDTYPES] = {
#define OP(id, name, arity, flags, saves, infer, fwd, bwd, kind, call, cpu, formula) [TG_OP_##id] = cpu##_ROW(id, ),
#include "ops/ops.def"
#undef OP
};

/* no text: clamp reads its attributes; float pow and pow's backward choose
 * a formula by the exponent (tg_cpu_pow_src gives it) */
#define k_CLAMP_f32_src NULL
#define k_CLAMP_f64_src NULL
#define k_CLAMP_i64_src NULL
#define k_POW_f32_src NULL
#define k_POW_f64_src NULL
#define k_POW_BW_f32_src NULL
#define k_POW_BW_f64_src NULL
#define k_WHERE_f32_src "x ? y : z"
#define k_WHERE_f64_src k_WHERE_f32_src
#define k_WHERE_i64_src k_WHERE_f32_src
#define k_WHERE_b_src k_WHERE_f32_src
const char *const tg_cpu_kernel_src[TG_NOPS][TG_NDTYPES] = {
#define OP(id, name, arity, flags, saves, infer, fwd, bwd, kind, call, cpu, formula) [TG_OP_##id] = cpu##_ROW(id, _src),
#include "ops/ops.def"
#undef OP
};

/* The formula pow(x, y) takes for a constant exponent y, or pow's backward
 * (g * (e * x**em1), em1 = e - 1), as text over x, y, g, e and em1: the
 * kernels' own shortcuts, chosen by the exponent in the kernel's dtype. */
#define RETURN_TEXT(EXPR) return bw ? "g * (e * (" #EXPR "))" : #EXPR
#define POW_APPLY RETURN_TEXT
const char *tg_cpu_pow_src(tg_dtype dt, double exponent, bool bw)
{
    if (dt == TG_FLOAT32) {
        float e = (float)exponent, em1 = e - 1, pow_e = bw ? em1 : e;
        TG_POW_SHORTCUTS(POW_IF)
        return bw ? "g * (e * (powf(x, em1)))" : "powf(x, y)";
    }
    if (dt == TG_FLOAT64) {
        double e = exponent, em1 = e - 1, pow_e = bw ? em1 : e;
        TG_POW_SHORTCUTS(POW_IF)
        return bw ? "g * (e * (pow(x, em1)))" : "pow(x, y)";
    }
    return NULL;
}
