/* chart_text.c -- the chart as text for a terminal (chart.h): a legend
 * line (two with tangents), the plot's rows with the y axis's labels on
 * the left, the x axis and its labels; height - 1 lines in all, so that
 * the prompt after it still fits.  f is drawn with '*', f' with '+', a
 * tangent with '.' and its point with 'o'; neighbouring points are joined,
 * a value that is not finite leaves a gap. */
#include "io/chart.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    tg_chart_axis x, y;
    int cols, rows; /* the plot's cells */
    char *cell;     /* rows * cols */
} grid;

static int col_of(const grid *g, double x)
{
    return (int)lround((x - g->x.lo) / (g->x.hi - g->x.lo) * (g->cols - 1));
}

static int row_of(const grid *g, double y)
{
    return (int)lround((g->y.hi - y) / (g->y.hi - g->y.lo) * (g->rows - 1));
}

static void put(grid *g, int c, int r, char ch)
{
    if (c >= 0 && c < g->cols && r >= 0 && r < g->rows)
        g->cell[(size_t)r * (size_t)g->cols + (size_t)c] = ch;
}

/* the cells from (c0, r0) to (c1, r1) (Bresenham's line) */
static void line(grid *g, int c0, int r0, int c1, int r1, char ch)
{
    int dc = abs(c1 - c0), dr = -abs(r1 - r0), sc = c0 < c1 ? 1 : -1, sr = r0 < r1 ? 1 : -1, err = dc + dr;
    for (;;) {
        put(g, c0, r0, ch);
        if (c0 == c1 && r0 == r1)
            return;
        int e2 = 2 * err;
        if (e2 >= dr) {
            err += dr;
            c0 += sc;
        }
        if (e2 <= dc) {
            err += dc;
            r0 += sr;
        }
    }
}

static void curve(grid *g, const double *x, const double *v, int64_t n, char ch)
{
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        if (i > 0 && isfinite(v[i - 1]))
            line(g, col_of(g, x[i - 1]), row_of(g, v[i - 1]), col_of(g, x[i]), row_of(g, v[i]), ch);
        else
            put(g, col_of(g, x[i]), row_of(g, v[i]), ch);
    }
}

static void draw(grid *g, const tg_chart *c)
{
    memset(g->cell, ' ', (size_t)g->rows * (size_t)g->cols);
    if (g->y.lo < 0 && g->y.hi > 0)
        memset(g->cell + (size_t)row_of(g, 0) * (size_t)g->cols, '-', (size_t)g->cols); /* y = 0 */
    for (int64_t k = 0; k < c->ntangents; k++) {
        const tg_chart_tangent *t = &c->tangents[k];
        double xa, xb;
        if (tg_chart_tangent_segment(t, &g->x, &g->y, &xa, &xb))
            line(g, col_of(g, xa), row_of(g, t->y + t->slope * (xa - t->x)), col_of(g, xb),
                 row_of(g, t->y + t->slope * (xb - t->x)), '.');
    }
    curve(g, c->x, c->dy, c->n, '+');
    curve(g, c->x, c->y, c->n, '*');
    for (int64_t k = 0; k < c->ntangents; k++)
        if (isfinite(c->tangents[k].y) && isfinite(c->tangents[k].slope))
            put(g, col_of(g, c->tangents[k].x), row_of(g, c->tangents[k].y), 'o');
}

/* b's text since line_start cut to width bytes (at a UTF-8 boundary),
 * trailing blanks dropped, and a newline */
static void end_line(tg_buf *b, size_t line_start, int width)
{
    if (b->failed)
        return;
    size_t end = b->len;
    if (end - line_start > (size_t)width) {
        end = line_start + (size_t)width;
        while (end > line_start && ((unsigned char)b->data[end] & 0xC0) == 0x80)
            end--;
    }
    while (end > line_start && b->data[end - 1] == ' ')
        end--;
    b->len = end;
    tg_buf_add(b, "\n", 1);
}

