/* cuda.c -- the CUDA backend, loaded at run time: libtg_cuda.so (built from
 * kernels/ by nvcc where nvcc is found) is looked for beside the program
 * (../lib from bin/), then in TG_CUDA_LIBRARY, then on the library path.
 * Nothing here links against CUDA, so the tools start anywhere; why CUDA
 * cannot be used is said in one line (no driver, backend not built or not
 * loadable, no device). */
#include "compile/fused.h"
#include "../kernels/tg_cuda_abi.h"
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
    int (*abi_version)(void);
    int (*alloc)(void **, size_t, char *, int);
    void (*free)(void *, size_t);
    int (*map)(const tgc_map_args *, char *, int);
    int (*reduce)(const tgc_reduce_args *, char *, int);
    int (*fused_arch)(int, char *, int, char *, int, char *, int);
    int (*fused_nvrtc)(const char *, const char *, void **, size_t *, char *, int);
    int (*fused_load)(const void *, const char *, void **, char *, int);
    int (*fused_launch)(void *, unsigned, unsigned, void **, char *, int);
    int (*fused_available)(char *, int);
    int (*prefetch)(void *, size_t, char *, int);
    int (*move)(const tgc_move_args *, long long *, char *, int);
} backend;

static backend be;
static char why[512];
static bool probed;

/* TG_CUDA_EMULATE=1: the cuda device is emulated on the host by the
 * backend's own kernel code (tgc_emulate_*), with host memory, so that the
 * cuda path -- dispatch, plans, kernels' arithmetic and indexing -- is
 * tested on machines without a GPU.  Products then run on the CPU. */
static bool emulating;
static int (*emulate_map)(const tgc_map_args *);
static int (*emulate_reduce)(const tgc_reduce_args *);
static int (*emulate_move)(const tgc_move_args *, long long *);

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
    const char *emu = getenv("TG_CUDA_EMULATE");
    emulating = emu && *emu && strcmp(emu, "0") != 0;
    void *drv = emulating ? NULL : dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!drv && !emulating) {
        snprintf(why, sizeof why, "no NVIDIA driver on this machine (libcuda.so.1 not found)");
        return why;
    }
    if (drv)
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
    *(void **)&be.abi_version = dlsym(be.h, "tgc_abi_version");
    *(void **)&be.alloc = dlsym(be.h, "tgc_alloc");
    *(void **)&be.free = dlsym(be.h, "tgc_free");
    *(void **)&be.map = dlsym(be.h, "tgc_map");
    *(void **)&be.reduce = dlsym(be.h, "tgc_reduce");
    *(void **)&be.fused_arch = dlsym(be.h, "tgc_fused_arch");
    *(void **)&be.fused_nvrtc = dlsym(be.h, "tgc_fused_nvrtc");
    *(void **)&be.fused_load = dlsym(be.h, "tgc_fused_load");
    *(void **)&be.fused_launch = dlsym(be.h, "tgc_fused_launch");
    *(void **)&be.fused_available = dlsym(be.h, "tgc_fused_available");
    *(void **)&be.prefetch = dlsym(be.h, "tgc_prefetch");
    *(void **)&be.move = dlsym(be.h, "tgc_move");
    if (!be.device_count || !be.device_info || !be.gemm || !be.bench || !be.abi_version || !be.alloc ||
        !be.free || !be.map || !be.reduce || !be.fused_arch || !be.fused_nvrtc || !be.fused_load ||
        !be.fused_launch ||
        !be.fused_available || !be.prefetch || !be.move || be.abi_version() != TGC_ABI_VERSION) {
        snprintf(why, sizeof why, "the CUDA backend library is incomplete or of another version (rebuild "
                 "it with make)");
        return why;
    }
    *(void **)&emulate_map = dlsym(be.h, "tgc_emulate_map");
    *(void **)&emulate_reduce = dlsym(be.h, "tgc_emulate_reduce");
    *(void **)&emulate_move = dlsym(be.h, "tgc_emulate_move");
    if (emulating) {
        if (!emulate_map || !emulate_reduce || !emulate_move)
            snprintf(why, sizeof why, "the CUDA backend library cannot emulate (rebuild it with make)");
        return why[0] ? why : NULL;
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
    if (emulating)
        return 1;
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
    if (emulating) {
        snprintf(info->name, sizeof info->name, "emulated on the host (TG_CUDA_EMULATE)");
        return TG_OK;
    }
    if (be.device_info(dev, info->name, sizeof info->name, &info->major, &info->minor, &info->total_bytes,
                       &info->free_bytes, &info->runtime_version, err, sizeof err) != 0)
        return tg_error(TG_ERESOURCE, "CUDA device %d: %s", dev, err);
    return TG_OK;
}

