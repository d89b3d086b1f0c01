/* test_fused_default.c -- the default path's fused evaluation
 * (tg_fused_default_eval, lib/compile/compile.c and fused_vm.c) gives the
 * eager path's bytes: random elementwise programs of float32 and float64
 * variables, with NaN and infinities among the values, summed or with an
 * upstream gradient, one-value constants, an int64 variable, sizes below
 * and above TG_FUSE_DEFAULT_MIN; and it fuses what it should. */
#include "test.h"
#include "internal.h"
#include <stdlib.h>

typedef struct {
    char *text;
    size_t len, cap;
} str;

static void put(str *s, const char *t)
{
    size_t n = strlen(t);
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        s->text = realloc(s->text, s->cap);
        if (!s->text)
            abort();
    }
    memcpy(s->text + s->len, t, n + 1);
    s->len += n;
}

static const char *pick(const char *const *a, size_t n) { return a[test_rand() % n]; }
#define PICK(a) pick(a, sizeof a / sizeof *a)

/* a random expression over x, y and c, depth levels at most: mostly the
 * arithmetic the interpreter chains, and ops that run through kernels */
static void expr(str *s, int depth)
{
    static const char *const leaves[] = {"x", "y", "x", "c", "2", "0.5", "-1.5", "3"};
    static const char *const binary[] = {" + ", " - ", " * ", " / ", " + ", " * "};
    static const char *const powers[] = {"2", "3", "1", "-1", "-2", "0.5", "2.5", "0"};
    static const char *const funcs[] = {"tanh", "exp", "abs", "relu", "sigmoid", "sin", "neg"};
    int kind = depth <= 0 ? 0 : (int)(test_rand() % 8);
    switch (kind) {
    case 0:
        put(s, PICK(leaves));
        break;
    case 1: case 2: case 3:
        put(s, "(");
        expr(s, depth - 1);
        put(s, PICK(binary));
        expr(s, depth - 1);
        put(s, ")");
        break;
    case 4:
        put(s, "(");
        expr(s, depth - 1);
        put(s, ")**");
        put(s, PICK(powers));
        break;
    case 5:
        put(s, test_rand() % 2 ? "-(" : "(-");
        expr(s, depth - 1);
        put(s, ")");
        break;
    case 6:
        put(s, PICK(funcs));
        put(s, "(");
        expr(s, depth - 1);
        put(s, ")");
        break;
    default:
        put(s, "where(");
        expr(s, depth - 1);
        put(s, " > 0, ");
        expr(s, depth - 1);
        put(s, ", ");
        expr(s, depth - 1);
        put(s, ")");
    }
}

/* values +-1e15 at fixed places, which round the small ones a sum adds
 * to them and then cancel: the order of a sum's additions, and which
 * lane of the eager sum takes an element, show in its value (1: every
 * 256 elements, in two lanes; 2: every 192, all in lane 5 but where the
 * eager sum's last odd few go to lane 0) */
static int big_values;

/* n values of dtype dt, some of them NaN, infinities or zeros */
static tg_tensor *values(tg_dtype dt, int64_t n, bool grad)
{
    tg_tensor *t = tg_empty(dt, 1, &n);
    for (int64_t i = 0; t && i < n; i++) {
        double v = test_uniform(-3, 3);
        uint64_t r = test_rand() % 2000;
        v = r == 0 ? NAN : r == 1 ? INFINITY : r == 2 ? -INFINITY : r == 3 ? 0.0 : r == 4 ? -0.0 : v;
        if (big_values == 1) /* pairs that cancel, in other lanes than the small values' */
            v = i % 256 == 5 ? 1e15 : i % 256 == 42 ? -1e15 : test_uniform(-3, 3);
        if (big_values == 2)
            v = i % 192 == 5 ? 1e15 : i % 192 == 133 ? -1e15 : test_uniform(-3, 3);
        if (dt == TG_FLOAT32)
            ((float *)tg_data(t))[i] = (float)v;
        else if (dt == TG_FLOAT64)
            ((double *)tg_data(t))[i] = v;
        else
            ((int64_t *)tg_data(t))[i] = isfinite(v) ? (int64_t)v : 0; /* (NaN has no int64) */
    }
    if (t && grad)
        tg_set_requires_grad(t, true);
    return t;
}

/* the same shape, dtype and values to the last bit, element by element
 * (an eager gradient may be a broadcast view); a NaN is any NaN: which
 * operand's NaN an addition keeps is the compiler's choice in the eager
 * kernels too */
