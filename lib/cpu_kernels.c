/* cpu_kernels.c -- the CPU backend's elementwise kernels and their table.
 *
 * Each kernel computes one contiguous run of the output (see loop.c); the
 * unit-stride and broadcast-scalar cases are separate loops so that the
 * compiler vectorises them.  float32 is computed in float32 with the C
 * library's float functions, as PyTorch computes it. */
#include "internal.h"
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

/* float unary: one expression for float32 (F) and one for float64 (D) */
#define FUN(op, F, D) UNARY(op##_f32, float, float, F) UNARY(op##_f64, double, double, D)
FUN(exp, expf(x), exp(x))
FUN(log, logf(x), log(x))
FUN(sqrt, sqrtf(x), sqrt(x))
FUN(sin, sinf(x), sin(x))
FUN(cos, cosf(x), cos(x))
FUN(tan, tanf(x), tan(x))
FUN(tanh, tanhf(x), tanh(x))
FUN(sigmoid, 1.0f / (1.0f + expf(-x)), 1.0 / (1.0 + exp(-x)))
FUN(log1p, log1pf(x), log1p(x))
FUN(expm1, expm1f(x), expm1(x))
FUN(erf, erff(x), erf(x))
/* PyTorch's softplus with beta=1, threshold=20 */
FUN(softplus, x > 20.0f ? x : log1pf(expf(x)), x > 20.0 ? x : log1p(exp(x)))

/* unary on every numeric dtype (relu and max/min propagate NaN as PyTorch) */
#define NUN(op, EXPR) UNARY(op##_f32, float, float, EXPR) UNARY(op##_f64, double, double, EXPR) \
    UNARY(op##_i64, int64_t, int64_t, EXPR)
/* int64 negation wraps (INT64_MIN stays INT64_MIN, as in PyTorch): in
 * uint64, since signed overflow is undefined in C */
UNARY(neg_f32, float, float, -x) UNARY(neg_f64, double, double, -x)
UNARY(neg_i64, int64_t, int64_t, (int64_t)(0 - (uint64_t)x))
NUN(relu, (x > 0 || x != x) ? x : 0)
UNARY(abs_f32, float, float, x < 0 ? -x : x) UNARY(abs_f64, double, double, x < 0 ? -x : x)
UNARY(abs_i64, int64_t, int64_t, x < 0 ? (int64_t)(0 - (uint64_t)x) : x)
NUN(sign, (x != x) ? x : (__typeof__(x))((x > 0) - (x < 0)))
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

/* min first, then max: with min > max every element becomes max, as in
 * PyTorch; a NaN bound is ignored alone, but with both bounds given makes
 * every element NaN (PyTorch 1.13's clamp and clamp_min/clamp_max do so;
 * lo + hi is that NaN) */
/* a bound in x's type; for int64 saturating: 9223372036854775807 is the
 * double 2^63, which no int64 holds (converting it is undefined) */
static inline int64_t clamp_bound_i64(double v)
{
    return v >= 0x1p63 ? INT64_MAX : !(v >= -0x1p63) ? INT64_MIN : (int64_t)v;
}
#define CLAMP_BOUND(x, v) _Generic((x), int64_t: clamp_bound_i64(v), default: (__typeof__(x))(v))
#define CLAMP_LO(x) ((at->clamp.has_lo && x < CLAMP_BOUND(x, at->clamp.lo)) ? CLAMP_BOUND(x, at->clamp.lo) : x)
#define CLAMP_EXPR (x != x ? x : (at->clamp.has_hi && CLAMP_LO(x) > CLAMP_BOUND(x, at->clamp.hi)) ? \
                    CLAMP_BOUND(x, at->clamp.hi) : CLAMP_LO(x))
#define CLAMP_NAN_BOUND (at->clamp.has_lo && at->clamp.has_hi && \
                         (at->clamp.lo != at->clamp.lo || at->clamp.hi != at->clamp.hi))
#define CLAMP_EXPR_F (CLAMP_NAN_BOUND ? (__typeof__(x))(at->clamp.lo + at->clamp.hi) : CLAMP_EXPR)
#undef UNARY
#define UNARY(NAME, T, OT, EXPR)                                              \
    static void NAME(KARGS)                                                   \
    {                                                                         \
        OT *o = o_;                                                           \
        const T *p = in[0];                                                   \
        int64_t sx = s[0];                                                    \
        for (int64_t i = 0; i < n; i++) { T x = p[i * sx]; o[i] = (EXPR); }   \
    }
UNARY(clamp_f32, float, float, CLAMP_EXPR_F)
UNARY(clamp_f64, double, double, CLAMP_EXPR_F)
UNARY(clamp_i64, int64_t, int64_t, CLAMP_EXPR)

