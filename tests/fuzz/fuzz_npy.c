/* fuzz_npy.c -- libFuzzer target: the .npy reader.  The input is read as a
 * .npy file (tg_npy_read, exactly size bytes); a tensor read is written back
 * (tg_npy_write) and read again: the round trip must give the same dtype,
 * shape and bytes, with the header padded as NumPy pads it. */
#include "fuzz_common.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip(const tg_tensor *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        abort();
    tg_status st = tg_npy_write(m, t);
    fclose(m);
    if (st != TG_OK) {
        fuzz_check_failed("tg_npy_write");
        free(buf);
        return;
    }
    size_t hlen = len >= 10 ? (size_t)(unsigned char)buf[8] | (size_t)(unsigned char)buf[9] << 8 : 0;
    if (len < 10 || (hlen + 10) % 64 != 0) {
        fuzz_fail("tg_npy_write's header is not padded to 64 bytes");
    }
    tg_error_clear();
    tg_tensor *u = tg_npy_read(buf, len);
    if (!u) {
        fuzz_fail("tg_npy_read refuses what tg_npy_write wrote: %s", tg_errmsg());
    }
    if (u->dtype != t->dtype || u->ndim != t->ndim ||
        memcmp(u->shape, t->shape, (size_t)t->ndim * sizeof *t->shape) ||
        memcmp(tg_data(u), tg_data(t), (size_t)t->numel * tg_dtype_size(t->dtype))) {
        fuzz_fail("the .npy round trip changed the tensor");
    }
    tg_release(u);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    fuzz_reset();
    tg_tensor *t = tg_npy_read(data, size);
    if (!t)
        fuzz_check_failed("tg_npy_read");
    else {
        /* the reader makes C-order tensors (empty ones too) */
        if (!tg_is_contiguous(t))
            fuzz_fail("tg_npy_read made a non-contiguous tensor");
        roundtrip(t);
        tg_release(t);
    }
    return 0;
}