static tg_status legend(tg_buf *b, const tg_chart *c, int width)
{
    char *expr = tg_chart_one_line(c->expr, (size_t)width);
    if (!expr)
        return TG_ERESOURCE;
    size_t start = b->len;
    tg_buf_printf(b, "* f(%s) = %s   + f'(%s)", c->var, expr, c->var);
    end_line(b, start, width);
    tg_free(expr);
    if (!c->ntangents)
        return TG_OK;
    start = b->len;
    for (int64_t k = 0; k < c->ntangents; k++) {
        char at[32], slope[32];
        tg_chart_number(at, sizeof at, c->tangents[k].x);
        tg_chart_number(slope, sizeof slope, c->tangents[k].slope);
        if (isfinite(c->tangents[k].y) && isfinite(c->tangents[k].slope))
            tg_buf_printf(b, "%so. tangent at %s = %s: slope %s", k ? "   " : "", c->var, at, slope);
        else
            tg_buf_printf(b, "%sno tangent at %s = %s (not finite)", k ? "   " : "", c->var, at);
    }
    end_line(b, start, width);
    return TG_OK;
}

/* the y axis's label for each row ("" for most) */
static const char *row_label(const grid *g, int r, char *label, size_t cap)
{
    for (int k = 0; k < g->y.nticks; k++)
        if (row_of(g, g->y.first + k * g->y.step) == r) {
            tg_chart_tick_label(label, cap, &g->y, k);
            return label;
        }
    return "";
}

/* the x axis: the corner and a '+' at each tick, then the labels
 * centred under the ticks where they do not run into each other */
static void x_axis(tg_buf *b, const grid *g, int indent, int width)
{
    size_t start = b->len;
    tg_buf_printf(b, "%*s+", indent, "");
    for (int c = 0; c < g->cols; c++) {
        bool tick = false;
        for (int k = 0; k < g->x.nticks && !tick; k++)
            tick = col_of(g, g->x.first + k * g->x.step) == c;
        tg_buf_add(b, tick ? "+" : "-", 1);
    }
    end_line(b, start, width);
    start = b->len;
    int used = 0; /* columns written on the labels' line */
    for (int k = 0; k < g->x.nticks; k++) {
        char label[64];
        int len = tg_chart_tick_label(label, sizeof label, &g->x, k);
        int at = indent + 1 + col_of(g, g->x.first + k * g->x.step) - len / 2;
        if (at < 0 || at < used + (used ? 1 : 0) || at + len > width)
            continue;
        tg_buf_printf(b, "%*s%s", at - used, "", label);
        used = at + len;
    }
    end_line(b, start, width);
}

tg_status tg_chart_text(const tg_chart *c, int width, int height, tg_buf *out)
{
    grid g = {0};
    width = width < 40 ? 40 : width;
    height = height < 12 ? 12 : height;
    if (tg_chart_axes(c, &g.x, &g.y) != TG_OK)
        return tg_errcode();
    int indent = 0; /* the widest y label */
    for (int k = 0; k < g.y.nticks; k++) {
        char label[64];
        int len = tg_chart_tick_label(label, sizeof label, &g.y, k);
        indent = len > indent ? len : indent;
    }
    g.cols = width - indent - 2;
    g.rows = height - 1 - (c->ntangents ? 2 : 1) - 2;
    if (!(g.cell = tg_malloc((size_t)g.rows * (size_t)g.cols)))
        return TG_ERESOURCE;
    draw(&g, c);
    tg_status st = legend(out, c, width);
    for (int r = 0; r < g.rows && st == TG_OK; r++) {
        char label[64];
        const char *l = row_label(&g, r, label, sizeof label);
        size_t start = out->len;
        tg_buf_printf(out, "%*s%c", indent, l, *l ? '+' : '|');
        tg_buf_add(out, g.cell + (size_t)r * (size_t)g.cols, (size_t)g.cols);
        end_line(out, start, width);
    }
    if (st == TG_OK)
        x_axis(out, &g, indent, width);
    tg_free(g.cell);
    return st != TG_OK ? st : out->failed ? tg_error(TG_ERESOURCE, "out of memory") : TG_OK;
}
