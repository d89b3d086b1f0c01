/* tgrad_args.c -- tgrad's command line: the options, what each sets,
 * and which go together (tgrad(1)); --help's text. */
#include "tgrad.h"
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: tgrad EXPR [EXPR ...] [--at VALUE | --at NAME=VALUE ...] [--inputs FILE]\n"
    "             [--wrt NAMES] [--grad-output VALUE] [--no-grad] [--dtype DTYPE]\n"
    "             [--seed N] [--device DEV] [-o FILE] [--pretty] [--typed] [--compile]\n"
    "             [--jacobian | --hessian | --order N | --graph dot|json | --explain[=json]\n"
    "              | --check | --lines [LINES OPTIONS] | --batch[=NAMES]] [--detect-anomaly]\n"
    "       tgrad --file FILE [options]\n"
    "Evaluates EXPR (PyTorch syntax) and prints {\"value\":...,\"grad\":{...}}.\n"
    "  --at VALUE          the value of the one variable; VALUE is JSON, a .npy/.json file or -\n"
    "  --at NAME=VALUE     the value of variable NAME (repeat for several)\n"
    "  --inputs FILE       a JSON object of named values, {\"x\": 2, \"w\": [[1,2]]}\n"
    "  --lines             read one such object per line of standard input, print one result per line\n"
    "                      (blank lines skipped); its options:\n"
    "    --id KEY          copy member KEY of each line (any JSON) into its result as the first key,\n"
    "                      not as a variable\n"
    "    --keep-going      a line that fails gets {\"line\":N,\"error\":\"...\"} in its place and the run goes\n"
    "                      on; the exit status is the worst of the failed lines' (4 over 3 over 2)\n"
    "    --line-offset N   N lines came before this input: line numbers in errors count from N+1\n"
    "    --unbuffered      write each result at once (done anyway when standard input is not a file)\n"
    "  --accumulate        with several expressions: add their gradients up (backward() without\n"
    "                      zero_grad()); without it each expression prints its own result line\n"
    "  --compile           fused evaluation: elementwise programs (optionally summed) become one loop,\n"
    "                      compiled once by cc into ~/.cache/tgrad, run in cache on every core;\n"
    "                      others run as usual (TG_JIT=0: no compiler, the same numbers)\n"
    "  --batch[=NAMES]     vmap: dim 0 of every variable (or of NAMES) indexes points; one\n"
    "                      vectorised pass gives each point's value and gradient (vmap(grad(f)))\n"
    "    --jsonl           one line per point instead, {\"value\":V,\"grad\":{\"x\":G}} as --lines prints it\n"
    "  -f, --file FILE     read the expression (statements, one per line) from FILE, - for stdin;\n"
    "                      a .py file (or Python statements) is a PyTorch program (tg-expr(5))\n"
    "  --wrt NAMES         differentiate only these (comma-separated); default: every float variable\n"
    "  --grad-output VALUE the upstream gradient for a non-scalar result (backward(gradient=...))\n"
    "  --jacobian[=fwd]    the Jacobian of the result in each variable (jacrev; fwd: jacfwd), key \"jacobian\"\n"
    "  --jvp NAME=TANGENT  forward mode: the Jacobian times the tangents (zero where not given), key \"jvp\"\n"
    "  --hessian           the Hessian of a scalar result, blocks per pair of variables, key \"hessian\"\n"
    "  --order N           the N-th derivative of a scalar function of one scalar, key \"derivative\"\n"
    "  --graph dot|json    print the computational graph (Graphviz DOT or JSON) instead\n"
    "  --graph-values      with --graph: each node's value and gradient too\n"
    "  --explain[=json]    walk the chain rule node by node: forward values, then the backward pass\n"
    "  --check             compare the gradient with finite differences in float64 (exit 1 if not)\n"
    "  --detect-anomaly    a NaN or infinity produced anywhere is an error naming the op (status 3)\n"
    "  --no-grad           evaluate only, build no graph (torch.no_grad)\n"
    "  --dtype DTYPE       float32 (default) or float64 for JSON numbers and literals\n"
    "  --seed N            seed for rand/randn in the expression\n"
    "  --device DEV        cpu, cuda or auto\n"
    "  -o, --out FILE      write the value to FILE (.npy or .json; - is stdout) instead of\n"
    "                      printing it; the JSON names the file, the gradients are printed\n"
    "  --out-dir DIR       write DIR/value.npy and DIR/grad_NAME.npy; the JSON names the files\n"
    "  --pretty            indent the output object\n"
    "  --typed             print each tensor as {\"data\":...,\"shape\":...,\"dtype\":...}\n"
    "  --plot LO:HI        draw f and f' over [LO,HI] (one variable), the tangent at each --at VALUE:\n"
    "                      a text chart, or with -o FILE an SVG (FILE.svg) or PNG (FILE.png, gnuplot)\n"
    "  --plot-points N     samples for --plot (201)\n"
    "  --progress          progress lines on standard error also when it is not a terminal\n"
    TG_TRAIN_USAGE
    "See tgrad(1) and tg-expr(5).\n";