/* binary arithmetic */
#define NBIN(op, EXPR) BINARY(op##_f32, float, float, EXPR) BINARY(op##_f64, double, double, EXPR) \
    BINARY(op##_i64, int64_t, int64_t, EXPR)
/* int64 arithmetic wraps modulo 2^64, as PyTorch's does (unsigned avoids C's UB) */
BINARY(add_f32, float, float, x + y)
BINARY(add_f64, double, double, x + y)
BINARY(add_i64, int64_t, int64_t, (int64_t)((uint64_t)x + (uint64_t)y))
BINARY(add_b, bool, bool, x || y)
BINARY(sub_f32, float, float, x - y)
BINARY(sub_f64, double, double, x - y)
BINARY(sub_i64, int64_t, int64_t, (int64_t)((uint64_t)x - (uint64_t)y))
BINARY(mul_f32, float, float, x * y)
BINARY(mul_f64, double, double, x * y)
BINARY(mul_i64, int64_t, int64_t, (int64_t)((uint64_t)x * (uint64_t)y))
BINARY(mul_b, bool, bool, x && y)
BINARY(div_f32, float, float, x / y)
BINARY(div_f64, double, double, x / y)
/* pow by a constant exponent takes PyTorch's shortcuts (x*x, x*x*x,
 * sqrt, reciprocals), which are also what makes its answers to the last
 * digit; other exponents call pow. */
/* APPLY(the expression of x) for each exponent E with a shortcut */
#define POW_SHORTCUTS(E, APPLY, T, SQRT)                                      \
    do {                                                                      \
        if ((E) == 2) APPLY(x * x);                                           \
        if ((E) == 3) APPLY(x * x * x);                                       \
        if ((E) == 1) APPLY(x);                                               \
        if ((E) == 0.5) APPLY(SQRT(x));                                       \
        if ((E) == -1) APPLY((T)1 / x);                                       \
        if ((E) == -2) APPLY((T)1 / (x * x));                                 \
    } while (0)
#define POW_CONST(EXPR)                                                       \
    do {                                                                      \
        if (sa == 1)                                                          \
            for (int64_t i = 0; i < n; i++) { __typeof__(*o) x = pa[i]; o[i] = (EXPR); } \
        else                                                                  \
            for (int64_t i = 0; i < n; i++) { __typeof__(*o) x = pa[i * sa]; o[i] = (EXPR); } \
        return;                                                               \
    } while (0)
#define POW_KERNEL(NAME, T, POW, SQRT)                                         \
    CLONES static void NAME(KARGS)                                            \
    {                                                                         \
        T *o = o_;                                                            \
        const T *pa = in[0], *pb = in[1];                                     \
        int64_t sa = s[0], sb = s[1];                                         \
        (void)at;                                                             \
        if (sb == 0) {                                                        \
            T e = pb[0];                                                      \
            POW_SHORTCUTS(e, POW_CONST, T, SQRT);                             \
        }                                                                     \
        for (int64_t i = 0; i < n; i++)                                       \
            o[i] = POW(pa[i * sa], pb[i * sb]);                               \
    }
POW_KERNEL(pow_f32, float, powf, sqrtf)
POW_KERNEL(pow_f64, double, pow, sqrt)

/* the fused backward formulas (ops_backward.c), in the order of operations
 * of the formulas they replace: g * (1 - y*y), g * (1 - y) * y, and
 * g * (e * x**(e-1)) with pow's shortcuts for the exponent e-1 */
BINARY(tanh_bw_f32, float, float, x * (1 - y * y))
BINARY(tanh_bw_f64, double, double, x * (1 - y * y))
BINARY(sigmoid_bw_f32, float, float, x * (1 - y) * y)
BINARY(sigmoid_bw_f64, double, double, x * (1 - y) * y)
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
#define POW_BW_KERNEL(NAME, T, POW, SQRT)                                     \
    CLONES static void NAME(KARGS)                                            \
    {                                                                         \
        T *o = o_;                                                            \
        const T *pg = in[0], *px = in[1];                                     \
        int64_t sg = s[0], sx = s[1];                                         \
        T e = (T)at->pow.exponent, em1 = e - 1;                               \
        POW_SHORTCUTS(em1, POW_BW_CONST, T, SQRT);                            \
        POW_BW_CONST(POW(x, em1));                                            \
    }
POW_BW_KERNEL(pow_bw_f32, float, powf, sqrtf)
POW_BW_KERNEL(pow_bw_f64, double, pow, sqrt)

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
BINARY(pow_i64, int64_t, int64_t, ipow(x, y))
NBIN(maximum, (x != x) ? x : (y != y) ? y : (x > y ? x : y))
NBIN(minimum, (x != x) ? x : (y != y) ? y : (x < y ? x : y))
BINARY(maximum_b, bool, bool, x || y)
BINARY(minimum_b, bool, bool, x && y)

/* comparisons give bool */
#define CMP(op, EXPR) BINARY(op##_f32, float, bool, EXPR) BINARY(op##_f64, double, bool, EXPR) \
    BINARY(op##_i64, int64_t, bool, EXPR) BINARY(op##_b, bool, bool, EXPR)
CMP(eq, x == y)
CMP(ne, x != y)
CMP(lt, x < y)
CMP(le, x <= y)
CMP(gt, x > y)
CMP(ge, x >= y)

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
WHERE(where_f32, float)
WHERE(where_f64, double)
WHERE(where_i64, int64_t)
WHERE(where_b, bool)

/* the kernel table, and the same shape of table of their expressions (S is
 * empty or _src); a kernel whose body is not one expression has no text */
#define F(op, S) {[TG_FLOAT32] = op##_f32##S, [TG_FLOAT64] = op##_f64##S}
#define N(op, S) {[TG_FLOAT32] = op##_f32##S, [TG_FLOAT64] = op##_f64##S, [TG_INT64] = op##_i64##S}
#define A(op, S) {[TG_FLOAT32] = op##_f32##S, [TG_FLOAT64] = op##_f64##S, [TG_INT64] = op##_i64##S, [TG_BOOL] = op##_b##S}
#define TABLE(S)                                                                                          \
    {                                                                                                     \
        [TG_OP_NEG] = N(neg, S), [TG_OP_EXP] = F(exp, S), [TG_OP_LOG] = F(log, S), [TG_OP_SQRT] = F(sqrt, S), \
        [TG_OP_SIN] = F(sin, S), [TG_OP_COS] = F(cos, S), [TG_OP_TAN] = F(tan, S), [TG_OP_TANH] = F(tanh, S), \
        [TG_OP_SIGMOID] = F(sigmoid, S), [TG_OP_RELU] = N(relu, S), [TG_OP_ABS] = N(abs, S),              \
        [TG_OP_SIGN] = N(sign, S), [TG_OP_LOG1P] = F(log1p, S), [TG_OP_EXPM1] = F(expm1, S),              \
        [TG_OP_ERF] = F(erf, S), [TG_OP_SOFTPLUS] = F(softplus, S), [TG_OP_CLAMP] = N(clamp, S),          \
        [TG_OP_ADD] = A(add, S), [TG_OP_SUB] = N(sub, S), [TG_OP_MUL] = A(mul, S), [TG_OP_DIV] = F(div, S), \
        [TG_OP_POW] = N(pow, S), [TG_OP_MAXIMUM] = A(maximum, S), [TG_OP_MINIMUM] = A(minimum, S),        \
        [TG_OP_EQ] = A(eq, S), [TG_OP_NE] = A(ne, S), [TG_OP_LT] = A(lt, S), [TG_OP_LE] = A(le, S),       \
        [TG_OP_GT] = A(gt, S), [TG_OP_GE] = A(ge, S), [TG_OP_WHERE] = A(where, S),                        \
        [TG_OP_TANH_BW] = F(tanh_bw, S), [TG_OP_SIGMOID_BW] = F(sigmoid_bw, S),                           \
        [TG_OP_POW_BW] = F(pow_bw, S),                                                                    \
    }

const tg_kernel_fn tg_cpu_kernels[TG_NOPS][TG_NDTYPES] = TABLE();

/* no text: clamp reads its attributes; float pow and pow's backward choose
 * a formula by the exponent (tg_cpu_pow_src gives it) */
#define clamp_f32_src NULL
#define clamp_f64_src NULL
#define clamp_i64_src NULL
#define pow_f32_src NULL
#define pow_f64_src NULL
#define pow_bw_f32_src NULL
#define pow_bw_f64_src NULL
#define where_f32_src "x ? y : z"
#define where_f64_src where_f32_src
#define where_i64_src where_f32_src
#define where_b_src where_f32_src
const char *const tg_cpu_kernel_src[TG_NOPS][TG_NDTYPES] = TABLE(_src);

/* The formula pow(x, y) takes for a constant exponent y, or pow's backward
 * (g * (e * x**em1), em1 = e - 1), as text over x, y, g, e and em1: the
 * kernels' own shortcuts, chosen by the exponent in the kernel's dtype. */
#define RETURN_TEXT(EXPR) return bw ? "g * (e * (" #EXPR "))" : #EXPR
const char *tg_cpu_pow_src(tg_dtype dt, double exponent, bool bw)
{
    if (dt == TG_FLOAT32) {
        float e = (float)exponent, em1 = e - 1;
        POW_SHORTCUTS(bw ? em1 : e, RETURN_TEXT, float, sqrtf);
        return bw ? "g * (e * (powf(x, em1)))" : "powf(x, y)";
    }
    if (dt == TG_FLOAT64) {
        double e = exponent, em1 = e - 1;
        POW_SHORTCUTS(bw ? em1 : e, RETURN_TEXT, double, sqrt);
        return bw ? "g * (e * (pow(x, em1)))" : "pow(x, y)";
    }
    return NULL;
}
