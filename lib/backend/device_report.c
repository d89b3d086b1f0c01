/* device_report.c -- what tdevice prints: each device and what it offers,
 * built with cJSON.  CUDA is probed through the driver at run time. */
#include "internal.h"
#include <cJSON.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the value of "key : value" in /proc/cpuinfo's first processor */
static char *cpuinfo(const char *key, char *buf, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    buf[0] = 0;
    if (!f)
        return buf;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && (line[kl] == ' ' || line[kl] == '\t' || line[kl] == ':')) {
            char *v = strchr(line, ':');
            if (v) {
                v++;
                while (*v == ' ')
                    v++;
                v[strcspn(v, "\n")] = 0;
                snprintf(buf, n, "%s", v);
            }
            break;
        }
    fclose(f);
    return buf;
}

static bool has_flag(const char *flags, const char *flag)
{
    size_t n = strlen(flag);
    for (const char *p = flags; (p = strstr(p, flag)); p += n)
        if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
            return true;
    return false;
}

/* memory bandwidth: copying a 128 MiB buffer, best of 5, bytes read+written */
static double measure_bandwidth(void)
{
    size_t n = (size_t)128 << 20;
    char *a = tg_malloc(n), *b = tg_malloc(n);
    double best = 0;
    if (a && b) {
        memset(a, 1, n);
        memset(b, 2, n);
        for (int r = 0; r < 5; r++) {
            double t0 = tg_now();
            memcpy(b, a, n);
            double dt = tg_now() - t0;
            if (dt > 0 && 2.0 * (double)n / dt > best)
                best = 2.0 * (double)n / dt;
        }
    }
    tg_free(a);
    tg_free(b);
    tg_error_clear();
    return best / 1e9;
}

/* float32 GEMM rate at n = 1024, best of 3 */
static double measure_gemm(void)
{
    int64_t shape[2] = {1024, 1024};
    tg_tensor *a = tg_rand(TG_FLOAT32, 2, shape), *b = tg_rand(TG_FLOAT32, 2, shape);
    double best = 0;
    for (int r = 0; r < 3 && a && b; r++) {
        double t0 = tg_now();
        tg_tensor *c = tg_matmul(tg_ref(a), tg_ref(b));
        double dt = tg_now() - t0;
        tg_release(c);
        if (dt > 0 && 2.0 * 1024 * 1024 * 1024 / dt > best)
            best = 2.0 * 1024 * 1024 * 1024 / dt;
    }
    tg_release(a);
    tg_release(b);
    tg_error_clear();
    return best / 1e9;
}

