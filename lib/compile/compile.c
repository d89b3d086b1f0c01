/* compile.c -- compiled (fused) evaluation, what torch.compile does for the
 * lesson's elementwise programs: the plan's blocks (fused_plan.c) run here.
 *
 * Every block of the variables goes through the plan's registers while it
 * is in cache, and the blocks run in parallel on every core: memory is read
 * and written once (the variables in, the value and gradients out, with
 * non-temporal stores), no intermediate ever has the full size.  A block
 * runs through the plan's generated loop (fused_codegen.c: every register
 * a local variable; compiled once, jit.c) or, without a C compiler, op by
 * op through the eager kernels, its inputs prefetched a block ahead.
 *
 * Either way each op computes the eager kernel's own expression, so values
 * and gradients are the same element for element; a final sum adds block
 * partials in block order (in double), so its last digit may differ from
 * the eager sum, and it never depends on the thread count.  A program of
 * another form (reductions other than a final sum, shape ops, broadcasting
 * between variables, rand) is reported as not compilable, and the caller
 * runs it eagerly.  On the cuda device the same plan runs as one generated
 * CUDA kernel instead (fused_cuda.c). */
#include "fused.h"
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <immintrin.h>
#endif

#define TG_FUSE_RUN 32     /* consecutive blocks a thread takes at a time */
/* A scratch block's bytes, with a gap of a few cache lines after it: blocks
 * a whole number of 4 KiB pages apart would all start at the same offset
 * in a page as the inputs' blocks do, and the processor takes a load from
 * an address 4 KiB from a pending store's for one that must wait for it. */
#define SLOT_BYTES (TG_FUSE_BLOCK * 8 + 5 * 64)
/* The eager whole-tensor sum (lib/ops/ops_reduce.c) adds blocks of this
 * many elements, each in TG_SUM_LANES_OF(dtype) running double sums (lane
 * j takes the elements j, j + 64 or 8, ...; a last odd few go to lane 0),
 * combined in tg_sum_lanes_total's tree,
 * then the blocks' sums one after another; from SUM_EXACT_F32 elements of
 * float32 and SUM_EXACT_F64 of float64.  A thread's run of blocks is a
 * whole number of those blocks, so a fused sum can add the same numbers in
 * the same order: the eager sum to the last bit. */
#define SUM_BLOCK 16384
#define SUM_LANES TG_SUM_LANES
#define SUM_EXACT_F32 256
#define SUM_EXACT_F64 (2 * SUM_BLOCK)
_Static_assert(TG_FUSE_RUN * TG_FUSE_BLOCK % SUM_BLOCK == 0 && SUM_BLOCK % TG_FUSE_BLOCK == 0,
               "a run of blocks is whole eager sum blocks");

/* A thread's scratch: the op blocks, the generated loop's own memory,
 * the sums' lanes, per register a constant's value, its values' address
 * and stride, then the input streams' copies of a short block's end. */
typedef struct {
    char *blocks;
    char *jit_tmp;
    double *consts;
    const void **ptr;
    int64_t *stride;
    double *lanes; /* per summed output (the value, then each variable's gradient): SUM_LANES running sums */
    char *pad;     /* per input stream, a short block's last chunk (run_last_chunk) */
    void *mem;     /* the allocation it is in */
    bool located;  /* every register but the streams located once, for every block */
} scratch;

/* Sets where register i's values are for the block at start: a stream's
 * elements, a constant's one value (stride 0), an op's scratch block. */
static void locate(const tg_fused *F, const tg_fused_stream *S, const scratch *W, int i, int64_t start)
{
    const tg_reg *R = &F->r[i];
    W->stride[i] = 1;
    switch (R->kind) {
    case R_STREAM:
        W->ptr[i] = (const char *)S[R->stream].data + start * (int64_t)S[R->stream].esz;
        break;
    case R_CONST: {
        void *c = &W->consts[i];
        if (R->dtype == TG_FLOAT32) *(float *)c = (float)R->value;
        else if (R->dtype == TG_FLOAT64) *(double *)c = R->value;
        else if (R->dtype == TG_INT64) *(int64_t *)c = R->ivalue;
        else *(bool *)c = R->value != 0;
        W->ptr[i] = c;
        W->stride[i] = 0;
        break;
    }
    case R_ALIAS:
        locate(F, S, W, R->alias, start);
        W->ptr[i] = W->ptr[R->alias];
        W->stride[i] = W->stride[R->alias];
        break;
    default:
        W->ptr[i] = W->blocks + (size_t)R->slot * SLOT_BYTES;
    }
}

