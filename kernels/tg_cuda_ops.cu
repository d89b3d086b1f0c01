// tg_cuda_ops.cu -- the CUDA backend's tensor memory, elementwise ops and
// reductions (lib/backend/cuda.c loads them at run time).
//
// Memory is CUDA managed memory: one pointer that the kernels and the host
// code both use, so that everything the library does on the host (reading
// inputs, printing, an op without a kernel here) works on device tensors
// unchanged, and a kernel's result needs no copy back.  Every entry point
// returns after the device has finished (cudaDeviceSynchronize), so the host
// may read what it wrote.
//
// The elementwise kernels take the op table's numbers (lib/ops/ops.def is
// included by tg_cuda_elem.cuh, as lib/internal.h includes it) and compute
// lib/ops/ops.def's formulas, as lib/backend/cpu_kernels.c does (nvcc is run
// with -fmad=false: no contraction into FMA); the math functions are CUDA's,
// so transcendental results agree with the CPU's within float32 tolerance,
// not to the last bit.  Reductions accumulate sums in double, as the CPU
// does, and combine per-block partials in block order: the same result on
// every run.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cuda_runtime.h>

#include "tg_cuda_abi.h"

#include "tg_cuda_check.cuh"

#include "tg_cuda_elem.cuh"

// output element i of an elementwise op
template <typename T> HD inline void map_one(const tgc_map_args &a, long long i)
{
    long long oo = 0, io[3] = {0, 0, 0};
    if (a.m == 1) {
        oo = i * a.ost[0];
        for (int k = 0; k < a.nin; k++)
            io[k] = i * a.st[k][0];
    } else {
        long long rem = i;
        for (int d = a.m - 1; d >= 0; d--) {
            long long id = rem % a.shape[d];
            rem /= a.shape[d];
            oo += id * a.ost[d];
            for (int k = 0; k < a.nin; k++)
                io[k] += id * a.st[k][d];
        }
    }
    if (a.op == TG_OP_WHERE) {
        const bool *c = (const bool *)a.in[0];
        ((T *)a.out)[oo] = c[io[0]] ? ((const T *)a.in[1])[io[1]] : ((const T *)a.in[2])[io[2]];
        return;
    }
    T x = ((const T *)a.in[0])[io[0]];
    if (a.nin == 1) {
        ((T *)a.out)[oo] = unary<T>(a.op, x, a.attrs);
        return;
    }
    T y = ((const T *)a.in[1])[io[1]];
    if (a.out_dtype == DT_BOOL)
        ((bool *)a.out)[oo] = compare<T>(a.op, x, y);
    else
        ((T *)a.out)[oo] = binary<T>(a.op, x, y, a.attrs);
}

template <typename T> __global__ void map_kernel(tgc_map_args a)
{
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < a.numel; i += step)
        map_one<T>(a, i);
}

template <typename T> HD inline T combine(int kind, T acc, T v)
{
    if (kind == 0)
        return acc + v;
    if (acc != acc)
        return acc; // NaN wins, as in the CPU's reductions
    if (kind == 1)
        return (v != v || v > acc) ? v : acc;
    return (v != v || v < acc) ? v : acc;
}

template <typename ACC> HD inline ACC identity(int kind)
{
    return kind == 0 ? (ACC)0 : kind == 1 ? (ACC)-INFINITY : (ACC)INFINITY;
}

#define REDUCE_THREADS 256

// output o's reduced elements r = from, from + step, ... below to
template <typename T, typename ACC> HD inline ACC reduce_range(const tgc_reduce_args &a, long long o, long long from,
                                                              long long to, long long step)
{
    long long rem = o, base = 0;
    for (int d = a.nk - 1; d >= 0; d--) {
        long long id = rem % a.kshape[d];
        rem /= a.kshape[d];
        base += id * a.kst[d];
    }
    ACC acc = identity<ACC>(a.kind);
    const T *x = (const T *)a.x;
    for (long long r = from; r < to; r += step) {
        long long rr = r, off = base;
        for (int d = a.nr - 1; d >= 0; d--) {
            long long id = rr % a.rshape[d];
            rr /= a.rshape[d];
            off += id * a.rst[d];
        }
        acc = combine<ACC>(a.kind, acc, (ACC)x[off]);
    }
    return acc;
}

// partial[o * G + g]: output o's reduced elements [g * chunk, (g+1) * chunk)
template <typename T, typename ACC> __global__ void reduce_partial(tgc_reduce_args a, long long chunk, int G, ACC *partial)
{
    long long o = blockIdx.x;
    int g = blockIdx.y;
    long long lo = g * chunk, hi = lo + chunk < a.nred ? lo + chunk : a.nred;
    ACC acc = reduce_range<T, ACC>(a, o, lo + threadIdx.x, hi, blockDim.x);
    __shared__ ACC sh[REDUCE_THREADS];
    sh[threadIdx.x] = acc;
    __syncthreads();
    for (int s = REDUCE_THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            sh[threadIdx.x] = combine<ACC>(a.kind, sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    if (threadIdx.x == 0)
        partial[o * G + g] = sh[0];
}

template <typename T, typename ACC> __global__ void reduce_final(tgc_reduce_args a, int G, const ACC *partial)
{
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < a.nout; o += step) {
        ACC acc = identity<ACC>(a.kind);
        for (int g = 0; g < G; g++)
            acc = combine<ACC>(a.kind, acc, partial[o * G + g]);
        ((T *)a.out)[o] = (T)acc;
    }
}

// few elements per output (a sum over a short dim of a large tensor): one
// thread per output, no partials
template <typename T, typename ACC> __global__ void reduce_small(tgc_reduce_args a)
{
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < a.nout; o += step)
        ((T *)a.out)[o] = (T)reduce_range<T, ACC>(a, o, 0, a.nred, 1);
}

