/* npy.c -- NumPy's .npy format: reading versions 1.0, 2.0 and 3.0, writing
 * version 1.0 as NumPy does.
 *
 * A file is the magic "\x93NUMPY", a version (major, minor byte), the header
 * length (2 bytes little-endian for 1.0, 4 bytes for 2.0 and 3.0), the
 * header -- a Python dict literal such as
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ended by '\n' -- and then the raw data.  The header
 * is parsed here by hand, strictly: nothing else than those three keys. */
#include "internal.h"
#include <errno.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64 /* NumPy pads the whole header to a multiple of this */
#define NPY_SUPPORTED "f4, f8, i8, i4, b1"
#define NPY_DICT_EXAMPLE "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
#define HOST_BIG_ENDIAN (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)

/* The element types a file may hold, and what each becomes. */
enum npy_kind { K_F4, K_F8, K_I8, K_I4, K_B1 };
static const struct {
    const char *code;
    size_t size;
    tg_dtype dtype;
} kinds[] = {
    [K_F4] = {"f4", 4, TG_FLOAT32},
    [K_F8] = {"f8", 8, TG_FLOAT64},
    [K_I8] = {"i8", 8, TG_INT64},
    [K_I4] = {"i4", 4, TG_INT64}, /* widened */
    [K_B1] = {"b1", 1, TG_BOOL},
};

/* ---- the header dict ---- */

typedef struct {
    const char *text, *p, *end; /* the header text and the cursor in it */
    size_t base;                /* file offset of text, for messages */
    bool has_descr, has_fortran, has_shape;
    char descr[64];
    enum npy_kind kind;
    bool swap;    /* data is in the other byte order than this machine's */
    bool fortran; /* data is column-major */
    int ndim;
    int64_t shape[TG_MAX_DIMS];
} npy_header;

static tg_status malformed(const npy_header *h, const char *what)
{
    return tg_error(TG_EINPUT, "malformed .npy header at byte %zu: %s (expected a dict like %s)",
                    h->base + (size_t)(h->p - h->text), what, NPY_DICT_EXAMPLE);
}

/* Whitespace as Python allows it between tokens inside brackets. */
static void skip_ws(npy_header *h)
{
    while (h->p < h->end && *h->p && strchr(" \t\n\r\f", *h->p))
        h->p++;
}

static bool accept(npy_header *h, char c)
{
    skip_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return true;
    }
    return false;
}

static bool accept_word(npy_header *h, const char *w)
{
    size_t n = strlen(w);
    skip_ws(h);
    if ((size_t)(h->end - h->p) >= n && !memcmp(h->p, w, n)) {
        h->p += n;
        return true;
    }
    return false;
}

/* A quoted string of printable ASCII, no escapes, into buf (cap bytes). */
static tg_status parse_string(npy_header *h, char *buf, size_t cap)
{
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return malformed(h, "expected a quoted string");
    char quote = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != quote) {
        unsigned char c = (unsigned char)*h->p;
        if (c < 0x20 || c > 0x7e || c == '\\')
            return malformed(h, "unexpected character in a string");
        if (n + 1 >= cap)
            return malformed(h, "string too long");
        buf[n++] = (char)c;
        h->p++;
    }
    if (h->p >= h->end)
        return malformed(h, "unterminated string");
    h->p++;
    buf[n] = 0;
    return TG_OK;
}

/* What a descr such as 'c8' or 'U5' holds, for the message. */
static const char *kind_description(const char *s)
{
    char type = *s;
    const char *size = type ? s + 1 : s;
    size_t digits = strspn(size, "0123456789");
    if (!digits || (size[digits] && size[digits] != '[')) /* M8[ns] has a unit */
        return "an unknown type"; /* not a type letter and a byte count */
    switch (type) {
    case 'O': return "Python objects";
    case 'c': return "complex numbers";
    case 'V': return "raw or structured records";
    case 'U': case 'S': case 'a': return "strings";
    case 'M': return "datetimes";
    case 'm': return "timedeltas";
    case 'u': return "unsigned integers";
    case 'f': return strcmp(size, "2") ? "floating point of an unsupported size" : "half floats";
    case 'i': return "integers of an unsupported size";
    case 'b': return "booleans of an unsupported size";
    default: return "an unknown type";
    }
}

