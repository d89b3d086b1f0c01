/* json_read.c -- strict JSON (RFC 8259) text to tensors (tg-formats(5)).
 *
 * We parse JSON ourselves rather than with cJSON because cJSON is lenient:
 * it accepts 0x10, 1.5e and trailing garbage, turns 1e400 into inf without a
 * word, keeps one of two duplicate keys and matches keys case-insensitively;
 * and it holds every number as a double, which loses int64 values beyond
 * 2^53 and rounds float32 values twice.  Here:
 *  - the grammar is RFC 8259's, exactly: whitespace is space, tab, CR, LF;
 *    numbers follow the JSON number grammar; strings are checked (escapes,
 *    control characters, UTF-8); nothing but whitespace may follow the value.
 *  - each number is converted from its own text straight to the tensor's
 *    dtype: float32 with strtof (strtod then (float) would round twice),
 *    float64 with strtod, both behind Clinger's exact fast path; int64 from
 *    the decimal digits, never through a double.  A finite number that
 *    overflows the dtype is an error, not an infinity.  int64 takes any
 *    number whose decimal value is an exact integer in range: 3, 3.0, 3e2
 *    and 1.5e1 are fine, 1.5 and 1e-3 are errors; this is decided on the
 *    digits, so it is exact however large the exponent.
 *  - one pass over nested arrays finds the shape, checks that it is
 *    rectangular and fills one growing buffer: no allocation per element.
 *    Recursion goes no deeper than TG_MAX_DIMS (arrays of data) or
 *    TG_MAX_JSON_DEPTH (anything else).
 *  - every error is TG_EINPUT, one line, with the byte offset.
 */
#include "json.h"
#include "internal.h"
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NUMBER_CHARS 512 /* longest number token we convert */
#define MAX_KEY_BYTES 256    /* longest key or name, decoded, with its NUL */

/* ---- the text and where we are in it ---- */
typedef struct {
    const char *s;
    size_t len, pos;
    int depth; /* arrays and objects open around pos */
} jp;

static int peek(const jp *p) { return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1; }

static void skip_ws(jp *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static bool starts_with(const jp *p, size_t at, const char *word)
{
    size_t n = strlen(word);
    return at <= p->len && p->len - at >= n && !memcmp(p->s + at, word, n);
}

/* Copies at most n-1 bytes of s[0..len) into buf, printable ASCII only. */
static const char *printable(char *buf, size_t n, const char *s, size_t len)
{
    size_t k = 0;
    for (; k < len && k + 1 < n; k++)
        buf[k] = (s[k] >= 0x20 && s[k] < 0x7f) ? s[k] : '?';
    buf[k] = 0;
    return buf;
}

/* The token-like text at `at` (a word, a number), for messages. */
static size_t token_len(const jp *p, size_t at)
{
    size_t i = at;
    while (i < p->len && (is_alpha(p->s[i]) || is_digit(p->s[i]) || p->s[i] == '.' ||
                          p->s[i] == '+' || p->s[i] == '-'))
        i++;
    return i - at;
}

/* What stands at offset `at`, in words: "null", "an object", "'x'"... */
static const char *describe(const jp *p, size_t at, char *buf, size_t n)
{
    if (at >= p->len)
        return "the end of the input";
    int c = (unsigned char)p->s[at];
    char tok[48];
    if (c == '{')
        return "an object";
    if (c == '[')
        return "an array";
    if (starts_with(p, at, "null"))
        return "null";
    if (starts_with(p, at, "true"))
        return "true";
    if (starts_with(p, at, "false"))
        return "false";
    if (c == '"') {
        size_t e = at + 1;
        while (e < p->len && p->s[e] != '"' && e - at < 40)
            e++;
        snprintf(buf, n, "the string \"%s%s", printable(tok, sizeof tok, p->s + at + 1, e - at - 1),
                 e < p->len && p->s[e] == '"' ? "\"" : "...");
        return buf;
    }
    size_t k = token_len(p, at);
    if (k) {
        snprintf(buf, n, "'%s%s'", printable(tok, 41, p->s + at, k), k > 40 ? "..." : "");
        return buf;
    }
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, n, "'%c'", c);
    else
        snprintf(buf, n, "byte 0x%02X", (unsigned)c);
    return buf;
}

static tg_status fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static tg_status fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tg_error(TG_EINPUT, "%s", msg);
}

/* "expected WHAT at offset N, found X" for the text at p->pos. */
static tg_status expected(const jp *p, const char *what)
{
    char d[96];
    return fail("expected %s at offset %zu, found %s", what, p->pos, describe(p, p->pos, d, sizeof d));
}

/* After an element of an array or a member of an object that close
 * ends: a ',' (not before close: JSON has no trailing comma), consumed
 * with the white space after it, or close, left for the caller. */
static tg_status after_item(jp *p, char close, const char *what)
{
    skip_ws(p);
    if (peek(p) == close)
        return TG_OK;
    if (peek(p) != ',')
        return expected(p, what);
    p->pos++;
    skip_ws(p);
    if (peek(p) == close)
        return fail("trailing comma before '%c' at offset %zu", close, p->pos);
    return TG_OK;
}

static tg_status enter(jp *p)
{
    if (++p->depth > TG_MAX_JSON_DEPTH)
        return fail("JSON nested deeper than %d levels at offset %zu (the limit, TG_MAX_JSON_DEPTH)",
                    TG_MAX_JSON_DEPTH, p->pos);
    return TG_OK;
}

/* ---- literals and bare words ---- */

