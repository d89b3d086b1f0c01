/* grad_run.c -- what tgrad does, as library calls (tgrad(1)): one
 * evaluation with its gradients and the anomaly policy, the transforms,
 * --lines, several expressions and --check, each giving its result as
 * JSON text (result.c); the tool only parses options and prints. */
#include "internal.h"
#include "io/json.h"
#include "core/progress.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* n new NULL tensor pointers (n may be 0) */
static tg_tensor **tensor_array(size_t n)
{
    return tg_calloc(n ? n : 1, sizeof(tg_tensor *));
}

static void release_all(tg_tensor **t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        tg_release(t[i]);
    tg_free(t);
}

/* ---- the anomaly policy ---- */
static bool all_finite(const tg_tensor *t)
{
    if (!t || !tg_dtype_is_float(t->dtype) || t->numel > tg_get_max_work())
        return true; /* (too large to print: writing it fails with its own error) */
    for (int64_t i = 0; i < t->numel; i++) {
        double v = tg_get(t, i);
        if (v != v || v - v != 0)
            return false;
    }
    return true;
}

/* Sets the error (status 3) naming the node that first produced a NaN or
 * an infinity, kind "anomaly" or "warning: anomaly"; false when none did. */
static bool anomaly_error(const char *kind)
{
    bool backward;
    const char *op;
    const tg_tensor *t = tg_anomaly_first(&backward, &op);
    if (!t)
        return false;
    bool nan = false;
    for (int64_t i = 0; i < t->numel && !nan; i++)
        nan = tg_get(t, i) != tg_get(t, i);
    const char *what = op ? op : "an input";
    if (backward)
        tg_error_at(t->pos, TG_EINPUT, "%s: the backward pass of %s produced a NaN or an infinity while "
                    "its upstream gradient was finite", kind, what);
    else
        tg_error_at(t->pos, TG_EINPUT, "%s: %s produced %s from finite inputs in the forward pass", kind, what,
                    nan ? "NaN" : "an infinity");
    return true;
}

/* A result holding NaN or infinity without --detect-anomaly: the program
 * is run again with detection on, to say where the first one came from. */
static bool warn_anomaly(tg_program *p, tg_env *env, int nvars, const tg_run_opts *o)
{
    tg_tensor **again = tensor_array((size_t)nvars);
    tg_grad_opts go = {.no_grad = o->bind.no_grad};
    tg_anomaly_enable(true);
    if (again && (!o->grad_output || (go.grad_output = tg_load_arg(o->grad_output, -1, NULL))))
        tg_release(tg_grad_eval(p, env, nvars, &go, again));
    release_all(again, (size_t)nvars);
    tg_error_clear();
    return anomaly_error("warning: anomaly");
}

tg_tensor *tg_run_eval(tg_program *p, tg_env *env, const tg_run_opts *o, tg_tensor **grads, bool *warned)
{
    int nvars = env->n;
    tg_tensor *value = NULL;
    tg_grad_opts go = {.no_grad = o->bind.no_grad, .sum_output = o->bind.batch != NULL,
                       .retain_graph = o->keep_graph};
    *warned = false;
    if (o->grad_output && !(go.grad_output = tg_load_arg(o->grad_output, -1, NULL)))
        return NULL;
    tg_anomaly_enable(o->detect_anomaly);
    /* fused evaluation: asked for (--compile), or the default path's for
     * large elementwise programs (tg_fused_default_eval: the eager bytes) */
    if (!o->keep_graph && !o->bind.batch && !o->detect_anomaly) {
        tg_grad_opts co = go;
        co.grad_output = tg_ref(go.grad_output);
        tg_status cs = o->compile ? tg_compiled_eval(p, env, nvars, &co, &value, grads)
                                  : tg_fused_default_eval(p, env, nvars, &co, &value, grads);
        if (cs != TG_OK && cs != TG_NO) {
            tg_release(go.grad_output);
            tg_anomaly_enable(false);
            return NULL;
        }
    }
    if (!value)
        value = tg_grad_eval(p, env, nvars, &go, grads); /* consumes go.grad_output */
    else
        tg_release(go.grad_output);
    if (o->detect_anomaly && anomaly_error("anomaly")) {
        tg_release(value);
        value = NULL;
    }
    bool finite = all_finite(value);
    for (int i = 0; i < nvars && value; i++)
        finite = finite && all_finite(grads[i]);
    if (value && !finite && !o->detect_anomaly && !o->keep_graph)
        *warned = warn_anomaly(p, env, nvars, o);
    tg_anomaly_enable(false);
    return value;
}

