/* plot.h -- tgrad --plot (tgrad(1) PLOTS): a function of one variable
 * and its derivative sampled over an interval in one vectorised pass, and
 * drawn (io/chart.h) as text, SVG or PNG. */
#ifndef TG_EXPR_PLOT_H
#define TG_EXPR_PLOT_H
#include "tg.h"

typedef struct tg_plot_opts {
    double lo, hi;   /* the interval, lo < hi, both finite */
    long points;     /* samples, 2 or more */
    const char *out; /* NULL: a text chart to the stream; "-": SVG to it;
                        FILE.png: PNG (gnuplot); FILE.svg or FILE: SVG */
} tg_plot_opts;

/* Draws p, a function of the one variable left free after the named --at
 * arguments (NAME=VALUE: constants) and the inputs file: f and f' at
 * o->points points from o->lo to o->hi, with the tangent at each number
 * of the other --at arguments (VALUE: a number, a list, a file).  The
 * text chart fits the terminal that out is (else COLUMNS and LINES, else
 * 80 x 24).  A value that is not finite (log of a negative) is a gap. */
tg_status tg_run_plot(tg_program *p, const char *const *at, int nat, const char *inputs, const tg_plot_opts *o,
                      FILE *out);
/* TG_OK when path names a kind of file --plot writes (NULL, "-", .png,
 * .svg, no extension), else a usage error naming it */
tg_status tg_plot_check_out(const char *path);
#endif
