/* grad_eval.c -- evaluate a program and differentiate its result with
 * respect to its inputs: what tgrad does, as a library call. */
#include "internal.h"

tg_tensor *tg_grad_eval(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor **grads)
{
    for (int i = 0; i < nvars; i++)
        grads[i] = NULL;
    /* the inputs, held before evaluation: the program may rebind names */
    int n = nvars;
    tg_tensor **inputs = tg_calloc(n ? (size_t)n : 1, sizeof *inputs);
    if (!inputs) {
        tg_release(o->grad_output);
        return NULL;
    }
    bool any = false;
    for (int i = 0; i < n; i++) {
        inputs[i] = tg_ref(env->values[i]);
        any = any || inputs[i]->requires_grad;
    }
    /* the gradients of an earlier pass go before the forward, not after it:
     * held through it they would add a tensor per variable to the peak */
    for (int i = 0; i < n && !o->accumulate && !o->no_grad && any; i++)
        tg_zero_grad(inputs[i]);
    tg_modes saved = tg_modes_get();
    tg_mode.grad = !o->no_grad;
    /* one backward pass, no graph kept or built: intermediates nothing
     * reads again are freed during the forward (peak memory) */
    tg_mode.free_unsaved = !o->retain_graph && !o->create_graph && !tg_backward_hook &&
                           !tg_anomaly_enabled(); /* anomaly reports read nodes' values */
    tg_tensor *value = tg_program_eval(p, env);
    tg_modes_set(saved);
    tg_tensor *gout = o->grad_output;
    if (!value || o->no_grad) {
        tg_release(gout);
        for (int i = 0; i < n; i++)
            tg_release(inputs[i]);
        tg_free(inputs);
        return value;
    }
    if (any && value->requires_grad) {
        if (!gout && o->sum_output && !(gout = tg_ones_like(value)))
            goto fail;
        if (!gout && value->numel != 1) {
            char s[256];
            tg_error(TG_EINPUT, "the result has shape %s, not a single number, so its gradient "
                     "needs an upstream gradient: reduce it (append .sum() or .mean()), give one "
                     "with --grad-output, or ask for the Jacobian with --jacobian",
                     tg_shape_str(value, s, sizeof s));
            goto fail;
        }
        for (int i = 0; i < n && !o->accumulate; i++)
            tg_zero_grad(inputs[i]);
        if (tg_backward(value, gout, o->retain_graph, o->create_graph) != TG_OK)
            goto fail;
    } else
        tg_release(gout);
    for (int i = 0; i < n; i++) {
        tg_tensor *x = inputs[i];
        if (!x->requires_grad)
            continue;
        /* an input the result does not depend on has gradient zero */
        grads[i] = x->grad ? tg_ref(x->grad) : tg_zeros_like(x);
        if (o->create_graph && x->grad) {
            /* a differentiable gradient's graph holds x: kept in x->grad it
             * would make a reference cycle, so it is handed over instead */
            tg_release(x->grad);
            x->grad = NULL;
        }
        if (!grads[i]) {
            for (int j = 0; j < i; j++) {
                tg_release(grads[j]);
                grads[j] = NULL;
            }
            goto fail;
        }
    }
    goto out;
fail:
    tg_release(value);
    value = NULL;
out:
    for (int i = 0; i < n; i++)
        tg_release(inputs[i]);
    tg_free(inputs);
    return value;
}

/* the builder's object, written as it is produced (tg-formats(5), EXIT
 * STATUS) */
tg_status tg_write_result(FILE *f, const tg_tensor *value, const char *const *names,
                          tg_tensor *const *grads, int n, bool pretty)
{
    return tg_result_grad_write(f, value, names, grads, n, pretty, NULL);
}