/* Decodes the descr string, such as '<f4', into kind and byte order. */
static tg_status parse_descr(npy_header *h)
{
    const char *descr = h->descr, *s = descr;
    char order = '=';
    if (*s && strchr("<>|=", *s))
        order = *s++;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        if (!strcmp(s, kinds[k].code)) {
            h->kind = (enum npy_kind)k;
            /* '|' (not applicable) and '=' (native) need no swap */
            h->swap = (order == '>' && !HOST_BIG_ENDIAN) || (order == '<' && HOST_BIG_ENDIAN);
            return TG_OK;
        }
    if (*s == 'O')
        return tg_error(TG_EINPUT, "cannot read a .npy file of dtype '%s': object arrays hold "
                        "pickled Python objects; supported dtypes: " NPY_SUPPORTED, descr);
    return tg_error(TG_EINPUT, "unsupported .npy dtype '%s' (%s); supported dtypes: " NPY_SUPPORTED
                    ", little- or big-endian", descr, kind_description(s));
}

static tg_status parse_descr_value(npy_header *h)
{
    skip_ws(h);
    if (h->p < h->end && (*h->p == '[' || *h->p == '{'))
        return tg_error(TG_EINPUT, "cannot read a .npy file with a structured dtype (a record "
                        "of fields); supported dtypes: " NPY_SUPPORTED);
    return parse_string(h, h->descr, sizeof h->descr); /* checked once the dict is read */
}

/* One non-negative decimal integer (Python 2 wrote a trailing 'L'). */
static tg_status parse_dim(npy_header *h, int64_t *out)
{
    skip_ws(h);
    bool neg = h->p < h->end && *h->p == '-';
    if (neg)
        h->p++;
    if (h->p >= h->end || *h->p < '0' || *h->p > '9')
        return malformed(h, "expected a dimension (an integer) in the shape");
    int64_t v = 0;
    while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
        if (tg_mul_overflows(v, 10, &v) || __builtin_add_overflow(v, *h->p - '0', &v))
            return tg_error(TG_EINPUT, "a dimension in the .npy shape overflows 64 bits "
                            "(the limit is 2^40 elements)");
        h->p++;
    }
    if (h->p < h->end && *h->p == 'L')
        h->p++;
    *out = neg ? -v : v;
    return TG_OK;
}

/* A tuple of dimensions: (), (5,), (2, 3) or (2, 3,). */
static tg_status parse_shape(npy_header *h)
{
    if (!accept(h, '('))
        return malformed(h, "the shape must be a tuple such as (2, 3)");
    int n = 0;
    bool comma = false;
    while (!accept(h, ')')) {
        if (n && !comma)
            return malformed(h, "expected ',' or ')' in the shape");
        int64_t d = 0;
        if (parse_dim(h, &d) != TG_OK)
            return TG_EINPUT;
        if (n < TG_MAX_DIMS)
            h->shape[n] = d;
        n++;
        comma = accept(h, ',');
    }
    if (n == 1 && !comma)
        return malformed(h, "a shape of one dimension needs a trailing comma, as in (5,)");
    if (n > TG_MAX_DIMS)
        return tg_error(TG_EINPUT, "the .npy shape has rank %d, more than the limit of %d dimensions",
                        n, TG_MAX_DIMS);
    h->ndim = n;
    return TG_OK;
}

static tg_status parse_entry(npy_header *h)
{
    char key[32];
    if (parse_string(h, key, sizeof key) != TG_OK)
        return TG_EINPUT;
    if (!accept(h, ':'))
        return malformed(h, "expected ':' after a key");
    bool *seen = !strcmp(key, "descr") ? &h->has_descr
               : !strcmp(key, "fortran_order") ? &h->has_fortran
               : !strcmp(key, "shape") ? &h->has_shape : NULL;
    if (!seen)
        return malformed(h, "unknown key (the keys are 'descr', 'fortran_order' and 'shape')");
    if (*seen)
        return malformed(h, "a key appears twice");
    *seen = true;
    if (seen == &h->has_descr)
        return parse_descr_value(h);
    if (seen == &h->has_shape)
        return parse_shape(h);
    if (accept_word(h, "True"))
        h->fortran = true;
    else if (accept_word(h, "False"))
        h->fortran = false;
    else
        return malformed(h, "fortran_order must be True or False");
    return TG_OK;
}

