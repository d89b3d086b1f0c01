// tg_cuda_fused.cu -- the kernels compiled evaluation generates for the cuda
// device (lib/compile/fused_cuda.c writes their source): compiled at run time by
// NVRTC for the device's own architecture, loaded with the runtime's
// library calls, launched.
//
// NVRTC is opened when first needed, not linked: a machine with the driver
// and cuBLAS but without NVRTC still runs everything on cuda (compiled
// evaluation then runs op by op, as the eager kernels do).
#include <cstdio>
#include <cstring>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <cstdlib>
#include <nvrtc.h>

#include "tg_cuda_abi.h"

static struct {
    bool tried;
    void *h;
    decltype(&nvrtcCreateProgram) create;
    decltype(&nvrtcCompileProgram) compile;
    decltype(&nvrtcGetProgramLogSize) log_size;
    decltype(&nvrtcGetProgramLog) log;
    decltype(&nvrtcGetCUBINSize) cubin_size;
    decltype(&nvrtcGetCUBIN) cubin;
    decltype(&nvrtcDestroyProgram) destroy;
    decltype(&nvrtcGetErrorString) error_string;
    decltype(&nvrtcVersion) version;
    char why[200];
} rtc;

// NVRTC of this toolkit's major version, else any on the library path
static bool open_nvrtc(void)
{
    if (rtc.tried)
        return rtc.h != nullptr;
    rtc.tried = true;
    char name[64];
    snprintf(name, sizeof name, "libnvrtc.so.%d", CUDART_VERSION / 1000);
    rtc.h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!rtc.h)
        rtc.h = dlopen("libnvrtc.so", RTLD_NOW | RTLD_LOCAL);
    if (!rtc.h) {
        snprintf(rtc.why, sizeof rtc.why, "NVRTC (%s) is not installed", name);
        return false;
    }
#define SYM(field, fn) *(void **)&rtc.field = dlsym(rtc.h, #fn)
    SYM(create, nvrtcCreateProgram);
    SYM(compile, nvrtcCompileProgram);
    SYM(log_size, nvrtcGetProgramLogSize);
    SYM(log, nvrtcGetProgramLog);
    SYM(cubin_size, nvrtcGetCUBINSize);
    SYM(cubin, nvrtcGetCUBIN);
    SYM(destroy, nvrtcDestroyProgram);
    SYM(error_string, nvrtcGetErrorString);
    SYM(version, nvrtcVersion);
#undef SYM
    if (!rtc.create || !rtc.compile || !rtc.log_size || !rtc.log || !rtc.cubin_size || !rtc.cubin || !rtc.destroy ||
        !rtc.error_string || !rtc.version) {
        snprintf(rtc.why, sizeof rtc.why, "NVRTC (%s) lacks the calls it needs", name);
        dlclose(rtc.h);
        rtc.h = nullptr;
        return false;
    }
    return true;
}

// the first line of NVRTC's log that says what went wrong
static void first_error(nvrtcProgram prog, const char *what, char *err, int en)
{
    size_t n = 0;
    char *buf = nullptr;
    if (rtc.log_size(prog, &n) == NVRTC_SUCCESS && n > 0 && (buf = (char *)malloc(n + 1)) &&
        rtc.log(prog, buf) == NVRTC_SUCCESS) {
        buf[n] = 0;
        char *line = strstr(buf, "error");
        line = line ? line : buf;
        line[strcspn(line, "\n")] = 0;
        snprintf(err, (size_t)en, "%s: %s", what, line);
    } else
        snprintf(err, (size_t)en, "%s failed", what);
    free(buf);
}

extern "C" {

// 0 when NVRTC is there to compile kernels; else 1, and err says why
int tgc_fused_available(char *err, int en)
{
    if (open_nvrtc())
        return 0;
    snprintf(err, (size_t)en, "%s", rtc.why);
    return 1;
}

// What tgc_fused_nvrtc compiles for: the device's architecture ("sm_90"),
// or with check_only a fixed one for which no device is needed
// (TG_CUDA_EMULATE checks that the generated source compiles); and in tag
// the NVRTC that compiles ("NVRTC 13.0").  0, or -1 with err set.
int tgc_fused_arch(int check_only, char *arch, int n, char *tag, int tn, char *err, int en)
{
    int major = 0, minor = 0;
    if (open_nvrtc() && rtc.version(&major, &minor) == NVRTC_SUCCESS)
        snprintf(tag, (size_t)tn, "NVRTC %d.%d", major, minor);
    else
        snprintf(tag, (size_t)tn, "no NVRTC");
    if (check_only) {
        snprintf(arch, (size_t)n, "sm_75");
        return 0;
    }
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess)
        e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    if (e == cudaSuccess)
        e = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
    if (e != cudaSuccess) {
        cudaGetLastError();
        snprintf(err, (size_t)en, "the device's architecture: %s", cudaGetErrorString(e));
        return -1;
    }
    snprintf(arch, (size_t)n, "sm_%d%d", major, minor);
    return 0;
}

