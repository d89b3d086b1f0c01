/* tgrad -- the value and gradients of an expression (tgrad(1)).
 *   tgrad 'x**3+2*x**2-5*x+3' --at 2   ->   {"value":9,"grad":{"x":15}}
 * The options are parsed in tgrad_args.c; here each mode is one library
 * call and its printing.  Binding the variables, evaluating and the
 * result's JSON are the library's (lib/expr/bind.c, lib/expr/grad_run.c,
 * lib/io/result.c). */
#include "tgrad.h"
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

/* the result text to standard output, whole, after st (TG_OK, or an
 * error to report instead); 0 or the exit status */
static int print(tg_status st, tg_buf *b)
{
    if (st == TG_OK)
        st = tg_buf_write(b, stdout);
    if (st == TG_OK)
        st = tg_cli_finish_output();
    tg_buf_free(b);
    return st == TG_OK ? 0 : tg_cli_fail(TOOL);
}

static tg_status bind(tg_program *prog, tg_env *env, const options *o, bool all_wrt)
{
    return tg_env_bind_args(env, prog, o->at, o->nat, o->inputs, &o->run.bind, all_wrt);
}

/* the value and gradients (--check, -o, --out-dir) */
static int run_eval(tg_program *prog, tg_env *env, const options *o)
{
    int nvars = env->n;
    bool warned = false, passed = true;
    tg_tensor **grads = calloc((size_t)nvars + 1, sizeof *grads), *value = NULL;
    tg_buf out = {0};
    tg_status st = grads ? TG_OK : tg_error(TG_ERESOURCE, "out of memory");
    if (st == TG_OK && (value = tg_run_eval(prog, env, &o->run, grads, &warned)) && warned) {
        tg_cli_fail(TOOL); /* the warning */
        tg_error_clear();
    }
    if (st == TG_OK && !value)
        st = tg_errcode();
    if (st == TG_OK && (o->out || o->out_dir)) /* the tensors to files, whole or not at all; */
        st = tg_write_result_files(stdout, o->out, o->out_dir, value, /* the JSON names the files */
                                   o->run.bind.no_grad ? NULL : (const char *const *)env->names, grads, nvars,
                                   o->run.pretty);
    else if (st == TG_OK && o->jsonl)
        st = tg_run_points(env, nvars, value, grads, &o->run, stdout);
    else if (st == TG_OK) /* written as it is produced: a result may be 100 MB of text */
        st = tg_run_result_write(prog, env, nvars, value, grads, &o->run, o->check, stdout, &passed);
    int status = print(st, &out);
    if (status == 0 && !passed) {
        fprintf(stderr, "%s: gradient check failed: the analytic gradient differs from finite differences "
                "(see \"check\" in the output)\n", TOOL);
        status = 1;
    }
    for (int i = 0; grads && i < nvars; i++)
        tg_release(grads[i]);
    free(grads);
    tg_release(value);
    return status;
}

/* Several expressions over the same variables, one backward pass each
 * (see tg_run_several) */
static int run_several(tg_program *first, const options *o)
{
    int np = 1 + o->nmore, failed = -1;
    tg_program **progs = calloc((size_t)np, sizeof *progs);
    tg_env env = {0};
    tg_buf out = {0};
    tg_status st = progs ? TG_OK : tg_error(TG_ERESOURCE, "out of memory");
    for (int k = 1; k < np && st == TG_OK; k++)
        if (!(progs[k] = tg_program_parse(o->more[k - 1]))) {
            tg_cli_set_source(o->more[k - 1]);
            st = tg_errcode();
        }
    if (st == TG_OK && (progs[0] = first) && (st = bind(first, &env, o, true)) == TG_OK &&
        (st = tg_run_several(progs, np, &env, &o->run, &out, &failed)) != TG_OK && failed >= 0)
        tg_cli_set_source(failed ? o->more[failed - 1] : o->expr);
    int status = print(st, &out);
    tg_env_free(&env);
    for (int k = 1; progs && k < np; k++)
        tg_program_free(progs[k]);
    free(progs);
    return status;
}

/* --lines: a script that writes a line and waits for its result gets it
 * at once (the output is flushed whenever the input has nothing more yet);
 * a file's lines, or a pipe's that keep coming, are written in blocks */
static tg_status run_lines(tg_program *prog, const tg_env *env, const options *o)
{
    struct stat st;
    tg_lines_opts lo = o->lines_opts;
    lo.flush = o->unbuffered;
    lo.flush_idle = fstat(fileno(stdin), &st) != 0 || !S_ISREG(st.st_mode);
    return tg_run_lines(prog, env, &o->run, &lo, stdin, stdout);
}

static int run(const options *o)
{
    tg_program *prog = o->python ? NULL : tg_program_parse(o->expr);
    tg_env env = {0};
    tg_buf out = {0}, none = {0}; /* (--lines, --explain and --graph write as they go) */
    int status;
    if (o->python) {
        tg_program_free(prog);
        return print(tg_python_run(o->expr, o->run.pretty, &out), &out);
    }
    if (!prog)
        return tg_cli_fail(TOOL);
    tg_set_vmap(o->run.bind.batch != NULL);
    if (o->train.names)
        status = print(tg_run_train(prog, o->at, o->nat, o->inputs, &o->train, &out), &out);
    else if (o->plot)
        status = print(tg_run_plot(prog, o->at, o->nat, o->inputs, &o->plot_opts, stdout), &none);
    else if (o->nmore)
        status = run_several(prog, o);
    else if (bind(prog, &env, o, !o->lines) != TG_OK)
        status = tg_cli_fail(TOOL);
    else if (o->lines) /* --at and --inputs give what every line has in common */
        status = print(run_lines(prog, &env, o), &none);
    else if (o->jacobian || o->hessian || o->order || o->njvp)
        status = print(tg_run_transform(prog, &env, &o->transform, &out), &out);
    else if (o->explain)
        status = print(tg_run_explain(prog, &env, o->run.grad_output, !strcmp(o->explain, "json"), stdout), &none);
    else if (o->graph)
        status = print(tg_run_graph(prog, &env, &o->run, !strcmp(o->graph, "dot"), o->graph_values, stdout), &none);
    else
        status = run_eval(prog, &env, o);
    tg_env_free(&env);
    tg_program_free(prog);
    return status;
}

int main(int argc, char **argv)
{
    options o = {0};
    tg_train_opts_init(&o.train);
    int status = tgrad_parse_args(&o, argc, argv);
    if (status < 0) {
        tg_progress_setup(stderr, TOOL, o.progress); /* on a terminal, or with --progress */
        tg_cli_set_source(o.expr);
        status = run(&o);
        tg_cli_set_source(NULL);
    }
    tg_free(o.text);
    free(o.at);
    return status;
}