#define VM_PREFETCH_STREAMS 8 /* streams whose later blocks the instructions ask for */

/* A block shorter than TG_FUSE_BLOCK (a small tensor's, or the last one)
 * of at least VM_SHORT_MIN elements runs through the instructions too
 * (its whole chunks, then the rest as one chunk over a copy) when at
 * least VM_SHORT_CHAINED ops chain; else op by op (a --lines line: one
 * element).  Measured at 1000 float32 elements, value and gradient, a
 * call: the polynomial (11 ops chained) 0.57 -> 0.40 us, sum(x*x) (4)
 * 0.37 -> 0.33, sum(tanh(x)**2) (2) 0.53 -> 0.57: the last chunk's second
 * pass costs more than two kernels save. */
#define VM_SHORT_MIN TG_VM_CHUNK
#define VM_SHORT_CHAINED 4

/* The elements of a block of len the instructions take, with their
 * outputs written and sums added by them: a whole block, or a short
 * one's whole chunks (the rest goes through the scratch blocks too, for
 * the caller to store and add) */
static int64_t vm_direct_len(const tg_fused *F, int64_t len)
{
    if (!F->vm || F->jit)
        return 0;
    if (len == TG_FUSE_BLOCK)
        return len;
    return len >= VM_SHORT_MIN && F->vm_chained >= VM_SHORT_CHAINED ? len / TG_VM_CHUNK * TG_VM_CHUNK : 0;
}

/* Points the streams' registers at their values for the block at start
 * (with instructions: F->vm_streams lists them) */
static void locate_streams(const tg_fused *F, const tg_fused_stream *S, const scratch *W, int64_t start)
{
    for (int k = 0; k < F->nvm_streams; k++) {
        int i = F->vm_streams[k], s = tg_fused_stream_of(F, i);
        W->ptr[i] = (const char *)S[s].data + start * (int64_t)S[s].esz;
        W->stride[i] = 1;
    }
}

/* The short block's last chunk, from element from (a multiple of
 * TG_VM_CHUNK) to len, through the instructions: the streams' values
 * there copied to the scratch at the same place in a block, zeros after
 * them to the chunk's end (a tensor's memory ends at its last element);
 * the outputs and sums left in the scratch blocks.  The kernels stop at
 * len, as the eager ones do: the chunk's values past it are whatever the
 * scratch held, and go nowhere. */
static void run_last_chunk(const tg_fused *F, const tg_fused_stream *S, int nstreams, const scratch *W,
                           int64_t start, int64_t from, int64_t len)
{
    for (int s = 0; s < nstreams && s < F->nstreams; s++) { /* (pad_bytes: the streams a register reads) */
        size_t esz = S[s].esz;
        char *d = W->pad + (size_t)s * SLOT_BYTES + from * esz;
        memcpy(d, (const char *)S[s].data + (start + from) * (int64_t)esz, (size_t)(len - from) * esz);
        memset(d + (len - from) * esz, 0, (size_t)(from + TG_VM_CHUNK - len) * esz);
    }
    for (int k = 0; k < F->nvm_streams; k++) {
        int i = F->vm_streams[k];
        W->ptr[i] = W->pad + (size_t)tg_fused_stream_of(F, i) * SLOT_BYTES;
        W->stride[i] = 1;
    }
    tg_vm_span sp = {.from = from, .to = from + TG_VM_CHUNK, .len = len};
    tg_fused_vm_run(F, W->ptr, W->stride, &sp);
    locate_streams(F, S, W, start); /* an output that is an input is read from the input */
}

/* Runs the registers over elements [start, start + len): through the
 * generated loop when there is one, else through the instructions
 * (fused_vm.c; their first vm_direct_len elements' outputs to outp, with
 * non-temporal stores if stream, and sums to lanes, where not NULL), else
 * op by op through the eager kernels.  Then the outputs' other values
 * (the value's, the gradients') are at W->ptr of their registers. */