// Compiles src (CUDA C++) with NVRTC into machine code for arch: *image
// (malloc'd; the caller frees it) of *size bytes.  0: done; 1: NVRTC is
// not there (err says so); -1: it does not compile (NVRTC's first error).
int tgc_fused_nvrtc(const char *src, const char *arch, void **image, size_t *size, char *err, int en)
{
    *image = nullptr;
    *size = 0;
    if (tgc_fused_available(err, en) != 0)
        return 1;
    char archopt[64];
    snprintf(archopt, sizeof archopt, "--gpu-architecture=%s", arch);
    // -fmad=false: each operation rounds once, as on the CPU and in the
    // backend's own kernels
    // (177: a constant the kernel declares and does not use, as generated
    // code does; without it the log buries a real error under warnings)
    const char *opts[] = {archopt, "--std=c++17", "-fmad=false", "-default-device", "-diag-suppress=177"};
    nvrtcProgram prog;
    nvrtcResult r = rtc.create(&prog, src, "tg_fused.cu", 0, nullptr, nullptr);
    if (r != NVRTC_SUCCESS) {
        snprintf(err, (size_t)en, "nvrtcCreateProgram: %s", rtc.error_string(r));
        return -1;
    }
    r = rtc.compile(prog, (int)(sizeof opts / sizeof *opts), opts);
    if (r != NVRTC_SUCCESS) {
        first_error(prog, "NVRTC", err, en);
        rtc.destroy(&prog);
        return -1;
    }
    size_t n = 0;
    char *cubin = nullptr;
    r = rtc.cubin_size(prog, &n);
    if (r == NVRTC_SUCCESS && !(cubin = (char *)malloc(n ? n : 1)))
        r = NVRTC_ERROR_OUT_OF_MEMORY;
    if (r == NVRTC_SUCCESS)
        r = rtc.cubin(prog, cubin);
    rtc.destroy(&prog);
    if (r != NVRTC_SUCCESS) {
        free(cubin);
        snprintf(err, (size_t)en, "NVRTC's machine code: %s", rtc.error_string(r));
        return -1;
    }
    *image = cubin;
    *size = n;
    return 0;
}

// Loads machine code from tgc_fused_nvrtc and finds its kernel `name`.  The
// library stays loaded for the process (its kernel is kept with the
// program's plan, and plans are few).  0, or -1 with err set.
int tgc_fused_load(const void *image, const char *name, void **kernel, char *err, int en)
{
#if CUDART_VERSION < 12000
    // the runtime's library calls came with CUDA 12 (Debian 12's toolkit is
    // 11.8): there the programs run op by op on the device
    (void)image;
    (void)name;
    *kernel = nullptr;
    snprintf(err, (size_t)en, "generated kernels need a CUDA 12 toolkit or later (this backend was built with %d.%d)",
             CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10);
    return -1;
#else
    cudaLibrary_t lib;
    cudaKernel_t k;
    *kernel = nullptr;
    cudaError_t e = cudaLibraryLoadData(&lib, image, nullptr, nullptr, 0, nullptr, nullptr, 0);
    if (e == cudaSuccess)
        e = cudaLibraryGetKernel(&k, lib, name);
    if (e != cudaSuccess) {
        cudaGetLastError();
        snprintf(err, (size_t)en, "loading the compiled kernel: %s", cudaGetErrorString(e));
        return -1;
    }
    *kernel = (void *)k;
    return 0;
#endif
}

// Runs a kernel tgc_fused_load loaded on grid blocks of block threads;
// args as cudaLaunchKernel takes them.  Returns when the device is done.
int tgc_fused_launch(void *kernel, unsigned grid, unsigned block, void **args, char *err, int en)
{
    cudaError_t e = cudaLaunchKernel((const void *)kernel, dim3(grid), dim3(block), args, 0, 0);
    if (e == cudaSuccess)
        e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        cudaGetLastError();
        snprintf(err, (size_t)en, "compiled kernel: %s", cudaGetErrorString(e));
        return -1;
    }
    return 0;
}

} // extern "C"
