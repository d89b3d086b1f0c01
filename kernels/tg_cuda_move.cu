// tg_cuda_move.cu -- the CUDA backend's ops that move elements by position
// or run along one dim (lib/backend/cuda.c's tg_cuda_copy, tg_cuda_cat,
// tg_cuda_index, tg_cuda_scan, tg_cuda_one_hot): copies between layouts
// and dtypes, cat, gather and scatter_add, index_select and index_add,
// cumsum, prod and one_hot, for every dtype.
//
// Each thread does what one step of the CPU's loop does (lib/ops/
// ops_gather.c, ops_scan.c, ops_view.c), and where terms add up
// (scatter_add, index_add, cumsum, prod) one thread adds one output's terms
// in the CPU's order, in the CPU's accumulator type: the CPU's numbers, bit
// for bit, on every run (no atomic additions of values, whose order would
// vary).  A scatter_add or index_add of few long lines first buckets its
// terms by destination (a stable sort on the device, SORT_CHUNK below):
// still one thread a destination, the CPU's order and bits.  A cumsum or
// prod of few long lines goes in chunks (SCAN_CHUNK below): the same on
// every run too, within rounding of the CPU's for floats.  Indices are
// checked by a pass of their own before anything is written: one out of
// range is reported as its position in the index (the first in row-major
// order, the one the CPU's loop stops at), for the library to say so in
// the CPU path's words -- never a device fault.
//
// tgc_emulate_move runs the same thread functions on the host, one after
// another (TG_CUDA_EMULATE).
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cuda_runtime.h>

#include "tg_cuda_abi.h"

#define HD __host__ __device__

#include "tg_cuda_check.cuh"

typedef unsigned long long u64;
static const u64 NONE_BAD = ~0ULL;

// ---- conversions, as lib/backend/cpu_kernels.c's conv_* ----
// float to int64 as tg_f64_to_i64: NaN and out of range give INT64_MIN
HD inline int64_t f64_to_i64(double x)
{
    return x >= -9223372036854775808.0 && x < 9223372036854775808.0 ? (int64_t)x : INT64_MIN;
}
template <typename D> struct to {
    template <typename S> HD static D of(S x) { return (D)x; }
};
template <> struct to<int64_t> {
    HD static int64_t of(float x) { return f64_to_i64((double)x); }
    HD static int64_t of(double x) { return f64_to_i64(x); }
    HD static int64_t of(int64_t x) { return x; }
    HD static int64_t of(bool x) { return x; }
};
template <> struct to<bool> {
    template <typename S> HD static bool of(S x) { return x != 0; }
};

// ---- additions and products, as the CPU's ----
// scatter's and index_add's: float in float, int64 wrapping, bool as "or"
template <typename T> HD inline void add_to(T *dst, T v) { *dst += v; }
template <> HD inline void add_to<int64_t>(int64_t *dst, int64_t v) { *dst = (int64_t)((u64)*dst + (u64)v); }
template <> HD inline void add_to<bool>(bool *dst, bool v) { *dst = *dst || v; }

// an index k into a dim of size n: in range? (wrap: negatives count from the end)
HD inline bool in_range(int64_t k, int64_t n, bool wrap) { return wrap ? k >= -n && k < n : k >= 0 && k < n; }

HD inline void note_bad(u64 *bad, u64 t)
{
#ifdef __CUDA_ARCH__
    atomicMin(bad, t);
#else
    if (t < *bad)
        *bad = t;
#endif
}

// offset in the contiguous tensor of shape big of index element t's
// position (index of shape a.shape) with coordinate k along a.dim
HD inline long long big_offset(const tgc_move_args &a, long long t, long long k)
{
    long long off = 0, stride = 1, rem = t;
    for (int d = a.ndim - 1; d >= 0; d--) {
        long long id = rem % a.shape[d];
        rem /= a.shape[d];
        off += (d == a.dim ? k : id) * stride;
        stride *= a.big[d];
    }
    return off;
}

// ---- the thread functions: thread t of n ----
struct CheckIndex { // t: an element of the index
    HD void operator()(const tgc_move_args &a, long long t, u64 *bad) const
    {
        int64_t k = a.index[t];
        bool ok = a.kind == TGC_GATHER || a.kind == TGC_SCATTER_ADD ? in_range(k, a.big[a.dim], false)
                  : a.kind == TGC_ONE_HOT                          ? in_range(k, a.len, false)
                  : a.kind == TGC_TARGETS                          ? k == a.ignore || in_range(k, a.len, false)
                                                                   : in_range(k, a.len, true);
        if (!ok)
            note_bad(bad, (u64)t);
    }
};

