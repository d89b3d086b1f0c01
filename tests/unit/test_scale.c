/* test_scale.c -- sizes from the data: environments, programs and
 * transforms with more names or inputs than any fixed array would hold,
 * and the up-front sizing of results. */
#include "test.h"
#include "expr/builtins.h"
#include "internal.h"
#include <stdlib.h>

#define MANY 1000 /* more than the 256 the library once held */

static void name_of(char *buf, size_t n, const char *prefix, int i) { snprintf(buf, n, "%s%d", prefix, i); }

TEST(env_holds_many_names_and_finds_each)
{
    tg_env env = {0};
    char nm[32];
    for (int i = 0; i < 100000; i++) {
        name_of(nm, sizeof nm, "v", i);
        CHECK(tg_env_set(&env, nm, tg_scalar(i, TG_FLOAT64)) == TG_OK);
    }
    CHECK(env.n == 100000);
    for (int i = 0; i < 100000; i += 997) {
        name_of(nm, sizeof nm, "v", i);
        tg_tensor *t = tg_env_get(&env, nm);
        CHECK(t && tg_item(t) == i);
        CHECK(!strcmp(env.names[i], nm) && env.values[i] == t); /* the public arrays, in order */
    }
    CHECK(tg_env_get(&env, "v100000") == NULL);
    CHECK(tg_env_get(&env, "") == NULL);
    /* rebinding a name keeps its place */
    CHECK(tg_env_set(&env, "v5", tg_scalar(-1, TG_FLOAT64)) == TG_OK);
    CHECK(env.n == 100000 && tg_item(env.values[5]) == -1);
    tg_env_free(&env);
    CHECK(env.n == 0 && env.names == NULL && env.index == NULL);
}

TEST(env_rebind_moves_every_sharer_and_only_those)
{
    tg_env env = {0};
    tg_tensor *a = tg_scalar(1, TG_FLOAT64), *b = tg_scalar(2, TG_FLOAT64), *c = tg_scalar(3, TG_FLOAT64);
    CHECK(tg_env_set(&env, "p", tg_ref(a)) == TG_OK);
    CHECK(tg_env_set(&env, "q", tg_ref(b)) == TG_OK);
    CHECK(tg_env_set(&env, "r", tg_ref(a)) == TG_OK);
    CHECK(tg_env_set(&env, "s", tg_ref(a)) == TG_OK);
    CHECK(tg_env_set(&env, "s", tg_ref(b)) == TG_OK); /* s leaves a: its link to a is stale */
    CHECK(tg_env_rebind(&env, a, c) == TG_OK);
    CHECK(tg_env_get(&env, "p") == c && tg_env_get(&env, "r") == c);
    CHECK(tg_env_get(&env, "q") == b && tg_env_get(&env, "s") == b);
    CHECK(tg_env_rebind(&env, a, b) == TG_OK); /* nothing is bound to a now */
    CHECK(tg_env_get(&env, "p") == c);
    CHECK(tg_env_rebind(&env, b, a) == TG_OK);
    CHECK(tg_env_get(&env, "q") == a && tg_env_get(&env, "s") == a && tg_env_get(&env, "p") == c);
    tg_env_free(&env);
    tg_release(a);
    tg_release(b);
    tg_release(c);
}

/* "y0 = x*1.0001\ny1 = y0*1.0001 ..." */
static char *chain(int n)
{
    tg_buf b = {0};
    tg_buf_printf(&b, "y0 = x*1.0001\n");
    for (int i = 1; i < n; i++)
        tg_buf_printf(&b, "y%d = y%d*1.0001\n", i, i - 1);
    return b.data;
}

TEST(program_of_many_statements_has_one_free_name)
{
    char *src = chain(MANY);
    tg_program *p = tg_program_parse(src);
    CHECK(p != NULL);
    const char *names[2];
    CHECK(tg_program_free_names(p, names, 2) == 1);
    CHECK(!strcmp(names[0], "x"));
    tg_program_free(p);
    tg_free(src);
}

TEST(program_of_many_free_names_counts_them_all)
{
    tg_buf b = {0};
    tg_buf_printf(&b, "x0");
    for (int i = 1; i < MANY; i++)
        tg_buf_printf(&b, " + x%d", i % 2 ? i : i / 2 * 2); /* each once */
    tg_buf_printf(&b, " + x0");                              /* and one again */
    tg_program *p = tg_program_parse(b.data);
    CHECK(p != NULL);
    const char **names = NULL;
    CHECK(tg_program_free_names_all(p, &names) == MANY);
    CHECK(names && !strcmp(names[0], "x0") && !strcmp(names[MANY - 1], "x999"));
    tg_free(names);
    const char *first[300];
    CHECK(tg_program_free_names(p, first, 300) == 300); /* as many as asked */
    CHECK(!strcmp(first[299], "x299"));
    tg_program_free(p);
    tg_free(b.data);
}

/* a program summing x_i * i over n variables, with its environment */
static tg_program *weighted_sum(tg_env *env, int n)
{
    tg_buf b = {0};
    char nm[32];
    for (int i = 0; i < n; i++) {
        tg_buf_printf(&b, "%sx%d * %d", i ? " + " : "", i, i);
        name_of(nm, sizeof nm, "x", i);
        tg_tensor *t = tg_scalar(1, TG_FLOAT64);
        tg_set_requires_grad(t, true);
        tg_env_set(env, nm, t);
    }
    tg_program *p = tg_program_parse(b.data);
    tg_free(b.data);
    return p;
}

