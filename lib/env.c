/* env.c -- named tensors: a program's variables and intermediates. */
#include "internal.h"
#include <string.h>

tg_status tg_env_set(tg_env *e, const char *name, tg_tensor *t)
{
    if (!t)
        return tg_errcode() ? tg_errcode() : tg_error(TG_EINPUT, "no value for '%s'", name);
    for (int i = 0; i < e->n; i++)
        if (!strcmp(e->names[i], name)) {
            tg_release(e->values[i]);
            e->values[i] = t;
            return TG_OK;
        }
    if (e->n == e->cap) {
        int nc = e->cap ? e->cap * 2 : 8;
        char **nn = tg_realloc(e->names, nc * sizeof *nn);
        if (!nn) {
            tg_release(t);
            return TG_ERESOURCE;
        }
        e->names = nn;
        tg_tensor **nv = tg_realloc(e->values, nc * sizeof *nv);
        if (!nv) {
            tg_release(t);
            return TG_ERESOURCE;
        }
        e->values = nv;
        e->cap = nc;
    }
    size_t len = strlen(name) + 1;
    char *copy = tg_malloc(len);
    if (!copy) {
        tg_release(t);
        return TG_ERESOURCE;
    }
    memcpy(copy, name, len);
    e->names[e->n] = copy;
    e->values[e->n] = t;
    e->n++;
    return TG_OK;
}

tg_tensor *tg_env_get(const tg_env *e, const char *name)
{
    for (int i = 0; i < e->n; i++)
        if (!strcmp(e->names[i], name))
            return e->values[i];
    return NULL;
}

void tg_env_free(tg_env *e)
{
    for (int i = 0; i < e->n; i++) {
        tg_free(e->names[i]);
        tg_release(e->values[i]);
    }
    tg_free(e->names);
    tg_free(e->values);
    memset(e, 0, sizeof *e);
}

/* Levenshtein distance, for "did you mean" */
static int distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 64 || lb > 64)
        return 1000;
    int row[65];
    for (int j = 0; j <= lb; j++)
        row[j] = j;
    for (int i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int cur = row[j];
            int sub = prev + (a[i - 1] != b[j - 1]);
            int m = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            row[j] = m < sub ? m : sub;
            prev = cur;
        }
    }
    return row[lb];
}

const char *tg_nearest_name(const char *name, const char *const *cand, int n)
{
    const char *best = NULL;
    int bd = 1000, len = (int)strlen(name);
    for (int i = 0; i < n; i++) {
        if (!cand[i])
            continue;
        int d = distance(name, cand[i]);
        if (d < bd) {
            bd = d;
            best = cand[i];
        }
    }
    /* only suggest when close: at most a third of the name changed */
    return bd <= (len < 3 ? 1 : len / 3 + 1) ? best : NULL;
}
