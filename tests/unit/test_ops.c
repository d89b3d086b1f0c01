/* test_ops.c -- every op of the op table against central finite
 * differences in float64, driven by the table: an op without a case here
 * fails the completeness test. */
#include "test.h"
#include "internal.h"
#include <stdlib.h>

typedef struct {
    const char *op;   /* the op table's name */
    const char *expr; /* an expression that exercises it */
    int nvars;        /* x, y, z */
    const char *shapes[3];
    double lo, hi;    /* the domain the inputs are drawn from */
    double tol;       /* relative tolerance, 1e-5 when 0 */
    double h;         /* finite-difference step, 1e-6 when 0 (float32 needs more) */
    bool grad_of;     /* check d(expr)/dx, the gradient, instead of expr: the
                         way to reach the ops that only backward passes make */
} op_case;

static const op_case cases[] = {
    {"neg", "-x", 1, {"2,3"}, -2, 2, 0, 0, false},
    {"exp", "exp(x)", 1, {"2,3"}, -2, 2, 0, 0, false},
    {"log", "log(x)", 1, {"4"}, 0.5, 3, 0, 0, false},
    {"sqrt", "sqrt(x)", 1, {"4"}, 0.5, 3, 0, 0, false},
    {"sin", "sin(x)", 1, {"3"}, -3, 3, 0, 0, false},
    {"cos", "cos(x)", 1, {"3"}, -3, 3, 0, 0, false},
    {"tan", "tan(x)", 1, {"3"}, -1, 1, 0, 0, false},
    {"tanh", "tanh(x)", 1, {"2,2"}, -2, 2, 0, 0, false},
    {"sigmoid", "sigmoid(x)", 1, {"5"}, -4, 4, 0, 0, false},
    {"relu", "relu(x)", 1, {"6"}, -2, 2, 0, 0, false},
    {"abs", "abs(x)", 1, {"6"}, -2, 2, 0, 0, false},
    {"sign", "sign(x) * x", 1, {"6"}, -2, 2, 0, 0, false},
    {"log1p", "log1p(x)", 1, {"4"}, -0.5, 2, 0, 0, false},
    {"expm1", "expm1(x)", 1, {"4"}, -2, 2, 0, 0, false},
    {"erf", "erf(x)", 1, {"4"}, -2, 2, 0, 0, false},
    {"softplus", "softplus(x)", 1, {"4"}, -3, 3, 0, 0, false},
    {"clamp", "clamp(x, min=-0.5, max=0.7)", 1, {"8"}, -2, 2, 0, 0, false},
    {"add", "x + y", 2, {"3,1", "4"}, -2, 2, 0, 0, false},
    {"sub", "x - y", 2, {"2,3", "3"}, -2, 2, 0, 0, false},
    {"mul", "x * y", 2, {"3,1", "1,4"}, -2, 2, 0, 0, false},
    {"div", "x / y", 2, {"3", "2,3"}, 0.5, 2, 0, 0, false},
    {"pow", "x ** y", 2, {"3", "2,3"}, 0.5, 2, 0, 0, false},
    {"maximum", "maximum(x, y)", 2, {"4", "3,4"}, -2, 2, 0, 0, false},
    {"minimum", "minimum(x, y)", 2, {"4", "3,4"}, -2, 2, 0, 0, false},
    {"eq", "where(x == y, x, y)", 2, {"4", "4"}, -2, 2, 0, 0, false},
    {"ne", "where(x != y, x, y)", 2, {"4", "4"}, -2, 2, 0, 0, false},
    {"lt", "where(x < y, x, y)", 2, {"4", "4"}, -2, 2, 0, 0, false},
    {"le", "where(x <= y, x, y)", 2, {"4", "4"}, -2, 2, 0, 0, false},
    {"gt", "where(x > y, x, y)", 2, {"4", "4"}, -2, 2, 0, 0, false},
    {"ge", "where(x >= y, x, y)", 2, {"4", "4"}, -2, 2, 0, 0, false},
    {"where", "where(z > 0, x, y) * z", 3, {"3,1", "4", "3,4"}, -2, 2, 0, 0, false},
    {"sum", "x.sum(dim=(0, 2), keepdim=True) * x.sum(1, keepdim=True)", 1, {"2,3,4"}, -2, 2, 0, 0, false},
    {"amax", "amax(x, dim=1)", 1, {"3,5"}, -2, 2, 0, 0, false},
    {"amin", "amin(x, dim=(0,1))", 1, {"3,5"}, -2, 2, 0, 0, false},
    {"max", "max(x, dim=0).values + max(x)", 1, {"4,3"}, -2, 2, 0, 0, false},
    {"min", "min(x, 1, keepdim=True)[0] + min(x)", 1, {"4,3"}, -2, 2, 0, 0, false},
    {"reshape", "x.reshape(3, 2) * [1, 2]", 1, {"2,3"}, -2, 2, 0, 0, false},
    {"expand", "x.expand(3, 4) * y", 2, {"3,1", "3,4"}, -2, 2, 0, 0, false},
    {"permute", "x.permute(2, 0, 1) * y", 2, {"2,3,4", "4,1,3"}, -2, 2, 0, 0, false},
    {"slice", "x[1:, ::2] * 3", 1, {"3,5"}, -2, 2, 0, 0, false},
    {"slice_backward", "x[1:3] * x[0:2]", 1, {"4,2"}, -2, 2, 0, 0, false},
    {"contiguous", "x.T.contiguous() * [1, 2, 3]", 1, {"3,2"}, -2, 2, 0, 0, false},
    {"to", "x.float().double() * y", 2, {"3", "3"}, -2, 2, 1e-4, 1e-2, false},
    {"matmul", "(x @ y) * (y.mT @ x.mT).mT + (x[0] @ y[:, 0]).sum()", 2, {"2,3,4", "4,5"}, -2, 2, 0, 0, false},
    /* the fused backward ops, through their own backward (second order) */
    {"tanh_backward", "sum(tanh(x) * y)", 2, {"2,3", "3"}, -2, 2, 0, 0, true},
    {"sigmoid_backward", "sum(sigmoid(x) * y)", 2, {"4", "2,4"}, -3, 3, 0, 0, true},
    {"pow_backward", "sum(x**3 * y + x**2.5 + 2 * x**0.5 + x**-2 + x**1)", 2, {"5", "5"}, 0.5, 2, 0, 0, true},
    /* activations and reciprocals, and their backwards through second order */
    {"silu", "silu(x)", 1, {"2,3"}, -4, 4, 0, 0, false},
    {"reciprocal", "reciprocal(x) * y", 2, {"4", "3,4"}, 0.5, 2, 0, 0, false},
    {"rsqrt", "x.rsqrt()", 1, {"5"}, 0.3, 3, 0, 0, false},
    {"leaky_relu", "leaky_relu(x, 0.2) * y + leaky_relu(x)", 2, {"2,3", "3"}, -2, 2, 0, 0, false},
    {"elu", "elu(x) + elu(x, alpha=0.7) * y", 2, {"6", "6"}, -3, 2, 0, 0, false},
    {"silu", "sum(silu(x) * y)", 2, {"5", "5"}, -3, 3, 0, 0, true},
    {"reciprocal", "sum(reciprocal(x) * y + rsqrt(x))", 2, {"5", "5"}, 0.5, 2, 0, 0, true},
    {"elu", "sum(elu(x, 1.5) * y)", 2, {"6", "6"}, -2, 2, 0, 0, true},
    /* statistics, composites of the ops above (to second order) */
    {"var", "x.var(1, keepdim=True) * y + var(x, dim=(0, 1), correction=0)", 2, {"2,3,4", "2,1,4"}, -2, 2, 0, 0, false},
    {"std", "x.std(0) * y + std(x, unbiased=False)", 2, {"3,4", "4"}, -2, 2, 0, 0, false},
    {"norm", "x.norm() * y + norm(x, 1, dim=0) + x.norm(3, 0) + x.norm(inf, dim=1, keepdim=True).sum()", 2, {"3,4", "4"},
     -2, 2, 0, 0, false},
    {"var", "sum(x.var(0) * y + x.std(1).sum() + x.norm(dim=1).sum() + x.norm(2.5))", 2, {"3,4", "4"}, -2, 2, 0, 0, true},
    /* products and running sums; zeros are in prod's fixture cases (FD
     * cannot tell a subgradient) */
    {"prod", "x.prod(1) * y + prod(x, 0, keepdim=True).sum() + x.prod()", 2, {"3,4", "3"}, 0.5, 1.5, 0, 0, false},
    {"prod", "sum(x.prod(0) * y + x.prod())", 2, {"3,4", "4"}, -1.5, 1.5, 0, 0, true},
    {"cumsum", "x.cumsum(1) * y + cumsum(x, 0) * y", 2, {"3,4", "4"}, -2, 2, 0, 0, false},
    {"cumsum", "sum(x.cumsum(0) ** 2 * y)", 2, {"3,4", "4"}, -2, 2, 0, 0, true},
    /* shapes built from views: flatten, expand_as, repeat */
    {"repeat", "x.repeat(2, 1, 3) * y.flatten(0, 1) + x.flatten(1).sum() + x.repeat(1, 3).expand_as(z) * z",
     3, {"2,4", "3,4", "1,2,12"}, -2, 2, 0, 0, false},
    /* concatenation, gathers and advanced indexing (ops_gather.c) */
    {"cat", "cat([x, y, x], dim=1) + cat((y, y), 0).sum() * stack([x, x], -1).sum()", 2, {"2,3", "2,1"}, -2, 2, 0, 0, false},
    {"gather", "x.gather(1, [[2, 0, 0], [1, 1, 2]]) * y", 2, {"2,3", "2,3"}, -2, 2, 0, 0, false},
    {"scatter_add", "sum(x.gather(0, [[1, 0], [1, 1], [0, 1]]) ** 2 * y)", 2, {"2,2", "3,2"}, -2, 2, 0, 0, true},
    {"index_select", "x[[2, 0, 2]] * x[:, [1, -1]].sum() + x[x > 0].sum()", 1, {"3,4"}, -2, 2, 0, 0, false},
    {"index_add", "sum(x[[1, 1, 0]] ** 2 * y)", 2, {"2,3", "3,3"}, -2, 2, 0, 0, true},
};
#define NCASES (int)(sizeof cases / sizeof *cases)

