/* tgrad -- the value and gradients of an expression (SPEC section 4).
 *   tgrad 'x**3+2*x**2-5*x+3' --at 2   ->   {"value":9,"grad":{"x":15}}  */
#include "tg.h"
#include <ctype.h>
#include <errno.h>
#include <sys/stat.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define TOOL "tgrad"
#define MAX_VARS 256

static const char usage[] =
    "usage: tgrad EXPR [EXPR ...] [--at VALUE | --at NAME=VALUE ...] [--inputs FILE]\n"
    "             [--wrt NAMES] [--grad-output VALUE] [--no-grad] [--dtype DTYPE]\n"
    "             [--seed N] [--device DEV] [-o FILE] [--pretty] [--compile]\n"
    "             [--jacobian | --hessian | --order N | --graph dot|json | --explain[=json]\n"
    "              | --check | --lines | --batch[=NAMES]] [--detect-anomaly]\n"
    "       tgrad --file FILE [options]\n"
    "Evaluates EXPR (PyTorch syntax) and prints {\"value\":...,\"grad\":{...}}.\n"
    "  --at VALUE          the value of the one variable; VALUE is JSON, a .npy/.json file or -\n"
    "  --at NAME=VALUE     the value of variable NAME (repeat for several)\n"
    "  --inputs FILE       a JSON object of named values, {\"x\": 2, \"w\": [[1,2]]}\n"
    "  --lines             read one such object per line of standard input, print one result per line\n"
    "  --accumulate        with several expressions: add their gradients up (backward() without\n"
    "                      zero_grad()); without it each expression prints its own result line\n"
    "  --compile           fused evaluation: elementwise programs (optionally summed) become one loop,\n"
    "                      compiled once by cc into ~/.cache/tgrad, run in cache on every core;\n"
    "                      others run as usual (TG_JIT=0: no compiler, the same numbers)\n"
    "  --batch[=NAMES]     vmap: dim 0 of every variable (or of NAMES) indexes points; one\n"
    "                      vectorised pass gives each point's value and gradient (vmap(grad(f)))\n"
    "  -f, --file FILE     read the expression (statements, one per line) from FILE, - for stdin\n"
    "  --wrt NAMES         differentiate only these (comma-separated); default: every float variable\n"
    "  --grad-output VALUE the upstream gradient for a non-scalar result (backward(gradient=...))\n"
    "  --jacobian[=fwd]    the Jacobian of the result in each variable (jacrev; fwd: jacfwd), key \"jacobian\"\n"
    "  --jvp NAME=TANGENT  forward mode: the Jacobian times the tangents (zero where not given), key \"jvp\"\n"
    "  --hessian           the Hessian of a scalar result, blocks per pair of variables, key \"hessian\"\n"
    "  --order N           the N-th derivative of a scalar function of one scalar, key \"derivative\"\n"
    "  --graph dot|json    print the computational graph (Graphviz DOT or JSON) instead\n"
    "  --graph-values      with --graph: each node's value and gradient too\n"
    "  --explain[=json]    walk the chain rule node by node: forward values, then the backward pass\n"
    "  --check             compare the gradient with finite differences in float64 (exit 1 if not)\n"
    "  --detect-anomaly    a NaN or infinity produced anywhere is an error naming the op (status 3)\n"
    "  --no-grad           evaluate only, build no graph (torch.no_grad)\n"
    "  --dtype DTYPE       float32 (default) or float64 for JSON numbers and literals\n"
    "  --seed N            seed for rand/randn in the expression\n"
    "  --device DEV        cpu, cuda or auto\n"
    "  -o, --out FILE      write the value to FILE (.npy or .json; - is stdout) instead of\n"
    "                      printing it; the JSON names the file, the gradients are printed\n"
    "  --out-dir DIR       write DIR/value.npy and DIR/grad_NAME.npy; the JSON names the files\n"
    "  --pretty            indent the output object\n"
    "See tgrad(1) and tg-expr(5).\n";

typedef struct {
    const char *expr;
    const char *more[64]; /* further expressions, each a backward pass */
    int nmore;
    const char *at[MAX_VARS];
    int nat;
    const char *inputs, *wrt, *grad_output, *out, *file, *out_dir;
    bool accumulate;
    bool no_grad, pretty, jacobian, jac_fwd, hessian, check, detect_anomaly, graph_values, lines, compile;
    const char *batch; /* --batch[=NAMES]: "" for every variable */
    long order;
    const char *graph, *explain;
    const char *jvp[MAX_VARS]; /* --jvp NAME=TANGENT */
    int njvp;
} options;

