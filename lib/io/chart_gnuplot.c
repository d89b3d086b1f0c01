/* chart_gnuplot.c -- the chart as PNG, drawn by gnuplot (chart.h), the
 * field's tool, when it is installed (Debian: gnuplot-nox).
 *
 * gnuplot runs with a fixed argv ("gnuplot -d": its init files ignored),
 * found as an absolute path on PATH (an empty or relative PATH entry, the
 * current folder, is skipped), in "/" as its folder, with the script as
 * its standard input and the image as its standard output, both unlinked
 * temporary files: it names no file of ours, and only the caller writes
 * the image where it goes (atomically, outfile.c).  It is stopped after
 * a minute. */
#define _GNU_SOURCE /* posix_spawn_file_actions_addchdir_np */
#include "io/chart.h"
#include "core/core.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { TIMEOUT_S = 60 };

/* gnuplot's absolute path from PATH (a new string), or NULL */
static char *find_gnuplot(void)
{
    const char *path = getenv("PATH");
    for (const char *p = path ? path : ""; *p;) {
        size_t len = strcspn(p, ":");
        if (p[0] == '/') {
            char *file = tg_malloc(len + sizeof "/gnuplot");
            struct stat st;
            if (!file)
                return NULL;
            memcpy(file, p, len);
            strcpy(file + len, "/gnuplot");
            if (stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0)
                return file;
            tg_free(file);
        }
        p += len + (p[len] == ':');
    }
    return NULL;
}

/* s as a gnuplot string: single quotes, '' for a quote */
static void add_string(tg_buf *b, const char *s)
{
    tg_buf_add(b, "'", 1);
    for (; *s; s++)
        tg_buf_add(b, *s == '\'' ? "''" : s, *s == '\'' ? 2 : 1);
    tg_buf_add(b, "'", 1);
}

/* v[0..n) at x as a data block, a blank line at each gap */
static void add_block(tg_buf *b, const char *name, const double *x, const double *v, int64_t n)
{
    tg_buf_printf(b, "$%s << EOD\n", name);
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            tg_buf_printf(b, "%.17g %.17g\n", x[i], v[i]);
        else if (i > 0 && isfinite(v[i - 1]))
            tg_buf_add(b, "\n", 1);
    tg_buf_printf(b, "EOD\n");
}

static tg_status script(const tg_chart *c, tg_buf *b)
{
    tg_chart_axis x, y;
    if (tg_chart_axes(c, &x, &y) != TG_OK)
        return tg_errcode();
    char *expr = tg_chart_one_line(c->expr, 80);
    /* each tangent's segment inside the box: xa > xb for none */
    double *xa = tg_malloc(((size_t)c->ntangents + 1) * sizeof *xa);
    double *xb = tg_malloc(((size_t)c->ntangents + 1) * sizeof *xb);
    if (!expr || !xa || !xb) {
        tg_free(expr);
        tg_free(xa);
        tg_free(xb);
        return TG_ERESOURCE;
    }
    tg_buf_printf(b, "set terminal pngcairo size 900,560 noenhanced font 'sans,10'\nset encoding utf8\n"
                  "set grid\nset key top left opaque box reverse Left\nset xlabel ");
    add_string(b, c->var);
    tg_buf_printf(b, "\nset ylabel 'f(%s), f''(%s)'\nset xrange [%.17g:%.17g]\nset yrange [%.17g:%.17g]\n", c->var,
                  c->var, x.lo, x.hi, y.lo, y.hi);
    tg_buf_printf(b, "set xtics %.17g, %.17g\nset ytics %.17g, %.17g\n", x.first, x.step, y.first, y.step);
    add_block(b, "f", c->x, c->y, c->n);
    add_block(b, "df", c->x, c->dy, c->n);
    bool points = false;
    tg_buf_printf(b, "$points << EOD\n");
    for (int64_t k = 0; k < c->ntangents; k++) /* each tangent's point, then the segment drawn */
        if (tg_chart_tangent_segment(&c->tangents[k], &x, &y, &xa[k], &xb[k])) {
            tg_buf_printf(b, "%.17g %.17g\n", c->tangents[k].x, c->tangents[k].y);
            points = true;
        } else
            xa[k] = 1, xb[k] = 0;
    tg_buf_printf(b, "EOD\n");
    for (int64_t k = 0; k < c->ntangents; k++) {
        const tg_chart_tangent *t = &c->tangents[k];
        if (xa[k] <= xb[k])
            tg_buf_printf(b, "$t%lld << EOD\n%.17g %.17g\n%.17g %.17g\nEOD\n", (long long)k, xa[k],
                          t->y + t->slope * (xa[k] - t->x), xb[k], t->y + t->slope * (xb[k] - t->x));
    }
    tg_buf_printf(b, "plot $f with lines lw 2 lc rgb '#1f77b4' title 'f(%s) = ' . ", c->var);
    add_string(b, expr);
    tg_buf_printf(b, ", $df with lines lw 2 lc rgb '#d62728' title 'f''(%s)'", c->var);
    for (int64_t k = 0; k < c->ntangents; k++) {
        char at[32], slope[32];
        tg_chart_number(at, sizeof at, c->tangents[k].x);
        tg_chart_number(slope, sizeof slope, c->tangents[k].slope);
        if (xa[k] <= xb[k])
            tg_buf_printf(b, ", $t%lld with lines dt 2 lw 1.5 lc rgb '#2ca02c' title 'tangent at %s = %s: slope %s'",
                          (long long)k, c->var, at, slope);
    }
    if (points)
        tg_buf_printf(b, ", $points with points pt 7 ps 1 lc rgb 'black' notitle");
    tg_buf_printf(b, "\n");
    tg_free(expr);
    tg_free(xa);
    tg_free(xb);
    return b->failed ? tg_error(TG_ERESOURCE, "out of memory") : TG_OK;
}