/* a usage error (status 2): the message, and the status to return */
#define USAGE_ERROR(...) (tg_error(TG_EUSAGE, __VA_ARGS__), tg_cli_fail(TOOL))

enum { O_AT = 256, O_ACCUMULATE, O_JVP, O_OUT_DIR, O_COMPILE, O_BATCH, O_LINES, O_GRAPH, O_GRAPH_VALUES,
       O_EXPLAIN, O_CHECK, O_ANOMALY, O_JACOBIAN, O_HESSIAN, O_ORDER, O_INPUTS, O_WRT, O_GRAD_OUTPUT, O_NO_GRAD,
       O_DTYPE, O_SEED, O_PRETTY, O_ID, O_KEEP_GOING, O_LINE_OFFSET, O_UNBUFFERED, O_JSONL };
enum { O_PLOT = 0x7d00, O_PLOT_POINTS, O_PROGRESS }; /* (a range of their own) */
static const struct option longopts[] = {
    {"at", required_argument, 0, O_AT}, {"lines", no_argument, 0, O_LINES},
    {"id", required_argument, 0, O_ID}, {"keep-going", no_argument, 0, O_KEEP_GOING},
    {"line-offset", required_argument, 0, O_LINE_OFFSET}, {"unbuffered", no_argument, 0, O_UNBUFFERED},
    {"batch", optional_argument, 0, O_BATCH}, {"jsonl", no_argument, 0, O_JSONL},
    {"compile", no_argument, 0, O_COMPILE},
    {"out-dir", required_argument, 0, O_OUT_DIR}, {"jacobian", optional_argument, 0, O_JACOBIAN},
    {"jvp", required_argument, 0, O_JVP}, {"accumulate", no_argument, 0, O_ACCUMULATE},
    {"hessian", no_argument, 0, O_HESSIAN}, {"graph", required_argument, 0, O_GRAPH},
    {"graph-values", no_argument, 0, O_GRAPH_VALUES}, {"explain", optional_argument, 0, O_EXPLAIN},
    {"check", no_argument, 0, O_CHECK}, {"detect-anomaly", no_argument, 0, O_ANOMALY},
    {"order", required_argument, 0, O_ORDER}, {"inputs", required_argument, 0, O_INPUTS},
    {"wrt", required_argument, 0, O_WRT}, {"grad-output", required_argument, 0, O_GRAD_OUTPUT},
    {"no-grad", no_argument, 0, O_NO_GRAD}, {"dtype", required_argument, 0, O_DTYPE},
    {"seed", required_argument, 0, O_SEED}, TG_CLI_DEVICE_OPTION, {"out", required_argument, 0, 'o'},
    {"plot", required_argument, 0, O_PLOT}, {"plot-points", required_argument, 0, O_PLOT_POINTS},
    {"progress", no_argument, 0, O_PROGRESS},
    {"file", required_argument, 0, 'f'}, {"pretty", no_argument, 0, O_PRETTY}, TG_CLI_TYPED_OPTION, TG_CLI_OPTIONS, TG_TRAIN_LONGOPTS, {0, 0, 0, 0}};

/* --plot LO:HI */
static tg_status parse_interval(const char *s, tg_plot_opts *p)
{
    char *end;
    p->lo = tg_strtod_c(s, &end);
    if (end != s && *end == ':') {
        const char *hi = end + 1;
        p->hi = tg_strtod_c(hi, &end);
        if (end != hi && !*end && isfinite(p->lo) && isfinite(p->hi) && p->lo < p->hi)
            return TG_OK;
    }
    return tg_error(TG_EUSAGE, "--plot expects LO:HI, two finite numbers with LO < HI (e.g. -3:3), not '%.40s'", s);
}