static bool is_identifier(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

static bool in_wrt(const char *wrt, const char *name)
{
    if (!wrt)
        return true;
    size_t n = strlen(name);
    for (const char *p = wrt; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return true;
        p += len + (e ? 1 : 0);
    }
    return false;
}

/* a variable: load it, decide whether it is differentiated, bind it */
static tg_status bind(tg_env *env, const char *name, tg_tensor *t, int rg, const options *o)
{
    if (!t)
        return tg_errcode();
    if (!is_identifier(name, strlen(name))) {
        tg_release(t);
        return tg_error(TG_EINPUT, "'%.40s' cannot be a variable's name (letters, digits and _, not "
                        "starting with a digit)", name);
    }
    if (tg_env_get(env, name)) {
        tg_release(t);
        return tg_error(TG_EUSAGE, "variable '%s' is given twice", name);
    }
    bool want = in_wrt(o->wrt, name) && rg != 0 && !o->no_grad;
    if (want && !tg_dtype_is_float(t->dtype)) {
        if (o->wrt || rg == 1) {
            tg_error(TG_EINPUT, "only floating point tensors can require gradients, and "
                     "'%s' is %s (give it as a float, e.g. 2.0 or with \"dtype\":\"float32\")",
                     name, tg_dtype_name(t->dtype));
            tg_release(t);
            return TG_EINPUT;
        }
        want = false; /* integer inputs are never differentiated */
    }
    tg_set_requires_grad(t, want);
    if (o->batch && (!*o->batch || in_wrt(o->batch, name))) {
        if (t->ndim == 0) {
            tg_release(t);
            return tg_error(TG_EINPUT, "--batch: '%s' is 0-D, but dim 0 of every variable indexes the points", name);
        }
        t->batched = true;
    }
    size_t len = strlen(name) + 1;
    if (!(t->name = tg_malloc(len))) {
        tg_release(t);
        return tg_error(TG_ERESOURCE, "out of memory");
    }
    memcpy(t->name, name, len);
    return tg_env_set(env, name, t);
}

typedef struct {
    tg_env *env;
    const options *o;
} named_ctx;

static int bind_named(const char *name, tg_tensor *t, int rg, void *ctx)
{
    named_ctx *c = ctx;
    return bind(c->env, name, t, rg, c->o);
}


static tg_status bind_inputs(tg_program *prog, tg_env *env, const options *o)
{
    const char *free_names[MAX_VARS];
    int nfree = tg_program_free_names(prog, free_names, MAX_VARS);
    for (int i = 0; i < o->nat; i++) {
        const char *a = o->at[i], *eq = strchr(a, '=');
        const char *name;
        char namebuf[128];
        const char *val = a;
        if (eq && is_identifier(a, (size_t)(eq - a)) && eq - a < (int)sizeof namebuf) {
            snprintf(namebuf, sizeof namebuf, "%.*s", (int)(eq - a), a);
            name = namebuf;
            val = eq + 1;
        } else if (nfree == 1) {
            name = free_names[0];
        } else if (nfree == 0) {
            /* an error in the expression itself (exp() say) comes first */
            tg_env none = {0};
            bool old = tg_set_grad_enabled(false);
            tg_tensor *v = tg_program_eval(prog, &none);
            tg_set_grad_enabled(old);
            tg_env_free(&none);
            if (!v)
                return tg_errcode();
            tg_release(v);
            return tg_error(TG_EUSAGE, "--at %.40s: the expression has no variables to give a value to", a);
        } else {
            return tg_error(TG_EUSAGE, "--at %.40s: the expression has %d variables (%s, %s%s): give "
                            "each as --at NAME=VALUE", a, nfree, free_names[0], free_names[1],
                            nfree > 2 ? ", ..." : "");
        }
        int rg = -1;
        tg_tensor *t = tg_load_arg(val, -1, &rg);
        if (bind(env, name, t, rg, o) != TG_OK)
            return tg_errcode();
    }
    if (o->inputs) {
        size_t len;
        char *text = tg_read_file(o->inputs, &len);
        if (!text)
            return tg_errcode();
        named_ctx c = {env, o};
        tg_status st = tg_json_parse_named(text, len, -1, bind_named, &c);
        tg_free(text);
        if (st != TG_OK)
            return st;
    }
    if (o->wrt && !o->lines)
        for (const char *p = o->wrt; *p;) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            char nm[128];
            snprintf(nm, sizeof nm, "%.*s", (int)(len < 127 ? len : 127), p);
            if (!tg_env_get(env, nm))
                return tg_error(TG_EUSAGE, "--wrt names '%s', which is not given with --at", nm);
            p += len + (e ? 1 : 0);
        }
    return TG_OK;
}

/* {"value":V,"KEY":{name:T,...}} */
static tg_status write_named(const tg_tensor *value, const char *key, const char *const *names,
                             tg_tensor *const *t, int n, const char *extra)
{
    printf("{\"value\":");
    tg_status st = tg_json_write(stdout, value);
    printf(",\"%s\":{", key);
    for (int i = 0; i < n && st == TG_OK; i++) {
        printf("%s\"%s\":", i ? "," : "", names[i]);
        st = tg_json_write(stdout, t[i]);
    }
    printf("}%s}\n", extra ? extra : "");
    return st;
}