static void run_block(const tg_fused *F, const tg_fused_stream *S, int nstreams, const scratch *W, int64_t start,
                      int64_t len, void *const *outp, bool stream, double *lanes)
{
    if (F->jit) {
        const void *in[TG_FUSE_MAXVARS + 1];
        void *out[TG_FUSE_MAXVARS + 1];
        for (int s = 0; s < nstreams; s++)
            in[s] = (const char *)S[s].data + start * (int64_t)S[s].esz;
        for (int k = 0; k < F->nouts; k++)
            out[k] = W->blocks + (size_t)F->r[F->outs[k]].slot * SLOT_BYTES;
        F->jit(len, in, out, F->kernels, F->attrs, W->jit_tmp);
        locate(F, S, W, F->value_reg, start); /* the outputs only: no walk of every register */
        for (int v = 0; v < F->nvars; v++)
            if (F->grad_reg[v] >= 0)
                locate(F, S, W, F->grad_reg[v], start);
        return;
    }
    int64_t direct = vm_direct_len(F, len);
    if (direct) {
        /* only the streams move from block to block (run_on_cpu located
         * the rest) */
        locate_streams(F, S, W, start);
        tg_vm_prefetch pf[VM_PREFETCH_STREAMS];
        int npf = 0;
        for (int s = 0; len == TG_FUSE_BLOCK && s < nstreams && npf < VM_PREFETCH_STREAMS; s++) /* (past the end: harmless) */
            pf[npf++] = (tg_vm_prefetch){(const char *)S[s].data + (start + 2 * TG_FUSE_BLOCK) * (int64_t)S[s].esz,
                                         (int)S[s].esz};
        tg_vm_span sp = {0, direct, len, outp, stream, lanes, pf, npf};
        tg_fused_vm_run(F, W->ptr, W->stride, &sp);
        if (direct < len)
            run_last_chunk(F, S, nstreams, W, start, direct, len);
        return;
    }
    for (int i = 0; i < F->n; i++) {
        const tg_reg *R = &F->r[i];
        if (!W->located || tg_fused_stream_of(F, i) >= 0)
            locate(F, S, W, i, start);
        if (R->kind == R_OP) {
            const void *in[3];
            int64_t st[3];
            for (int k = 0; k < R->nin; k++) {
                in[k] = W->ptr[R->in[k]];
                st[k] = W->stride[R->in[k]];
            }
            R->kernel(len, (void *)W->ptr[i], in, st, &R->attrs);
        }
    }
}

/* Copies n bytes to d with non-temporal stores where the processor has
 * them: an output is written once and not read again here, so it goes to
 * memory without first being read into the cache (which an ordinary store
 * does), a third less memory traffic for a value or gradient. */
static void stream_copy(char *d, const char *src, size_t n)
{
#ifdef __SSE2__
    size_t i = 0;
    if (((uintptr_t)d & 15) == 0) {
        for (; i + 64 <= n; i += 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + i)), b = _mm_loadu_si128((const __m128i *)(src + i + 16)),
                    c = _mm_loadu_si128((const __m128i *)(src + i + 32)), e = _mm_loadu_si128((const __m128i *)(src + i + 48));
            _mm_stream_si128((__m128i *)(d + i), a);
            _mm_stream_si128((__m128i *)(d + i + 16), b);
            _mm_stream_si128((__m128i *)(d + i + 32), c);
            _mm_stream_si128((__m128i *)(d + i + 48), e);
        }
    }
    memcpy(d + i, src + i, n - i);
#else
    memcpy(d, src, n);
#endif
}

/* (stream: with non-temporal stores; a small output stays in the cache
 * instead, for whoever reads it next) */
static void store(tg_tensor *dst, int64_t start, int64_t len, const void *src, int64_t stride, bool stream)
{
    size_t sz = tg_dtype_size(dst->dtype);
    char *d = (char *)tg_data(dst) + start * (int64_t)sz;
    if (stride && stream)
        stream_copy(d, src, (size_t)len * sz);
    else if (stride)
        memcpy(d, src, (size_t)len * sz);
    else if (sz == 4)
        for (int64_t i = 0; i < len; i++) /* one value everywhere: a fill */
            ((float *)d)[i] = *(const float *)src;
    else if (sz == 8)
        for (int64_t i = 0; i < len; i++)
            ((double *)d)[i] = *(const double *)src;
    else
        for (int64_t i = 0; i < len; i++)
            memcpy(d + i * (int64_t)sz, src, sz);
}

