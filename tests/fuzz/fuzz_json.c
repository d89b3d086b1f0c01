/* fuzz_json.c -- libFuzzer target: the JSON tensor reader.  The input is
 * read as a tensor (tg_json_parse) with each dtype hint, and as a --inputs
 * object of named tensors (tg_json_parse_named).  A tensor read is written
 * back (tg_json_write) and read again: the round trip must give the same
 * dtype, shape (when it has elements) and values, bit for bit except NaN
 * payloads (tg-formats(5), OUTPUT: numbers "read back to the identical
 * value").
 * Every failure must set status 2, 3 or 4 with a one-line message. */
#include "fuzz_common.h"
#include "io/json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool same_value(const tg_tensor *a, const tg_tensor *b, int64_t i)
{
    size_t sz = tg_dtype_size(a->dtype);
    const char *pa = (const char *)tg_data(a), *pb = (const char *)tg_data(b);
    if (a->dtype == TG_FLOAT32) {
        float x, y;
        memcpy(&x, pa + i * sz, 4);
        memcpy(&y, pb + i * sz, 4);
        if (isnan(x) && isnan(y))
            return true;
    } else if (a->dtype == TG_FLOAT64) {
        double x, y;
        memcpy(&x, pa + i * sz, 8);
        memcpy(&y, pb + i * sz, 8);
        if (isnan(x) && isnan(y))
            return true;
    }
    return !memcmp(pa + i * sz, pb + i * sz, sz);
}

static void roundtrip(const tg_tensor *t)
{
    /* an empty tensor with large leading dims is megabytes of "[]" (the
     * writer allows up to 2^24 of them): too slow to go round under ASan */
    int64_t brackets = 1;
    for (int i = 0; i < t->ndim && t->shape[i] && brackets <= 65536; i++)
        brackets *= t->shape[i];
    if (t->numel == 0 && brackets > 65536)
        return;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        abort();
    tg_status st = tg_json_write(m, t);
    fclose(m);
    if (st != TG_OK) {
        fuzz_check_failed("tg_json_write");
        free(buf);
        return;
    }
    tg_error_clear();
    tg_tensor *u = tg_json_parse(buf, len, (int)t->dtype, NULL);
    if (!u) {
        fuzz_fail("tg_json_write wrote '%.200s', which tg_json_parse refuses: %s", buf, tg_errmsg());
    }
    bool empty = t->numel == 0;
    if (u->dtype != t->dtype || u->numel != t->numel || (!empty && u->ndim != t->ndim) ||
        (!empty && memcmp(u->shape, t->shape, (size_t)t->ndim * sizeof *t->shape))) {
        fuzz_fail("round trip changed dtype/shape: %s -> '%.200s' -> %s, numel %lld -> %lld",
                tg_dtype_name(t->dtype), buf, tg_dtype_name(u->dtype), (long long)t->numel, (long long)u->numel);
    }
    tg_tensor *tc = tg_contiguous(tg_ref((tg_tensor *)t)), *uc = tg_contiguous(tg_ref(u));
    for (int64_t i = 0; tc && uc && i < t->numel; i++)
        if (!same_value(tc, uc, i)) {
            fuzz_fail("round trip changed element %lld (%.17g -> %.17g): '%.200s'",
                    (long long)i, tg_get(tc, i), tg_get(uc, i), buf);
        }
    tg_release(tc);
    tg_release(uc);
    tg_release(u);
    free(buf);
}

static int named_cb(const char *name, tg_tensor *t, int rg, void *ctx)
{
    (void)ctx;
    if (!name || (rg != -1 && rg != 0 && rg != 1))
        fuzz_fail("tg_json_parse_named passed name %p, requires_grad %d", (const void *)name, rg);
    tg_release(t);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    /* exactly size bytes, no NUL after them: the reader must respect len */
    static const int hints[] = {-1, TG_FLOAT32, TG_FLOAT64, TG_INT64, TG_BOOL};
    for (size_t h = 0; h < sizeof hints / sizeof *hints; h++) {
        fuzz_reset();
        int rg = 7;
        tg_tensor *t = tg_json_parse((const char *)data, size, hints[h], &rg);
        if (!t) {
            fuzz_check_failed("tg_json_parse");
            continue;
        }
        if (rg != -1 && rg != 0 && rg != 1)
            fuzz_fail("tg_json_parse set requires_grad to %d", rg);
        roundtrip(t);
        tg_release(t);
    }
    fuzz_reset();
    if (tg_json_parse_named((const char *)data, size, -1, named_cb, NULL) != TG_OK)
        fuzz_check_failed("tg_json_parse_named");
    return 0;
}