template <typename S, typename D> struct Copy { // t: an element of out
    HD void operator()(const tgc_move_args &a, long long t, u64 *) const
    {
        long long oo = 0, io = 0, rem = t;
        for (int d = a.m - 1; d >= 0; d--) {
            long long id = rem % a.shape[d];
            rem /= a.shape[d];
            oo += id * a.ost[d];
            io += id * a.st[d];
        }
        ((D *)a.out)[oo] = to<D>::of(((const S *)a.x)[io]);
    }
};

template <typename E> struct Cat { // t: an element of out
    HD void operator()(const tgc_move_args &a, long long t, u64 *) const
    {
        long long rows = a.len + a.len2, i = t % a.inner, r = t / a.inner, c = r % rows, o = r / rows;
        ((E *)a.out)[t] = c < a.len ? ((const E *)a.x)[(o * a.len + c) * a.inner + i]
                                    : ((const E *)a.y)[(o * a.len2 + c - a.len) * a.inner + i];
    }
};

template <typename E> struct Gather { // t: an element of the index and out
    HD void operator()(const tgc_move_args &a, long long t, u64 *) const
    {
        ((E *)a.out)[t] = ((const E *)a.x)[big_offset(a, t, a.index[t])];
    }
};

template <typename T> struct ScatterAdd { // t: a line of the index along dim, in its order
    HD void operator()(const tgc_move_args &a, long long t, u64 *) const
    {
        long long step = 1; // between elements of the line in the index
        for (int d = a.dim + 1; d < a.ndim; d++)
            step *= a.shape[d];
        long long line = a.shape[a.dim] * step, first = t / step * line + t % step;
        for (long long j = 0; j < a.shape[a.dim]; j++) {
            long long p = first + j * step;
            add_to<T>((T *)a.out + big_offset(a, p, a.index[p]), ((const T *)a.x)[p]);
        }
    }
};

template <typename E> struct IndexSelect { // t: an element of out [outer, nidx, inner]
    HD void operator()(const tgc_move_args &a, long long t, u64 *) const
    {
        long long i = t % a.inner, r = t / a.inner, j = r % a.nidx, o = r / a.nidx;
        int64_t k = a.index[j];
        k = k < 0 ? k + a.len : k;
        ((E *)a.out)[t] = ((const E *)a.x)[(o * a.len + k) * a.inner + i];
    }
};

template <typename T> struct IndexAdd { // t: a line of out [outer, len, inner] along len
    HD void operator()(const tgc_move_args &a, long long t, u64 *) const
    {
        long long i = t % a.inner, o = t / a.inner;
        for (long long j = 0; j < a.nidx; j++) {
            int64_t k = a.index[j];
            k = k < 0 ? k + a.len : k;
            add_to<T>((T *)a.out + (o * a.len + k) * a.inner + i, ((const T *)a.x)[(o * a.nidx + j) * a.inner + i]);
        }
    }
};

// Few long lines (a scatter_add or index_add into a 1-D tensor: one line)
// would leave the device idle with one thread a line.  Their terms are
// bucketed by destination instead -- a stable radix sort, on the device,
// of (destination, term) pairs in the CPU's order of the terms -- then one
// thread a destination adds its bucket's terms, in that order: still the
// CPU's sums, bit for bit.  The sort goes a digit (8 bits) a pass, over
// chunks of SORT_CHUNK pairs: each chunk's count of each digit, those
// counts' running totals (digit by digit, chunk by chunk: where each
// chunk's pairs of a digit go), then each chunk's pairs placed in order.
#define SORT_CHUNK 1024
#define DIGITS 256
#define FEW_LINES 4096
#define LONG_LINE 2048

// the sort's arrays (device or host memory), in one block of 8-byte slots:
// pairs key[b][i], term[b][i] (b: the pass's source, 1 - b its target),
// count[d * chunks + c] for digit d of chunk c, and the scan's totals
struct Buckets {
    u64 *key[2], *term[2], *count, *total;
    long long n, chunks, ncount; // pairs, their chunks, digits * chunks
    int shift, from;             // this pass's digit, its source arrays
};

HD inline long long chunk_end(long long c, long long n)
{
    return (c + 1) * SORT_CHUNK < n ? (c + 1) * SORT_CHUNK : n;
}

// scatter_add's lines: line t's first element in the index (coordinate 0
// along dim), and the step between its elements
HD inline long long line_step(const tgc_move_args &a)
{
    long long step = 1;
    for (int d = a.dim + 1; d < a.ndim; d++)
        step *= a.shape[d];
    return step;
}
HD inline long long line_first(const tgc_move_args &a, long long t, long long step)
{
    return t / step * (a.shape[a.dim] * step) + t % step;
}