/* one option: -1 to go on, else the exit status */
static int parse_option(options *o, int c, char **argv)
{
    tg_dtype dt;
    long seed;
    switch (c) {
    case O_AT: o->at[o->nat++] = optarg; break;
    case O_JVP:
        o->jvp[o->njvp++] = optarg;
        o->transform = (tg_transform_opts){TG_TRANSFORM_JVP, o->jvp, o->njvp, 0};
        break;
    case O_INPUTS: o->inputs = optarg; break;
    case O_JACOBIAN:
        if (optarg && strcmp(optarg, "rev") && strcmp(optarg, "fwd"))
            return USAGE_ERROR("--jacobian takes rev (reverse mode, the default) or fwd, not '%.40s'", optarg);
        o->jacobian = true;
        o->transform.kind = optarg && !strcmp(optarg, "fwd") ? TG_TRANSFORM_JACOBIAN_FWD : TG_TRANSFORM_JACOBIAN;
        break;
    case O_ACCUMULATE: o->run.accumulate = true; break;
    case O_LINES: o->lines = true; break;
    case O_ID: o->lines_opts.id = optarg; break;
    case O_KEEP_GOING: o->lines_opts.keep_going = true; break;
    case O_LINE_OFFSET:
        if (tg_cli_parse_long("--line-offset", optarg, 0, LONG_MAX, &o->lines_opts.line_offset) != TG_OK)
            return tg_cli_fail(TOOL);
        break;
    case O_UNBUFFERED: o->unbuffered = true; break;
    case O_BATCH: o->run.bind.batch = optarg ? optarg : ""; break;
    case O_JSONL: o->jsonl = true; break;
    case O_COMPILE: o->run.compile = o->train.compile = true; break;
    case O_OUT_DIR: o->out_dir = optarg; break;
    case O_GRAPH:
        if (strcmp(optarg, "dot") && strcmp(optarg, "json"))
            return USAGE_ERROR("--graph expects dot or json, not '%.40s'", optarg);
        o->graph = optarg;
        break;
    case O_GRAPH_VALUES: o->graph_values = true; break;
    case O_EXPLAIN:
        if (optarg && strcmp(optarg, "text") && strcmp(optarg, "json"))
            return USAGE_ERROR("--explain takes text or json, not '%.40s'", optarg);
        o->explain = optarg ? optarg : "text";
        break;
    case O_CHECK: o->check = true; break;
    case O_ANOMALY: o->run.detect_anomaly = true; break;
    case O_HESSIAN:
        o->hessian = true;
        o->transform.kind = TG_TRANSFORM_HESSIAN;
        break;
    case O_ORDER:
        if (tg_cli_parse_long("--order", optarg, 1, 64, &o->order) != TG_OK)
            return tg_cli_fail(TOOL);
        o->transform = (tg_transform_opts){.kind = TG_TRANSFORM_DERIVATIVE, .order = (int)o->order};
        break;
    case O_WRT: o->run.bind.wrt = optarg; break;
    case O_GRAD_OUTPUT: o->run.grad_output = optarg; break;
    case O_NO_GRAD: o->run.bind.no_grad = true; break;
    case O_DTYPE:
        if (tg_cli_parse_dtype(optarg, TG_FLOAT64, &dt) != TG_OK)
            return tg_cli_fail(TOOL);
        tg_default_float = dt;
        break;
    case O_SEED:
        if (tg_cli_parse_long("--seed", optarg, 0, LONG_MAX, &seed) != TG_OK)
            return tg_cli_fail(TOOL);
        tg_seed((uint64_t)seed);
        o->train.seed = (uint64_t)seed;
        break;
    case 'o': o->out = optarg; break;
    case 'f': o->file = optarg; break;
    case O_PRETTY: o->run.pretty = true; break;
    case O_PLOT:
        if (parse_interval(optarg, &o->plot_opts) != TG_OK)
            return tg_cli_fail(TOOL);
        o->plot = optarg;
        break;
    case O_PLOT_POINTS:
        if (tg_cli_parse_long("--plot-points", optarg, 2, 1000000, &o->plot_opts.points) != TG_OK)
            return tg_cli_fail(TOOL);
        break;
    case O_PROGRESS: o->progress = true; break;
    default:
        if (c >= TG_TRAIN_OPT_FIRST && c <= TG_TRAIN_OPT_LAST)
            return tg_train_option(&o->train, c, optarg) == TG_OK ? -1 : tg_cli_fail(TOOL);
        return tg_cli_common_option(TOOL, usage, c, argv);
    }
    return -1;
}