/* A block's values added to the running sum acc, in double, one after
 * another: the eager whole-tensor sum below its lanes' sizes
 * (ops_reduce.c's reduce loop), which a short run of blocks (one thread,
 * in order) continues from block to block. */
static double running_sum(double acc, const void *p, int64_t stride, int64_t len, tg_dtype dt)
{
    for (int64_t i = 0; i < len; i++)
        acc += dt == TG_FLOAT32 ? (double)((const float *)p)[i * stride] : ((const double *)p)[i * stride];
    return acc;
}


typedef struct {
    const tg_fused *F;
    const tg_fused_stream *S;
    int nstreams;
    double *partial;
    tg_tensor *out, **grads;
    int nvars;
    int64_t n;
    scratch *work; /* per thread */
    int64_t nblocks;
    bool lanes;      /* sums as the eager sum adds (SUM_BLOCK); else a partial sum per block */
    bool direct;     /* the instructions (fused_vm.c) write the outputs they can to their tensors */
    bool stream;     /* the outputs written with non-temporal stores (not a small run's) */
    int64_t nparts;  /* partial sums per summed output: eager sum blocks, or 1 (a running sum) */
} block_job;

/* Asks for the next block's inputs while this one computes: the hardware
 * prefetchers alone fall behind when the reads come in bursts between
 * stretches of arithmetic, and the first op then waits on memory. */
static void prefetch_block(const block_job *J, int64_t start)
{
#ifdef __SSE2__
    int64_t len = J->n - start < TG_FUSE_BLOCK ? J->n - start : TG_FUSE_BLOCK;
    for (int s = 0; s < J->nstreams && len > 0; s++) {
        const char *p = (const char *)J->S[s].data + start * (int64_t)J->S[s].esz;
        for (int64_t o = 0; o < len * (int64_t)J->S[s].esz; o += 64)
            _mm_prefetch(p + o, _MM_HINT_T0);
    }
#else
    (void)J;
    (void)start;
#endif
}

/* the summed outputs: k = 0 the value, 1 + i variable i's gradient */
static bool summed(const tg_fused *F, int k)
{
    return k == 0 ? F->sum_root : F->grad_reg[k - 1] >= 0 && F->grad_sum[k - 1];
}

/* one block through all the registers; its sum or its values, and the
 * gradients, go to the outputs */
static void run_one_block(int64_t b, void *ctx, int tid)
{
    const block_job *J = ctx;
    const tg_fused *F = J->F;
    const scratch *W = &J->work[tid];
    int64_t start = b * TG_FUSE_BLOCK, len = J->n - start < TG_FUSE_BLOCK ? J->n - start : TG_FUSE_BLOCK;
    /* the elements whose outputs the instructions write and add
     * themselves (the rest, if any, from the scratch blocks below) */
    int64_t done = vm_direct_len(F, len);
    if (!F->jit && !done) /* the generated loop and the instructions ask themselves */
        prefetch_block(J, start + 2 * TG_FUSE_BLOCK);
    void *outp[TG_FUSE_MAXVARS + 1];
    bool direct = J->direct && done;
    for (int k = 0; direct && k <= J->nvars; k++) {
        tg_tensor *t = k ? J->grads[k - 1] : J->out;
        outp[k] = F->vm_out[k] ? (char *)tg_data(t) + start * (int64_t)tg_dtype_size(t->dtype) : NULL;
    }
    bool vm_sums = J->lanes && done;
    run_block(F, J->S, J->nstreams, W, start, len, direct ? outp : NULL, J->stream, vm_sums ? W->lanes : NULL);
    for (int k = 0; k <= J->nvars; k++) {
        int r = k ? F->grad_reg[k - 1] : F->value_reg;
        if (r < 0)
            continue;
        /* the values the instructions did not take: all, or those after done */
        size_t esz = tg_dtype_size(F->r[r].dtype);
        bool by_vm = summed(F, k) ? vm_sums && F->vm_sum[k] : direct && F->vm_out[k];
        int64_t at = by_vm ? done : 0;
        if (at == len)
            continue;
        const char *p = (const char *)W->ptr[r] + at * W->stride[r] * (int64_t)esz;
        if (summed(F, k) && J->lanes)
            tg_fused_add_to_lanes(W->lanes + k * SUM_LANES, p, W->stride[r], len - at, F->r[r].dtype);
        else if (summed(F, k)) /* running sums: the value's, then each summed gradient's */
            J->partial[k] = running_sum(J->partial[k], p, W->stride[r], len - at, F->r[r].dtype);
        else
            store(k ? J->grads[k - 1] : J->out, start + at, len - at, p, W->stride[r], J->stream);
    }
}