/* A word where a value belongs: NaN and Infinity get their own advice. */
static tg_status bad_word(const jp *p)
{
    size_t at = p->pos, k = token_len(p, at);
    char w[16];
    printable(w, sizeof w, p->s + at, k < sizeof w ? k : sizeof w - 1);
    const char *q = w[0] == '-' || w[0] == '+' ? w + 1 : w;
    if (k < sizeof w && (!strcasecmp(q, "nan") || !strcasecmp(q, "inf") || !strcasecmp(q, "infinity")))
        return fail("bare %s at offset %zu is not JSON: write it as the string \"%s\"", w, at,
                    q[0] == 'n' || q[0] == 'N' ? "NaN" : w[0] == '-' ? "-Infinity" : "Infinity");
    return expected(p, "a JSON value");
}

/* true, false or null at p->pos; *which gets 1, 0 or -1. */
static tg_status scan_literal(jp *p, int *which)
{
    static const char *const words[3] = {"null", "false", "true"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (starts_with(p, p->pos, words[i]) && token_len(p, p->pos) == n) {
            p->pos += n;
            *which = i - 1;
            return TG_OK;
        }
    }
    return bad_word(p);
}

/* ---- strings ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
size_t tg_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k = c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (k == 0 || k > n)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] >= 0x90))
        return 0;
    return k;
}

static int hex4(const jp *p, size_t at)
{
    if (at > p->len || p->len - at < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p->s[at + i];
        int d = is_digit(c) ? c - '0' : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* The decoded string, for keys and quoted numbers. */
typedef struct {
    char *buf;       /* NULL: only check the syntax */
    size_t cap, len; /* len counts every decoded byte, even those cut off */
    bool nul;        /* contains \u0000 */
} jstr;

static void put_byte(jstr *o, unsigned char b)
{
    if (o->buf && o->len + 1 < o->cap)
        o->buf[o->len] = (char)b;
    o->len++;
}

static void put_code(jstr *o, unsigned cp)
{
    if (cp == 0)
        o->nul = true;
    if (cp < 0x80) {
        put_byte(o, cp);
    } else if (cp < 0x800) {
        put_byte(o, 0xC0 | cp >> 6);
        put_byte(o, 0x80 | (cp & 63));
    } else if (cp < 0x10000) {
        put_byte(o, 0xE0 | cp >> 12);
        put_byte(o, 0x80 | (cp >> 6 & 63));
        put_byte(o, 0x80 | (cp & 63));
    } else {
        put_byte(o, 0xF0 | cp >> 18);
        put_byte(o, 0x80 | (cp >> 12 & 63));
        put_byte(o, 0x80 | (cp >> 6 & 63));
        put_byte(o, 0x80 | (cp & 63));
    }
}

/* \uXXXX at p->pos (on the backslash), with a surrogate pair if one. */
static tg_status scan_u_escape(jp *p, jstr *o)
{
    size_t at = p->pos;
    int hi = hex4(p, at + 2);
    if (hi < 0)
        return fail("bad \\u escape in a string at offset %zu (expected 4 hex digits)", at);
    p->pos += 6;
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return fail("unpaired surrogate \\u%04X in a string at offset %zu", (unsigned)hi, at);
    if (hi < 0xD800 || hi > 0xDBFF) {
        put_code(o, (unsigned)hi);
        return TG_OK;
    }
    int lo = starts_with(p, p->pos, "\\u") ? hex4(p, p->pos + 2) : -1;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return fail("unpaired surrogate \\u%04X in a string at offset %zu", (unsigned)hi, at);
    p->pos += 6;
    put_code(o, 0x10000 + ((unsigned)(hi - 0xD800) << 10) + (unsigned)(lo - 0xDC00));
    return TG_OK;
}

static tg_status scan_escape(jp *p, jstr *o)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (p->pos + 1 >= p->len)
        return fail("unterminated string at offset %zu", p->pos);
    char c = p->s[p->pos + 1];
    if (c == 'u')
        return scan_u_escape(p, o);
    const char *k = c ? strchr(from, c) : NULL;
    if (!k)
        return fail("bad escape '\\%c' in a string at offset %zu (expected one of \\\" \\\\ \\/ \\b "
                    "\\f \\n \\r \\t \\uXXXX)", c >= 0x20 && c < 0x7f ? c : '?', p->pos);
    put_byte(o, (unsigned char)to[k - from]);
    p->pos += 2;
    return TG_OK;
}

/* A string at p->pos (on the quote), decoded into o. */
static tg_status scan_string(jp *p, jstr *o)
{
    size_t start = p->pos;
    o->len = 0;
    o->nul = false;
    p->pos++;
    for (;;) {
        if (p->pos >= p->len)
            return fail("unterminated string starting at offset %zu", start);
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"')
            break;
        if (c == '\\') {
            if (scan_escape(p, o) != TG_OK)
                return TG_EINPUT;
            continue;
        }
        if (c < 0x20)
            return fail("control character 0x%02X in a string at offset %zu (write it as an escape)",
                        c, p->pos);
        size_t k = tg_utf8_len((const unsigned char *)p->s + p->pos, p->len - p->pos);
        if (!k)
            return fail("invalid UTF-8 in a string at offset %zu", p->pos);
        for (size_t i = 0; i < k; i++)
            put_byte(o, (unsigned char)p->s[p->pos + i]);
        p->pos += k;
    }
    p->pos++;
    if (o->buf)
        o->buf[o->len < o->cap ? o->len : o->cap - 1] = 0;
    return TG_OK;
}

/* ---- numbers ---- */

/* A number token, read by the JSON grammar.  Its value is
 * (neg ? -1 : 1) * mant * 10^exp, exactly when !inexact; mant holds the
 * first 19 significant digits. */
typedef struct {
    size_t start, end;
    bool neg;
    uint64_t mant;
    int64_t exp;
    bool inexact; /* a non-zero digit was dropped beyond the 19th */
    int64_t mag;  /* value in [10^(mag-1), 10^mag) when mant != 0 */
} jnum;

static tg_status bad_number(const jp *p, const jnum *n, const char *why)
{
    size_t k = token_len(p, n->start);
    char tok[48];
    return fail("malformed number '%s%s' at offset %zu: %s",
                printable(tok, 41, p->s + n->start, k ? k : 1), k > 40 ? "..." : "", n->start, why);
}