static int parse_shape(const char *s, int64_t *shape)
{
    int n = 0;
    while (s && *s) {
        shape[n++] = strtoll(s, (char **)&s, 10);
        if (*s == ',')
            s++;
    }
    return n;
}

static const char *var_names[3] = {"x", "y", "z"};

/* expr's value, or for grad_of cases its gradient in x (with a graph of
 * its own when create_graph) */
static tg_tensor *evaluate(const op_case *c, tg_program *p, tg_env *env, bool create_graph)
{
    if (!c->grad_of)
        return tg_program_eval(p, env);
    tg_tensor *grads[3] = {0};
    tg_grad_opts o = {.create_graph = create_graph, .retain_graph = create_graph, .sum_output = true};
    tg_release(tg_grad_eval(p, env, c->nvars, &o, grads));
    for (int i = 1; i < c->nvars; i++)
        tg_release(grads[i]);
    for (int i = 0; i < c->nvars; i++) /* the second-order pass starts from zero */
        tg_zero_grad(env->values[i]);
    return grads[0];
}

/* L = sum(expr * w) evaluated without a graph */
static double loss(const op_case *c, tg_program *p, tg_tensor **vars, int nvars, const tg_tensor *w)
{
    tg_env env = {0};
    for (int i = 0; i < nvars; i++) { /* new leaves on the same data: vars' .grad stays */
        tg_tensor *leaf = tg_detach(tg_ref(vars[i]));
        tg_set_requires_grad(leaf, true);
        tg_env_set(&env, var_names[i], leaf);
    }
    bool old = tg_set_grad_enabled(c->grad_of);
    tg_tensor *v = evaluate(c, p, &env, false);
    double s = 0;
    if (v) {
        tg_tensor *vc = tg_cast(tg_contiguous(v), TG_FLOAT64);
        for (int64_t k = 0; vc && k < vc->numel; k++)
            s += tg_get(vc, k) * tg_get(w, k);
        tg_release(vc);
    }
    tg_set_grad_enabled(old);
    tg_env_free(&env);
    return s;
}

