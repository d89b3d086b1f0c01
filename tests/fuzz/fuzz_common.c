/* fuzz_common.c -- see fuzz_common.h. */
#include "fuzz_common.h"
#include <fcntl.h>
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

/* ---- tg_cli_operands_last's argv ---- */
struct option;
char **__real_tg_cli_operands_last(int argc, char **argv, const char *shortopts,
                                   const struct option *longopts, int *new_argc);
static char **cli_argv[8];
static int n_cli_argv;

char **__wrap_tg_cli_operands_last(int argc, char **argv, const char *shortopts,
                                   const struct option *longopts, int *new_argc)
{
    char **r = __real_tg_cli_operands_last(argc, argv, shortopts, longopts, new_argc);
    if (r != argv && n_cli_argv < 8)
        cli_argv[n_cli_argv++] = r;
    return r;
}

void fuzz_free_cli_argv(void)
{
    while (n_cli_argv)
        free(cli_argv[--n_cli_argv]);
}

/* ---- set-up ---- */
static FILE *devnull;

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
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
        fflush(stdout);
        dup2(fd, STDOUT_FILENO);
        close(fd);
    }
    tg_blas_set_threads(1);
    fuzz_devnull();
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
    if (st != TG_EUSAGE && st != TG_EINPUT && st != TG_ERESOURCE) {
        fprintf(stderr, "fuzz: %s failed with status %d (message '%s'): a failure must set status 2, 3 or 4\n",
                what, (int)st, msg);
        abort();
    }
    if (!msg[0] || strchr(msg, '\n')) {
        fprintf(stderr, "fuzz: %s failed with an empty or multi-line message: '%s'\n", what, msg);
        abort();
    }
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
