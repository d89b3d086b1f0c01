/* cpu_blas.c -- the CPU backend's matrix product, through OpenBLAS.
 * Each operand's last two dims are handed to GEMM as they lie in memory:
 * row-major, or transposed (a .T view) with the transpose flag, never
 * copied; only a view that is neither is made contiguous first.  Batch
 * dims broadcast by stride, one GEMM per batch element. */
#define _GNU_SOURCE
#include "internal.h"
#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

/* ---- OpenBLAS, loaded on the first product ----
 * Linked in, OpenBLAS (a 36 MB library, and libgfortran behind it) was
 * mapped and relocated, and its constructor started a worker per CPU,
 * in every run: about two thirds of a scalar tgrad's start-up.  It is
 * opened by its soname (found as the dynamic linker finds a linked
 * library: LD_LIBRARY_PATH, then the system's paths, never the current
 * folder), when a product or a BLAS question first needs it. */
#ifndef TG_BLAS_SONAME
#define TG_BLAS_SONAME "libopenblas.so.0"
#endif

static struct {
    __typeof__(cblas_sgemm) *sgemm;
    __typeof__(cblas_dgemm) *dgemm;
    void (*set_num_threads)(int);
    int (*get_num_threads)(void);
    char *(*get_config)(void);
    char *(*get_corename)(void);
} blas;
static const char *blas_why_not; /* why it could not be loaded */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* ---- OpenBLAS under an address-space limit (ulimit -v) ----
 * OpenBLAS's allocator retries forever when it cannot map a work buffer,
 * and each of its worker threads maps one (BUFFER_SIZE, 128 MiB on x86-64)
 * as it starts, when the library is loaded.  Under a tight limit a worker
 * that won the race left the first product spinning, and a worker that
 * lost it left exit (which joins the workers) hanging.  So under a finite
 * RLIMIT_AS OpenBLAS runs on one thread, and the one buffer it will need
 * is checked for room before the first product. */
static bool as_limited(void)
{
    /* read once: the tools never change it, and a product would otherwise
     * make a system call each time (a training step makes several) */
    static int limited = -1;
    if (limited < 0) {
        struct rlimit rl;
        limited = !getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY;
    }
    return limited;
}

/* OpenBLAS's constructor starts one worker per CPU the loading thread may
 * run on: under a finite RLIMIT_AS that thread is narrowed to one CPU
 * while it loads the library (so none is started), then given its CPUs
 * back.  Other threads keep theirs. */