static bool same_bytes(const tg_tensor *a, const tg_tensor *b)
{
    if (!a || !b)
        return a == b;
    if (a->numel != b->numel || a->dtype != b->dtype || a->ndim != b->ndim ||
        memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof *a->shape))
        return false;
    for (int64_t i = 0; i < a->numel; i++) {
        double u = tg_get(a, i), v = tg_get(b, i);
        if (memcmp(&u, &v, sizeof u) && !(u != u && v != v))
            return false;
    }
    return true;
}

/* p over x, y and c (vals; gout the upstream gradient, or NULL) through the
 * default path and the eager one, each with its own references: the
 * default path's status (TG_OK: it fused); *same when it did not fuse or
 * gave the eager bytes */
static tg_status default_against_eager(tg_program *p, tg_tensor *const vals[3], tg_tensor *gout, bool *same)
{
    const char *names[] = {"x", "y", "c"};
    tg_env env = {0}, env2 = {0};
    for (int i = 0; i < 3; i++) {
        tg_env_set(&env, names[i], tg_ref(vals[i]));
        tg_env_set(&env2, names[i], tg_ref(vals[i]));
    }
    tg_grad_opts o = {.grad_output = tg_ref(gout)}, o2 = {.grad_output = tg_ref(gout)};
    tg_tensor *dv = NULL, *dg[3] = {0}, *eg[3] = {0};
    tg_status st = tg_fused_default_eval(p, &env, 3, &o, &dv, dg);
    tg_error_clear();
    tg_tensor *ev = tg_grad_eval(p, &env2, 3, &o2, eg);
    tg_error_clear(); /* (a broadcast or dtype error: the eager path's to report) */
    CHECK(st == TG_OK || st == TG_NO);
    *same = st != TG_OK ||
            (same_bytes(dv, ev) && same_bytes(dg[0], eg[0]) && same_bytes(dg[1], eg[1]) && same_bytes(dg[2], eg[2]));
    for (int i = 0; i < 3; i++) {
        tg_release(dg[i]);
        tg_release(eg[i]);
    }
    tg_release(dv);
    tg_release(ev);
    tg_env_free(&env);
    tg_env_free(&env2);
    return st;
}

/* c requires grad: its gradient is a sum (fused in the eager sum's lanes) */
static bool c_grad;

/* one program over x, y (dt, or int64) and c: the default path against
 * the eager one, byte for byte; true when it fused */
static bool one_case(const char *src, tg_dtype dt, bool int_y, int64_t n, bool summed)
{
    tg_program *p = tg_program_parse(src);
    CHECK(p != NULL);
    if (!p)
        return false;
    tg_tensor *x = values(dt, n, true), *y = values(int_y ? TG_INT64 : dt, n, !int_y),
              *c = tg_scalar(test_uniform(-2, 2), dt);
    tg_tensor *gout = summed ? NULL : values(dt, n, false);
    if (c && c_grad)
        tg_set_requires_grad(c, true);
    tg_tensor *vals[] = {x, y, c};
    bool same;
    tg_status st = default_against_eager(p, vals, gout, &same);
    if (!same) {
        test_failures++;
        fprintf(stderr, "  %s (%s%s, %lld elements, %s): the default path's bytes differ from the eager ones\n", src,
                dt == TG_FLOAT32 ? "float32" : "float64", int_y ? ", y int64" : "", (long long)n,
                summed ? "summed" : "upstream gradient");
    }
    for (int i = 0; i < 3; i++)
        tg_release(vals[i]);
    tg_release(gout);
    tg_program_free(p);
    return st == TG_OK;
}

TEST(fused_default_random_programs_give_the_eager_bytes)
{
    int fused = 0, cases = 0;
    for (int k = 0; k < 160; k++) {
        str s = {0};
        bool summed = k % 2 == 0;
        put(&s, summed ? "sum(" : "(");
        expr(&s, 1 + k % 4);
        put(&s, " + x * ");
        expr(&s, k % 3);
        put(&s, ")");
        tg_dtype dt = k % 4 < 2 ? TG_FLOAT32 : TG_FLOAT64;
        /* above the threshold with a partial last block, exactly at it, and below */
        int64_t n = k % 5 == 0 ? TG_FUSE_DEFAULT_MIN : k % 5 == 1 ? 3000 : TG_FUSE_DEFAULT_MIN + 1000 + k;
        bool int_y = k % 11 == 3;
        bool f = one_case(s.text, dt, int_y, n, summed);
        CHECK(!(f && (n < TG_FUSE_DEFAULT_MIN || int_y))); /* those stay eager */
        fused += f;
        cases++;
        free(s.text);
    }
    /* most float programs above the threshold fuse */
    CHECK(fused > cases / 2);
}

