/* random.c -- the seeded generator behind rand and randn: xoshiro256**
 * seeded through splitmix64, so a seed gives the same numbers on every
 * machine (PyTorch's own generator is not reproduced; its numbers differ). */
#include "core/core.h"
#include <math.h>

static uint64_t state[4] = {0x9E3779B97F4A7C15ull, 0xBF58476D1CE4E5B9ull, 0x94D049BB133111EBull, 1};

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void tg_seed(uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        state[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next64(void)
{
    uint64_t r = rotl(state[1] * 5, 7) * 9, t = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 45);
    return r;
}

static double uniform53(void) { return (double)(next64() >> 11) * 0x1.0p-53; }

static void store(tg_tensor *t, int64_t i, double v)
{
    if (t->dtype == TG_FLOAT32)
        ((float *)tg_data(t))[i] = (float)v;
    else
        ((double *)tg_data(t))[i] = v;
}

tg_tensor *tg_rand(tg_dtype dt, int ndim, const int64_t *shape)
{
    if (!tg_dtype_is_float(dt)) {
        tg_error(TG_EINPUT, "rand: needs a float dtype");
        return NULL;
    }
    tg_tensor *t = tg_empty(dt, ndim, shape);
    for (int64_t i = 0; t && i < t->numel; i++) {
        double u = uniform53();
        if (dt == TG_FLOAT32) /* 24 bits, so that (float)u never rounds up to 1 */
            u = (double)(next64() >> 40) * 0x1.0p-24;
        store(t, i, u);
    }
    return t;
}

/* Box-Muller on (0,1] uniforms, both outputs used */
tg_tensor *tg_randn(tg_dtype dt, int ndim, const int64_t *shape)
{
    if (!tg_dtype_is_float(dt)) {
        tg_error(TG_EINPUT, "randn: needs a float dtype");
        return NULL;
    }
    tg_tensor *t = tg_empty(dt, ndim, shape);
    for (int64_t i = 0; t && i < t->numel; i += 2) {
        double u1 = 1.0 - uniform53(), u2 = uniform53();
        double r = sqrt(-2.0 * log(u1));
        store(t, i, r * cos(2 * M_PI * u2));
        if (i + 1 < t->numel)
            store(t, i + 1, r * sin(2 * M_PI * u2));
    }
    return t;
}

/* uniform integers in [low, high): a 64-bit draw below the largest multiple
 * of the range, reduced modulo it (no bias) */
tg_tensor *tg_randint(int64_t low, int64_t high, int ndim, const int64_t *shape)
{
    if (high <= low) {
        tg_error(TG_EINPUT, "randint: high (%lld) must be greater than low (%lld)", (long long)high,
                 (long long)low);
        return NULL;
    }
    uint64_t range = (uint64_t)high - (uint64_t)low;
    uint64_t limit = UINT64_MAX - UINT64_MAX % range; /* draws at or above it are redrawn */
    tg_tensor *t = tg_empty(TG_INT64, ndim, shape);
    for (int64_t i = 0; t && i < t->numel; i++) {
        uint64_t r;
        do
            r = next64();
        while (r >= limit);
        ((int64_t *)tg_data(t))[i] = (int64_t)((uint64_t)low + r % range);
    }
    return t;
}
