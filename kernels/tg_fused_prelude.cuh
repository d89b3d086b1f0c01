// tg_fused_prelude.cuh -- the start of every kernel that compiled evaluation
// generates for the cuda device (lib/compile/fused_cuda.c): exact constants and
// each block's sums.  The generated source is this file's text, then
// tg_cuda_attrs.h's, tg_cuda_elem.cuh's (with lib/ops/ops.def's) and the kernel.
// NVRTC compiles it for the device; with TG_FUSED_HOST defined the host's
// C++ compiler builds it, and the kernel runs one block of one thread at a
// time (TG_CUDA_EMULATE: the generated code's logic tested without a GPU).
#ifdef TG_FUSED_HOST
#include <math.h>
#include <stdint.h>
#define __global__
#define __device__
#define __host__
#define __restrict__ __restrict
struct tg_dim3 { unsigned x; };
static tg_dim3 blockIdx, threadIdx, blockDim, gridDim;
#else
// the CPU kernels' expressions of integer ops (lib/backend/cpu_kernels.c), which
// the generated code also uses, name these (NVRTC has no <stdint.h>)
typedef long long int64_t;
typedef unsigned long long uint64_t;
#endif

// a float or double constant from its bits: exactly the value the plan
// holds, NaN's and infinity's too, with no literal syntax to get wrong
__host__ __device__ inline float tg_f32(unsigned int b)
{
    union { unsigned int u; float f; } v;
    v.u = b;
    return v.f;
}
__host__ __device__ inline double tg_f64(unsigned long long b)
{
    union { unsigned long long u; double f; } v;
    v.u = b;
    return v.f;
}

#define TG_FUSED_THREADS 256 // threads per block: the launch's, a power of two

// part[k * gridDim.x + blockIdx.x] = the sum of acc[k] over the block's threads
#ifdef TG_FUSED_HOST
static inline void tg_block_sums(const double *acc, int nsum, double *part)
{
    for (int k = 0; k < nsum; k++)
        part[(long long)k * gridDim.x + blockIdx.x] = acc[k];
}
#else
__device__ inline void tg_block_sums(const double *acc, int nsum, double *part)
{
    __shared__ double sh[TG_FUSED_THREADS];
    for (int k = 0; k < nsum; k++) {
        sh[threadIdx.x] = acc[k];
        __syncthreads();
        for (int s = TG_FUSED_THREADS / 2; s > 0; s >>= 1) {
            if (threadIdx.x < s)
                sh[threadIdx.x] += sh[threadIdx.x + s];
            __syncthreads();
        }
        if (threadIdx.x == 0)
            part[(long long)k * gridDim.x + blockIdx.x] = sh[0];
        __syncthreads();
    }
}
#endif