template <typename T, typename ACC> static int reduce_run(const tgc_reduce_args *a, char *err, int en)
{
    if (a->nred <= 64) {
        long long blocks = (a->nout + 255) / 256;
        reduce_small<T, ACC><<<(unsigned)(blocks < 65536 ? blocks : 65536), 256>>>(*a);
        CHECK(cudaGetLastError());
        CHECK(cudaDeviceSynchronize());
        return 0;
    }
    // G blocks per output, each over a chunk of at least 8192 elements
    long long G = a->nred / (REDUCE_THREADS * 32);
    G = G < 1 ? 1 : G > 1024 ? 1024 : G;
    long long chunk = (a->nred + G - 1) / G;
    ACC *partial = nullptr;
    if (a->nout > 0x7fffffffLL)
        return snprintf(err, (size_t)en, "too many outputs for one reduction"), -1;
    CHECK(cudaMalloc(&partial, (size_t)(a->nout * G) * sizeof(ACC)));
    dim3 grid((unsigned)a->nout, (unsigned)G);
    reduce_partial<T, ACC><<<grid, REDUCE_THREADS>>>(*a, chunk, (int)G, partial);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) {
        long long blocks = (a->nout + 255) / 256;
        reduce_final<T, ACC><<<(unsigned)(blocks < 65536 ? blocks : 65536), 256>>>(*a, (int)G, partial);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess)
        e = cudaDeviceSynchronize();
    cudaFree(partial);
    if (e != cudaSuccess)
        return snprintf(err, (size_t)en, "reduction: %s", cudaGetErrorString(e)), -1;
    return 0;
}

template <typename T, typename ACC> static void emulate_reduce(const tgc_reduce_args *a)
{
    for (long long o = 0; o < a->nout; o++)
        ((T *)a->out)[o] = (T)reduce_range<T, ACC>(*a, o, 0, a->nred, 1);
}

// each op's kind (lib/ops/ops.def's column): which of map_one's forms it takes
enum { K_UNARY, K_BINARY, K_COMPARE, K_SELECT, K_CAST, K_OTHER };
static const signed char op_kind[TG_NOPS] = {
#define OP(id, name, arity, flags, saves, infer, fwd, bwd, kind, ...) K_##kind,
#include "../lib/ops/ops.def"
#undef OP
};

// what the kernels (and their emulation) do; the rest is the CPU's (an op
// without a formula, as a cast or a reduction, included)
static bool map_supported(const tgc_map_args *a)
{
    if (a->op < 0 || a->op >= TG_NOPS)
        return false;
    int k = op_kind[a->op];
    bool form = (k == K_UNARY && a->nin == 1 && a->out_dtype == a->dtype) ||
                (k == K_BINARY && a->nin == 2 && a->out_dtype == a->dtype) ||
                (k == K_COMPARE && a->nin == 2 && a->out_dtype == DT_BOOL) ||
                (k == K_SELECT && a->nin == 3 && a->out_dtype == a->dtype);
    return form && (a->dtype == DT_F32 || a->dtype == DT_F64) && a->m >= 1 && a->m <= TGC_MAX_DIMS;
}

static bool reduce_supported(const tgc_reduce_args *a)
{
    return (a->dtype == DT_F32 || a->dtype == DT_F64) && a->kind >= 0 && a->kind <= 2 && a->nout >= 1 &&
           a->nred >= 1 && a->nk <= TGC_MAX_DIMS && a->nr <= TGC_MAX_DIMS;
}

extern "C" {

// Device memory that the host can read and write too.  Blocks are kept for
// reuse when freed (cudaMallocManaged and the first touch of new pages cost
// far more than an op on them, as PyTorch's caching allocator knows), and a
// new block is placed on the device before the first kernel touches it.
#define CACHE_SLOTS 32
#define CACHE_BYTES ((size_t)8 << 30)
static struct { void *p; size_t bytes; } cache[CACHE_SLOTS];
static size_t cached;

static cudaError_t place_on_device(void *p, size_t bytes)
{
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess)
        return e;
#if CUDART_VERSION >= 13000
    cudaMemLocation loc = {};
    loc.type = cudaMemLocationTypeDevice;
    loc.id = dev;
    cudaMemAdvise(p, bytes, cudaMemAdviseSetPreferredLocation, loc);
    cudaMemPrefetchAsync(p, bytes, loc, 0, 0);
#else
    cudaMemAdvise(p, bytes, cudaMemAdviseSetPreferredLocation, dev);
    cudaMemPrefetchAsync(p, bytes, dev, 0);
#endif
    cudaGetLastError(); // advice only: a device without it still works
    // the host may write the block next: on devices without concurrent
    // managed access it must not while the prefetch is in flight
    return cudaStreamSynchronize(0);
}

