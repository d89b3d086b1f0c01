/* cuda.c -- the CUDA backend, loaded at run time: libtg_cuda.so (built from
 * kernels/ by nvcc where nvcc is found) is looked for beside the program
 * (../lib from bin/), then in TG_CUDA_LIBRARY, then on the library path.
 * Nothing here links against CUDA, so the tools start anywhere; why CUDA
 * cannot be used is said in one line (no driver, backend not built or not
 * loadable, no device). */
#include "internal.h"
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    void *h;
    int (*device_count)(char *, int);
    int (*device_info)(int, char *, int, int *, int *, size_t *, size_t *, int *, char *, int);
    int (*gemm)(int, int, int, long, long, long, const void *, long, long, const void *, long, long, void *,
                long, char *, int);
    int (*bench)(double *, double *, double *, double *, char *, int);
} backend;

static backend be;
static char why[512];
static bool probed;

static void *open_backend(void)
{
    char path[PATH_MAX + 32];
    const char *env = getenv("TG_CUDA_LIBRARY");
    if (env && *env)
        return dlopen(env, RTLD_NOW | RTLD_LOCAL);
    ssize_t n = readlink("/proc/self/exe", path, PATH_MAX);
    if (n > 0) {
        path[n] = 0;
        char *slash = strrchr(path, '/');
        if (slash) {
            strcpy(slash, "/../lib/libtg_cuda.so");
            void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
            if (h)
                return h;
        }
    }
    return dlopen("libtg_cuda.so", RTLD_NOW | RTLD_LOCAL);
}

static const char *probe(void)
{
    if (probed)
        return why[0] ? why : NULL;
    probed = true;
    void *drv = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!drv) {
        snprintf(why, sizeof why, "no NVIDIA driver on this machine (libcuda.so.1 not found)");
        return why;
    }
    dlclose(drv);
    be.h = open_backend();
    if (!be.h) {
        const char *e = dlerror();
        snprintf(why, sizeof why, "the CUDA backend cannot be loaded (libtg_cuda.so: %s; it is built "
                 "where nvcc is found)", e ? e : "not found");
        return why;
    }
    be.device_count = (int (*)(char *, int))dlsym(be.h, "tgc_device_count");
    *(void **)&be.device_info = dlsym(be.h, "tgc_device_info");
    *(void **)&be.gemm = dlsym(be.h, "tgc_gemm");
    *(void **)&be.bench = dlsym(be.h, "tgc_bench");
    if (!be.device_count || !be.device_info || !be.gemm || !be.bench) {
        snprintf(why, sizeof why, "the CUDA backend library is incomplete (rebuild it with make)");
        return why;
    }
    char err[256] = "";
    int n = be.device_count(err, sizeof err);
    if (n < 0)
        snprintf(why, sizeof why, "CUDA reports no usable device: %s", err);
    else if (n == 0)
        snprintf(why, sizeof why, "CUDA reports no device");
    return why[0] ? why : NULL;
}

const char *tg_cuda_unavailable_reason(void) { return probe(); }

int tg_cuda_device_count(void)
{
    if (probe())
        return 0;
    char err[256];
    int n = be.device_count(err, sizeof err);
    return n > 0 ? n : 0;
}

tg_status tg_cuda_device_info(int dev, tg_cuda_info *info)
{
    if (probe())
        return tg_error(TG_ERESOURCE, "device cuda is not available: %s", why);
    char err[256] = "";
    memset(info, 0, sizeof *info);
    if (be.device_info(dev, info->name, sizeof info->name, &info->major, &info->minor, &info->total_bytes,
                       &info->free_bytes, &info->runtime_version, err, sizeof err) != 0)
        return tg_error(TG_ERESOURCE, "CUDA device %d: %s", dev, err);
    return TG_OK;
}

tg_status tg_cuda_bench(double *h2d, double *d2h, double *d2d, double *tflops)
{
    if (probe())
        return tg_error(TG_ERESOURCE, "device cuda is not available: %s", why);
    char err[256] = "";
    if (be.bench(h2d, d2h, d2d, tflops, err, sizeof err) != 0)
        return tg_error(TG_ERESOURCE, "CUDA measurement failed: %s", err);
    return TG_OK;
}

/* out = a @ b on the GPU for float operands already shaped by the matmul op
 * (rank >= 2, out allocated on the host).  Each operand's batch must be
 * either one matrix (broadcast) or as many as out's, laid out contiguously;
 * otherwise TG_NO and the caller computes on the CPU. */
tg_status tg_cuda_matmul(tg_tensor *a, tg_tensor *b, tg_tensor *out)
{
    if (probe())
        return tg_error(TG_ERESOURCE, "device cuda is not available: %s", why);
    if (!tg_dtype_is_float(out->dtype) || !tg_is_contiguous(a) || !tg_is_contiguous(b))
        return TG_NO;
    int64_t m = out->shape[out->ndim - 2], n = out->shape[out->ndim - 1], k = a->shape[a->ndim - 1];
    int64_t mn = m * n, batches = mn != 0 ? out->numel / mn : 0;
    int64_t mk = m * k, kn = k * n;
    int64_t ba = a->numel / (mk != 0 ? mk : 1), bb = b->numel / (kn != 0 ? kn : 1);
    if ((ba != 1 && ba != batches) || (bb != 1 && bb != batches) || m > INT_MAX || n > INT_MAX || k > INT_MAX)
        return TG_NO;
    if (out->numel == 0 || k == 0) {
        memset(tg_data(out), 0, out->storage->nbytes);
        return TG_OK;
    }
    char err[256] = "";
    if (be.gemm(out->dtype == TG_FLOAT64, 0, 0, (long)m, (long)n, (long)k, tg_data(a), (long)k,
                ba == 1 ? 0 : (long)(m * k), tg_data(b), (long)n, bb == 1 ? 0 : (long)(k * n), tg_data(out),
                (long)batches, err, sizeof err) != 0)
        return tg_error(TG_ERESOURCE, "CUDA matmul failed: %s", err);
    return TG_OK;
}
