/* json_write.c -- tensors to JSON text (tg-formats(5), OUTPUT).
 *
 * Numbers are written with the fewest significant digits that read back
 * (strtof for float32, strtod for float64) to the identical value: float32
 * 0.1 prints 0.1, not 0.100000001.  Those digits are the ones "%.{p}g"
 * gives for the smallest such p; they are laid out the way Python's repr
 * lays out a float: positional when the decimal exponent is in [-4, 16)
 * (50, 0.001, 1234.5), else exponential as C prints it (1e+16, 1.5e-07).
 * Integral values have no decimal point (9, not 9.0), except -0.0, which
 * keeps one because "-0" reads back as the integer 0.  Non-finite values are
 * the strings "NaN", "Infinity" and "-Infinity", since JSON has no such
 * numbers.
 *
 * Finding the digits: all 9 (float32) or 17 (float64) significant digits,
 * correctly rounded, come from exact 128-bit integer arithmetic (from
 * snprintf where the numbers outgrow 128 bits: float64 below 1e-6 or above
 * 3e38, float32 below about 1e-28), together with the direction they were
 * rounded in; rounding those to p digits then gives exactly the digits of
 * "%.{p}e", ties included.  A binary search over p finds the smallest p
 * that reads back: if p digits read back, so do p+1 (the p+1-digit grid
 * contains the p-digit one, so its nearest point is at least as close).
 * Whether digits read back is decided exactly without strtod in the common
 * cases (see reads_back_*).  About 0.2 s per 10^6 numbers.
 */
#include "json.h"
#include "internal.h"
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Significant decimal digits of a positive finite value: d[0..n) with the
 * first digit worth 10^exp10; dir is the sign of (value - digits), or 2
 * when unknown. */
typedef struct {
    char d[24];
    int n;
    int exp10;
    int dir;
} decimal;

/* The n correctly rounded digits of x > 0, from printf (in the C locale:
 * elsewhere the decimal point may be a ',' that would pass for a digit). */
static void printf_digits(double x, int n, decimal *out)
{
    char tmp[48];
    int k = 0;
    tg_snprintf_c(tmp, sizeof tmp, "%.*e", n - 1, x);
    const char *s = tmp;
    for (; *s && *s != 'e'; s++)
        if (*s != '.')
            out->d[k++] = *s;
    out->n = k;
    out->exp10 = atoi(s + 1);
    out->dir = 2;
}

#ifdef __SIZEOF_INT128__ /* gcc and clang on 64-bit targets */
typedef unsigned __int128 u128;

static u128 pow10_128(int k) /* k <= 38 */
{
    static u128 t[39];
    if (!t[0]) {
        t[0] = 1;
        for (int i = 1; i < 39; i++)
            t[i] = t[i - 1] * 10;
    }
    return t[k];
}

/* q = m * 2^e * 10^s rounded to an integer (half to even), exactly, with
 * dir the sign of (value - q).  False when it does not fit 128 bits. */
static bool scaled(uint64_t m, int e, int s, uint64_t *q, int *dir)
{
    u128 num = m, den = 1, qq, rem;
    if (s < -38 || s > 38)
        return false;
    if (s >= 0 && __builtin_mul_overflow(num, pow10_128(s), &num))
        return false;
    if (s < 0)
        den = pow10_128(-s);
    if (e >= 0) {
        if (e >= 127 || num >> (127 - e))
            return false;
        num <<= e;
    } else {
        if (-e >= 126 || den >> (126 + e))
            return false;
        den <<= -e; /* den < 2^126: 2 * rem cannot overflow */
    }
    if (s >= 0) { /* den is a power of two: shifts, not a division */
        int sh = e < 0 ? -e : 0;
        qq = num >> sh;
        rem = num & (den - 1);
    } else {
        qq = num / den;
        rem = num % den;
    }
    if (qq >> 64) {
        *q = UINT64_MAX; /* far too many digits: the caller re-estimates */
        *dir = 0;
        return true;
    }
    u128 r2 = rem * 2;
    bool up = r2 > den || (r2 == den && (qq & 1));
    *q = (uint64_t)qq + up;
    *dir = up ? -1 : rem ? 1 : 0;
    return true;
}

/* The n correctly rounded digits of x > 0 by exact integer arithmetic,
 * or false where the numbers outgrow 128 bits (very small or large x). */