/* Adds one mantissa digit. */
static void num_digit(jnum *n, int d, int64_t *nsig, int64_t *dropped)
{
    if (n->mant == 0 && d == 0 && *nsig == 0)
        return; /* leading zeros do not count */
    if (*nsig < 19)
        n->mant = n->mant * 10 + (uint64_t)d;
    else {
        (*dropped)++;
        if (d)
            n->inexact = true;
    }
    (*nsig)++;
}

/* The exponent part; saturates far beyond any dtype's range. */
static tg_status scan_exponent(jp *p, jnum *n, size_t *i, int64_t *e)
{
    const char *s = p->s;
    int sign = 1;
    (*i)++;
    if (*i < p->len && (s[*i] == '+' || s[*i] == '-'))
        sign = s[(*i)++] == '-' ? -1 : 1;
    if (*i >= p->len || !is_digit(s[*i]))
        return bad_number(p, n, "the exponent needs digits");
    int64_t v = 0;
    for (; *i < p->len && is_digit(s[*i]); (*i)++)
        if (v < 1000000000)
            v = v * 10 + (s[*i] - '0');
    *e = sign * v;
    return TG_OK;
}

static tg_status scan_number(jp *p, jnum *n)
{
    const char *s = p->s;
    size_t i = p->pos, len = p->len;
    int64_t nsig = 0, dropped = 0, nfrac = 0, e = 0;
    memset(n, 0, sizeof *n);
    n->start = i;
    if (i < len && s[i] == '-')
        n->neg = true, i++;
    if (i >= len || !is_digit(s[i])) {
        p->pos = i;
        if (i < len && s[i] == '.')
            return bad_number(p, n, "a digit must come before the decimal point");
        if (i < len && is_alpha(s[i])) {
            p->pos = n->start;
            return bad_word(p);
        }
        return bad_number(p, n, "a digit must follow the minus sign");
    }
    if (s[i] == '0') {
        i++;
        if (i < len && is_digit(s[i]))
            return bad_number(p, n, "leading zeros are not allowed");
        if (i < len && (s[i] == 'x' || s[i] == 'X'))
            return bad_number(p, n, "hexadecimal numbers are not JSON");
    } else {
        for (; i < len && is_digit(s[i]); i++)
            num_digit(n, s[i] - '0', &nsig, &dropped);
    }
    if (i < len && s[i] == '.') {
        if (++i >= len || !is_digit(s[i]))
            return bad_number(p, n, "digits must follow the decimal point");
        for (; i < len && is_digit(s[i]); i++, nfrac++)
            num_digit(n, s[i] - '0', &nsig, &dropped);
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        if (scan_exponent(p, n, &i, &e) != TG_OK)
            return TG_EINPUT;
    }
    if (i < len && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '.' || s[i] == '+' || s[i] == '-'))
        return bad_number(p, n, "unexpected character after the number");
    if (i - n->start > MAX_NUMBER_CHARS)
        return fail("number at offset %zu is too long (%zu characters; the limit is %d)", n->start,
                    i - n->start, MAX_NUMBER_CHARS);
    n->end = i;
    n->exp = e - nfrac + dropped;
    n->mag = nsig + e - nfrac;
    p->pos = i;
    return TG_OK;
}

/* The token, NUL-terminated, for strtod/strtof (the input is not). */
static void token_copy(const jp *p, const jnum *n, char *buf)
{
    memcpy(buf, p->s + n->start, n->end - n->start);
    buf[n->end - n->start] = 0;
}

static tg_status overflow(const jp *p, const jnum *n, const char *dtype, const char *max)
{
    char tok[48];
    size_t k = n->end - n->start;
    return fail("%s%s at offset %zu overflows %s (the largest %s is %s)",
                printable(tok, 41, p->s + n->start, k), k > 40 ? "..." : "", n->start, dtype, dtype,
                max);
}

/* 17 to 19 digits (beyond Clinger's 2^53) on x86-64: the x87 format's
 * 64-bit mantissa holds m and 10^e (|e| <= 27, as 5^27 < 2^64) exactly, so
 * m * 10^e rounds once, and rounding that to double agrees with rounding
 * the decimal itself unless it is exactly halfway between two doubles (the
 * argument of tg_f32_midpoint, one format up). */
