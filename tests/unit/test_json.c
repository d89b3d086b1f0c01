/* test_json.c -- the JSON reader and writer: shortest round-trip numbers,
 * tensors through text and back, and every refusal of the strict parser. */
#include "test.h"
#include "io/json.h"
#include <float.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- helpers ---- */

static tg_tensor *parse(const char *s, int hint)
{
    return tg_json_parse(s, strlen(s), hint, NULL);
}

/* Significant digits of a number's text into out (no sign, point, or
 * leading/trailing zeros); returns their count. */
static int sig_digits(const char *s, char *out)
{
    int n = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && (n || *s != '0'))
            out[n++] = *s;
    while (n > 1 && out[n - 1] == '0')
        n--;
    out[n] = 0;
    return n;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

/* Checks one float32: it reads back bit for bit (through strtof and through
 * our parser), its digits are printf's for that many digits, and one digit
 * fewer does not read back. */
static bool check_f32(float f)
{
    char buf[32], dig[32], tmp[64], pd[64];
    int len = tg_format_number(buf, f, TG_FLOAT32);
    bool ok = len == (int)strlen(buf) && len < 32;
    if (isnan(f))
        return ok && !strcmp(buf, "\"NaN\"");
    if (isinf(f))
        return ok && !strcmp(buf, f > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    ok &= f32_bits(strtof(buf, NULL)) == f32_bits(f);
    tg_tensor *t = parse(buf, TG_FLOAT32);
    ok &= t && t->dtype == TG_FLOAT32 && t->ndim == 0 && f32_bits(*(float *)tg_data(t)) == f32_bits(f);
    tg_release(t);
    if (f == 0)
        return ok && !strcmp(buf, signbit(f) ? "-0.0" : "0");
    int p = sig_digits(buf, dig);
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, (double)f);
    sig_digits(tmp, pd);
    ok &= !strcmp(dig, pd);
    if (p > 1) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 2, (double)f);
        ok &= strtof(tmp, NULL) != f;
    }
    if (!ok)
        fprintf(stderr, "  float32 %a printed as %s\n", (double)f, buf);
    return ok;
}

static bool check_f64(double d)
{
    char buf[32], dig[32], tmp[64], pd[64];
    int len = tg_format_number(buf, d, TG_FLOAT64);
    bool ok = len == (int)strlen(buf) && len < 32;
    if (isnan(d))
        return ok && !strcmp(buf, "\"NaN\"");
    if (isinf(d))
        return ok && !strcmp(buf, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    ok &= f64_bits(strtod(buf, NULL)) == f64_bits(d);
    tg_tensor *t = parse(buf, TG_FLOAT64);
    ok &= t && t->dtype == TG_FLOAT64 && f64_bits(*(double *)tg_data(t)) == f64_bits(d);
    tg_release(t);
    if (d == 0)
        return ok && !strcmp(buf, signbit(d) ? "-0.0" : "0");
    int p = sig_digits(buf, dig);
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
    sig_digits(tmp, pd);
    ok &= !strcmp(dig, pd);
    if (p > 1) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 2, d);
        ok &= strtod(tmp, NULL) != d;
    }
    if (!ok)
        fprintf(stderr, "  float64 %a printed as %s\n", d, buf);
    return ok;
}

/* ---- number formatting ---- */

