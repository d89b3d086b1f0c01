// tg_cuda.cu -- the CUDA backend: a shared library that the toolkit loads
// at run time (lib/backend/cuda.c), so that the tools start where no CUDA library
// is installed.  This file: device discovery, matrix products through
// cuBLAS (strided batched), and the measurements of tdevice --bench;
// tg_cuda_ops.cu: tensor memory, elementwise ops and reductions.  Every
// CUDA call is checked; failures come back as a status and a message, never
// an abort.
#include <cstdio>
#include <cstring>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include "tg_cuda_abi.h"

#define CHECK_CUDA(call)                                                                   \
    do {                                                                                   \
        cudaError_t e_ = (call);                                                           \
        if (e_ != cudaSuccess) {                                                           \
            snprintf(err, (size_t)en, "%s: %s", #call, cudaGetErrorString(e_));            \
            goto fail;                                                                     \
        }                                                                                  \
    } while (0)
#define CHECK_BLAS(call)                                                                   \
    do {                                                                                   \
        cublasStatus_t s_ = (call);                                                        \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                 \
            snprintf(err, (size_t)en, "%s: cuBLAS status %d", #call, (int)s_);             \
            goto fail;                                                                     \
        }                                                                                  \
    } while (0)

// cuBLAS, opened when the first product needs it, not linked: loading it
// (and cuBLASLt) takes a tenth of a second, which every tool run on cuda
// that multiplies no matrices would pay.  (Its header gives the types.)
static struct {
    bool tried;
    void *h;
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSgemm_v2) sgemm;
    decltype(&cublasSgemmStridedBatched) sgemm_batched;
    decltype(&cublasDgemmStridedBatched) dgemm_batched;
    char why[200];
} blas;

// the library's handle, or null with the reason in err
static void *open_cublas(char *err, int en)
{
    if (!blas.tried) {
        blas.tried = true;
        char name[64];
        snprintf(name, sizeof name, "libcublas.so.%d", CUBLAS_VER_MAJOR);
        blas.h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (!blas.h)
            blas.h = dlopen("libcublas.so", RTLD_NOW | RTLD_LOCAL);
        if (blas.h) {
            *(void **)&blas.create = dlsym(blas.h, "cublasCreate_v2");
            *(void **)&blas.destroy = dlsym(blas.h, "cublasDestroy_v2");
            *(void **)&blas.sgemm = dlsym(blas.h, "cublasSgemm_v2");
            *(void **)&blas.sgemm_batched = dlsym(blas.h, "cublasSgemmStridedBatched");
            *(void **)&blas.dgemm_batched = dlsym(blas.h, "cublasDgemmStridedBatched");
            if (!blas.create || !blas.destroy || !blas.sgemm || !blas.sgemm_batched || !blas.dgemm_batched) {
                snprintf(blas.why, sizeof blas.why, "cuBLAS (%s) lacks the calls it needs", name);
                dlclose(blas.h);
                blas.h = nullptr;
            }
        } else
            snprintf(blas.why, sizeof blas.why, "cuBLAS (%s) cannot be loaded: it comes with the CUDA toolkit", name);
    }
    if (!blas.h)
        snprintf(err, (size_t)en, "%s", blas.why);
    return blas.h;
}

extern "C" {

int tgc_abi_version(void) { return TGC_ABI_VERSION; }

// number of usable devices, or -1 with the reason in err
int tgc_device_count(char *err, int en)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(err, (size_t)en, "%s", cudaGetErrorString(e));
        return -1;
    }
    return n;
}

int tgc_device_info(int dev, char *name, int nn, int *major, int *minor, size_t *total, size_t *freemem,
                    int *runtime, char *err, int en)
{
    cudaDeviceProp p;
    CHECK_CUDA(cudaGetDeviceProperties(&p, dev));
    snprintf(name, (size_t)nn, "%s", p.name);
    *major = p.major;
    *minor = p.minor;
    CHECK_CUDA(cudaSetDevice(dev));
    CHECK_CUDA(cudaMemGetInfo(freemem, total));
    CHECK_CUDA(cudaRuntimeGetVersion(runtime));
    return 0;
fail:
    return -1;
}

