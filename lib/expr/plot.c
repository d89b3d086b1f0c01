/* plot.c -- tgrad --plot (plot.h): which variable is plotted, f and f'
 * at every sample and tangent point in one vmap pass (point by point
 * when the program has an op without a batching rule), then the chart
 * (io/chart.h) written as text, SVG or PNG. */
#include "expr/plot.h"
#include "expr/names.h"
#include "io/chart.h"
#include "io/io.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

typedef struct {
    tg_env consts;        /* the variables given a value (not differentiated) */
    const char **named;   /* the --at NAME=VALUE arguments */
    int nnamed;
    double *x;            /* the samples, then the tangents' points: n + ntangents */
    int64_t n, ntangents;
    double *y, *dy;       /* f and f' there */
    tg_chart_tangent *tangents;
} plot_state;

static bool named_arg(const char *arg)
{
    const char *eq = strchr(arg, '=');
    return eq && tg_is_identifier(arg, (size_t)(eq - arg));
}

/* the numbers of one --at VALUE appended to s->x after the samples */
static tg_status add_tangents(plot_state *s, const char *arg, const tg_plot_opts *o, int64_t *cap)
{
    tg_tensor *t = tg_load_arg(arg, TG_FLOAT64, NULL);
    if (!t)
        return tg_errcode();
    tg_status st = TG_OK;
    if (s->n + s->ntangents + t->numel > *cap) {
        int64_t more = s->n + s->ntangents + t->numel;
        double *x = more < INT64_MAX / 8 ? tg_realloc(s->x, (size_t)more * sizeof *x) : NULL;
        st = x ? TG_OK : tg_error(TG_ERESOURCE, "out of memory");
        s->x = x ? x : s->x;
        *cap = x ? more : *cap;
    }
    for (int64_t i = 0; i < t->numel && st == TG_OK; i++) {
        double v = tg_get(t, i);
        if (!(v >= o->lo && v <= o->hi))
            st = tg_error(TG_EUSAGE, "--at %.40s: a tangent's point must lie in the plotted interval [%g, %g], "
                          "and %g does not", arg, o->lo, o->hi, v);
        s->x[s->n + s->ntangents++] = v;
    }
    tg_release(t);
    return st;
}

/* the samples, lo to hi evenly, and the --at points; the named --at
 * arguments kept aside */
static tg_status take_points(plot_state *s, const char *const *at, int nat, const tg_plot_opts *o)
{
    int64_t cap = o->points;
    s->n = o->points;
    if (!(s->x = tg_malloc((size_t)cap * sizeof *s->x)) || !(s->named = tg_calloc((size_t)nat + 1, sizeof *s->named)))
        return TG_ERESOURCE;
    for (int64_t i = 0; i < s->n; i++)
        s->x[i] = i == s->n - 1 ? o->hi : o->lo + (o->hi - o->lo) * ((double)i / (double)(s->n - 1));
    for (int k = 0; k < nat; k++)
        if (named_arg(at[k]))
            s->named[s->nnamed++] = at[k];
        else if (add_tangents(s, at[k], o, &cap) != TG_OK)
            return tg_errcode();
    return TG_OK;
}

/* the one free variable of p that has no value yet */
static tg_status plotted_variable(tg_program *p, const tg_env *consts, const char **var)
{
    const char **names, *left[2];
    int n = tg_program_free_names_all(p, &names), nleft = 0;
    if (n < 0)
        return tg_errcode();
    for (int i = 0; i < n; i++)
        if (!tg_env_get(consts, names[i]) && nleft++ < 2)
            left[nleft - 1] = names[i];
    tg_status st = TG_OK;
    if (nleft == 1)
        *var = left[0];
    else if (n == 0)
        st = tg_error(TG_EUSAGE, "--plot draws a function of one variable, and the expression has none");
    else if (nleft == 0)
        st = tg_error(TG_EUSAGE, "--plot: every variable has a value, so none is left to plot (--at "
                      "NAME=VALUE gives a constant; a tangent's point is --at VALUE)");
    else
        st = tg_error(TG_EUSAGE, "--plot draws a function of one variable, and %d are left (%s, %s%s): give the "
                      "others with --at NAME=VALUE", nleft, left[0], left[1], nleft > 2 ? ", ..." : "");
    tg_free(names);
    return st;
}

