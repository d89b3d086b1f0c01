/* train_state.c -- checkpoints of tgrad --train (tgrad(1) TRAINING):
 * --save DIR writes DIR/NAME.npy for each trained variable, the
 * optimizer's buffers as DIR/NAME.BUFFER.npy (momentum_buffer; exp_avg,
 * exp_avg_sq) and DIR/optim.json (the optimizer, its step count, the
 * passes over batches done, which buffers exist, the hyperparameters),
 * all as one set of files written whole (outfile.c); --resume DIR reads
 * them back, so that the run goes on with the same numbers. */
#include "internal.h"
#include "train.h"
#include <cJSON.h>
#include <math.h>
#include <string.h>

/* "DIR/NAME[.BUFFER].npy" or "DIR/LEAF" */
static char *path_in(const char *dir, const char *name, size_t nlen, const char *buffer, const char *ext)
{
    tg_buf b = {0};
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    tg_buf_printf(&b, "%.*s%s%.*s%s%s%s", (int)n, dir, dir[n - 1] == '/' ? "" : "/", (int)nlen, name,
                  buffer ? "." : "", buffer ? buffer : "", ext);
    if (b.failed) {
        tg_buf_free(&b);
        tg_error(TG_ERESOURCE, "out of memory");
        return NULL;
    }
    return b.data;
}

static tg_tensor *load_npy(const char *path)
{
    size_t len;
    char *bytes = tg_read_file(path, &len);
    if (!bytes)
        return NULL;
    tg_tensor *t = tg_npy_read(bytes, len);
    tg_free(bytes);
    if (!t) {
        char msg[512];
        tg_status st = tg_errcode();
        snprintf(msg, sizeof msg, "%s", tg_errmsg());
        tg_error_clear();
        tg_error(st, "%s: %s", path, msg);
    }
    return t;
}

tg_status tg_train_resume_params(const char *dir, const char *names, tg_env *env, const tg_bind_opts *b)
{
    for (const char *p = names; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *path = path_in(dir, p, len, NULL, ".npy"), *name = tg_malloc(len + 1);
        tg_tensor *t = path && name ? load_npy(path) : NULL;
        tg_status st = t ? TG_OK : tg_errcode();
        if (st == TG_OK) {
            memcpy(name, p, len);
            name[len] = 0;
            if (tg_env_get(env, name)) /* the checkpoint's value, not --at's */
                st = tg_env_set(env, name, t);
            else
                st = tg_env_bind(env, name, t, -1, b);
        }
        tg_free(path);
        tg_free(name);
        if (st != TG_OK)
            return st;
        p += len + (e ? 1 : 0);
    }
    return TG_OK;
}

/* optim.json's text, parsed */
static cJSON *read_state(const char *dir)
{
    char *path = path_in(dir, "optim.json", 10, NULL, "");
    size_t len;
    char *text = path ? tg_read_file(path, &len) : NULL;
    cJSON *j = text ? cJSON_ParseWithLength(text, len) : NULL;
    if (text && !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        j = NULL;
        tg_error(TG_EINPUT, "%s: not a checkpoint's optim.json (not a JSON object)", path);
    }
    tg_free(text);
    tg_free(path);
    return j;
}

static tg_status state_int(const cJSON *j, const char *key, const char *dir, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15 || v->valuedouble != floor(v->valuedouble))
        return tg_error(TG_EINPUT, "%s/optim.json: \"%s\" is not a count", dir, key);
    *out = (int64_t)v->valuedouble;
    return TG_OK;
}

/* the buffers optim.json lists for parameter i, loaded into opt */
static tg_status restore_buffers(const char *dir, const cJSON *list, tg_optim *opt, int i, const char *name,
                                 int64_t steps)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, list) {
        int k = -1;
        for (int b = 0; b < tg_optim_nbuffers(opt); b++)
            if (cJSON_IsString(item) && !strcmp(item->valuestring, tg_optim_buffer_name(opt, b)))
                k = b;
        if (k < 0)
            return tg_error(TG_EINPUT, "%s/optim.json: '%s' has a buffer %s would not have", dir, name,
                            tg_optim_name(tg_optim_options(opt)->kind));
        char *path = path_in(dir, name, strlen(name), item->valuestring, ".npy");
        tg_tensor *t = path ? load_npy(path) : NULL;
        tg_free(path);
        if (!t || tg_optim_restore(opt, steps, i, k, t) != TG_OK)
            return tg_errcode();
    }
    return TG_OK;
}