// Is p memory the device can use as it is (managed or device memory)?
static bool on_device(const void *p)
{
    cudaPointerAttributes at;
    if (cudaPointerGetAttributes(&at, p) != cudaSuccess) {
        cudaGetLastError(); // clear it: host memory is not an error
        return false;
    }
    return at.type == cudaMemoryTypeManaged || at.type == cudaMemoryTypeDevice;
}

// one cuBLAS handle for the process (creating one takes milliseconds)
static cublasHandle_t blas_handle(char *err, int en)
{
    static cublasHandle_t h;
    if (!h && open_cublas(err, en)) {
        cublasStatus_t s = blas.create(&h);
        if (s != CUBLAS_STATUS_SUCCESS) {
            snprintf(err, (size_t)en, "cublasCreate: cuBLAS status %d", (int)s);
            h = nullptr;
        }
    }
    return h;
}

// C[b] = op(A[b]) @ op(B[b]) for row-major operands, b < batches; stride 0
// broadcasts an operand over the batch.  Row-major C = A B is column-major
// C^T = B^T A^T, so cuBLAS gets the operands swapped.  Operands in managed
// memory (tensors on cuda) are used where they are; host operands are
// copied over and the result back.
int tgc_gemm(int f64, int ta, int tb, long m, long n, long k, const void *A, long lda, long sa,
             const void *B, long ldb, long sb, void *C, long batches, char *err, int en)
{
    size_t es = f64 ? 8 : 4;
    size_t na = (size_t)(sa ? sa * batches : (ta ? k * lda : m * lda)), nb = (size_t)(sb ? sb * batches : (tb ? n * ldb : k * ldb));
    size_t nc = (size_t)(m * n * batches);
    bool resident = on_device(A) && on_device(B) && on_device(C);
    void *dA = nullptr, *dB = nullptr, *dC = nullptr;
    const void *pA = A, *pB = B;
    void *pC = C;
    cublasHandle_t h = blas_handle(err, en);
    int rc = -1;
    if (!h)
        return -1;
    if (sa == 0)
        na = (size_t)(ta ? k * lda : m * lda);
    if (sb == 0)
        nb = (size_t)(tb ? n * ldb : k * ldb);
    if (!resident) {
        CHECK_CUDA(cudaMalloc(&dA, na * es));
        CHECK_CUDA(cudaMalloc(&dB, nb * es));
        CHECK_CUDA(cudaMalloc(&dC, nc * es));
        CHECK_CUDA(cudaMemcpy(dA, A, na * es, cudaMemcpyHostToDevice));
        CHECK_CUDA(cudaMemcpy(dB, B, nb * es, cudaMemcpyHostToDevice));
        pA = dA, pB = dB, pC = dC;
    }
    {
        cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
        if (f64) {
            const double one = 1, zero = 0;
            CHECK_BLAS(blas.dgemm_batched(h, ob, oa, (int)n, (int)m, (int)k, &one, (const double *)pB,
                                                 (int)ldb, sb, (const double *)pA, (int)lda, sa, &zero,
                                                 (double *)pC, (int)n, m * n, (int)batches));
        } else {
            const float one = 1, zero = 0;
            CHECK_BLAS(blas.sgemm_batched(h, ob, oa, (int)n, (int)m, (int)k, &one, (const float *)pB,
                                                 (int)ldb, sb, (const float *)pA, (int)lda, sa, &zero,
                                                 (float *)pC, (int)n, m * n, (int)batches));
        }
    }
    if (!resident)
        CHECK_CUDA(cudaMemcpy(C, dC, nc * es, cudaMemcpyDeviceToHost));
    CHECK_CUDA(cudaDeviceSynchronize()); // the host may read C now
    rc = 0;
fail:
    cudaFree(dA);
    cudaFree(dB);
    cudaFree(dC);
    return rc;
}

