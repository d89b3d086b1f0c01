/* tdevice -- the devices this machine offers (tdevice(1)).
 *   tdevice           {"devices":[{"type":"cpu",...}],"default":"cpu"}
 *   tdevice --check cuda   exit 0 when usable, 1 when not (the reason on stderr)
 *   tdevice --default      cpu or cuda, alone, for $(tdevice --default) */
#include "tg.h"
#include "cli/cli.h"
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define TOOL "tdevice"

static const char usage[] =
    "usage: tdevice [--check DEV] [--default] [--bench] [--pretty] [--help] [--version]\n"
    "Lists the devices as JSON: {\"devices\":[{\"type\":\"cpu\",...},...],\"default\":...}.\n"
    "  --check DEV   exit 0 when DEV (cpu, cuda) is usable, 1 when not, with the reason on stderr\n"
    "  --default     print the default device's name alone (cuda when usable, else cpu)\n"
    "  --bench       also measure: memory bandwidth and GEMM rate on each device\n"
    "  --pretty      indent the output\n"
    "See tdevice(1).\n";

int main(int argc, char **argv)
{
    enum { O_CHECK = 256, O_DEFAULT, O_BENCH, O_PRETTY };
    static const struct option longopts[] = {
        {"check", required_argument, 0, O_CHECK}, {"default", no_argument, 0, O_DEFAULT},
        {"bench", no_argument, 0, O_BENCH}, {"pretty", no_argument, 0, O_PRETTY}, TG_CLI_OPTIONS, {0, 0, 0, 0}};
    const char *check = NULL;
    bool dflt = false, bench = false, pretty = false;
    opterr = 0;
    int c;
    tg_cli_start(TOOL);
    argv = tg_cli_operands_last(argc, argv, ":hV", longopts, &argc);
    while ((c = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
        switch (c) {
        case O_CHECK: check = optarg; break;
        case O_DEFAULT: dflt = true; break;
        case O_BENCH: bench = true; break;
        case O_PRETTY: pretty = true; break;
        default: /* --help, --version, errors */
            return tg_cli_common_option(TOOL, usage, c, argv);
        }
    }
    if (optind < argc) {
        tg_error(TG_EUSAGE, "unexpected argument '%.40s' (see tdevice --help)", argv[optind]);
        return tg_cli_fail(TOOL);
    }
    if (check) {
        tg_device d;
        tg_status st = tg_device_parse(check, &d);
        if (st == TG_EUSAGE)
            return tg_cli_fail(TOOL);
        if (st != TG_OK) { /* the answer is no: status 1 */
            fprintf(stderr, "%s: %s\n", TOOL, tg_errmsg());
            return 1;
        }
        return 0;
    }
    if (dflt) {
        printf("%s\n", tg_cuda_unavailable_reason() ? "cpu" : "cuda");
        return tg_cli_finish_output() == TG_OK ? 0 : tg_cli_fail(TOOL);
    }
    char *json = tg_device_report(bench, pretty);
    if (!json)
        return tg_cli_fail(TOOL);
    fputs(json, stdout);
    fputc('\n', stdout);
    free(json);
    return tg_cli_finish_output() == TG_OK ? 0 : tg_cli_fail(TOOL);
}