/* With lanes, each eager sum block starts from zero lanes and ends as
 * one partial sum. */
static void lanes_begin(const block_job *J, int64_t b, int tid)
{
    if (J->lanes && b * TG_FUSE_BLOCK % SUM_BLOCK == 0)
        for (int k = 0; k <= J->nvars; k++)
            if (summed(J->F, k))
                for (int j = 0; j < SUM_LANES; j++) /* (a loop of vector stores: a memset of this size
                                                     * became rep stos, half of this function's time) */
                    J->work[tid].lanes[k * SUM_LANES + j] = 0;
}

static void lanes_end(const block_job *J, int64_t b, int tid)
{
    if (J->lanes && ((b + 1) * TG_FUSE_BLOCK % SUM_BLOCK == 0 || b == J->nblocks - 1))
        for (int k = 0; k <= J->nvars; k++)
            if (summed(J->F, k))
                J->partial[k * J->nparts + b * TG_FUSE_BLOCK / SUM_BLOCK] =
                    tg_sum_lanes_total(J->work[tid].lanes + k * SUM_LANES,
                                       J->F->r[k ? J->F->grad_reg[k - 1] : J->F->value_reg].dtype);
}

/* A thread takes TG_FUSE_RUN consecutive blocks at a time: its reads and
 * writes then run through memory in order, which the hardware prefetchers
 * follow, instead of hopping over the other threads' blocks. */
static void run_blocks(int64_t item, void *ctx, int tid)
{
    const block_job *J = ctx;
    for (int64_t b = item * TG_FUSE_RUN; b < J->nblocks && b < (item + 1) * TG_FUSE_RUN; b++) {
        lanes_begin(J, b, tid);
        run_one_block(b, ctx, tid);
        lanes_end(J, b, tid);
    }
#ifdef __SSE2__
    _mm_sfence(); /* the non-temporal stores are done before the pool hears this item is */
#endif
}

void tg_fused_set_sum(tg_tensor *t, const double *partial, int64_t count)
{
    double s = 0;
    for (int64_t b = 0; b < count; b++)
        s += partial[b];
    if (t->dtype == TG_FLOAT32)
        *(float *)tg_data(t) = (float)s;
    else
        *(double *)tg_data(t) = s;
}

/* the input streams' copies of a short block's end (none with generated
 * code, which runs any length) */
static size_t pad_bytes(const tg_fused *F)
{
    return F->vm && !F->jit ? (size_t)F->nstreams * SLOT_BYTES : 0;
}

/* the registers' constants, addresses and strides, to a whole number of
 * cache lines */
static size_t reg_bytes(const tg_fused *F)
{
    size_t per_reg = sizeof(double) + sizeof(void *) + sizeof(int64_t);
    return ((size_t)F->n * per_reg + 63) / 64 * 64;
}

/* A thread's scratch, as the scratch type lays it out */
static size_t scratch_bytes(const tg_fused *F, int nvars)
{
    return (size_t)F->nslots * SLOT_BYTES + (F->jit ? F->jit_tmp : 0) +
           (size_t)(nvars + 1) * SUM_LANES * sizeof(double) + reg_bytes(F) + pad_bytes(F);
}

/* The scratch in the scratch_bytes + SCRATCH_ALIGN bytes at mem, its
 * blocks on a cache line: a vector of 64 bytes that straddles two lines
 * costs two accesses, which at a block in the first-level cache is the
 * kernels' pace (a small evaluation took a fifth longer or shorter with
 * where malloc happened to put its scratch). */