// tdevice --bench: host<->device GB/s (pinned), device copy GB/s, and
// float32 GEMM TFLOP/s at n = 4096
int tgc_bench(double *h2d, double *d2h, double *d2d, double *tflops, char *err, int en)
{
    const size_t bytes = (size_t)256 << 20;
    void *host = nullptr, *d1 = nullptr, *d2 = nullptr;
    cudaEvent_t t0 = nullptr, t1 = nullptr;
    cublasHandle_t h = nullptr;
    float ms = 0;
    int rc = -1;
    const int n = 4096;
    CHECK_CUDA(cudaMallocHost(&host, bytes));
    CHECK_CUDA(cudaMalloc(&d1, bytes));
    CHECK_CUDA(cudaMalloc(&d2, bytes));
    memset(host, 1, bytes);
    CHECK_CUDA(cudaEventCreate(&t0));
    CHECK_CUDA(cudaEventCreate(&t1));
    CHECK_CUDA(cudaMemcpy(d1, host, bytes, cudaMemcpyHostToDevice)); // warm-up
    CHECK_CUDA(cudaEventRecord(t0));
    CHECK_CUDA(cudaMemcpy(d1, host, bytes, cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaEventRecord(t1));
    CHECK_CUDA(cudaEventSynchronize(t1));
    CHECK_CUDA(cudaEventElapsedTime(&ms, t0, t1));
    *h2d = bytes / (ms * 1e-3) / 1e9;
    CHECK_CUDA(cudaEventRecord(t0));
    CHECK_CUDA(cudaMemcpy(host, d1, bytes, cudaMemcpyDeviceToHost));
    CHECK_CUDA(cudaEventRecord(t1));
    CHECK_CUDA(cudaEventSynchronize(t1));
    CHECK_CUDA(cudaEventElapsedTime(&ms, t0, t1));
    *d2h = bytes / (ms * 1e-3) / 1e9;
    CHECK_CUDA(cudaMemcpy(d2, d1, bytes, cudaMemcpyDeviceToDevice));
    CHECK_CUDA(cudaEventRecord(t0));
    CHECK_CUDA(cudaMemcpy(d2, d1, bytes, cudaMemcpyDeviceToDevice));
    CHECK_CUDA(cudaEventRecord(t1));
    CHECK_CUDA(cudaEventSynchronize(t1));
    CHECK_CUDA(cudaEventElapsedTime(&ms, t0, t1));
    *d2d = 2.0 * bytes / (ms * 1e-3) / 1e9; // read + write
    if (!open_cublas(err, en))
        goto fail;
    CHECK_BLAS(blas.create(&h));
    {
        const float one = 1, zero = 0;
        float *a = (float *)d1, *b = (float *)d1 + (size_t)n * n, *c = (float *)d2;
        CHECK_BLAS(blas.sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, n, b, n, &zero, c, n));
        CHECK_CUDA(cudaEventRecord(t0));
        for (int r = 0; r < 5; r++)
            CHECK_BLAS(blas.sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, n, b, n, &zero, c, n));
        CHECK_CUDA(cudaEventRecord(t1));
        CHECK_CUDA(cudaEventSynchronize(t1));
        CHECK_CUDA(cudaEventElapsedTime(&ms, t0, t1));
        *tflops = 5 * 2.0 * n * (double)n * n / (ms * 1e-3) / 1e12;
    }
    rc = 0;
fail:
    if (h)
        blas.destroy(h);
    if (t0)
        cudaEventDestroy(t0);
    if (t1)
        cudaEventDestroy(t1);
    cudaFreeHost(host);
    cudaFree(d1);
    cudaFree(d2);
    return rc;
}

} // extern "C"
