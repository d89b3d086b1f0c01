/* chart_svg.c -- the chart as an SVG document (chart.h): the box with
 * its grid and tick labels, f and f' as paths (broken where a value is
 * not finite), each tangent clipped to the box, a legend above.  The
 * plot's group carries its mapping (data-x, data-y: the ranges; data-box:
 * the box in pixels), so that a reader can take the numbers back. */
#include "io/chart.h"
#include <math.h>
#include <string.h>

enum { WIDTH = 720, LEFT = 72, RIGHT = 24, BOTTOM = 48, ROW = 18, PLOT_HEIGHT = 340 };
#define F_COLOR "#1f77b4"
#define DF_COLOR "#d62728"
#define TANGENT_COLOR "#2ca02c"

typedef struct {
    tg_chart_axis x, y;
    double left, top, width, height; /* the box, in pixels */
} frame;

static double px(const frame *f, double x) { return f->left + (x - f->x.lo) / (f->x.hi - f->x.lo) * f->width; }
static double py(const frame *f, double y) { return f->top + (f->y.hi - y) / (f->y.hi - f->y.lo) * f->height; }

/* text for XML: & < > " escaped, control characters and bytes beyond
 * ASCII (which may not be UTF-8) as '?' */
static void add_text(tg_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '&')
            tg_buf_printf(b, "&amp;");
        else if (c == '<')
            tg_buf_printf(b, "&lt;");
        else if (c == '>')
            tg_buf_printf(b, "&gt;");
        else if (c == '"')
            tg_buf_printf(b, "&quot;");
        else
            tg_buf_add(b, c < 0x20 || c >= 0x7f ? "?" : s, 1);
    }
}

/* v[0..n) at x[0..n) as path data: a new "M" after each gap */
static void add_curve(tg_buf *b, const frame *f, const double *x, const double *v, int64_t n)
{
    bool pen = false;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            pen = false;
            continue;
        }
        tg_buf_printf(b, "%s%.2f %.2f", pen ? " L" : i ? " M" : "M", px(f, x[i]), py(f, v[i]));
        pen = true;
    }
}

static void add_grid_and_ticks(tg_buf *b, const frame *f)
{
    char label[64];
    double bottom = f->top + f->height, right = f->left + f->width;
    tg_buf_printf(b, "<g class=\"grid\" stroke=\"#e0e0e0\">\n");
    for (int k = 0; k < f->x.nticks; k++)
        tg_buf_printf(b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", px(f, f->x.first + k * f->x.step),
                      f->top, px(f, f->x.first + k * f->x.step), bottom);
    for (int k = 0; k < f->y.nticks; k++)
        tg_buf_printf(b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", f->left,
                      py(f, f->y.first + k * f->y.step), right, py(f, f->y.first + k * f->y.step));
    tg_buf_printf(b, "</g>\n");
    if (f->y.lo < 0 && f->y.hi > 0) /* the line y = 0 */
        tg_buf_printf(b, "<line class=\"zero\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#999\"/>\n",
                      f->left, py(f, 0), right, py(f, 0));
    tg_buf_printf(b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke=\"black\"/>\n",
                  f->left, f->top, f->width, f->height);
    tg_buf_printf(b, "<g class=\"ticks\" font-size=\"11\">\n");
    for (int k = 0; k < f->x.nticks; k++) {
        tg_chart_tick_label(label, sizeof label, &f->x, k);
        tg_buf_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%s</text>\n",
                      px(f, f->x.first + k * f->x.step), bottom + 16, label);
    }
    for (int k = 0; k < f->y.nticks; k++) {
        tg_chart_tick_label(label, sizeof label, &f->y, k);
        tg_buf_printf(b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n", f->left - 6,
                      py(f, f->y.first + k * f->y.step) + 4, label);
    }
    tg_buf_printf(b, "</g>\n");
}

static void add_axis_labels(tg_buf *b, const frame *f, const char *var)
{
    tg_buf_printf(b, "<text class=\"xlabel\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", f->left + f->width / 2,
                  f->top + f->height + 38);
    add_text(b, var);
    /* above the y axis, level: renderers that turn text wrongly cannot spoil it */
    tg_buf_printf(b, "</text>\n<text class=\"ylabel\" x=\"8\" y=\"%.2f\">f(", f->top - 8);
    add_text(b, var);
    tg_buf_printf(b, "), f\xe2\x80\xb2(");
    add_text(b, var);
    tg_buf_printf(b, ")</text>\n");
}

/* the curves, tangents and tangent points (all inside the box: the
 * tangents are cut to it here, no clipPath that some renderers ignore) */
