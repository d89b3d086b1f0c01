/* test_torch_fixtures.c -- the differential test against PyTorch: every case
 * of tests/torch/fixtures.jsonl (written by tests/torch/gen_fixtures.py from
 * PyTorch's own answers) is evaluated and differentiated here, and the value
 * and each gradient must match PyTorch's: same shape, same dtype, and
 * elementwise |ours - ref| <= atol + rtol*|ref| (NaN matches NaN, an
 * infinity only the same infinity).
 *
 * TG_FIXTURES=PATH reads another file (tests/torch/live_check.sh uses it to
 * run freshly generated cases).  A missing file, or one with fewer than
 * MIN_CASES cases, fails the test: a differential test that checks nothing
 * must not pass.
 *
 * A case with "error" (PyTorch's message) is one PyTorch refuses: ours must
 * fail too. */
#include "test.h"
#include <cJSON.h>
#include <stdarg.h>
#include <stdlib.h>

#define MIN_CASES 100
#define MAX_VARS 8
#define MAX_REPORTS 40 /* detailed reports; the rest are only counted */

/* Tolerances.  float64: the two implementations round differently (op order
 * of sums and products, libm versus PyTorch's vectorised functions), a few
 * ulps amplified by the composition; the generator drops cases whose
 * conditioning would amplify that beyond a fifth of these.  float32: rtol
 * 1e-5 is ~80 ulps, atol 1e-6 covers results that cancel to ~0. */
static const double RTOL64 = 1e-9, ATOL64 = 1e-12;
static const double RTOL32 = 1e-5, ATOL32 = 1e-6;

typedef struct {
    int case_no;
    const char *expr;
    int reported;
} ctx;

/* A fixture number: a JSON number or "NaN" / "Infinity" / "-Infinity". */
static bool fx_number(const cJSON *j, double *out)
{
    if (cJSON_IsNumber(j)) {
        *out = j->valuedouble;
        return true;
    }
    if (cJSON_IsString(j)) {
        if (!strcmp(j->valuestring, "NaN"))
            *out = NAN;
        else if (!strcmp(j->valuestring, "Infinity"))
            *out = INFINITY;
        else if (!strcmp(j->valuestring, "-Infinity"))
            *out = -INFINITY;
        else
            return false;
        return true;
    }
    return false;
}

static int fx_shape(const cJSON *t, int64_t *shape)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "shape");
    if (!cJSON_IsArray(s) || cJSON_GetArraySize(s) > TG_MAX_DIMS)
        return -1;
    int n = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, s)
    {
        if (!cJSON_IsNumber(d))
            return -1;
        shape[n++] = (int64_t)d->valuedouble;
    }
    return n;
}

/* A tensor of dtype dt from {"data": [...flat...], "shape": [...]}. */
static tg_tensor *fx_tensor(const cJSON *t, tg_dtype dt)
{
    int64_t shape[TG_MAX_DIMS];
    int nd = fx_shape(t, shape);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(t, "data");
    if (nd < 0 || !cJSON_IsArray(data))
        return NULL;
    tg_tensor *x = tg_empty(dt, nd, shape);
    if (!x)
        return NULL;
    if (cJSON_GetArraySize(data) != x->numel) {
        tg_release(x);
        return NULL;
    }
    int64_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, data)
    {
        double d;
        if (!fx_number(v, &d)) {
            tg_release(x);
            return NULL;
        }
        switch (dt) {
        case TG_FLOAT32: ((float *)tg_data(x))[i] = (float)d; break;
        case TG_FLOAT64: ((double *)tg_data(x))[i] = d; break;
        case TG_INT64: ((int64_t *)tg_data(x))[i] = (int64_t)d; break;
        default: ((bool *)tg_data(x))[i] = d != 0; break;
        }
        i++;
    }
    return x;
}

static bool fx_dtype(const cJSON *obj, const char *key, tg_dtype dflt, tg_dtype *out)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!d) {
        *out = dflt;
        return true;
    }
    return cJSON_IsString(d) && tg_dtype_parse(d->valuestring, out) == TG_OK;
}