TEST(json_format_examples)
{
    static const struct { double v; tg_dtype dt; const char *want; } cases[] = {
        {0.1, TG_FLOAT32, "0.1"},        {0.1, TG_FLOAT64, "0.1"},
        {50, TG_FLOAT32, "50"},          {9, TG_FLOAT64, "9"},
        {-2.5, TG_FLOAT32, "-2.5"},      {1e16, TG_FLOAT32, "1e+16"},
        {1e15, TG_FLOAT64, "1000000000000000"}, {1e16, TG_FLOAT64, "1e+16"},
        {1e-5, TG_FLOAT64, "1e-05"},     {1e-4, TG_FLOAT64, "0.0001"},
        {0.30000000000000004, TG_FLOAT64, "0.30000000000000004"},
        {16777216, TG_FLOAT32, "16777216"}, {9007199254740992.0, TG_FLOAT64, "9007199254740992"},
        {FLT_MAX, TG_FLOAT32, "3.4028235e+38"}, {FLT_MIN, TG_FLOAT32, "1.1754944e-38"},
        {FLT_TRUE_MIN, TG_FLOAT32, "1e-45"}, {DBL_MAX, TG_FLOAT64, "1.7976931348623157e+308"},
        {DBL_TRUE_MIN, TG_FLOAT64, "5e-324"}, {DBL_MIN, TG_FLOAT64, "2.2250738585072014e-308"},
        {0.0, TG_FLOAT32, "0"},          {-0.0, TG_FLOAT32, "-0.0"}, {-0.0, TG_FLOAT64, "-0.0"},
        {NAN, TG_FLOAT32, "\"NaN\""},    {INFINITY, TG_FLOAT64, "\"Infinity\""},
        {-INFINITY, TG_FLOAT32, "\"-Infinity\""},
        {1, TG_BOOL, "true"},            {0, TG_BOOL, "false"},
        {-42, TG_INT64, "-42"},          {4503599627370497.0, TG_INT64, "4503599627370497"},
        {123456.789, TG_FLOAT32, "123456.79"}, {1.0 / 3, TG_FLOAT64, "0.3333333333333333"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[32];
        int n = tg_format_number(buf, cases[i].v, cases[i].dt);
        CHECK(n == (int)strlen(buf));
        if (strcmp(buf, cases[i].want)) {
            fprintf(stderr, "  case %zu: got %s, want %s\n", i, buf, cases[i].want);
            CHECK(!"formatted as expected");
        }
    }
}

TEST(json_format_f32_random_bits)
{
    int bad = 0;
    for (int i = 0; i < 40000; i++) {
        uint32_t u = (uint32_t)test_rand();
        float f;
        memcpy(&f, &u, 4);
        bad += !check_f32(f);
    }
    CHECK(bad == 0);
}

TEST(json_format_f64_random_bits)
{
    int bad = 0;
    for (int i = 0; i < 40000; i++) {
        uint64_t u = test_rand();
        double d;
        memcpy(&d, &u, 8);
        bad += !check_f64(d);
    }
    CHECK(bad == 0);
}

/* Whole numbers take a shortcut (their integer digits) below 2^24 for
 * float32 and 2^53 for float64: still the shortest digits that read back,
 * on both sides of those bounds. */
TEST(json_format_whole_numbers)
{
    int bad = 0;
    for (int e = 0; e <= 64; e++)
        for (int k = -3; k <= 3; k++) {
            double d = ldexp(1, e) + k;
            bad += !check_f64(d) + !check_f64(-d) + !check_f32((float)d) + !check_f32((float)-d);
        }
    for (int i = 0; i < 20000; i++) {
        int64_t v = (int64_t)(test_rand() >> (test_rand() % 64));
        bad += !check_f64((double)v) + !check_f32((float)v);
    }
    CHECK(bad == 0);
    char buf[32];
    tg_format_number(buf, 9007199254740991.0, TG_FLOAT64);
    CHECK(!strcmp(buf, "9007199254740991"));
    tg_format_number(buf, -16777215.0, TG_FLOAT32);
    CHECK(!strcmp(buf, "-16777215"));
    tg_format_number(buf, 1e16, TG_FLOAT64);
    CHECK(!strcmp(buf, "1e+16"));
}

/* Values people write: short decimals, small integers, their float32s. */
TEST(json_format_short_decimals)
{
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        char s[64];
        int digits = 1 + (int)(test_rand() % 9), e = (int)(test_rand() % 30) - 15;
        long long m = (long long)(test_rand() % 1000000000ULL);
        for (int k = digits; k < 9; k++)
            m /= 10;
        snprintf(s, sizeof s, "%llde%d", m, e);
        bad += !check_f32(strtof(s, NULL)) + !check_f64(strtod(s, NULL));
    }
    for (int i = -1000; i <= 1000; i++)
        bad += !check_f32((float)i) + !check_f64(i) + !check_f64(i / 8.0);
    CHECK(bad == 0);
}

/* Where the digits come from exact integer arithmetic (about 1e-28..3e38),
 * and dyadic values with few digits, whose roundings meet exact ties. */
TEST(json_format_ranges_and_ties)
{
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        double d = pow(10, test_uniform(-30, 39)) * (test_rand() & 1 ? 1 : -1);
        bad += !check_f64(d) + !check_f32((float)d);
        uint64_t k = test_rand() % (1u << 20);
        int j = (int)(test_rand() % 40) - 10;
        bad += !check_f64(ldexp((double)k, -j)) + !check_f32(ldexpf((float)k, -j));
        bad += !check_f64(ldexp((double)(test_rand() >> 11), (int)(test_rand() % 200) - 100));
    }
    CHECK(bad == 0);
}

