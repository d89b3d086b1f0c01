/* test_tensor_meta.c -- lib/core/tensor.c's new tensors: ids, element
 * counts and strides, as tg_new_meta and tg_empty set them. */
#include "test.h"
#include "internal.h"

TEST(tensor_ids_unique_and_in_creation_order)
{
    enum { N = 10000 }; /* more than a block of ids */
    int last = -1;
    bool increasing = true;
    for (int i = 0; i < N; i++) {
        tg_tensor *t = tg_empty(TG_FLOAT32, 0, NULL);
        CHECK(t);
        if (!t)
            return;
        increasing = increasing && t->id > last;
        last = t->id;
        tg_release(t);
    }
    CHECK(increasing);
}

static bool strides_are(const tg_tensor *t, const int64_t *want)
{
    for (int d = 0; d < t->ndim; d++)
        if (t->stride[d] != want[d])
            return false;
    return true;
}

TEST(tensor_meta_counts_and_strides)
{
    tg_tensor *t = tg_empty(TG_FLOAT64, 3, (int64_t[]){4, 1, 3});
    CHECK(t && t->numel == 12 && strides_are(t, (int64_t[]){3, 3, 1}));
    tg_release(t);
    /* no elements: a size 0 counts as 1 in the strides, as PyTorch's */
    t = tg_empty(TG_FLOAT32, 3, (int64_t[]){2, 0, 3});
    CHECK(t && t->numel == 0 && strides_are(t, (int64_t[]){3, 3, 1}));
    tg_release(t);
    /* dims whose product overflows, with a 0: saturated strides */
    t = tg_new_meta(TG_FLOAT32, 3, (int64_t[]){0, INT64_C(1) << 40, INT64_C(1) << 40});
    CHECK(t && t->numel == 0 && t->stride[0] == INT64_MAX && t->stride[2] == 1);
    tg_release(t);
    tg_error_clear();
    CHECK(!tg_new_meta(TG_FLOAT32, 2, (int64_t[]){INT64_C(1) << 21, INT64_C(1) << 20}));
    CHECK(tg_errcode() == TG_EINPUT && strstr(tg_errmsg(), "too many elements"));
    tg_error_clear();
    CHECK(!tg_new_meta(TG_FLOAT32, 1, (int64_t[]){-1}));
    CHECK(tg_errcode() == TG_EINPUT && strstr(tg_errmsg(), "negative dimension"));
    tg_error_clear();
}
