/* device.c -- device names and the --device option (cuda.c says why CUDA
 * is or is not usable here). */
#include "internal.h"
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

const char *tg_device_name(tg_device d) { return d == TG_DEV_CUDA ? "cuda" : "cpu"; }

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
            return tg_error(TG_ERESOURCE, "device cuda is not available: %s", why);
        *out = TG_DEV_CUDA;
        return TG_OK;
    }
    return tg_error(TG_EUSAGE, "unknown device '%.40s' (expected cpu, cuda or auto)", s);
}

/* Each device's memory (core.h); the CPU's is tensor.c's own.  On cuda it
 * is CUDA managed memory, which host code reads and writes too. */
static void cpu_free(void *p, size_t bytes) { tg_free(p); }
static const tg_device_memory device_memory[] = {
    [TG_DEV_CPU] = {tg_malloc, cpu_free},
    [TG_DEV_CUDA] = {tg_cuda_alloc, tg_cuda_free},
};
const tg_device_memory *tg_device_memory_of(tg_device d) { return &device_memory[d]; }

/* The device new tensors are made on.  On cuda their memory is CUDA
 * managed memory (cuda.c): elementwise ops and reductions run as CUDA
 * kernels, products through cuBLAS, and whatever has no kernel (shape ops'
 * copies, printing) runs on the host over the same memory. */
static tg_device current = TG_DEV_CPU;
void tg_set_device(tg_device d) { current = d; }
tg_device tg_get_device(void) { return current; }

/* TG_DEVICE sets the default device for the tools (--device overrides). */
tg_status tg_device_from_env(void)
{
    const char *e = getenv("TG_DEVICE");
    return e && *e ? tg_device_select(e) : TG_OK;
}

/* --device S: parse and make it the current device */
tg_status tg_device_select(const char *s)
{
    tg_device d;
    tg_status st = tg_device_parse(s, &d);
    if (st == TG_OK)
        tg_set_device(d);
    return st;
}