static tg_status parse_dict(npy_header *h)
{
    if (!accept(h, '{'))
        return malformed(h, "expected '{'");
    bool comma = true;
    while (!accept(h, '}')) {
        if (!comma)
            return malformed(h, "expected ',' or '}'");
        if (parse_entry(h) != TG_OK)
            return TG_EINPUT;
        comma = accept(h, ',');
    }
    skip_ws(h); /* NumPy's padding */
    if (h->p != h->end)
        return malformed(h, "unexpected text after the dict");
    if (!h->has_descr || !h->has_fortran || !h->has_shape)
        return malformed(h, !h->has_descr ? "no 'descr' key" : !h->has_fortran ? "no 'fortran_order' key"
                                                                              : "no 'shape' key");
    return parse_descr(h);
}

/* Checks the magic, version and header length; sets *hdr_end to the offset
 * of the data. */
static tg_status parse_prefix(const unsigned char *b, size_t len, npy_header *h, size_t *hdr_end)
{
    if (len < NPY_MAGIC_LEN || memcmp(b, NPY_MAGIC, NPY_MAGIC_LEN))
        return tg_error(TG_EINPUT, "not a .npy file: bad magic (a .npy file starts with the "
                        "bytes \\x93NUMPY)");
    if (len < NPY_MAGIC_LEN + 2)
        return tg_error(TG_EINPUT, "truncated .npy file: it ends after %zu bytes, inside the "
                        "header", len);
    int major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return tg_error(TG_EINPUT, "unsupported .npy format version %d.%d (supported: 1.0, 2.0, "
                        "3.0)", major, minor);
    size_t prefix = major == 1 ? 10 : 12;
    if (len < prefix)
        return tg_error(TG_EINPUT, "truncated .npy file: it ends after %zu bytes, inside the "
                        "header", len);
    size_t hlen = major == 1 ? (size_t)b[8] | (size_t)b[9] << 8
                             : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    if (hlen > len - prefix)
        return tg_error(TG_EINPUT, "the .npy header length %zu runs past the end of the file "
                        "(%zu bytes follow the %zu-byte prefix)", hlen, len - prefix, prefix);
    h->text = h->p = (const char *)b + prefix;
    h->end = h->text + hlen;
    h->base = prefix;
    *hdr_end = prefix + hlen;
    return TG_OK;
}

/* ---- the data ---- */

static void copy_elem(char *dst, const char *src, size_t size)
{
    switch (size) { /* constant sizes let the compiler inline the copy */
    case 1: *dst = *src; break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, size); break;
    }
}

/* Steps a row-major multi-index over shape; returns the change of the
 * element offset under the given strides. */
static int64_t odometer_step(int ndim, const int64_t *shape, const int64_t *stride, int64_t *idx)
{
    int64_t delta = 0;
    for (int k = ndim - 1; k >= 0; k--) {
        if (++idx[k] < shape[k])
            return delta + stride[k];
        delta -= stride[k] * (shape[k] - 1);
        idx[k] = 0;
    }
    return delta;
}

/* Converts n elements of the file's kind to the tensor's dtype, in order. */
static void decode(const unsigned char *src, enum npy_kind kind, bool swap, int64_t n, void *dst)
{
    size_t size = kinds[kind].size;
    if (kind == K_B1) {
        for (int64_t i = 0; i < n; i++) /* any non-zero byte is true */
            ((bool *)dst)[i] = src[i] != 0;
    } else if (kind == K_I4) {
        for (int64_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, src + 4 * i, 4);
            ((int64_t *)dst)[i] = (int32_t)(swap ? __builtin_bswap32(u) : u);
        }
    } else if (!swap) {
        memcpy(dst, src, (size_t)n * size);
    } else if (size == 4) {
        for (int64_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, src + 4 * i, 4);
            ((uint32_t *)dst)[i] = __builtin_bswap32(u);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            uint64_t u;
            memcpy(&u, src + 8 * i, 8);
            ((uint64_t *)dst)[i] = __builtin_bswap64(u);
        }
    }
}

