/* c_locale.c -- numbers read and written the same in every locale.
 *
 * strtod, strtof and printf's %e/%g/%a follow LC_NUMERIC: a program that
 * calls setlocale(LC_ALL, "") under de_DE would read "1.5" as 1 (strtod
 * stops at the '.') and write 1.5 as "1,5".  JSON, .npy headers, the
 * expression language and generated C code all want the C locale's '.',
 * so the library converts through one C locale object, made once and never
 * freed (newlocale of "C" allocates nothing in glibc).  Where it cannot be
 * made, the process's own locale is used, as before. */
#define _GNU_SOURCE /* strtod_l, strtof_l */
#include "core/core.h"
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static locale_t c_locale_obj;

static void make_c_locale(void)
{
    c_locale_obj = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static locale_t c_locale(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_c_locale);
    return c_locale_obj;
}

double tg_strtod_c(const char *s, char **end)
{
    locale_t c = c_locale();
    return c ? strtod_l(s, end, c) : strtod(s, end);
}

float tg_strtof_c(const char *s, char **end)
{
    locale_t c = c_locale();
    return c ? strtof_l(s, end, c) : strtof(s, end);
}

int tg_vsnprintf_c(char *buf, size_t n, const char *fmt, va_list ap)
{
    locale_t c = c_locale();
    locale_t old = c ? uselocale(c) : (locale_t)0; /* this thread only */
    int k = vsnprintf(buf, n, fmt, ap);
    if (old)
        uselocale(old);
    return k;
}

int tg_snprintf_c(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = tg_vsnprintf_c(buf, n, fmt, ap);
    va_end(ap);
    return k;
}
