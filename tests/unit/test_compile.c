/* test_compile.c -- compiled evaluation in process: which programs fuse,
 * and a kept plan used again on new data (the Bats tests run one call per
 * process; this is the bench's and --batch's case). */
#include "test.h"
#include <stdlib.h>

TEST(compile_only_elementwise_programs_fuse)
{
    static const struct { const char *src; bool elementwise; } cases[] = {
        {"sum(tanh(x)**2)", true},
        {"(x**3 + 2*x**2 - 5*x + 3).sum()", true},
        {"where(x > y, x, y * 2) + clamp(x, min=0)", true},
        {"y = x * 2\nsum(y * exp(-y))", true},
        {"float(x) + double(y) - x // 2 + x % 3", true},
        {"sum(x - mean(x))", false},    /* mean is a reduction */
        {"sum(x.sum(1))", false},       /* a dim */
        {"x.T * 2", false},             /* reads the shape */
        {"x * x.shape[0]", false},
        {"x * x.ndim", false},
        {"x[0] * 2", false},            /* indexing */
        {"x.reshape(-1) * 2", false},
        {"x @ y", false},
        {"x * [1.0, 2.0]", false},      /* a tensor literal */
        {"x + ones(3)", false},         /* a constructor */
        {"y = x * 1\ny += 1\nsum(y)", false}, /* in place */
        {"sum(x, 0)", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tg_program *p = tg_program_parse(cases[i].src);
        CHECK(p != NULL);
        if (p && tg_program_elementwise(p) != cases[i].elementwise) {
            test_failures++;
            fprintf(stderr, "  %s: elementwise should be %d\n", cases[i].src, cases[i].elementwise);
        }
        tg_program_free(p);
    }
}

static tg_tensor *random_input(int64_t n, double scale)
{
    tg_tensor *t = tg_empty(TG_FLOAT32, 1, &n);
    for (int64_t i = 0; t && i < n; i++)
        ((float *)tg_data(t))[i] = (float)test_uniform(-scale, scale);
    if (t)
        tg_set_requires_grad(t, true);
    return t;
}

static bool same_bytes(const tg_tensor *a, const tg_tensor *b)
{
    return a && b && a->numel == b->numel && a->dtype == b->dtype &&
           !memcmp(tg_data((tg_tensor *)a), tg_data((tg_tensor *)b), (size_t)a->numel * tg_dtype_size(a->dtype));
}

/* releases one call's results and environments, compiled and eager */
static void done_call(int nvars, tg_tensor **cg, tg_tensor **eg, tg_tensor *cv, tg_tensor *ev, tg_env *env,
                      tg_env *env2)
{
    for (int i = 0; i < nvars; i++) {
        tg_release(cg[i]);
        tg_release(eg[i]);
    }
    tg_release(cv);
    tg_release(ev);
    tg_env_free(env);
    tg_env_free(env2);
}

TEST(compile_kept_plan_on_new_data_gives_the_eager_numbers)
{
    const char *progs[] = {"sum(tanh(x) * y + x**2 * 0.5)", "sum(relu(x - y) * sigmoid(y))", "maximum(x, y) * exp(-x*x)"};
    const int64_t n = 5 * 1024 + 77; /* a partial last block */
    for (size_t k = 0; k < sizeof progs / sizeof *progs; k++) {
        tg_program *p = tg_program_parse(progs[k]);
        CHECK(p != NULL);
        for (int call = 0; p && call < 3; call++) { /* the plan is made on call 0, kept after */
            tg_env env = {0}, env2 = {0};
            tg_tensor *x = random_input(n, 2 + call), *y = random_input(n, 1);
            tg_env_set(&env, "x", tg_ref(x));
            tg_env_set(&env, "y", tg_ref(y));
            tg_env_set(&env2, "x", x);
            tg_env_set(&env2, "y", y);
            bool sum = progs[k][0] == 's';
            tg_tensor *gout = sum ? NULL : random_input(n, 1);
            tg_grad_opts o = {.grad_output = gout ? tg_ref(gout) : NULL}, o2 = {.grad_output = gout};
            tg_tensor *cv = NULL, *cg[2] = {0}, *eg[2] = {0};
            tg_status st = tg_compiled_eval(p, &env, 2, &o, &cv, cg);
            CHECK(st == TG_OK);
            tg_tensor *ev = tg_grad_eval(p, &env2, 2, &o2, eg);
            CHECK(ev != NULL);
            if (st == TG_OK && ev) {
                CHECK(same_bytes(cg[0], eg[0]));
                CHECK(same_bytes(cg[1], eg[1]));
                if (sum)
                    CHECK_CLOSE(tg_item(cv), tg_item(ev), 1e-6, 1e-6);
                else
                    CHECK(same_bytes(cv, ev));
            }
            done_call(2, cg, eg, cv, ev, &env, &env2);
        }
        tg_program_free(p);
    }
}

TEST(compile_one_value_parameter_gradients_are_summed)
{
    tg_program *p = tg_program_parse("sum((w * x - y)**2)");
    const int64_t n = 9 * 1024 + 5;
    for (int call = 0; p && call < 3; call++) { /* w changes: a new plan for each value */
        tg_env env = {0}, env2 = {0};
        tg_tensor *x = random_input(n, 2), *y = random_input(n, 1), *w = tg_scalar(0.5 + call, TG_FLOAT32);
        tg_set_requires_grad(w, true);
        const char *names[] = {"w", "x", "y"};
        tg_tensor *vals[] = {w, x, y};
        for (int i = 0; i < 3; i++) {
            tg_env_set(&env, names[i], tg_ref(vals[i]));
            tg_env_set(&env2, names[i], vals[i]);
        }
        tg_grad_opts o = {0}, o2 = {0};
        tg_tensor *cv = NULL, *cg[3] = {0}, *eg[3] = {0};
        CHECK(tg_compiled_eval(p, &env, 3, &o, &cv, cg) == TG_OK);
        tg_tensor *ev = tg_grad_eval(p, &env2, 3, &o2, eg);
        CHECK(cv && ev && cg[0] && eg[0]);
        if (cv && ev && cg[0] && eg[0]) {
            CHECK_CLOSE(tg_item(cv), tg_item(ev), 1e-6, 0);
            CHECK_CLOSE(tg_item(cg[0]), tg_item(eg[0]), 1e-6, 0);
            CHECK(cg[0]->ndim == eg[0]->ndim);
            CHECK(same_bytes(cg[1], eg[1]));
            CHECK(same_bytes(cg[2], eg[2]));
        }
        done_call(3, cg, eg, cv, ev, &env, &env2);
    }
    tg_program_free(p);
}