/* --jacobian, --hessian, --order: evaluate with the graph, then transform */
static tg_status run_transform(tg_program *prog, tg_env *env, const options *o)
{
    tg_tensor *inputs[MAX_VARS], *out[MAX_VARS * 4] = {0};
    const char *names[MAX_VARS];
    int n = 0;
    for (int i = 0; i < env->n; i++)
        if (env->values[i]->requires_grad) {
            names[n] = env->names[i];
            inputs[n++] = tg_ref(env->values[i]);
        }
    tg_tensor *value = tg_program_eval(prog, env);
    tg_status st = value ? TG_OK : tg_errcode();
    if (st == TG_OK && n == 0)
        st = tg_error(TG_EUSAGE, "there is no variable to differentiate (give a float variable with --at)");
    if (st == TG_OK && o->njvp) {
        tg_tensor *tan[MAX_VARS] = {0}, *jv = NULL;
        for (int i = 0; i < n && st == TG_OK; i++)
            if (!(tan[i] = tg_zeros(inputs[i]->dtype, inputs[i]->ndim, inputs[i]->shape)))
                st = tg_errcode();
        for (int k = 0; k < o->njvp && st == TG_OK; k++) {
            const char *eq = strchr(o->jvp[k], '=');
            int which = -1;
            if (eq && !is_identifier(o->jvp[k], (size_t)(eq - o->jvp[k])))
                eq = NULL;
            for (int i = 0; eq && i < n; i++)
                if (strlen(names[i]) == (size_t)(eq - o->jvp[k]) && !strncmp(names[i], o->jvp[k], eq - o->jvp[k]))
                    which = i;
            if (!eq && n == 1) { /* one variable: --jvp TANGENT */
                which = 0;
                eq = o->jvp[k] - 1;
            }
            if (which < 0) {
                st = tg_error(TG_EUSAGE, "--jvp %.40s: expected NAME=TANGENT for a differentiated variable", o->jvp[k]);
                break;
            }
            tg_release(tan[which]);
            if (!(tan[which] = tg_load_arg(eq + 1, inputs[which]->dtype, NULL)))
                st = tg_errcode();
        }
        if (st == TG_OK && (st = tg_jvp(value, inputs, tan, n, &jv)) == TG_OK) {
            printf("{\"value\":");
            st = tg_json_write(stdout, value);
            printf(",\"jvp\":");
            if (st == TG_OK)
                st = tg_json_write(stdout, jv);
            printf("}\n");
        }
        tg_release(jv);
        for (int i = 0; i < n; i++)
            tg_release(tan[i]);
    } else if (st == TG_OK && o->jacobian) {
        if ((st = (o->jac_fwd ? tg_jacobian_fwd : tg_jacobian)(value, inputs, n, out)) == TG_OK)
            st = write_named(value, "jacobian", names, out, n, NULL);
        for (int i = 0; i < n; i++)
            tg_release(out[i]);
    } else if (st == TG_OK && o->hessian) {
        if (n > 64)
            st = tg_error(TG_EUSAGE, "--hessian takes at most 64 variables");
        else if ((st = tg_hessian(value, inputs, n, out)) == TG_OK) {
            printf("{\"value\":");
            st = tg_json_write(stdout, value);
            printf(",\"hessian\":{");
            for (int a = 0; a < n && st == TG_OK; a++) {
                printf("%s\"%s\":{", a ? "," : "", names[a]);
                for (int b = 0; b < n && st == TG_OK; b++) {
                    printf("%s\"%s\":", b ? "," : "", names[b]);
                    st = tg_json_write(stdout, out[a * n + b]);
                }
                printf("}");
            }
            printf("}}\n");
        }
        for (int i = 0; i < n * n; i++)
            tg_release(out[i]);
    } else if (st == TG_OK) {
        if (n != 1)
            st = tg_error(TG_EUSAGE, "--order needs exactly one variable to differentiate, not %d", n);
        else if ((out[0] = tg_nth_derivative(value, inputs[0], (int)o->order))) {
            char extra[64];
            snprintf(extra, sizeof extra, ",\"order\":%ld", o->order);
            st = write_named(value, "derivative", names, out, 1, extra);
            tg_release(out[0]);
        } else
            st = tg_errcode();
    }
    tg_release(value);
    for (int i = 0; i < n; i++)
        tg_release(inputs[i]);
    return st;
}

/* -o FILE and --out-dir DIR: the value to FILE (else DIR/value.npy), each
 * gradient to DIR/grad_NAME.npy, and the object printed names the files,
 * {"value":"DIR/value.npy","grad":{"x":"DIR/grad_x.npy"}}; written whole
 * or not at all (tgrad(1), FILES) */