static cJSON *cpu_entry(bool bench)
{
    cJSON *d = cJSON_CreateObject();
    char buf[4096];
    cJSON_AddStringToObject(d, "type", "cpu");
    cJSON_AddStringToObject(d, "name", cpuinfo("model name", buf, sizeof buf)[0] ? buf : "unknown");
    cJSON_AddNumberToObject(d, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON *simd = cJSON_AddArrayToObject(d, "simd");
    cpuinfo("flags", buf, sizeof buf);
    static const char *feats[] = {"sse2", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "amx_tile", "neon", "asimd"};
    for (size_t i = 0; i < sizeof feats / sizeof *feats; i++)
        if (has_flag(buf, feats[i]))
            cJSON_AddItemToArray(simd, cJSON_CreateString(feats[i]));
    cJSON *blas = cJSON_AddObjectToObject(d, "blas");
    cJSON_AddStringToObject(blas, "name", "OpenBLAS");
    const char *blas_why_not = tg_blas_unavailable_reason(); /* loads it */
    if (blas_why_not) {
        cJSON_AddStringToObject(blas, "unavailable", blas_why_not);
    } else {
        cJSON_AddStringToObject(blas, "config", tg_blas_config());
        cJSON_AddStringToObject(blas, "core", tg_blas_corename());
    }
    const char *ct = getenv("OPENBLAS_CORETYPE");
    if (ct)
        cJSON_AddStringToObject(blas, "coretype_env", ct);
    if (!blas_why_not)
        cJSON_AddNumberToObject(blas, "threads", tg_blas_threads());
    /* what tgrad --compile's generated loops would use (lib/compile/jit.c): the
     * C compiler, found on PATH or not, and the cache folder */
    tg_jit_info ji;
    tg_jit_describe(&ji);
    cJSON *cj = cJSON_AddObjectToObject(d, "compile");
    cJSON_AddBoolToObject(cj, "generated_code", ji.enabled && ji.compiler_found && ji.cache[0] && ji.cache_usable);
    cJSON_AddStringToObject(cj, "compiler", ji.compiler);
    cJSON_AddBoolToObject(cj, "compiler_found", ji.compiler_found);
    cJSON_AddBoolToObject(cj, "enabled", ji.enabled);
    if (ji.cache[0])
        cJSON_AddStringToObject(cj, "cache", ji.cache);
    else
        cJSON_AddNullToObject(cj, "cache");
    if (ji.cache[0] && !ji.cache_usable) /* refused: its checks (jit_cache.c) say why */
        cJSON_AddStringToObject(cj, "cache_refused", ji.cache_refused);
    cJSON_AddBoolToObject(d, "available", true);
    if (bench) {
        cJSON *m = cJSON_AddObjectToObject(d, "bench");
        cJSON_AddNumberToObject(m, "memory_copy_GBps", measure_bandwidth());
        cJSON_AddNumberToObject(m, "sgemm_1024_GFLOPs", measure_gemm());
    }
    return d;
}

/* CUDA devices through the driver API, loaded at run time */
static void add_cuda(cJSON *devices, bool bench)
{
    const char *why = tg_cuda_unavailable_reason();
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    typedef int (*count_fn)(int *);
    typedef int (*get_fn)(int *, int);
    typedef int (*name_fn)(char *, int, int);
    typedef int (*attr_fn)(int *, int, int);
    typedef int (*mem_fn)(size_t *, int);
    typedef int (*ver_fn)(int *);
    int n = 0;
    if (h && ((int (*)(unsigned))dlsym(h, "cuInit")) && ((int (*)(unsigned))dlsym(h, "cuInit"))(0) == 0) {
        count_fn cnt = (count_fn)dlsym(h, "cuDeviceGetCount");
        get_fn get = (get_fn)dlsym(h, "cuDeviceGet");
        name_fn name = (name_fn)dlsym(h, "cuDeviceGetName");
        attr_fn attr = (attr_fn)dlsym(h, "cuDeviceGetAttribute");
        mem_fn mem = (mem_fn)dlsym(h, "cuDeviceTotalMem_v2");
        ver_fn ver = (ver_fn)dlsym(h, "cuDriverGetVersion");
        if (cnt && get && name && attr && mem && ver && cnt(&n) == 0)
            for (int i = 0; i < n; i++) {
                int dev, major = 0, minor = 0, dv = 0;
                char nm[256] = "";
                size_t total = 0;
                if (get(&dev, i) != 0)
                    continue;
                name(nm, sizeof nm, dev);
                attr(&major, 75, dev); /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR */
                attr(&minor, 76, dev);
                mem(&total, dev);
                ver(&dv);
                cJSON *d = cJSON_CreateObject();
                char cc[32], drv[32];
                snprintf(cc, sizeof cc, "%d.%d", major, minor);
                snprintf(drv, sizeof drv, "%d.%d", dv / 1000, dv % 1000 / 10);
                cJSON_AddStringToObject(d, "type", "cuda");
                cJSON_AddNumberToObject(d, "index", i);
                cJSON_AddStringToObject(d, "name", nm);
                cJSON_AddStringToObject(d, "compute_capability", cc);
                cJSON_AddNumberToObject(d, "memory_total_bytes", (double)total);
                cJSON_AddStringToObject(d, "driver", drv);
                cJSON_AddBoolToObject(d, "available", why == NULL);
                if (why)
                    cJSON_AddStringToObject(d, "reason", why);
                tg_cuda_info info;
                if (!why && tg_cuda_device_info(i, &info) == TG_OK) {
                    char rt[32];
                    snprintf(rt, sizeof rt, "%d.%d", info.runtime_version / 1000, info.runtime_version % 1000 / 10);
                    cJSON_AddStringToObject(d, "runtime", rt);
                    cJSON_AddNumberToObject(d, "memory_free_bytes", (double)info.free_bytes);
                }
                tg_error_clear();
                /* what tgrad --compile on cuda uses: kernels compiled by NVRTC */
                const char *fwhy = why ? why : tg_cuda_fused_unavailable_reason();
                cJSON *cj = cJSON_AddObjectToObject(d, "compile");
                cJSON_AddBoolToObject(cj, "generated_code", fwhy == NULL);
                cJSON_AddStringToObject(cj, "compiler", "NVRTC");
                if (fwhy)
                    cJSON_AddStringToObject(cj, "reason", fwhy);
                double h2d, d2h, d2d, tf;
                if (bench && !why && i == 0 && tg_cuda_bench(&h2d, &d2h, &d2d, &tf) == TG_OK) {
                    cJSON *m = cJSON_AddObjectToObject(d, "bench");
                    cJSON_AddNumberToObject(m, "host_to_device_GBps", h2d);
                    cJSON_AddNumberToObject(m, "device_to_host_GBps", d2h);
                    cJSON_AddNumberToObject(m, "device_copy_GBps", d2d);
                    cJSON_AddNumberToObject(m, "sgemm_4096_TFLOPs", tf);
                }
                tg_error_clear();
                cJSON_AddItemToArray(devices, d);
            }
    }
    if (h)
        dlclose(h);
    (void)n;
}

char *tg_device_report(bool bench, bool pretty)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) {
        tg_error(TG_ERESOURCE, "out of memory");
        return NULL;
    }
    cJSON *devices = cJSON_AddArrayToObject(root, "devices");
    cJSON_AddItemToArray(devices, cpu_entry(bench));
    add_cuda(devices, bench);
    const char *why = tg_cuda_unavailable_reason();
    cJSON_AddStringToObject(root, "default", why ? "cpu" : "cuda");
    if (why)
        cJSON_AddStringToObject(root, "cuda_unavailable", why);
    char *s = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!s)
        tg_error(TG_ERESOURCE, "out of memory");
    return s;
}
