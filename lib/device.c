/* device.c -- device names, and why CUDA is or is not usable here.  The
 * driver is looked for at run time (dlopen), so the tools start where no
 * CUDA library is installed. */
#include "internal.h"
#include <dlfcn.h>
#include <string.h>

const char *tg_device_name(tg_device d) { return d == TG_DEV_CUDA ? "cuda" : "cpu"; }

const char *tg_cuda_unavailable_reason(void)
{
    static char reason[256];
    static bool probed;
    if (probed)
        return reason[0] ? reason : NULL;
    probed = true;
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(reason, sizeof reason, "no NVIDIA driver on this machine (libcuda.so.1 not found)");
        return reason;
    }
    typedef int (*init_fn)(unsigned);
    typedef int (*count_fn)(int *);
    init_fn cu_init = (init_fn)dlsym(h, "cuInit");
    count_fn cu_count = (count_fn)dlsym(h, "cuDeviceGetCount");
    int n = 0;
    if (!cu_init || !cu_count || cu_init(0) != 0 || cu_count(&n) != 0 || n == 0)
        snprintf(reason, sizeof reason, "the NVIDIA driver reports no usable CUDA device");
    else
        snprintf(reason, sizeof reason, "this build has no CUDA backend for its ops yet");
    dlclose(h);
    return reason;
}

tg_status tg_device_parse(const char *s, tg_device *out)
{
    if (!strcmp(s, "cpu")) {
        *out = TG_DEV_CPU;
        return TG_OK;
    }
    if (!strcmp(s, "auto")) { /* the lesson's idiom: cuda if available else cpu */
        *out = tg_cuda_unavailable_reason() ? TG_DEV_CPU : TG_DEV_CUDA;
        return TG_OK;
    }
    if (!strcmp(s, "cuda") || !strncmp(s, "cuda:", 5)) {
        const char *why = tg_cuda_unavailable_reason();
        if (why)
            return tg_error(TG_ERESOURCE, "device cuda is not available: %s (use --device cpu or auto)", why);
        *out = TG_DEV_CUDA;
        return TG_OK;
    }
    return tg_error(TG_EUSAGE, "unknown device '%.40s' (expected cpu, cuda or auto)", s);
}