/* ---- transforms ---- */
/* The tangents of --jvp: zeros, and for each "NAME=TANGENT" (or
 * "TANGENT" for one variable) that variable's. */
static tg_status load_tangents(const tg_transform_opts *t, tg_tensor **inputs, const char *const *names, int n,
                               tg_tensor **tan)
{
    for (int i = 0; i < n; i++)
        if (!(tan[i] = tg_zeros(inputs[i]->dtype, inputs[i]->ndim, inputs[i]->shape)))
            return tg_errcode();
    for (int k = 0; k < t->njvp; k++) {
        const char *arg = t->jvp[k], *eq = strchr(arg, '=');
        int which = -1;
        for (int i = 0; eq && i < n; i++)
            if (strlen(names[i]) == (size_t)(eq - arg) && !strncmp(names[i], arg, (size_t)(eq - arg)))
                which = i;
        if (which < 0 && n == 1 && (!eq || !tg_is_identifier(arg, (size_t)(eq - arg)))) {
            which = 0; /* one variable: --jvp TANGENT */
            eq = arg - 1;
        }
        if (which < 0)
            return tg_error(TG_EUSAGE, "--jvp %.40s: expected NAME=TANGENT for a differentiated variable", arg);
        tg_release(tan[which]);
        if (!(tan[which] = tg_load_arg(eq + 1, inputs[which]->dtype, NULL)))
            return tg_errcode();
    }
    return TG_OK;
}

static tg_status jvp_result(const tg_transform_opts *t, tg_tensor *value, tg_tensor **inputs,
                            const char *const *names, int n, tg_buf *out)
{
    tg_tensor **tan = tensor_array((size_t)n), *jv = NULL;
    tg_status st = tan ? load_tangents(t, inputs, names, n, tan) : TG_ERESOURCE;
    if (st == TG_OK && (st = tg_jvp(value, inputs, tan, n, &jv)) == TG_OK)
        st = tg_result_jvp(out, value, jv);
    tg_release(jv);
    release_all(tan, (size_t)n);
    return st;
}

static tg_status hessian_result(tg_tensor *value, tg_tensor **inputs, const char *const *names, int n,
                                tg_buf *out)
{
    size_t blocks = (size_t)n * (size_t)n; /* n is an int: no overflow */
    tg_tensor **hess = tensor_array(blocks);
    if (!hess)
        return TG_ERESOURCE;
    tg_status st = tg_hessian(value, inputs, n, hess);
    if (st == TG_OK)
        st = tg_result_hessian(out, value, names, hess, n);
    release_all(hess, blocks);
    return st;
}