/* options that do not go together */
static tg_status check_options(const options *o)
{
    bool transform = o->jacobian || o->njvp || o->hessian || o->order;
    if (o->nmore && o->run.bind.batch && !*o->run.bind.batch) /* "--batch x EXPR": optional arguments need '=' */
        return tg_error(TG_EUSAGE, "--batch takes its names after '=' (--batch=%.40s): '%.40s' was read as an "
                        "expression", o->expr, o->expr);
    if (o->nmore && (transform || o->graph || o->explain || o->check || o->lines || o->run.bind.batch ||
                     o->run.compile || o->out || o->out_dir || o->file))
        return tg_error(TG_EUSAGE, "several expressions are evaluated one backward pass after another: that "
                        "does not combine with the transforms, --file, -o or --out-dir");
    if (!o->train.names && tg_train_options_given(&o->train))
        return tg_error(TG_EUSAGE, "the training options (--optimizer, --lr, --steps, ...) go with --train NAMES");
    if (o->train.names && (transform || o->graph || o->explain || o->check || o->lines || o->nmore || o->out ||
                           o->out_dir || o->run.bind.batch || o->run.bind.no_grad || o->run.bind.wrt ||
                           o->run.grad_output || o->run.detect_anomaly))
        return tg_error(TG_EUSAGE, "--train runs a training loop: it does not combine with the transforms, "
                        "--graph, --explain, --check, --lines, --batch, several expressions, -o, --out-dir, "
                        "--no-grad, --wrt, --grad-output or --detect-anomaly");
    if (o->run.accumulate && !o->nmore)
        return tg_error(TG_EUSAGE, "--accumulate adds the gradients of several expressions: give more than one");
    if (o->jacobian + o->hessian + (o->order > 0) + (o->graph != NULL) + (o->explain != NULL) + o->check +
            o->lines + (o->njvp > 0) > 1)
        return tg_error(TG_EUSAGE, "choose one of --jacobian, --jvp, --hessian, --order, --graph, --explain, "
                        "--check and --lines");
    if (!o->lines && (o->lines_opts.id || o->lines_opts.keep_going || o->lines_opts.line_offset || o->unbuffered))
        return tg_error(TG_EUSAGE, "--id, --keep-going, --line-offset and --unbuffered go with --lines");
    if (o->jsonl && (!o->run.bind.batch || transform || o->graph || o->explain || o->check || o->out ||
                     o->out_dir || o->run.pretty))
        return tg_error(TG_EUSAGE, "--jsonl writes the points of --batch one per line: it needs --batch, and does "
                        "not combine with the transforms, --graph, --explain, --check, -o, --out-dir or --pretty");
    if ((o->out || o->out_dir) && (transform || o->graph || o->explain || o->check))
        return tg_error(TG_EUSAGE, "-o and --out-dir write the value of a plain evaluation: they do not "
                        "combine with --jacobian, --hessian, --order, --graph, --explain or --check");
    if (o->lines && (o->out || o->out_dir || o->run.grad_output || o->run.pretty || o->run.bind.batch ||
                     o->run.compile))
        return tg_error(TG_EUSAGE, "--lines writes one compact line per input line: it does not combine with "
                        "-o, --grad-output, --pretty, --batch or --compile");
    if (transform && (o->run.bind.no_grad || o->run.grad_output))
        return tg_error(TG_EUSAGE, "--jacobian, --jvp, --hessian and --order do not combine with --no-grad or "
                        "--grad-output");
    if (o->run.detect_anomaly && (transform || o->graph || o->explain || o->nmore))
        return tg_error(TG_EUSAGE, "--detect-anomaly watches a plain evaluation, --check, --batch or --lines: it "
                        "does not combine with --jacobian, --jvp, --hessian, --order, --graph, --explain or "
                        "several expressions");
    if (o->file && o->expr)
        return tg_error(TG_EUSAGE, "give the expression either as an argument or with --file, not both");
    if (!o->file && !o->expr)
        return tg_error(TG_EUSAGE, "no expression given (usage: tgrad EXPR --at VALUE; see tgrad --help)");
    return TG_OK;
}