struct BucketKeys { // t: a term, in the CPU's order within each destination
    Buckets b;
    HD void operator()(const tgc_move_args &a, long long t, u64 *) const
    {
        if (a.kind == TGC_SCATTER_ADD) { // key: line * size + index; term: its place in x
            long long len = a.shape[a.dim], step = line_step(a), line = t / len;
            long long p = line_first(a, line, step) + t % len * step;
            b.key[0][t] = (u64)(line * a.big[a.dim] + a.index[p]);
            b.term[0][t] = (u64)p;
        } else { // key: the index, wrapped; term: its position j
            int64_t k = a.index[t];
            b.key[0][t] = (u64)(k < 0 ? k + a.len : k);
            b.term[0][t] = (u64)t;
        }
    }
};

struct DigitCount { // t: a chunk of pairs
    Buckets b;
    HD void operator()(const tgc_move_args &, long long t, u64 *) const
    {
        for (int d = 0; d < DIGITS; d++)
            b.count[d * b.chunks + t] = 0;
        for (long long i = t * SORT_CHUNK; i < chunk_end(t, b.n); i++)
            b.count[(b.key[b.from][i] >> b.shift & (DIGITS - 1)) * b.chunks + t]++;
    }
};

struct CountTotal { // t: a chunk of the counts
    Buckets b;
    HD void operator()(const tgc_move_args &, long long t, u64 *) const
    {
        u64 sum = 0;
        for (long long i = t * SORT_CHUNK; i < chunk_end(t, b.ncount); i++)
            sum += b.count[i];
        b.total[t] = sum;
    }
};

struct CountOffsets { // one thread: total[c] becomes the count before chunk c
    Buckets b;
    HD void operator()(const tgc_move_args &, long long, u64 *) const
    {
        u64 sum = 0;
        for (long long c = 0; c < (b.ncount + SORT_CHUNK - 1) / SORT_CHUNK; c++) {
            u64 v = b.total[c];
            b.total[c] = sum;
            sum += v;
        }
    }
};

struct CountScan { // t: a chunk of the counts, each becoming the count before it
    Buckets b;
    HD void operator()(const tgc_move_args &, long long t, u64 *) const
    {
        u64 sum = b.total[t];
        for (long long i = t * SORT_CHUNK; i < chunk_end(t, b.ncount); i++) {
            u64 v = b.count[i];
            b.count[i] = sum;
            sum += v;
        }
    }
};

struct DigitPlace { // t: a chunk of pairs, placed in their order
    Buckets b;
    HD void operator()(const tgc_move_args &, long long t, u64 *) const
    {
        for (long long i = t * SORT_CHUNK; i < chunk_end(t, b.n); i++) {
            u64 k = b.key[b.from][i], at = b.count[(k >> b.shift & (DIGITS - 1)) * b.chunks + t]++;
            b.key[1 - b.from][at] = k;
            b.term[1 - b.from][at] = b.term[b.from][i];
        }
    }
};

