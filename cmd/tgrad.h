/* tgrad.h -- what tgrad's two files share: the options as parsed
 * (tgrad_args.c) and run (tgrad.c). */
#ifndef TGRAD_H
#define TGRAD_H
#include "tg.h"
#include "cli/cli.h"
#include "train/train.h"
#include "expr/plot.h"
#include "core/progress.h"
#include "core/core.h" /* tg_strtod_c */

#define TOOL "tgrad"

typedef struct {
    const char *expr;
    char **more; /* further expressions, each a backward pass */
    int nmore;
    const char **at, **jvp; /* the --at and --jvp arguments, as many as argv holds */
    int nat, njvp;
    const char *inputs, *out, *file, *out_dir, *graph, *explain;
    char *text; /* --file's */
    bool jacobian, hessian, check, graph_values, lines, unbuffered;
    bool python; /* a Python-subset program (tg_python_program) */
    bool jsonl;  /* --batch --jsonl: one line per point */
    tg_lines_opts lines_opts; /* --id, --keep-going, --line-offset; flush from --unbuffered */
    long order;
    tg_transform_opts transform; /* --jacobian, --jvp, --hessian, --order */
    tg_run_opts run;             /* --wrt, --batch, --no-grad, --grad-output, --compile, ... */
    tg_train_opts train;         /* --train and its options */
    const char *plot;            /* --plot LO:HI, as given */
    tg_plot_opts plot_opts;      /* its interval, --plot-points, -o */
    bool progress;               /* --progress: progress lines also when stderr is not a terminal */
} options;

/* argv into o (tgrad_args.c): -1 to run, else the exit status */
int tgrad_parse_args(options *o, int argc, char **argv);
#endif