static bool exact_digits(double x, int n, decimal *out)
{
    static const uint64_t p10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
                                   1000000000, 10000000000, 100000000000, 1000000000000,
                                   10000000000000, 100000000000000, 1000000000000000,
                                   10000000000000000, 100000000000000000};
    int e2;
    uint64_t m = (uint64_t)ldexp(frexp(x, &e2), 53);
    int e = e2 - 53, tz = __builtin_ctzll(m);
    int X = (int)floor(log10(x)); /* may be off by one: checked below */
    m >>= tz;
    e += tz;
    for (int tries = 0; tries < 3; tries++) {
        uint64_t q;
        int dir;
        if (!scaled(m, e, n - 1 - X, &q, &dir))
            return false;
        if (q >= p10[n]) {
            X++;
        } else if (q < p10[n - 1]) {
            X--;
        } else {
            for (int i = n - 1; i >= 0; i--, q /= 10)
                out->d[i] = (char)('0' + q % 10);
            out->n = n;
            out->exp10 = X;
            out->dir = dir;
            return true;
        }
    }
    return false;
}
#else
static bool exact_digits(double x, int n, decimal *out) { return false; }
#endif

/* Rounds the digits of all to p < all->n digits as printf would round the
 * value itself (half to even).  False on a tie in all's digits when all's
 * own rounding direction is unknown. */
static bool round_digits(const decimal *all, int p, decimal *out)
{
    char next = all->d[p];
    bool rest_zero = true, up;
    for (int i = p + 1; i < all->n; i++)
        rest_zero &= all->d[i] == '0';
    if (next == '5' && rest_zero) { /* the value's own digits decide */
        if (all->dir == 2)
            return false;
        up = all->dir > 0 || (all->dir == 0 && (all->d[p - 1] - '0') % 2 == 1);
    } else {
        up = next >= '5';
    }
    memcpy(out->d, all->d, (size_t)p);
    out->n = p;
    out->exp10 = all->exp10;
    out->dir = 2;
    if (!up)
        return true;
    int i = p - 1;
    while (i >= 0 && out->d[i] == '9')
        out->d[i--] = '0';
    if (i >= 0) {
        out->d[i]++;
    } else { /* 999 -> 1000: one digit more in front */
        out->d[0] = '1';
        out->exp10++;
    }
    return true;
}

static void digits_for(double x, const decimal *all, int p, decimal *out)
{
    if (p >= all->n)
        *out = *all;
    else if (!round_digits(all, p, out))
        printf_digits(x, p, out);
    while (out->n > 1 && out->d[out->n - 1] == '0')
        out->n--;
}

static uint64_t digits_value(const decimal *c) /* at most 19 digits */
{
    uint64_t m = 0;
    for (int i = 0; i < c->n; i++)
        m = m * 10 + (uint64_t)(c->d[i] - '0');
    return m;
}

/* "DDDDe-7": the digits as an integer times a power of ten, for strto*. */
static void digits_text(const decimal *c, char *buf)
{
    memcpy(buf, c->d, (size_t)c->n);
    snprintf(buf + c->n, 16, "e%d", c->exp10 - c->n + 1);
}

/* Do these digits read back (strtof) as x > 0?  Exact fast paths: the
 * decimal in float arithmetic (one rounding), or in double and then to
 * float (see tg_f32_midpoint). */
static bool reads_back_f32(const decimal *c, float x)
{
    uint64_t m = digits_value(c);
    int e = c->exp10 - c->n + 1;
    float f;
    double d;
    if (tg_dec_fast_float(m, e, &f))
        return f == x;
    if (x >= 2 * FLT_MIN && x <= FLT_MAX / 2 && tg_dec_fast_double(m, e, &d) && !tg_f32_midpoint(d))
        return (float)d == x;
    char buf[48];
    digits_text(c, buf);
    return tg_strtof_c(buf, NULL) == x;
}

static bool reads_back_f64(const decimal *c, double x)
{
    double d;
    if (tg_dec_fast_double(digits_value(c), c->exp10 - c->n + 1, &d))
        return d == x;
    char buf[48];
    digits_text(c, buf);
    return tg_strtod_c(buf, NULL) == x;
}

/* The shortest digits of x > 0 that read back; is_f32: x is a float. */
static void shortest(double x, bool is_f32, decimal *out)
{
    int lo = 1, hi = is_f32 ? 9 : 17; /* hi always reads back */
    decimal all, c;
    if (!exact_digits(x, hi, &all))
        printf_digits(x, hi, &all);
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        digits_for(x, &all, mid, &c);
        if (is_f32 ? reads_back_f32(&c, (float)x) : reads_back_f64(&c, x))
            hi = mid;
        else
            lo = mid + 1;
    }
    digits_for(x, &all, hi, out);
}

/* Lays out digits as Python's repr does (see the top comment). */
static int layout(char *buf, bool neg, const decimal *c)
{
    char *s = buf;
    int n = c->n, x = c->exp10;
    if (neg)
        *s++ = '-';
    if (x < -4 || x >= 16) {
        *s++ = c->d[0];
        if (n > 1) {
            *s++ = '.';
            memcpy(s, c->d + 1, (size_t)n - 1);
            s += n - 1;
        }
        s += snprintf(s, 8, "e%c%02d", x < 0 ? '-' : '+', abs(x));
    } else if (x < 0) {
        *s++ = '0';
        *s++ = '.';
        for (int i = -1; i > x; i--)
            *s++ = '0';
        memcpy(s, c->d, (size_t)n);
        s += n;
    } else {
        for (int i = 0; i < n || i <= x; i++) {
            if (i == x + 1)
                *s++ = '.';
            *s++ = i < n ? c->d[i] : '0';
        }
    }
    *s = 0;
    return (int)(s - buf);
}

