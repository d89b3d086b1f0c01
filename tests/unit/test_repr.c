/* test_repr.c -- PyTorch's printed forms (lib/io/torch_repr.c) against
 * PyTorch's own text: every case of tests/torch/repr_fixtures.jsonl
 * (written by tests/torch/gen_repr.py; its top comment describes the
 * cases) must match byte for byte -- tensors, Python floats and grad_fn
 * names.  TG_REPR_FIXTURES=PATH reads another file.  A missing file, or
 * fewer cases of a kind than MIN_* say, fails: a test that checks nothing
 * must not pass. */
#include "test.h"
#include "internal.h"
#include "io/torch_repr.h"
#include <cJSON.h>
#include <stdlib.h>

enum { MIN_TENSORS = 500, MIN_FLOATS = 200, MIN_GRAD_FNS = 50, MAX_REPORTS = 20 };

typedef struct {
    int line;
    int tensors, floats, grad_fns;
    int reported;
} run;

static const char *str_member(const cJSON *j, const char *key)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

static int int_list(const cJSON *j, const char *key, int64_t *out)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key), *v;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > TG_MAX_DIMS)
        return -1;
    int n = 0;
    cJSON_ArrayForEach(v, a) out[n++] = (int64_t)v->valuedouble;
    return n;
}

static void mismatch(run *r, const char *what, const char *expected, const char *got)
{
    test_failures++;
    if (r->reported++ >= MAX_REPORTS)
        return;
    fprintf(stderr, "  repr_fixtures.jsonl:%d: %s\n    expected: %s\n    got:      %s\n", r->line, what,
            expected ? expected : "(null)", got ? got : "(null)");
}

/* element i of data (tiled), into element i of the contiguous x */
static bool put_element(tg_tensor *x, int64_t i, const cJSON *v)
{
    void *d = tg_data(x);
    if (x->dtype == TG_BOOL) {
        ((bool *)d)[i] = cJSON_IsTrue(v);
        return cJSON_IsBool(v);
    }
    if (!cJSON_IsString(v))
        return false;
    char *end;
    if (x->dtype == TG_INT64)
        ((int64_t *)d)[i] = strtoll(v->valuestring, &end, 10);
    else if (x->dtype == TG_FLOAT64)
        ((double *)d)[i] = tg_strtod_c(v->valuestring, &end);
    else
        ((float *)d)[i] = (float)tg_strtod_c(v->valuestring, &end);
    return *end == 0;
}

/* the case's tensor: shape, tiled data, then its permute or expand view */
static tg_tensor *case_tensor(const cJSON *j)
{
    tg_dtype dt;
    int64_t shape[TG_MAX_DIMS], view[TG_MAX_DIMS];
    const char *dts = str_member(j, "dtype");
    int nd = int_list(j, "shape", shape);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    if (!dts || tg_dtype_parse(dts, &dt) != TG_OK || nd < 0 || !cJSON_IsArray(data))
        return NULL;
    tg_tensor *x = tg_empty(dt, nd, shape);
    int n = cJSON_GetArraySize(data);
    if (!x || (x->numel && !n))
        return x ? (tg_release(x), NULL) : NULL;
    for (int64_t i = 0; i < x->numel; i++)
        if (!put_element(x, i, cJSON_GetArrayItem(data, (int)(i % n)))) {
            tg_release(x);
            return NULL;
        }
    int nv;
    if ((nv = int_list(j, "permute", view)) > 0) {
        int perm[TG_MAX_DIMS];
        for (int d = 0; d < nv; d++)
            perm[d] = (int)view[d];
        x = tg_permute(x, perm);
    }
    if ((nv = int_list(j, "expand", view)) > 0)
        x = tg_expand(x, nv, view);
    return x;
}

static void check_tensor(run *r, const cJSON *j)
{
    const char *expected = str_member(j, "repr"), *grad_fn = str_member(j, "grad_fn");
    const char *device = str_member(j, "device"), *dflt = str_member(j, "default_dtype");
    tg_dtype d = TG_FLOAT32;
    if (dflt && tg_dtype_parse(dflt, &d) != TG_OK)
        d = TG_FLOAT32;
    tg_default_float = d;
    tg_tensor *t = case_tensor(j);
    if (!t || !expected) {
        mismatch(r, "malformed tensor case", expected, NULL);
        tg_release(t);
        tg_default_float = TG_FLOAT32;
        return;
    }
    t->requires_grad = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "requires_grad"));
    /* a cuda tensor as the printer sees one: its storage says cuda (this
     * host memory is not released as cuda memory: the mark goes first) */
    if (device)
        t->storage->device = TG_DEV_CUDA;
    tg_buf b = {0};
    tg_status st = tg_repr_tensor(&b, t, grad_fn);
    t->storage->device = TG_DEV_CPU;
    if (st != TG_OK || strcmp(b.data, expected))
        mismatch(r, "tensor", expected, st == TG_OK ? b.data : tg_errmsg());
    r->tensors++;
    tg_buf_free(&b);
    tg_release(t);
    tg_default_float = TG_FLOAT32;
    tg_error_clear();
}

