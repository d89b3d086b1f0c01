/* error.c -- the one place errors are recorded (tg-formats(5), EXIT STATUS). */
#include "tg.h"
#include <stdarg.h>
#include <string.h>

/* per thread, so that blocks evaluated in parallel (compile.c) report their own */
static _Thread_local tg_status err_code = TG_OK;
static _Thread_local char err_msg[1024];
static _Thread_local int err_pos = -1;

static tg_status set(int pos, tg_status code, const char *fmt, va_list ap)
{
    if (err_code != TG_OK) /* keep the first error: it is the root cause */
        return code;
    err_code = code;
    err_pos = pos;
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    /* one line: a message must never break the "TOOL: message" format */
    for (char *p = err_msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return code;
}

tg_status tg_error(tg_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set(-1, code, fmt, ap);
    va_end(ap);
    return code;
}

/* As tg_error, and records a position in the expression being evaluated. */
tg_status tg_error_at(int pos, tg_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set(pos, code, fmt, ap);
    va_end(ap);
    return code;
}

int tg_errpos(void) { return err_code ? err_pos : -1; }
tg_status tg_errcode(void) { return err_code; }
const char *tg_errmsg(void) { return err_msg; }

void tg_error_clear(void)
{
    err_code = TG_OK;
    err_msg[0] = 0;
    err_pos = -1;
}