// the first of the sorted keys that is not below k
HD inline long long first_of(const Buckets &b, u64 k)
{
    const u64 *key = b.key[b.from];
    long long lo = 0, hi = b.n;
    while (lo < hi) {
        long long mid = lo + (hi - lo) / 2;
        if (key[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

template <typename T> struct ScatterBucket { // t: a destination, line t / size at t % size along dim
    Buckets b;
    HD void operator()(const tgc_move_args &a, long long t, u64 *) const
    {
        const u64 *key = b.key[b.from], *term = b.term[b.from];
        T acc = 0;
        for (long long i = first_of(b, (u64)t); i < b.n && key[i] == (u64)t; i++)
            add_to<T>(&acc, ((const T *)a.x)[term[i]]);
        long long size = a.big[a.dim], line = t / size;
        ((T *)a.out)[big_offset(a, line_first(a, line, line_step(a)), t % size)] = acc;
    }
};

template <typename T> struct IndexBucket { // t: an element of out [outer, len, inner]
    Buckets b;
    HD void operator()(const tgc_move_args &a, long long t, u64 *) const
    {
        const u64 *key = b.key[b.from], *term = b.term[b.from];
        long long i = t % a.inner, r = t / a.inner, k = r % a.len, o = r / a.len;
        T acc = 0;
        for (long long s = first_of(b, (u64)k); s < b.n && key[s] == (u64)k; s++)
            add_to<T>(&acc, ((const T *)a.x)[(o * a.nidx + (long long)term[s]) * a.inner + i]);
        ((T *)a.out)[t] = acc;
    }
};

// cumsum: float32 accumulated in double (as PyTorch's CPU), int64 wrapping
template <typename T, typename ACC> struct Cumsum { // t: a line along len
    HD void operator()(const tgc_move_args &a, long long t, u64 *) const
    {
        long long i = t % a.inner, o = t / a.inner;
        ACC acc = 0;
        for (long long j = 0; j < a.len; j++) {
            long long at = (o * a.len + (a.reverse ? a.len - 1 - j : j)) * a.inner + i;
            acc += (ACC)((const T *)a.x)[at];
            ((T *)a.out)[at] = (T)acc;
        }
    }
};

template <typename T, typename ACC> struct Prod { // t: a line along len, an element of out
    HD void operator()(const tgc_move_args &a, long long t, u64 *) const
    {
        long long i = t % a.inner, o = t / a.inner;
        ACC acc = 1;
        for (long long k = 0; k < a.len; k++)
            acc = acc * (ACC)((const T *)a.x)[(o * a.len + k) * a.inner + i];
        ((T *)a.out)[t] = (T)acc;
    }
};

// Few long lines (a cumsum or prod of a whole 1-D tensor) would leave the
// device idle with one thread a line: each line goes in chunks of
// SCAN_CHUNK instead, each chunk's total first (aux[line * chunks + c]),
// then per line the totals before each chunk (cumsum) or their product
// (prod), in order, then each chunk's running sums from its offset.  The
// same on every run; int64's exact, floats' within rounding of the CPU's
// one running sum (float32's cumsum in double, as there).
#define SCAN_CHUNK 1024
HD inline long long scan_chunks(const tgc_move_args &a) { return (a.len + SCAN_CHUNK - 1) / SCAN_CHUNK; }
HD inline bool scan_in_chunks(const tgc_move_args &a)
{
    return a.outer * a.inner > 0 && a.outer * a.inner < 4096 && a.len >= 4 * SCAN_CHUNK;
}

// element j (in the order of the scan) of line t's
HD inline long long scan_at(const tgc_move_args &a, long long line, long long j)
{
    long long i = line % a.inner, o = line / a.inner;
    return (o * a.len + (a.reverse ? a.len - 1 - j : j)) * a.inner + i;
}

template <typename T, typename ACC> struct ChunkTotal { // t: chunk t % chunks of line t / chunks
    HD void operator()(const tgc_move_args &a, long long t, u64 *aux) const
    {
        long long chunks = scan_chunks(a), line = t / chunks, from = t % chunks * SCAN_CHUNK;
        long long to = from + SCAN_CHUNK < a.len ? from + SCAN_CHUNK : a.len;
        ACC acc = a.kind == TGC_CUMSUM ? 0 : 1;
        for (long long j = from; j < to; j++) {
            ACC v = (ACC)((const T *)a.x)[scan_at(a, line, j)];
            acc = a.kind == TGC_CUMSUM ? acc + v : acc * v;
        }
        ((ACC *)aux)[t] = acc;
    }
};

template <typename T, typename ACC> struct LineTotals { // t: a line
    HD void operator()(const tgc_move_args &a, long long t, u64 *aux) const
    {
        long long chunks = scan_chunks(a);
        ACC *c = (ACC *)aux + t * chunks, acc = a.kind == TGC_CUMSUM ? 0 : 1;
        for (long long k = 0; k < chunks; k++) {
            ACC v = c[k];
            if (a.kind == TGC_CUMSUM) {
                c[k] = acc; // the sum before chunk k
                acc = acc + v;
            } else
                acc = acc * v;
        }
        if (a.kind == TGC_PROD)
            ((T *)a.out)[t] = (T)acc;
    }
};

template <typename T, typename ACC> struct ChunkCumsum { // t: chunk t % chunks of line t / chunks
    HD void operator()(const tgc_move_args &a, long long t, u64 *aux) const
    {
        long long chunks = scan_chunks(a), line = t / chunks, from = t % chunks * SCAN_CHUNK;
        long long to = from + SCAN_CHUNK < a.len ? from + SCAN_CHUNK : a.len;
        ACC acc = ((const ACC *)aux)[t];
        for (long long j = from; j < to; j++) {
            long long at = scan_at(a, line, j);
            acc += (ACC)((const T *)a.x)[at];
            ((T *)a.out)[at] = (T)acc;
        }
    }
};

// a mask's true positions: chunks of it counted, their counts turned into
// offsets (one thread, in order), then each chunk's positions written from
// its offset -- row-major order, as the CPU's loop
#define MASK_CHUNK 1024
struct ChunkCount { // t: a chunk of the mask; aux[t]: its count
    HD void operator()(const tgc_move_args &a, long long t, u64 *aux) const
    {
        const bool *m = (const bool *)a.x;
        long long from = t * MASK_CHUNK, to = from + MASK_CHUNK < a.nidx ? from + MASK_CHUNK : a.nidx;
        u64 n = 0;
        for (long long i = from; i < to; i++)
            n += m[i];
        aux[t] = n;
    }
};

struct ChunkOffsets { // one thread: aux[c] becomes the count before chunk c
    HD void operator()(const tgc_move_args &a, long long, u64 *aux) const
    {
        long long chunks = (a.nidx + MASK_CHUNK - 1) / MASK_CHUNK;
        u64 total = 0;
        for (long long c = 0; c < chunks; c++) {
            u64 n = aux[c];
            aux[c] = total;
            total += n;
        }
        if (a.kind == TGC_COUNT)
            *(int64_t *)a.out = (int64_t)total;
    }
};

struct ChunkPositions { // t: a chunk of the mask
    HD void operator()(const tgc_move_args &a, long long t, u64 *aux) const
    {
        const bool *m = (const bool *)a.x;
        long long from = t * MASK_CHUNK, to = from + MASK_CHUNK < a.nidx ? from + MASK_CHUNK : a.nidx;
        int64_t *o = (int64_t *)a.out + aux[t];
        for (long long i = from; i < to; i++)
            if (m[i])
                *o++ = i;
    }
};

struct OneHot { // t: an element of out [nidx, len]
    HD void operator()(const tgc_move_args &a, long long t, u64 *) const
    {
        ((int64_t *)a.out)[t] = a.index[t / a.len] == t % a.len;
    }
};

template <typename T> struct Targets { // t: a target (the class losses' safe targets and mask)
    HD void operator()(const tgc_move_args &a, long long t, u64 *) const
    {
        bool ignored = a.index[t] == a.ignore;
        ((int64_t *)a.out)[t] = ignored ? 0 : a.index[t];
        ((T *)a.out2)[t] = !ignored;
    }
};

// ---- running them ----
#define THREADS 256

template <typename F> __global__ void each_kernel(F f, tgc_move_args a, long long n, u64 *bad)
{
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < n; t += step)
        f(a, t, bad);
}

// f for t < n: on the device (bad: device memory), or on the host
template <typename F>
static int each(const F &f, const tgc_move_args &a, long long n, bool host, u64 *bad, char *err, int en)
{
    if (n <= 0)
        return 0;
    if (host) {
        for (long long t = 0; t < n; t++)
            f(a, t, bad);
        return 0;
    }
    long long blocks = (n + THREADS - 1) / THREADS;
    each_kernel<F><<<(unsigned)(blocks < 65536 ? blocks : 65536), THREADS>>>(f, a, n, bad);
    CHECK(cudaGetLastError());
    return 0;
}

template <typename F> static int each(const tgc_move_args &a, long long n, bool host, u64 *bad, char *err, int en)
{
    return each(F(), a, n, host, bad, err, en);
}

static int check_on_device(const tgc_move_args &a, u64 *d, u64 *first, char *err, int en)
{
    CHECK(cudaMemcpy(d, first, sizeof *first, cudaMemcpyHostToDevice));
    if (each<CheckIndex>(a, a.nidx, false, d, err, en) != 0)
        return -1;
    CHECK(cudaMemcpy(first, d, sizeof *first, cudaMemcpyDeviceToHost));
    return 0;
}

// the first position of an index out of range into *bad (-1: none)
static int check_index(const tgc_move_args &a, bool host, long long *bad, char *err, int en)
{
    u64 first = NONE_BAD;
    if (host)
        each<CheckIndex>(a, a.nidx, true, &first, err, en);
    else if (a.nidx > 0) {
        u64 *d = nullptr;
        CHECK(cudaMalloc(&d, sizeof *d));
        int rc = check_on_device(a, d, &first, err, en);
        cudaFree(d);
        if (rc != 0)
            return -1;
    }
    *bad = first == NONE_BAD ? -1 : (long long)first;
    return 0;
}

static size_t dtype_size(int dt) { return dt == DT_F32 ? 4 : dt == DT_BOOL ? 1 : 8; }

// the kinds whose values are only moved: by element size, bit for bit
template <template <typename> class F> static int moved(const tgc_move_args &a, long long n, bool host, char *err, int en)
{
    switch (dtype_size(a.dtype)) {
    case 1: return each<F<uint8_t>>(a, n, host, nullptr, err, en);
    case 4: return each<F<uint32_t>>(a, n, host, nullptr, err, en);
    default: return each<F<uint64_t>>(a, n, host, nullptr, err, en);
    }
}

template <template <typename> class F> static int added(const tgc_move_args &a, long long n, bool host, char *err, int en)
{
    switch (a.dtype) {
    case DT_F32: return each<F<float>>(a, n, host, nullptr, err, en);
    case DT_F64: return each<F<double>>(a, n, host, nullptr, err, en);
    case DT_I64: return each<F<int64_t>>(a, n, host, nullptr, err, en);
    default: return each<F<bool>>(a, n, host, nullptr, err, en);
    }
}

template <typename S> static int copy_from(const tgc_move_args &a, bool host, char *err, int en)
{
    switch (a.out_dtype) {
    case DT_F32: return each<Copy<S, float>>(a, a.numel, host, nullptr, err, en);
    case DT_F64: return each<Copy<S, double>>(a, a.numel, host, nullptr, err, en);
    case DT_I64: return each<Copy<S, int64_t>>(a, a.numel, host, nullptr, err, en);
    default: return each<Copy<S, bool>>(a, a.numel, host, nullptr, err, en);
    }
}

static int copy(const tgc_move_args &a, bool host, char *err, int en)
{
    switch (a.dtype) {
    case DT_F32: return copy_from<float>(a, host, err, en);
    case DT_F64: return copy_from<double>(a, host, err, en);
    case DT_I64: return copy_from<int64_t>(a, host, err, en);
    default: return copy_from<bool>(a, host, err, en);
    }
}

// cumsum's (prod's) accumulators, as ops_scan.c's: bool is cast to int64 before
template <typename T, typename ACC> static int scan_as(const tgc_move_args &a, bool host, char *err, int en);
static int scan(const tgc_move_args &a, bool host, char *err, int en)
{
    bool sum = a.kind == TGC_CUMSUM;
    switch (a.dtype) {
    case DT_F32: return sum ? scan_as<float, double>(a, host, err, en) : scan_as<float, float>(a, host, err, en);
    case DT_F64: return scan_as<double, double>(a, host, err, en);
    default: return scan_as<int64_t, u64>(a, host, err, en);
    }
}

// the mask's chunks counted and their offsets (aux: one per chunk), then
// for TGC_NONZERO the positions written
static int mask_passes(const tgc_move_args &a, bool host, u64 *aux, char *err, int en)
{
    long long chunks = (a.nidx + MASK_CHUNK - 1) / MASK_CHUNK;
    if (each<ChunkCount>(a, chunks, host, aux, err, en) != 0 || each<ChunkOffsets>(a, 1, host, aux, err, en) != 0)
        return -1;
    return a.kind == TGC_NONZERO ? each<ChunkPositions>(a, chunks, host, aux, err, en) : 0;
}

// scratch of n 8-byte slots, on the host or the device (null: err says why)
static u64 *aux_alloc(size_t n, bool host, char *err, int en)
{
    void *p = nullptr;
    if (host && !(p = malloc(n * sizeof(u64))))
        snprintf(err, (size_t)en, "out of memory");
    cudaError_t e = host ? cudaSuccess : cudaMalloc(&p, n * sizeof(u64));
    if (e != cudaSuccess) {
        snprintf(err, (size_t)en, "cudaMalloc: %s", cudaGetErrorString(e));
        p = nullptr;
    }
    return (u64 *)p;
}

static void aux_free(u64 *p, bool host)
{
    if (host)
        free(p);
    else
        cudaFree(p);
}

static int mask(const tgc_move_args &a, bool host, char *err, int en)
{
    if (a.nidx == 0) {
        if (a.kind == TGC_COUNT && host)
            *(int64_t *)a.out = 0;
        else if (a.kind == TGC_COUNT)
            CHECK(cudaMemset(a.out, 0, sizeof(int64_t)));
        return 0;
    }
    u64 *aux = aux_alloc((size_t)((a.nidx + MASK_CHUNK - 1) / MASK_CHUNK), host, err, en);
    if (!aux)
        return -1;
    int rc = mask_passes(a, host, aux, err, en);
    aux_free(aux, host);
    return rc;
}

template <typename T, typename ACC> static int scan_passes(const tgc_move_args &a, bool host, u64 *aux, char *err, int en)
{
    long long lines = a.outer * a.inner, chunks = scan_chunks(a);
    if (each<ChunkTotal<T, ACC>>(a, lines * chunks, host, aux, err, en) != 0 ||
        each<LineTotals<T, ACC>>(a, lines, host, aux, err, en) != 0)
        return -1;
    return a.kind == TGC_CUMSUM ? each<ChunkCumsum<T, ACC>>(a, lines * chunks, host, aux, err, en) : 0;
}

// one thread a line, or few long lines in chunks
template <typename T, typename ACC> static int scan_as(const tgc_move_args &a, bool host, char *err, int en)
{
    long long lines = a.outer * a.inner;
    if (!scan_in_chunks(a))
        return a.kind == TGC_CUMSUM ? each<Cumsum<T, ACC>>(a, lines, host, nullptr, err, en)
                                    : each<Prod<T, ACC>>(a, lines, host, nullptr, err, en);
    u64 *aux = aux_alloc((size_t)(lines * scan_chunks(a)), host, err, en);
    if (!aux)
        return -1;
    int rc = scan_passes<T, ACC>(a, host, aux, err, en);
    aux_free(aux, host);
    return rc;
}

// ---- scatter_add and index_add: one thread a line, or few long lines bucketed ----
// lines and their length: scatter_add's along dim, index_add's [outer, inner] of nidx terms
static void add_lines(const tgc_move_args &a, long long *lines, long long *len)
{
    *len = a.kind == TGC_SCATTER_ADD ? a.shape[a.dim] : a.nidx;
    *lines = a.kind == TGC_SCATTER_ADD ? (*len ? a.nidx / *len : 0) : a.outer * a.inner;
}

// few long lines?  and then *keys, how many destinations the terms are bucketed by
static bool few_long_lines(const tgc_move_args &a, long long *keys)
{
    long long lines, len;
    add_lines(a, &lines, &len);
    if (lines <= 0 || lines >= FEW_LINES || len < LONG_LINE || a.nidx >= (1LL << 56))
        return false;
    long long size = a.kind == TGC_SCATTER_ADD ? a.big[a.dim] : a.len;
    if (size <= 0 || lines > LLONG_MAX / size)
        return false;
    *keys = a.kind == TGC_SCATTER_ADD ? lines * size : size;
    return true;
}

// b's arrays for n pairs in one block of memory, or null where there is no
// room for them (then one thread a line does, needing none)
static u64 *buckets_alloc(Buckets &b, long long n, bool host)
{
    b.n = n;
    b.chunks = (n + SORT_CHUNK - 1) / SORT_CHUNK;
    b.ncount = DIGITS * b.chunks;
    size_t slots = (size_t)(4 * n + b.ncount + (b.ncount + SORT_CHUNK - 1) / SORT_CHUNK);
    void *p = nullptr;
    if (host)
        p = malloc(slots * sizeof(u64));
    else if (cudaMalloc(&p, slots * sizeof(u64)) != cudaSuccess) {
        (void)cudaGetLastError(); // the failed allocation's error, not the next launch's
        p = nullptr;
    }
    u64 *block = (u64 *)p;
    if (block) {
        b.key[0] = block;
        b.term[0] = block + n;
        b.key[1] = block + 2 * n;
        b.term[1] = block + 3 * n;
        b.count = block + 4 * n;
        b.total = b.count + b.ncount;
    }
    return block;
}

// the pairs made and sorted by key, a digit a pass; b.from: where they end
static int sort_pairs(const tgc_move_args &a, Buckets &b, long long keys, bool host, char *err, int en)
{
    if (each(BucketKeys{b}, a, b.n, host, nullptr, err, en) != 0)
        return -1;
    long long count_chunks = (b.ncount + SORT_CHUNK - 1) / SORT_CHUNK;
    for (u64 rest = (u64)(keys - 1); rest; rest >>= 8, b.shift += 8) { // the digits keys need
        if (each(DigitCount{b}, a, b.chunks, host, nullptr, err, en) != 0 ||
            each(CountTotal{b}, a, count_chunks, host, nullptr, err, en) != 0 ||
            each(CountOffsets{b}, a, 1, host, nullptr, err, en) != 0 ||
            each(CountScan{b}, a, count_chunks, host, nullptr, err, en) != 0 ||
            each(DigitPlace{b}, a, b.chunks, host, nullptr, err, en) != 0)
            return -1;
        b.from = 1 - b.from;
    }
    return 0;
}

template <typename T> static int add_buckets(const tgc_move_args &a, const Buckets &b, long long keys, bool host,
                                             char *err, int en)
{
    return a.kind == TGC_SCATTER_ADD ? each(ScatterBucket<T>{b}, a, keys, host, nullptr, err, en)
                                     : each(IndexBucket<T>{b}, a, a.numel, host, nullptr, err, en);
}

static int bucketed(const tgc_move_args &a, Buckets &b, long long keys, bool host, char *err, int en)
{
    if (sort_pairs(a, b, keys, host, err, en) != 0)
        return -1;
    switch (a.dtype) {
    case DT_F32: return add_buckets<float>(a, b, keys, host, err, en);
    case DT_F64: return add_buckets<double>(a, b, keys, host, err, en);
    case DT_I64: return add_buckets<int64_t>(a, b, keys, host, err, en);
    default: return add_buckets<bool>(a, b, keys, host, err, en);
    }
}

// out (zeroed) += x at the index: scatter_add's or index_add's terms
static int add_at_index(const tgc_move_args &a, bool host, char *err, int en)
{
    long long keys = 0, lines, len;
    Buckets b = {};
    u64 *block = few_long_lines(a, &keys) ? buckets_alloc(b, a.nidx, host) : nullptr;
    if (!block) {
        add_lines(a, &lines, &len);
        return a.kind == TGC_SCATTER_ADD ? added<ScatterAdd>(a, lines, host, err, en)
                                         : added<IndexAdd>(a, lines, host, err, en);
    }
    int rc = bucketed(a, b, keys, host, err, en);
    if (host)
        free(block);
    else if (rc == 0)
        CHECK(cudaFree(block)); // (waits for the kernels that use it)
    else
        cudaFree(block); // (err says the first failure)
    return rc;
}

static bool is_dtype(int dt) { return dt >= DT_F32 && dt <= DT_BOOL; }

static bool move_supported(const tgc_move_args *a)
{
    if (!is_dtype(a->dtype) || a->numel < 0 || a->nidx < 0 || a->outer < 0 || a->len < 0 || a->len2 < 0 ||
        a->inner < 0)
        return false;
    switch (a->kind) {
    case TGC_COPY: return is_dtype(a->out_dtype) && a->m >= 1 && a->m <= TGC_MAX_DIMS;
    case TGC_GATHER:
    case TGC_SCATTER_ADD: return a->ndim >= 1 && a->ndim <= TGC_MAX_DIMS && a->dim >= 0 && a->dim < a->ndim;
    case TGC_CUMSUM:
    case TGC_PROD: return a->dtype != DT_BOOL;
    case TGC_CAT:
    case TGC_INDEX_SELECT:
    case TGC_INDEX_ADD:
    case TGC_ONE_HOT:
    case TGC_ZERO: return true;
    case TGC_COUNT:
    case TGC_NONZERO: return a->dtype == DT_BOOL;
    case TGC_TARGETS: return a->dtype == DT_F32 || a->dtype == DT_F64;
    default: return false;
    }
}

// what one op does: its index checked, its output zeroed where it adds, its threads
static int move(const tgc_move_args &a, bool host, long long *bad, char *err, int en)
{
    *bad = -1;
    if (a.index && check_index(a, host, bad, err, en) != 0)
        return -1;
    if (*bad >= 0)
        return 0;
    if (a.kind == TGC_SCATTER_ADD || a.kind == TGC_INDEX_ADD || a.kind == TGC_ZERO) {
        size_t bytes = (size_t)a.numel * dtype_size(a.dtype);
        if (host)
            memset(a.out, 0, bytes);
        else if (bytes)
            CHECK(cudaMemset(a.out, 0, bytes));
    }
    int rc;
    switch (a.kind) {
    case TGC_COPY: rc = copy(a, host, err, en); break;
    case TGC_CAT: rc = moved<Cat>(a, a.numel, host, err, en); break;
    case TGC_GATHER: rc = moved<Gather>(a, a.nidx, host, err, en); break;
    case TGC_SCATTER_ADD:
    case TGC_INDEX_ADD: rc = add_at_index(a, host, err, en); break;
    case TGC_INDEX_SELECT: rc = moved<IndexSelect>(a, a.numel, host, err, en); break;
    case TGC_CUMSUM:
    case TGC_PROD: rc = scan(a, host, err, en); break;
    case TGC_ZERO: rc = 0; break;
    case TGC_COUNT:
    case TGC_NONZERO: rc = mask(a, host, err, en); break;
    case TGC_TARGETS:
        rc = a.dtype == DT_F32 ? each<Targets<float>>(a, a.nidx, host, nullptr, err, en)
                               : each<Targets<double>>(a, a.nidx, host, nullptr, err, en);
        break;
    default: rc = each<OneHot>(a, a.numel, host, nullptr, err, en); break;
    }
    if (rc == 0 && !host)
        CHECK(cudaDeviceSynchronize()); // the host may read out now
    return rc;
}

extern "C" {

// 0: done (*bad: the first index position out of range, or -1, and then
// nothing was written); 1: not a kind or dtype done here (the caller
// computes on the CPU); -1: a CUDA error, in err
int tgc_move(const tgc_move_args *a, long long *bad, char *err, int en)
{
    *bad = -1;
    if (!move_supported(a))
        return 1;
    return move(*a, false, bad, err, en);
}

int tgc_emulate_move(const tgc_move_args *a, long long *bad)
{
    char err[8];
    *bad = -1;
    if (!move_supported(a))
        return 1;
    return move(*a, true, bad, err, (int)sizeof err);
}

} // extern "C"