static bool dec_fast_double_x87(uint64_t m, int e, double *out)
{
#if defined(__x86_64__) && LDBL_MANT_DIG == 64
    static int extended = -1; /* valgrind does long double in double precision */
    if (extended < 0) {
        volatile long double one = 1, tiny = 0x1p-63L;
        extended = one + tiny != one;
    }
    static const long double p10[28] = {
        1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
        1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
        1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
    if (!extended || e < -27 || e > 27)
        return false;
    long double v = e >= 0 ? (long double)m * p10[e] : (long double)m / p10[-e];
    uint64_t mant;
    memcpy(&mant, &v, sizeof mant); /* the x87 format's explicit mantissa */
    if (!(v >= DBL_MIN && v <= DBL_MAX) || (mant & 0x7FF) == 0x400)
        return false;
    *out = (double)v;
    return true;
#else
    (void)m, (void)e, (void)out;
    return false;
#endif
}

static tg_status num_to_f64(const jp *p, const jnum *n, double *out, bool allow_inf)
{
    double v;
    int e = (int)(n->exp < -99 ? -99 : n->exp > 99 ? 99 : n->exp);
    if (!n->inexact && (tg_dec_fast_double(n->mant, e, &v) || dec_fast_double_x87(n->mant, e, &v))) {
        *out = n->neg ? -v : v;
        return TG_OK;
    }
    char buf[MAX_NUMBER_CHARS + 1];
    token_copy(p, n, buf);
    v = tg_strtod_c(buf, NULL); /* the C locale's '.' whatever setlocale chose */
    if (isinf(v) && !allow_inf)
        return overflow(p, n, "float64", "1.7976931348623157e308");
    *out = v;
    return TG_OK;
}

static tg_status num_to_f32(const jp *p, const jnum *n, float *out)
{
    float v;
    double d;
    int e = (int)(n->exp < -99 ? -99 : n->exp > 99 ? 99 : n->exp);
    if (!n->inexact && tg_dec_fast_float(n->mant, e, &v)) {
        *out = n->neg ? -v : v;
        return TG_OK;
    }
    if (!n->inexact && tg_dec_fast_double(n->mant, e, &d) && d >= FLT_MIN && d <= FLT_MAX &&
        !tg_f32_midpoint(d)) {
        v = (float)d;
        *out = n->neg ? -v : v;
        return TG_OK;
    }
    char buf[MAX_NUMBER_CHARS + 1];
    token_copy(p, n, buf);
    v = tg_strtof_c(buf, NULL);
    if (isinf(v))
        return overflow(p, n, "float32", "3.4028235e38");
    *out = v;
    return TG_OK;
}

/* Exact: from the digits, never through a double. */
static tg_status num_to_i64(const jp *p, const jnum *n, int64_t *out)
{
    char tok[48];
    size_t k = n->end - n->start;
    printable(tok, 41, p->s + n->start, k);
    const char *more = k > 40 ? "..." : "";
    uint64_t m = n->mant;
    int64_t e = n->exp;
    if (m == 0) { /* 0, -0.0, 0e999 */
        *out = 0;
        return TG_OK;
    }
    if (n->mag > 19)
        goto range;
    if (n->inexact)
        goto fraction;
    for (; e < 0 && m % 10 == 0; e++)
        m /= 10;
    if (e < 0)
        goto fraction;
    for (; e > 0; e--)
        if (__builtin_mul_overflow(m, 10, &m))
            goto range;
    if (m > (uint64_t)INT64_MAX + (n->neg ? 1 : 0))
        goto range;
    *out = n->neg ? (int64_t)(0 - m) : (int64_t)m;
    return TG_OK;
range:
    return fail("%s%s at offset %zu is out of the int64 range (-9223372036854775808 to "
                "9223372036854775807)", tok, more, n->start);
fraction:
    return fail("%s%s at offset %zu is not an integer, which an int64 tensor needs", tok, more,
                n->start);
}

/* ---- the tensor being built ---- */
typedef enum { K_NONE, K_NUMBER, K_BOOL } leaf_kind;

typedef struct {
    jp *p;
    int want;               /* the object's "dtype", or -1 */
    int hint;               /* dtype for numbers when want is -1, or -1 */
    tg_dtype dt;            /* decided at the first scalar */
    leaf_kind kind;         /* of the first scalar */
    int rank;               /* -1 until the first leaf (scalar or []) */
    bool leaf_empty;        /* that first leaf was [] */
    int64_t shape[TG_MAX_DIMS]; /* -1 until the first array of that level closes */
    int64_t idx[TG_MAX_DIMS];   /* index path of the current item */
    int64_t first[TG_MAX_DIMS]; /* index path of the first scalar */
    int first_len;
    char *buf;
    size_t cap;   /* bytes */
    int64_t count; /* elements stored */
} builder;

/* "[1][0]" for the first n indices of idx, or n zeros when idx is NULL. */
static const char *path_str(const int64_t *idx, int n, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < n && k + 24 < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "[%lld]", idx ? (long long)idx[i] : 0LL);
    return buf;
}

static tg_status ragged_count(const builder *b, int level, size_t at, int64_t count)
{
    char a[256], z[256];
    return fail("ragged array at offset %zu: element %s has %lld items but element %s has %lld", at,
                path_str(b->idx, level, a, sizeof a), (long long)count,
                path_str(NULL, level, z, sizeof z), (long long)b->shape[level]);
}

/* An array at `level` where the first leaf says a scalar (or nothing) goes. */
static tg_status ragged_array(const builder *b, int level, size_t at)
{
    char a[256], z[256];
    if (b->leaf_empty)
        return fail("ragged array at offset %zu: element %s is not empty but element %s is", at,
                    path_str(b->idx, level - 1, a, sizeof a), path_str(NULL, b->rank - 1, z, sizeof z));
    return fail("ragged array at offset %zu: element %s is an array but element %s is %s", at,
                path_str(b->idx, level, a, sizeof a), path_str(NULL, b->rank, z, sizeof z),
                b->kind == K_BOOL ? "a boolean" : "a number");
}

static tg_status ragged_scalar(const builder *b, int level, size_t at, leaf_kind k)
{
    char a[256], z[256];
    return fail("ragged array at offset %zu: element %s is %s but element %s is an array", at,
                path_str(b->idx, level, a, sizeof a), k == K_BOOL ? "a boolean" : "a number",
                path_str(NULL, level, z, sizeof z));
}

/* Checks the scalar's kind against the first one; the first decides the dtype. */
static tg_status leaf_kind_check(builder *b, int level, size_t at, leaf_kind k)
{
    if (b->kind == k)
        return TG_OK;
    if (b->kind == K_NONE) {
        b->kind = k;
        b->first_len = level;
        memcpy(b->first, b->idx, sizeof b->first);
        if (b->want >= 0)
            b->dt = (tg_dtype)b->want;
        else if (k == K_BOOL)
            b->dt = TG_BOOL;
        else
            b->dt = b->hint >= 0 ? (tg_dtype)b->hint : tg_default_float;
        return TG_OK;
    }
    char a[256], z[256];
    return fail("array mixes booleans and numbers: element %s at offset %zu is %s but element %s is %s",
                path_str(b->idx, level, a, sizeof a), at, k == K_BOOL ? "a boolean" : "a number",
                path_str(b->first, b->first_len, z, sizeof z),
                b->kind == K_BOOL ? "a boolean" : "a number");
}

