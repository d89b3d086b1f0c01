/* cat_files.c -- tbroadcast --cat: shards joined along one dimension, as
 * torch.cat joins tensors, into one file (tbroadcast(1), MERGING SHARDS).
 *
 * The shapes and dtypes are checked first, from each .npy shard's header
 * alone (other shards -- JSON, standard input -- are loaded then and
 * kept).  A .npy output is then written piece by piece through outfile.c
 * (whole or not at all): along dimension 0 the shards are loaded one at a
 * time, each written out and freed before the next, so that memory holds
 * one shard, not all of them and their sum.  Along another dimension each
 * output row takes a block of every shard, so all are loaded first (but
 * never copied into a joined tensor).  A JSON output is made by tg_cat. */
#include "internal.h"
#include "io/io.h"
#include "ops/nn.h"
#include <string.h>

typedef struct {
    const char *arg;
    tg_dtype dtype;
    int ndim;
    int64_t shape[TG_MAX_DIMS];
    int64_t numel;
    tg_tensor *t; /* loaded, or NULL: a .npy file whose data is read when its turn comes */
} shard;

/* A .npy file's dtype and shape from its first bytes; false (no error set)
 * when arg is no such file or its header does not fit in them: it is then
 * loaded whole, which reports whatever is wrong with it. */
static bool peek_npy(const char *arg, int dtype_hint, shard *s)
{
    unsigned char buf[4096];
    FILE *f = strcmp(arg, "-") ? fopen(arg, "rb") : NULL;
    if (!f)
        return false;
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (tg_npy_peek(buf, len, &s->dtype, &s->ndim, s->shape) != TG_OK) {
        tg_error_clear();
        return false;
    }
    if (dtype_hint >= 0 && dtype_hint < TG_NDTYPES) /* as tg_load_arg casts */
        s->dtype = (tg_dtype)dtype_hint;
    return true;
}

/* s's tensor, loaded now if it was not (a new reference), contiguous */
static tg_tensor *shard_tensor(shard *s, int dtype_hint)
{
    if (s->t)
        return tg_contiguous(tg_ref(s->t));
    tg_tensor *t = tg_contiguous(tg_load_arg(s->arg, dtype_hint, NULL));
    if (t && (t->dtype != s->dtype || t->ndim != s->ndim ||
              memcmp(t->shape, s->shape, (size_t)s->ndim * sizeof *s->shape))) {
        tg_release(t);
        tg_error(TG_EINPUT, "--cat: %.200s changed while it was read (its header said another shape)", s->arg);
        return NULL;
    }
    return t;
}

/* the first pass: every shard's dtype and shape */
static tg_status learn_shards(shard *s, int n, int dtype_hint)
{
    for (int k = 0; k < n; k++) {
        if (!peek_npy(s[k].arg, dtype_hint, &s[k])) {
            if (!(s[k].t = tg_load_arg(s[k].arg, dtype_hint, NULL)))
                return tg_errcode();
            s[k].dtype = s[k].t->dtype;
            s[k].ndim = s[k].t->ndim;
            memcpy(s[k].shape, s[k].t->shape, sizeof s[k].shape);
        }
        if (tg_shape_check(s[k].ndim, s[k].shape, &s[k].numel) != TG_OK)
            return tg_errcode();
    }
    return TG_OK;
}

/* The shards go together along *dim (made non-negative) as torch.cat
 * requires: one dtype, one rank of at least 1, the same sizes but in dim;
 * the result's shape in shape. */
static tg_status check_shards(const shard *s, int n, int64_t *dim, int64_t *shape)
{
    char a[256], b[256];
    int nd = s[0].ndim;
    for (int k = 0; k < n; k++)
        if (s[k].ndim == 0)
            return tg_error(TG_EINPUT, "--cat: %.200s is 0-D: a zero-dimensional tensor cannot be concatenated "
                            "(torch.cat); give it a dimension ([x])", s[k].arg);
    if (*dim < -nd || *dim >= nd)
        return tg_error(TG_EINPUT, "--cat: --dim %lld is out of range for shards of %d dimensions (expected -%d "
                        "to %d)", (long long)*dim, nd, nd, nd - 1);
    if (*dim < 0)
        *dim += nd;
    memcpy(shape, s[0].shape, (size_t)nd * sizeof *shape);
    shape[*dim] = 0;
    for (int k = 0; k < n; k++) {
        if (s[k].dtype != s[0].dtype)
            return tg_error(TG_EINPUT, "--cat: %.200s is %s but %.200s is %s: the shards must have one dtype",
                            s[k].arg, tg_dtype_name(s[k].dtype), s[0].arg, tg_dtype_name(s[0].dtype));
        bool same = s[k].ndim == nd;
        for (int d = 0; d < nd && same; d++)
            same = d == *dim || s[k].shape[d] == s[0].shape[d];
        if (!same)
            return tg_error(TG_EINPUT, "--cat: %.200s has shape %s but %.200s has %s: the shapes must agree except "
                            "in dimension %lld", s[k].arg, tg_shape_str_raw(s[k].ndim, s[k].shape, a, sizeof a),
                            s[0].arg, tg_shape_str_raw(nd, s[0].shape, b, sizeof b), (long long)*dim);
        shape[*dim] += s[k].shape[*dim]; /* each below 2^40: no overflow */
    }
    return tg_shape_check(nd, shape, NULL);
}

