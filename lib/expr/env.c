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

/* ---- the environment ----
 * Its index: names to positions, and values to the positions bound to
 * them (for tg_env_rebind): a table of tensors, each with a chain of links
 * to positions.  A link whose position has since been bound to another
 * tensor is stale; walks drop those, so each costs its removal once. */
typedef struct {
    const tg_tensor *key;
    int head; /* first link + 1, 0: none */
} value_slot;

struct tg_env_index {
    tg_name_index names;
    value_slot *values;
    size_t vcap, vused;
    struct { int pos, next; } *links; /* next: link + 1, 0 ends */
    int nlinks, linkcap;
};

static size_t hash_ptr(const void *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15u;
    return (size_t)(h >> 32) & (cap - 1);
}

/* the slot of key, or of the empty place where it would go */
static value_slot *value_slot_of(value_slot *slots, size_t cap, const tg_tensor *key)
{
    size_t i = hash_ptr(key, cap);
    while (slots[i].key && slots[i].key != key)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* links position pos to tensor t */
static tg_status link_value(struct tg_env_index *x, int pos, const tg_tensor *t)
{
    if ((x->vused + 1) * 2 > x->vcap) {
        size_t cap = x->vcap ? x->vcap * 2 : 16;
        value_slot *v = tg_calloc(cap, sizeof *v);
        if (!v)
            return TG_ERESOURCE;
        for (size_t i = 0; i < x->vcap; i++)
            if (x->values[i].key)
                *value_slot_of(v, cap, x->values[i].key) = x->values[i];
        tg_free(x->values);
        x->values = v;
        x->vcap = cap;
    }
    if (x->nlinks == x->linkcap) {
        if (x->linkcap > INT_MAX / 2)
            return tg_error(TG_EINPUT, "too many names: the limit is %d", INT_MAX / 2);
        int nc = x->linkcap ? x->linkcap * 2 : 16;
        void *nl = tg_realloc(x->links, (size_t)nc * sizeof *x->links);
        if (!nl)
            return TG_ERESOURCE;
        x->links = nl;
        x->linkcap = nc;
    }
    value_slot *s = value_slot_of(x->values, x->vcap, t);
    if (!s->key) {
        s->key = t;
        x->vused++;
    }
    x->links[x->nlinks].pos = pos;
    x->links[x->nlinks].next = s->head;
    s->head = ++x->nlinks;
    return TG_OK;
}

static int env_find(const tg_env *e, const char *name)
{
    return e->index ? tg_name_index_find(&e->index->names, (const char *const *)e->names, name) : -1;
}

/* room for one more name */
static tg_status env_reserve(tg_env *e)
{
    if (!e->index && !(e->index = tg_calloc(1, sizeof *e->index)))
        return TG_ERESOURCE;
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
        if (link_value(e->index, i, t) != TG_OK) {
            tg_release(t);
            return tg_errcode();
        }
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
    /* a link made for a name that then fails is stale, and harmless */
    tg_status st = link_value(e->index, e->n, t);
    if (st == TG_OK)
        st = tg_name_index_add(&e->index->names, (const char *const *)e->names, e->n + 1, e->n);
    if (st != TG_OK) {
        tg_free(copy);
        tg_release(t);
        return st;
    }
    e->values[e->n] = t;
    e->n++;
    return TG_OK;
}

tg_status tg_env_rebind(tg_env *e, const tg_tensor *old, tg_tensor *now)
{
    struct tg_env_index *x = e->index;
    if (!x || !x->vcap || old == now)
        return TG_OK;
    /* the positions bound to old, the chain's stale links dropped */
    int *pos = NULL, n = 0, cap = 0;
    for (int *prev = &value_slot_of(x->values, x->vcap, old)->head; *prev;) {
        int l = *prev - 1, p = x->links[l].pos;
        if (p >= e->n || e->values[p] != old) {
            *prev = x->links[l].next;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            int *np = tg_realloc(pos, (size_t)cap * sizeof *np);
            if (!np) {
                tg_free(pos);
                return TG_ERESOURCE;
            }
            pos = np;
        }
        pos[n++] = p;
        prev = &x->links[l].next;
    }
    tg_status st = TG_OK;
    for (int i = 0; i < n && st == TG_OK; i++)
        st = link_value(x, pos[i], now);
    if (st == TG_OK) {
        value_slot_of(x->values, x->vcap, old)->head = 0; /* all of them leave old */
        for (int i = 0; i < n; i++) {
            tg_release(e->values[pos[i]]);
            e->values[pos[i]] = tg_ref(now);
        }
    }
    tg_free(pos);
    return st;
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
    if (e->index) {
        tg_free(e->index->names.slots);
        tg_free(e->index->values);
        tg_free(e->index->links);
        tg_free(e->index);
    }
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
    int bd = 1000, len = (int)strlen(name), most = len < 3 ? 1 : len / 3 + 1;
    for (int i = 0; i < n; i++) {
        if (!cand[i])
            continue;
        int dl = (int)strlen(cand[i]) - len;
        if (dl > most || -dl > most) /* the distance is at least that: too far */
            continue;
        int d = distance(name, cand[i]);
        if (d < bd) {
            bd = d;
            best = cand[i];
        }
    }
    /* only suggest when close: at most a third of the name changed */
    return bd <= most ? best : NULL;
}
