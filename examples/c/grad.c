/* grad.c -- the library behind tgrad, from C: the value and gradient of
 * f(x) = x**3 + 2*x**2 - 5*x + 3 at x = 2 (9 and 15), three ways.
 *
 *   1. the expression language: tg_program_parse + tg_grad_eval, what
 *      `tgrad 'x**3+2*x**2-5*x+3' --at 2` does;
 *   2. the op functions (tg_pow, tg_mul, tg_add, tg_sub) and tg_backward,
 *      as in tg.h's opening example;
 *   3. gradient accumulation: a second tg_backward adds into x->grad
 *      (15 + 15 = 30) until tg_zero_grad clears it, as in PyTorch.
 *
 * Build it against an installed library through pkg-config:
 *
 *   make install PREFIX=/usr DESTDIR=/tmp/tg
 *   export PKG_CONFIG_PATH=/tmp/tg/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=/tmp/tg
 *   cc -std=gnu11 -o grad examples/c/grad.c $(pkg-config --cflags --libs --static tg)
 *   ./grad
 *
 * (--static: libtg.a needs its private dependencies on the link line.)
 * Ownership, as tg.h says: every function consumes its tensor arguments
 * and returns a new reference; tg_ref keeps one of your own. */
#include <stdio.h>
#include <stdlib.h>
#include <tg.h>

static int fail(const char *what)
{
    fprintf(stderr, "grad: %s: %s\n", what, tg_errmsg());
    return tg_errcode() ? (int)tg_errcode() : 1;
}

/* 1. The expression language. */
static int with_program(const char *src, double at)
{
    tg_program *p = tg_program_parse(src);
    if (!p)
        return fail("parse");
    const char *names[8];
    int nvars = tg_program_free_names(p, names, 8); /* its variables: x */
    if (nvars != 1) {
        fprintf(stderr, "grad: expected one variable, found %d\n", nvars);
        tg_program_free(p);
        return 1;
    }
    tg_env env = {0};
    tg_tensor *x = tg_scalar(at, TG_FLOAT32);
    if (!x) {
        tg_program_free(p);
        return fail("tg_scalar");
    }
    tg_set_requires_grad(x, true); /* x = torch.tensor(2.0, requires_grad=True) */
    if (tg_env_set(&env, names[0], x) != TG_OK) { /* consumes x */
        tg_env_free(&env);
        tg_program_free(p);
        return fail("tg_env_set");
    }
    tg_grad_opts opts = {0}; /* grad mode on, a scalar result, no upstream gradient */
    tg_tensor *grads[1];
    tg_tensor *y = tg_grad_eval(p, &env, nvars, &opts, grads);
    if (!y) {
        tg_env_free(&env);
        tg_program_free(p);
        return fail("tg_grad_eval");
    }
    printf("tg_grad_eval:  f(%g) = %g, df/d%s = %g\n", at, tg_item(y), names[0], tg_item(grads[0]));
    /* the same JSON object tgrad prints */
    printf("as tgrad:      ");
    tg_status st = tg_write_result(stdout, y, names, grads, nvars, false); /* ends the line */
    tg_release(grads[0]);
    tg_release(y);
    tg_env_free(&env);
    tg_program_free(p);
    return st == TG_OK ? 0 : fail("tg_write_result");
}

/* f(x) from the op functions; x is borrowed (the ops consume the tg_ref's). */
static tg_tensor *f_ops(tg_tensor *x)
{
    tg_tensor *x3 = tg_pow(tg_ref(x), tg_scalar(3, TG_FLOAT32));
    tg_tensor *x2 = tg_mul(tg_scalar(2, TG_FLOAT32), tg_pow(tg_ref(x), tg_scalar(2, TG_FLOAT32)));
    tg_tensor *x1 = tg_mul(tg_scalar(5, TG_FLOAT32), tg_ref(x));
    /* NULL in, NULL out: the first error set is the one reported */
    return tg_add(tg_sub(tg_add(x3, x2), x1), tg_scalar(3, TG_FLOAT32));
}

/* 2. and 3. The op functions, tg_backward and accumulation. */
static int with_ops(double at)
{
    tg_tensor *x = tg_scalar(at, TG_FLOAT32);
    if (!x)
        return fail("tg_scalar");
    tg_set_requires_grad(x, true);
    tg_tensor *f = f_ops(x);
    /* retain_graph: the graph is kept for the second pass below */
    if (!f || tg_backward(f, NULL, true, false) != TG_OK) {
        tg_release(f);
        tg_release(x);
        return fail("f.backward()");
    }
    printf("op functions:  f(%g) = %g, x.grad = %g  (tg_backward)\n", at, tg_item(f), tg_item(x->grad));

    /* A second backward pass adds into x.grad: 15 + 15. */
    if (tg_backward(f, NULL, false, false) != TG_OK) {
        tg_release(f);
        tg_release(x);
        return fail("second backward");
    }
    printf("accumulation:  x.grad = %g after a second backward (15 + 15)\n", tg_item(x->grad));
    tg_release(f);

    /* x.grad.zero_() (optimizer.zero_grad()), then a fresh graph and pass. */
    tg_zero_grad(x);
    printf("tg_zero_grad:  x.grad is %s\n", x->grad ? "set" : "cleared (None)");
    f = f_ops(x);
    if (!f || tg_backward(f, NULL, false, false) != TG_OK) {
        tg_release(f);
        tg_release(x);
        return fail("third backward");
    }
    printf("fresh pass:    x.grad = %g\n", tg_item(x->grad));
    tg_release(f);
    tg_release(x);
    return 0;
}

int main(void)
{
    printf("tg %s: f(x) = x**3 + 2*x**2 - 5*x + 3, f'(x) = 3*x**2 + 4*x - 5\n", TG_VERSION);
    int st = with_program("x**3 + 2*x**2 - 5*x + 3", 2.0);
    if (st == 0)
        st = with_ops(2.0);
    return st;
}