static tg_status write_out_dir(const options *o, const tg_tensor *value, const char *const *names,
                               tg_tensor *const *grads, int n)
{
    return tg_write_result_files(stdout, o->out, o->out_dir, value, names, grads, n, o->pretty);
}

/* --graph dot|json of the graph that leads to value */
static tg_status write_graph(tg_tensor *value, const options *o)
{
    tg_graph g;
    if (tg_graph_collect(value, &g) != TG_OK)
        return tg_errcode();
    tg_status st = !strcmp(o->graph, "dot") ? tg_graph_write_dot(stdout, &g, o->graph_values)
                                            : tg_graph_write_json(stdout, &g, o->graph_values);
    tg_graph_free(&g);
    return st == TG_OK ? tg_cli_finish_output() : st;
}

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

/* Which node first produced a NaN or infinity; as an error (status 3) or a
 * warning.  Returns false when it made an error. */
static bool report_anomaly(bool as_error)
{
    bool backward;
    const char *op;
    const tg_tensor *t = tg_anomaly_first(&backward, &op);
    if (!t)
        return true;
    bool nan = false;
    for (int64_t i = 0; i < t->numel && !nan; i++)
        nan = tg_get(t, i) != tg_get(t, i);
    const char *what = op ? op : "an input";
    const char *kind = as_error ? "anomaly" : "warning: anomaly";
    if (backward)
        tg_error_at(t->pos, TG_EINPUT, "%s: the backward pass of %s produced a NaN or an infinity while "
                    "its upstream gradient was finite", kind, what);
    else
        tg_error_at(t->pos, TG_EINPUT, "%s: %s produced %s from finite inputs in the forward pass",
                    kind, what, nan ? "NaN" : "an infinity");
    if (as_error)
        return false;
    tg_cli_fail(TOOL);
    tg_error_clear();
    return true;
}

/* --lines: one JSON object of inputs per line of standard input, one
 * result per line of output; the program is parsed once and each line's
 * tensors are freed before the next, so memory stays constant. */
static int run_lines(tg_program *prog, const options *o)
{
    tg_env fixed = {0};
    int status = 0;
    if (bind_inputs(prog, &fixed, o) != TG_OK) {
        tg_env_free(&fixed);
        return tg_cli_fail(TOOL);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    while (status == 0 && (len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)len)
            continue;
        tg_env env = {0};
        tg_tensor *grads[MAX_VARS] = {0}, *value = NULL;
        named_ctx c = {&env, o};
        tg_status st = TG_OK;
        for (int i = 0; i < fixed.n && st == TG_OK; i++)
            st = tg_env_set(&env, fixed.names[i], tg_ref(fixed.values[i]));
        if (st == TG_OK)
            st = tg_json_parse_named(line, (size_t)len, -1, bind_named, &c);
        tg_grad_opts go = {.no_grad = o->no_grad};
        if (st == TG_OK && !(value = tg_grad_eval(prog, &env, env.n, &go, grads)))
            st = tg_errcode();
        if (st == TG_OK) {
            const char *names[MAX_VARS];
            for (int i = 0; i < env.n && i < MAX_VARS; i++)
                names[i] = env.names[i];
            st = tg_write_result(stdout, value, o->no_grad ? NULL : names, grads, env.n, false);
        }
        if (st != TG_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", tg_errmsg());
            tg_error_clear();
            tg_error(st, "line %ld: %s", lineno, msg);
            status = tg_cli_fail(TOOL);
        }
        for (int i = 0; i < MAX_VARS; i++)
            tg_release(grads[i]);
        tg_release(value);
        tg_env_free(&env);
    }
    free(line);
    tg_env_free(&fixed);
    if (status == 0 && tg_cli_finish_output() != TG_OK)
        status = tg_cli_fail(TOOL);
    return status;
}

/* Several expressions over the same variables, one backward pass each:
 * a result line per expression with its own gradients (zero_grad before
 * each), or with --accumulate the gradients added up across the passes, as
 * repeated backward() without zero_grad() does:
 *   {"values":[v1,v2,...],"grad":{"x":g1+g2+...}} */