#define SCRATCH_ALIGN 64
static scratch scratch_at(const tg_fused *F, int nvars, void *mem)
{
    char *m = (char *)(((uintptr_t)mem + SCRATCH_ALIGN - 1) & ~(uintptr_t)(SCRATCH_ALIGN - 1));
    size_t blocks = (size_t)F->nslots * SLOT_BYTES, tmp = F->jit ? F->jit_tmp : 0;
    size_t lane_bytes = (size_t)(nvars + 1) * SUM_LANES * sizeof(double);
    char *regs = m + blocks + tmp + lane_bytes;
    return (scratch){m,
                     m + blocks,
                     (double *)regs,
                     (const void **)(regs + (size_t)F->n * sizeof(double)),
                     (int64_t *)(regs + (size_t)F->n * (sizeof(double) + sizeof(void *))),
                     (double *)(m + blocks + tmp),
                     regs + reg_bytes(F),
                     mem,
                     false};
}

/* Can the instructions write the outputs to their tensors themselves?
 * Their non-temporal stores need outputs aligned to 16 bytes (tg_empty's
 * are). */
static bool direct_ok(const tg_fused *F, const tg_tensor *out, tg_tensor *const *grads, int nvars)
{
    bool direct = F->vm && !F->jit && (F->sum_root || (uintptr_t)tg_data(out) % 16 == 0);
    for (int i = 0; i < nvars; i++)
        direct = direct && (F->grad_reg[i] < 0 || F->grad_sum[i] || (uintptr_t)tg_data(grads[i]) % 16 == 0);
    return direct;
}

/* One run of blocks (one thread): the plan keeps its scratch and partial
 * sums from call to call, so that a small evaluation repeated (--lines,
 * a loop) allocates nothing here. */
static tg_status run_small(struct tg_fused_plan *pl, block_job *J)
{
    const tg_fused *F = &pl->F;
    size_t sb = scratch_bytes(F, J->nvars) + SCRATCH_ALIGN,
           need = sb + (size_t)(J->nvars + 1) * (size_t)J->nparts * sizeof(double);
    bool fresh = pl->small_bytes != need;
    if (fresh) {
        tg_free(pl->small);
        pl->small_bytes = 0;
        if (!(pl->small = tg_malloc(need))) {
            tg_error_clear();
            return tg_error(TG_ERESOURCE, "out of memory (compiled evaluation's registers)");
        }
        pl->small_bytes = need;
    }
    scratch w = scratch_at(F, J->nvars, pl->small);
    J->work = &w;
    J->partial = (double *)((char *)pl->small + sb);
    memset(J->partial, 0, need - sb);
    /* the constants and the op blocks stay where they are in the kept
     * scratch; only the streams are located again */
    for (int i = 0; fresh && i < F->n; i++)
        locate(F, J->S, &w, i, 0);
    w.located = true;
    run_blocks(0, J, 0);
    return TG_OK;
}

/* the summed outputs' totals from their partial sums */
static void set_sums(const tg_fused *F, const block_job *J)
{
    if (F->sum_root)
        tg_fused_set_sum(J->out, J->partial, J->nparts);
    for (int i = 0; i < J->nvars; i++)
        if (F->grad_reg[i] >= 0 && F->grad_sum[i])
            tg_fused_set_sum(J->grads[i], J->partial + (1 + i) * J->nparts, J->nparts);
}

/* The plan's blocks on every core, into out and grads (made with their
 * shapes); sums add the blocks' partials in block order. */