static void *slot(builder *b)
{
    size_t sz = tg_dtype_size(b->dt), need = (size_t)(b->count + 1) * sz;
    if (need > b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 256;
        char *nb = tg_realloc(b->buf, ncap);
        if (!nb)
            return NULL; /* b->buf is still ours to free */
        b->buf = nb;
        b->cap = ncap;
    }
    return b->buf + (size_t)b->count * sz;
}

/* Stores a number token in the builder's dtype. */
static tg_status store_number(builder *b, const jnum *n)
{
    void *d = slot(b);
    double v;
    if (!d)
        return TG_ERESOURCE;
    switch (b->dt) {
    case TG_FLOAT32: return num_to_f32(b->p, n, d);
    case TG_FLOAT64: return num_to_f64(b->p, n, d, false);
    case TG_INT64: return num_to_i64(b->p, n, d);
    default:
        if (num_to_f64(b->p, n, &v, true) != TG_OK)
            return TG_EINPUT;
        *(bool *)d = v != 0;
        return TG_OK;
    }
}

static tg_status store_double(builder *b, double v, size_t at, const char *text)
{
    void *d = slot(b);
    if (!d)
        return TG_ERESOURCE;
    switch (b->dt) {
    case TG_FLOAT32: *(float *)d = (float)v; return TG_OK;
    case TG_FLOAT64: *(double *)d = v; return TG_OK;
    case TG_BOOL: *(bool *)d = v != 0; return TG_OK;
    default:
        if (!(v >= -0x1p63 && v < 0x1p63)) /* NaN, infinite or beyond int64 */
            return fail("\"%s\" at offset %zu cannot be stored in an int64 tensor", text, at);
        *(int64_t *)d = (int64_t)v;
        return TG_OK;
    }
}

/* "NaN", "Infinity" or "-Infinity" where a number belongs. */
static tg_status scan_quoted_number(builder *b, int level)
{
    jp *p = b->p;
    size_t at = p->pos;
    char s[16];
    jstr o = {s, sizeof s, 0, false};
    if (scan_string(p, &o) != TG_OK)
        return TG_EINPUT;
    double v = !strcmp(s, "NaN") ? NAN : !strcmp(s, "Infinity") ? INFINITY
             : !strcmp(s, "-Infinity") ? -INFINITY : 0;
    if (v == 0 || o.len >= sizeof s || o.nul) {
        char d[96];
        return fail("expected a number at offset %zu, found %s (only \"NaN\", \"Infinity\" and "
                    "\"-Infinity\" may be quoted)", at, describe(p, at, d, sizeof d));
    }
    if (leaf_kind_check(b, level, at, K_NUMBER) != TG_OK || store_double(b, v, at, s) != TG_OK)
        return TG_EINPUT;
    b->count++;
    return TG_OK;
}

static tg_status parse_scalar(builder *b, int level)
{
    jp *p = b->p;
    size_t at = p->pos;
    int c = peek(p), which;
    jnum n;
    if (c == '-' || is_digit(c)) {
        if (scan_number(p, &n) != TG_OK || leaf_kind_check(b, level, at, K_NUMBER) != TG_OK ||
            store_number(b, &n) != TG_OK)
            return tg_errcode();
    } else if (c == '"') {
        return scan_quoted_number(b, level);
    } else if (c == 't' || c == 'f') {
        if (scan_literal(p, &which) != TG_OK)
            return TG_EINPUT;
        if (leaf_kind_check(b, level, at, K_BOOL) != TG_OK || store_double(b, which, at, "") != TG_OK)
            return tg_errcode();
    } else if (c == '+' || c == '.') {
        n.start = at;
        return bad_number(p, &n, c == '+' ? "a number may not start with '+'"
                                          : "a digit must come before the decimal point");
    } else if (is_alpha(c) && !starts_with(p, at, "null")) {
        return bad_word(p);
    } else {
        return expected(p, "a number");
    }
    b->count++;
    return TG_OK;
}

static tg_status parse_item(builder *b, int level);

/* An array whose items have path length level+1. */
static tg_status parse_array(builder *b, int level)
{
    jp *p = b->p;
    size_t at = p->pos;
    int64_t count = 0;
    p->pos++;
    skip_ws(p);
    if (peek(p) == ']') {
        p->pos++;
        if (b->rank < 0) {
            b->rank = level + 1;
            b->leaf_empty = true;
        }
    } else {
        for (;;) {
            b->idx[level] = count;
            if (parse_item(b, level + 1) != TG_OK)
                return TG_EINPUT;
            count++;
            if (after_item(p, ']', "',' or ']' after an array element") != TG_OK)
                return TG_EINPUT;
            if (peek(p) == ']') {
                p->pos++;
                break;
            }
        }
    }
    if (b->shape[level] >= 0 && b->shape[level] != count)
        return ragged_count(b, level, at, count);
    b->shape[level] = count;
    return TG_OK;
}

/* One item whose index path has `level` entries (the top value: 0). */
static tg_status parse_item(builder *b, int level)
{
    jp *p = b->p;
    skip_ws(p);
    int c = peek(p);
    if (c == '[') {
        if (b->rank >= 0 && level >= b->rank)
            return ragged_array(b, level, p->pos);
        if (level >= TG_MAX_DIMS)
            return fail("arrays nested more than %d deep at offset %zu: the rank limit is %d dimensions "
                        "(TG_MAX_DIMS)", TG_MAX_DIMS, p->pos, TG_MAX_DIMS);
        return parse_array(b, level);
    }
    bool scalar = c == '-' || is_digit(c) || c == '"' || c == 't' || c == 'f';
    if (b->rank >= 0 && level != b->rank && scalar)
        return ragged_scalar(b, level, p->pos, c == 't' || c == 'f' ? K_BOOL : K_NUMBER);
    tg_status st = parse_scalar(b, level);
    if (st != TG_OK)
        return st;
    if (b->rank < 0)
        b->rank = level;
    return TG_OK;
}