static void check_float(run *r, const cJSON *j)
{
    const char *value = str_member(j, "value"), *expected = str_member(j, "repr");
    char *end = NULL;
    double v = value ? tg_strtod_c(value, &end) : 0;
    if (!value || *end || !expected) {
        mismatch(r, "malformed float case", expected, value);
        return;
    }
    tg_buf b = {0};
    if (tg_repr_pyfloat(&b, v) != TG_OK || strcmp(b.data, expected))
        mismatch(r, value, expected, b.data);
    r->floats++;
    tg_buf_free(&b);
}

/* the variables of the generator's grad_fn cases, each requiring grad */
static void bind(tg_env *env, const char *name, int ndim, const int64_t *shape)
{
    tg_tensor *t = tg_full(TG_FLOAT32, ndim, shape, 1.5);
    if (t)
        tg_set_requires_grad(t, true);
    tg_env_set(env, name, t);
}

static void check_grad_fn(run *r, const cJSON *j)
{
    const char *expr = str_member(j, "expr"), *expected = str_member(j, "name");
    if (!expr || !expected) {
        mismatch(r, "malformed grad_fn case", expected, expr);
        return;
    }
    tg_env env = {0};
    bind(&env, "x", 1, (int64_t[]){2});
    bind(&env, "y", 1, (int64_t[]){2});
    bind(&env, "M", 2, (int64_t[]){2, 2});
    bind(&env, "B", 3, (int64_t[]){3, 2, 2});
    bind(&env, "s", 0, NULL);
    tg_program *p = tg_program_parse(expr);
    tg_tensor *v = p ? tg_program_eval(p, &env) : NULL;
    const char *got = v ? tg_grad_fn_name(v) : tg_errmsg();
    if (!v || !got || strcmp(got, expected)) {
        char what[256];
        snprintf(what, sizeof what, "grad_fn of %s", expr);
        mismatch(r, what, expected, got);
    }
    r->grad_fns++;
    tg_release(v);
    tg_program_free(p);
    tg_env_free(&env);
    tg_error_clear();
}

TEST(repr_fixtures_match_pytorch)
{
    const char *path = getenv("TG_REPR_FIXTURES");
    if (!path || !*path)
        path = "tests/torch/repr_fixtures.jsonl";
    FILE *f = fopen(path, "r");
    if (!f) {
        test_failures++;
        fprintf(stderr, "  %s: cannot open (run from the repository root; regenerate with "
                "/usr/bin/python3 tests/torch/gen_repr.py)\n", path);
        return;
    }
    run r = {0};
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        r.line++;
        cJSON *j = cJSON_Parse(line);
        const char *kind = j ? str_member(j, "kind") : NULL;
        if (!kind)
            mismatch(&r, "not a JSON object with a kind", NULL, line);
        else if (!strcmp(kind, "tensor"))
            check_tensor(&r, j);
        else if (!strcmp(kind, "float"))
            check_float(&r, j);
        else if (!strcmp(kind, "grad_fn"))
            check_grad_fn(&r, j);
        else
            mismatch(&r, "unknown kind", NULL, kind);
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    if (r.reported > MAX_REPORTS)
        fprintf(stderr, "  ... %d mismatches in all\n", r.reported);
    if (r.tensors < MIN_TENSORS || r.floats < MIN_FLOATS || r.grad_fns < MIN_GRAD_FNS) {
        test_failures++;
        fprintf(stderr, "  %s: %d tensor, %d float and %d grad_fn cases: too few\n", path, r.tensors,
                r.floats, r.grad_fns);
    }
}

/* every op that can be differentiated has PyTorch's name for its node */
TEST(repr_every_differentiable_op_has_a_grad_fn_name)
{
    tg_tensor input = {0};
    for (int op = 0; op < TG_NOPS; op++) {
        if (tg_ops[op].flags & TG_F_NODIFF)
            continue;
        tg_tensor node = {0};
        node.op = &tg_ops[op];
        node.requires_grad = true;
        node.nin = tg_ops[op].arity;
        for (int i = 0; i < node.nin; i++)
            node.in[i] = &input;
        const char *name = tg_grad_fn_name(&node);
        if (!name || !strstr(name, "Backward")) {
            test_failures++;
            fprintf(stderr, "  op %s has no grad_fn name (lib/io/torch_repr.c, op_grad_fn)\n", tg_ops[op].name);
        }
    }
}

TEST(repr_grad_fn_name_is_null_for_leaves_and_constants)
{
    tg_tensor *x = tg_full(TG_FLOAT32, 1, (int64_t[]){2}, 1);
    tg_tensor *c = tg_apply(TG_OP_EXP, 1, (tg_tensor *[]){tg_ref(x)}, NULL);
    CHECK(c && tg_grad_fn_name(c) == NULL);
    tg_set_requires_grad(x, true);
    CHECK(tg_grad_fn_name(x) == NULL);
    tg_tensor *y = tg_apply(TG_OP_EXP, 1, (tg_tensor *[]){tg_ref(x)}, NULL);
    CHECK(y && tg_grad_fn_name(y) && !strcmp(tg_grad_fn_name(y), "ExpBackward0"));
    bool was = tg_set_grad_enabled(false);
    tg_tensor *z = tg_apply(TG_OP_EXP, 1, (tg_tensor *[]){tg_ref(x)}, NULL);
    tg_set_grad_enabled(was);
    CHECK(z && tg_grad_fn_name(z) == NULL);
    /* naming a leaf does nothing */
    CHECK(tg_name_grad_fn(x, "MeanBackward0") == x && tg_grad_fn_name(x) == NULL);
    tg_release(x);
    tg_release(c);
    tg_release(y);
    tg_release(z);
}

