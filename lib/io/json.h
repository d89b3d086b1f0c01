/* json.h -- what json_read.c and json_write.c share with the tools and with
 * each other, beyond tg.h's tg_json_parse / tg_json_write. */
#ifndef TG_JSON_H
#define TG_JSON_H
#include "tg.h"
#include <float.h>
#include <stdbool.h>
#include <stdint.h>

/* Parses a JSON object mapping names to tensors (the file of a --inputs
 * option), e.g. {"x": 2, "w": {"data": [[1,2]], "requires_grad": false}}.
 * Each value is any tensor form of tg_json_parse; dtype_hint as there.
 * The whole text is checked first (syntax, duplicate names), then each
 * member is parsed and cb is called in the order of the text with the name
 * (borrowed, valid during the call), a new tensor that cb consumes, and the
 * member's requires_grad (1, 0, or -1 when absent).  A non-zero return from
 * cb stops the walk and is returned (cb sets the error it wants reported).
 * Errors: TG_EINPUT for malformed text or a member that is not a tensor. */
tg_status tg_json_parse_named(const char *text, size_t len, int dtype_hint,
                              int (*cb)(const char *name, tg_tensor *t, int requires_grad,
                                        void *ctx),
                              void *ctx);

/* TG_OK when tg_json_write can write t, else the error it would give
 * (before writing anything): a NULL t, a tensor too large, an empty one
 * whose text would be absurdly long.  A writer that streams several
 * tensors checks them all first, so that a refusal leaves nothing out. */
tg_status tg_json_writable(const tg_tensor *t);

/* tg_json_write through the caller's buffer buf[0..cap), cap >= 4096,
 * and without the fflush: it allocates nothing, so that after
 * tg_json_writable only writing itself can fail */
tg_status tg_json_write_with(FILE *f, const tg_tensor *t, char *buf, size_t cap);

/* The length of the well-formed UTF-8 sequence at s (n > 0 bytes there),
 * 0 when there is none. */
size_t tg_utf8_len(const unsigned char *s, size_t n);

/* tg_json_parse_named, with the member named aside->name (if any) left
 * out of the tensors: its value is checked as JSON of any kind and its
 * text is aside->start .. aside->end (offsets in text) when aside->found.
 * aside->found is set as soon as that value has been read, so it holds
 * even when a later part of the text is malformed. */
typedef struct tg_json_aside {
    const char *name;
    bool found;
    size_t start, end;
} tg_json_aside;
tg_status tg_json_parse_named_aside(const char *text, size_t len, int dtype_hint, tg_json_aside *aside,
                                    int (*cb)(const char *name, tg_tensor *t, int requires_grad,
                                              void *ctx),
                                    void *ctx);

/* Clinger's fast path: m * 10^e computed in double is correctly rounded
 * when m and 10^e are both exact doubles (m <= 2^53, |e| <= 22), because
 * it is then one correctly rounded IEEE operation.  Returns false when the
 * fast path does not apply (use strtod).  Needs double arithmetic without
 * excess precision (FLT_EVAL_METHOD 0: x86-64 SSE, aarch64). */
static inline bool tg_dec_fast_double(uint64_t m, int e, double *out)
{
#if FLT_EVAL_METHOD == 0
    static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (m > (UINT64_C(1) << 53) || e < -22 || e > 22)
        return false;
    *out = e >= 0 ? (double)m * p10[e] : (double)m / p10[-e];
    return true;
#else
    (void)m, (void)e, (void)out;
    return false;
#endif
}

/* The same for float: m <= 2^24 and |e| <= 10 (10^10 = 2^10 * 5^10 and
 * 5^10 < 2^24, so it is an exact float). */
static inline bool tg_dec_fast_float(uint64_t m, int e, float *out)
{
#if FLT_EVAL_METHOD == 0
    static const float p10[11] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                  1e6f, 1e7f, 1e8f, 1e9f, 1e10f};
    if (m > (UINT64_C(1) << 24) || e < -10 || e > 10)
        return false;
    *out = e >= 0 ? (float)m * p10[e] : (float)m / p10[-e];
    return true;
#else
    (void)m, (void)e, (void)out;
    return false;
#endif
}

/* Is d exactly halfway between two float32 values (d in float32's normal
 * range)?  Then (float)d may round differently from the decimal d came
 * from.  Elsewhere decimal -> double -> float rounds as decimal -> float
 * does: no float midpoint can lie strictly between a decimal and its
 * nearest double, since the midpoint is itself a double. */
static inline bool tg_f32_midpoint(double d)
{
    union { double d; uint64_t u; } b = {d};
    return (b.u & ((UINT64_C(1) << 29) - 1)) == UINT64_C(1) << 28;
}

#endif
