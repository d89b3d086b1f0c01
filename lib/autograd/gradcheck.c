/* gradcheck.c -- the analytic gradient against central finite differences
 * in float64, as torch.autograd.gradcheck does (same defaults: eps 1e-6,
 * atol 1e-5, rtol 1e-3), over the whole Jacobian. */
#include "internal.h"
#include <math.h>
#include <string.h>

/* the program's value at the given float64 inputs, without a graph */
static tg_tensor *eval_at(tg_program *p, tg_env *scratch, tg_tensor **x, char **names, int n)
{
    for (int i = 0; i < n; i++)
        if (tg_env_set(scratch, names[i], tg_ref(x[i])) != TG_OK)
            return NULL;
    bool old = tg_set_grad_enabled(false);
    tg_tensor *y = tg_program_eval(p, scratch);
    tg_set_grad_enabled(old);
    y = tg_contiguous(tg_cast(y, TG_FLOAT64));
    /* an identity or a view (x, x[0], x.T) is the input's storage, which the
     * caller moves on to the next point: the value at this one is a copy */
    for (int i = 0; y && i < n; i++)
        if (y->storage == x[i]->storage) {
            tg_tensor *copy = tg_from_data(TG_FLOAT64, y->ndim, y->shape, tg_data(y));
            tg_release(y);
            return copy;
        }
    return y;
}

/* Central differences run the program twice per element of the inputs,
 * each run reading at least the inputs and writing the result: that work,
 * known before it starts, is held to the limit of work. */
static tg_status check_work(const tg_tensor *y, tg_tensor **diff, int nd)
{
    double elements = 0, per_run = (double)y->numel;
    for (int i = 0; i < nd; i++)
        elements += (double)diff[i]->numel;
    per_run += elements;
    if (2 * elements * per_run <= (double)tg_get_max_work())
        return TG_OK;
    return tg_error(TG_EINPUT, "--check needs %.0f runs of the program (two per input element), each over "
                    "%.0f elements or more: more work than the limit (%lld elements); check a smaller "
                    "input", 2 * elements, per_run, (long long)tg_get_max_work());
}

tg_status tg_gradcheck(tg_program *p, tg_env *env, int nvars, double eps, double atol, double rtol,
                       tg_gradcheck_var *res, bool *passed)
{
    tg_dtype saved_default = tg_default_float;
    tg_default_float = TG_FLOAT64; /* literals in float64 too */
    int n = nvars, nd = 0;
    /* the float64 inputs, the Jacobians, and the differentiated inputs */
    tg_tensor **x = tg_calloc(3 * (size_t)(n ? n : 1), sizeof *x), **jac = x ? x + n : NULL,
              **diff = x ? jac + n : NULL;
    tg_env scratch = {0};
    tg_tensor *y = NULL;
    tg_status st = x ? TG_OK : TG_ERESOURCE;
    *passed = true;
    for (int i = 0; i < n && st == TG_OK; i++) {
        tg_tensor *v = env->values[i];
        bool old = tg_set_grad_enabled(false);
        /* a fresh float64 leaf with its own storage */
        x[i] = tg_dtype_is_float(v->dtype) ? tg_contiguous(tg_cast(tg_detach(tg_ref(v)), TG_FLOAT64)) : tg_ref(v);
        if (x[i] && x[i]->storage == v->storage) {
            tg_tensor *copy = tg_from_data(x[i]->dtype, x[i]->ndim, x[i]->shape, tg_data(x[i]));
            tg_release(x[i]);
            x[i] = copy;
        }
        tg_set_grad_enabled(old);
        if (!x[i])
            st = tg_errcode();
        else
            tg_set_requires_grad(x[i], v->requires_grad);
    }
    for (int i = 0; i < n && st == TG_OK; i++)
        st = tg_env_set(&scratch, env->names[i], tg_ref(x[i]));
    if (st == TG_OK && !(y = tg_program_eval(p, &scratch)))
        st = tg_errcode();
    if (st == TG_OK && !tg_dtype_is_float(y->dtype))
        st = tg_error(TG_EINPUT, "--check: the result is %s, which has no gradient", tg_dtype_name(y->dtype));
    for (int i = 0; i < n && st == TG_OK; i++)
        if (x[i]->requires_grad)
            diff[nd++] = x[i];
    if (st == TG_OK)
        st = check_work(y, diff, nd);
    if (st == TG_OK)
        st = tg_jacobian(y, diff, nd, jac);
    int64_t m = y ? y->numel : 0;
    for (int k = 0, vi = 0; k < n && st == TG_OK; k++) {
        if (!x[k]->requires_grad)
            continue;
        tg_gradcheck_var *r = &res[vi];
        memset(r, 0, sizeof *r);
        r->passed = true;
        double *xd = tg_data(x[k]);
        const double *J = tg_data(jac[vi]); /* m x numel(x) */
        for (int64_t j = 0; j < x[k]->numel && st == TG_OK; j++) {
            double x0 = xd[j];
            xd[j] = x0 + eps;
            tg_tensor *yp = eval_at(p, &scratch, x, env->names, n);
            xd[j] = x0 - eps;
            tg_tensor *ym = yp ? eval_at(p, &scratch, x, env->names, n) : NULL;
            xd[j] = x0;
            if (!yp || !ym) {
                st = tg_errcode();
            } else
                for (int64_t o = 0; o < m; o++) {
                    double num = (((double *)tg_data(yp))[o] - ((double *)tg_data(ym))[o]) / (2 * eps);
                    double ana = J[o * x[k]->numel + j];
                    double err = fabs(ana - num);
                    bool ok = err <= atol + rtol * fabs(num) || (isnan(ana) && isnan(num));
                    if (err > r->max_abs_error || (!ok && r->passed) || isnan(err)) {
                        if (!isnan(err) && err > r->max_abs_error)
                            r->max_abs_error = err;
                        if (!ok || r->passed) {
                            r->worst_input = j;
                            r->worst_output = o;
                            r->analytic = ana;
                            r->numeric = num;
                        }
                    }
                    if (!ok) {
                        r->passed = false;
                        *passed = false;
                    }
                }
            tg_release(yp);
            tg_release(ym);
        }
        vi++;
    }
    for (int i = 0; i < nd; i++)
        tg_release(jac[i]);
    for (int i = 0; i < n && x; i++)
        tg_release(x[i]);
    tg_free(x);
    tg_release(y);
    tg_env_free(&scratch);
    tg_default_float = saved_default;
    return st;
}
