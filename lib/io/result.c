/* result.c -- the tools' results as JSON objects (tgrad(1), OUTPUT), each
 * built whole in a tg_buf and ended by a newline, so that a failure half
 * way leaves nothing on the output.  One writer for every mode of tgrad
 * (value and gradients, --jacobian, --jvp, --hessian, --order, --check,
 * --accumulate, --lines) and for tmatmul and tbroadcast. */
#include "internal.h"
#include "json.h"
#include <limits.h>
#include <string.h>

/* the error for a buffer that ran out of memory, or st */
static tg_status finish(tg_buf *b, tg_status st)
{
    if (st == TG_OK && b->failed)
        return tg_error(TG_ERESOURCE, "out of memory");
    return st;
}

/* s appended as it is (cheaper than tg_buf_printf: a --lines run writes
 * a result per line) */
static void text(tg_buf *b, const char *s)
{
    tg_buf_add(b, s, strlen(s));
}

/* "NAME": -- names are identifiers, so they need no escaping */
static void key(tg_buf *b, const char *name)
{
    tg_buf_add(b, "\"", 1);
    text(b, name);
    tg_buf_add(b, "\":", 2);
}

/* {"a":T,"b":T,...}, skipping NULL tensors */
static tg_status named_object(tg_buf *b, const char *const *names, tg_tensor *const *t, int n)
{
    tg_status st = TG_OK;
    tg_buf_add(b, "{", 1);
    for (int i = 0, k = 0; i < n && st == TG_OK; i++) {
        if (!t[i])
            continue;
        tg_buf_add(b, ",", k++ ? 1 : 0);
        key(b, names[i]);
        st = tg_json_write_buf(b, t[i]);
    }
    tg_buf_add(b, "}", 1);
    return st;
}

void tg_buf_json_string(tg_buf *b, const char *s)
{
    tg_buf_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            tg_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            tg_buf_printf(b, "\\u%04x", c);
        else
            tg_buf_add(b, s, 1);
    }
    tg_buf_add(b, "\"", 1);
}

tg_status tg_result_grad_with(tg_buf *b, const tg_tensor *value, const char *const *names,
                              tg_tensor *const *grads, int n, bool pretty, const char *extra,
                              tg_result_entry entry, void *ctx)
{
    const char *sep = pretty ? "\n  " : "", *space = pretty ? " " : "";
    text(b, "{");
    text(b, sep);
    text(b, "\"value\":");
    text(b, space);
    tg_status st = entry(b, NULL, value, ctx);
    if (names && st == TG_OK) {
        text(b, ",");
        text(b, sep);
        text(b, "\"grad\":");
        text(b, space);
        text(b, "{");
        bool first = true;
        for (int i = 0; i < n && st == TG_OK; i++) {
            if (!grads[i])
                continue;
            text(b, first ? "" : ",");
            text(b, pretty ? "\n    " : "");
            key(b, names[i]);
            text(b, space);
            st = entry(b, names[i], grads[i], ctx);
            first = false;
        }
        text(b, pretty && !first ? "\n  " : "");
        text(b, "}");
    }
    if (extra)
        text(b, extra);
    text(b, pretty ? "\n" : "");
    text(b, "}\n");
    return finish(b, st);
}

static tg_status inline_entry(tg_buf *b, const char *name, const tg_tensor *t, void *ctx)
{
    return tg_json_write_buf(b, t);
}

tg_status tg_result_grad(tg_buf *b, const tg_tensor *value, const char *const *names, tg_tensor *const *grads,
                         int n, bool pretty, const char *extra)
{
    return tg_result_grad_with(b, value, names, grads, n, pretty, extra, inline_entry, NULL);
}

tg_status tg_result_named(tg_buf *b, const tg_tensor *value, const char *what, const char *const *names,
                          tg_tensor *const *t, int n, const char *extra)
{
    text(b, "{\"value\":");
    tg_status st = tg_json_write_buf(b, value);
    tg_buf_printf(b, ",\"%s\":", what);
    if (st == TG_OK)
        st = named_object(b, names, t, n);
    tg_buf_printf(b, "%s}\n", extra ? extra : "");
    return finish(b, st);
}

tg_status tg_result_jvp(tg_buf *b, const tg_tensor *value, const tg_tensor *jvp)
{
    text(b, "{\"value\":");
    tg_status st = tg_json_write_buf(b, value);
    text(b, ",\"jvp\":");
    if (st == TG_OK)
        st = tg_json_write_buf(b, jvp);
    text(b, "}\n");
    return finish(b, st);
}

