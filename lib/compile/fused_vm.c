/* fused_vm.c -- the plan's blocks without generated code: chains of
 * arithmetic ops run in the processor's registers, the other ops through
 * their eager kernels.
 *
 * Op by op through the kernels, every op writes a whole block to memory
 * and the next reads it back: the loads and stores, not the arithmetic,
 * set the pace.  Here consecutive ops of plain arithmetic (+ - * /, neg,
 * pow by 2, 3, 1, -1, -2 and pow's backward for them, in float32 or
 * float64) that each read the one before become a chain of instructions
 * over an accumulator of a few vector registers, with two banks of as
 * many that keep a value for a later op of the same chain
 * (fused_vm_chain.h): a value goes to memory only where a kernel or
 * another chain reads it, or both banks are taken; an output goes
 * straight to its tensor, a summed one into the eager sum's lanes.  An
 * instruction is dispatched once per chunk, not per element.
 *
 * Every instruction is its op's kernel expression (cpu_kernels.c) over
 * the same operands in the same order, in the op's type, compiled with
 * the kernels' flags (no contraction: each operation rounds once), so the
 * values are the kernels' to the last bit (but for which of two NaNs an
 * operation keeps, which is the compiler's choice in the kernels too). */
#include "fused.h"
#include <string.h>
#ifdef __SSE2__
#include <immintrin.h>
#endif

_Static_assert(TG_FUSE_BLOCK % TG_VM_CHUNK == 0, "a block is whole chunks");

/* The instructions: KERNEL runs register reg's op through its kernel over
 * the whole block; the others run chunk by chunk, on the float32
 * accumulator (F_) or the float64 one (D_).  For a binary op, A is the
 * accumulator, R register reg's values, C the constant, Bk bank k:
 * ADD_A_R is acc = acc + r, ADD_R_A acc = r + acc, and so on; SAVE_Bk
 * copies the accumulator to bank k, LOAD_Bk back; SUM adds it to the
 * lanes of output out's sum. */
