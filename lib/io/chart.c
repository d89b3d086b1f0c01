/* chart.c -- what the chart's three forms share (chart.h): the ranges of
 * the axes, ticks at round numbers and their labels. */
#include "io/chart.h"
#include "core/core.h"
#include <math.h>
#include <string.h>

/* a round step (1, 2 or 5 times a power of ten) near (hi - lo)/count;
 * halves first, so that the span of two huge numbers does not overflow */
static double nice_step(double lo, double hi, int count)
{
    double raw = (hi / 2 - lo / 2) / count * 2, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/* digits after the point that the ticks' labels need, or -1 for %g */
static int label_decimals(const tg_chart_axis *a)
{
    double big = fmax(fabs(a->lo), fabs(a->hi));
    if (big >= 1e7 || a->step < 1e-5)
        return -1;
    int k = (int)floor(log10(a->step) + 1e-9);
    return k < 0 ? -k : 0;
}

/* ticks inside [lo, hi] at multiples of a->step */
static void place_ticks(tg_chart_axis *a)
{
    if (!(a->step > 0) || !isfinite(a->step)) /* (a range below the smallest double's step) */
        a->step = a->hi - a->lo > 0 ? a->hi - a->lo : 1;
    a->first = ceil(a->lo / a->step - 1e-9) * a->step;
    double n = floor(a->hi / a->step - a->first / a->step + 1e-9) + 1;
    a->nticks = n < 1 ? 1 : n > 50 ? 50 : (int)n;
    a->decimals = label_decimals(a);
}

/* the smallest and largest finite value of v[0..n), into *lo, *hi */
static void finite_range(const double *v, int64_t n, double *lo, double *hi)
{
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            *lo = fmin(*lo, v[i]);
            *hi = fmax(*hi, v[i]);
        }
}

tg_status tg_chart_axes(const tg_chart *c, tg_chart_axis *x, tg_chart_axis *y)
{
    *x = (tg_chart_axis){.lo = c->x[0], .hi = c->x[c->n - 1]};
    x->step = nice_step(x->lo, x->hi, 6);
    place_ticks(x);
    double lo = INFINITY, hi = -INFINITY;
    finite_range(c->y, c->n, &lo, &hi);
    finite_range(c->dy, c->n, &lo, &hi);
    for (int64_t k = 0; k < c->ntangents; k++)
        if (isfinite(c->tangents[k].y) && isfinite(c->tangents[k].slope))
            finite_range(&c->tangents[k].y, 1, &lo, &hi);
    if (lo > hi)
        return tg_error(TG_EINPUT, "--plot: neither %.200s nor its derivative is finite anywhere on [%g, %g]",
                        c->expr, x->lo, x->hi);
    if (lo == hi) { /* a constant: some room around it */
        double d = lo ? fabs(lo) / 10 : 1;
        lo -= d;
        hi += d;
    }
    /* widened to whole ticks */
    *y = (tg_chart_axis){.step = nice_step(lo, hi, 5)};
    y->lo = floor(lo / y->step + 1e-9) * y->step;
    y->hi = ceil(hi / y->step - 1e-9) * y->step;
    if (!isfinite(y->lo) || !isfinite(y->hi)) { /* beyond the largest double: as they were */
        y->lo = lo;
        y->hi = hi;
    }
    place_ticks(y);
    return TG_OK;
}

int tg_chart_tick_label(char *out, size_t cap, const tg_chart_axis *a, int k)
{
    double v = a->first + k * a->step;
    if (fabs(v) < a->step * 1e-6)
        v = 0; /* not "-0" or "5.55e-17" */
    return a->decimals < 0 ? tg_snprintf_c(out, cap, "%.6g", v) : tg_snprintf_c(out, cap, "%.*f", a->decimals, v);
}

void tg_chart_number(char *out, size_t cap, double v)
{
    tg_snprintf_c(out, cap, "%.4g", v == 0 ? 0 : v);
}

char *tg_chart_one_line(const char *s, size_t max)
{
    size_t len = strlen(s), cut = len;
    if (len > max) {
        cut = max;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80) /* not inside a UTF-8 character */
            cut--;
    }
    char *t = tg_malloc(cut + 4);
    if (!t)
        return NULL;
    for (size_t i = 0; i < cut; i++)
        t[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    strcpy(t + cut, cut < len ? "..." : "");
    return t;
}

bool tg_chart_tangent_segment(const tg_chart_tangent *t, const tg_chart_axis *x, const tg_chart_axis *y,
                              double *xa, double *xb)
{
    if (!isfinite(t->y) || !isfinite(t->slope))
        return false;
    *xa = x->lo;
    *xb = x->hi;
    if (t->slope == 0)
        return t->y >= y->lo && t->y <= y->hi;
    double at_lo = t->x + (y->lo - t->y) / t->slope, at_hi = t->x + (y->hi - t->y) / t->slope;
    *xa = fmax(*xa, fmin(at_lo, at_hi));
    *xb = fmin(*xb, fmax(at_lo, at_hi));
    return *xa <= *xb;
}