// Moves [p, p + bytes) of managed memory to the device now: after the host
// wrote it (a file loaded), the next kernel would otherwise fault its pages
// over one by one, far more slowly.
int tgc_prefetch(void *p, size_t bytes, char *err, int en)
{
    cudaError_t e = p && bytes ? place_on_device(p, bytes) : cudaSuccess;
    if (e != cudaSuccess) {
        cudaGetLastError();
        snprintf(err, (size_t)en, "prefetch: %s", cudaGetErrorString(e));
        return -1;
    }
    return 0;
}

// Blocks are made in sizes of 512 bytes, or 2 MiB from 1 MiB up (as
// PyTorch's allocator rounds), and a cached block is reused only for the
// same rounded size: what tgc_free is told (the tensor's bytes) then rounds
// to the block's real size, which the cache's accounting relies on.
static size_t rounded(size_t bytes)
{
    size_t g = bytes < ((size_t)1 << 20) ? 512 : (size_t)2 << 20;
    bytes = bytes ? bytes : 1;
    return bytes > SIZE_MAX - g ? bytes : (bytes + g - 1) / g * g;
}

int tgc_alloc(void **p, size_t bytes, char *err, int en)
{
    *p = nullptr;
    bytes = rounded(bytes);
    int best = -1;
    for (int i = 0; i < CACHE_SLOTS && best < 0; i++)
        if (cache[i].p && cache[i].bytes == bytes)
            best = i;
    if (best >= 0) {
        *p = cache[best].p;
        cached -= cache[best].bytes;
        cache[best].p = nullptr;
        return 0;
    }
    cudaError_t e = cudaMallocManaged(p, bytes, cudaMemAttachGlobal);
    if (e == cudaErrorMemoryAllocation && cached) { // give the cache back and try again
        cudaGetLastError();
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (cache[i].p) {
                cudaFree(cache[i].p);
                cache[i].p = nullptr;
            }
        cached = 0;
        e = cudaMallocManaged(p, bytes, cudaMemAttachGlobal);
    }
    if (e != cudaSuccess) {
        cudaGetLastError();
        *p = nullptr;
        snprintf(err, (size_t)en, "cudaMallocManaged: %s", cudaGetErrorString(e));
        return -1;
    }
    if (place_on_device(*p, bytes) != cudaSuccess)
        cudaGetLastError(); // the block is usable where it is
    return 0;
}

void tgc_free(void *p, size_t bytes)
{
    if (!p)
        return;
    bytes = rounded(bytes);
    if (bytes <= CACHE_BYTES / 4 && cached + bytes <= CACHE_BYTES)
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (!cache[i].p) {
                cache[i].p = p;
                cache[i].bytes = bytes;
                cached += bytes;
                return;
            }
    cudaFree(p); // waits for the device
}

// 0: done; 1: not an op or dtype the kernels do (the caller computes on the
// CPU); -1: a CUDA error, in err
int tgc_map(const tgc_map_args *a, char *err, int en)
{
    if (!map_supported(a))
        return 1;
    if (a->numel == 0)
        return 0;
    long long blocks = (a->numel + 255) / 256;
    unsigned grid = (unsigned)(blocks < 65536 ? blocks : 65536);
    if (a->dtype == DT_F32)
        map_kernel<float><<<grid, 256>>>(*a);
    else
        map_kernel<double><<<grid, 256>>>(*a);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    return 0;
}

// same return values as tgc_map
int tgc_reduce(const tgc_reduce_args *a, char *err, int en)
{
    if (!reduce_supported(a))
        return 1;
    if (a->kind == 0)
        return a->dtype == DT_F32 ? reduce_run<float, double>(a, err, en) : reduce_run<double, double>(a, err, en);
    return a->dtype == DT_F32 ? reduce_run<float, float>(a, err, en) : reduce_run<double, double>(a, err, en);
}

// The same computations on the host, one element or output at a time:
// TG_CUDA_EMULATE runs the toolkit's cuda path through these on machines
// without a GPU (lib/backend/cuda.c), so that the kernels' logic is tested there.
int tgc_emulate_map(const tgc_map_args *a)
{
    if (!map_supported(a))
        return 1;
    for (long long i = 0; i < a->numel; i++) {
        if (a->dtype == DT_F32)
            map_one<float>(*a, i);
        else
            map_one<double>(*a, i);
    }
    return 0;
}

int tgc_emulate_reduce(const tgc_reduce_args *a)
{
    if (!reduce_supported(a))
        return 1;
    if (a->kind == 0)
        a->dtype == DT_F32 ? emulate_reduce<float, double>(a) : emulate_reduce<double, double>(a);
    else
        a->dtype == DT_F32 ? emulate_reduce<float, float>(a) : emulate_reduce<double, double>(a);
    return 0;
}

} // extern "C"