/* Column-major src to row-major dst, both numel elements of size bytes. */
static void fortran_to_c(const char *src, char *dst, int ndim, const int64_t *shape, int64_t numel,
                         size_t size)
{
    int64_t fstride[TG_MAX_DIMS], idx[TG_MAX_DIMS] = {0}, off = 0, s = 1;
    for (int k = 0; k < ndim; k++) {
        fstride[k] = s;
        s *= shape[k];
    }
    for (int64_t i = 0; i < numel; i++) {
        copy_elem(dst + (size_t)i * size, src + (size_t)off * size, size);
        off += odometer_step(ndim, shape, fstride, idx);
    }
}

static tg_status fill_tensor(tg_tensor *t, const unsigned char *src, const npy_header *h)
{
    bool as_is = !h->swap && h->kind != K_I4 && h->kind != K_B1;
    if (!h->fortran || h->ndim < 2) {
        decode(src, h->kind, h->swap, t->numel, tg_data(t)); /* as_is: one memcpy */
        return TG_OK;
    }
    size_t size = tg_dtype_size(t->dtype);
    char *tmp = NULL;
    if (!as_is) { /* convert first, then reorder */
        tmp = tg_malloc((size_t)t->numel * size);
        if (!tmp)
            return TG_ERESOURCE;
        decode(src, h->kind, h->swap, t->numel, tmp);
    }
    fortran_to_c(tmp ? tmp : (const char *)src, tg_data(t), h->ndim, h->shape, t->numel, size);
    tg_free(tmp);
    return TG_OK;
}

static tg_status check_data_size(const npy_header *h, int64_t numel, size_t avail)
{
    int64_t need;
    if (tg_mul_overflows(numel, (int64_t)kinds[h->kind].size, &need))
        return tg_error(TG_EINPUT, "the .npy data size overflows 64 bits");
    if ((uint64_t)need > avail)
        return tg_error(TG_EINPUT, "truncated .npy data: the shape and dtype need %lld bytes, "
                        "but only %zu are present", (long long)need, avail);
    if ((uint64_t)need < avail)
        return tg_error(TG_EINPUT, "%zu bytes after the data in the .npy file (the shape and dtype "
                        "need %lld bytes)", avail - (size_t)need, (long long)need);
    return TG_OK;
}

tg_tensor *tg_npy_read(const void *bytes, size_t len)
{
    const unsigned char *b = bytes;
    npy_header h = {0};
    size_t data_off = 0;
    int64_t numel;
    if (parse_prefix(b, len, &h, &data_off) != TG_OK || parse_dict(&h) != TG_OK ||
        tg_shape_check(h.ndim, h.shape, &numel) != TG_OK ||
        check_data_size(&h, numel, len - data_off) != TG_OK)
        return NULL;
    tg_tensor *t = tg_empty(kinds[h.kind].dtype, h.ndim, h.shape);
    if (t && fill_tensor(t, b + data_off, &h) != TG_OK) {
        tg_release(t);
        return NULL;
    }
    return t;
}

/* ---- writing ---- */

static const char *descr_of(tg_dtype dt)
{
    switch (dt) {
    case TG_FLOAT32: return HOST_BIG_ENDIAN ? ">f4" : "<f4";
    case TG_FLOAT64: return HOST_BIG_ENDIAN ? ">f8" : "<f8";
    case TG_INT64: return HOST_BIG_ENDIAN ? ">i8" : "<i8";
    default: return "|b1";
    }
}

/* The whole header (magic to '\n') into buf; returns its length.  As NumPy:
 * padded with spaces so that the data starts at a multiple of 64. */
static size_t format_header(char buf[1024], tg_dtype dtype, int ndim, const int64_t *shape)
{
    char dict[512];
    size_t n = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                                descr_of(dtype));
    for (int i = 0; i < ndim; i++)
        n += (size_t)snprintf(dict + n, sizeof dict - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", ndim == 1 ? "," : "");
    size_t hlen = n + 1; /* with the '\n' */
    size_t pad = NPY_ALIGN - (10 + hlen) % NPY_ALIGN; /* 1..64, exactly as NumPy computes it */
    hlen += pad;
    memcpy(buf, NPY_MAGIC "\x01\x00", 8);
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, n);
    memset(buf + 10 + n, ' ', pad);
    buf[10 + hlen - 1] = '\n';
    return 10 + hlen;
}