TEST(grad_eval_differentiates_every_input)
{
    tg_env env = {0};
    tg_program *p = weighted_sum(&env, MANY);
    CHECK(p != NULL);
    tg_tensor *grads[MANY];
    tg_grad_opts o = {0};
    tg_tensor *v = tg_grad_eval(p, &env, MANY, &o, grads);
    CHECK(v && tg_item(v) == MANY * (MANY - 1) / 2);
    for (int i = 0; v && i < MANY; i++) {
        CHECK(grads[i] && tg_item(grads[i]) == i);
        tg_release(grads[i]);
    }
    tg_release(v);
    tg_program_free(p);
    tg_env_free(&env);
}

#define FEW 300 /* the transforms run a pass per input: fewer, still above 256 */

TEST(transforms_take_every_input)
{
    tg_env env = {0};
    tg_program *p = weighted_sum(&env, FEW);
    tg_tensor *y = tg_program_eval(p, &env);
    CHECK(y != NULL);
    tg_tensor **g = calloc(FEW, sizeof *g);
    CHECK(tg_grad(y, NULL, env.values, FEW, false, g) == TG_OK);
    CHECK(g[FEW - 1] && tg_item(g[FEW - 1]) == FEW - 1);
    for (int i = 0; i < FEW; i++)
        tg_release(g[i]);
    CHECK(tg_jacobian(y, env.values, FEW, g) == TG_OK);
    CHECK(g[FEW - 1] && tg_item(g[FEW - 1]) == FEW - 1);
    for (int i = 0; i < FEW; i++)
        tg_release(g[i]);
    CHECK(tg_jacobian_fwd(y, env.values, FEW, g) == TG_OK);
    CHECK(g[FEW - 1] && tg_item(g[FEW - 1]) == FEW - 1);
    for (int i = 0; i < FEW; i++)
        tg_release(g[i]);
    free(g);
    tg_tensor *t[FEW];
    for (int i = 0; i < FEW; i++)
        t[i] = tg_scalar(1, TG_FLOAT64);
    tg_tensor *jv = NULL;
    CHECK(tg_jvp(y, env.values, t, FEW, &jv) == TG_OK);
    CHECK(jv && tg_item(jv) == FEW * (FEW - 1) / 2);
    tg_release(jv);
    for (int i = 0; i < FEW; i++)
        tg_release(t[i]);
    tg_gradcheck_var *res = calloc(FEW, sizeof *res);
    bool passed = false;
    CHECK(tg_gradcheck(p, &env, FEW, 1e-6, 1e-5, 1e-3, res, &passed) == TG_OK && passed);
    CHECK(res[FEW - 1].passed);
    free(res);
    FILE *devnull = fopen("/dev/null", "w");
    CHECK(tg_explain(y, NULL, env.values, (const char *const *)env.names, FEW, true, devnull) == TG_OK);
    fclose(devnull);
    tg_release(y);
    tg_program_free(p);
    tg_env_free(&env);
}

TEST(hessian_is_sized_before_the_work)
{
    int64_t n = 300000; /* 300000^2 float64: 720 GB */
    tg_tensor *x = tg_zeros(TG_FLOAT64, 1, &n);
    tg_set_requires_grad(x, true);
    tg_tensor *y = tg_sum(tg_mul(tg_ref(x), tg_ref(x)), NULL, 0, false);
    tg_tensor *h = NULL;
    tg_error_clear();
    CHECK(tg_hessian(y, &x, 1, &h) == TG_ERESOURCE && h == NULL);
    CHECK(strstr(tg_errmsg(), "the Hessian would be 300000 x 300000 float64 = 720 GB") != NULL);
    tg_error_clear();
    tg_tensor *j = NULL;
    tg_tensor *z = tg_mul(tg_ref(x), tg_scalar(2, TG_FLOAT64));
    CHECK(tg_jacobian(z, &x, 1, &j) == TG_ERESOURCE && j == NULL);
    CHECK(strstr(tg_errmsg(), "the Jacobian would be 300000 x 300000 float64 = 720 GB") != NULL);
    tg_error_clear();
    tg_release(z);
    tg_release(y);
    tg_release(x);
}

TEST(graph_index_finds_every_node_of_a_long_chain)
{
    tg_tensor *x = tg_scalar(1, TG_FLOAT64);
    tg_set_requires_grad(x, true);
    tg_tensor *y = tg_ref(x);
    for (int i = 0; i < 20000; i++)
        y = tg_mul(y, tg_scalar(1.0001, TG_FLOAT64));
    tg_graph g;
    CHECK(tg_graph_collect(y, &g) == TG_OK);
    CHECK(g.n == 1 + 2 * 20000);
    for (int i = 0; i < g.n; i++)
        if (tg_graph_index(&g, g.nodes[i]) != i) {
            CHECK(tg_graph_index(&g, g.nodes[i]) == i);
            break;
        }
    CHECK(tg_graph_index(&g, NULL) == -1);
    tg_graph_free(&g);
    tg_release(y);
    tg_release(x);
}

TEST(memory_checks_name_the_size)
{
    CHECK(tg_memory_limit() > 0);
    char s[32];
    tg_format_bytes(s, sizeof s, 1.6e11);
    CHECK(!strcmp(s, "160 GB"));
    tg_format_bytes(s, sizeof s, 999);
    CHECK(!strcmp(s, "999 bytes"));
    tg_format_bytes(s, sizeof s, 2.5e6);
    CHECK(!strcmp(s, "2.5 MB"));
    CHECK(tg_check_fits(1e6, "a small thing") == TG_OK);
    CHECK(tg_check_fits(1e30, "the thing would be 1 x 1 float32") == TG_ERESOURCE);
    CHECK(strstr(tg_errmsg(), "out of memory: the thing would be 1 x 1 float32 = ") != NULL);
    tg_error_clear();
}

TEST(builtin_specs_fit_a_call)
{
    CHECK(tg_builtin_specs_fit());
}