TEST(fused_default_seed_programs_fuse_and_give_the_eager_bytes)
{
    static const char *const progs[] = {
        "sum(x**3 + 2*x**2 - 5*x + 3)", "sum(tanh(x)**2)", "x * sin(x) - x / 3", "sum((x - y)**2 / (1 + y * y))",
        "sum(-x * 3 + x - 1)", "sum(x**-1 + x**-2 + x**1 + x**0.5)", "sum(where(x > 0, x * y, -x) + c * x)",
    };
    for (size_t k = 0; k < sizeof progs / sizeof *progs; k++)
        for (int d = 0; d < 2; d++)
            CHECK(one_case(progs[k], d ? TG_FLOAT64 : TG_FLOAT32, false, 3 * TG_FUSE_DEFAULT_MIN + 17,
                           progs[k][0] == 's'));
}

TEST(fused_default_off_for_sums_it_cannot_make_exactly)
{
    /* (TG_FUSE=0 is read once, at a process's first evaluation: this
     * one's came before; fused_default.bats runs tgrad under it) */
    CHECK(one_case("sum(x * y)", TG_FLOAT32, false, 2 * TG_FUSE_DEFAULT_MIN, true));
    /* a sum of sums is made by adding first: not the eager bytes, so eager */
    CHECK(!one_case("sum(x) + sum(y * 2)", TG_FLOAT32, false, 2 * TG_FUSE_DEFAULT_MIN, true));
}

/* Programs whose chains keep several values for later ops at once: the
 * interpreter's banks (fused_vm.c) hold two, the others go to memory;
 * and values read again after a kernel, or by pow's backward. */
TEST(fused_default_many_live_values_give_the_eager_bytes)
{
    static const char *const progs[] = {
        "sum((x + 1) * ((x - 2) * ((x * 3 + y) * ((x / 4 - y) * (x + y)))))",
        "(x * 2 + 1) / ((x * 3 - 1) * ((x + 4) - (y * 5 + x)))",
        "sum((x * y) * (x * y - 1) + ((x + y) * (x - y) - (x * y) / (y * y + 1)))",
        "sum((x**2 + y) * (tanh(x) + (x - y)) * (x**3 - y**2))",
        "sum((x - 1)**2 * (x + 1)**3 + (y + 2)**-1 * (y - 2)**-2)",
        "(2 * x - y) * (3 * y - x) * (x + y + 1) * (x - y - 1) + exp(-x * x) * (y * y - x)",
    };
    for (size_t k = 0; k < sizeof progs / sizeof *progs; k++)
        for (int d = 0; d < 2; d++)
            CHECK(one_case(progs[k], d ? TG_FLOAT64 : TG_FLOAT32, false, 2 * TG_FUSE_DEFAULT_MIN + 4 * 1024 + 5,
                           progs[k][0] == 's'));
}

/* Sums the instructions add to the eager sum's lanes themselves: the
 * value's, and a one-value variable's gradient (c's, c used once: a
 * sum of sums stays eager), over big and small values, where the order
 * of the additions shows. */
TEST(fused_default_sums_in_the_instructions_give_the_eager_bytes)
{
    static const char *const progs[] = {
        "sum(x * c + y)", "sum((x - y) * c - y * 3)", "x * c + y / 3", "sum(c * x + 2 * y / 7)",
        "sum((x + c) * 0.5 + y * 1.5)", "y - x / c",
    };
    c_grad = true;
    big_values = 1;
    for (size_t k = 0; k < sizeof progs / sizeof *progs; k++)
        for (int d = 0; d < 2; d++)
            for (int m = 0; m < 2; m++) /* whole eager sum blocks, and a partial last one */
                CHECK(one_case(progs[k], d ? TG_FLOAT64 : TG_FLOAT32, false,
                               m ? 3 * TG_FUSE_DEFAULT_MIN : 2 * TG_FUSE_DEFAULT_MIN + 7 * 1024 + 33, progs[k][0] == 's'));
    c_grad = false;
    big_values = 0;
}

