/* main.c -- the unit-test runner: runs every registered test, or those
 * whose name contains argv[1]. */
#include "test.h"
#include <stdlib.h>

char *test_json_text(const tg_tensor *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    tg_status st = tg_json_write(f, t);
    fclose(f);
    if (st != TG_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

#define MAX_TESTS 1024
static struct { const char *name; test_fn fn; } tests[MAX_TESTS];
static int ntests;
int test_failures;

void test_register(const char *name, test_fn fn)
{
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
uint64_t test_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
double test_uniform(double lo, double hi) { return lo + (hi - lo) * (double)(test_rand() >> 11) / 9007199254740992.0; }

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1]))
            continue;
        test_failures = 0;
        tg_error_clear();
        tg_set_grad_enabled(true);
        tests[i].fn();
        if (test_failures) {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        } else
            passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