/* a summary that would show more elements than the work limit is refused
 * at once, not written over hours */
TEST(repr_refuses_a_summary_beyond_the_work_limit)
{
    int64_t shape[14];
    for (int d = 0; d < 14; d++)
        shape[d] = 7;
    tg_tensor *one = tg_full(TG_FLOAT32, 0, NULL, 1);
    tg_tensor *t = tg_expand(one, 14, shape); /* 7^14 elements, 6^14 shown */
    CHECK(t != NULL);
    tg_buf b = {0};
    CHECK(tg_repr_tensor(&b, t, NULL) == TG_EINPUT);
    CHECK(strstr(tg_errmsg(), "work limit") != NULL);
    tg_buf_free(&b);
    tg_release(t);
    tg_error_clear();
    /* deep nesting within the limit: 12 dims, rows apart by 11 newlines */
    int64_t small[12];
    for (int d = 0; d < 12; d++)
        small[d] = 1;
    small[0] = 5;
    t = tg_expand(tg_full(TG_FLOAT32, 0, NULL, 2), 12, small);
    CHECK(tg_repr_tensor(&b, t, NULL) == TG_OK);
    CHECK(b.data && !strcmp(b.data, "tensor([[[[[[[[[[[[2.]]]]]]]]]]],\n\n\n\n\n\n\n\n\n\n\n"
                                    "        [[[[[[[[[[[2.]]]]]]]]]]],\n\n\n\n\n\n\n\n\n\n\n"
                                    "        [[[[[[[[[[[2.]]]]]]]]]]],\n\n\n\n\n\n\n\n\n\n\n"
                                    "        [[[[[[[[[[[2.]]]]]]]]]]],\n\n\n\n\n\n\n\n\n\n\n"
                                    "        [[[[[[[[[[[2.]]]]]]]]]]]])"));
    tg_buf_free(&b);
    tg_release(t);
}

/* a failed allocation anywhere: TG_ERESOURCE; or, once the failure comes
 * after the last allocation, the whole text */
TEST(repr_out_of_memory_is_an_error)
{
    tg_tensor *t = tg_arange(0, 50, 1, TG_FLOAT32);
    tg_buf whole = {0};
    CHECK(tg_repr_tensor(&whole, t, "AddBackward0") == TG_OK);
    int failures = 0;
    for (long n = 1; n <= 8; n++) {
        tg_buf b = {0};
        tg_alloc_fail_after(n);
        tg_status st = tg_repr_tensor(&b, t, "AddBackward0");
        tg_alloc_fail_after(0);
        if (st == TG_ERESOURCE) {
            failures++;
            CHECK(strstr(tg_errmsg(), "out of memory") != NULL);
        } else {
            CHECK(st == TG_OK && b.data && whole.data && !strcmp(b.data, whole.data));
        }
        CHECK(n > 1 || st == TG_ERESOURCE);
        tg_buf_free(&b);
        tg_error_clear();
    }
    CHECK(failures >= 1 && failures < 8);
    tg_buf_free(&whole);
    tg_release(t);
}

/* a NaN with its sign bit set prints as "nan", as Python prints it (C's
 * printf would write "-nan"); the fixtures cannot carry the sign, since
 * float.hex() drops it */
TEST(repr_negative_nan_prints_as_nan)
{
    static const struct { tg_dtype dt; double other; const char *text; } cases[] = {
        {TG_FLOAT32, 1.0, "tensor([nan, 1.])"},
        {TG_FLOAT64, 0.5, "tensor([   nan, 0.5000], dtype=torch.float64)"},
        {TG_FLOAT32, 1e-9, "tensor([       nan, 1.0000e-09])"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tg_tensor *t = tg_empty(cases[i].dt, 1, (int64_t[]){2});
        if (cases[i].dt == TG_FLOAT32)
            ((float *)tg_data(t))[0] = -NAN, ((float *)tg_data(t))[1] = (float)cases[i].other;
        else
            ((double *)tg_data(t))[0] = -NAN, ((double *)tg_data(t))[1] = cases[i].other;
        tg_buf b = {0};
        CHECK(tg_repr_tensor(&b, t, NULL) == TG_OK && !strcmp(b.data, cases[i].text));
        tg_buf_free(&b);
        tg_release(t);
    }
    tg_buf b = {0};
    CHECK(tg_repr_pyfloat(&b, -NAN) == TG_OK && !strcmp(b.data, "nan"));
    tg_buf_free(&b);
}
