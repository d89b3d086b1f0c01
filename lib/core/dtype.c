/* dtype.c -- the four dtypes and PyTorch's promotion between them. */
#include "tg.h"
#include <string.h>

tg_dtype tg_default_float = TG_FLOAT32;

static const struct {
    const char *name, *npy;
    size_t size;
} dtypes[TG_NDTYPES] = {
    [TG_FLOAT32] = {"float32", "f4", 4},
    [TG_FLOAT64] = {"float64", "f8", 8},
    [TG_INT64] = {"int64", "i8", 8},
    [TG_BOOL] = {"bool", "b1", 1},
};

const char *tg_dtype_name(tg_dtype dt) { return dt < TG_NDTYPES ? dtypes[dt].name : "?"; }
size_t tg_dtype_size(tg_dtype dt) { return dt < TG_NDTYPES ? dtypes[dt].size : 0; }
bool tg_dtype_is_float(tg_dtype dt) { return dt == TG_FLOAT32 || dt == TG_FLOAT64; }

tg_status tg_dtype_parse(const char *s, tg_dtype *out)
{
    static const struct { const char *alias; tg_dtype dt; } aliases[] = {
        {"float", TG_FLOAT32}, {"double", TG_FLOAT64}, {"long", TG_INT64},
        {"torch.float32", TG_FLOAT32}, {"torch.float64", TG_FLOAT64},
        {"torch.int64", TG_INT64}, {"torch.bool", TG_BOOL},
    };
    for (int i = 0; i < TG_NDTYPES; i++)
        if (!strcmp(s, dtypes[i].name) || !strcmp(s, dtypes[i].npy)) {
            *out = (tg_dtype)i;
            return TG_OK;
        }
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        if (!strcmp(s, aliases[i].alias)) {
            *out = aliases[i].dt;
            return TG_OK;
        }
    return tg_error(TG_EINPUT, "unknown dtype '%.40s' (expected float32, float64, int64 or bool)", s);
}

/* bool < int64 < float32 < float64, as torch.promote_types orders them. */
tg_dtype tg_dtype_promote(tg_dtype a, tg_dtype b)
{
    static const int rank[TG_NDTYPES] = {[TG_BOOL] = 0, [TG_INT64] = 1, [TG_FLOAT32] = 2, [TG_FLOAT64] = 3};
    return rank[a] >= rank[b] ? a : b;
}