/* ---- small sizes: the plan made on a second call and kept ---- */
/* n values of dt (as values() makes them) in the shape {1, ..., n} of
 * ndim dimensions (0: one value, no dimension) */
static tg_tensor *shaped(tg_dtype dt, int ndim, int64_t n, bool grad)
{
    int64_t shape[3] = {1, 1, 1};
    if (ndim > 0)
        shape[ndim - 1] = n;
    tg_tensor *t = tg_detach(tg_reshape(values(dt, n, false), ndim, shape));
    if (t && grad)
        tg_set_requires_grad(t, true);
    return t;
}

/* src over x, y and c, evaluated `calls` times by the default path at a
 * small size, with new values of x and y each time (and of c, where every
 * variable has one value: then all three are the plan's inputs), against
 * the eager path each time: the same bytes every time.  Returns how many
 * calls fused. */
static int repeated_case(const char *src, tg_dtype dt, int ndim, int64_t n, bool summed, int calls)
{
    tg_program *p = tg_program_parse(src);
    CHECK(p != NULL);
    int fused = 0;
    tg_tensor *c = tg_scalar(test_uniform(-2, 2), dt);
    if (c && c_grad)
        tg_set_requires_grad(c, true);
    for (int k = 0; p && k < calls; k++) {
        if (n == 1) {
            tg_release(c);
            c = shaped(dt, ndim, 1, true);
        }
        tg_tensor *x = shaped(dt, ndim, n, true), *y = shaped(dt, ndim, n, true);
        tg_tensor *gout = summed ? NULL : shaped(dt, ndim, n, false);
        tg_tensor *vals[] = {x, y, c};
        bool same;
        tg_status st = default_against_eager(p, vals, gout, &same);
        fused += st == TG_OK;
        if (!same) {
            test_failures++;
            fprintf(stderr, "  %s (%s, %d dims, %lld elements, %s, call %d): the default path's bytes differ\n", src,
                    dt == TG_FLOAT32 ? "float32" : "float64", ndim, (long long)n,
                    summed ? "summed" : "upstream gradient", k + 1);
        }
        tg_release(x);
        tg_release(y);
        tg_release(gout);
    }
    tg_release(c);
    tg_program_free(p);
    return fused;
}

TEST(fused_default_small_sizes_fuse_from_the_second_call_with_the_eager_bytes)
{
    static const int64_t sizes[] = {1, 1, 7, 255, 600, 1000, 1024, 3000, 40000};
    int fused = 0, cases = 0;
    for (int k = 0; k < 120; k++) {
        str s = {0};
        int64_t n = sizes[k % 9];
        bool summed = k % 2 == 0 || n == 1; /* (one value each: the upstream gradient stays eager) */
        put(&s, summed ? "sum(" : "(");
        expr(&s, 1 + k % 4);
        put(&s, " + x * ");
        expr(&s, k % 3);
        put(&s, ")");
        int ndim = k % 9 == 0 ? 0 : 1 + k % 3;
        tg_dtype dt = k % 4 < 2 ? TG_FLOAT32 : TG_FLOAT64;
        int f = repeated_case(s.text, dt, ndim, n, summed, 3);
        CHECK(f <= 2); /* never the first call */
        fused += f == 2;
        cases++;
        free(s.text);
    }
    CHECK(fused > cases / 2); /* most fuse from the second call on */
    /* the seed programs, every call from the second */
    CHECK(repeated_case("sum(x**3 + 2*x**2 - 5*x + 3)", TG_FLOAT32, 1, 1000, true, 4) == 3);
    CHECK(repeated_case("sum(tanh(x)**2)", TG_FLOAT64, 2, 1000, true, 4) == 3);
    CHECK(repeated_case("x**3 + 2*x**2 - 5*x + 3", TG_FLOAT32, 0, 1, true, 4) == 3);
    CHECK(repeated_case("x * sin(x) - x / 3", TG_FLOAT32, 1, 1000, false, 3) == 2);
}

/* sum(x * x) at the sizes sizes[k % nsizes], k < calls: the calls that fused */
static int cycled_sizes(const int64_t *sizes, int nsizes, int calls)
{
    tg_program *p = tg_program_parse("sum(x * x)");
    int fused = 0;
    for (int k = 0; p && k < calls; k++) {
        int64_t n = sizes[k % nsizes];
        tg_tensor *x = values(TG_FLOAT32, n, true), *v = NULL, *g[1] = {0};
        tg_env env = {0};
        tg_env_set(&env, "x", x);
        tg_grad_opts o = {0};
        fused += tg_fused_default_eval(p, &env, 1, &o, &v, g) == TG_OK;
        tg_release(v);
        tg_release(g[0]);
        tg_env_free(&env);
    }
    tg_program_free(p);
    return fused;
}