static void check_case(const op_case *c)
{
    tg_program *p = tg_program_parse(c->expr);
    CHECK(p != NULL);
    if (!p)
        return;
    tg_tensor *vars[3] = {0};
    for (int i = 0; i < c->nvars; i++) {
        int64_t shape[TG_MAX_DIMS];
        int nd = parse_shape(c->shapes[i], shape);
        vars[i] = tg_empty(TG_FLOAT64, nd, shape);
        for (int64_t k = 0; k < vars[i]->numel; k++) {
            double v = test_uniform(c->lo, c->hi);
            /* keep away from kinks (relu, abs, clamp, max ties) where FD lies */
            if (fabs(v) < 0.05) v += 0.1;
            if (fabs(v + 0.5) < 0.05 || fabs(v - 0.7) < 0.05) v += 0.1;
            ((double *)tg_data(vars[i]))[k] = v;
        }
    }
    tg_env env = {0};
    for (int i = 0; i < c->nvars; i++) {
        tg_set_requires_grad(vars[i], true);
        tg_env_set(&env, var_names[i], tg_ref(vars[i]));
    }
    tg_tensor *out = evaluate(c, p, &env, true);
    if (!out) {
        test_failures++;
        fprintf(stderr, "  op %s (%s): %s\n", c->op, c->expr, tg_errmsg());
        tg_error_clear();
    }
    tg_tensor *w = out ? tg_empty(TG_FLOAT64, out->ndim, out->shape) : NULL;
    for (int64_t k = 0; w && k < w->numel; k++)
        ((double *)tg_data(w))[k] = test_uniform(-1, 1);
    if (out && w) {
        CHECK(tg_backward(out, tg_ref(w), false, false) == TG_OK);
        double h = c->h ? c->h : 1e-6;
        for (int i = 0; i < c->nvars; i++) {
            tg_tensor *g = vars[i]->grad;
            if (!g) {
                test_failures++;
                fprintf(stderr, "  op %s (%s): no gradient for %s\n", c->op, c->expr, var_names[i]);
                continue;
            }
            for (int64_t k = 0; k < vars[i]->numel; k++) {
                double *x = (double *)tg_data(vars[i]) + k, x0 = *x;
                *x = x0 + h;
                double lp = loss(c, p, vars, c->nvars, w);
                *x = x0 - h;
                double lm = loss(c, p, vars, c->nvars, w);
                *x = x0;
                double fd = (lp - lm) / (2 * h), an = tg_get(g, k);
                double tol = c->tol ? c->tol : 1e-5;
                if (!(fabs(fd - an) <= tol + tol * fabs(fd))) {
                    test_failures++;
                    fprintf(stderr, "  op %s (%s): d/d%s[%lld] analytic %.12g, finite differences %.12g\n",
                            c->op, c->expr, var_names[i], (long long)k, an, fd);
                    break;
                }
            }
        }
    }
    tg_release(w);
    tg_release(out);
    tg_env_free(&env);
    for (int i = 0; i < c->nvars; i++)
        tg_release(vars[i]);
    tg_program_free(p);
}