/* env with the constants and var bound to xs[0..n): batched (vmap's
 * points), or one number when n is 0 */
static tg_status bind_points(tg_env *env, const tg_env *consts, const char *var, const double *xs, int64_t n)
{
    for (int i = 0; i < consts->n; i++)
        if (tg_env_set(env, consts->names[i], tg_ref(consts->values[i])) != TG_OK)
            return tg_errcode();
    tg_tensor *x = tg_cast(tg_from_data(TG_FLOAT64, n ? 1 : 0, &n, xs), tg_default_float);
    tg_bind_opts b = {.wrt = var, .batch = n ? var : NULL};
    return tg_env_bind(env, var, x, 1, &b);
}

/* one number per point, as the value must be (a batched value's dim 0
 * indexes the points) */
static tg_status check_scalar(const tg_tensor *v, bool batched)
{
    char shape[64];
    int skip = batched && v->batched ? 1 : 0;
    int64_t per_point = 1;
    for (int d = skip; d < v->ndim; d++)
        per_point *= v->shape[d];
    if (per_point == 1)
        return TG_OK;
    tg_shape_str_raw(v->ndim - skip, v->shape + skip, shape, sizeof shape);
    return tg_error(TG_EINPUT, "--plot draws a function whose value is one number, and at each point the "
                    "result has shape %s (sum() or mean() makes one)", shape);
}

/* f and f' at xs[0..n), each point on its own (n == 0: one point, xs[0]),
 * or all at once through vmap; into y, dy and the points as evaluated
 * (rounded to the dtype) back into xs */
static tg_status evaluate(tg_program *p, const tg_env *consts, const char *var, double *xs, int64_t n, double *y,
                          double *dy)
{
    tg_env env = {0};
    tg_status st = bind_points(&env, consts, var, xs, n);
    int nvars = env.n, which = nvars - 1; /* var is bound last */
    tg_tensor **grads = st == TG_OK ? tg_calloc((size_t)nvars, sizeof *grads) : NULL, *v = NULL;
    const tg_tensor *x = st == TG_OK ? env.values[which] : NULL;
    if (st == TG_OK && !grads)
        st = TG_ERESOURCE;
    bool old = tg_set_vmap(n > 0);
    if (st == TG_OK && !(v = tg_grad_eval(p, &env, nvars, &(tg_grad_opts){.sum_output = true}, grads)))
        st = tg_errcode();
    tg_set_vmap(old);
    if (st == TG_OK)
        st = check_scalar(v, n > 0);
    for (int64_t i = 0; i < (n ? n : 1) && st == TG_OK; i++) {
        xs[i] = tg_get(x, i);
        y[i] = tg_get(v, v->batched && n ? i : 0);
        dy[i] = grads[which] ? tg_get(grads[which], i) : NAN;
    }
    for (int i = 0; grads && i < nvars; i++)
        tg_release(grads[i]);
    tg_free(grads);
    tg_release(v);
    tg_env_free(&env);
    return st;
}

/* every point: one vectorised pass, or where the program has an op that
 * --batch does not support yet, point by point */
static tg_status sample(tg_program *p, plot_state *s, const char *var)
{
    int64_t all = s->n + s->ntangents;
    if (!(s->y = tg_malloc((size_t)all * sizeof *s->y)) || !(s->dy = tg_malloc((size_t)all * sizeof *s->dy)))
        return TG_ERESOURCE;
    if (evaluate(p, &s->consts, var, s->x, all, s->y, s->dy) == TG_OK)
        return TG_OK;
    tg_error_clear();
    for (int64_t i = 0; i < all; i++)
        if (evaluate(p, &s->consts, var, s->x + i, 0, s->y + i, s->dy + i) != TG_OK)
            return tg_errcode();
    return TG_OK;
}

