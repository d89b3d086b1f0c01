/* buf.c -- a growing byte buffer (tg.h's tg_buf): generated source text,
 * plan keys and the tools' results (result.c) are built in one.  A failed
 * allocation marks the buffer failed (the error cleared) and later
 * additions do nothing. */
#include "core/core.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* room for n more bytes and a terminating zero */
static bool reserve(tg_buf *b, size_t n)
{
    if (b->failed)
        return false;
    if (b->len + n < b->cap)
        return true;
    size_t cap = (b->cap ? b->cap * 2 : 1024) + n;
    char *d = tg_realloc(b->data, cap);
    if (!d) {
        tg_error_clear();
        b->failed = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void tg_buf_add(tg_buf *b, const void *p, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

/* formatted in the C locale: the numbers in generated code and keys keep
 * their '.' whatever setlocale chose */
void tg_buf_printf(tg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = tg_vsnprintf_c(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    tg_vsnprintf_c(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void tg_buf_free(tg_buf *b)
{
    tg_free(b->data);
    *b = (tg_buf){0};
}

tg_status tg_buf_write(const tg_buf *b, FILE *f)
{
    if (b->failed)
        return tg_error(TG_ERESOURCE, "out of memory");
    errno = 0;
    if (b->len && fwrite(b->data, 1, b->len, f) != b->len)
        return tg_error(TG_ERESOURCE, "cannot write the output: %s", strerror(errno ? errno : EIO));
    return TG_OK;
}