TEST(ops_gradients_match_finite_differences)
{
    for (int i = 0; i < NCASES; i++)
        for (int rep = 0; rep < 3; rep++)
            check_case(&cases[i]);
}

TEST(ops_every_op_has_a_gradient_case)
{
    for (int op = 0; op < tg_op_count(); op++) {
        bool found = false;
        for (int i = 0; i < NCASES; i++)
            found = found || !strcmp(cases[i].op, tg_op_name(op));
        if (!found) {
            test_failures++;
            fprintf(stderr, "  op '%s' has no case in test_ops.c\n", tg_op_name(op));
        }
    }
}

/* a deliberately wrong backward must be caught by the same check: the
 * backward hook replaces what exp's rule gave (the op table is const) */
static tg_status wrong_backward(tg_tensor *node, tg_tensor *g, tg_tensor **gin, void *data)
{
    if (node->op == &tg_ops[TG_OP_EXP] && gin[0]) {
        tg_release(gin[0]);
        gin[0] = tg_mul(tg_ref(g), tg_scalar_like(1.5, g)); /* d/dx exp(x) is not 1.5 */
    }
    return gin[0] || node->op != &tg_ops[TG_OP_EXP] ? TG_OK : TG_ERESOURCE;
}

TEST(ops_check_catches_a_wrong_backward)
{
    tg_backward_hook = wrong_backward;
    int before = test_failures;
    FILE *err = stderr;
    stderr = fopen("/dev/null", "w");
    check_case(&cases[1]);
    fclose(stderr);
    stderr = err;
    tg_backward_hook = NULL;
    bool caught = test_failures > before;
    test_failures = before;
    CHECK(caught);
}

/* tg_gradcheck (tgrad --check) on every op's case: passes as written, and
 * fails once a wrong backward is swapped in */