/* the text chart's size: out's terminal, else COLUMNS and LINES, else 80 x 24 */
static void text_size(FILE *out, int *width, int *height)
{
    struct winsize ws;
    const char *cols = getenv("COLUMNS"), *lines = getenv("LINES");
    *width = 80;
    *height = 24;
    if (isatty(fileno(out)) && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        *width = ws.ws_col;
        *height = ws.ws_row;
    } else {
        *width = cols && atoi(cols) > 0 ? atoi(cols) : *width;
        *height = lines && atoi(lines) > 0 ? atoi(lines) : *height;
    }
    *width = *width > 1000 ? 1000 : *width;
    *height = *height > 200 ? 200 : *height;
}

static bool is_png(const char *path)
{
    size_t len = strlen(path);
    return len > 4 && !strcasecmp(path + len - 4, ".png");
}

tg_status tg_plot_check_out(const char *path)
{
    if (!path || !strcmp(path, "-") || is_png(path))
        return TG_OK;
    const char *base = strrchr(path, '/'), *dot = strrchr(base ? base + 1 : path, '.');
    if (!dot || dot == (base ? base + 1 : path) || !strcasecmp(dot, ".svg"))
        return TG_OK;
    return tg_error(TG_EUSAGE, "--plot writes SVG (FILE.svg, or FILE without an extension) or PNG (FILE.png), "
                    "not '%.40s'", dot);
}

/* the chart in the form o->out asks for, to its place */
static tg_status draw(const tg_chart *c, const tg_plot_opts *o, FILE *out)
{
    tg_buf b = {0};
    int width, height;
    tg_status st;
    if (!o->out) {
        text_size(out, &width, &height);
        st = tg_chart_text(c, width, height, &b);
    } else
        st = is_png(o->out) ? tg_chart_png(c, &b) : tg_chart_svg(c, &b);
    if (st == TG_OK && (!o->out || !strcmp(o->out, "-")))
        st = tg_buf_write(&b, out);
    else if (st == TG_OK) { /* whole or not at all, as every output file */
        tg_fileset *f = tg_fileset_new(NULL);
        st = f ? tg_fileset_text(f, o->out, b.data, b.len) : tg_errcode();
        if (st == TG_OK)
            st = tg_fileset_commit(f);
        else
            tg_fileset_abort(f);
    }
    tg_buf_free(&b);
    return st;
}

tg_status tg_run_plot(tg_program *p, const char *const *at, int nat, const char *inputs, const tg_plot_opts *o,
                      FILE *out)
{
    plot_state s = {0};
    const char *var = NULL;
    tg_status st = tg_plot_check_out(o->out);
    if (st == TG_OK)
        st = take_points(&s, at, nat, o);
    if (st == TG_OK)
        st = tg_env_bind_args(&s.consts, p, s.named, s.nnamed, inputs, &(tg_bind_opts){.no_grad = true}, false);
    if (st == TG_OK)
        st = plotted_variable(p, &s.consts, &var);
    if (st == TG_OK)
        st = sample(p, &s, var);
    if (st == TG_OK && !(s.tangents = tg_calloc((size_t)s.ntangents + 1, sizeof *s.tangents)))
        st = TG_ERESOURCE;
    for (int64_t k = 0; k < s.ntangents && st == TG_OK; k++)
        s.tangents[k] = (tg_chart_tangent){s.x[s.n + k], s.y[s.n + k], s.dy[s.n + k]};
    tg_chart c = {tg_program_source(p), var, s.n, s.x, s.y, s.dy, s.ntangents, s.tangents};
    if (st == TG_OK)
        st = draw(&c, o, out);
    tg_env_free(&s.consts);
    tg_free(s.named);
    tg_free(s.x);
    tg_free(s.y);
    tg_free(s.dy);
    tg_free(s.tangents);
    return st;
}