TEST(json_format_edges)
{
    int bad = 0;
    for (int e = -46; e <= 39; e++) { /* powers of ten: one digit */
        char s[32], buf[32], dig[32];
        snprintf(s, sizeof s, "1e%d", e);
        float f = strtof(s, NULL);
        bad += !check_f32(f);
        tg_format_number(buf, f, TG_FLOAT32);
        bad += f != 0 && !isinf(f) && sig_digits(buf, dig) != 1;
    }
    for (int e = -325; e <= 309; e++) {
        char s[32], buf[32], dig[32];
        snprintf(s, sizeof s, "1e%d", e);
        double d = strtod(s, NULL);
        bad += !check_f64(d);
        tg_format_number(buf, d, TG_FLOAT64);
        bad += d != 0 && !isinf(d) && sig_digits(buf, dig) != 1;
    }
    for (int k = -200; k <= 200; k++) { /* powers of two and neighbours */
        float f = ldexpf(1, k);
        double d = ldexp(1, k * 5);
        bad += !check_f32(f) + !check_f32(nextafterf(f, 0)) + !check_f32(nextafterf(f, INFINITY));
        bad += !check_f64(d) + !check_f64(nextafter(d, 0)) + !check_f64(nextafter(d, INFINITY));
    }
    for (uint32_t u = 1; u < 3000; u++) { /* subnormals at both ends */
        float f, g;
        uint32_t v = 0x007FFFFFu - u;
        memcpy(&f, &u, 4);
        memcpy(&g, &v, 4);
        bad += !check_f32(f) + !check_f32(-g);
        bad += !check_f64(ldexp((double)u, -1074)) + !check_f64(-ldexp((double)(UINT64_C(1) << 52) - u, -1074));
    }
    float fs[] = {FLT_MAX, -FLT_MAX, FLT_MIN, FLT_TRUE_MIN, FLT_EPSILON, 0.0f, -0.0f, NAN, INFINITY, -INFINITY};
    double ds[] = {DBL_MAX, -DBL_MAX, DBL_MIN, DBL_TRUE_MIN, DBL_EPSILON, 0.0, -0.0, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof fs / sizeof *fs; i++)
        bad += !check_f32(fs[i]) + !check_f64(ds[i]);
    CHECK(bad == 0);
}

/* The reader's fast paths against strtod/strtof: random decimals of 1 to
 * 22 digits (the 19-digit limit of the exact paths and past it), the point
 * anywhere, exponents that reach under- and overflow. */
TEST(json_parse_numbers_match_strtod)
{
    int bad = 0;
    for (int i = 0; i < 60000; i++) {
        char s[80];
        int nd = 1 + (int)(test_rand() % 22), k = 0, point = (int)(test_rand() % (nd + 1));
        if (test_rand() & 1)
            s[k++] = '-';
        for (int j = 0; j < nd; j++) {
            if (j == point && j > 0)
                s[k++] = '.';
            s[k++] = (char)('0' + (j == 0 ? 1 + test_rand() % 9 : test_rand() % 10));
        }
        int e = (int)(test_rand() % 80) - 40;
        if (test_rand() % 4 == 0)
            e = (int)(test_rand() % 700) - 350;
        if (e)
            k += snprintf(s + k, sizeof s - (size_t)k, "e%d", e);
        s[k] = 0;
        double d = strtod(s, NULL);
        float f = strtof(s, NULL);
        tg_tensor *t = parse(s, TG_FLOAT64);
        if (isinf(d))
            bad += t != NULL;
        else
            bad += !t || f64_bits(*(double *)tg_data(t)) != f64_bits(d);
        tg_release(t);
        tg_error_clear();
        t = parse(s, TG_FLOAT32);
        if (isinf(f))
            bad += t != NULL;
        else
            bad += !t || f32_bits(*(float *)tg_data(t)) != f32_bits(f);
        if (bad && i < 100000) {
            fprintf(stderr, "  %s: %a %a\n", s, d, (double)f);
            i = 100000;
        }
        tg_release(t);
        tg_error_clear();
    }
    CHECK(bad == 0);
}

/* ---- tensors through text and back ---- */

static void fill_random(tg_tensor *t)
{
    char *d = tg_data(t);
    size_t sz = tg_dtype_size(t->dtype);
    for (int64_t i = 0; i < t->numel; i++) {
        uint64_t r = test_rand();
        if (t->dtype == TG_BOOL)
            r &= 1;
        else if (test_rand() % 4 == 0) /* some short values too */
            r = 0;
        memcpy(d + (size_t)i * sz, &r, sz);
        if (t->dtype == TG_FLOAT32 && r == 0)
            ((float *)d)[i] = (float)(int)(test_rand() % 2001 - 1000) / 8;
        if (t->dtype == TG_FLOAT64 && r == 0)
            ((double *)d)[i] = (double)(int)(test_rand() % 2001 - 1000) / 10;
    }
}

