/* test_small_gemm.c -- the CPU matrix product's loop for small products
 * (lib/backend/cpu_blas.c): its numbers must be OpenBLAS's bit for bit.
 * Each small product is compared with the top-left corner of a larger one
 * over the same rows and columns, which goes to GEMM: each element of the
 * corner is the same sum of the same k products there. */
#include "test.h"
#include <stdlib.h>

/* a value of varied magnitude, sometimes zero, so that the order and the
 * rounding of the sums show in the last bits */
static double random_value(void)
{
    if (test_rand() % 8 == 0)
        return 0;
    return ldexp(test_uniform(-1, 1), (int)(test_rand() % 21) - 10);
}

/* rows x cols of vals (row-major, stride ld) as a tensor; transposed: laid
 * out as its transpose (a .T view), as GEMM's transpose flag takes it */
static tg_tensor *matrix(tg_dtype dt, int64_t rows, int64_t cols, const double *vals, int64_t ld, bool transposed)
{
    int64_t shape[2] = {transposed ? cols : rows, transposed ? rows : cols};
    tg_tensor *t = tg_empty(dt, 2, shape);
    if (!t)
        return NULL;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            int64_t at = transposed ? j * rows + i : i * cols + j;
            if (dt == TG_FLOAT32)
                ((float *)tg_data(t))[at] = (float)vals[i * ld + j];
            else
                ((double *)tg_data(t))[at] = vals[i * ld + j];
        }
    return transposed ? tg_transpose(t, 0, 1) : t;
}

/* the bytes of element (i, j) of the contiguous result r equal those of s's */
static bool same_corner(const tg_tensor *small, const tg_tensor *big)
{
    size_t sz = tg_dtype_size(small->dtype);
    for (int64_t i = 0; i < small->shape[0]; i++)
        if (memcmp((char *)tg_data(small) + (size_t)(i * small->shape[1]) * sz,
                   (char *)tg_data(big) + (size_t)(i * big->shape[1]) * sz, (size_t)small->shape[1] * sz))
            return false;
    return true;
}

TEST(small_gemm_matches_blas_bit_for_bit)
{
    enum { EXTRA = 40, MAXN = 9, MAXK = 7 };
    static double a[(MAXN + EXTRA) * MAXK], b[MAXK * (MAXN + EXTRA)];
    int mismatches = 0, failures = 0;
    for (int c = 0; c < 600; c++) {
        tg_dtype dt = c % 2 ? TG_FLOAT64 : TG_FLOAT32;
        int64_t n = 1 + (int64_t)(test_rand() % MAXN), m = 1 + (int64_t)(test_rand() % MAXN);
        int64_t k = 1 + (int64_t)(test_rand() % MAXK), N = n + EXTRA, M = m + EXTRA;
        bool ta = test_rand() % 2, tb = test_rand() % 2;
        for (int i = 0; i < N * k; i++)
            a[i] = random_value();
        for (int i = 0; i < k * M; i++)
            b[i] = random_value();
        /* the small operands are the large ones' first rows and columns */
        tg_tensor *small = tg_matmul(matrix(dt, n, k, a, k, ta), matrix(dt, k, m, b, M, tb));
        tg_tensor *big = tg_matmul(matrix(dt, N, k, a, k, ta), matrix(dt, k, M, b, M, tb));
        if (!small || !big)
            failures++;
        else if (!same_corner(small, big))
            mismatches++;
        tg_release(small);
        tg_release(big);
    }
    CHECK(failures == 0);
    CHECK(mismatches == 0);
}

/* a batched product of small matrices: each batch element by the loop */
TEST(small_gemm_batched_and_broadcast)
{
    float x[2][2][3] = {{{1, 2, 3}, {4, 5, 6}}, {{-1, 0.5f, 2}, {3, -2, 1}}}, w[3][2] = {{1, -1}, {0.5f, 2}, {-3, 1}};
    tg_tensor *xt = tg_from_data(TG_FLOAT32, 3, (int64_t[]){2, 2, 3}, x);
    tg_tensor *wt = tg_from_data(TG_FLOAT32, 2, (int64_t[]){3, 2}, w);
    tg_tensor *r = tg_matmul(xt, wt);
    CHECK(r && r->ndim == 3 && r->shape[0] == 2 && r->shape[1] == 2 && r->shape[2] == 2);
    for (int bi = 0; r && bi < 2; bi++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) {
                float s = 0;
                for (int q = 0; q < 3; q++)
                    s = fmaf(x[bi][i][q], w[q][j], s);
                CHECK(tg_get(r, (bi * 2 + i) * 2 + j) == s);
            }
    tg_release(r);
}