static void add_plot(tg_buf *b, const frame *f, const tg_chart *c)
{
    tg_buf_printf(b, "<g class=\"plot\" fill=\"none\" stroke-width=\"1.5\" "
                  "data-x=\"%.17g %.17g\" data-y=\"%.17g %.17g\" data-box=\"%g %g %g %g\">\n",
                  f->x.lo, f->x.hi, f->y.lo, f->y.hi, f->left, f->top, f->width, f->height);
    for (int64_t k = 0; k < c->ntangents; k++) {
        const tg_chart_tangent *t = &c->tangents[k];
        double xa, xb;
        if (tg_chart_tangent_segment(t, &f->x, &f->y, &xa, &xb))
            tg_buf_printf(b, "<path class=\"tangent\" d=\"M%.2f %.2f L%.2f %.2f\" stroke=\"" TANGENT_COLOR
                          "\" stroke-dasharray=\"6 4\"/>\n", px(f, xa), py(f, t->y + t->slope * (xa - t->x)),
                          px(f, xb), py(f, t->y + t->slope * (xb - t->x)));
    }
    tg_buf_printf(b, "<path class=\"df\" stroke=\"" DF_COLOR "\" d=\"");
    add_curve(b, f, c->x, c->dy, c->n);
    tg_buf_printf(b, "\"/>\n<path class=\"f\" stroke=\"" F_COLOR "\" d=\"");
    add_curve(b, f, c->x, c->y, c->n);
    tg_buf_printf(b, "\"/>\n");
    for (int64_t k = 0; k < c->ntangents; k++)
        if (isfinite(c->tangents[k].y) && isfinite(c->tangents[k].slope))
            tg_buf_printf(b, "<circle class=\"tangent-point\" cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\" fill=\"black\"/>\n",
                          px(f, c->tangents[k].x), py(f, c->tangents[k].y));
    tg_buf_printf(b, "</g>\n");
}

/* one legend entry at (x, y): a line in the curve's colour, then text */
static void legend_entry(tg_buf *b, double x, double y, const char *color, bool dashed)
{
    tg_buf_printf(b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"2\"%s/>\n"
                  "<text x=\"%.2f\" y=\"%.2f\">", x, y - 4, x + 24, y - 4, color,
                  dashed ? " stroke-dasharray=\"6 4\"" : "", x + 30, y);
}

/* f on the first row, then f' and the tangents two to a row */
static tg_status add_legend(tg_buf *b, const tg_chart *c)
{
    char *expr = tg_chart_one_line(c->expr, 80);
    if (!expr)
        return TG_ERESOURCE;
    tg_buf_printf(b, "<g class=\"legend\">\n");
    legend_entry(b, LEFT, ROW, F_COLOR, false);
    tg_buf_printf(b, "f(");
    add_text(b, c->var);
    tg_buf_printf(b, ") = ");
    add_text(b, expr);
    tg_buf_printf(b, "</text>\n");
    legend_entry(b, LEFT, 2 * ROW, DF_COLOR, false);
    tg_buf_printf(b, "f\xe2\x80\xb2(");
    add_text(b, c->var);
    tg_buf_printf(b, ")</text>\n");
    for (int64_t k = 0; k < c->ntangents; k++) {
        const tg_chart_tangent *t = &c->tangents[k];
        char at[32], slope[32];
        tg_chart_number(at, sizeof at, t->x);
        tg_chart_number(slope, sizeof slope, t->slope);
        int64_t slot = k + 1; /* after f' */
        legend_entry(b, LEFT + (double)(slot % 2) * 300, (double)(2 + slot / 2) * ROW, TANGENT_COLOR, true);
        tg_buf_printf(b, "tangent at %s = %s", c->var, at);
        if (isfinite(t->y) && isfinite(t->slope))
            tg_buf_printf(b, ": slope %s</text>\n", slope);
        else
            tg_buf_printf(b, ": none (f is not finite there)</text>\n");
    }
    tg_buf_printf(b, "</g>\n");
    tg_free(expr);
    return TG_OK;
}

tg_status tg_chart_svg(const tg_chart *c, tg_buf *out)
{
    frame f = {.left = LEFT, .width = WIDTH - LEFT - RIGHT, .height = PLOT_HEIGHT};
    if (tg_chart_axes(c, &f.x, &f.y) != TG_OK)
        return tg_errcode();
    int64_t legend_rows = 2 + c->ntangents / 2;
    f.top = (double)(legend_rows + 1) * ROW + 10; /* (the y axis's label above the box) */
    double height = f.top + f.height + BOTTOM;
    tg_buf_printf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n<title>", WIDTH, height, WIDTH, height);
    char *expr = tg_chart_one_line(c->expr, 200);
    if (!expr)
        return TG_ERESOURCE;
    add_text(out, expr);
    tg_free(expr);
    tg_buf_printf(out, " and its derivative in ");
    add_text(out, c->var);
    tg_buf_printf(out, "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    add_grid_and_ticks(out, &f);
    add_axis_labels(out, &f, c->var);
    add_plot(out, &f, c);
    if (add_legend(out, c) != TG_OK)
        return TG_ERESOURCE;
    tg_buf_printf(out, "</svg>\n");
    return out->failed ? tg_error(TG_ERESOURCE, "out of memory") : TG_OK;
}