static bool gradcheck_case(const op_case *c)
{
    tg_program *p = tg_program_parse(c->expr);
    tg_env env = {0};
    for (int i = 0; i < c->nvars; i++) {
        int64_t shape[TG_MAX_DIMS];
        int nd = parse_shape(c->shapes[i], shape);
        tg_tensor *v = tg_empty(TG_FLOAT64, nd, shape);
        for (int64_t k = 0; k < v->numel; k++) {
            double x = test_uniform(c->lo, c->hi);
            if (fabs(x) < 0.05) x += 0.1;
            if (fabs(x + 0.5) < 0.05 || fabs(x - 0.7) < 0.05) x += 0.1;
            ((double *)tg_data(v))[k] = x;
        }
        tg_set_requires_grad(v, true);
        tg_env_set(&env, var_names[i], v);
    }
    tg_gradcheck_var res[3];
    bool passed = false;
    tg_status st = p ? tg_gradcheck(p, &env, c->nvars, c->h ? c->h : 1e-6, 1e-5, 1e-3, res, &passed) : TG_EINPUT;
    if (st != TG_OK) {
        fprintf(stderr, "  gradcheck %s (%s): %s\n", c->op, c->expr, tg_errmsg());
        tg_error_clear();
        passed = false;
    }
    tg_env_free(&env);
    tg_program_free(p);
    return passed;
}

TEST(ops_gradcheck_passes_on_every_op)
{
    for (int i = 0; i < NCASES; i++)
        if (!gradcheck_case(&cases[i])) {
            test_failures++;
            fprintf(stderr, "  gradcheck failed for op %s (%s)\n", cases[i].op, cases[i].expr);
        }
}

TEST(ops_gradcheck_fails_on_a_wrong_backward)
{
    tg_backward_hook = wrong_backward;
    bool passed = gradcheck_case(&cases[1]);
    tg_backward_hook = NULL;
    CHECK(!passed);
}

/* The fused backward kernels round as the formulas written with ops do:
 * the same bits, float32 and float64, for a full and a broadcast gradient. */
static tg_tensor *random_tensor(tg_dtype dt, int64_t n, double lo, double hi)
{
    tg_tensor *t = tg_empty(dt, 1, &n);
    for (int64_t k = 0; k < n; k++) {
        double v = test_uniform(lo, hi);
        if (dt == TG_FLOAT32)
            ((float *)tg_data(t))[k] = (float)v;
        else
            ((double *)tg_data(t))[k] = v;
    }
    return t;
}

static bool same_bits(tg_tensor *a, tg_tensor *b)
{
    bool same = a && b && a->numel == b->numel && a->dtype == b->dtype;
    tg_tensor *ac = same ? tg_contiguous(tg_ref(a)) : NULL, *bc = same ? tg_contiguous(tg_ref(b)) : NULL;
    same = same && !memcmp(tg_data(ac), tg_data(bc), (size_t)a->numel * tg_dtype_size(a->dtype));
    tg_release(ac);
    tg_release(bc);
    tg_release(a);
    tg_release(b);
    return same;
}

TEST(ops_fused_backward_same_bits_as_formula)
{
    const double exps[] = {2, 3, 1, 0.5, -1, -2, 2.5, 0.3, 1.5, 4, -0.5};
    const int64_t n = 1000;
    for (int d = 0; d < 2; d++) {
        tg_dtype dt = d ? TG_FLOAT64 : TG_FLOAT32;
        for (int scalar_g = 0; scalar_g < 2; scalar_g++) {
            tg_tensor *y = random_tensor(dt, n, -3, 3), *x = random_tensor(dt, n, 0.01, 4);
            tg_tensor *g = scalar_g ? tg_expand(random_tensor(dt, 1, -2, 2), 1, &n) : random_tensor(dt, n, -2, 2);
            tg_tensor *one = tg_scalar(1, dt);
            CHECK(same_bits(tg_tanh_backward(tg_ref(g), tg_ref(y)),
                            tg_mul(tg_ref(g), tg_sub(tg_ref(one), tg_mul(tg_ref(y), tg_ref(y))))));
            CHECK(same_bits(tg_sigmoid_backward(tg_ref(g), tg_ref(y)),
                            tg_mul(tg_mul(tg_ref(g), tg_sub(tg_ref(one), tg_ref(y))), tg_ref(y))));
            for (size_t k = 0; k < sizeof exps / sizeof *exps; k++) {
                tg_tensor *e = tg_scalar(exps[k], dt);
                bool same = same_bits(tg_pow_backward(tg_ref(g), tg_ref(x), exps[k]),
                                      tg_mul(tg_ref(g), tg_mul(tg_ref(e), tg_pow(tg_ref(x), tg_sub(tg_ref(e), tg_ref(one))))));
                if (!same)
                    fprintf(stderr, "  pow_backward, exponent %g, %s, %s gradient: not the formula's bits\n",
                            exps[k], tg_dtype_name(dt), scalar_g ? "broadcast" : "full");
                CHECK(same);
                tg_release(e);
            }
            tg_release(one);
            tg_release(g);
            tg_release(x);
            tg_release(y);
        }
    }
}
