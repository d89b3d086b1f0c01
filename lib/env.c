/* env.c -- named tensors: a program's variables and intermediates. */
#include "internal.h"
#include <limits.h>
#include <string.h>

/* ---- the name index: FNV-1a hashes, linear probing ---- */
static size_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)(h ^ (h >> 32));
}

int tg_name_index_find(const tg_name_index *ix, const char *const *keys, const char *name)
{
    if (!ix->cap)
        return -1;
    for (size_t i = hash_name(name) & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
        int slot = ix->slots[i];
        if (!slot)
            return -1;
        if (!strcmp(keys[slot - 1], name))
            return slot - 1;
    }
}

static void put_slot(int *slots, size_t cap, const char *key, int pos)
{
    size_t i = hash_name(key) & (cap - 1);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = pos + 1;
}

tg_status tg_name_index_add(tg_name_index *ix, const char *const *keys, int n, int pos)
{
    if ((size_t)n * 2 > ix->cap) { /* grow to keep it at most half full */
        size_t cap = ix->cap ? ix->cap : 16;
        while ((size_t)n * 2 > cap)
            cap *= 2;
        int *slots = tg_calloc(cap, sizeof *slots);
        if (!slots)
            return TG_ERESOURCE;
        for (int i = 0; i < n; i++)
            if (i != pos)
                put_slot(slots, cap, keys[i], i);
        tg_free(ix->slots);
        ix->slots = slots;
        ix->cap = cap;
    }
    put_slot(ix->slots, ix->cap, keys[pos], pos);
    return TG_OK;
}

/* ---- the environment ---- */
static int env_find(const tg_env *e, const char *name)
{
    tg_name_index ix = {e->index_slots, e->index_cap};
    return tg_name_index_find(&ix, (const char *const *)e->names, name);
}

/* room for one more name */
static tg_status env_reserve(tg_env *e)
{
    if (e->n < e->cap)
        return TG_OK;
    if (e->cap > INT_MAX / 2)
        return tg_error(TG_EINPUT, "too many names: the limit is %d", INT_MAX / 2);
    int nc = e->cap ? e->cap * 2 : 8;
    char **nn = tg_realloc(e->names, (size_t)nc * sizeof *nn);
    if (!nn)
        return TG_ERESOURCE;
    e->names = nn;
    tg_tensor **nv = tg_realloc(e->values, (size_t)nc * sizeof *nv);
    if (!nv)
        return TG_ERESOURCE;
    e->values = nv;
    e->cap = nc;
    return TG_OK;
}

tg_status tg_env_set(tg_env *e, const char *name, tg_tensor *t)
{
    if (!t)
        return tg_errcode() ? tg_errcode() : tg_error(TG_EINPUT, "no value for '%s'", name);
    int i = env_find(e, name);
    if (i >= 0) {
        tg_release(e->values[i]);
        e->values[i] = t;
        return TG_OK;
    }
    size_t len = strlen(name) + 1;
    char *copy = env_reserve(e) == TG_OK ? tg_malloc(len) : NULL;
    if (!copy) {
        tg_release(t);
        return tg_errcode();
    }
    memcpy(copy, name, len);
    e->names[e->n] = copy;
    tg_name_index ix = {e->index_slots, e->index_cap};
    tg_status st = tg_name_index_add(&ix, (const char *const *)e->names, e->n + 1, e->n);
    e->index_slots = ix.slots;
    e->index_cap = ix.cap;
    if (st != TG_OK) {
        tg_free(copy);
        tg_release(t);
        return st;
    }
    e->values[e->n] = t;
    e->n++;
    return TG_OK;
}

tg_tensor *tg_env_get(const tg_env *e, const char *name)
{
    int i = env_find(e, name);
    return i >= 0 ? e->values[i] : NULL;
}

void tg_env_free(tg_env *e)
{
    for (int i = 0; i < e->n; i++) {
        tg_free(e->names[i]);
        tg_release(e->values[i]);
    }
    tg_free(e->names);
    tg_free(e->values);
    tg_free(e->index_slots);
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