tg_status tg_train_resume_state(const char *dir, tg_optim *opt, const char *const *names, int n, int64_t *passes)
{
    cJSON *j = read_state(dir);
    if (!j)
        return tg_errcode();
    int64_t steps = 0;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "optimizer");
    const char *want = tg_optim_name(tg_optim_options(opt)->kind);
    tg_status st = TG_OK;
    if (!cJSON_IsString(kind))
        st = tg_error(TG_EINPUT, "%s/optim.json: no \"optimizer\"", dir);
    else if (strcmp(kind->valuestring, want))
        st = tg_error(TG_EUSAGE, "the checkpoint %s was made by --optimizer %.20s, not %s", dir, kind->valuestring,
                      want);
    if (st == TG_OK)
        st = state_int(j, "step", dir, &steps);
    if (st == TG_OK)
        st = state_int(j, "passes", dir, passes);
    if (st == TG_OK)
        st = tg_optim_restore(opt, steps, -1, 0, NULL);
    const cJSON *buffers = cJSON_GetObjectItemCaseSensitive(j, "buffers");
    for (int i = 0; i < n && st == TG_OK; i++) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(buffers, names[i]);
        if (list)
            st = restore_buffers(dir, list, opt, i, names[i], steps);
    }
    cJSON_Delete(j);
    return st;
}

static void number(tg_buf *b, const char *key, double v)
{
    char s[32];
    tg_format_number(s, v, TG_FLOAT64);
    tg_buf_printf(b, ",\"%s\":%s", key, s);
}

/* optim.json's text */
static void state_text(tg_buf *b, const char *const *names, int n, const tg_optim *opt, int64_t passes)
{
    const tg_optim_opts *o = tg_optim_options(opt);
    tg_buf_printf(b, "{\"optimizer\":\"%s\",\"step\":%lld,\"passes\":%lld", tg_optim_name(o->kind),
                  (long long)tg_optim_steps(opt), (long long)passes);
    number(b, "lr", o->lr);
    if (o->kind == TG_OPTIM_SGD) {
        number(b, "momentum", o->momentum);
        number(b, "dampening", o->dampening);
        tg_buf_printf(b, ",\"nesterov\":%s", o->nesterov ? "true" : "false");
    } else {
        number(b, "beta1", o->beta1);
        number(b, "beta2", o->beta2);
        number(b, "eps", o->eps);
    }
    number(b, "weight_decay", o->weight_decay);
    tg_buf_printf(b, ",\"buffers\":{");
    for (int i = 0; i < n; i++) {
        tg_buf_printf(b, "%s", i ? "," : "");
        tg_buf_json_string(b, names[i]);
        tg_buf_printf(b, ":[");
        for (int k = 0, m = 0; k < tg_optim_nbuffers(opt); k++)
            if (tg_optim_buffer(opt, i, k))
                tg_buf_printf(b, "%s\"%s\"", m++ ? "," : "", tg_optim_buffer_name(opt, k));
        tg_buf_printf(b, "]");
    }
    tg_buf_printf(b, "}}\n");
}

static tg_status save_one(tg_fileset *set, const char *dir, const char *name, const char *buffer,
                          const tg_tensor *t, tg_buf *files)
{
    char *path = path_in(dir, name, strlen(name), buffer, ".npy");
    if (!path)
        return TG_ERESOURCE;
    tg_status st = tg_fileset_save(set, path, t);
    if (st == TG_OK && files) {
        tg_buf_printf(files, "%s", files->len ? "," : "{");
        tg_buf_json_string(files, name);
        tg_buf_printf(files, ":");
        tg_buf_json_string(files, path);
    }
    tg_free(path);
    return st;
}

tg_status tg_train_save(const char *dir, const char *const *names, tg_tensor *const *params, int n,
                        const tg_optim *opt, int64_t passes, tg_fileset **set, tg_buf *files)
{
    if (!(*set = tg_fileset_new(dir)))
        return tg_errcode();
    tg_status st = TG_OK;
    for (int i = 0; i < n && st == TG_OK; i++)
        st = save_one(*set, dir, names[i], NULL, params[i], files);
    for (int i = 0; i < n && st == TG_OK; i++)
        for (int k = 0; k < tg_optim_nbuffers(opt) && st == TG_OK; k++)
            if (tg_optim_buffer(opt, i, k))
                st = save_one(*set, dir, names[i], tg_optim_buffer_name(opt, k), tg_optim_buffer(opt, i, k), NULL);
    tg_buf text = {0};
    state_text(&text, names, n, opt, passes);
    char *path = path_in(dir, "optim.json", 10, NULL, "");
    if (st == TG_OK && (text.failed || !path))
        st = tg_error(TG_ERESOURCE, "out of memory");
    if (st == TG_OK)
        st = tg_fileset_text(*set, path, text.data, text.len);
    tg_free(path);
    tg_buf_free(&text);
    tg_buf_printf(files, "%s}", files->len ? "" : "{");
    return st == TG_OK && files->failed ? tg_error(TG_ERESOURCE, "out of memory") : st;
}