static int run_several(tg_program *first, const options *o)
{
    tg_env env = {0};
    tg_program *progs[65] = {first};
    int np = 1 + o->nmore, status = 0, nvars = 0;
    char *values = NULL;
    size_t vlen = 0;
    FILE *vs = NULL;
    tg_tensor *grads[MAX_VARS] = {0}, *inputs[MAX_VARS];
    const char *names[MAX_VARS];
    for (int k = 1; k < np; k++)
        if (!(progs[k] = tg_program_parse(o->more[k - 1]))) {
            tg_cli_set_source(o->more[k - 1]);
            goto fail;
        }
    if (bind_inputs(first, &env, o) != TG_OK)
        goto fail;
    nvars = env.n;
    for (int i = 0; i < nvars; i++) {
        names[i] = env.names[i];
        inputs[i] = tg_ref(env.values[i]);
    }
    if (!(vs = open_memstream(&values, &vlen)))
        goto fail;
    for (int k = 0; k < np; k++) {
        tg_cli_set_source(k ? o->more[k - 1] : o->expr);
        tg_grad_opts go = {.no_grad = o->no_grad, .accumulate = o->accumulate};
        if (o->grad_output && !(go.grad_output = tg_load_arg(o->grad_output, -1, NULL)))
            goto fail;
        for (int i = 0; i < nvars; i++) { /* each expression starts from the inputs */
            tg_release(env.values[i]);
            env.values[i] = tg_ref(inputs[i]);
            tg_release(grads[i]);
            grads[i] = NULL;
        }
        tg_tensor *v = tg_grad_eval(progs[k], &env, nvars, &go, grads);
        if (!v)
            goto fail;
        tg_status st = TG_OK;
        if (o->accumulate) {
            fputs(k ? "," : "", vs);
            st = tg_json_write(vs, v);
        } else
            st = tg_write_result(vs, v, o->no_grad ? NULL : names, grads, nvars, o->pretty);
        tg_release(v);
        if (st != TG_OK)
            goto fail;
    }
    fclose(vs);
    vs = NULL;
    if (o->accumulate) {
        printf("{\"values\":[%s],\"grad\":{", values);
        for (int i = 0, k = 0; i < nvars; i++) {
            if (!grads[i])
                continue;
            printf("%s\"%s\":", k++ ? "," : "", names[i]);
            if (tg_json_write(stdout, grads[i]) != TG_OK)
                goto fail;
        }
        printf("}}\n");
    } else
        fwrite(values, 1, vlen, stdout);
    if (tg_cli_finish_output() != TG_OK)
        goto fail;
    goto done;
fail:
    status = tg_cli_fail(TOOL);
done:
    if (vs)
        fclose(vs);
    free(values);
    for (int i = 0; i < MAX_VARS; i++)
        tg_release(grads[i]);
    for (int i = 0; i < nvars; i++)
        tg_release(inputs[i]);
    tg_env_free(&env);
    for (int k = 1; k < np; k++)
        tg_program_free(progs[k]);
    return status;
}