/* Parses data (a scalar or nested arrays) at p->pos into a tensor.
 * shape_ndim >= 0 gives the shape to take (element counts must agree). */
static tg_tensor *parse_data(jp *p, int want, int hint, int shape_ndim, const int64_t *shape)
{
    builder b = {.p = p, .want = want, .hint = hint, .rank = -1};
    tg_tensor *t = NULL;
    for (int i = 0; i < TG_MAX_DIMS; i++)
        b.shape[i] = -1;
    size_t at = p->pos;
    if (parse_item(&b, 0) != TG_OK)
        goto done;
    if (b.kind == K_NONE) /* only empty arrays: as torch.tensor([]) */
        b.dt = want >= 0 ? (tg_dtype)want : hint >= 0 ? (tg_dtype)hint : tg_default_float;
    int64_t numel;
    if (tg_shape_check(b.rank, b.shape, &numel) != TG_OK)
        goto done;
    if (shape_ndim >= 0) {
        int64_t want_n;
        char s[400];
        if (tg_shape_check(shape_ndim, shape, &want_n) != TG_OK)
            goto done;
        if (want_n != numel) {
            fail("the data at offset %zu has %lld elements but \"shape\" %s needs %lld", at,
                 (long long)numel, tg_shape_str_raw(shape_ndim, shape, s, sizeof s), (long long)want_n);
            goto done;
        }
        t = tg_empty(b.dt, shape_ndim, shape);
    } else {
        t = tg_empty(b.dt, b.rank, b.shape);
    }
    if (t && numel)
        memcpy(tg_data(t), b.buf, (size_t)numel * tg_dtype_size(b.dt));
done:
    tg_free(b.buf);
    return t;
}

/* An object's key or name, a string, into o; what: what the error
 * says was expected otherwise. */
static tg_status scan_key(jp *p, jstr *o, const char *what)
{
    if (peek(p) != '"')
        return expected(p, what);
    return scan_string(p, o) == TG_OK ? TG_OK : TG_EINPUT;
}

/* The ':' after a key, and the white space around it. */
static tg_status colon(jp *p, const char *what)
{
    skip_ws(p);
    if (peek(p) != ':')
        return expected(p, what);
    p->pos++;
    skip_ws(p);
    return TG_OK;
}

/* ---- skipping a value (checked, not stored) ---- */
static tg_status skip_value(jp *p);

static tg_status skip_members(jp *p, bool object)
{
    char close = object ? '}' : ']';
    if (enter(p) != TG_OK)
        return TG_EINPUT;
    p->pos++;
    skip_ws(p);
    if (peek(p) == close) {
        p->pos++;
        p->depth--;
        return TG_OK;
    }
    for (;;) {
        skip_ws(p);
        if (object) {
            jstr o = {0};
            if (scan_key(p, &o, "a key (a string)") != TG_OK || colon(p, "':' after the key") != TG_OK)
                return TG_EINPUT;
        }
        if (skip_value(p) != TG_OK || after_item(p, close, object ? "',' or '}'" : "',' or ']'") != TG_OK)
            return TG_EINPUT;
        if (peek(p) == close)
            break;
    }
    p->pos++;
    p->depth--;
    return TG_OK;
}

static tg_status skip_value(jp *p)
{
    jnum n;
    jstr o = {0};
    int which;
    skip_ws(p);
    int c = peek(p);
    if (c == '{' || c == '[')
        return skip_members(p, c == '{');
    if (c == '"')
        return scan_string(p, &o);
    if (c == '-' || is_digit(c))
        return scan_number(p, &n);
    if (c == '+' || c == '.') {
        n.start = p->pos;
        return bad_number(p, &n, c == '+' ? "a number may not start with '+'"
                                          : "a digit must come before the decimal point");
    }
    if (is_alpha(c))
        return scan_literal(p, &which);
    return expected(p, "a JSON value");
}

/* ---- the object form ---- */
enum { M_DATA, M_SHAPE, M_DTYPE, M_GRAD, M_COUNT };
static const char *const member_names[M_COUNT] = {"data", "shape", "dtype", "requires_grad"};

/* Reads the keys of a tensor object, recording where each value starts. */
static tg_status scan_tensor_object(jp *p, size_t off[M_COUNT])
{
    char key[MAX_KEY_BYTES], shown[48];
    size_t obj = p->pos;
    if (enter(p) != TG_OK)
        return TG_EINPUT;
    p->pos++;
    skip_ws(p);
    while (peek(p) != '}') {
        size_t at = p->pos;
        jstr o = {key, sizeof key, 0, false};
        if (scan_key(p, &o, "a key (a string) in the tensor object") != TG_OK)
            return TG_EINPUT;
        int m = 0;
        while (m < M_COUNT && (o.nul || o.len >= sizeof key || strcmp(key, member_names[m])))
            m++;
        if (m == M_COUNT)
            return fail("unknown key '%s' at offset %zu in the tensor object (expected data, shape, "
                        "dtype, requires_grad)", printable(shown, 41, key, strlen(key)), at);
        if (off[m] != SIZE_MAX)
            return fail("duplicate key '%s' at offset %zu in the tensor object", member_names[m], at);
        if (colon(p, "':' after the key") != TG_OK)
            return TG_EINPUT;
        off[m] = p->pos;
        if (skip_value(p) != TG_OK || after_item(p, '}', "',' or '}' in the tensor object") != TG_OK)
            return TG_EINPUT;
    }
    p->pos++;
    p->depth--;
    if (off[M_DATA] == SIZE_MAX)
        return fail("the tensor object at offset %zu has no \"data\" key (expected {\"data\": [...], "
                    "\"shape\": [...], \"dtype\": \"...\", \"requires_grad\": true|false})", obj);
    return TG_OK;
}