static tg_status transform_result(const tg_transform_opts *t, tg_tensor *value, tg_tensor **inputs,
                                  const char *const *names, int n, tg_buf *out)
{
    if (t->kind == TG_TRANSFORM_JVP)
        return jvp_result(t, value, inputs, names, n, out);
    if (t->kind == TG_TRANSFORM_HESSIAN)
        return hessian_result(value, inputs, names, n, out);
    if (t->kind == TG_TRANSFORM_DERIVATIVE) {
        if (n != 1)
            return tg_error(TG_EUSAGE, "--order needs exactly one variable to differentiate, not %d", n);
        tg_tensor *d = tg_nth_derivative(value, inputs[0], t->order);
        if (!d)
            return tg_errcode();
        char order[32]; /* a comma, the key and an int */
        snprintf(order, sizeof order, ",\"order\":%d", t->order);
        tg_status st = tg_result_named(out, value, "derivative", names, &d, 1, order);
        tg_release(d);
        return st;
    }
    tg_tensor **jac = tensor_array((size_t)n);
    tg_status st = jac ? (t->kind == TG_TRANSFORM_JACOBIAN_FWD ? tg_jacobian_fwd : tg_jacobian)(value, inputs, n, jac)
                       : TG_ERESOURCE;
    if (st == TG_OK)
        st = tg_result_named(out, value, "jacobian", names, jac, n, NULL);
    release_all(jac, (size_t)n);
    return st;
}

tg_status tg_run_transform(tg_program *p, tg_env *env, const tg_transform_opts *t, tg_buf *out)
{
    int n = 0;
    tg_tensor **inputs = tensor_array((size_t)env->n);
    const char **names = tg_calloc((size_t)env->n + 1, sizeof *names);
    tg_status st = inputs && names ? TG_OK : TG_ERESOURCE;
    for (int i = 0; i < env->n && st == TG_OK; i++)
        if (env->values[i]->requires_grad) {
            names[n] = env->names[i];
            inputs[n++] = tg_ref(env->values[i]);
        }
    int nvars = env->n;
    tg_tensor *value = st == TG_OK ? tg_program_eval(p, env) : NULL;
    if (st == TG_OK && !value)
        st = tg_errcode();
    if (st == TG_OK && n == 0)
        st = tg_error(TG_EUSAGE, "there is no variable to differentiate (give a float variable with --at)");
    if (st == TG_OK)
        st = transform_result(t, value, inputs, names, n, out);
    tg_release(value);
    release_all(inputs, (size_t)nvars);
    tg_free(names);
    return st;
}

/* ---- the value and gradients, --check ---- */
static tg_status run_check(tg_program *p, tg_env *env, int nvars, tg_buf *member, bool *passed)
{
    const double eps = 1e-6, atol = 1e-5, rtol = 1e-3; /* torch.autograd.gradcheck's */
    tg_gradcheck_var *res = tg_calloc((size_t)nvars + 1, sizeof *res);
    const char **names = tg_calloc((size_t)nvars + 1, sizeof *names);
    tg_status st = res && names ? tg_gradcheck(p, env, nvars, eps, atol, rtol, res, passed) : TG_ERESOURCE;
    int nd = 0;
    for (int i = 0; i < nvars && st == TG_OK; i++)
        if (env->values[i]->requires_grad)
            names[nd++] = env->names[i];
    if (st == TG_OK)
        tg_result_check(member, res, names, nd, *passed, eps, atol, rtol);
    tg_free(res);
    tg_free(names);
    return st;
}

/* the result to out, or written to f when out is NULL */
static tg_status run_result(tg_program *p, tg_env *env, int nvars, const tg_tensor *value, tg_tensor *const *grads,
                            const tg_run_opts *o, bool check, tg_buf *out, FILE *f, bool *passed)
{
    tg_buf member = {0};
    tg_status st = TG_OK;
    const char *const *names = o->bind.no_grad ? NULL : (const char *const *)env->names;
    *passed = true;
    if (check)
        st = run_check(p, env, nvars, &member, passed);
    if (st == TG_OK && member.failed) /* else the result would go out without its "check" */
        st = tg_error(TG_ERESOURCE, "out of memory");
    if (st == TG_OK && out)
        st = tg_result_grad(out, value, names, grads, nvars, o->pretty, check ? member.data : NULL);
    else if (st == TG_OK)
        st = tg_result_grad_write(f, value, names, grads, nvars, o->pretty, check ? member.data : NULL);
    tg_buf_free(&member);
    return st;
}

