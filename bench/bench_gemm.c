/* bench_gemm.c -- the reference for tmatmul: cblas_sgemm/cblas_dgemm called
 * directly (same OpenBLAS, same thread count).
 *
 *   bench_gemm cold f32|f64 N   one N x N x N product in this fresh process,
 *                               timed as tmatmul --time times its product
 *                               (allocating C included): "N<TAB>SECONDS"
 *   bench_gemm rate [N]         the machine's GEMM rate: best of 5 warm
 *                               products at N (default 2048), "NAME<TAB>GFLOP/s"
 */
#include "bench.h"
#include <cblas.h>

static void *filled(size_t n, size_t sz)
{
    char *p = malloc(n * sz);
    uint64_t s = 88172645463325252u;
    for (size_t i = 0; p && i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17; /* xorshift64 */
        double v = (double)(s >> 11) * 0x1p-53 * 2 - 1;
        if (sz == 4)
            ((float *)p)[i] = (float)v;
        else
            ((double *)p)[i] = v;
    }
    return p;
}

/* one product; C is freshly allocated, as tg_matmul's output is */
static double product(bool f32, int n, const void *a, const void *b)
{
    double t0 = tg_now();
    void *c = malloc((size_t)n * n * (f32 ? 4 : 8));
    if (f32)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
    double dt = tg_now() - t0;
    free(c);
    return dt;
}

static double rate(bool f32, int n)
{
    size_t sz = f32 ? 4 : 8, nn = (size_t)n * n;
    void *a = filled(nn, sz), *b = filled(nn, sz);
    double best = 1e30;
    for (int r = 0; r < 6; r++) { /* the first is a warm-up */
        double dt = product(f32, n, a, b);
        best = r && dt < best ? dt : best;
    }
    free(a);
    free(b);
    return 2.0 * n * n * (double)n / best * 1e-9;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "cold") && argc == 4) {
        bool f32 = !strcmp(argv[2], "f32");
        int n = atoi(argv[3]);
        size_t sz = f32 ? 4 : 8;
        void *a = filled((size_t)n * n, sz), *b = filled((size_t)n * n, sz);
        printf("%d\t%.9f\n", n, product(f32, n, a, b));
        free(a);
        free(b);
    } else if (!strcmp(mode, "rate")) {
        int n = argc > 2 ? atoi(argv[2]) : 2048;
        printf("sgemm_GFLOPs\t%.2f\ndgemm_GFLOPs\t%.2f\n", rate(true, n), rate(false, n));
        printf("blas_core\t%s\nblas_threads\t%d\n", tg_blas_corename(), tg_blas_threads());
    } else {
        fprintf(stderr, "usage: bench_gemm cold f32|f64 N | rate [N]\n");
        return 2;
    }
    return 0;
}