static bool same_element(const tg_tensor *a, const tg_tensor *b, int64_t i)
{
    size_t sz = tg_dtype_size(a->dtype);
    const char *x = (const char *)tg_data(a) + (size_t)i * sz, *y = (const char *)tg_data(b) + (size_t)i * sz;
    if (a->dtype == TG_FLOAT32 && isnan(*(const float *)x))
        return isnan(*(const float *)y);
    if (a->dtype == TG_FLOAT64 && isnan(*(const double *)x))
        return isnan(*(const double *)y);
    return !memcmp(x, y, sz);
}

static bool same_tensor(const tg_tensor *a, const tg_tensor *b)
{
    if (!a || !b || a->dtype != b->dtype || a->ndim != b->ndim || a->numel != b->numel)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    for (int64_t i = 0; i < a->numel; i++)
        if (!same_element(a, b, i))
            return false;
    return true;
}

TEST(json_roundtrip_random_tensors)
{
    int bad = 0;
    for (int iter = 0; iter < 600; iter++) {
        tg_dtype dt = (tg_dtype)(test_rand() % TG_NDTYPES);
        int ndim = (int)(test_rand() % 6);
        int64_t shape[6];
        for (int d = 0; d < ndim; d++)
            shape[d] = (int64_t)(test_rand() % 5) - (test_rand() % 8 == 0); /* some 0s... */
        for (int d = 0; d < ndim; d++)
            if (shape[d] < 0)
                shape[d] = 0;
        tg_tensor *t = tg_empty(dt, ndim, shape);
        fill_random(t);
        char *s = test_json_text(t), obj[1024], sh[128];
        /* nested arrays cannot show the sizes after a 0 (shape [2,0,3] is
         * written [[],[]]): those go through the object form's "shape" */
        bool lossy = false;
        for (int d = 0; d + 1 < ndim; d++)
            lossy |= shape[d] == 0;
        snprintf(obj, sizeof obj, "{\"data\":%s,\"shape\":%s}", s ? s : "", tg_shape_str(t, sh, sizeof sh));
        const char *in = lossy ? obj : s ? s : "";
        int rg = 7;
        tg_tensor *u = s ? tg_json_parse(in, strlen(in), (int)dt, &rg) : NULL;
        bool ok = same_tensor(t, u) && rg == -1;
        char *s2 = u ? test_json_text(u) : NULL;
        ok &= s2 && !strcmp(s, s2);
        if (!ok) {
            fprintf(stderr, "  %s rank %d: %.200s\n", tg_dtype_name(dt), ndim, s ? s : "(no text)");
            bad++;
        }
        free(s);
        free(s2);
        tg_release(t);
        tg_release(u);
        tg_error_clear();
    }
    CHECK(bad == 0);
}

TEST(json_write_empty_and_views)
{
    int64_t s1[] = {0}, s2[] = {2, 0}, s3[] = {2, 0, 3}, s4[] = {2, 3, 0};
    const struct { int nd; const int64_t *shape; const char *want; } cases[] = {
        {1, s1, "[]"}, {2, s2, "[[],[]]"}, {3, s3, "[[],[]]"}, {3, s4, "[[[],[],[]],[[],[],[]]]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tg_tensor *t = tg_empty(TG_FLOAT32, cases[i].nd, cases[i].shape);
        char *s = test_json_text(t);
        CHECK(s && !strcmp(s, cases[i].want));
        free(s);
        tg_release(t);
    }
    /* a transposed and a strided view: the view's order, not storage's */
    int64_t sh[] = {2, 3};
    float v[] = {1, 2, 3, 4, 5, 6};
    tg_tensor *a = tg_from_data(TG_FLOAT32, 2, sh, v);
    tg_tensor *tt = tg_transpose(tg_ref(a), 0, 1);
    char *s = tt ? test_json_text(tt) : NULL;
    CHECK(s && !strcmp(s, "[[1,4],[2,5],[3,6]]"));
    free(s);
    tg_tensor *sl = tg_slice(tg_ref(a), 1, 0, 3, 2);
    s = sl ? test_json_text(sl) : NULL;
    CHECK(s && !strcmp(s, "[[1,3],[4,6]]"));
    free(s);
    tg_release(tt);
    tg_release(sl);
    tg_release(a);
    int64_t big[] = {INT64_MAX, INT64_MIN, -1, 0};
    int64_t n4 = 4;
    tg_tensor *i = tg_from_data(TG_INT64, 1, &n4, big);
    s = test_json_text(i);
    CHECK(s && !strcmp(s, "[9223372036854775807,-9223372036854775808,-1,0]"));
    free(s);
    tg_release(i);
}

TEST(json_write_error)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        return;
    tg_tensor *t = tg_zeros(TG_FLOAT64, 1, (int64_t[]){1000});
    CHECK(tg_json_write(f, t) == TG_ERESOURCE);
    CHECK(strstr(tg_errmsg(), "cannot write output"));
    tg_error_clear();
    fclose(f);
    tg_release(t);
}

