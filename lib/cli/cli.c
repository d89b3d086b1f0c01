/* cli.c -- what every tool does alike: report an error as tg-formats(5)
 * EXIT STATUS says (one line "tool: message", and for an expression the
 * line with a caret under the position), parse numbers in options,
 * write output. */
#include "cli.h"
#include "internal.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *cli_src; /* the expression, for carets */

void tg_cli_set_source(const char *src) { cli_src = src; }

static void print_warning(const char *message, void *tool)
{
    fprintf(stderr, "%s: warning: %s\n", (const char *)tool, message);
}

void tg_cli_start(const char *tool) { tg_set_warning_handler(print_warning, (void *)tool); }

int tg_cli_fail(const char *tool)
{
    tg_status st = tg_errcode();
    if (st == TG_OK)
        st = tg_error(TG_EINPUT, "failed");
    int pos = tg_errpos();
    fflush(stdout);
    if (pos >= 0 && cli_src && pos <= (int)strlen(cli_src)) {
        /* the line that holds pos, and a caret under it */
        int start = pos, end = pos;
        while (start > 0 && cli_src[start - 1] != '\n')
            start--;
        while (cli_src[end] && cli_src[end] != '\n')
            end++;
        int col = pos - start;
        const char *line = cli_src + start;
        int len = end - start;
        /* keep long lines readable: show 60 columns around the caret */
        if (len > 72) {
            int from = col > 40 ? col - 40 : 0;
            line += from;
            col -= from;
            len = len - from > 72 ? 72 : len - from;
        }
        /* the caret goes under column col: "%*s" pads "" to col spaces */
        fprintf(stderr, "%s: %s (at position %d)\n  %.*s\n  %*s^\n", tool, tg_errmsg(), pos + 1, len,
                line, col, "");
    } else
        fprintf(stderr, "%s: %s\n", tool, tg_errmsg());
    return (int)st;
}

tg_status tg_cli_parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return tg_error(TG_EUSAGE, "%s expects an integer from %ld to %ld, not '%.40s'", opt, lo, hi, s);
    *out = v;
    return TG_OK;
}

tg_status tg_cli_parse_dtype(const char *s, tg_dtype last, tg_dtype *out)
{
    static const char *const names[TG_NDTYPES] = {"float32", "float32 or float64", "float32, float64 or int64",
                                                  "float32, float64, int64 or bool"};
    tg_dtype dt;
    if (tg_dtype_parse(s, &dt) == TG_OK && dt <= last) {
        *out = dt;
        return TG_OK;
    }
    tg_error_clear();
    return tg_error(TG_EUSAGE, "--dtype expects %s, not '%.40s'", names[last], s);
}

tg_status tg_cli_finish_output(void)
{
    if (fflush(stdout) != 0 || ferror(stdout))
        return tg_error(TG_ERESOURCE, "cannot write the output: %s", strerror(errno ? errno : EIO));
    return TG_OK;
}

#include <time.h>
double tg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Operands that start with '-' (an expression like -x**2, a number like
 * -5) would be taken for options by getopt.  This returns argv reordered:
 * the options (with their arguments) first, then "--", then every operand,
 * where an argument starting with '-' counts as an option only if its
 * letter is one of shortopts or it is a known --long option. */
#include <ctype.h>
#include <getopt.h>
/* tgrad's operands are expressions, which may start with -x; the other
 * tools' operands are tensors, so a -letter there is an option */
bool tg_cli_letter_operands;

static const struct option *cli_longopts; /* the tool's table, for messages */

/* The long option that "--name" or "--name=value" (a) names, as
 * getopt_long reads it: the exact name, else the one option whose name
 * starts with it; NULL when none or several (*count says how many). */
static const struct option *long_option(const struct option *longopts, const char *a, int *count)
{
    const char *eq = strchr(a + 2, '=');
    size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    const struct option *found = NULL;
    *count = 0;
    for (const struct option *o = longopts; o && o->name; o++) {
        if (strncmp(o->name, a + 2, len))
            continue;
        if (strlen(o->name) == len) { /* an exact match wins */
            *count = 1;
            return o;
        }
        if (!found || found->has_arg != o->has_arg || found->flag != o->flag || found->val != o->val)
            ++*count; /* options that read alike (aliases) count once, as in glibc */
        found = found ? found : o;
    }
    return *count == 1 ? found : NULL;
}

char **tg_cli_begin(const char *tool, int *argc, char **argv, const char *shortopts,
                    const struct option *longopts)
{
    opterr = 0; /* tg_cli_common_option reports getopt's errors */
    if (tg_device_from_env() != TG_OK)
        return NULL;
    tg_cli_start(tool);
    return tg_cli_operands_last(*argc, argv, shortopts, longopts, argc);
}

