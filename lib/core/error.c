/* error.c -- the one place errors are recorded (tg-formats(5), EXIT STATUS). */
#define _GNU_SOURCE /* vasprintf */
#include "core/core.h"
#include <stdio.h>
#include <stdlib.h>
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

/* ---- warnings ---- */
static tg_warning_fn warn_fn;
static void *warn_data;

void tg_set_warning_handler(tg_warning_fn fn, void *data)
{
    warn_fn = fn;
    warn_data = data;
}

void tg_vwarn(const char *fmt, va_list ap)
{
    if (!warn_fn)
        return;
    char *msg;
    if (vasprintf(&msg, fmt, ap) < 0)
        return; /* out of memory: the warning is lost, the work goes on */
    for (char *p = msg; *p; p++) /* one line, as errors */
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    warn_fn(msg, warn_data);
    free(msg);
}

void tg_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tg_vwarn(fmt, ap);
    va_end(ap);
}