tg_status tg_run_result(tg_program *p, tg_env *env, int nvars, const tg_tensor *value, tg_tensor *const *grads,
                        const tg_run_opts *o, bool check, tg_buf *out, bool *passed)
{
    return run_result(p, env, nvars, value, grads, o, check, out, NULL, passed);
}

tg_status tg_run_result_write(tg_program *p, tg_env *env, int nvars, const tg_tensor *value,
                              tg_tensor *const *grads, const tg_run_opts *o, bool check, FILE *f, bool *passed)
{
    return run_result(p, env, nvars, value, grads, o, check, NULL, f, passed);
}

/* ---- --batch --jsonl ---- */
tg_status tg_run_points(tg_env *env, int nvars, const tg_tensor *value, tg_tensor *const *grads,
                        const tg_run_opts *o, FILE *f)
{
    int64_t npoints = -1;
    for (int i = 0; i < nvars; i++) {
        const tg_tensor *t = env->values[i];
        if (t->batched && npoints < 0)
            npoints = t->shape[0];
        else if (!t->batched && grads[i] && !o->bind.no_grad)
            return tg_error(TG_EUSAGE, "--jsonl gives each point its own gradient, but %s is not batched: it is "
                            "shared by the points and gets the sum of their gradients; leave it out with --wrt, "
                            "or drop --jsonl", env->names[i]);
    }
    if (npoints < 0)
        return tg_error(TG_EUSAGE, "--jsonl: no variable is batched, so there are no points");
    return tg_result_points(f, value, value->batched, o->bind.no_grad ? NULL : (const char *const *)env->names,
                            grads, nvars, npoints);
}

/* ---- --lines ---- */
/* the error st again, its message after "line N: " */
static tg_status on_line(tg_status st, long lineno)
{
    size_t len = strlen(tg_errmsg()) + 1;
    char *msg = tg_malloc(len);
    if (!msg)
        return st; /* the message stays as it was */
    memcpy(msg, tg_errmsg(), len);
    tg_error_clear();
    tg_error(st, "line %ld: %s", lineno, msg);
    tg_free(msg);
    return st;
}

typedef struct {
    tg_env *env;
    const tg_bind_opts *o;
} line_binding;

static int bind_member(const char *name, tg_tensor *t, int requires_grad, void *binding)
{
    line_binding *b = binding;
    return tg_env_bind(b->env, name, t, requires_grad, b->o);
}

/* A line's value and gradients: through the default path's fused plan
 * (made on the second line of the same names, dtypes and shapes, then
 * kept: the eager bytes), else eagerly. */
static tg_tensor *line_eval(tg_program *p, tg_env *env, int nvars, const tg_run_opts *o, tg_tensor **grads)
{
    tg_grad_opts go = {.no_grad = o->bind.no_grad};
    tg_tensor *value = NULL;
    if (!o->detect_anomaly) {
        tg_status st = tg_fused_default_eval(p, env, nvars, &go, &value, grads);
        if (st != TG_NO)
            return st == TG_OK ? value : NULL;
    }
    return tg_grad_eval(p, env, nvars, &go, grads);
}

/* one line's object of inputs, after fixed's: its result to out; the
 * member id->name (NULL: none) is not bound, id tells where it is */
static tg_status run_line(tg_program *p, const tg_env *fixed, const tg_run_opts *o, const char *line, size_t len,
                          tg_json_aside *id, tg_buf *out)
{
    tg_env env = {0};
    tg_tensor **grads = NULL, *value = NULL;
    tg_status st = TG_OK;
    line_binding binding = {&env, &o->bind};
    for (int i = 0; i < fixed->n && st == TG_OK; i++)
        st = tg_env_set(&env, fixed->names[i], tg_ref(fixed->values[i]));
    if (st == TG_OK)
        st = tg_json_parse_named_aside(line, len, -1, id, bind_member, &binding);
    int nvars = env.n;
    if (st == TG_OK && !(grads = tensor_array((size_t)nvars)))
        st = TG_ERESOURCE;
    tg_anomaly_enable(o->detect_anomaly); /* each line afresh */
    if (st == TG_OK && !(value = line_eval(p, &env, nvars, o, grads)))
        st = tg_errcode();
    if (st == TG_OK && o->detect_anomaly && anomaly_error("anomaly"))
        st = tg_errcode();
    tg_anomaly_enable(false);
    if (st == TG_OK)
        st = tg_result_grad(out, value, o->bind.no_grad ? NULL : (const char *const *)env.names, grads, nvars,
                            false, NULL);
    release_all(grads, (size_t)nvars);
    tg_release(value);
    tg_env_free(&env);
    return st;
}