tg_status tg_result_hessian(tg_buf *b, const tg_tensor *value, const char *const *names, tg_tensor *const *hess,
                            int n)
{
    text(b, "{\"value\":");
    tg_status st = tg_json_write_buf(b, value);
    text(b, ",\"hessian\":{");
    for (int a = 0; a < n && st == TG_OK; a++) {
        tg_buf_add(b, ",", a ? 1 : 0);
        key(b, names[a]);
        st = named_object(b, names, hess + (size_t)a * (size_t)n, n);
    }
    text(b, "}}\n");
    return finish(b, st);
}

tg_status tg_result_values(tg_buf *b, tg_tensor *const *values, int nvalues, const char *const *names,
                           tg_tensor *const *grads, int n)
{
    tg_status st = TG_OK;
    text(b, "{\"values\":[");
    for (int k = 0; k < nvalues && st == TG_OK; k++) {
        tg_buf_add(b, ",", k ? 1 : 0);
        st = tg_json_write_buf(b, values[k]);
    }
    text(b, "],\"grad\":");
    if (st == TG_OK)
        st = named_object(b, names, grads, n);
    text(b, "}\n");
    return finish(b, st);
}

void tg_result_check(tg_buf *b, const tg_gradcheck_var *res, const char *const *names, int n, bool passed,
                     double eps, double atol, double rtol)
{
    char e[32], a[32], r[32];
    tg_format_number(e, eps, TG_FLOAT64);
    tg_format_number(a, atol, TG_FLOAT64);
    tg_format_number(r, rtol, TG_FLOAT64);
    tg_buf_printf(b, ",\"check\":{\"passed\":%s,\"eps\":%s,\"atol\":%s,\"rtol\":%s,\"variables\":{",
                  passed ? "true" : "false", e, a, r);
    for (int k = 0; k < n; k++) {
        char err[32], an[32], nu[32];
        tg_format_number(err, res[k].max_abs_error, TG_FLOAT64);
        tg_format_number(an, res[k].analytic, TG_FLOAT64);
        tg_format_number(nu, res[k].numeric, TG_FLOAT64);
        tg_buf_add(b, ",", k ? 1 : 0);
        key(b, names[k]);
        tg_buf_printf(b, "{\"passed\":%s,\"max_abs_error\":%s,\"worst\":{\"input_index\":%lld,"
                      "\"output_index\":%lld,\"analytic\":%s,\"numeric\":%s}}",
                      res[k].passed ? "true" : "false", err, (long long)res[k].worst_input,
                      (long long)res[k].worst_output, an, nu);
    }
    text(b, "}}");
}

/* s as a JSON string: quotes, backslashes and control characters escaped,
 * a byte that is not part of well-formed UTF-8 written as U+FFFD, so the
 * line stays valid JSON whatever a message holds */
static void json_string(tg_buf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    tg_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        size_t k = tg_utf8_len(u + i, n - i);
        if (u[i] == '"' || u[i] == '\\')
            tg_buf_printf(b, "\\%c", u[i]);
        else if (u[i] < 0x20)
            tg_buf_printf(b, "\\u%04x", u[i]);
        else if (k)
            tg_buf_add(b, u + i, k);
        else
            tg_buf_add(b, "\\ufffd", 6);
        i += k ? k : 1;
    }
    tg_buf_add(b, "\"", 1);
}

/* {"KEY":ID, -- an object opened with the member the line's --id gave */
static void open_with_id(tg_buf *b, const char *key, const char *id, size_t idlen)
{
    tg_buf_add(b, "{", 1);
    if (!key || !id)
        return;
    json_string(b, key);
    tg_buf_add(b, ":", 1);
    tg_buf_add(b, id, idlen);
    tg_buf_add(b, ",", 1);
}

tg_status tg_result_with_id(tg_buf *b, const char *key, const char *id, size_t idlen, const tg_buf *r)
{
    if (r->failed || r->len < 2 || r->data[0] != '{')
        return tg_error(TG_ERESOURCE, "out of memory");
    open_with_id(b, key, id, idlen);
    tg_buf_add(b, r->data + 1, r->len - 1);
    return finish(b, TG_OK);
}

tg_status tg_result_error(tg_buf *b, const char *key, const char *id, size_t idlen, long line, const char *msg)
{
    open_with_id(b, key, id, idlen);
    tg_buf_printf(b, "\"line\":%ld,\"error\":", line);
    json_string(b, msg);
    tg_buf_add(b, "}\n", 2);
    return finish(b, TG_OK);
}

/* ---- results written as they are produced ----
 * A result of 10^7 numbers is some 100 MB of text: written straight to
 * the stream, never held whole.  Everything that can fail but the writing
 * itself (a tensor that cannot be written, memory) is done before the
 * first byte, so that a refusal still leaves nothing on the output. */
#define STREAM_CHUNK ((size_t)1 << 16) /* the numbers' buffer */

typedef struct {
    FILE *f;
    char *buf;
} stream_ctx;

/* tg_result_grad_with's entry for a stream: the text built so far out to
 * the stream, then the tensor */