static tg_status run_on_cpu(struct tg_fused_plan *pl, const tg_fused_stream *S, int nstreams, int64_t n, int nvars,
                            tg_tensor *out, tg_tensor **grads)
{
    const tg_fused *F = &pl->F;
    const int64_t B = TG_FUSE_BLOCK;
    int64_t nblocks = (n + B - 1) / B;
    /* the eager sum's order where the eager sum has it at this size */
    bool by_lanes = false, running = false;
    for (int k = 0; k <= nvars; k++)
        if (summed(F, k)) {
            bool l = n >= (F->r[k ? F->grad_reg[k - 1] : F->value_reg].dtype == TG_FLOAT32 ? SUM_EXACT_F32
                                                                                         : SUM_EXACT_F64);
            by_lanes = by_lanes || l;
            running = running || !l;
        }
    if (by_lanes && running)
        return TG_NO; /* sums of both kinds (float32 and float64 ones): the eager path's */
    bool lanes = !running;
    int64_t nparts = lanes ? (n + SUM_BLOCK - 1) / SUM_BLOCK : 1;
    /* one run of blocks: this thread's, no dispatch (running sums are
     * made so: below the eager sum's lanes' sizes, at most a run) */
    if (nblocks <= TG_FUSE_RUN || !lanes) {
        /* (the instructions' direct writes are plain stores here: a small
         * output's next reader would wait for non-temporal ones) */
        block_job J = {F, S, nstreams, NULL, out, grads, nvars, n, NULL, nblocks, lanes, direct_ok(F, out, grads, nvars),
                       false, nparts};
        tg_status st = run_small(pl, &J);
        if (st == TG_OK)
            set_sums(F, &J);
        return st;
    }
    /* partial sums: the value's (when summed), then each variable's (when
     * its gradient is summed), nparts each */
    double *partial = tg_calloc((size_t)(nvars + 1) * (size_t)nparts, sizeof *partial);
    if (!partial)
        return TG_ERESOURCE;
    tg_status st = TG_OK;
    /* scratch per thread, as the scratch type lays it out */
    int nt = tg_threads();
    scratch *work = tg_calloc((size_t)nt, sizeof *work);
    bool nomem = !work;
    for (int t = 0; work && t < nt && !nomem; t++) {
        char *m = tg_malloc(scratch_bytes(F, nvars) + SCRATCH_ALIGN);
        nomem = !m;
        if (m)
            work[t] = scratch_at(F, nvars, m);
    }
    if (nomem) {
        tg_error_clear();
        st = tg_error(TG_ERESOURCE, "out of memory (compiled evaluation's registers)");
    } else {
        for (int t = 0; F->vm && t < nt; t++) /* the constants and the blocks stay where they are */
            for (int i = 0; i < F->n; i++)
                locate(F, S, &work[t], i, 0);
        bool direct = direct_ok(F, out, grads, nvars);
        block_job J = {F, S, nstreams, partial, out, grads, nvars, n, work, nblocks, lanes, direct, true, nparts};
        tg_parallel_for((nblocks + TG_FUSE_RUN - 1) / TG_FUSE_RUN, run_blocks, &J);
        set_sums(F, &J);
    }
    for (int t = 0; work && t < nt; t++)
        tg_free(work[t].mem);
    tg_free(work);
    tg_free(partial);
    return st;
}

static bool same_shape(const tg_tensor *a, const tg_tensor *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return true;
}

/* How a fused evaluation is asked for: --compile (generated code, compiled
 * when needed), or the default path (exact: the eager bytes, sums
 * included; from min_n elements, or any size with reuse, once the same
 * call comes a second time; generated code only when kept already). */
typedef struct {
    bool exact, may_compile, reuse;
    int64_t min_n;
} fuse_mode;