/* what a --lines run has seen so far */
typedef struct {
    long lineno;     /* the number of the line read last (after the offset) */
    long nfailed;    /* lines that failed (--keep-going) */
    tg_status worst; /* the highest status among them */
    tg_buf first;    /* "line N: message" of the first */
} lines_state;

/* --keep-going: the failure st of the line just read, as its record in
 * *record; TG_OK, or the error that stops the run after all */
static tg_status record_failure(tg_status st, const tg_lines_opts *lo, const tg_json_aside *id, const char *line,
                                lines_state *s, tg_buf *record)
{
    tg_buf msg = {0};
    tg_buf_printf(&msg, "%s", tg_errmsg());
    tg_error_clear();
    if (msg.failed)
        return tg_error(TG_ERESOURCE, "out of memory");
    if (s->nfailed++ == 0)
        tg_buf_printf(&s->first, "line %ld: %s", s->lineno, msg.data);
    if (st > s->worst)
        s->worst = st;
    tg_status rs = tg_result_error(record, lo->id, id->found ? line + id->start : NULL, id->end - id->start,
                                   s->lineno, msg.data);
    tg_buf_free(&msg);
    return rs != TG_OK ? rs : s->first.failed ? tg_error(TG_ERESOURCE, "out of memory") : TG_OK;
}

/* out's buffered text written out now, for a reader waiting on it */
static tg_status flush(FILE *out)
{
    errno = 0;
    if (fflush(out) == EOF)
        return tg_error(TG_ERESOURCE, "cannot write the output: %s", strerror(errno ? errno : EIO));
    return TG_OK;
}

/* Is more input there already, so that reading it will not wait?  Text
 * in's buffer holds (glibc's FILE fields; elsewhere: assume none) or the
 * descriptor has ready (FIONREAD: pipes, terminals, sockets). */
static bool input_ready(FILE *in)
{
#ifdef __GLIBC__
    if (in->_IO_read_ptr < in->_IO_read_end)
        return true;
#endif
    int n = 0;
    return ioctl(fileno(in), FIONREAD, &n) == 0 && n > 0;
}

/* the line just read, line[0..len): its result or error record to out */
static tg_status one_line(tg_program *p, const tg_env *fixed, const tg_run_opts *o, const tg_lines_opts *lo,
                          const char *line, size_t len, lines_state *s, FILE *in, FILE *out)
{
    tg_json_aside id = {lo->id, false, 0, 0};
    tg_buf result = {0}, record = {0};
    tg_status st = run_line(p, fixed, o, line, len, lo->id ? &id : NULL, &result);
    if (st == TG_OK && lo->id)
        st = tg_result_with_id(&record, lo->id, id.found ? line + id.start : NULL, id.end - id.start, &result);
    else if (st == TG_OK)
        record = result, result = (tg_buf){0};
    if (st != TG_OK && lo->keep_going)
        st = record_failure(st, lo, &id, line, s, &record);
    else if (st != TG_OK)
        on_line(st, s->lineno);
    if (st == TG_OK)
        st = tg_buf_write(&record, out);
    if (st == TG_OK && (lo->flush || (lo->flush_idle && !input_ready(in))))
        st = flush(out);
    tg_buf_free(&result);
    tg_buf_free(&record);
    return st;
}

