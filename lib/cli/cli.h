/* cli.h -- what the tools (cmd/) and the fuzzers share besides the library
 * (cli.c): reporting an error as "tool: message", the options every tool
 * reads alike, numbers in options, writing output.  Not installed: tg.h is
 * the library's header, this one serves only the programs in this tree. */
#ifndef TG_CLI_H
#define TG_CLI_H
#include "tg.h"

/* Prints the current error as "tool: message" (with the expression's line
 * and a caret when the error has a position) and returns the exit status. */
/* first thing in main: the library's warnings printed as "TOOL: warning: ..." */
void tg_cli_start(const char *tool);
int tg_cli_fail(const char *tool);
void tg_cli_set_source(const char *src); /* the expression, for carets */
tg_status tg_cli_parse_long(const char *opt, const char *s, long lo, long hi, long *out);
/* --dtype S: float32 up to last in tg_dtype's order (float32, float64,
 * int64, bool), or a usage error that names those */
tg_status tg_cli_parse_dtype(const char *s, tg_dtype last, tg_dtype *out);
tg_status tg_cli_finish_output(void); /* flushes stdout, reports write errors */
/* Reports getopt's ':' or '?' answer as a usage error; returns status 2. */
int tg_cli_bad_option(const char *tool, int c, char **argv);
/* The options every tool reads alike: put TG_CLI_OPTIONS (--help,
 * --version) and, for a tool that computes, TG_CLI_DEVICE_OPTION in the
 * getopt_long table, and hand every answer the tool does not handle itself
 * ('h', these, ':' and '?') to tg_cli_common_option: -1 after a good
 * --device (parsing goes on), else the exit status to return at once (0
 * after --help or --version). */
enum { TG_OPT_VERSION = 0x7f00, TG_OPT_HELP, TG_OPT_DEVICE, TG_OPT_TYPED };
#define TG_CLI_OPTIONS {"version", no_argument, 0, TG_OPT_VERSION}, {"help", no_argument, 0, TG_OPT_HELP}
#define TG_CLI_DEVICE_OPTION {"device", required_argument, 0, TG_OPT_DEVICE}
/* --typed: tensors printed as the object form, with shape and dtype */
#define TG_CLI_TYPED_OPTION {"typed", no_argument, 0, TG_OPT_TYPED}
int tg_cli_common_option(const char *tool, const char *usage, int c, char **argv);
/* Prints text (--help, --version); 0, or status 4 when it cannot be written. */
int tg_cli_print(const char *tool, const char *text);
extern bool tg_cli_letter_operands; /* -x is an operand (tgrad's expressions) */
struct option;
/* argv with the operands moved after "--", so that -x**2 or -5 are operands
 * (see cli.c); the array is malloc'd and lives until exit. */
char **tg_cli_operands_last(int argc, char **argv, const char *shortopts,
                            const struct option *longopts, int *new_argc);
/* The start of a computing tool's main: TG_DEVICE read, getopt's own
 * messages off, tg_cli_start, and argv (*argc updated) as
 * tg_cli_operands_last gives it; NULL when TG_DEVICE is wrong (the error
 * is set: return tg_cli_fail(tool)). */
char **tg_cli_begin(const char *tool, int *argc, char **argv, const char *shortopts,
                    const struct option *longopts);

#endif
