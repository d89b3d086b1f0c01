/* bind.c -- giving a program's variables their values: tgrad's --at,
 * --inputs and --lines, and which of them are differentiated
 * (tgrad(1)): every float variable unless --wrt names some or the value
 * says "requires_grad": false; an integer one only when nothing asked for
 * its gradient. */
#include "internal.h"
#include <ctype.h>
#include <string.h>

bool tg_is_identifier(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

/* Is name one of the comma-separated list (NULL: every name)? */
static bool in_list(const char *list, const char *name)
{
    if (!list)
        return true;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return true;
        p += len + (e ? 1 : 0);
    }
    return false;
}

/* whether t is differentiated; an error for an integer tensor asked for */
static tg_status decide_grad(const char *name, tg_tensor *t, int requires_grad, const tg_bind_opts *o)
{
    bool want = in_list(o->wrt, name) && requires_grad != 0 && !o->no_grad;
    if (want && !tg_dtype_is_float(t->dtype)) {
        if (o->wrt || requires_grad == 1)
            return tg_error(TG_EINPUT, "only floating point tensors can require gradients, and "
                            "'%s' is %s (give it as a float, e.g. 2.0 or with \"dtype\":\"float32\")",
                            name, tg_dtype_name(t->dtype));
        want = false; /* integer inputs are never differentiated */
    }
    tg_set_requires_grad(t, want);
    if (o->batch && (!*o->batch || in_list(o->batch, name))) {
        if (t->ndim == 0)
            return tg_error(TG_EINPUT, "--batch: '%s' is 0-D, but dim 0 of every variable indexes the points",
                            name);
        t->batched = true;
    }
    return TG_OK;
}

tg_status tg_env_bind(tg_env *e, const char *name, tg_tensor *t, int requires_grad, const tg_bind_opts *o)
{
    if (!t)
        return tg_errcode();
    tg_status st = TG_OK;
    if (!tg_is_identifier(name, strlen(name)))
        st = tg_error(TG_EINPUT, "'%.40s' cannot be a variable's name (letters, digits and _, not "
                      "starting with a digit)", name);
    else if (tg_env_get(e, name))
        st = tg_error(TG_EUSAGE, "variable '%s' is given twice", name);
    else
        st = decide_grad(name, t, requires_grad, o);
    size_t len = strlen(name) + 1;
    if (st == TG_OK && !(t->name = tg_malloc(len)))
        st = TG_ERESOURCE;
    if (st != TG_OK) {
        tg_release(t);
        return st;
    }
    memcpy(t->name, name, len);
    return tg_env_set(e, name, t);
}

typedef struct {
    tg_env *env;
    const tg_bind_opts *o;
} bind_ctx;

static int bind_member(const char *name, tg_tensor *t, int requires_grad, void *ctx)
{
    bind_ctx *c = ctx;
    return tg_env_bind(c->env, name, t, requires_grad, c->o);
}

tg_status tg_env_bind_json(tg_env *e, const char *text, size_t len, const tg_bind_opts *o)
{
    bind_ctx c = {e, o};
    return tg_json_parse_named(text, len, -1, bind_member, &c);
}

/* --at VALUE for a program without variables: an error in the expression
 * itself (exp() say) comes first */
static tg_status no_variables(tg_program *p, const char *arg)
{
    tg_env none = {0};
    bool old = tg_set_grad_enabled(false);
    tg_tensor *v = tg_program_eval(p, &none);
    tg_set_grad_enabled(old);
    tg_env_free(&none);
    if (!v)
        return tg_errcode();
    tg_release(v);
    return tg_error(TG_EUSAGE, "--at %.40s: the expression has no variables to give a value to", arg);
}

/* one --at: NAME=VALUE, or VALUE for the program's one free variable */
static tg_status bind_at(tg_env *e, tg_program *p, const char *arg, const tg_bind_opts *o)
{
    const char *eq = strchr(arg, '=');
    if (eq && tg_is_identifier(arg, (size_t)(eq - arg))) {
        char *name = tg_malloc((size_t)(eq - arg) + 1);
        if (!name)
            return TG_ERESOURCE;
        memcpy(name, arg, (size_t)(eq - arg));
        name[eq - arg] = 0;
        int rg = -1;
        tg_tensor *t = tg_load_arg(eq + 1, -1, &rg);
        tg_status st = tg_env_bind(e, name, t, rg, o);
        tg_free(name);
        return st;
    }
    const char **names;
    int n = tg_program_free_names_all(p, &names);
    tg_status st = TG_OK;
    if (n < 0)
        return tg_errcode();
    if (n == 0)
        st = no_variables(p, arg);
    else if (n > 1)
        st = tg_error(TG_EUSAGE, "--at %.40s: the expression has %d variables (%s, %s%s): give "
                      "each as --at NAME=VALUE", arg, n, names[0], names[1], n > 2 ? ", ..." : "");
    if (st == TG_OK) {
        int rg = -1;
        tg_tensor *t = tg_load_arg(arg, -1, &rg);
        st = tg_env_bind(e, names[0], t, rg, o);
    }
    tg_free(names);
    return st;
}

/* every name of --wrt must be given */
static tg_status check_wrt(const tg_env *e, const char *wrt)
{
    for (const char *p = wrt; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        bool found = false;
        for (int i = 0; i < e->n && !found; i++)
            found = strlen(e->names[i]) == len && !strncmp(e->names[i], p, len);
        if (!found)
            return tg_error(TG_EUSAGE, "--wrt names '%.*s', which is not given with --at", (int)len, p);
        p += len + (end ? 1 : 0);
    }
    return TG_OK;
}

/* --batch[=NAMES] must batch something: every name it lists is a variable
 * given (a vmap in_dims such as x:1 is refused), and without names there
 * is at least one variable */
static tg_status check_batch(const tg_env *e, const char *batch)
{
    if (!*batch && e->n == 0)
        return tg_error(TG_EUSAGE, "--batch: the expression has no variables, so nothing indexes the "
                        "points (give them with --at NAME=VALUE)");
    for (const char *p = batch; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (colon && tg_is_identifier(p, (size_t)(colon - p)))
            return tg_error(TG_EUSAGE, "--batch=%.*s: a batch dimension other than 0 (vmap's in_dims) is not "
                            "supported: put the points along dim 0 of '%.*s'", (int)len, p,
                            (int)(colon - p), p);
        bool found = false;
        for (int i = 0; i < e->n && !found; i++)
            found = strlen(e->names[i]) == len && !strncmp(e->names[i], p, len);
        if (!found)
            return tg_error(TG_EUSAGE, "--batch names '%.*s', which is not a variable given with --at or "
                            "--inputs", (int)len, p);
        p += len + (end ? 1 : 0);
    }
    return TG_OK;
}

tg_status tg_env_bind_args(tg_env *e, tg_program *p, const char *const *at, int nat, const char *inputs,
                           const tg_bind_opts *o, bool all_wrt)
{
    for (int i = 0; i < nat; i++)
        if (bind_at(e, p, at[i], o) != TG_OK)
            return tg_errcode();
    if (inputs) {
        size_t len;
        char *text = tg_read_file(inputs, &len);
        if (!text)
            return tg_errcode();
        tg_status st = tg_env_bind_json(e, text, len, o);
        tg_free(text);
        if (st != TG_OK)
            return st;
    }
    if (all_wrt && o->batch && check_batch(e, o->batch) != TG_OK)
        return tg_errcode();
    return all_wrt && o->wrt ? check_wrt(e, o->wrt) : TG_OK;
}
