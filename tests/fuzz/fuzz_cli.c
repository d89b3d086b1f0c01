/* fuzz_cli.c -- libFuzzer target: option parsing and whole runs of tgrad,
 * tmatmul and tbroadcast.  Each tool's main is compiled in as TOOL_main
 * (-Dmain=TOOL_main; the tools leave main only by returning).
 *
 * Input: the first byte picks the tool (byte % 3: tgrad, tmatmul,
 * tbroadcast), the rest is split at '\n' into arguments, as many as there
 * are lines: many-variable programs need long lists (33 --at NAME=V and
 * --hessian are over 512 bytes; the old 512-byte, 24-argument cap kept
 * the fuzzer from the Hessian's overflow there).  The length is capped
 * by -max_len (mk/hardening.mk), and here at MAX_INPUT.
 * Standard output and the tools' messages go to /dev/null.  Arguments that would touch the file
 * system outside the run's scratch directory are refused (the input is
 * skipped): any '/', and "-" (standard input); options that write files
 * (-o, --out) or read an expression file (-f, --file) are refused too.
 * The run happens in an empty scratch directory, so relative names name
 * nothing.  --order above 3 is refused (see high_order).  FUZZ_CLI_REFUSE
 * lists more prefixes to refuse (known bugs).
 *
 * Invariants besides the sanitizers': the exit status is one of
 * tg-formats(5) EXIT STATUS (0 to 4); on failure (status 2 to 4) an error is
 * set, with a one-line message. */
#include "cli/cli.h"
#include "fuzz_common.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tgrad_main(int argc, char **argv);
int tmatmul_main(int argc, char **argv);
int tbroadcast_main(int argc, char **argv);

#define MAX_INPUT (64 * 1024)

/* Does a long option name abbreviate one of the refused ones? */
static bool refused_long(const char *a)
{
    static const char *const refused[] = {"out", "file"};
    const char *name = a + 2;
    size_t n = strcspn(name, "=");
    if (n == 0)
        return false; /* "--" */
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (!strncmp(refused[i], name, n))
            return true;
    return false;
}

/* FUZZ_CLI_REFUSE: comma-separated argument prefixes to refuse as well,
 * to go on fuzzing around a known bug until it is fixed (mk/hardening.mk) */
static bool refused_known(const char *a)
{
    const char *list = getenv("FUZZ_CLI_REFUSE");
    while (list && *list) {
        size_t n = strcspn(list, ",");
        if (n && !strncmp(a, list, n))
            return true;
        list += n + (list[n] == ',');
    }
    return false;
}

/* --order N above 3 (as "--order N", "--order=N" or an abbreviation):
 * such derivatives grow their graphs up to TG_MAX_DERIVATIVE_NODES, seconds
 * per input under the sanitizers, which would starve the fuzzing of
 * everything else (the limit itself is tested in tests/bats/hostile.bats). */
static bool high_order(const char *prev, const char *a)
{
    const char *eq = strchr(a, '=');
    size_t n = eq ? (size_t)(eq - a) : strlen(a);
    if (eq && n >= 4 && !strncmp(a, "--order", n))
        return atol(eq + 1) > 3;
    n = strlen(prev);
    return n >= 4 && !strchr(prev, '=') && !strncmp(prev, "--order", n) && atol(a) > 3;
}

static bool refused_arg(const char *a)
{
    if (strchr(a, '/') || !strcmp(a, "-") || refused_known(a))
        return true;
    size_t n = strlen(a);
    if (n >= 2 && a[n - 1] == '-' && a[n - 2] == '=') /* --at x=- */
        return true;
    if (a[0] == '-' && a[1] == '-')
        return refused_long(a);
    /* a short option cluster with o or f (an operand like -x**2 may be
     * refused too: a small loss) */
    if (a[0] == '-' && (strchr(a, 'o') || strchr(a, 'f')))
        return true;
    return false;
}

/* The scratch directory, entered at the first input (libFuzzer reads the
 * inputs named on its command line after LLVMFuzzerInitialize). */
static void enter_scratch_dir(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    char tmpl[] = "/tmp/fuzz_cli.XXXXXX";
    if (!mkdtemp(tmpl) || chdir(tmpl) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT)
        return -1;
    static const char *const tools[] = {"tgrad", "tmatmul", "tbroadcast"};
    static int (*const mains[])(int, char **) = {tgrad_main, tmatmul_main, tbroadcast_main};
    int tool = data[0] % 3;
    char *text = fuzz_strndup(data + 1, size - 1);
    if (strlen(text) != size - 1) { /* a NUL cannot be in an argument */
        free(text);
        return -1;
    }
    size_t lines = 1;
    for (const char *q = text; (q = strchr(q, '\n')); q++)
        lines++;
    char **argv = malloc((lines + 2) * sizeof *argv);
    if (!argv)
        abort();
    int argc = 0;
    argv[argc++] = (char *)tools[tool];
    for (char *p = text; p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        if (refused_arg(p) || (argc > 1 && high_order(argv[argc - 1], p))) {
            free(argv);
            free(text);
            return -1;
        }
        argv[argc++] = p;
        p = nl ? nl + 1 : NULL;
    }
    argv[argc] = NULL;
    fuzz_init();
    enter_scratch_dir();
    fuzz_reset();
    tg_set_vmap(false);
    optind = 0; /* glibc: start getopt afresh */
    opterr = 0;
    fuzz_quiet(true);
    int st = mains[tool](argc, argv);
    fflush(stdout);
    fuzz_quiet(false);
    if (st < 0 || st > 4) {
        fuzz_fail("%s exited with status %d", tools[tool], st);
    }
    if (st >= 2)
        fuzz_check_failed(tools[tool]);
    tg_cli_set_source(NULL);
    tg_set_vmap(false);
    tg_anomaly_enable(false);
    tg_json_set_typed(false);
    tg_backward_hook = NULL;
    tg_blas_set_threads(1);
    tg_seed(0);
    free(argv);
    free(text);
    return 0;
}