/* Waits for pid, stopping it after TIMEOUT_S; its exit status, or -1 */
static int wait_for(pid_t pid)
{
    int status = 0;
    for (int waited_ms = 0;; waited_ms += 5) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if ((r < 0 && errno != EINTR) || waited_ms >= TIMEOUT_S * 1000) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
}

/* runs gnuplot with in as its standard input, out and err as its output
 * and errors; its exit status, or -1 */
static int run_gnuplot(const char *gnuplot, FILE *in, FILE *out, FILE *err)
{
    char *const argv[] = {(char *)gnuplot, "-d", NULL};
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    posix_spawn_file_actions_adddup2(&fa, fileno(in), 0);
    posix_spawn_file_actions_adddup2(&fa, fileno(out), 1);
    posix_spawn_file_actions_adddup2(&fa, fileno(err), 2);
    posix_spawn_file_actions_addchdir_np(&fa, "/");
    pid_t pid;
    int rc = posix_spawn(&pid, gnuplot, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? wait_for(pid) : -1;
}

/* f's whole text appended to b (from its start) */
static bool read_all(FILE *f, tg_buf *b)
{
    char chunk[65536];
    size_t n;
    rewind(f);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        tg_buf_add(b, chunk, n);
    return !ferror(f) && !b->failed;
}

/* gnuplot's first line of errors, for the message */
static void first_error_line(FILE *err, char *line, size_t cap)
{
    line[0] = 0;
    rewind(err);
    while (fgets(line, (int)cap, err) && strspn(line, " \t\r\n^") == strlen(line))
        ; /* (gnuplot puts the command and a caret first) */
    line[strcspn(line, "\r\n")] = 0;
}

tg_status tg_chart_png(const tg_chart *c, tg_buf *out)
{
    char *gnuplot = find_gnuplot();
    if (!gnuplot)
        return tg_error(TG_ERESOURCE, "a .png plot is drawn by gnuplot, which is not installed (Debian: apt "
                        "install gnuplot-nox); write .svg instead");
    tg_buf text = {0};
    FILE *in = tmpfile(), *png = tmpfile(), *err = tmpfile();
    tg_status st = in && png && err ? script(c, &text) : tg_error(TG_ERESOURCE, "cannot make a temporary file: %s",
                                                                   strerror(errno));
    if (st == TG_OK && (tg_buf_write(&text, in) != TG_OK || fflush(in) != 0 || fseek(in, 0, SEEK_SET) != 0))
        st = tg_error(TG_ERESOURCE, "cannot write gnuplot's script to a temporary file");
    int status = st == TG_OK ? run_gnuplot(gnuplot, in, png, err) : 0;
    size_t before = out->len;
    if (st == TG_OK && (status != 0 || !read_all(png, out) || out->len - before < 8 ||
                        memcmp(out->data + before, "\x89PNG", 4))) {
        char line[200];
        first_error_line(err, line, sizeof line);
        out->len = before;
        st = tg_error(TG_ERESOURCE, "gnuplot (%s) did not draw the plot%s%s", gnuplot, *line ? ": " : "", line);
    }
    for (FILE **f = (FILE *[]){in, png, err}, **end = f + 3; f < end; f++)
        if (*f)
            fclose(*f);
    tg_buf_free(&text);
    tg_free(gnuplot);
    return st;
}
