/* fuzz_common.c -- see fuzz_common.h. */
#include "fuzz_common.h"
#include <fcntl.h>
#include <sanitizer/common_interface_defs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the allocator, capped ---- */
void *__real_tg_malloc(size_t n);
void *__real_tg_calloc(size_t count, size_t size);
void *__real_tg_realloc(void *p, size_t n);

static void *refuse(size_t n)
{
    tg_error(TG_ERESOURCE, "out of memory: %zu bytes requested, more than this machine has", n);
    return NULL;
}

void *__wrap_tg_malloc(size_t n) { return n > FUZZ_MAX_ALLOC ? refuse(n) : __real_tg_malloc(n); }

void *__wrap_tg_calloc(size_t count, size_t size)
{
    if (size && count > FUZZ_MAX_ALLOC / size)
        return refuse(count * size);
    return __real_tg_calloc(count, size);
}

void *__wrap_tg_realloc(void *p, size_t n) { return n > FUZZ_MAX_ALLOC ? refuse(n) : __real_tg_realloc(p, n); }

/* ---- set-up ---- */
static FILE *devnull;
static int diag_fd = -1, null_fd = -1;

FILE *fuzz_devnull(void)
{
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    return devnull;
}

void fuzz_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    null_fd = open("/dev/null", O_WRONLY);
    diag_fd = dup(STDERR_FILENO);
    if (null_fd < 0 || diag_fd < 0)
        abort();
    __sanitizer_set_report_fd((void *)(intptr_t)diag_fd);
    fflush(stdout);
    dup2(null_fd, STDOUT_FILENO);
    tg_blas_set_threads(1);
    tg_set_max_work(FUZZ_MAX_WORK);
    /* --compile's generated code would start the C compiler for every new
     * program; the fuzzers cover the code around it, through the kernels
     * (tests/bats/compiled.bats covers the generated code) */
    setenv("TG_JIT", "0", 1);
    fuzz_devnull();
}

void fuzz_quiet(bool on)
{
    fflush(stderr);
    dup2(on ? null_fd : diag_fd, STDERR_FILENO);
}

void fuzz_fail(const char *fmt, ...)
{
    fuzz_quiet(false);
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fuzz: %s\n", msg);
    fflush(stderr);
    abort();
}

void fuzz_reset(void)
{
    tg_error_clear();
    tg_set_grad_enabled(true);
    tg_default_float = TG_FLOAT32;
}

void fuzz_check_failed(const char *what)
{
    tg_status st = tg_errcode();
    const char *msg = tg_errmsg();
    if (st != TG_EUSAGE && st != TG_EINPUT && st != TG_ERESOURCE)
        fuzz_fail("%s failed with status %d (message '%s'): a failure must set status 2, 3 or 4",
                  what, (int)st, msg);
    if (!msg[0] || strchr(msg, '\n'))
        fuzz_fail("%s failed with an empty or multi-line message: '%s'", what, msg);
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}