static tg_status write_error(void)
{
    return tg_error(TG_ERESOURCE, "cannot write the .npy data: %s", strerror(errno ? errno : EIO));
}

/* A non-contiguous view: gather row-major order into chunks. */
static tg_status write_strided(FILE *f, const tg_tensor *t)
{
    enum { CHUNK = 1 << 16 };
    size_t size = tg_dtype_size(t->dtype), per_chunk = CHUNK / size, n = 0;
    char *buf = tg_malloc(CHUNK);
    if (!buf)
        return TG_ERESOURCE;
    const char *base = tg_data(t);
    int64_t idx[TG_MAX_DIMS] = {0}, off = 0;
    tg_status st = TG_OK;
    for (int64_t i = 0; i < t->numel && st == TG_OK; i++) {
        copy_elem(buf + n * size, base + off * (int64_t)size, size);
        off += odometer_step(t->ndim, t->shape, t->stride, idx);
        if (++n == per_chunk || i == t->numel - 1) {
            errno = 0;
            if (fwrite(buf, size, n, f) != n)
                st = write_error();
            n = 0;
        }
    }
    tg_free(buf);
    return st;
}

tg_status tg_npy_write_header(FILE *f, tg_dtype dtype, int ndim, const int64_t *shape)
{
    char hdr[1024];
    size_t hn = format_header(hdr, dtype, ndim, shape);
    errno = 0;
    return fwrite(hdr, 1, hn, f) == hn ? TG_OK : write_error();
}

tg_status tg_npy_write_range(FILE *f, const tg_tensor *t, int64_t start, int64_t count)
{
    size_t size = tg_dtype_size(t->dtype), bytes = size * (size_t)count;
    const char *data = (const char *)tg_data(t) + size * (size_t)start;
    if (count <= 0)
        return TG_OK;
    if (t->storage->device == TG_DEV_CUDA) {
        /* through a host buffer: some sandboxes' write() refuses managed
         * memory (EFAULT under gVisor, as GPU machines may run) */
        enum { CHUNK = 1 << 20 };
        char *buf = tg_malloc(CHUNK);
        if (!buf)
            return TG_ERESOURCE;
        tg_status st = TG_OK;
        for (size_t at = 0; at < bytes && st == TG_OK; at += CHUNK) {
            size_t n = bytes - at < CHUNK ? bytes - at : CHUNK;
            memcpy(buf, data + at, n);
            errno = 0;
            if (fwrite(buf, 1, n, f) != n)
                st = write_error();
        }
        tg_free(buf);
        return st;
    }
    errno = 0;
    if (fwrite(data, 1, bytes, f) != bytes)
        return write_error();
    return TG_OK;
}

tg_status tg_npy_write(FILE *f, const tg_tensor *t)
{
    if (!t)
        return tg_errcode() ? tg_errcode() : tg_error(TG_EINPUT, "no tensor to write");
    if (tg_check_write_size(t) != TG_OK)
        return tg_errcode();
    if (tg_npy_write_header(f, t->dtype, t->ndim, t->shape) != TG_OK)
        return tg_errcode();
    if (t->numel == 0)
        return TG_OK;
    if (!tg_is_contiguous(t))
        return write_strided(f, t);
    return tg_npy_write_range(f, t, 0, t->numel);
}

tg_status tg_npy_peek(const void *bytes, size_t len, tg_dtype *dtype, int *ndim, int64_t *shape)
{
    npy_header h = {0};
    size_t data_off = 0;
    if (parse_prefix(bytes, len, &h, &data_off) != TG_OK || parse_dict(&h) != TG_OK ||
        tg_shape_check(h.ndim, h.shape, NULL) != TG_OK)
        return tg_errcode();
    *dtype = kinds[h.kind].dtype;
    *ndim = h.ndim;
    memcpy(shape, h.shape, (size_t)h.ndim * sizeof *shape);
    return TG_OK;
}
