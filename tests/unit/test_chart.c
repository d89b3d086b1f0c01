/* test_chart.c -- the axes of tgrad --plot's charts (lib/io/chart.c):
 * round ticks inside the range, labels without "-0", ranges of huge and
 * constant values, the tangent cut to the box, legends on one line, and
 * the text chart's size at its smallest. */
#include "test.h"
#include "io/chart.h"
#include <stdlib.h>

/* a chart of y and dy at n points from lo to hi (the arrays are static) */
static tg_chart chart_of(double lo, double hi, int n, double (*f)(double), double (*df)(double))
{
    static double x[64], y[64], dy[64];
    for (int i = 0; i < n; i++) {
        x[i] = lo + (hi - lo) * i / (n - 1);
        y[i] = f(x[i]);
        dy[i] = df(x[i]);
    }
    return (tg_chart){"f", "x", n, x, y, dy, 0, NULL};
}

static double huge(double x) { return x * 1e300; }
static double five(double x) { return 5; }
static double none(double x) { return NAN; }
static double ident(double x) { return x; }
static double one(double x) { return 1; }

TEST(chart_axes_round_ticks)
{
    tg_chart c = chart_of(-3, 3, 61, sin, cos);
    tg_chart_axis x, y;
    char label[64];
    CHECK(tg_chart_axes(&c, &x, &y) == TG_OK);
    CHECK(x.lo == -3 && x.hi == 3 && x.step == 1 && x.first == -3 && x.nticks == 7);
    CHECK(y.lo == -1 && y.hi == 1 && y.step == 0.5 && y.nticks == 5); /* widened to whole ticks */
    tg_chart_tick_label(label, sizeof label, &y, 2);
    CHECK(!strcmp(label, "0.0"));
    tg_chart_tick_label(label, sizeof label, &y, 0);
    CHECK(!strcmp(label, "-1.0"));
}

TEST(chart_axes_huge_constant_and_nothing_finite)
{
    tg_chart_axis x, y;
    tg_chart c = chart_of(-1, 1, 11, huge, huge);
    CHECK(tg_chart_axes(&c, &x, &y) == TG_OK);
    CHECK(isfinite(y.lo) && isfinite(y.hi) && y.lo <= -1e300 && y.hi >= 1e300 && y.nticks >= 2 && y.decimals < 0);
    c = chart_of(0, 1, 11, five, five);
    CHECK(tg_chart_axes(&c, &x, &y) == TG_OK);
    CHECK(y.lo < 5 && y.hi > 5);
    c = chart_of(0, 1, 11, none, none);
    CHECK(tg_chart_axes(&c, &x, &y) == TG_EINPUT);
    tg_error_clear();
}

TEST(chart_tangent_cut_to_the_box)
{
    tg_chart_axis x = {.lo = -3, .hi = 3}, y = {.lo = -1, .hi = 1};
    double xa, xb;
    CHECK(tg_chart_tangent_segment(&(tg_chart_tangent){0, 0, 1}, &x, &y, &xa, &xb) && xa == -1 && xb == 1);
    CHECK(tg_chart_tangent_segment(&(tg_chart_tangent){0, 0.5, 0}, &x, &y, &xa, &xb) && xa == -3 && xb == 3);
    CHECK(!tg_chart_tangent_segment(&(tg_chart_tangent){0, 2, 0}, &x, &y, &xa, &xb));
    CHECK(!tg_chart_tangent_segment(&(tg_chart_tangent){0, NAN, 1}, &x, &y, &xa, &xb));
}

TEST(chart_legend_one_line_cut_between_characters)
{
    char *s = tg_chart_one_line("a = 1\nb\t+ a", 100);
    CHECK(s && !strcmp(s, "a = 1 b + a"));
    tg_free(s);
    s = tg_chart_one_line("ab\xc3\xa9" "cd", 3); /* the cut would split the é */
    CHECK(s && !strcmp(s, "ab..."));
    tg_free(s);
}

TEST(chart_text_smallest_size)
{
    tg_chart c = chart_of(0, 1, 21, ident, one);
    tg_buf b = {0};
    CHECK(tg_chart_text(&c, 10, 3, &b) == TG_OK); /* at least 40 x 12 */
    int lines = 0, width = 0, w = 0;
    for (size_t i = 0; i < b.len; i++, w++)
        if (b.data[i] == '\n') {
            lines++;
            width = w > width ? w : width;
            w = -1;
        }
    CHECK(lines == 11 && width <= 40);
    tg_buf_free(&b);
}
