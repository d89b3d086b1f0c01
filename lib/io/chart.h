/* chart.h -- a function and its derivative drawn over an interval, with
 * tangents (tgrad --plot, tgrad(1) PLOTS): as SVG (chart_svg.c), as text
 * for a terminal (chart_text.c) or as PNG through gnuplot
 * (chart_gnuplot.c).  The axes, ticks and labels they share are
 * chart.c's.  Only numbers come in: the sampling is lib/expr/plot.c's. */
#ifndef TG_IO_CHART_H
#define TG_IO_CHART_H
#include "tg.h"

typedef struct tg_chart_tangent {
    double x, y, slope; /* y or slope not finite: no tangent there (the legend says so) */
} tg_chart_tangent;

typedef struct tg_chart {
    const char *expr;           /* f's text, for the legend (any bytes: escaped where written) */
    const char *var;            /* the variable, the x axis's label */
    int64_t n;                  /* points, at least 2, x increasing */
    const double *x, *y, *dy;   /* f and f' at x[i]; a value that is not finite is a gap */
    int64_t ntangents;
    const tg_chart_tangent *tangents;
} tg_chart;

/* One axis: the range drawn and its ticks, first + k*step for k <
 * nticks, labelled with decimals digits after the point (or %g when
 * decimals < 0: very large or small numbers). */
typedef struct tg_chart_axis {
    double lo, hi;
    double first, step;
    int nticks, decimals;
} tg_chart_axis;

/* The axes of c: x is the interval sampled, y holds every finite value of
 * f and f' (and the tangent points), widened to whole ticks.  TG_EINPUT
 * when neither f nor f' is finite anywhere. */
tg_status tg_chart_axes(const tg_chart *c, tg_chart_axis *x, tg_chart_axis *y);
/* The part of tangent t inside the axes' box, as x from *xa to *xb;
 * false when none is (or t is not finite). */
bool tg_chart_tangent_segment(const tg_chart_tangent *t, const tg_chart_axis *x, const tg_chart_axis *y,
                              double *xa, double *xb);
/* tick k's label, e.g. "-2.5" ("-0" written "0"); returns its length */
int tg_chart_tick_label(char *out, size_t cap, const tg_chart_axis *a, int k);
/* v as a short label for legends: %.4g in the C locale */
void tg_chart_number(char *out, size_t cap, double v);
/* s with control characters as spaces and at most max bytes (cut at a
 * UTF-8 boundary, "..." added): a new string for one line of a legend */
char *tg_chart_one_line(const char *s, size_t max);

/* The chart as an SVG document appended to out. */
tg_status tg_chart_svg(const tg_chart *c, tg_buf *out);
/* The chart as lines of text, width columns and height lines at most
 * (at least 40 x 12), appended to out. */
tg_status tg_chart_text(const tg_chart *c, int width, int height, tg_buf *out);
/* The chart as a PNG image drawn by gnuplot (run from PATH, never from
 * the current folder, with its own settings ignored), appended to out;
 * TG_ERESOURCE when gnuplot is not installed or fails. */
tg_status tg_chart_png(const tg_chart *c, tg_buf *out);
#endif
