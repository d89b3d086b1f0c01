/* test_locale.c -- the library's numbers in a program that chose a locale
 * whose decimal point is ',' (issue: under de_DE, x*1.5+0.25 evaluated as
 * x*1+0 and 1e-300 was written "1.,e-300").  The locale is generated with
 * localedef into a scratch folder (LOCPATH), so no system locale is needed;
 * where localedef or its sources are missing the test says so and passes. */
#include "test.h"
#include "internal.h"
#include <locale.h>
#include <stdlib.h>
#include <unistd.h>

/* Makes de_DE.UTF-8 under dir; true when setlocale(LC_ALL, "") then
 * picks it (LC_ALL in the environment, as a user's shell would set). */
static bool enter_comma_locale(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1", dir);
    if (system(cmd) != 0)
        return false;
    setenv("LOCPATH", dir, 1);
    setenv("LC_ALL", "de_DE.UTF-8", 1);
    return setlocale(LC_ALL, "") && !strcmp(localeconv()->decimal_point, ",");
}

static void leave_locale(const char *dir)
{
    setlocale(LC_ALL, "C");
    unsetenv("LC_ALL");
    unsetenv("LOCPATH");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "  test_locale: could not remove %s\n", dir);
}

/* x*1.5+0.25 at x = [1, 2]: the literals must keep their fractions */
static void check_expression(void)
{
    tg_program *p = tg_program_parse("x*1.5+0.25");
    CHECK(p != NULL);
    if (!p)
        return;
    tg_env env = {0};
    int64_t n = 2;
    tg_env_set(&env, "x", tg_from_data(TG_FLOAT64, 1, &n, (double[]){1, 2}));
    tg_tensor *r = tg_program_eval(p, &env);
    CHECK(r != NULL);
    if (r) {
        CHECK(tg_get(r, 0) == 1.75);
        CHECK(tg_get(r, 1) == 3.25);
    }
    tg_release(r);
    tg_env_free(&env);
    tg_program_free(p);
}

static void check_json(void)
{
    int64_t n = 5;
    tg_tensor *t = tg_from_data(TG_FLOAT64, 1, &n, (double[]){1.5, 2.25, 0, 1e-300, -0.0});
    char *s = test_json_text(t);
    CHECK(s && !strcmp(s, "[1.5,2.25,0,1e-300,-0.0]"));
    if (s && strcmp(s, "[1.5,2.25,0,1e-300,-0.0]"))
        fprintf(stderr, "  wrote %s\n", s);
    free(s);
    tg_release(t);
    char buf[32];
    tg_format_number(buf, 0.1f, TG_FLOAT32);
    CHECK(!strcmp(buf, "0.1"));
    /* digits beyond Clinger's fast path go through strtod */
    const char *text = "[0.1000000000000000000001, 123456789012345678901.5]";
    t = tg_json_parse(text, strlen(text), TG_FLOAT64, NULL);
    CHECK(t && tg_get(t, 0) == 0.1 && tg_get(t, 1) == 123456789012345678901.5);
    tg_release(t);
    t = tg_json_parse(text, strlen(text), TG_FLOAT32, NULL);
    CHECK(t && tg_get(t, 0) == (double)0.1f);
    tg_release(t);
}

/* the text compiled evaluation generates (C hex-float constants) */
static void check_generated_text(void)
{
    tg_buf b = {0};
    tg_buf_printf(&b, "%a %.3f", 1.5, 0.25);
    CHECK(b.data && !strcmp(b.data, "0x1.8p+0 0.250"));
    tg_free(b.data);
}

TEST(numbers_in_a_comma_locale)
{
    char dir[] = "/tmp/tg_locale.XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "  numbers_in_a_comma_locale: skipped (no scratch folder)\n");
        return;
    }
    if (!enter_comma_locale(dir)) {
        fprintf(stderr, "  numbers_in_a_comma_locale: skipped (localedef cannot make de_DE.UTF-8)\n");
        leave_locale(dir);
        return;
    }
    char probe[16];
    snprintf(probe, sizeof probe, "%.1f", 1.5);
    CHECK(!strcmp(probe, "1,5")); /* the locale is in force */
    check_expression();
    check_json();
    check_generated_text();
    leave_locale(dir);
}