static tg_status fused_eval(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor **value,
                            tg_tensor **grads, const fuse_mode *m)
{
    *value = NULL;
    for (int i = 0; i < nvars; i++)
        grads[i] = NULL;
    tg_tensor *gout = o->grad_output;
    tg_status st = TG_OK;
    int64_t n = -1;
    if (nvars > TG_FUSE_MAXVARS)
        st = TG_NO;
    const tg_tensor *first = NULL; /* every variable of the block loop has its shape */
    /* the device every variable is on: the CPU's block loops, or one cuda
     * kernel (fused_cuda.c); a mix is the eager path's error to report */
    tg_device dev = nvars ? env->values[0]->storage->device : TG_DEV_CPU;
    for (int i = 0; i < nvars && st == TG_OK; i++) {
        tg_tensor *v = env->values[i];
        if (v->storage->device != dev || (gout && gout->storage->device != dev) ||
            (dev != TG_DEV_CPU && tg_get_device() != dev))
            st = TG_NO;
        if (v->numel == 1)
            continue; /* one value: a constant, or a parameter whose gradient is summed */
        if (!tg_dtype_is_float(v->dtype) || (first && !same_shape(v, first)) || !tg_is_contiguous(v))
            st = TG_NO; /* broadcasting, or an error, is the eager path's to do */
        first = first ? first : v;
        n = v->numel;
    }
    /* every variable one value (a --lines line): each is a stream of one
     * element, with the default path's reuse */
    for (int i = 0; nvars && n < 0 && m->reuse && !gout && i < nvars && st == TG_OK; i++)
        if (!tg_dtype_is_float(env->values[i]->dtype))
            st = TG_NO;
    if (nvars && n < 0 && m->reuse && !gout)
        n = 1;
    /* a one-value variable of more dimensions than the others would give
     * the result its own; only a probe of the whole variables sees that */
    for (int i = 0; first && n > TG_FUSE_BLOCK && i < nvars && st == TG_OK; i++)
        if (env->values[i]->ndim > first->ndim)
            st = TG_NO;
    if (dev != TG_DEV_CPU && !m->may_compile)
        st = TG_NO; /* the cuda kernel is compiled (NVRTC): --compile's */
    if (st == TG_OK && ((n < m->min_n && !(m->reuse && n >= 1)) ||
                        (gout && (!same_shape(gout, first) || !tg_is_contiguous(gout)))))
        st = TG_NO;
    struct tg_fused_plan *pl = NULL;
    if (st == TG_OK)
        st = tg_fused_plan_get(p, env, nvars, o, gout, n, m->exact, n < m->min_n, &pl);
    /* the inputs, in the probe's order: full-size variables, then the upstream gradient */
    tg_fused_stream S[TG_FUSE_MAXVARS + 1];
    int nstreams = 0;
    for (int i = 0; i < nvars && st == TG_OK; i++)
        if (env->values[i]->numel == n)
            S[nstreams++] = (tg_fused_stream){tg_data(env->values[i]), tg_dtype_size(env->values[i]->dtype),
                                              env->values[i]->dtype};
    if (st == TG_OK && gout)
        S[nstreams++] = (tg_fused_stream){tg_data(gout), tg_dtype_size(gout->dtype), gout->dtype};
    if (st == TG_OK && dev == TG_DEV_CUDA)
        st = tg_fused_cuda_ready(pl, S, nstreams);
    if (st != TG_OK) {
        tg_release(gout);
        return st;
    }
    if (dev == TG_DEV_CPU)
        tg_fused_plan_jit(pl, m->may_compile);
    const tg_fused *F = &pl->F;

    /* the outputs, on the variables' device */
    tg_tensor *out = F->sum_root         ? tg_empty(pl->out_dtype, 0, NULL)
                     : pl->out_ndim >= 0 ? tg_empty(pl->out_dtype, pl->out_ndim, pl->out_shape)
                                         : tg_empty(pl->out_dtype, first->ndim, first->shape);
    st = out ? TG_OK : TG_ERESOURCE;
    for (int i = 0; i < nvars && st == TG_OK; i++)
        if (F->grad_reg[i] >= 0 &&
            !(grads[i] = tg_empty(env->values[i]->dtype, env->values[i]->ndim, env->values[i]->shape)))
            st = TG_ERESOURCE;
    if (st == TG_OK)
        st = dev == TG_DEV_CUDA ? tg_fused_cuda_run(pl, S, nstreams, n, out, grads)
                                : run_on_cpu(pl, S, nstreams, n, nvars, out, grads);
    tg_release(gout);
    if (st != TG_OK) {
        tg_release(out);
        for (int i = 0; i < nvars; i++) {
            tg_release(grads[i]);
            grads[i] = NULL;
        }
        return st;
    }
    *value = out;
    return TG_OK;
}

tg_status tg_compiled_eval(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor **value,
                           tg_tensor **grads)
{
    const fuse_mode m = {.exact = false, .may_compile = true, .reuse = false, .min_n = 4 * TG_FUSE_BLOCK};
    return fused_eval(p, env, nvars, o, value, grads, &m);
}

bool tg_fuse_enabled(void)
{
    /* read once, like TG_NUM_THREADS: a small evaluation repeated paid a
     * look through the environment every call (0: not read yet) */
    static int on;
    int v = __atomic_load_n(&on, __ATOMIC_RELAXED);
    if (!v) {
        const char *e = getenv("TG_FUSE");
        v = e && !strcmp(e, "0") ? 2 : 1;
        __atomic_store_n(&on, v, __ATOMIC_RELAXED);
    }
    return v == 1;
}

tg_status tg_fused_default_eval(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor **value,
                                tg_tensor **grads)
{
    const fuse_mode m = {.exact = true, .may_compile = false, .reuse = true, .min_n = TG_FUSE_DEFAULT_MIN};
    if (!tg_fuse_enabled()) {
        *value = NULL;
        for (int i = 0; i < nvars; i++)
            grads[i] = NULL;
        tg_release(o->grad_output);
        return TG_NO;
    }
    return fused_eval(p, env, nvars, o, value, grads, &m);
}