static tg_status parse_dtype_member(jp *p, size_t at, int *dt)
{
    char s[32];
    jstr o = {s, sizeof s, 0, false};
    tg_dtype d;
    p->pos = at;
    if (peek(p) != '"')
        return expected(p, "a dtype string for \"dtype\"");
    if (scan_string(p, &o) != TG_OK)
        return TG_EINPUT;
    if (o.len >= sizeof s || o.nul) {
        char d2[96];
        return fail("unknown dtype %s at offset %zu (expected float32, float64, int64 or bool)",
                    describe(p, at, d2, sizeof d2), at);
    }
    if (tg_dtype_parse(s, &d) != TG_OK)
        return TG_EINPUT;
    *dt = (int)d;
    return TG_OK;
}

static tg_status parse_grad_member(jp *p, size_t at, int *rg)
{
    char d[96];
    for (int v = 0; v < 2; v++) {
        const char *w = v ? "true" : "false";
        if (starts_with(p, at, w) && token_len(p, at) == strlen(w)) {
            *rg = v;
            return TG_OK;
        }
    }
    return fail("\"requires_grad\" at offset %zu must be true or false, found %s", at,
                describe(p, at, d, sizeof d));
}

static tg_status parse_shape_member(jp *p, size_t at, int *ndim, int64_t *shape)
{
    jnum n;
    int64_t numel = 1;
    p->pos = at;
    *ndim = 0;
    if (peek(p) != '[')
        return expected(p, "an array of non-negative integers for \"shape\"");
    p->pos++;
    skip_ws(p);
    if (peek(p) == ']')
        return TG_OK;
    for (;;) {
        skip_ws(p);
        size_t el = p->pos;
        if (peek(p) != '-' && !is_digit(peek(p)))
            return expected(p, "a non-negative integer in \"shape\"");
        if (*ndim == TG_MAX_DIMS)
            return fail("\"shape\" at offset %zu has more than %d dimensions (the rank limit, "
                        "TG_MAX_DIMS)", at, TG_MAX_DIMS);
        if (scan_number(p, &n) != TG_OK || num_to_i64(p, &n, &shape[*ndim]) != TG_OK)
            return TG_EINPUT;
        if (shape[*ndim] < 0)
            return fail("negative size %lld at offset %zu in \"shape\"", (long long)shape[*ndim], el);
        if (tg_mul_overflows(numel, shape[*ndim], &numel) || numel > TG_MAX_ELEMS)
            return fail("\"shape\" at offset %zu has too many elements (the limit is 2^40, "
                        "TG_MAX_ELEMS)", at);
        (*ndim)++;
        skip_ws(p);
        int c = peek(p);
        p->pos++;
        if (c == ']')
            return TG_OK;
        if (c != ',') {
            p->pos--;
            return expected(p, "',' or ']' in \"shape\"");
        }
    }
}

static tg_tensor *parse_tensor_object(jp *p, int hint, int *rg)
{
    size_t off[M_COUNT] = {SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX};
    int want = -1, ndim = -1;
    int64_t shape[TG_MAX_DIMS];
    if (scan_tensor_object(p, off) != TG_OK)
        return NULL;
    size_t end = p->pos;
    if (off[M_DTYPE] != SIZE_MAX && parse_dtype_member(p, off[M_DTYPE], &want) != TG_OK)
        return NULL;
    if (off[M_GRAD] != SIZE_MAX && parse_grad_member(p, off[M_GRAD], rg) != TG_OK)
        return NULL;
    if (off[M_SHAPE] != SIZE_MAX && parse_shape_member(p, off[M_SHAPE], &ndim, shape) != TG_OK)
        return NULL;
    p->pos = off[M_DATA];
    tg_tensor *t = parse_data(p, want, hint, ndim, shape);
    p->pos = end;
    return t;
}

/* Any tensor form at p->pos. */
static tg_tensor *parse_tensor(jp *p, int hint, int *rg)
{
    *rg = -1;
    skip_ws(p);
    if (peek(p) == '{')
        return parse_tensor_object(p, hint, rg);
    return parse_data(p, -1, hint, -1, NULL);
}

static tg_status check_start(jp *p, int dtype_hint)
{
    if (dtype_hint >= TG_NDTYPES)
        return tg_error(TG_EINPUT, "bad dtype hint %d", dtype_hint);
    if (starts_with(p, 0, "\xEF\xBB\xBF"))
        return fail("the input starts with a UTF-8 byte-order mark at offset 0, which JSON does "
                    "not allow: save it without one");
    skip_ws(p);
    if (p->pos < p->len)
        return TG_OK;
    if (p->len == 0)
        return fail("empty input: expected a JSON value (a number, an array or a tensor object)");
    return fail("only whitespace in the input: expected a JSON value (a number, an array or a "
                "tensor object)");
}

static tg_status check_end(jp *p)
{
    skip_ws(p);
    if (p->pos == p->len)
        return TG_OK;
    char d[96];
    return fail("unexpected text after the JSON value at offset %zu: %s", p->pos,
                describe(p, p->pos, d, sizeof d));
}

tg_tensor *tg_json_parse(const char *text, size_t len, int dtype_hint, int *requires_grad)
{
    jp p = {text, text ? len : 0, 0, 0};
    int rg = -1;
    if (requires_grad)
        *requires_grad = -1;
    if (check_start(&p, dtype_hint) != TG_OK)
        return NULL;
    tg_tensor *t = parse_tensor(&p, dtype_hint, &rg);
    if (t && check_end(&p) != TG_OK) {
        tg_release(t);
        return NULL;
    }
    if (t && requires_grad)
        *requires_grad = rg;
    return t;
}

/* ---- an object of named tensors ---- */
typedef struct {
    size_t name;  /* into the names arena */
    size_t key;   /* offset of the key in the text */
    size_t value; /* offset of the value */
} member;