char **tg_cli_operands_last(int argc, char **argv, const char *shortopts,
                            const struct option *longopts, int *new_argc)
{
    cli_longopts = longopts;
    char **out = malloc(((size_t)argc + 2) * sizeof *out);
    char **ops = malloc(((size_t)argc + 1) * sizeof *ops);
    if (!out || !ops) {
        free(out);
        free(ops);
        *new_argc = argc;
        return argv;
    }
    int n = 0, nops = 0;
    out[n++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            while (++i < argc)
                ops[nops++] = argv[i];
            break;
        }
        if (a[0] == '-' && a[1] == '-') {
            out[n++] = argv[i];
            int count;
            const struct option *o = long_option(longopts, a, &count); /* --wr: --wrt */
            if (o && o->has_arg == required_argument && !strchr(a, '=')) {
                if (i + 1 == argc)
                    goto unchanged; /* its argument is missing: let getopt say so */
                out[n++] = argv[++i];
            }
            continue;
        }
        const char *sp = a[0] == '-' && a[1] && a[1] != ':' ? strchr(shortopts, a[1]) : NULL;
        if (!sp && a[0] == '-' && isalpha((unsigned char)a[1]) && !tg_cli_letter_operands) {
            out[n++] = argv[i]; /* -z: an unknown option, for getopt to report */
            continue;
        }
        if (sp) {
            out[n++] = argv[i];
            if (sp[1] == ':' && !a[2]) {
                if (i + 1 == argc)
                    goto unchanged;
                out[n++] = argv[++i];
            }
            continue;
        }
        ops[nops++] = argv[i];
    }
    out[n++] = "--";
    for (int k = 0; k < nops; k++)
        out[n++] = ops[k];
    out[n] = NULL;
    free(ops);
    *new_argc = n;
    static char **kept; /* lives until exit, reachable from here */
    free(kept);
    kept = out;
    return out;
unchanged:
    free(out);
    free(ops);
    *new_argc = argc;
    return argv;
}

/* getopt_long's answer for a long option a ("--name" or "--name=value"):
 * unknown, ambiguous (the candidates listed), given a value it does not
 * take, or missing its argument */
static int bad_long_option(const char *tool, int c, const char *a)
{
    const char *eq = strchr(a, '=');
    int len = eq ? (int)(eq - a) : (int)strlen(a), count;
    const struct option *o = long_option(cli_longopts, a, &count);
    if (o && c == ':')
        tg_error(TG_EUSAGE, "option --%s needs an argument (see %s --help)", o->name, tool);
    else if (o && eq && o->has_arg == no_argument)
        tg_error(TG_EUSAGE, "option '--%s' takes no value (see %s --help)", o->name, tool);
    else if (count > 1) {
        tg_buf b = {0};
        const char *sep = "";
        for (const struct option *p = cli_longopts; p->name; p++)
            if (!strncmp(p->name, a + 2, (size_t)len - 2)) {
                tg_buf_printf(&b, "%s--%s", sep, p->name);
                sep = ", ";
            }
        tg_error(TG_EUSAGE, "option '%.*s' is ambiguous: it could be %s (see %s --help)", len > 60 ? 60 : len,
                 a, b.data ? b.data : "", tool);
        tg_buf_free(&b);
    } else
        tg_error(TG_EUSAGE, "unknown option '%.*s' (see %s --help)", len > 60 ? 60 : len, a, tool);
    return tg_cli_fail(tool);
}

/* getopt_long's ':' (missing argument) and '?' (unknown option) answers,
 * worded alike for every tool; returns the exit status (2). */
int tg_cli_bad_option(const char *tool, int c, char **argv)
{
    const char *a = optind > 0 ? argv[optind - 1] : "";
    if (a[0] == '-' && a[1] == '-' && a[2] && cli_longopts)
        return bad_long_option(tool, c, a);
    if (c == ':')
        tg_error(TG_EUSAGE, "option %.60s needs an argument (see %s --help)", argv[optind - 1], tool);
    else if (optopt)
        tg_error(TG_EUSAGE, "unknown option '-%c' (see %s --help)", optopt, tool);
    else
        tg_error(TG_EUSAGE, "unknown option '%.60s' (see %s --help)", argv[optind - 1], tool);
    return tg_cli_fail(tool);
}

/* --help and --version: the text, and status 4 if it cannot be written */
int tg_cli_print(const char *tool, const char *text)
{
    fputs(text, stdout);
    return tg_cli_finish_output() == TG_OK ? 0 : tg_cli_fail(tool);
}

int tg_cli_common_option(const char *tool, const char *usage, int c, char **argv)
{
    switch (c) {
    case TG_OPT_DEVICE:
        return tg_device_select(optarg) == TG_OK ? -1 : tg_cli_fail(tool);
    case TG_OPT_TYPED:
        tg_json_set_typed(true);
        return -1;
    case 'V':
    case TG_OPT_VERSION:
        printf("%s %s\n", tool, TG_VERSION);
        return tg_cli_finish_output() == TG_OK ? 0 : tg_cli_fail(tool);
    case 'h':
    case TG_OPT_HELP: return tg_cli_print(tool, usage);
    default: /* ':' or '?' */
        return tg_cli_bad_option(tool, c, argv);
    }
}