/* --keep-going, at the end: the highest status of the failed lines, with
 * the first one's message */
static tg_status lines_failed(lines_state *s)
{
    if (s->nfailed == 1)
        return tg_error(s->worst, "%s", s->first.data);
    return tg_error(s->worst, "%s (%ld lines failed in all; each has its error record in the output)",
                    s->first.data, s->nfailed);
}

/* "N lines, R lines/s" on standard error (core/progress.h) */
static void lines_progress(tg_progress *pr, const lines_state *s, long first)
{
    double t = tg_progress_elapsed(pr);
    long done = s->lineno - first;
    tg_progress_show(pr, "%ld lines, %.0f lines/s%s", done, t > 0 ? (double)done / t : 0.0,
                     s->nfailed ? " (some failed)" : "");
}

tg_status tg_run_lines(tg_program *p, const tg_env *fixed, const tg_run_opts *o, const tg_lines_opts *lo,
                       FILE *in, FILE *out)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    lines_state s = {.lineno = lo->line_offset};
    tg_status st = TG_OK;
    tg_progress pr; /* after a quiet second: a run that short prints nothing */
    tg_progress_begin(&pr, 1.0);
    while (st == TG_OK && (len = getline(&line, &cap, in)) >= 0) {
        if (tg_progress_due(&pr))
            lines_progress(&pr, &s, lo->line_offset);
        if (s.lineno == LONG_MAX) {
            st = tg_error(TG_EINPUT, "line numbers beyond %ld (see --line-offset)", LONG_MAX);
            break;
        }
        s.lineno++;
        if (strspn(line, " \t\r\n") != (size_t)len) /* blank lines are skipped */
            st = one_line(p, fixed, o, lo, line, (size_t)len, &s, in, out);
    }
    if (st == TG_OK && ferror(in))
        st = tg_error(TG_ERESOURCE, "cannot read standard input: %s", strerror(errno ? errno : EIO));
    if (pr.shown) /* the count at the end */
        lines_progress(&pr, &s, lo->line_offset);
    tg_progress_end(&pr);
    if (st == TG_OK && s.nfailed)
        st = lines_failed(&s);
    tg_buf_free(&s.first);
    free(line);
    return st;
}

/* ---- several expressions ---- */
typedef struct {
    tg_tensor **inputs, **grads, **values;
} passes;

static tg_status run_passes(tg_program *const *progs, int np, tg_env *env, int nvars, const tg_run_opts *o,
                            passes *s, tg_buf *out, int *failed)
{
    for (int k = 0; k < np; k++) {
        *failed = k;
        tg_grad_opts go = {.no_grad = o->bind.no_grad, .accumulate = o->accumulate};
        if (o->grad_output && !(go.grad_output = tg_load_arg(o->grad_output, -1, NULL)))
            return tg_errcode();
        for (int i = 0; i < nvars; i++) { /* each expression starts from the inputs */
            tg_release(env->values[i]);
            env->values[i] = tg_ref(s->inputs[i]);
            tg_release(s->grads[i]);
            s->grads[i] = NULL;
        }
        tg_tensor *v = tg_grad_eval(progs[k], env, nvars, &go, s->grads);
        if (!v)
            return tg_errcode();
        if (o->accumulate) {
            s->values[k] = v;
            continue;
        }
        tg_status st = tg_result_grad(out, v, o->bind.no_grad ? NULL : (const char *const *)env->names, s->grads,
                                      nvars, o->pretty, NULL);
        tg_release(v);
        if (st != TG_OK)
            return st;
    }
    *failed = -1;
    if (o->accumulate)
        return tg_result_values(out, s->values, np, (const char *const *)env->names, s->grads, nvars);
    return TG_OK;
}