TEST(fused_default_small_sizes_keep_the_last_two_plans)
{
    /* two sizes in turn: both kept, each fuses from its second call */
    CHECK(cycled_sizes((const int64_t[]){100, 200}, 2, 8) == 6);
    /* three in turn: each replaces the oldest, which comes next: none fuses */
    CHECK(cycled_sizes((const int64_t[]){100, 200, 300}, 3, 9) == 0);
    /* a large size (made at once) and a small one in turn */
    CHECK(cycled_sizes((const int64_t[]){TG_FUSE_DEFAULT_MIN, 10}, 2, 6) == 5);
}

TEST(fused_default_small_sums_of_both_kinds_give_the_eager_bytes)
{
    /* the value a float64 sum (one running sum below 32768 elements), c's
     * gradient a float32 one (in lanes from 256): the default path gives
     * the eager bytes on every call, or stays eager */
    tg_program *p = tg_program_parse("sum(x * 2 + c * y)");
    int64_t n = 1000;
    for (int k = 0; p && k < 3; k++) {
        tg_tensor *x = values(TG_FLOAT64, n, true), *y = tg_zeros(TG_FLOAT32, 1, &n);
        /* c's gradient, sum(y): 0 added in order (the 1 lost beside 2^60),
         * 1 in lanes (2^60 and -2^60 in one lane, the 1 in another) */
        ((float *)tg_data(y))[0] = 0x1p60f;
        ((float *)tg_data(y))[1] = 1;
        ((float *)tg_data(y))[64] = -0x1p60f;
        tg_tensor *c = tg_scalar(0.75, TG_FLOAT32); /* (the same each time: one key) */
        tg_set_requires_grad(c, true);
        tg_tensor *vals[] = {x, y, c};
        bool same;
        default_against_eager(p, vals, NULL, &same);
        CHECK(same);
        for (int i = 0; i < 3; i++)
            tg_release(vals[i]);
    }
    tg_program_free(p);
}

/* Blocks shorter than the interpreter's (a small tensor's only block, a
 * large one's last) run their whole chunks through the instructions,
 * outputs and sums written by them, then the rest as one chunk over a
 * copy of the inputs: sizes at and around the chunk's 128 elements, and
 * outputs of every kind (a sum in lanes or running, a gradient written,
 * a gradient that is an input's values, a one-value variable's summed
 * gradient), the eager bytes on every call.  big_values puts +-1e15 where
 * the whole chunks' sums and the rest's meet. */
TEST(fused_default_short_blocks_give_the_eager_bytes)
{
    static const int64_t sizes[] = {128, 129, 200, 255, 256, 257, 383, 384, 385, 999, 1000, 1023, 1025, 2047, 5000};
    static const char *const progs[] = {
        "sum(x**3 + 2*x**2 - 5*x + 3)",
        "(x - 1)**2 / (1 + x*x) + y * x * 3",
        "sum(x * y + (y - 1)**2 * (y + 2) / 3)", /* x's gradient: y's values */
        "sum(c * (x * x - x / 3 + (x + 2) * 0.5))", /* c's gradient: a sum */
        /* kernels (an eager kernel's last few elements, past its whole
         * vectors, may round otherwise than in a vector) */
        "tanh(x) * (x * 3 - 1) + exp(y) * x / (y * y + 4)",
        /* a comparison's one-byte values among float64 ones (the scratch
         * blocks each hold one size of values) */
        "(-((-where(where(-1.5 > 0, y, x) > 0, (x * -1.5), (y)**0.5))) + x * ((x - x) / neg(c)))",
    };
    for (int b = 0; b < 3; b++) {
        big_values = b;
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
            for (size_t q = 0; q < sizeof progs / sizeof *progs; q++)
                for (int d = 0; d < 2; d++) {
                    tg_dtype dt = d ? TG_FLOAT64 : TG_FLOAT32;
                    bool summed = progs[q][0] == 's';
                    c_grad = progs[q][4] == 'c';
                    CHECK(repeated_case(progs[q], dt, 1, sizes[k], summed, 3) >= 1);
                }
    }
    big_values = 0;
    c_grad = false;
}