/* the data of the .npy output, after its header */
static tg_status write_data(shard *s, int n, int64_t dim, const int64_t *shape, int dtype_hint, FILE *f)
{
    tg_status st = TG_OK;
    if (dim == 0) { /* one shard after the other, each freed before the next */
        for (int k = 0; k < n && st == TG_OK; k++) {
            tg_tensor *t = shard_tensor(&s[k], dtype_hint);
            st = t ? tg_npy_write_range(f, t, 0, t->numel) : tg_errcode();
            tg_release(t);
            tg_release(s[k].t);
            s[k].t = NULL;
        }
        return st;
    }
    for (int k = 0; k < n && st == TG_OK; k++) { /* every shard, in memory */
        tg_tensor *t = shard_tensor(&s[k], dtype_hint);
        tg_release(s[k].t);
        s[k].t = t;
        st = t ? TG_OK : tg_errcode();
    }
    int64_t outer = 1;
    for (int64_t d = 0; d < dim; d++)
        outer *= shape[d];
    for (int64_t o = 0; o < outer && st == TG_OK; o++)
        for (int k = 0; k < n && st == TG_OK; k++) {
            int64_t block = s[k].numel / outer; /* shard k's part of row o */
            st = tg_npy_write_range(f, s[k].t, o * block, block);
        }
    return st;
}

static tg_status write_npy(shard *s, int n, int64_t dim, const int64_t *shape, int dtype_hint, const char *out)
{
    tg_fileset *fs = tg_fileset_new(NULL);
    FILE *f = fs ? tg_fileset_stream(fs, out) : NULL;
    tg_status st = f ? tg_npy_write_header(f, s[0].dtype, s[0].ndim, shape) : tg_errcode();
    if (st == TG_OK)
        st = write_data(s, n, dim, shape, dtype_hint, f);
    if (st == TG_OK)
        return tg_fileset_commit(fs);
    if (fs)
        tg_fileset_abort(fs);
    return st;
}

/* the joined tensor, made whole, to a JSON file or standard output */
static tg_status write_joined(shard *s, int n, int64_t dim, int dtype_hint, const char *out)
{
    tg_tensor **ts = tg_calloc((size_t)n, sizeof *ts);
    tg_status st = ts ? TG_OK : TG_ERESOURCE;
    for (int k = 0; k < n && st == TG_OK; k++)
        if (!(ts[k] = shard_tensor(&s[k], dtype_hint)))
            st = tg_errcode();
    if (st != TG_OK) {
        for (int k = 0; ts && k < n; k++)
            tg_release(ts[k]);
        tg_free(ts);
        return st;
    }
    tg_tensor *joined = tg_cat(ts, n, dim); /* consumes ts[k] */
    tg_free(ts);
    st = joined ? tg_save(out, joined) : tg_errcode();
    tg_release(joined);
    return st;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

tg_status tg_cat_files(const char *const *args, int n, int64_t dim, int dtype_hint, const char *out)
{
    if (n < 1)
        return tg_error(TG_EUSAGE, "--cat: no shards given");
    shard *s = tg_calloc((size_t)n, sizeof *s);
    int64_t shape[TG_MAX_DIMS];
    if (!s)
        return TG_ERESOURCE;
    for (int k = 0; k < n; k++)
        s[k].arg = args[k];
    tg_status st = learn_shards(s, n, dtype_hint);
    if (st == TG_OK)
        st = check_shards(s, n, &dim, shape);
    if (st == TG_OK && out && ends_with(out, ".npy"))
        st = write_npy(s, n, dim, shape, dtype_hint, out);
    else if (st == TG_OK)
        st = write_joined(s, n, dim, dtype_hint, out ? out : "-");
    for (int k = 0; k < n; k++)
        tg_release(s[k].t);
    tg_free(s);
    return st;
}