tg_status tg_run_several(tg_program *const *progs, int np, tg_env *env, const tg_run_opts *o, tg_buf *out,
                         int *failed)
{
    int nvars = env->n;
    passes s = {tensor_array((size_t)nvars), tensor_array((size_t)nvars), tensor_array((size_t)np)};
    tg_status st = s.inputs && s.grads && s.values ? TG_OK : TG_ERESOURCE;
    *failed = -1;
    for (int i = 0; i < nvars && st == TG_OK; i++)
        s.inputs[i] = tg_ref(env->values[i]);
    if (st == TG_OK)
        st = run_passes(progs, np, env, nvars, o, &s, out, failed);
    release_all(s.inputs, (size_t)nvars);
    release_all(s.grads, (size_t)nvars);
    release_all(s.values, (size_t)np);
    return st;
}

/* ---- seeing the computation: --graph, --explain ---- */
static tg_status write_graph(tg_tensor *value, bool dot, bool values, FILE *out)
{
    tg_graph g;
    if (tg_graph_collect(value, &g) != TG_OK)
        return tg_errcode();
    tg_status st = dot ? tg_graph_write_dot(out, &g, values) : tg_graph_write_json(out, &g, values);
    tg_graph_free(&g);
    return st;
}

/* the value, with the backward pass that --graph-values shows */
static tg_tensor *graph_value(tg_program *p, tg_env *env, const tg_run_opts *o, bool values)
{
    if (o->grad_output) { /* the whole evaluation, its graph kept */
        tg_run_opts keep = *o;
        bool warned;
        keep.keep_graph = true;
        tg_tensor **grads = tensor_array((size_t)env->n);
        int nvars = env->n;
        tg_backward_hook = values ? tg_hook_retain_grads : NULL;
        tg_tensor *value = grads ? tg_run_eval(p, env, &keep, grads, &warned) : NULL;
        release_all(grads, (size_t)nvars);
        return value;
    }
    /* the graph alone needs no backward pass; with values a single-number
     * result gets one, for the gradients */
    tg_tensor *value = tg_program_eval(p, env);
    if (value && values && value->requires_grad && value->numel == 1) {
        tg_backward_hook = tg_hook_retain_grads;
        if (tg_backward(value, NULL, true, false) != TG_OK) {
            tg_release(value);
            value = NULL;
        }
    }
    return value;
}

tg_status tg_run_graph(tg_program *p, tg_env *env, const tg_run_opts *o, bool dot, bool values, FILE *out)
{
    tg_tensor *value = graph_value(p, env, o, values);
    tg_status st = value ? write_graph(value, dot, values, out) : tg_errcode();
    tg_backward_hook = NULL;
    tg_release(value);
    return st;
}

tg_status tg_run_explain(tg_program *p, tg_env *env, const char *grad_output, bool json, FILE *out)
{
    int nd = 0, nvars = env->n;
    tg_tensor **diff = tensor_array((size_t)nvars), *value = NULL, *gout = NULL;
    const char **names = tg_calloc((size_t)nvars + 1, sizeof *names);
    tg_status st = diff && names ? TG_OK : TG_ERESOURCE;
    for (int i = 0; i < nvars && st == TG_OK; i++)
        if (env->values[i]->requires_grad) { /* held: the program may rebind the name */
            diff[nd] = tg_ref(env->values[i]);
            names[nd++] = env->names[i];
        }
    if (st == TG_OK && grad_output && !(gout = tg_load_arg(grad_output, -1, NULL)))
        st = tg_errcode();
    if (st == TG_OK && !(value = tg_program_eval(p, env)))
        st = tg_errcode();
    if (st == TG_OK && !gout && nd && value->requires_grad && value->numel != 1)
        st = tg_error(TG_EINPUT, "--explain: the result is not a single number; reduce it or give --grad-output");
    if (st == TG_OK) {
        st = tg_explain(value, gout, diff, names, nd, json, out);
        gout = NULL; /* consumed */
    }
    tg_release(gout);
    tg_release(value);
    release_all(diff, (size_t)nvars);
    tg_free(names);
    return st;
}