/* --plot draws f and f' of one variable: the modes and the options of
 * the gradients of many variables do not go with it */
static tg_status check_plot_options(options *o)
{
    if (!o->plot && o->plot_opts.points)
        return tg_error(TG_EUSAGE, "--plot-points goes with --plot");
    if (!o->plot)
        return TG_OK;
    if (o->jacobian || o->njvp || o->hessian || o->order || o->graph || o->explain || o->check || o->lines ||
        o->nmore || o->train.names || o->out_dir || o->run.bind.batch || o->run.bind.no_grad || o->run.bind.wrt ||
        o->run.grad_output || o->run.compile || o->run.detect_anomaly)
        return tg_error(TG_EUSAGE, "--plot draws f and f' of one variable: it does not combine with the transforms, "
                        "--graph, --explain, --check, --lines, --train, several expressions, --out-dir, --batch, "
                        "--no-grad, --wrt, --grad-output, --compile or --detect-anomaly");
    if (!o->plot_opts.points)
        o->plot_opts.points = 201;
    o->plot_opts.out = o->out;
    return tg_plot_check_out(o->out);
}

/* a Python program makes its own tensors and prints what it wants: it
 * takes the options that set defaults (--dtype, --seed) and
 * --pretty for the JSON of a program that prints nothing */
static tg_status check_python_options(const options *o)
{
    const char *opt = o->nat ? "--at" : o->inputs ? "--inputs" : o->nmore ? "a second expression"
                    : o->run.bind.wrt ? "--wrt" : o->run.bind.no_grad ? "--no-grad" : o->run.grad_output ? "--grad-output"
                    : o->lines ? "--lines" : o->run.bind.batch ? "--batch" : o->run.compile ? "--compile"
                    : o->out || o->out_dir ? "-o and --out-dir" : o->graph ? "--graph" : o->explain ? "--explain"
                    : o->check ? "--check" : o->jacobian || o->hessian || o->order || o->njvp ? "the transforms"
                    : o->run.detect_anomaly ? "--detect-anomaly" : NULL;
    if (!opt)
        return TG_OK;
    return tg_error(TG_EUSAGE, "%s does not apply to a Python program, which makes its own tensors "
                    "(torch.tensor(..., requires_grad=True)), calls backward() and prints (see tg-expr(5), "
                    "PYTHON PROGRAMS)", opt);
}

/* --file: the expression's text (main frees it) */
static tg_status read_expression(options *o)
{
    size_t len;
    char *text = tg_read_file(o->file, &len);
    if (!text)
        return tg_errcode();
    if (strlen(text) != len) {
        tg_free(text);
        return tg_error(TG_EINPUT, "%.200s: the expression file contains a NUL byte", o->file);
    }
    o->expr = o->text = text;
    return TG_OK;
}

int tgrad_parse_args(options *o, int argc, char **argv)
{
    int c, status;
    tg_cli_letter_operands = true;
    if (!(argv = tg_cli_begin(TOOL, &argc, argv, ":o:f:hV", longopts)))
        return tg_cli_fail(TOOL);
    if (!(o->at = calloc(2 * (size_t)argc, sizeof *o->at))) /* and o->jvp: argc entries each */
        return tg_error(TG_ERESOURCE, "out of memory"), tg_cli_fail(TOOL);
    o->jvp = o->at + argc;
    while ((c = getopt_long(argc, argv, ":o:f:hV", longopts, NULL)) != -1)
        if ((status = parse_option(o, c, argv)) >= 0)
            return status;
    if (optind < argc)
        o->expr = argv[optind++];
    o->more = argv + optind;
    o->nmore = argc - optind;
    if (check_options(o) != TG_OK || check_plot_options(o) != TG_OK || (o->file && read_expression(o) != TG_OK))
        return tg_cli_fail(TOOL);
    o->python = tg_python_program(o->file, o->expr);
    if (o->python && check_python_options(o) != TG_OK)
        return tg_cli_fail(TOOL);
    if (o->python && o->plot)
        return USAGE_ERROR("--plot draws an expression of one variable, not a Python program");
    return -1;
}