/* ---- accepted forms ---- */

TEST(json_parse_accepts)
{
    static const struct { const char *in; int hint; tg_dtype dt; const char *shape, *out; int rg; } cases[] = {
        {"2", -1, TG_FLOAT32, "[]", "2", -1},
        {" \t\r\n[1, 2.5 ,-3e2, 0.1]\n", -1, TG_FLOAT32, "[4]", "[1,2.5,-300,0.1]", -1},
        {"[]", -1, TG_FLOAT32, "[0]", "[]", -1},
        {"[[],[]]", -1, TG_FLOAT32, "[2,0]", "[[],[]]", -1},
        {"[[[]]]", TG_INT64, TG_INT64, "[1,1,0]", "[[[]]]", -1},
        {"[[1,2],[3,4]]", TG_FLOAT64, TG_FLOAT64, "[2,2]", "[[1,2],[3,4]]", -1},
        {"[true,false]", TG_FLOAT64, TG_BOOL, "[2]", "[true,false]", -1},
        {"true", -1, TG_BOOL, "[]", "true", -1},
        {"[\"NaN\",\"Infinity\",\"-Infinity\",-0]", -1, TG_FLOAT32, "[4]",
         "[\"NaN\",\"Infinity\",\"-Infinity\",-0.0]", -1},
        {"\"NaN\"", TG_FLOAT64, TG_FLOAT64, "[]", "\"NaN\"", -1},
        {"[1e-50,-1e-50,3.4028235e38,1e-45]", -1, TG_FLOAT32, "[4]", "[0,-0.0,3.4028235e+38,1e-45]", -1},
        {"{\"data\":[1,2,3,4],\"shape\":[2,2],\"dtype\":\"float64\"}", -1, TG_FLOAT64, "[2,2]",
         "[[1,2],[3,4]]", -1},
        {"{\"dtype\":\"f8\", \"shape\":[4], \"data\":[[1,2],[3,4]]}", -1, TG_FLOAT64, "[4]", "[1,2,3,4]", -1},
        {"{\"data\":5,\"shape\":[1,1]}", -1, TG_FLOAT32, "[1,1]", "[[5]]", -1},
        {"{\"data\":[5],\"shape\":[]}", -1, TG_FLOAT32, "[]", "5", -1},
        {"{\"data\":[],\"shape\":[2,0,3]}", -1, TG_FLOAT32, "[2,0,3]", "[[],[]]", -1},
        {"{\"data\":[9223372036854775807,-9223372036854775808],\"dtype\":\"int64\"}", -1, TG_INT64,
         "[2]", "[9223372036854775807,-9223372036854775808]", -1},
        {"{\"data\":[1e3,1.5e1,2.0,-0,0e-999,-12.50e1],\"dtype\":\"int64\"}", -1, TG_INT64, "[6]",
         "[1000,15,2,0,0,-125]", -1},
        {"{\"data\":[1,0,2,\"NaN\"],\"dtype\":\"bool\"}", -1, TG_BOOL, "[4]", "[true,false,true,true]", -1},
        {"{\"data\":[true,false],\"dtype\":\"float32\"}", -1, TG_FLOAT32, "[2]", "[1,0]", -1},
        {"{\"data\":2,\"requires_grad\":true}", -1, TG_FLOAT32, "[]", "2", 1},
        {"{\"requires_grad\":false,\"data\":[2]}", TG_FLOAT64, TG_FLOAT64, "[1]", "[2]", 0},
        {"{\"d\\u0061ta\":[1]}", -1, TG_FLOAT32, "[1]", "[1]", -1},
        {"[4503599627370497]", TG_INT64, TG_INT64, "[1]", "[4503599627370497]", -1},
        {"[16777217]", -1, TG_FLOAT32, "[1]", "[16777216]", -1},
        {"0.1", TG_FLOAT64, TG_FLOAT64, "[]", "0.1", -1},
        {"[1.00000000000000000000000000000000001]", -1, TG_FLOAT32, "[1]", "[1]", -1},
        {"[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]", -1, TG_FLOAT32, "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]",
         "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rg = 7;
        char sh[128];
        tg_error_clear();
        tg_tensor *t = tg_json_parse(cases[i].in, strlen(cases[i].in), cases[i].hint, &rg);
        char *s = t ? test_json_text(t) : NULL;
        bool ok = t && t->dtype == cases[i].dt && !strcmp(tg_shape_str(t, sh, sizeof sh), cases[i].shape) &&
                  s && !strcmp(s, cases[i].out) && rg == cases[i].rg;
        if (!ok) {
            fprintf(stderr, "  case %zu %s: got %s %s %s rg %d (%s)\n", i, cases[i].in,
                    t ? tg_dtype_name(t->dtype) : "-", t ? sh : "-", s ? s : "-", rg, tg_errmsg());
            CHECK(!"accepted as expected");
        }
        free(s);
        tg_release(t);
    }
    tg_tensor *t = parse("{\"data\":[1],\"requires_grad\":true}", -1);
    CHECK(t && t->numel == 1); /* requires_grad may be NULL */
    tg_release(t);
    t = tg_json_parse("[1,2]xyz", 5, -1, NULL); /* len, not NUL, ends the text */
    CHECK(t && t->numel == 2);
    tg_release(t);
}

/* ---- refusals ---- */

static void check_refused(const char *in, size_t len, int hint, const char *word)
{
    tg_error_clear();
    int rg = 7;
    tg_tensor *t = tg_json_parse(in, len, hint, &rg);
    bool ok = !t && tg_errcode() == TG_EINPUT && strstr(tg_errmsg(), word) && !strchr(tg_errmsg(), '\n') &&
              rg == -1;
    if (!ok)
        fprintf(stderr, "  input %.60s: %s (wanted an error with '%s')\n", in,
                t ? "accepted" : tg_errmsg(), word);
    CHECK(ok);
    tg_release(t);
    tg_error_clear();
}

#define REFUSED(in, word) check_refused(in, strlen(in), -1, word)

TEST(json_parse_refuses_lenient_json)
{
    REFUSED("", "empty");
    REFUSED(" \n", "whitespace");
    REFUSED("0x10", "hexadecimal");
    REFUSED("1.5e", "exponent");
    REFUSED("1.5e+", "exponent");
    REFUSED("1.", "decimal point");
    REFUSED(".5", "decimal point");
    REFUSED("[-.5]", "decimal point");
    REFUSED("+1", "'+'");
    REFUSED("[+1]", "'+'");
    REFUSED("01", "leading zeros");
    REFUSED("-01", "leading zeros");
    REFUSED("-", "digit");
    REFUSED("1e5e", "after the number");
    REFUSED("1.2.3", "after the number");
    REFUSED("1 2", "unexpected text after the JSON value at offset 2");
    REFUSED("[1,2]x", "after the JSON value at offset 5");
    REFUSED("[1]]", "after the JSON value");
    REFUSED("{\"data\":[1]} {}", "after the JSON value");
    check_refused("[1]\0", 4, -1, "after the JSON value");
    REFUSED("\f1", "expected");
    REFUSED("1\v", "after the JSON value");
    REFUSED("\xEF\xBB\xBF[1]", "byte-order mark");
    REFUSED("[1,2,]", "trailing comma");
    REFUSED("[1 2]", "expected ',' or ']'");
    REFUSED("[1,2", "end of the input");
    REFUSED("[", "end of the input");
    REFUSED("{", "key");
    REFUSED("{\"data\":[1],}", "trailing comma");
    REFUSED("{\"data\" [1]}", "':'");
    REFUSED("{'data':[1]}", "key");
    REFUSED("tru", "'tru'");
    REFUSED("True", "'True'");
    REFUSED("[1,nul]", "'nul'");
    REFUSED("[1,True]", "'True'");
    REFUSED("NaN", "bare NaN");
    REFUSED("[NaN]", "\"NaN\"");
    REFUSED("[1,Infinity]", "string \"Infinity\"");
    REFUSED("-Infinity", "\"-Infinity\"");
    REFUSED("[nan]", "bare nan");
    REFUSED("[-inf]", "bare -inf");
    REFUSED("[\"nan\"]", "only \"NaN\"");
    REFUSED("[\"NaN \"]", "quoted");
    REFUSED("[1,null]", "expected a number at offset 3, found null");
    REFUSED("null", "found null");
    REFUSED("[1,\"abc\"]", "found the string \"abc\"");
    REFUSED("[1,{}]", "found an object");
    REFUSED("[1,{\"data\":1}]", "object");
    REFUSED("[\"\x01\"]", "control character");
    REFUSED("[\"\xff\"]", "UTF-8");
    REFUSED("[\"\xc0\xaf\"]", "UTF-8");
    REFUSED("[\"\\ud800\"]", "surrogate");
    REFUSED("[\"\\x41\"]", "escape");
    REFUSED("[\"\\u12G4\"]", "hex");
    REFUSED("\"abc", "unterminated");
    char longnum[700];
    memset(longnum, '1', 600);
    longnum[600] = 0;
    REFUSED(longnum, "too long");
}

TEST(json_parse_refuses_bad_tensors)
{
    REFUSED("[[1,2],[3]]", "ragged array at offset 7: element [1] has 1 items but element [0] has 2");
    REFUSED("[[1,2,3],[4,5]]", "ragged");
    REFUSED("[[1,2],3]", "element [1] is a number but element [0] is an array");
    REFUSED("[1,[2]]", "element [1] is an array but element [0] is a number");
    REFUSED("[[],[[1]]]", "ragged");
    REFUSED("[[],[1]]", "ragged");
    REFUSED("[[[1],[2]],[[3],[4,5]]]", "element [1][1] has 2 items but element [0][0] has 1");
    REFUSED("[[1],[]]", "ragged");
    REFUSED("[true,1]", "mixes booleans and numbers");
    REFUSED("[[1],[true]]", "mixes");
    REFUSED("{\"data\":[1],\"data\":[2]}", "duplicate key 'data'");
    REFUSED("{\"Data\":[1]}", "unknown key 'Data'");
    REFUSED("{\"data\":[1],\"foo\":1}", "unknown key 'foo' at offset 12 in the tensor object (expected data, "
                                        "shape, dtype, requires_grad)");
    REFUSED("{\"data\\u0000\":[1]}", "unknown key");
    REFUSED("{\"shape\":[1]}", "no \"data\"");
    REFUSED("{}", "no \"data\"");
    REFUSED("{\"data\":[],\"shape\":[4294967296,4294967296,4294967296]}", "too many elements (the limit is 2^40");
    REFUSED("{\"data\":[1,2,3],\"shape\":[2,2]}", "has 3 elements but \"shape\" [2,2] needs 4");
    REFUSED("{\"data\":[1],\"shape\":[-1]}", "negative");
    REFUSED("{\"data\":[1],\"shape\":[1.5]}", "not an integer");
    REFUSED("{\"data\":[1],\"shape\":[[1]]}", "integer");
    REFUSED("{\"data\":[1],\"shape\":1}", "shape");
    REFUSED("{\"data\":[1],\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}", "more than 16");
    REFUSED("{\"data\":[1],\"dtype\":\"float16\"}", "unknown dtype");
    REFUSED("{\"data\":[1],\"dtype\":5}", "dtype");
    REFUSED("{\"data\":[1],\"dtype\":\"Float32\"}", "unknown dtype");
    REFUSED("{\"data\":[1],\"requires_grad\":1}", "must be true or false");
    REFUSED("{\"data\":[1],\"requires_grad\":\"true\"}", "must be true or false");
    REFUSED("{\"data\":{\"data\":[1]}}", "found an object");
    REFUSED("{\"data\":[1], \"shape\":[1]", "end of the input");
    REFUSED("{\"data\":[9223372036854775808],\"dtype\":\"int64\"}", "out of the int64 range");
    REFUSED("{\"data\":[-9223372036854775809],\"dtype\":\"int64\"}", "int64 range");
    REFUSED("{\"data\":[99999999999999999999999],\"dtype\":\"int64\"}", "int64 range");
    REFUSED("{\"data\":[1e19],\"dtype\":\"int64\"}", "int64 range");
    REFUSED("{\"data\":[1e400],\"dtype\":\"int64\"}", "int64 range");
    REFUSED("{\"data\":[1.5],\"dtype\":\"int64\"}", "1.5 at offset 9 is not an integer");
    REFUSED("{\"data\":[1e-3],\"dtype\":\"int64\"}", "not an integer");
    REFUSED("{\"data\":[1.0000000000000000000001],\"dtype\":\"int64\"}", "not an integer");
    REFUSED("{\"data\":[\"NaN\"],\"dtype\":\"int64\"}", "int64");
    check_refused("[1.5]", 5, TG_INT64, "not an integer");
    REFUSED("1e39", "1e39 at offset 0 overflows float32");
    REFUSED("[-3.5e38]", "overflows float32");
    REFUSED("1e400", "overflows float32");
    check_refused("1e400", 5, TG_FLOAT64, "1e400 at offset 0 overflows float64");
    check_refused("[-1e309]", 8, TG_FLOAT64, "overflows float64");
    REFUSED("{\"data\":[1e400],\"dtype\":\"float64\"}", "overflows float64");
}

TEST(json_parse_limits)
{
    char buf[300];
    int k = 0;
    for (int i = 0; i < 17; i++)
        buf[k++] = '[';
    buf[k++] = '1';
    for (int i = 0; i < 17; i++)
        buf[k++] = ']';
    buf[k] = 0;
    REFUSED(buf, "rank limit is 16");
    /* far deeper than any limit: refused early, no deep recursion */
    size_t n = 1000000;
    char *deep = malloc(n + 1);
    memset(deep, '[', n);
    deep[n] = 0;
    REFUSED(deep, "TG_MAX_DIMS");
    memcpy(deep, "{\"data\":", 8);
    REFUSED(deep, "TG_MAX_JSON_DEPTH");
    memcpy(deep, "{\"data\":1,\"shape\":", 18);
    REFUSED(deep, "TG_MAX_JSON_DEPTH");
    free(deep);
}

TEST(json_parse_alloc_failures)
{
    const char *in = "{\"data\":[[1,2,3,4,5,6,7,8,9,10],[1,2,3,4,5,6,7,8,9,10],[1,2,3,4,5,6,7,8,9,10],"
                     "[1,2,3,4,5,6,7,8,9,10],[1,2,3,4,5,6,7,8,9,10],[1,2,3,4,5,6,7,8,9,10],"
                     "[1,2,3,4,5,6,7,8,9,10],[1,2,3,4,5,6,7,8,9,10],[1,2,3,4,5,6,7,8,9,10],"
                     "[1,2,3,4,5,6,7,8,9,10]],\"dtype\":\"float64\"}";
    int failures = 0;
    for (long n = 1; n < 50; n++) {
        tg_error_clear();
        tg_alloc_fail_after(n);
        tg_tensor *t = parse(in, -1);
        tg_alloc_fail_after(0);
        if (!t) {
            failures++;
            CHECK(tg_errcode() == TG_ERESOURCE);
        }
        tg_release(t);
    }
    CHECK(failures > 0);
    tg_error_clear();
}

/* ---- named tensors ---- */

typedef struct {
    int calls;
    char names[4][16];
    int64_t numel[4];
    int rg[4];
    int stop_at;
} named_ctx;

static int collect(const char *name, tg_tensor *t, int rg, void *ctx)
{
    named_ctx *c = ctx;
    int i = c->calls++;
    if (i < 4) {
        snprintf(c->names[i], sizeof c->names[i], "%s", name);
        c->numel[i] = t->numel;
        c->rg[i] = rg;
    }
    tg_release(t);
    return c->calls == c->stop_at ? TG_NO : 0;
}

static tg_status named(const char *in, named_ctx *c)
{
    tg_error_clear();
    memset(c, 0, sizeof *c);
    return tg_json_parse_named(in, strlen(in), -1, collect, c);
}

TEST(json_parse_named)
{
    named_ctx c;
    CHECK(named(" {\"x\": 2, \"w\": {\"data\": [[1,2]], \"requires_grad\": false}, \"b\":[1,2,3]} ", &c) == TG_OK);
    CHECK(c.calls == 3 && !strcmp(c.names[0], "x") && !strcmp(c.names[1], "w") && !strcmp(c.names[2], "b"));
    CHECK(c.numel[0] == 1 && c.numel[1] == 2 && c.numel[2] == 3);
    CHECK(c.rg[0] == -1 && c.rg[1] == 0 && c.rg[2] == -1);
    CHECK(named("{}", &c) == TG_OK && c.calls == 0);
    CHECK(named("{\"x\":1,\"y\":2,\"x\":3}", &c) == TG_EINPUT && c.calls == 0);
    CHECK(strstr(tg_errmsg(), "duplicate name 'x' at offset 13 (first given at offset 1)"));
    CHECK(named("[1]", &c) == TG_EINPUT && strstr(tg_errmsg(), "object mapping names"));
    CHECK(named("{\"x\":1,\"y\":[1,null]}", &c) == TG_EINPUT && c.calls == 1 && strstr(tg_errmsg(), "null"));
    CHECK(named("{\"x\":1,\"y\":[1,}", &c) == TG_EINPUT && c.calls == 0);
    CHECK(named("{\"x\":1} 2", &c) == TG_EINPUT && strstr(tg_errmsg(), "after the JSON value"));
    memset(&c, 0, sizeof c);
    c.stop_at = 1;
    tg_error_clear();
    CHECK(tg_json_parse_named("{\"a\":1,\"b\":2}", 13, -1, collect, &c) == TG_NO && c.calls == 1);
    tg_error_clear();
}