static int run(const options *o)
{
    tg_program *prog = tg_program_parse(o->expr);
    if (!prog)
        return tg_cli_fail(TOOL);
    if (o->lines) {
        int st = run_lines(prog, o);
        tg_program_free(prog);
        return st;
    }
    if (o->nmore) {
        int st = run_several(prog, o);
        tg_program_free(prog);
        return st;
    }
    tg_env env = {0};
    tg_tensor *grads[MAX_VARS] = {0}, *inputs[MAX_VARS];
    tg_tensor *value = NULL;
    tg_grad_opts go = {.no_grad = o->no_grad, .sum_output = o->batch != NULL};
    tg_set_vmap(o->batch != NULL);
    int status = 0, nvars = 0;
    const char *names[MAX_VARS];
    if (bind_inputs(prog, &env, o) != TG_OK)
        goto fail;
    if (o->grad_output && !(go.grad_output = tg_load_arg(o->grad_output, -1, NULL)))
        goto fail;
    nvars = env.n;
    for (int i = 0; i < nvars; i++) {
        names[i] = env.names[i];
        inputs[i] = tg_ref(env.values[i]);
    }
    if (o->jacobian || o->hessian || o->order || o->njvp) {
        if (o->no_grad || o->grad_output) {
            tg_error(TG_EUSAGE, "--jacobian, --jvp, --hessian and --order do not combine with --no-grad or --grad-output");
            goto fail;
        }
        if (run_transform(prog, &env, o) != TG_OK || tg_cli_finish_output() != TG_OK)
            goto fail;
        goto done;
    }
    if (o->explain) {
        tg_tensor *diff[MAX_VARS];
        const char *dnames[MAX_VARS];
        int nd = 0;
        for (int i = 0; i < nvars; i++)
            if (inputs[i]->requires_grad) {
                diff[nd] = inputs[i];
                dnames[nd++] = names[i];
            }
        if (!(value = tg_program_eval(prog, &env)))
            goto fail;
        tg_tensor *gout = go.grad_output;
        go.grad_output = NULL;
        if (!gout && nd && value->requires_grad && value->numel != 1) {
            tg_error(TG_EINPUT, "--explain: the result is not a single number; reduce it or give --grad-output");
            goto fail;
        }
        if (tg_explain(value, gout, diff, dnames, nd, !strcmp(o->explain, "json"), stdout) != TG_OK ||
            tg_cli_finish_output() != TG_OK)
            goto fail;
        goto done;
    }
    if (o->graph && !go.grad_output) {
        /* the graph alone needs no backward pass; with --graph-values a
         * single-number result gets one, for the gradients */
        go.no_grad = false;
        if (!(value = tg_program_eval(prog, &env)))
            goto fail;
        if (o->graph_values && value->requires_grad && value->numel == 1) {
            tg_backward_hook = tg_hook_retain_grads;
            if (tg_backward(value, NULL, true, false) != TG_OK)
                goto fail;
        }
        if (write_graph(value, o) != TG_OK)
            goto fail;
        goto done;
    }
    if (o->graph && o->graph_values)
        tg_backward_hook = tg_hook_retain_grads;
    tg_anomaly_enable(o->detect_anomaly);
    go.retain_graph = o->graph != NULL;
    if (o->compile && !o->graph && !o->batch && !o->detect_anomaly) {
        tg_grad_opts co = go;
        co.grad_output = tg_ref(go.grad_output);
        tg_status cs = tg_compiled_eval(prog, &env, nvars, &co, &value, grads);
        if (cs != TG_OK && cs != TG_NO)
            goto fail;
    }
    if (!value) {
        value = tg_grad_eval(prog, &env, nvars, &go, grads);
        go.grad_output = NULL; /* consumed */
    }
    if (o->detect_anomaly && !report_anomaly(true))
        goto fail;
    if (!value)
        goto fail;
    bool finite = all_finite(value);
    for (int i = 0; i < nvars; i++)
        finite = finite && all_finite(grads[i]);
    if (!finite && !o->detect_anomaly && !o->graph) {
        /* run again with detection on, to say where the first one came from */
        tg_tensor *again[MAX_VARS];
        tg_grad_opts go2 = {.no_grad = o->no_grad};
        tg_anomaly_enable(true);
        if (!o->grad_output || (go2.grad_output = tg_load_arg(o->grad_output, -1, NULL))) {
            tg_release(tg_grad_eval(prog, &env, nvars, &go2, again));
            for (int i = 0; i < nvars; i++)
                tg_release(again[i]);
        }
        tg_error_clear();
        report_anomaly(false);
        tg_anomaly_enable(false);
    }
    if (o->graph) {
        if (write_graph(value, o) != TG_OK)
            goto fail;
        goto done;
    }
    if (o->out || o->out_dir) {
        /* the tensors to files; the JSON names the files */
        if (write_out_dir(o, value, o->no_grad ? NULL : names, grads, nvars) != TG_OK ||
            tg_cli_finish_output() != TG_OK)
            goto fail;
        goto done;
    }
    char extra[4096] = "";
    bool check_failed = false;
    if (o->check) {
        tg_gradcheck_var res[MAX_VARS];
        bool passed;
        if (tg_gradcheck(prog, &env, nvars, 1e-6, 1e-5, 1e-3, res, &passed) != TG_OK)
            goto fail;
        size_t len = snprintf(extra, sizeof extra, ",\"check\":{\"passed\":%s,\"eps\":1e-06,\"atol\":1e-05,"
                              "\"rtol\":0.001,\"variables\":{", passed ? "true" : "false");
        for (int i = 0, k = 0; i < nvars && len < sizeof extra; i++) {
            if (!inputs[i]->requires_grad)
                continue;
            char e[32], a[32], nu[32];
            tg_format_number(e, res[k].max_abs_error, TG_FLOAT64);
            tg_format_number(a, res[k].analytic, TG_FLOAT64);
            tg_format_number(nu, res[k].numeric, TG_FLOAT64);
            len += snprintf(extra + len, sizeof extra - len,
                            "%s\"%s\":{\"passed\":%s,\"max_abs_error\":%s,\"worst\":{\"input_index\":%lld,"
                            "\"output_index\":%lld,\"analytic\":%s,\"numeric\":%s}}",
                            k ? "," : "", names[i], res[k].passed ? "true" : "false", e,
                            (long long)res[k].worst_input, (long long)res[k].worst_output, a, nu);
            k++;
        }
        if (len < sizeof extra)
            snprintf(extra + len, sizeof extra - len, "}}");
        check_failed = !passed;
    }
    if (tg_write_result_extra(stdout, value, o->no_grad ? NULL : names, grads, nvars, o->pretty, extra) != TG_OK ||
        tg_cli_finish_output() != TG_OK)
        goto fail;
    if (check_failed) {
        fprintf(stderr, "%s: gradient check failed: the analytic gradient differs from finite differences "
                "(see \"check\" in the output)\n", TOOL);
        status = 1;
    }
    goto done;
fail:
    status = tg_cli_fail(TOOL);
done:
    tg_backward_hook = NULL;
    tg_anomaly_enable(false);
    tg_release(go.grad_output);
    for (int i = 0; i < MAX_VARS; i++)
        tg_release(grads[i]);
    for (int i = 0; i < nvars; i++)
        tg_release(inputs[i]);
    tg_release(value);
    tg_env_free(&env);
    tg_program_free(prog);
    return status;
}