static int put(char *buf, const char *s)
{
    size_t n = strlen(s);
    memcpy(buf, s, n + 1);
    return (int)n;
}

/* NaN, infinities and zeros, or 0 when v is none of those. */
static int format_special(char *buf, double v)
{
    if (isnan(v))
        return put(buf, "\"NaN\"");
    if (isinf(v))
        return put(buf, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    if (v == 0)
        return put(buf, signbit(v) ? "-0.0" : "0");
    return 0;
}

static int format_i64(char *buf, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    int k = 0;
    if (v < 0)
        buf[k++] = '-';
    while (n)
        buf[k++] = tmp[--n];
    buf[k] = 0;
    return k;
}

/* A whole number below 2^24 (float) or 2^53 (double): every integer there
 * is its own float, so its shortest digits are its integer digits, which
 * layout() writes as they are (exponent below 16).  The same text as the
 * search below, at a fraction of its cost. */
static int format_f32(char *buf, float v)
{
    decimal c;
    int k = format_special(buf, v);
    if (k)
        return k;
    if (fabsf(v) < 0x1p24f && v == (float)(int32_t)v)
        return format_i64(buf, (int64_t)v);
    shortest(fabsf(v), true, &c);
    return layout(buf, v < 0, &c);
}

static int format_f64(char *buf, double v)
{
    decimal c;
    int k = format_special(buf, v);
    if (k)
        return k;
    if (fabs(v) < 0x1p53 && v == (double)(int64_t)v)
        return format_i64(buf, (int64_t)v);
    shortest(fabs(v), false, &c);
    return layout(buf, v < 0, &c);
}

int tg_format_number(char *buf, double v, tg_dtype dt)
{
    switch (dt) {
    case TG_BOOL: return put(buf, v != 0 ? "true" : "false");
    case TG_FLOAT32: return format_f32(buf, (float)v);
    case TG_INT64:
        /* a double holds int64 values exactly only up to 2^53; out of
         * range (or NaN) it cannot be an int64 at all: write it as float64 */
        if (v >= -0x1p63 && v < 0x1p63)
            return format_i64(buf, (int64_t)v);
        return format_f64(buf, v);
    default: return format_f64(buf, v);
    }
}

/* ---- writing a tensor through a buffer ---- */
typedef struct {
    FILE *f;
    tg_buf *to; /* instead of f: the text is appended here */
    size_t n;
    int err; /* errno of the first failed write, or 0 */
    size_t cap;
    char *buf;
} wbuf;

#define WBUF_FILE ((size_t)1 << 16) /* the buffer for writing to a FILE */

static void flush(wbuf *w)
{
    if (w->to)
        tg_buf_add(w->to, w->buf, w->n);
    else if (w->n && !w->err && fwrite(w->buf, 1, w->n, w->f) != w->n)
        w->err = errno ? errno : EIO;
    w->n = 0;
}

/* Room for one number or a few brackets. */
static char *room(wbuf *w)
{
    if (w->n + 64 > w->cap)
        flush(w);
    return w->buf + w->n;
}

static void put_char(wbuf *w, char c)
{
    *room(w) = c;
    w->n++;
}

/* Element at offset off (in elements) from element 0 of the view. */
static void put_elem(wbuf *w, const tg_tensor *t, const char *base, int64_t off)
{
    char *s = room(w);
    switch (t->dtype) {
    case TG_FLOAT32: w->n += (size_t)format_f32(s, ((const float *)base)[off]); break;
    case TG_FLOAT64: w->n += (size_t)format_f64(s, ((const double *)base)[off]); break;
    case TG_INT64: w->n += (size_t)format_i64(s, ((const int64_t *)base)[off]); break;
    default: w->n += (size_t)put(s, ((const bool *)base)[off] ? "true" : "false"); break;
    }
}

/* An empty tensor: nested [] down to the first zero dimension.  Recursion
 * is bounded by the rank. */
static void put_empty(wbuf *w, const tg_tensor *t, int d)
{
    put_char(w, '[');
    if (t->shape[d] > 0)
        for (int64_t i = 0; i < t->shape[d]; i++) {
            if (i)
                put_char(w, ',');
            put_empty(w, t, d + 1);
        }
    put_char(w, ']');
}

/* A non-empty tensor: the elements in row-major order, walking the view's
 * strides with an odometer, opening and closing brackets as indices wrap. */
static void put_elements(wbuf *w, const tg_tensor *t)
{
    const char *base = tg_data(t);
    int64_t idx[TG_MAX_DIMS] = {0}, off = 0;
    int nd = t->ndim;
    for (int d = 0; d < nd; d++)
        put_char(w, '[');
    for (;;) {
        put_elem(w, t, base, off);
        int d = nd - 1;
        for (; d >= 0; d--) {
            off += t->stride[d];
            if (++idx[d] < t->shape[d])
                break;
            off -= t->stride[d] * t->shape[d];
            idx[d] = 0;
            put_char(w, ']');
        }
        if (d < 0)
            break;
        put_char(w, ',');
        for (int k = d + 1; k < nd; k++)
            put_char(w, '[');
    }
}

/* --typed: every tensor as the object form {"data":...,"shape":[...],
 * "dtype":"..."} that the tools read (tg-formats(5)), so that a reader sees
 * the dtype, and the shape of an empty tensor */
static bool json_typed;
void tg_json_set_typed(bool on) { json_typed = on; }

static void put_text(wbuf *w, const char *s)
{
    while (*s)
        put_char(w, *s++);
}

static void put_typed_tail(wbuf *w, const tg_tensor *t)
{
    put_text(w, ",\"shape\":[");
    for (int d = 0; d < t->ndim; d++) {
        if (d)
            put_char(w, ',');
        w->n += (size_t)format_i64(room(w), t->shape[d]);
    }
    put_text(w, "],\"dtype\":\"");
    put_text(w, tg_dtype_name(t->dtype));
    put_text(w, "\"}");
}

tg_status tg_json_writable(const tg_tensor *t)
{
    if (!t) /* as the ops do: a NULL from a failed call passes its error on */
        return tg_errcode() ? tg_errcode() : tg_error(TG_EINPUT, "no tensor to write");
    if (tg_check_write_size(t) != TG_OK)
        return tg_errcode();
    if (t->numel == 0) {
        /* an empty tensor prints one [] per index before its first 0 dim:
         * refuse shapes that would make that text absurdly long */
        int64_t rows = 1;
        for (int d = 0; d < t->ndim && t->shape[d] != 0; d++)
            if (tg_mul_overflows(rows, t->shape[d], &rows) || rows > (INT64_C(1) << 24)) {
                char s[256];
                return tg_error(TG_EINPUT, "an empty tensor of shape %s would need more than 2^24 "
                                "empty arrays in JSON: write it as .npy instead", tg_shape_str(t, s, sizeof s));
            }
    }
    return TG_OK;
}

/* t's text through w (t checked by tg_json_writable), w flushed */
static void put_tensor(wbuf *w, const tg_tensor *t)
{
    errno = 0;
    if (json_typed)
        put_text(w, "{\"data\":");
    if (t->numel == 0)
        put_empty(w, t, 0);
    else
        put_elements(w, t);
    if (json_typed)
        put_typed_tail(w, t);
    flush(w);
}

static tg_status write_error(int err)
{
    return tg_error(TG_ERESOURCE, "cannot write output: %s", strerror(err));
}

/* to f, or appended to `to` when it is not NULL */
static tg_status write_json(FILE *f, tg_buf *to, const tg_tensor *t)
{
    if (tg_json_writable(t) != TG_OK)
        return tg_errcode();
    /* into a tg_buf (a --lines result, a few numbers), a buffer on the
     * stack: no 64 KiB block taken and given back for each tensor */
    char small[4096];
    wbuf local = {.f = f, .to = to, .cap = sizeof small, .buf = small}, *w = &local;
    if (!to) {
        w = tg_malloc(sizeof *w + WBUF_FILE);
        if (!w)
            return TG_ERESOURCE;
        *w = (wbuf){.f = f, .cap = WBUF_FILE, .buf = (char *)(w + 1)};
    }
    put_tensor(w, t);
    if (!to && !w->err && (fflush(f) != 0 || ferror(f)))
        w->err = errno ? errno : EIO;
    int err = w->err;
    if (w != &local)
        tg_free(w);
    return err ? write_error(err) : TG_OK;
}

tg_status tg_json_write_with(FILE *f, const tg_tensor *t, char *buf, size_t cap)
{
    if (tg_json_writable(t) != TG_OK)
        return tg_errcode();
    wbuf w = {.f = f, .cap = cap, .buf = buf};
    put_tensor(&w, t);
    return w.err ? write_error(w.err) : TG_OK;
}

tg_status tg_json_write(FILE *f, const tg_tensor *t) { return write_json(f, NULL, t); }

tg_status tg_json_write_buf(tg_buf *b, const tg_tensor *t)
{
    tg_status st = write_json(NULL, b, t);
    if (st == TG_OK && b->failed)
        st = tg_error(TG_ERESOURCE, "out of memory");
    return st;
}