typedef struct {
    member *m;
    size_t n, cap;
    char *names;
    size_t names_len, names_cap;
} members;

static tg_status members_add(members *ms, const char *name, size_t key, size_t value)
{
    size_t k = strlen(name) + 1;
    if (ms->n == ms->cap) {
        size_t ncap = ms->cap ? ms->cap * 2 : 16;
        member *nm = tg_realloc(ms->m, ncap * sizeof *nm);
        if (!nm)
            return TG_ERESOURCE;
        ms->m = nm;
        ms->cap = ncap;
    }
    while (ms->names_len + k > ms->names_cap) {
        size_t ncap = ms->names_cap ? ms->names_cap * 2 : 256;
        char *nn = tg_realloc(ms->names, ncap);
        if (!nn)
            return TG_ERESOURCE;
        ms->names = nn;
        ms->names_cap = ncap;
    }
    memcpy(ms->names + ms->names_len, name, k);
    ms->m[ms->n++] = (member){ms->names_len, key, value};
    ms->names_len += k;
    return TG_OK;
}

/* The member named aside->name: where its value lies, not a tensor. */
static tg_status set_aside(jp *p, tg_json_aside *aside, size_t at)
{
    char shown[48];
    if (aside->found)
        return fail("duplicate name '%s' at offset %zu",
                    printable(shown, 41, aside->name, strlen(aside->name)), at);
    aside->start = p->pos;
    p->depth = 1;
    if (skip_value(p) != TG_OK)
        return TG_EINPUT;
    aside->end = p->pos;
    aside->found = true;
    return TG_OK;
}

/* Pass 1: the names and where their values start; the syntax is checked. */
static tg_status scan_named(jp *p, members *ms, tg_json_aside *aside)
{
    char name[MAX_KEY_BYTES];
    if (p->pos == 0 && tg_is_zip(p->s, p->len))
        return tg_error(TG_EINPUT, TG_NPZ_REFUSED);
    if (peek(p) != '{')
        return expected(p, "an object mapping names to tensors");
    p->pos++;
    skip_ws(p);
    while (peek(p) != '}') {
        size_t at = p->pos;
        jstr o = {name, sizeof name, 0, false};
        if (scan_key(p, &o, "a name (a string)") != TG_OK)
            return TG_EINPUT;
        if (o.len >= sizeof name || o.nul)
            return fail("name at offset %zu is %s", at,
                        o.nul ? "not allowed to contain \\u0000" : "too long (the limit is 255 bytes)");
        if (colon(p, "':' after the name") != TG_OK)
            return TG_EINPUT;
        if (aside && !strcmp(name, aside->name)) {
            if (set_aside(p, aside, at) != TG_OK)
                return TG_EINPUT;
        } else {
            if (members_add(ms, name, at, p->pos) != TG_OK)
                return TG_ERESOURCE;
            p->depth = 1;
            if (skip_value(p) != TG_OK)
                return TG_EINPUT;
        }
        if (after_item(p, '}', "',' or '}'") != TG_OK)
            return TG_EINPUT;
    }
    p->pos++;
    p->depth = 0;
    return check_end(p);
}

static const members *sort_ctx; /* qsort has no context argument */
static int by_name_then_offset(const void *a, const void *b)
{
    const member *x = &sort_ctx->m[*(const size_t *)a], *y = &sort_ctx->m[*(const size_t *)b];
    int c = strcmp(sort_ctx->names + x->name, sort_ctx->names + y->name);
    return c ? c : (x->key > y->key) - (x->key < y->key);
}

/* Duplicate names, found by sorting (no quadratic scan of a big file). */
static tg_status check_duplicates(const members *ms)
{
    if (ms->n < 2)
        return TG_OK;
    size_t *order = tg_malloc(ms->n * sizeof *order);
    tg_status st = TG_OK;
    char shown[48];
    if (!order)
        return TG_ERESOURCE;
    for (size_t i = 0; i < ms->n; i++)
        order[i] = i;
    sort_ctx = ms;
    qsort(order, ms->n, sizeof *order, by_name_then_offset);
    for (size_t i = 1; i < ms->n && st == TG_OK; i++) {
        const member *a = &ms->m[order[i - 1]], *b = &ms->m[order[i]];
        const char *na = ms->names + a->name;
        if (!strcmp(na, ms->names + b->name))
            st = fail("duplicate name '%s' at offset %zu (first given at offset %zu)",
                      printable(shown, 41, na, strlen(na)), b->key, a->key);
    }
    tg_free(order);
    return st;
}

tg_status tg_json_parse_named(const char *text, size_t len, int dtype_hint,
                              int (*cb)(const char *name, tg_tensor *t, int requires_grad, void *ctx),
                              void *ctx)
{
    return tg_json_parse_named_aside(text, len, dtype_hint, NULL, cb, ctx);
}

tg_status tg_json_parse_named_aside(const char *text, size_t len, int dtype_hint, tg_json_aside *aside,
                                    int (*cb)(const char *name, tg_tensor *t, int requires_grad, void *ctx),
                                    void *ctx)
{
    jp p = {text, text ? len : 0, 0, 0};
    members ms = {0};
    tg_status st = check_start(&p, dtype_hint);
    if (aside)
        aside->found = false;
    if (st == TG_OK)
        st = scan_named(&p, &ms, aside);
    if (st == TG_OK)
        st = check_duplicates(&ms);
    for (size_t i = 0; i < ms.n && st == TG_OK; i++) {
        int rg;
        p.pos = ms.m[i].value;
        p.depth = 1;
        tg_tensor *t = parse_tensor(&p, dtype_hint, &rg);
        if (!t)
            st = tg_errcode() ? tg_errcode() : TG_EINPUT;
        else
            st = (tg_status)cb(ms.names + ms.m[i].name, t, rg, ctx);
    }
    tg_free(ms.m);
    tg_free(ms.names);
    return st;
}
