/* py_args.c -- a call's arguments in the Python program mode
 * (pyprog.h): evaluated, looked up by position or keyword, checked. */
#include "pyprog.h"
#include <string.h>

void py_args_free(args *A)
{
    for (int k = 0; k < A->n; k++)
        pv_unref(A->v[k]);
    tg_free(A->v);
    tg_free(A->kw);
    tg_free(A->node);
    memset(A, 0, sizeof *A);
}

tg_status py_args_eval(interp *I, scope *S, const pnode *call, args *A)
{
    memset(A, 0, sizeof *A);
    int n = call->nv;
    if (!(A->v = tg_calloc((size_t)n + 1, sizeof *A->v)) || !(A->kw = tg_calloc((size_t)n + 1, sizeof *A->kw)) ||
        !(A->node = tg_calloc((size_t)n + 1, sizeof *A->node))) {
        py_args_free(A);
        return TG_ERESOURCE;
    }
    for (int k = 0; k < n; k++) {
        const pnode *a = call->v[k];
        A->kw[k] = a->kind == P_KWARG ? a->name : NULL;
        A->node[k] = a;
        if (!(A->v[k] = py_eval(I, S, a->kind == P_KWARG ? a->a : a))) {
            py_args_free(A);
            return tg_errcode();
        }
        A->n++;
    }
    return TG_OK;
}

/* removes the keyword argument name from A: its value (a new reference)
 * or NULL */
pv *py_take_kw(args *A, const char *name)
{
    for (int k = 0; k < A->n; k++)
        if (A->kw[k] && !strcmp(A->kw[k], name)) {
            pv *v = A->v[k];
            memmove(A->v + k, A->v + k + 1, (size_t)(A->n - k - 1) * sizeof *A->v);
            memmove(A->kw + k, A->kw + k + 1, (size_t)(A->n - k - 1) * sizeof *A->kw);
            memmove(A->node + k, A->node + k + 1, (size_t)(A->n - k - 1) * sizeof *A->node);
            A->n--;
            return v;
        }
    return NULL;
}

/* parameter k: positional k or keyword name (borrowed), or NULL */
pv *py_arg(const args *A, int k, const char *name)
{
    int pos = 0;
    for (int i = 0; i < A->n; i++) {
        if (!A->kw[i] && pos++ == k)
            return A->v[i];
        if (A->kw[i] && name && !strcmp(A->kw[i], name))
            return A->v[i];
    }
    return NULL;
}


/* the error for arguments that do not fit s: its usage, or how many it
 * takes, or (detail non-NULL) what is wrong */
static tg_status misfit(const py_sig *s, int pos, const char *detail, const char *name)
{
    static const char *const words[] = {"no", "one", "two", "three"};
    if (s->usage)
        return tg_error_at(pos, TG_EINPUT, "%s", s->usage);
    if (detail)
        return tg_error_at(pos, TG_EINPUT, "%s() %s '%s'", s->name, detail, name);
    const char *most = words[s->most], *plural = s->most == 1 ? "" : "s";
    if (s->least == s->most)
        return tg_error_at(pos, TG_EINPUT, "%s() takes %s argument%s", s->name, most, plural);
    if (!s->least)
        return tg_error_at(pos, TG_EINPUT, "%s() takes at most %s argument%s", s->name, most, plural);
    return tg_error_at(pos, TG_EINPUT, "%s() takes %s to %s arguments", s->name, words[s->least], most);
}

tg_status py_check_args(const args *A, const py_sig *s, int pos)
{
    if (s->most == PY_ANY)
        return TG_OK;
    if (!s->most)
        return A->n ? misfit(s, pos, NULL, NULL) : TG_OK;
    int given = 0;
    for (int k = 0; k < A->n; k++)
        given += !A->kw[k];
    if (given > s->most)
        return misfit(s, pos, NULL, NULL);
    for (int k = 0; k < A->n; k++) {
        int p = 0;
        while (A->kw[k] && p < s->most && strcmp(s->params[p], A->kw[k]))
            p++;
        if (A->kw[k] && p == s->most)
            return misfit(s, pos, "got an unexpected keyword argument", A->kw[k]);
        if (A->kw[k] && p < given)
            return misfit(s, pos, "got multiple values for argument", A->kw[k]);
    }
    for (int p = given; p < s->least; p++)
        if (!py_arg(A, p, s->params[p]))
            return misfit(s, pos, NULL, NULL);
    return TG_OK;
}