tg_status tg_cuda_bench(double *h2d, double *d2h, double *d2d, double *tflops)
{
    if (probe())
        return tg_error(TG_ERESOURCE, "device cuda is not available: %s", why);
    if (emulating)
        return tg_error(TG_ERESOURCE, "the cuda device is emulated (TG_CUDA_EMULATE): nothing to measure");
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
    if (emulating || !tg_dtype_is_float(out->dtype) || !tg_is_contiguous(a) || !tg_is_contiguous(b))
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

tg_status tg_prefetch(tg_tensor *t)
{
    if (!t || t->storage->device != TG_DEV_CUDA || emulating || probe())
        return TG_OK;
    char err[256] = "";
    if (be.prefetch(t->storage->data, t->storage->nbytes, err, sizeof err) != 0)
        return tg_error(TG_ERESOURCE, "CUDA %s", err);
    return TG_OK;
}

/* ---- tensor memory and kernels on the device ---- */

void *tg_cuda_alloc(size_t bytes)
{
    if (probe()) {
        tg_error(TG_ERESOURCE, "device cuda is not available: %s", why);
        return NULL;
    }
    if (emulating)
        return tg_malloc(bytes ? bytes : 1);
    void *p = NULL;
    char err[256] = "";
    if (be.alloc(&p, bytes, err, sizeof err) != 0) {
        tg_error(TG_ERESOURCE, "out of device memory: %zu bytes on cuda (%s)", bytes, err);
        return NULL;
    }
    return p;
}

void tg_cuda_free(void *p, size_t bytes)
{
    if (emulating)
        tg_free(p);
    else if (p && be.free)
        be.free(p, bytes);
}

static tg_status kernel_result(int rc, const char *what, const char *err)
{
    if (rc == 1)
        return TG_NO;
    if (rc != 0)
        return tg_error(TG_ERESOURCE, "CUDA %s failed: %s", what, err);
    return TG_OK;
}

/* an elementwise op on device tensors, planned as the CPU loop plans it */
tg_status tg_cuda_map(int op, int nin, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    tg_dtype dt = in[nin - 1]->dtype;
    if (probe() || nin > 3 || !tg_dtype_is_float(dt) || (out->dtype != dt && out->dtype != TG_BOOL))
        return TG_NO;
    for (int k = 0; k < nin; k++)
        if (in[k]->storage->device != TG_DEV_CUDA)
            return TG_NO;
    tgc_map_args m = {.op = op, .dtype = dt, .out_dtype = out->dtype, .nin = nin, .numel = out->numel};
    m.m = tg_loop_plan(out, nin, in, m.shape, m.ost, m.st);
    m.out = tg_data(out);
    for (int k = 0; k < nin; k++)
        m.in[k] = tg_data(in[k]);
    if (a) {
        m.attrs.lo = a->clamp.lo;
        m.attrs.hi = a->clamp.hi;
        m.attrs.has_lo = a->clamp.has_lo;
        m.attrs.has_hi = a->clamp.has_hi;
        m.attrs.exponent = a->pow.exponent;
    }
    m.attrs.scalar_exponent = nin == 2;
    for (int d = 0; d < m.m && nin == 2; d++)
        m.attrs.scalar_exponent = m.attrs.scalar_exponent && m.st[1][d] == 0;
    char err[256] = "";
    return kernel_result(emulating ? emulate_map(&m) : be.map(&m, err, sizeof err), tg_ops[op].name, err);
}

/* sum (kind 0), max (1) or min (2) of x into the contiguous out; ost: out's
 * strides over x's dims, 0 along the reduced ones (ops_reduce.c) */
tg_status tg_cuda_reduce(int kind, const tg_tensor *x, const int64_t *ost, tg_tensor *out)
{
    if (probe() || !tg_dtype_is_float(x->dtype) || out->dtype != x->dtype || !tg_is_contiguous(out) ||
        x->storage->device != TG_DEV_CUDA || out->storage->device != TG_DEV_CUDA)
        return TG_NO;
    tgc_reduce_args r = {.kind = kind, .dtype = x->dtype, .nout = out->numel, .nred = 1, .x = tg_data(x),
                         .out = tg_data(out)};
    for (int d = 0; d < x->ndim; d++) {
        if (x->shape[d] == 1)
            continue;
        if (ost[d] == 0) {
            r.rshape[r.nr] = x->shape[d];
            r.rst[r.nr++] = x->stride[d];
            r.nred *= x->shape[d];
        } else {
            r.kshape[r.nk] = x->shape[d];
            r.kst[r.nk++] = x->stride[d];
        }
    }
    if (x->numel == 0)
        return TG_NO;
    char err[256] = "";
    return kernel_result(emulating ? emulate_reduce(&r) : be.reduce(&r, err, sizeof err), "reduction", err);
}

/* ---- moves by position and scans (kernels/tg_cuda_move.cu) ---- */

/* (the operands' devices are looked at first: CUDA is probed only where a
 * tensor is on cuda, not by every copy of a run on the cpu) */
static bool on_cuda(const tg_tensor *t) { return t->storage->device == TG_DEV_CUDA; }

/* runs m; *bad (if given): the first position of its index out of range, or -1 */
static tg_status run_move(tgc_move_args *m, int64_t *bad, const char *what)
{
    long long first = -1;
    char err[256] = "";
    int rc = emulating ? emulate_move(m, &first) : be.move(m, &first, err, sizeof err);
    if (bad)
        *bad = first;
    return kernel_result(rc, what, err);
}

/* the product of shape[from..to) */
static int64_t span(const int64_t *shape, int from, int to)
{
    int64_t n = 1;
    for (int d = from; d < to; d++)
        n *= shape[d];
    return n;
}

tg_status tg_cuda_copy(tg_tensor *dst, tg_tensor *src)
{
    if (!on_cuda(dst) || !on_cuda(src) || dst->numel != src->numel || probe())
        return TG_NO;
    tgc_move_args m = {.kind = TGC_COPY, .dtype = src->dtype, .out_dtype = dst->dtype, .numel = dst->numel,
                       .x = tg_data(src), .out = tg_data(dst)};
    int64_t st[1][TG_MAX_DIMS + 1];
    m.m = tg_loop_plan(dst, 1, &src, m.shape, m.ost, st);
    memcpy(m.st, st[0], sizeof m.st);
    return run_move(&m, NULL, "copy");
}

tg_status tg_cuda_zero(tg_tensor *t)
{
    if (!on_cuda(t) || probe())
        return TG_NO;
    tgc_move_args m = {.kind = TGC_ZERO, .dtype = TG_BOOL, .numel = (int64_t)t->storage->nbytes,
                       .out = t->storage->data};
    return run_move(&m, NULL, "fill");
}

tg_status tg_cuda_cat(const tg_tensor *a, const tg_tensor *b, int dim, tg_tensor *out)
{
    if (!on_cuda(a) || !on_cuda(b) || !on_cuda(out) || probe())
        return TG_NO;
    tgc_move_args m = {.kind = TGC_CAT, .dtype = out->dtype, .outer = span(out->shape, 0, dim),
                       .len = a->shape[dim], .len2 = b->shape[dim],
                       .inner = span(out->shape, dim + 1, out->ndim), .numel = out->numel,
                       .x = tg_data(a), .y = tg_data(b), .out = tg_data(out)};
    return run_move(&m, NULL, "cat");
}

tg_status tg_cuda_index(int op, const tg_tensor *src, const tg_tensor *idx, int dim, tg_tensor *out, int64_t *bad)
{
    *bad = -1;
    if (!on_cuda(src) || !on_cuda(idx) || !on_cuda(out) || idx->dtype != TG_INT64 || probe())
        return TG_NO;
    bool gather = op == TG_OP_GATHER || op == TG_OP_SCATTER_ADD;
    const tg_tensor *big = op == TG_OP_GATHER || op == TG_OP_INDEX_SELECT ? src : out;
    tgc_move_args m = {.dtype = out->dtype, .ndim = big->ndim, .dim = dim, .outer = span(big->shape, 0, dim),
                       .len = big->shape[dim], .inner = span(big->shape, dim + 1, big->ndim),
                       .nidx = idx->numel, .numel = out->numel, .x = tg_data(src), .index = tg_data(idx),
                       .out = tg_data(out)};
    m.kind = op == TG_OP_GATHER ? TGC_GATHER : op == TG_OP_SCATTER_ADD ? TGC_SCATTER_ADD
             : op == TG_OP_INDEX_SELECT ? TGC_INDEX_SELECT : TGC_INDEX_ADD;
    if (gather && (idx->ndim != big->ndim || big->ndim < 1))
        return TG_NO;
    for (int d = 0; gather && d < big->ndim; d++) {
        m.shape[d] = idx->shape[d];
        m.big[d] = big->shape[d];
    }
    return run_move(&m, bad, tg_ops[op].name);
}

tg_status tg_cuda_scan(int op, const tg_tensor *x, int dim, bool reverse, tg_tensor *out)
{
    if (!on_cuda(x) || !on_cuda(out) || x->dtype == TG_BOOL || probe())
        return TG_NO;
    tgc_move_args m = {.kind = op == TG_OP_CUMSUM ? TGC_CUMSUM : TGC_PROD, .dtype = x->dtype,
                       .reverse = reverse, .outer = span(x->shape, 0, dim), .len = x->ndim ? x->shape[dim] : 1,
                       .inner = span(x->shape, dim + 1, x->ndim), .numel = out->numel, .x = tg_data(x),
                       .out = tg_data(out)};
    return run_move(&m, NULL, tg_ops[op].name);
}

tg_status tg_cuda_one_hot(const tg_tensor *t, int64_t n, tg_tensor *out, int64_t *bad)
{
    *bad = -1;
    if (!on_cuda(t) || !on_cuda(out) || t->dtype != TG_INT64 || probe())
        return TG_NO;
    tgc_move_args m = {.kind = TGC_ONE_HOT, .dtype = TG_INT64, .len = n, .nidx = t->numel, .numel = out->numel,
                       .index = tg_data(t), .out = tg_data(out)};
    return run_move(&m, bad, "one_hot");
}

tg_status tg_cuda_targets(const tg_tensor *t, int64_t nclass, int64_t ignore, tg_tensor *safe, tg_tensor *keep,
                          int64_t *bad)
{
    *bad = -1;
    if (!on_cuda(t) || !on_cuda(safe) || !on_cuda(keep) || t->dtype != TG_INT64 || !tg_is_contiguous(t) ||
        probe())
        return TG_NO;
    tgc_move_args m = {.kind = TGC_TARGETS, .dtype = keep->dtype, .len = nclass, .nidx = t->numel,
                       .index = tg_data(t), .out = tg_data(safe), .out2 = tg_data(keep), .ignore = ignore};
    return run_move(&m, bad, "targets");
}

/* counted first, for the size of *pos (read by the host: managed memory) */
tg_status tg_cuda_nonzero(const tg_tensor *mask, tg_tensor **pos)
{
    *pos = NULL;
    if (!on_cuda(mask) || mask->dtype != TG_BOOL || !tg_is_contiguous(mask) || probe())
        return TG_NO;
    tgc_move_args m = {.kind = TGC_COUNT, .dtype = TG_BOOL, .nidx = mask->numel, .x = tg_data(mask)};
    int64_t *count = tg_cuda_alloc(sizeof *count);
    if (!count)
        return TG_ERESOURCE;
    m.out = count;
    tg_status st = run_move(&m, NULL, "count");
    int64_t n = *count;
    tg_cuda_free(count, sizeof *count);
    if (st != TG_OK)
        return st;
    tg_device old = tg_get_device();
    tg_set_device(TG_DEV_CUDA);
    *pos = tg_empty(TG_INT64, 1, &n);
    tg_set_device(old);
    if (!*pos)
        return TG_ERESOURCE;
    m.kind = TGC_NONZERO;
    m.out = tg_data(*pos);
    st = run_move(&m, NULL, "nonzero");
    if (st != TG_OK) {
        tg_release(*pos);
        *pos = NULL;
    }
    return st;
}

/* ---- compiled evaluation's kernels (fused_cuda.c) ---- */

bool tg_cuda_emulated(void) { return !probe() && emulating; }

typedef void (*host_launcher)(unsigned grid, void **args);

const char *tg_cuda_fused_unavailable_reason(void)
{
    static char fwhy[256];
    if (probe())
        return why;
    return be.fused_available(fwhy, sizeof fwhy) == 0 ? NULL : fwhy;
}

/* NVRTC's machine code for dev_src on this device: from the cache folder
 * when an earlier process made it (*kept; keyed by the source, the
 * architecture, NVRTC's version and the backend's ABI), else compiled and
 * kept there; fresh: compiled whether kept or not */
static tg_status machine_code(const char *dev_src, bool fresh, void **image, size_t *size, bool *kept)
{
    char arch[32], tag[64], err[512] = "";
    if (be.fused_arch(emulating, arch, sizeof arch, tag, sizeof tag, err, sizeof err) != 0)
        return tg_error(TG_ERESOURCE, "compiled evaluation on cuda: %s", err);
    tg_buf key = {0};
    tg_buf_printf(&key, "// %s, %s, CUDA backend ABI %d\n%s", arch, tag, TGC_ABI_VERSION, dev_src);
    if (key.failed) {
        tg_free(key.data);
        return TG_ERESOURCE;
    }
    tg_status st = TG_OK;
    *kept = !fresh && tg_cache_get("cubin", key.data, image, size);
    if (!*kept) {
        int rc = be.fused_nvrtc(dev_src, arch, image, size, err, sizeof err);
        if (rc == 0)
            tg_cache_put("cubin", key.data, *image, *size);
        else
            st = tg_error(TG_ERESOURCE, "compiled evaluation on cuda: %s", err);
    }
    tg_free(key.data);
    return st;
}

tg_status tg_cuda_fused_load(const char *dev_src, const char *host_src, void **kernel)
{
    *kernel = NULL;
    if (probe())
        return tg_error(TG_ERESOURCE, "device cuda is not available: %s", why);
    void *image = NULL;
    size_t size = 0;
    char err[512] = "";
    bool kept = false;
    tg_status st = machine_code(dev_src, false, &image, &size, &kept);
    bool loaded = st == TG_OK && (emulating || be.fused_load(image, "tg_fused_kernel", kernel, err, sizeof err) == 0);
    if (st == TG_OK && !loaded && kept) { /* a kept one the device refuses (damaged, another driver): made anew */
        free(image);
        image = NULL;
        st = machine_code(dev_src, true, &image, &size, &kept);
        loaded = st == TG_OK && be.fused_load(image, "tg_fused_kernel", kernel, err, sizeof err) == 0;
    }
    if (st == TG_OK && !loaded)
        st = tg_error(TG_ERESOURCE, "compiled evaluation on cuda: %s", err);
    free(image);
    /* emulated: NVRTC has compiled the kernel (checked); its host build runs */
    if (st == TG_OK && emulating && !(*kernel = tg_jit_cxx(host_src, "tg_fused_host")))
        st = tg_error(TG_ERESOURCE, "compiled evaluation on the emulated device: the kernel's host build failed "
                      "(is a C++ compiler installed?)");
    if (st != TG_OK)
        *kernel = NULL;
    return st;
}

tg_status tg_cuda_fused_launch(void *kernel, unsigned grid, unsigned block, void **args)
{
    if (emulating) {
        ((host_launcher)kernel)(grid, args);
        return TG_OK;
    }
    char err[256] = "";
    if (be.fused_launch(kernel, grid, block, args, err, sizeof err) != 0)
        return tg_error(TG_ERESOURCE, "CUDA %s", err);
    return TG_OK;
}