int main(int argc, char **argv)
{
    enum { O_AT = 256, O_ACCUMULATE, O_JVP, O_OUT_DIR, O_COMPILE, O_BATCH, O_LINES, O_GRAPH, O_GRAPH_VALUES, O_EXPLAIN, O_CHECK, O_ANOMALY, O_JACOBIAN, O_HESSIAN, O_ORDER, O_INPUTS, O_WRT, O_GRAD_OUTPUT, O_NO_GRAD, O_DTYPE, O_SEED, O_DEVICE, O_PRETTY, O_VERSION, O_HELP };
    static const struct option longopts[] = {
        {"at", required_argument, 0, O_AT}, {"lines", no_argument, 0, O_LINES},
        {"batch", optional_argument, 0, O_BATCH},
        {"compile", no_argument, 0, O_COMPILE},
        {"out-dir", required_argument, 0, O_OUT_DIR}, {"jacobian", optional_argument, 0, O_JACOBIAN},
        {"jvp", required_argument, 0, O_JVP}, {"accumulate", no_argument, 0, O_ACCUMULATE},
        {"hessian", no_argument, 0, O_HESSIAN}, {"graph", required_argument, 0, O_GRAPH},
        {"graph-values", no_argument, 0, O_GRAPH_VALUES}, {"explain", optional_argument, 0, O_EXPLAIN},
        {"check", no_argument, 0, O_CHECK}, {"detect-anomaly", no_argument, 0, O_ANOMALY}, {"order", required_argument, 0, O_ORDER}, {"inputs", required_argument, 0, O_INPUTS},
        {"wrt", required_argument, 0, O_WRT}, {"grad-output", required_argument, 0, O_GRAD_OUTPUT},
        {"no-grad", no_argument, 0, O_NO_GRAD}, {"dtype", required_argument, 0, O_DTYPE},
        {"seed", required_argument, 0, O_SEED}, {"device", required_argument, 0, O_DEVICE},
        {"out", required_argument, 0, 'o'}, {"file", required_argument, 0, 'f'}, {"pretty", no_argument, 0, O_PRETTY},
        {"version", no_argument, 0, O_VERSION}, {"help", no_argument, 0, O_HELP}, {0, 0, 0, 0}};
    options o = {0};
    opterr = 0;
    int c;
    long seed;
    if (tg_device_from_env() != TG_OK)
        return tg_cli_fail(TOOL);
    tg_cli_letter_operands = true;
    argv = tg_cli_operands_last(argc, argv, ":o:f:h", longopts, &argc);
    while ((c = getopt_long(argc, argv, ":o:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case O_AT:
            if (o.nat == MAX_VARS) {
                tg_error(TG_EUSAGE, "too many --at options (at most %d)", MAX_VARS);
                return tg_cli_fail(TOOL);
            }
            o.at[o.nat++] = optarg;
            break;
        case O_INPUTS: o.inputs = optarg; break;
        case O_JACOBIAN:
            if (optarg && strcmp(optarg, "rev") && strcmp(optarg, "fwd")) {
                tg_error(TG_EUSAGE, "--jacobian takes rev (reverse mode, the default) or fwd, not '%.40s'", optarg);
                return tg_cli_fail(TOOL);
            }
            o.jacobian = true;
            o.jac_fwd = optarg && !strcmp(optarg, "fwd");
            break;
        case O_ACCUMULATE: o.accumulate = true; break;
        case O_JVP:
            if (o.njvp == MAX_VARS) {
                tg_error(TG_EUSAGE, "too many --jvp options");
                return tg_cli_fail(TOOL);
            }
            o.jvp[o.njvp++] = optarg;
            break;
        case O_LINES: o.lines = true; break;
        case O_BATCH: o.batch = optarg ? optarg : ""; break;
        case O_COMPILE: o.compile = true; break;
        case O_OUT_DIR: o.out_dir = optarg; break;
        case O_GRAPH:
            if (strcmp(optarg, "dot") && strcmp(optarg, "json")) {
                tg_error(TG_EUSAGE, "--graph expects dot or json, not '%.40s'", optarg);
                return tg_cli_fail(TOOL);
            }
            o.graph = optarg;
            break;
        case O_GRAPH_VALUES: o.graph_values = true; break;
        case O_EXPLAIN:
            if (optarg && strcmp(optarg, "text") && strcmp(optarg, "json")) {
                tg_error(TG_EUSAGE, "--explain takes text or json, not '%.40s'", optarg);
                return tg_cli_fail(TOOL);
            }
            o.explain = optarg ? optarg : "text";
            break;
        case O_CHECK: o.check = true; break;
        case O_ANOMALY: o.detect_anomaly = true; break;
        case O_HESSIAN: o.hessian = true; break;
        case O_ORDER:
            if (tg_cli_parse_long("--order", optarg, 1, 64, &o.order) != TG_OK)
                return tg_cli_fail(TOOL);
            break;
        case O_WRT: o.wrt = optarg; break;
        case O_GRAD_OUTPUT: o.grad_output = optarg; break;
        case O_NO_GRAD: o.no_grad = true; break;
        case O_DTYPE: {
            tg_dtype dt;
            if (tg_dtype_parse(optarg, &dt) != TG_OK || !tg_dtype_is_float(dt)) {
                tg_error_clear();
                tg_error(TG_EUSAGE, "--dtype expects float32 or float64, not '%.40s'", optarg);
                return tg_cli_fail(TOOL);
            }
            tg_default_float = dt;
            break;
        }
        case O_SEED:
            if (tg_cli_parse_long("--seed", optarg, 0, LONG_MAX, &seed) != TG_OK)
                return tg_cli_fail(TOOL);
            tg_seed((uint64_t)seed);
            break;
        case O_DEVICE:
            if (tg_device_select(optarg) != TG_OK)
                return tg_cli_fail(TOOL);
            break;
        case 'o': o.out = optarg; break;
        case 'f': o.file = optarg; break;
        case O_PRETTY: o.pretty = true; break;
        case O_VERSION: return tg_cli_print(TOOL, "tgrad " TG_VERSION "\n");
        case 'h':
        case O_HELP: return tg_cli_print(TOOL, usage);
        default: /* ':' or '?' */
            return tg_cli_bad_option(TOOL, c, argv);
        }
    }
    if (optind < argc && !o.expr)
        o.expr = argv[optind++];
    while (optind < argc) {
        if (o.nmore == 64) {
            tg_error(TG_EUSAGE, "too many expressions (at most 65)");
            return tg_cli_fail(TOOL);
        }
        o.more[o.nmore++] = argv[optind++];
    }
    if (o.nmore && o.batch && !*o.batch) { /* "--batch x EXPR": getopt's optional arguments need '=' */
        tg_error(TG_EUSAGE, "--batch takes its names after '=' (--batch=%.40s): '%.40s' was read as an "
                 "expression", o.expr, o.expr);
        return tg_cli_fail(TOOL);
    }
    if (o.nmore && (o.jacobian || o.njvp || o.hessian || o.order || o.graph || o.explain || o.check ||
                    o.lines || o.batch || o.compile || o.out || o.out_dir || o.file)) {
        tg_error(TG_EUSAGE, "several expressions are evaluated one backward pass after another: that "
                 "does not combine with the transforms, --file, -o or --out-dir");
        return tg_cli_fail(TOOL);
    }
    if (o.accumulate && !o.nmore) {
        tg_error(TG_EUSAGE, "--accumulate adds the gradients of several expressions: give more than one");
        return tg_cli_fail(TOOL);
    }
    if (o.jacobian + o.hessian + (o.order > 0) + (o.graph != NULL) + (o.explain != NULL) + o.check + o.lines +
            (o.njvp > 0) > 1) {
        tg_error(TG_EUSAGE, "choose one of --jacobian, --jvp, --hessian, --order, --graph, --explain, --check and --lines");
        return tg_cli_fail(TOOL);
    }
    if ((o.out || o.out_dir) && (o.jacobian || o.njvp || o.hessian || o.order || o.graph || o.explain || o.check)) {
        tg_error(TG_EUSAGE, "-o and --out-dir write the value of a plain evaluation: they do not "
                 "combine with --jacobian, --hessian, --order, --graph, --explain or --check");
        return tg_cli_fail(TOOL);
    }
    if (o.lines && (o.out || o.out_dir || o.grad_output || o.pretty || o.batch || o.compile)) {
        tg_error(TG_EUSAGE, "--lines writes one compact line per input line: it does not combine with "
                 "-o, --grad-output, --pretty, --batch or --compile");
        return tg_cli_fail(TOOL);
    }
    if (o.file && o.expr) {
        tg_error(TG_EUSAGE, "give the expression either as an argument or with --file, not both");
        return tg_cli_fail(TOOL);
    }
    if (o.file) { /* the text lives until exit */
        size_t len;
        char *text = tg_read_file(o.file, &len);
        if (!text)
            return tg_cli_fail(TOOL);
        if (strlen(text) != len) {
            tg_free(text);
            tg_error(TG_EINPUT, "%.200s: the expression file contains a NUL byte", o.file);
            return tg_cli_fail(TOOL);
        }
        o.expr = text;
    }
    if (!o.expr) {
        tg_error(TG_EUSAGE, "no expression given (usage: tgrad EXPR --at VALUE; see tgrad --help)");
        return tg_cli_fail(TOOL);
    }
    tg_cli_set_source(o.expr);
    return run(&o);
}