#define VM_FORMS(X, T, NAME) X(T##NAME##_A_R) X(T##NAME##_R_A) X(T##NAME##_A_C) X(T##NAME##_C_A) \
    X(T##NAME##_A_A) X(T##NAME##_A_B0) X(T##NAME##_B0_A) X(T##NAME##_A_B1) X(T##NAME##_B1_A)
#define VM_BINARY(X, T) VM_FORMS(X, T, ADD) VM_FORMS(X, T, SUB) VM_FORMS(X, T, MUL) VM_FORMS(X, T, DIV)
#define VM_TYPED(X, T) X(T##LOAD_R) X(T##LOAD_C) X(T##LOAD_B0) X(T##LOAD_B1) X(T##SAVE_B0) X(T##SAVE_B1) \
    X(T##STORE) X(T##STORE_OUT) X(T##SUM) X(T##NEG) X(T##SQ) X(T##CUBE) X(T##RECIP) X(T##RECIP_SQ) VM_BINARY(X, T)
/* the same names without a prefix, for fused_vm_chain.h */
#define VM_TYPED_NAMES(X) VM_TYPED(X, )
#define VM_NAME(c) VM_##c,
/* VM_END closes a run of chunked instructions */
enum { VM_KERNEL, VM_END, VM_TYPED(VM_NAME, F_) VM_TYPED(VM_NAME, D_) VM_NCODES };

/* the binary ops' first codes, in VM_BINARY's order; forms follow (Bk:
 * bank k, a second set of registers that keeps a value for a later op of
 * the same run) */
enum { FORM_A_R, FORM_R_A, FORM_A_C, FORM_C_A, FORM_A_A, FORM_A_B0, FORM_B0_A, FORM_A_B1, FORM_B1_A, NFORMS };
#define VM_NBANKS 2

static int binary_code(int op, bool f64)
{
    int first = f64 ? VM_D_ADD_A_R : VM_F_ADD_A_R;
    switch (op) {
    case TG_OP_ADD: return first;
    case TG_OP_SUB: return first + NFORMS;
    case TG_OP_MUL: return first + 2 * NFORMS;
    case TG_OP_DIV: return first + 3 * NFORMS;
    default: return -1;
    }
}

/* ---- running ---- */

/* M(k, ...) for each of an accumulator's vectors */
#define REP4_(M, a, X, Y) M(0, a, X, Y) M(1, a, X, Y) M(2, a, X, Y) M(3, a, X, Y)
#define REP8_(M, a, X, Y) REP4_(M, a, X, Y) M(4, a, X, Y) M(5, a, X, Y) M(6, a, X, Y) M(7, a, X, Y)
#define LOAD_R_(k, a, V, _) memcpy(&a##k, p + k * sizeof(V), sizeof(V));
#define STORE_(k, a, V, _) memcpy(p + k * sizeof(V), &a##k, sizeof(V));
#define STREAM_(k, a, V, _) VM_STREAM(q + k * sizeof(V), a##k);
#define SET_(k, a, cv, _) a##k = cv;
#define UN_(k, a, F, one) a##k = F(a##k, one);
#define NEG_(x, one) (-(x))
#define SQ_(x, one) ((x) * (x))
#define CUBE_(x, one) ((x) * (x) * (x))
#define RECIP_(x, one) ((one) / (x))
#define RECIP_SQ_(x, one) ((one) / ((x) * (x)))
#define A_R_(k, a, V, OP) { V r_; memcpy(&r_, p + k * sizeof(V), sizeof r_); a##k = a##k OP r_; }
#define R_A_(k, a, V, OP) { V r_; memcpy(&r_, p + k * sizeof(V), sizeof r_); a##k = r_ OP a##k; }
#define A_C_(k, a, cv, OP) a##k = a##k OP cv;
#define C_A_(k, a, cv, OP) a##k = cv OP a##k;
#define A_A_(k, a, V, OP) a##k = a##k OP a##k;
#define A_B_(k, a, b, OP) a##k = a##k OP b##k;
#define B_A_(k, a, b, OP) a##k = b##k OP a##k;
#define MOVE_(k, to, from, _) to##k = from##k;
/* adds accumulator vector k (its VM_HALVES halves, as doubles) to the
 * chunk's lane vectors lv, in element order (fused_vm_chain.h's SUM) */
#define SUM_ADD_(k, a, lv, _) SUM_HALF_(k, a, lv, 0) SUM_HALF_IF2_(k, a, lv)
/* a vector to q (16-byte aligned: the tensors' data are) with
 * non-temporal stores of 16 bytes, its bits as they are */
#ifdef __SSE2__
#define STREAM_128(q, v) _mm_stream_ps((float *)(q), (__m128)(v))
#define STREAM_256(q, v)                                                      \
    do {                                                                      \
        __m256 w_ = (__m256)(v);                                              \
        _mm_stream_ps((float *)(q), _mm256_extractf128_ps(w_, 0));            \
        _mm_stream_ps((float *)(q) + 4, _mm256_extractf128_ps(w_, 1));        \
    } while (0)
#define STREAM_512(q, v)                                                      \
    do {                                                                      \
        __m512 w_ = (__m512)(v);                                              \
        _mm_stream_ps((float *)(q), _mm512_extractf32x4_ps(w_, 0));           \
        _mm_stream_ps((float *)(q) + 4, _mm512_extractf32x4_ps(w_, 1));       \
        _mm_stream_ps((float *)(q) + 8, _mm512_extractf32x4_ps(w_, 2));       \
        _mm_stream_ps((float *)(q) + 12, _mm512_extractf32x4_ps(w_, 3));      \
    } while (0)
#else
#define STREAM_128(q, v) memcpy((q), &(v), sizeof(v))
#endif

static float F_c_of(const tg_vm_ins *I) { return I->F_c; }
static double D_c_of(const tg_vm_ins *I) { return I->D_c; }

/* the chain loops: per vector width, one per float type
 * (fused_vm_isa.h) */
#if defined(__x86_64__) && !defined(TG_NO_CLONES) && !defined(__clang__)
#define VM_TARGET __attribute__((target("avx512f")))
#define VM_VBYTES 64
#define VM_NACC 8 /* and 2 banks of 8: 24 of its 32 registers */
#define VM_REP REP8_
#define VM_STREAM STREAM_512
#define VM_F32 chain_avx512_f32
#define VM_F64 chain_avx512_f64
#include "fused_vm_isa.h"
#define VM_TARGET __attribute__((target("avx2")))
#define VM_VBYTES 32
#define VM_NACC 4 /* and the banks': 12 of its 16 */
#define VM_REP REP4_
#define VM_STREAM STREAM_256
#define VM_F32 chain_avx2_f32
#define VM_F64 chain_avx2_f64
#include "fused_vm_isa.h"
#endif
#define VM_TARGET
#define VM_VBYTES 16
#define VM_NACC 4
#define VM_REP REP4_
#define VM_STREAM STREAM_128
#define VM_F32 chain_base_f32
#define VM_F64 chain_base_f64
#include "fused_vm_isa.h"

typedef const tg_vm_ins *(*chain_fn)(const tg_vm_ins *, const void *const *, const tg_vm_span *);
typedef struct {
    chain_fn f32, f64;
} chain_fns;

/* the widest vectors the processor has */
static chain_fns pick_chain(void)
{
#if defined(__x86_64__) && !defined(TG_NO_CLONES) && !defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return (chain_fns){chain_avx512_f32, chain_avx512_f64};
    if (__builtin_cpu_supports("avx2"))
        return (chain_fns){chain_avx2_f32, chain_avx2_f64};
#endif
    return (chain_fns){chain_base_f32, chain_base_f64};
}

/* the run of instructions from ins to its VM_END, chunk by chunk */
/* (returns its VM_END) */
static const tg_vm_ins *run_chain(const tg_vm_ins *ins, const void *const *ptr, const tg_vm_span *sp)
{
    static chain_fn chosen[2];
    chain_fn fn = __atomic_load_n(&chosen[ins->code >= VM_D_LOAD_R], __ATOMIC_RELAXED);
    if (!fn) { /* the same answer in every thread */
        chain_fns c = pick_chain();
        __atomic_store_n(&chosen[0], c.f32, __ATOMIC_RELAXED);
        __atomic_store_n(&chosen[1], c.f64, __ATOMIC_RELAXED);
        fn = ins->code >= VM_D_LOAD_R ? c.f64 : c.f32;
    }
    return fn(ins, ptr, sp);
}

void tg_fused_vm_run(const tg_fused *F, const void **ptr, const int64_t *stride, const tg_vm_span *span)
{
    tg_vm_span sp = *span;
    for (int pc = 0; pc < F->nvm;) {
        const tg_vm_ins *I = &F->vm[pc];
        if (I->code == VM_KERNEL) { /* over the span's elements */
            const tg_reg *R = &F->r[I->reg];
            const void *in[3];
            int64_t st[3];
            for (int k = 0; k < R->nin; k++) {
                const tg_reg *A = &F->r[R->in[k]];
                st[k] = stride[R->in[k]];
                in[k] = (const char *)ptr[R->in[k]] + sp.from * st[k] * (int64_t)tg_dtype_size(A->dtype);
            }
            R->kernel((sp.to < sp.len ? sp.to : sp.len) - sp.from, (char *)ptr[I->reg] + sp.from * (int64_t)tg_dtype_size(R->dtype), in, st,
                      &R->attrs);
            pc++;
            continue;
        }
        pc = (int)(run_chain(I, ptr, &sp) - F->vm) + 1;
        sp.npf = 0; /* asked for once */
    }
}

/* ---- sums ---- */

/* adds a block's len values (one value len times, stride 0) to the lanes
 * of the eager sum, as it adds them (see SUM_BLOCK) */
#define ADD_TO_LANES(T, L)                                                     \
    do {                                                                      \
        const T *v = p;                                                       \
        double a[TG_SUM_LANES];                                               \
        memcpy(a, acc, sizeof a);                                             \
        int64_t i = 0;                                                        \
        if (stride)                                                           \
            for (; i + (L) <= len; i += (L))                                  \
                for (int j = 0; j < (L); j++)                                 \
                    a[j] += v[i + j];                                         \
        else                                                                  \
            for (; i + (L) <= len; i += (L))                                  \
                for (int j = 0; j < (L); j++)                                 \
                    a[j] += v[0];                                             \
        for (; i < len; i++)                                                  \
            a[0] += v[i * stride];                                            \
        memcpy(acc, a, sizeof a);                                             \
    } while (0)
TG_CLONES void tg_fused_add_to_lanes(double *acc, const void *p, int64_t stride, int64_t len, tg_dtype dt)
{
    if (dt == TG_FLOAT32)
        ADD_TO_LANES(float, TG_SUM_LANES_OF(TG_FLOAT32));
    else
        ADD_TO_LANES(double, TG_SUM_LANES_OF(TG_FLOAT64));
}

/* ---- building ---- */

/* what pow by the constant e becomes (the kernels' shortcuts that are
 * plain arithmetic, tg_formulas.h), or -1; 0: x itself */
static int pow_shortcut(double e, bool f64)
{
    double v = f64 ? e : (double)(float)e;
    if (v == 2)
        return VM_F_SQ;
    if (v == 3)
        return VM_F_CUBE;
    if (v == 1)
        return 0;
    if (v == -1)
        return VM_F_RECIP;
    if (v == -2)
        return VM_F_RECIP_SQ;
    return -1;
}

/* a float32 code's float64 twin */
static int typed(int fcode, bool f64) { return f64 ? fcode - VM_F_LOAD_R + VM_D_LOAD_R : fcode; }

/* the instructions so far, and where the values are at their end */
typedef struct {
    tg_vm_ins *ins;
    int n;
    int acc;              /* the op whose values the accumulator holds, or -1 */
    int bank[VM_NBANKS];  /* the op each bank holds, or -1 */
} prog;

static void emit(prog *P, int code, int reg, double c)
{
    tg_vm_ins *I = &P->ins[P->n++];
    I->code = (uint16_t)code;
    I->reg = reg;
    I->out = -1;
    I->F_c = (float)c;
    I->D_c = c;
}

/* Can register i's op run as instructions: plain arithmetic of one float
 * type over full-size values and constants of that type? */
static bool chainable(const tg_fused *F, int i)
{
    const tg_reg *R = &F->r[i];
    if (R->kind != R_OP || R->scalar || (R->dtype != TG_FLOAT32 && R->dtype != TG_FLOAT64) || R->kdtype != R->dtype)
        return false;
    for (int k = 0; k < R->nin; k++) {
        const tg_reg *A = &F->r[tg_fused_owner(F, R->in[k])];
        if (A->dtype != R->dtype || (A->kind != R_CONST && (A->scalar || A->kind == R_ALIAS)))
            return false;
    }
    bool f64 = R->dtype == TG_FLOAT64;
    switch (R->op) {
    case TG_OP_ADD: case TG_OP_SUB: case TG_OP_MUL: case TG_OP_DIV:
        return true;
    case TG_OP_NEG:
        return true;
    case TG_OP_POW: {
        const tg_reg *e = &F->r[tg_fused_owner(F, R->in[1])];
        return e->kind == R_CONST && F->r[tg_fused_owner(F, R->in[0])].kind != R_CONST &&
               pow_shortcut(e->value, f64) >= 0;
    }
    case TG_OP_POW_BW: {
        double e = R->attrs.pow.exponent;
        double em1 = f64 ? e - 1 : (double)((float)e - 1);
        return pow_shortcut(em1, f64) >= 0;
    }
    default:
        return false;
    }
}

static bool is_const(const tg_fused *F, int r) { return F->r[r].kind == R_CONST; }

/* the bank that holds operand r (an owner), or -1 */
static int bank_of(const prog *P, int r)
{
    for (int k = 0; k < VM_NBANKS; k++)
        if (P->bank[k] == r)
            return k;
    return -1;
}

/* Puts operand r (an owner) in the accumulator unless it is there */
static void load(prog *P, const tg_fused *F, int r, bool f64)
{
    int k = bank_of(P, r);
    if (r == P->acc)
        return;
    if (k >= 0)
        emit(P, typed(VM_F_LOAD_B0 + k, f64), -1, 0);
    else if (is_const(F, r))
        emit(P, typed(VM_F_LOAD_C, f64), -1, F->r[r].value);
    else
        emit(P, typed(VM_F_LOAD_R, f64), r, 0);
}

/* acc = r OP acc (first) or acc OP r, r not the accumulator: from its
 * bank, as a constant, or from its values in memory */
static void with(prog *P, const tg_fused *F, int code, int r, bool first)
{
    int k = bank_of(P, r);
    int form = k >= 0 ? (first ? FORM_B0_A : FORM_A_B0) + 2 * k
               : is_const(F, r) ? (first ? FORM_C_A : FORM_A_C)
                                : (first ? FORM_R_A : FORM_A_R);
    emit(P, code + form, k >= 0 ? -1 : r, F->r[r].value);
}

/* acc = a OP b, one of them possibly the accumulator's value */
static void binary(prog *P, const tg_fused *F, int op, int a, int b, bool f64)
{
    int code = binary_code(op, f64);
    if (a == P->acc && b == P->acc)
        emit(P, code + FORM_A_A, -1, 0);
    else if (b == P->acc)
        with(P, F, code, a, true);
    else {
        load(P, F, a, f64);
        with(P, F, code, b, false);
    }
}

/* Does op j take up op i's value from the accumulator? */
static bool continues(const tg_fused *F, const bool *chain, int j, int i)
{
    if (j >= F->n || !chain[j] || F->r[j].dtype != F->r[i].dtype)
        return false;
    const tg_reg *R = &F->r[j];
    bool reads = false;
    for (int k = 0; k < R->nin; k++)
        reads = reads || tg_fused_owner(F, R->in[k]) == i;
    /* pow's backward computes from x first: g must not be the accumulator */
    if (R->op == TG_OP_POW_BW && tg_fused_owner(F, R->in[0]) == i)
        return false;
    return reads;
}

/* The next op after i (or F->n) */
static int next_op(const tg_fused *F, int i)
{
    for (int j = i + 1; j < F->n; j++)
        if (F->r[j].kind == R_OP)
            return j;
    return F->n;
}

/* the instructions of op i, its value left in the accumulator */
static void emit_op(prog *P, const tg_fused *F, int i)
{
    const tg_reg *R = &F->r[i];
    bool f64 = R->dtype == TG_FLOAT64;
    int a = tg_fused_owner(F, R->in[0]), b = R->nin > 1 ? tg_fused_owner(F, R->in[1]) : -1;
    switch (R->op) {
    case TG_OP_NEG:
        load(P, F, a, f64);
        emit(P, typed(VM_F_NEG, f64), -1, 0);
        break;
    case TG_OP_POW: {
        int s = pow_shortcut(F->r[b].value, f64);
        load(P, F, a, f64);
        if (s > 0)
            emit(P, typed(s, f64), -1, 0);
        break;
    }
    case TG_OP_POW_BW: { /* g * (e * f(x)), f pow's shortcut for e - 1 */
        double e = f64 ? R->attrs.pow.exponent : (double)(float)R->attrs.pow.exponent;
        double em1 = f64 ? e - 1 : (double)((float)e - 1);
        int s = pow_shortcut(em1, f64);
        load(P, F, b, f64);
        if (s > 0)
            emit(P, typed(s, f64), -1, 0);
        emit(P, binary_code(TG_OP_MUL, f64) + FORM_C_A, -1, e);
        with(P, F, binary_code(TG_OP_MUL, f64), a, true);
        break;
    }
    default:
        binary(P, F, R->op, a, b, f64);
    }
    P->acc = i;
}

/* The runs of instructions between kernels (and changes of type): run[i]
 * for op i; a bank keeps a value within its run only.  mem[i]: op i's
 * values are read by a kernel or another run, so they go to memory. */
static void find_runs(const tg_fused *F, const bool *chain, int *run, bool *mem)
{
    int cur = 0, prev = -1; /* the previous op */
    for (int i = 0; i < F->n; i++) {
        if (F->r[i].kind != R_OP)
            continue;
        if (!chain[i] || prev < 0 || !chain[prev] || F->r[prev].dtype != F->r[i].dtype)
            cur++;
        run[i] = cur;
        prev = i;
        for (int k = 0; k < F->r[i].nin; k++) {
            int o = tg_fused_owner(F, F->r[i].in[k]);
            if (F->r[o].kind == R_OP && (!chain[i] || run[o] != run[i]))
                mem[o] = true;
        }
    }
}

/* After op i: keeps its values where its later readers find them.  Where
 * they are read outside this run, they go to memory; else, unless the
 * next op alone reads them, from the accumulator, to a free bank, or
 * memory when none is. */
static void keep(prog *P, const tg_fused *F, const bool *chain, const int *uses, const bool *mem, int i)
{
    const tg_reg *R = &F->r[i];
    bool f64 = R->dtype == TG_FLOAT64;
    int j = next_op(F, i), reads = 0;
    for (int k = 0; j < F->n && k < F->r[j].nin; k++)
        reads += tg_fused_owner(F, F->r[j].in[k]) == i;
    bool later = uses[i] && (!continues(F, chain, j, i) || uses[i] != reads);
    if (mem[i]) {
        emit(P, typed(VM_F_STORE, f64), i, 0);
        return;
    }
    if (!later)
        return;
    int k = bank_of(P, -1);
    if (k >= 0) {
        emit(P, typed(VM_F_SAVE_B0 + k, f64), -1, 0);
        P->bank[k] = i;
    } else
        emit(P, typed(VM_F_STORE, f64), i, 0);
}

/* Frees the banks of values that no later op reads (left: the reads of
 * each value not yet emitted), once op i has read its operands */
static void release(prog *P, const tg_fused *F, int *left, int i)
{
    for (int k = 0; k < F->r[i].nin; k++)
        left[tg_fused_owner(F, F->r[i].in[k])]--;
    for (int k = 0; k < VM_NBANKS; k++)
        if (P->bank[k] >= 0 && left[P->bank[k]] == 0)
            P->bank[k] = -1;
}

bool tg_fused_vm_build(tg_fused *F)
{
    int n = F->n;
    bool *chain = tg_calloc((size_t)n + 1, sizeof *chain), *mem = tg_calloc((size_t)n + 1, sizeof *mem);
    int *uses = tg_calloc((size_t)n + 1, sizeof *uses), *left = tg_calloc((size_t)n + 1, sizeof *left);
    int *run = tg_calloc((size_t)n + 1, sizeof *run);
    /* at most 5 instructions an op (pow's backward: load, f, two products),
     * its store or save and a store for each output it is */
    prog P = {tg_calloc((size_t)n * 6 + (size_t)F->nvars + 2, sizeof *P.ins), 0, -1, {-1, -1}};
    /* vm_out, then vm_sum */
    F->vm_out = tg_calloc(2 * ((size_t)F->nvars + 1), sizeof *F->vm_out);
    F->vm_sum = F->vm_out ? F->vm_out + F->nvars + 1 : NULL;
    if (!chain || !mem || !uses || !left || !run || !P.ins || !F->vm_out) {
        tg_free(F->vm_out);
        F->vm_out = F->vm_sum = NULL;
        tg_free(chain);
        tg_free(mem);
        tg_free(uses);
        tg_free(left);
        tg_free(run);
        tg_free(P.ins);
        tg_error_clear();
        return false;
    }
    int nchain = 0;
    for (int i = 0; i < n; i++) {
        chain[i] = chainable(F, i);
        nchain += chain[i];
        for (int k = 0; F->r[i].kind == R_OP && k < F->r[i].nin; k++)
            uses[tg_fused_owner(F, F->r[i].in[k])]++;
    }
    memcpy(left, uses, (size_t)n * sizeof *left);
    find_runs(F, chain, run, mem);
    int prev = -1;
    for (int i = 0; i < n; i++) {
        const tg_reg *R = &F->r[i];
        if (R->kind != R_OP)
            continue;
        if (prev >= 0 && run[prev] != run[i]) /* a new run: nothing in registers */
            P = (prog){P.ins, P.n, -1, {-1, -1}};
        prev = i;
        if (!chain[i]) {
            emit(&P, VM_KERNEL, i, 0);
            release(&P, F, left, i);
            continue;
        }
        emit_op(&P, F, i);
        release(&P, F, left, i);
        /* an output of all the elements goes to its tensor (STORE_OUT) */
        bool f64 = R->dtype == TG_FLOAT64;
        for (int k = 0; k <= F->nvars; k++) {
            int o = k == 0 ? F->value_reg : F->grad_reg[k - 1];
            if (o < 0 || tg_fused_owner(F, o) != i)
                continue;
            bool summed = k == 0 ? F->sum_root : F->grad_sum[k - 1];
            emit(&P, typed(summed ? VM_F_SUM : VM_F_STORE_OUT, f64), i, 0);
            P.ins[P.n - 1].out = k;
            (summed ? F->vm_sum : F->vm_out)[k] = true;
        }
        keep(&P, F, chain, uses, mem, i);
    }
    tg_free(chain);
    tg_free(mem);
    tg_free(uses);
    tg_free(left);
    tg_free(run);
    /* a VM_END after each run of instructions of one type */
    tg_vm_ins *all = nchain ? tg_calloc((size_t)P.n * 2 + 1, sizeof *all) : NULL;
    int n_all = 0;
    for (int k = 0; all && k < P.n; k++) {
        all[n_all++] = P.ins[k];
        bool chunked = P.ins[k].code != VM_KERNEL, f64 = P.ins[k].code >= VM_D_LOAD_R;
        if (chunked && (k + 1 == P.n || P.ins[k + 1].code == VM_KERNEL || (P.ins[k + 1].code >= VM_D_LOAD_R) != f64))
            all[n_all++] = (tg_vm_ins){.code = VM_END, .reg = -1};
    }
    tg_free(P.ins);
    /* the streams' registers, located again for every block */
    int *streams = all ? tg_malloc((size_t)n * sizeof *streams) : NULL, nstreams = 0;
    for (int i = 0; streams && i < n; i++)
        if (tg_fused_stream_of(F, i) >= 0)
            streams[nstreams++] = i;
    if (!streams) { /* nothing gained over the kernels, or out of memory */
        tg_free(all);
        tg_free(F->vm_out);
        F->vm_out = F->vm_sum = NULL;
        tg_error_clear();
        return false;
    }
    F->vm = all;
    F->nvm = n_all;
    F->vm_streams = streams;
    F->nvm_streams = nstreams;
    F->vm_chained = nchain;
    return true;
}
