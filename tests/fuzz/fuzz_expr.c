/* fuzz_expr.c -- libFuzzer target: the expression language, parsed and
 * evaluated with four variables bound (as tgrad binds --at values), then
 * differentiated.  The input is the program text (at most 256 bytes).  The
 * input's length picks the mode, so every program meets all four:
 *   size % 4 == 0  value and gradients (tg_grad_eval, sum of the result)
 *   size % 4 == 1  value only (no_grad)
 *   size % 4 == 2  gradients with create_graph, then the Hessian when the
 *                  result is a float scalar
 *   size % 4 == 3  the Jacobian of the result in x and y
 * Invariants checked besides the sanitizers': every failure sets status 2,
 * 3 or 4 with a one-line message (fuzz_check_failed). */
#include "fuzz_common.h"
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT 256

static tg_tensor *leaf(const char *json, bool rg)
{
    tg_tensor *t = tg_json_parse(json, strlen(json), -1, NULL);
    if (!t)
        abort();
    tg_set_requires_grad(t, rg);
    return t;
}

/* binds the variables; leaves[] gets one more reference to each */
static void bind(tg_env *env, tg_tensor **leaves)
{
    static const char *const names[] = {"x", "y", "n", "b"};
    tg_tensor *v[] = {
        leaf("[[1.5,-2],[0,3]]", true),
        leaf("[0.5,-1]", true),
        leaf("{\"data\":[1,2],\"dtype\":\"int64\"}", false),
        leaf("[true,false]", false),
    };
    for (int i = 0; i < 4; i++) {
        leaves[i] = tg_ref(v[i]);
        if (tg_env_set(env, names[i], v[i]) != TG_OK)
            abort();
    }
}

static void release_all(tg_tensor **t, int n)
{
    for (int i = 0; i < n; i++) {
        tg_release(t[i]);
        t[i] = NULL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT || memchr(data, 0, size))
        return -1; /* not added to the corpus (a NUL would end the text) */
    fuzz_init();
    fuzz_reset();
    char *src = fuzz_strndup(data, size);
    tg_program *p = tg_program_parse(src);
    if (!p) {
        fuzz_check_failed("tg_program_parse");
        free(src);
        return 0;
    }
    tg_env env = {0};
    tg_tensor *leaves[4];
    bind(&env, leaves);
    tg_tensor *grads[4] = {0}, *value = NULL, *out[4] = {0};
    const char *names[4] = {"x", "y", "n", "b"};
    int mode = (int)(size % 4);
    if (mode <= 2) {
        tg_grad_opts go = {.no_grad = mode == 1, .sum_output = true, .create_graph = mode == 2,
                           .retain_graph = mode == 2};
        value = tg_grad_eval(p, &env, 4, &go, grads);
        if (!value)
            fuzz_check_failed("tg_grad_eval");
        else if (tg_write_result(fuzz_devnull(), value, mode == 1 ? NULL : names, grads, 4, mode == 0) != TG_OK)
            fuzz_check_failed("tg_write_result");
        if (value && mode == 2 && value->numel == 1 && tg_dtype_is_float(value->dtype) &&
            value->requires_grad) {
            tg_tensor *in[2] = {leaves[0], leaves[1]};
            if (tg_hessian(value, in, 2, out) != TG_OK)
                fuzz_check_failed("tg_hessian");
            else
                for (int i = 0; i < 4; i++)
                    tg_json_write(fuzz_devnull(), out[i]);
            release_all(out, 4);
        }
    } else {
        value = tg_program_eval(p, &env);
        if (!value)
            fuzz_check_failed("tg_program_eval");
        else if (value->numel <= 64 && value->requires_grad && tg_dtype_is_float(value->dtype)) {
            tg_tensor *in[2] = {leaves[0], leaves[1]};
            if (tg_jacobian(value, in, 2, out) != TG_OK)
                fuzz_check_failed("tg_jacobian");
            else
                for (int i = 0; i < 2; i++)
                    tg_json_write(fuzz_devnull(), out[i]);
            release_all(out, 2);
        }
    }
    release_all(grads, 4);
    tg_release(value);
    /* with create_graph an input's .grad holds a graph that refers to the
     * input: a reference cycle, which PyTorch too leaves to the caller to
     * break (x.grad = None) */
    for (int i = 0; i < 4; i++) {
        if (mode == 2)
            tg_zero_grad(leaves[i]);
        tg_release(leaves[i]);
    }
    tg_env_free(&env);
    tg_program_free(p);
    free(src);
    return 0;
}