static tg_status stream_entry(tg_buf *b, const char *name, const tg_tensor *t, void *ctx)
{
    stream_ctx *s = ctx;
    tg_status st = tg_buf_write(b, s->f);
    b->len = 0;
    return st == TG_OK ? tg_json_write_with(s->f, t, s->buf, STREAM_CHUNK) : st;
}

/* Room in b for text bytes, taken now (b is left empty) */
static void reserve_text(tg_buf *b, size_t text)
{
    tg_buf_printf(b, "%*s", (int)text, "");
    b->len = 0;
}

tg_status tg_result_grad_write(FILE *f, const tg_tensor *value, const char *const *names,
                               tg_tensor *const *grads, int n, bool pretty, const char *extra)
{
    /* the text between two tensors: keys, brackets and indentation (at
     * most 32 bytes) and a name, or extra at the end */
    size_t text = 32 + (extra ? strlen(extra) : 0);
    tg_status st = tg_json_writable(value);
    for (int i = 0; names && i < n && st == TG_OK; i++)
        if (grads[i]) {
            st = tg_json_writable(grads[i]);
            text += 32 + strlen(names[i]);
        }
    if (st != TG_OK)
        return st;
    if (text > INT_MAX / 2)
        return tg_error(TG_ERESOURCE, "out of memory");
    stream_ctx s = {f, tg_malloc(STREAM_CHUNK)};
    tg_buf b = {0};
    if (s.buf)
        reserve_text(&b, text);
    st = !s.buf || b.failed ? tg_error(TG_ERESOURCE, "out of memory") : TG_OK;
    if (st == TG_OK)
        st = tg_result_grad_with(&b, value, names, grads, n, pretty, extra, stream_entry, &s);
    if (st == TG_OK)
        st = tg_buf_write(&b, f);
    tg_buf_free(&b);
    tg_free(s.buf);
    return st;
}

/* Row 0 of t along dim 0 as a view on the stack, for the JSON writer
 * only: it takes no reference and is not a tensor of the graph (tg_select
 * would make a graph node and two allocations per row); row i is then the
 * same with offset row_offset(t, i) */
static tg_tensor row_view(const tg_tensor *t)
{
    tg_tensor r = *t;
    r.ndim = t->ndim - 1;
    memmove(r.shape, t->shape + 1, (size_t)r.ndim * sizeof *r.shape);
    memmove(r.stride, t->stride + 1, (size_t)r.ndim * sizeof *r.stride);
    r.numel = t->shape[0] ? t->numel / t->shape[0] : 0;
    r.batched = false;
    return r;
}

static int64_t row_offset(const tg_tensor *t, int64_t i)
{
    return t->offset + i * t->stride[0];
}

/* does t have dim 0 of size npoints, as a tensor of points must? */
static tg_status check_points(const tg_tensor *t, const char *what, int64_t npoints)
{
    if (t->ndim >= 1 && t->shape[0] == npoints)
        return TG_OK;
    char s[256];
    return tg_error(TG_EINPUT, "--jsonl: %s has shape %s, not one row for each of the %lld points", what,
                    tg_shape_str(t, s, sizeof s), (long long)npoints);
}

tg_status tg_result_points(FILE *f, const tg_tensor *value, bool value_batched, const char *const *names,
                           tg_tensor *const *grads, int n, int64_t npoints)
{
    tg_status st = tg_json_writable(value);
    if (st == TG_OK && value_batched)
        st = check_points(value, "the value", npoints);
    for (int k = 0; names && k < n && st == TG_OK; k++)
        if (grads[k] && (st = tg_json_writable(grads[k])) == TG_OK)
            st = check_points(grads[k], names[k], npoints);
    if (st != TG_OK)
        return st;
    tg_tensor vrow = value_batched ? row_view(value) : *value, *rows = tg_calloc((size_t)n + 1, sizeof *rows);
    tg_tensor **row_of = tg_calloc((size_t)n + 1, sizeof *row_of);
    tg_buf line = {0};
    st = rows && row_of ? TG_OK : TG_ERESOURCE;
    for (int k = 0; names && k < n && st == TG_OK; k++)
        if (grads[k]) {
            rows[k] = row_view(grads[k]);
            row_of[k] = &rows[k];
        }
    for (int64_t i = 0; i < npoints && st == TG_OK; i++) {
        if (value_batched)
            vrow.offset = row_offset(value, i);
        for (int k = 0; names && k < n; k++)
            if (grads[k])
                rows[k].offset = row_offset(grads[k], i);
        line.len = 0;
        st = tg_result_grad(&line, &vrow, names, row_of, n, false, NULL);
        if (st == TG_OK)
            st = tg_buf_write(&line, f);
    }
    tg_buf_free(&line);
    tg_free(rows);
    tg_free(row_of);
    return st;
}
