/* test.h -- the unit-test runner's few macros.  TEST(name) registers a
 * test; CHECK records a failure with its line and goes on; the runner
 * prints "N passed, M failed" last. */
#ifndef TG_TEST_H
#define TG_TEST_H
#include "tg.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
extern int test_failures; /* failures in the current test */

#define TEST(name)                                                            \
    static void test_##name(void);                                            \
    __attribute__((constructor)) static void reg_##name(void) { test_register(#name, test_##name); } \
    static void test_##name(void)

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            test_failures++;                                                  \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed%s%s\n", __FILE__, __LINE__, #cond, \
                    tg_errcode() ? "; error: " : "", tg_errcode() ? tg_errmsg() : ""); \
        }                                                                     \
    } while (0)

#define CHECK_CLOSE(a, b, rtol, atol)                                         \
    do {                                                                      \
        double a_ = (a), b_ = (b);                                            \
        if (!(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_)) && !(isnan(a_) && isnan(b_))) { \
            test_failures++;                                                  \
            fprintf(stderr, "  %s:%d: %s = %.17g, expected %s = %.17g\n", __FILE__, __LINE__, \
                    #a, a_, #b, b_);                                          \
        }                                                                     \
    } while (0)

/* deterministic random numbers for tests */
uint64_t test_rand(void);
double test_uniform(double lo, double hi);
/* t as tg_json_write writes it, malloc'd (free it), NULL on failure (main.c) */
char *test_json_text(const tg_tensor *t);
#endif