static void *blas_dlopen(void)
{
    cpu_set_t saved, one;
    int cpu = sched_getcpu();
    bool narrowed = false;
    if (as_limited() && cpu >= 0 && cpu < CPU_SETSIZE && !sched_getaffinity(0, sizeof saved, &saved)) {
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        narrowed = !sched_setaffinity(0, sizeof one, &one);
    }
    void *h = dlopen(TG_BLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (narrowed)
        sched_setaffinity(0, sizeof saved, &saved);
    return h;
}

static void *blas_sym(void *h, const char *name, bool *missing)
{
    void *f = dlsym(h, name);
    *missing |= !f;
    return f;
}

static void blas_load(void)
{
    void *h = blas_dlopen();
    if (!h) {
        const char *e = dlerror();
        blas_why_not = e ? strdup(e) : NULL;
        if (!blas_why_not)
            blas_why_not = TG_BLAS_SONAME ": cannot be loaded";
        return;
    }
    bool missing = false;
    blas.get_num_threads = (int (*)(void))blas_sym(h, "openblas_get_num_threads", &missing);
    blas.set_num_threads = (void (*)(int))blas_sym(h, "openblas_set_num_threads", &missing);
    blas.get_config = (char *(*)(void))blas_sym(h, "openblas_get_config", &missing);
    blas.get_corename = (char *(*)(void))blas_sym(h, "openblas_get_corename", &missing);
    blas.dgemm = (__typeof__(cblas_dgemm) *)blas_sym(h, "cblas_dgemm", &missing);
    blas.sgemm = (__typeof__(cblas_sgemm) *)blas_sym(h, "cblas_sgemm", &missing);
    if (missing) {
        blas.sgemm = NULL; /* the mark of a usable library */
        blas_why_not = TG_BLAS_SONAME ": not an OpenBLAS (a function is missing)";
    }
}

static bool blas_loaded(void)
{
    pthread_once(&blas_once, blas_load);
    return blas.sgemm != NULL;
}

const char *tg_blas_unavailable_reason(void)
{
    return blas_loaded() ? NULL : blas_why_not;
}

/* OpenBLAS's BUFFER_SIZE (its common_x86_64.h: 32 << 22) and a page */
#define BLAS_BUFFER_BYTES (((size_t)128 << 20) + ((size_t)64 << 10))

/* OpenBLAS loaded, and room for its work buffer: the room is checked once,
 * before the first product maps the buffer (later products reuse it). */
static tg_status blas_ready(void)
{
    static bool checked;
    if (!blas_loaded())
        return tg_error(TG_ERESOURCE, "the matrix product needs OpenBLAS: %s", blas_why_not);
    if (checked || !as_limited())
        return TG_OK;
    void *p = mmap(NULL, BLAS_BUFFER_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
        char need[32], have[32];
        tg_format_bytes(need, sizeof need, (double)BLAS_BUFFER_BYTES);
        tg_format_bytes(have, sizeof have, (double)tg_memory_limit());
        return tg_error(TG_ERESOURCE, "out of memory: the matrix product needs OpenBLAS's work buffer of %s, "
                        "and it does not fit under this process's ulimit -v of %s", need, have);
    }
    munmap(p, BLAS_BUFFER_BYTES);
    checked = true;
    return TG_OK;
}

/* How to pass the last two dims of t: returns false if neither layout */
static bool gemm_layout(const tg_tensor *t, CBLAS_TRANSPOSE *tr, int64_t *ld)
{
    int64_t r = t->shape[t->ndim - 2], c = t->shape[t->ndim - 1];
    int64_t sr = t->stride[t->ndim - 2], sc = t->stride[t->ndim - 1];
    int64_t rmin = r > 1 ? r : 1, cmin = c > 1 ? c : 1;
    if ((c == 1 || sc == 1) && (r == 1 || sr >= cmin)) {
        *tr = CblasNoTrans; /* element (i,j) at i*ld + j */
        *ld = r == 1 ? cmin : sr;
        return true;
    }
    if ((r == 1 || sr == 1) && (c == 1 || sc >= rmin)) {
        *tr = CblasTrans; /* element (i,j) at j*ld + i */
        *ld = c == 1 ? rmin : sc;
        return true;
    }
    return false;
}

static int64_t batch_offset(const tg_tensor *t, int obnd, const int64_t *oshape, int64_t bi)
{
    int64_t off = 0;
    int tb = t->ndim - 2, lead = obnd - tb;
    for (int d = obnd - 1; d >= 0; d--) {
        int64_t i = bi % oshape[d];
        bi /= oshape[d];
        if (d >= lead && t->shape[d - lead] != 1)
            off += i * t->stride[d - lead];
    }
    return off;
}

/* ---- products too small for GEMM's fixed cost ----
 * A call into OpenBLAS costs about a thousand instructions and a lock
 * before the first multiply: more than the whole product of a 4x2 and a
 * 2x4 (a training step of a small network makes several such).  With
 * fewer than SMALL_K terms per element, OpenBLAS's kernels sum each
 * element's products in order, one fused multiply-add each, from zero
 * (checked against OpenBLAS in tests/unit/test_small_gemm.c): the loop
 * below does the same, so the numbers are GEMM's bit for bit.  From
 * eight terms on the kernels split the sum, and GEMM is called.
 * OpenBLAS picks its kernels by the CPU (and OPENBLAS_CORETYPE), and for
 * some CPUs by the size, so the loop is used for a shape only once the
 * loaded library has been seen to agree with it (loop_trusted). */
#define SMALL_K 8
#define SMALL_WORK 1024 /* multiply-adds below which the loop is cheaper */

typedef struct {
    int64_t n, m, k;
    int64_t ar, ac, br, bc; /* element strides of A's rows and columns, B's */
} small_gemm;

#define SMALL_GEMM_FN(NAME, T, FMA, ATTR)                                                                       \
    ATTR static void NAME(const small_gemm *g, const T *A, const T *B, T *C)                                   \
    {                                                                                                            \
        for (int64_t i = 0; i < g->n; i++)                                                                       \
            for (int64_t j = 0; j < g->m; j++) {                                                                 \
                T s = 0;                                                                                         \
                for (int64_t q = 0; q < g->k; q++)                                                               \
                    s = FMA(A[i * g->ar + q * g->ac], B[q * g->br + j * g->bc], s);                              \
                C[i * g->m + j] = s;                                                                             \
            }                                                                                                    \
    }

SMALL_GEMM_FN(small_f32, float, fmaf, )
SMALL_GEMM_FN(small_f64, double, fma, )
#if TG_HAVE_FMA_TARGET
SMALL_GEMM_FN(small_f32_fma, float, __builtin_fmaf, TG_FMA_TARGET)
SMALL_GEMM_FN(small_f64_fma, double, __builtin_fma, TG_FMA_TARGET)
#else
#define small_f32_fma small_f32
#define small_f64_fma small_f64
#endif

/* whether the loop takes an n x k by k x m product */
static bool small_product(int64_t n, int64_t m, int64_t k)
{
    return k > 0 && k < SMALL_K && n <= SMALL_WORK && m <= SMALL_WORK && n * m * k <= SMALL_WORK;
}

/* C = A B for a float product small_product takes, A and B laid out as
 * gemm_layout says */
static void small_matmul(tg_dtype dt, int64_t n, int64_t m, int64_t k, CBLAS_TRANSPOSE ta, int64_t lda,
                         CBLAS_TRANSPOSE tb, int64_t ldb, const void *A, const void *B, void *C)
{
    small_gemm g = {n, m, k, ta == CblasNoTrans ? lda : 1, ta == CblasNoTrans ? 1 : lda,
                    tb == CblasNoTrans ? ldb : 1, tb == CblasNoTrans ? 1 : ldb};
    bool fast = tg_cpu_has_fma();
    if (dt == TG_FLOAT32)
        (fast ? small_f32_fma : small_f32)(&g, A, B, C);
    else
        (fast ? small_f64_fma : small_f64)(&g, A, B, C);
}

/* C = A B through the loaded library's GEMM (float32 or float64) */
static void gemm_call(tg_dtype dt, int64_t n, int64_t m, int64_t k, CBLAS_TRANSPOSE ta, int64_t lda,
                      CBLAS_TRANSPOSE tb, int64_t ldb, const void *A, const void *B, void *C)
{
    if (dt == TG_FLOAT32)
        blas.sgemm(CblasRowMajor, ta, tb, (int)n, (int)m, (int)k, 1.0f, A, (int)lda, B, (int)ldb, 0.0f, C, (int)m);
    else
        blas.dgemm(CblasRowMajor, ta, tb, (int)n, (int)m, (int)k, 1.0, A, (int)lda, B, (int)ldb, 0.0, C, (int)m);
}

/* a probe value: sign, mantissa and a power of two from -12 to 12 drawn
 * from *state, zero one time in eight, so that the order, the rounding
 * and the fusing of the sums show in the last bits */
static double probe_value(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t r = *state >> 11;
    if (r % 8 == 0)
        return 0;
    return ldexp((double)(r >> 13) / (double)(1ULL << 40) * (r & 16 ? -1 : 1), (int)((r >> 5) % 25) - 12);
}

/* whether the loop gives GEMM's bytes for an n x k by k x m product of dt
 * in these layouts: four products of probe values through both, compared
 * bit for bit (false when the probe's memory cannot be had) */
static bool loop_agrees(tg_dtype dt, int64_t n, int64_t m, int64_t k, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb)
{
    size_t sz = tg_dtype_size(dt), na = (size_t)(n * k), nb = (size_t)(k * m), nc = (size_t)(n * m);
    char *A = tg_malloc((na + nb + 2 * nc) * sz);
    if (!A) {
        tg_error_clear();
        return false;
    }
    char *B = A + na * sz, *C1 = B + nb * sz, *C2 = C1 + nc * sz;
    int64_t lda = ta == CblasNoTrans ? k : n, ldb = tb == CblasNoTrans ? m : k;
    uint64_t state = (uint64_t)(n * 1000003 + m * 1009 + k);
    bool same = true;
    for (int round = 0; round < 4 && same; round++) {
        for (size_t i = 0; i < na + nb; i++) {
            double v = probe_value(&state);
            if (dt == TG_FLOAT32)
                ((float *)A)[i] = (float)v;
            else
                ((double *)A)[i] = v;
        }
        gemm_call(dt, n, m, k, ta, lda, tb, ldb, A, B, C1);
        small_matmul(dt, n, m, k, ta, lda, tb, ldb, A, B, C2);
        same = !memcmp(C1, C2, nc * sz);
    }
    tg_free(A);
    return same;
}

/* The shapes seen so far and whether the loop agreed with GEMM on them
 * (per thread: no lock).  Past SMALL_SEEN shapes a new one goes to GEMM
 * unprobed. */
#define SMALL_SEEN 32
typedef struct {
    int64_t n, m, k;
    tg_dtype dt;
    CBLAS_TRANSPOSE ta, tb;
    bool agrees;
} small_verdict;
static _Thread_local small_verdict seen[SMALL_SEEN];
static _Thread_local int nseen;

static bool loop_trusted(tg_dtype dt, int64_t n, int64_t m, int64_t k, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb)
{
    for (int i = 0; i < nseen; i++)
        if (seen[i].n == n && seen[i].m == m && seen[i].k == k && seen[i].dt == dt && seen[i].ta == ta &&
            seen[i].tb == tb)
            return seen[i].agrees;
    if (nseen == SMALL_SEEN)
        return false;
    seen[nseen] = (small_verdict){n, m, k, dt, ta, tb, loop_agrees(dt, n, m, k, ta, tb)};
    return seen[nseen++].agrees;
}

/* t as GEMM takes it: t itself (borrowed, *own NULL), or a contiguous copy
 * (*own holds it); NULL with the error set */
static tg_tensor *gemm_operand(tg_tensor *t, CBLAS_TRANSPOSE *tr, int64_t *ld, tg_tensor **own)
{
    *own = NULL;
    if (gemm_layout(t, tr, ld))
        return t;
    bool old = tg_set_grad_enabled(false);
    *own = tg_apply(TG_OP_CONTIGUOUS, 1, (tg_tensor *[]){tg_ref(t)}, NULL);
    tg_set_grad_enabled(old);
    if (*own)
        gemm_layout(*own, tr, ld);
    return *own;
}

tg_status tg_cpu_matmul(tg_tensor *a, tg_tensor *b, tg_tensor *out)
{
    tg_tensor *own_a, *own_b = NULL;
    CBLAS_TRANSPOSE ta = CblasNoTrans, tb = CblasNoTrans;
    int64_t lda = 1, ldb = 1;
    tg_tensor *ac = gemm_operand(a, &ta, &lda, &own_a);
    tg_tensor *bc = ac ? gemm_operand(b, &tb, &ldb, &own_b) : NULL;
    tg_status st = !ac || !bc ? tg_errcode() : tg_dtype_is_float(out->dtype) ? blas_ready() : TG_OK;
    if (st != TG_OK) {
        tg_release(own_a);
        tg_release(own_b);
        return st;
    }
    int64_t n = out->shape[out->ndim - 2], m = out->shape[out->ndim - 1];
    int64_t k = a->shape[a->ndim - 1];
    int bnd = out->ndim - 2;
    int64_t batches = 1;
    for (int d = 0; d < bnd; d++)
        batches *= out->shape[d];
    char *A = tg_data(ac), *B = tg_data(bc), *C = tg_data(out);
    size_t sz = tg_dtype_size(out->dtype);
    for (int64_t bi = 0; bi < batches && n * m > 0; bi++) {
        int64_t oa = batch_offset(ac, bnd, out->shape, bi), ob = batch_offset(bc, bnd, out->shape, bi);
        char *pa = A + oa * (int64_t)sz, *pb = B + ob * (int64_t)sz, *pc = C + bi * n * m * (int64_t)sz;
        if (k == 0) {
            memset(pc, 0, (size_t)(n * m) * sz);
            continue;
        }
        if (tg_dtype_is_float(out->dtype) && small_product(n, m, k) && loop_trusted(out->dtype, n, m, k, ta, tb)) {
            small_matmul(out->dtype, n, m, k, ta, lda, tb, ldb, pa, pb, pc);
            continue;
        }
        switch (out->dtype) {
        case TG_FLOAT32:
        case TG_FLOAT64:
            gemm_call(out->dtype, n, m, k, ta, lda, tb, ldb, pa, pb, pc);
            break;
        default: { /* int64: a plain loop; wraps on overflow like PyTorch */
            const int64_t *x = (const int64_t *)pa, *y = (const int64_t *)pb;
            int64_t *z = (int64_t *)pc;
            int64_t ar = ta == CblasNoTrans ? lda : 1, ac_ = ta == CblasNoTrans ? 1 : lda;
            int64_t br = tb == CblasNoTrans ? ldb : 1, bcs = tb == CblasNoTrans ? 1 : ldb;
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < m; j++) {
                    uint64_t s = 0;
                    for (int64_t q = 0; q < k; q++)
                        s += (uint64_t)x[i * ar + q * ac_] * (uint64_t)y[q * br + j * bcs];
                    z[i * m + j] = (int64_t)s;
                }
        }
        }
    }
    tg_release(own_a);
    tg_release(own_b);
    return TG_OK;
}

/* ---- OpenBLAS's threads and identity (for --threads and tdevice) ----
 * Each loads OpenBLAS if no product has yet. */

/* more threads under ulimit -v would each map a buffer as they start (see
 * above): one there */
void tg_blas_set_threads(int n)
{
    if (blas_loaded())
        blas.set_num_threads(as_limited() ? 1 : n);
}
int tg_blas_threads(void) { return blas_loaded() ? blas.get_num_threads() : 0; }
const char *tg_blas_config(void) { return blas_loaded() ? blas.get_config() : NULL; }
const char *tg_blas_corename(void) { return blas_loaded() ? blas.get_corename() : NULL; }