static void report(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(ctx *c, const char *fmt, ...)
{
    if (c->reported++ == 0)
        test_failures++;
    if (test_failures > MAX_REPORTS)
        return;
    if (c->reported == 1)
        fprintf(stderr, "  case %d: %s\n", c->case_no, c->expr);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "    ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* Compares ours with the fixture's reference ("what" names it in reports). */
static void compare(ctx *c, const char *what, const tg_tensor *ours, const cJSON *ref, tg_dtype case_dt)
{
    int64_t shape[TG_MAX_DIMS];
    int nd = fx_shape(ref, shape);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(ref, "data");
    tg_dtype ref_dt;
    if (nd < 0 || !cJSON_IsArray(data) || !fx_dtype(ref, "dtype", ours->dtype, &ref_dt)) {
        report(c, "%s: malformed reference in the fixture", what);
        return;
    }
    char a[256], b[256];
    if (nd != ours->ndim || memcmp(shape, ours->shape, nd * sizeof *shape)) {
        report(c, "%s: shape %s, PyTorch %s", what, tg_shape_str(ours, a, sizeof a),
               tg_shape_str_raw(nd, shape, b, sizeof b));
        return;
    }
    if (ref_dt != ours->dtype)
        report(c, "%s: dtype %s, PyTorch %s", what, tg_dtype_name(ours->dtype), tg_dtype_name(ref_dt));
    if (cJSON_GetArraySize(data) != ours->numel) {
        report(c, "%s: malformed reference in the fixture (element count)", what);
        return;
    }
    /* the tolerance of the case's dtype, or of float32 when either side
     * holds float32 numbers (x.float() in a float64 case) */
    bool f32 = case_dt == TG_FLOAT32 || ours->dtype == TG_FLOAT32 || ref_dt == TG_FLOAT32;
    double rtol = f32 ? RTOL32 : RTOL64, atol = f32 ? ATOL32 : ATOL64;
    int64_t first = -1, nbad = 0, worst = -1;
    double worst_diff = 0, first_ours = 0, first_ref = 0;
    int64_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, data)
    {
        double r, o = tg_get(ours, i);
        if (!fx_number(v, &r)) {
            report(c, "%s: malformed number in the fixture", what);
            return;
        }
        if (ref_dt == TG_FLOAT32)
            r = (float)r; /* written as the shortest decimal of the float32 */
        bool ok;
        if (isnan(r) || isnan(o))
            ok = isnan(r) && isnan(o);
        else if (isinf(r) || isinf(o))
            ok = r == o;
        else
            ok = fabs(o - r) <= atol + rtol * fabs(r);
        if (!ok) {
            nbad++;
            if (first < 0) {
                first = i;
                first_ours = o;
                first_ref = r;
            }
            double d = isnan(o - r) ? INFINITY : fabs(o - r);
            if (worst < 0 || d > worst_diff) {
                worst = i;
                worst_diff = d;
            }
        }
        i++;
    }
    if (nbad)
        report(c, "%s: %lld of %lld elements differ; first at [%lld]: ours %.17g, PyTorch %.17g; "
               "largest difference %.3g at [%lld] (rtol %g, atol %g)",
               what, (long long)nbad, (long long)ours->numel, (long long)first, first_ours, first_ref,
               worst_diff, (long long)worst, rtol, atol);
}

/* One fixture line: evaluate, differentiate, compare.  Returns false when
 * the line itself is malformed. */
static bool run_case(ctx *c, const cJSON *j)
{
    const cJSON *expr = cJSON_GetObjectItemCaseSensitive(j, "expr");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(j, "inputs");
    const cJSON *gout = cJSON_GetObjectItemCaseSensitive(j, "grad_output");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(j, "value");
    const cJSON *grad = cJSON_GetObjectItemCaseSensitive(j, "grad");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(j, "error");
    tg_dtype dt;
    if (!cJSON_IsString(expr) || !cJSON_IsObject(inputs) || !fx_dtype(j, "dtype", TG_FLOAT32, &dt) ||
        !tg_dtype_is_float(dt) || (error ? !cJSON_IsString(error)
                                         : !cJSON_IsObject(value) || !cJSON_IsObject(grad)))
        return false;
    c->expr = expr->valuestring;
    tg_default_float = dt;

    tg_env env = {0};
    const char *names[MAX_VARS];
    tg_tensor *grads[MAX_VARS] = {0};
    int nvars = 0;
    bool ok = true;
    const cJSON *in;
    cJSON_ArrayForEach(in, inputs)
    {
        tg_dtype idt;
        tg_tensor *x = NULL;
        if (nvars < MAX_VARS && fx_dtype(in, "dtype", dt, &idt))
            x = fx_tensor(in, idt);
        if (!x) {
            ok = false;
            break;
        }
        if (tg_dtype_is_float(idt))
            tg_set_requires_grad(x, true);
        names[nvars++] = in->string;
        if (tg_env_set(&env, in->string, x) != TG_OK) {
            ok = false;
            break;
        }
    }
    tg_tensor *go = NULL;
    if (ok && cJSON_IsObject(gout) && !(go = fx_tensor(gout, dt)))
        ok = false;
    if (!ok) {
        tg_release(go);
        tg_env_free(&env);
        tg_default_float = TG_FLOAT32;
        return false;
    }

    tg_program *p = tg_program_parse(c->expr);
    tg_tensor *val = NULL;
    if (!p) {
        if (!error) /* (refused at parsing, as a literal beyond int64: a refusal too) */
            report(c, "does not parse: %s (at byte %d)", tg_errmsg(), tg_errpos());
        tg_release(go);
    } else {
        tg_grad_opts o = {.grad_output = go};
        val = tg_grad_eval(p, &env, nvars, &o, grads);
        if (!val && !error)
            report(c, "fails: %s", tg_errmsg());
    }
    if (error) {
        /* PyTorch refuses this case (an in-place update of a leaf or of a
         * saved tensor, a shape mismatch ...): so must we */
        if (val)
            report(c, "succeeds, but PyTorch fails: %s", error->valuestring);
    } else if (val) {
        compare(c, "value", val, value, dt);
        const cJSON *g;
        cJSON_ArrayForEach(g, grad)
        {
            int k = 0;
            while (k < nvars && strcmp(names[k], g->string))
                k++;
            char what[64];
            snprintf(what, sizeof what, "grad %s", g->string);
            if (k == nvars)
                report(c, "%s: no such input in the fixture", what);
            else if (!grads[k])
                report(c, "%s: not computed", what);
            else
                compare(c, what, grads[k], g, dt);
        }
        /* and nothing differentiated that PyTorch does not differentiate */
        for (int k = 0; k < nvars; k++)
            if (grads[k] && !cJSON_GetObjectItemCaseSensitive(grad, names[k]))
                report(c, "grad %s: computed, but PyTorch has none", names[k]);
    }
    if (c->reported && test_failures <= MAX_REPORTS) {
        const cJSON *x;
        cJSON_ArrayForEach(x, inputs)
        {
            char *s = cJSON_PrintUnformatted(x);
            fprintf(stderr, "    input %s = %.300s%s\n", x->string, s ? s : "?",
                    s && strlen(s) > 300 ? "..." : "");
            free(s);
        }
    }
    for (int k = 0; k < nvars; k++)
        tg_release(grads[k]);
    tg_release(val);
    tg_program_free(p);
    tg_env_free(&env);
    tg_default_float = TG_FLOAT32;
    tg_error_clear();
    return true;
}

TEST(torch_fixtures_match_pytorch)
{
    const char *path = getenv("TG_FIXTURES");
    if (!path || !*path)
        path = "tests/torch/fixtures.jsonl";
    FILE *f = fopen(path, "r");
    if (!f) {
        test_failures++;
        fprintf(stderr, "  %s: cannot open (run from the repository root; regenerate with "
                "/usr/bin/python3 tests/torch/gen_fixtures.py)\n", path);
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, checked = 0, failed = 0, malformed = 0;
    char ids[2048] = "";
    size_t idlen = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (len <= 1)
            continue;
        cJSON *j = cJSON_Parse(line);
        ctx c = {.case_no = lineno, .expr = "?"};
        const cJSON *id = j ? cJSON_GetObjectItemCaseSensitive(j, "id") : NULL;
        if (cJSON_IsNumber(id))
            c.case_no = (int)id->valuedouble;
        if (!j || !run_case(&c, j)) {
            test_failures++;
            malformed++;
            fprintf(stderr, "  %s:%d: malformed fixture line\n", path, lineno);
        } else {
            checked++;
            if (c.reported) {
                failed++;
                if (idlen < sizeof ids - 16)
                    idlen += snprintf(ids + idlen, sizeof ids - idlen, " %d", c.case_no);
                else if (idlen < sizeof ids - 4)
                    idlen += snprintf(ids + idlen, sizeof ids - idlen, " ...");
            }
        }
        cJSON_Delete(j);
        tg_error_clear();
        tg_default_float = TG_FLOAT32;
    }
    free(line);
    fclose(f);
    if (test_failures > MAX_REPORTS)
        fprintf(stderr, "  (details shown for the first %d failures only)\n", MAX_REPORTS);
    fprintf(stderr, "  torch fixtures: %d cases checked from %s, %d differ from PyTorch%s\n", checked, path,
            failed, malformed ? ", some lines malformed" : "");
    if (failed)
        fprintf(stderr, "  differing cases (ids):%s\n", ids);
    if (checked < MIN_CASES) {
        test_failures++;
        fprintf(stderr, "  %s: only %d cases (at least %d expected)\n", path, checked, MIN_CASES);
    }
}
