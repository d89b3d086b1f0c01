/* train.c -- tgrad --train (tgrad(1) TRAINING): the training loop.
 *
 * The program is parsed once; each pass binds the current rows of the
 * data variables and the parameters into a fresh environment, evaluates
 * the loss with the graph on, and runs one backward pass, the parameters'
 * .grad adding up over --accumulate-steps passes; the optimizer (optim.c)
 * then updates the parameters in place, as torch.optim does.  No process,
 * no parsing and no file work per step: a step costs what its ops cost.
 * A full-batch elementwise loss skips the environment and the graph: its
 * passes run in one pass over the data (train_fused.c), the same numbers. */
#include "internal.h"
#include "train.h"
#include "core/progress.h"
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the options ---- */

void tg_train_opts_init(tg_train_opts *o)
{
    *o = (tg_train_opts){.accumulate = 1};
    o->optim = (tg_optim_opts){TG_OPTIM_SGD, NAN, NAN, NAN, NAN, NAN, NAN, NAN, false};
}

/* a finite number from text, or a usage error naming the option */
static tg_status parse_number(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = tg_strtod_c(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return tg_error(TG_EUSAGE, "%s expects a number, not '%.40s'", opt, s);
    *out = v;
    return TG_OK;
}

static tg_status parse_count(const char *opt, const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1)
        return tg_error(TG_EUSAGE, "%s expects a positive integer, not '%.40s'", opt, s);
    *out = v;
    return TG_OK;
}

static tg_status parse_betas(const char *s, tg_optim_opts *o)
{
    const char *comma = strchr(s, ',');
    char first[64];
    if (!comma || (size_t)(comma - s) >= sizeof first)
        return tg_error(TG_EUSAGE, "--betas expects two numbers B1,B2 (as 0.9,0.999), not '%.40s'", s);
    memcpy(first, s, (size_t)(comma - s));
    first[comma - s] = 0;
    if (parse_number("--betas", first, &o->beta1) != TG_OK || parse_number("--betas", comma + 1, &o->beta2) != TG_OK)
        return tg_errcode();
    return TG_OK;
}

tg_status tg_train_option(tg_train_opts *o, int code, const char *arg)
{
    tg_optim_opts *op = &o->optim;
    switch (code) {
    case TG_TOPT_TRAIN: o->names = arg; return TG_OK;
    case TG_TOPT_OPTIMIZER:
        if (!strcmp(arg, "sgd")) op->kind = TG_OPTIM_SGD;
        else if (!strcmp(arg, "adam")) op->kind = TG_OPTIM_ADAM;
        else if (!strcmp(arg, "adamw")) op->kind = TG_OPTIM_ADAMW;
        else return tg_error(TG_EUSAGE, "--optimizer expects sgd, adam or adamw, not '%.40s'", arg);
        return TG_OK;
    case TG_TOPT_LR: return parse_number("--lr", arg, &op->lr);
    case TG_TOPT_MOMENTUM: return parse_number("--momentum", arg, &op->momentum);
    case TG_TOPT_DAMPENING: return parse_number("--dampening", arg, &op->dampening);
    case TG_TOPT_NESTEROV: op->nesterov = true; return TG_OK;
    case TG_TOPT_BETAS: return parse_betas(arg, op);
    case TG_TOPT_EPS: return parse_number("--eps", arg, &op->eps);
    case TG_TOPT_WEIGHT_DECAY: return parse_number("--weight-decay", arg, &op->weight_decay);
    case TG_TOPT_STEPS: return parse_count("--steps", arg, &o->steps);
    case TG_TOPT_EPOCHS: return parse_count("--epochs", arg, &o->epochs);
    case TG_TOPT_BATCH_SIZE: return parse_count("--batch-size", arg, &o->batch_size);
    case TG_TOPT_ACCUMULATE: return parse_count("--accumulate-steps", arg, &o->accumulate);
    case TG_TOPT_SHUFFLE: o->shuffle = true; return TG_OK;
    case TG_TOPT_LOG: o->log = arg; return TG_OK;
    case TG_TOPT_LOG_GRAD_NORM: o->log_grad_norm = true; return TG_OK;
    case TG_TOPT_SAVE: o->save = arg; return TG_OK;
    case TG_TOPT_RESUME: o->resume = arg; return TG_OK;
    default: return tg_error(TG_EUSAGE, "unknown training option");
    }
}

bool tg_train_options_given(const tg_train_opts *o)
{
    const tg_optim_opts *p = &o->optim;
    return p->kind != TG_OPTIM_SGD || !isnan(p->lr) || !isnan(p->momentum) || !isnan(p->dampening) ||
           p->nesterov || !isnan(p->beta1) || !isnan(p->eps) || !isnan(p->weight_decay) || o->steps ||
           o->epochs || o->batch_size || o->accumulate != 1 || o->shuffle || o->log || o->log_grad_norm ||
           o->save || o->resume;
}

static void set_default(double *v, double d)
{
    if (isnan(*v))
        *v = d;
}

/* torch.optim's defaults and its checks of the hyperparameters */
static tg_status check_optim(tg_optim_opts *o)
{
    const char *name = tg_optim_name(o->kind);
    bool sgd = o->kind == TG_OPTIM_SGD;
    if (sgd && isnan(o->lr))
        return tg_error(TG_EUSAGE, "--optimizer sgd needs --lr (torch.optim.SGD has no default learning rate)");
    if (sgd && (!isnan(o->beta1) || !isnan(o->eps)))
        return tg_error(TG_EUSAGE, "--betas and --eps are Adam's and AdamW's, not SGD's");
    if (!sgd && (!isnan(o->momentum) || !isnan(o->dampening) || o->nesterov))
        return tg_error(TG_EUSAGE, "--momentum, --dampening and --nesterov are SGD's, not %s's", name);
    set_default(&o->lr, 1e-3);
    set_default(&o->momentum, 0);
    set_default(&o->dampening, 0);
    set_default(&o->beta1, 0.9);
    set_default(&o->beta2, 0.999);
    set_default(&o->eps, 1e-8);
    set_default(&o->weight_decay, o->kind == TG_OPTIM_ADAMW ? 1e-2 : 0);
    if (o->lr < 0)
        return tg_error(TG_EUSAGE, "invalid learning rate %g: --lr must not be negative", o->lr);
    if (o->momentum < 0)
        return tg_error(TG_EUSAGE, "invalid momentum %g: --momentum must not be negative", o->momentum);
    if (o->weight_decay < 0)
        return tg_error(TG_EUSAGE, "invalid weight decay %g: --weight-decay must not be negative", o->weight_decay);
    if (o->eps < 0)
        return tg_error(TG_EUSAGE, "invalid epsilon %g: --eps must not be negative", o->eps);
    if (o->beta1 < 0 || o->beta1 >= 1 || o->beta2 < 0 || o->beta2 >= 1)
        return tg_error(TG_EUSAGE, "invalid betas %g,%g: each must be at least 0 and less than 1", o->beta1, o->beta2);
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        return tg_error(TG_EUSAGE, "--nesterov needs a positive --momentum and no --dampening (torch.optim.SGD's rule)");
    return TG_OK;
}

static tg_status check_train(tg_train_opts *o)
{
    if (!o->names || !*o->names)
        return tg_error(TG_EUSAGE, "--train needs the names of the variables to optimise (--train w,b)");
    if (!o->steps == !o->epochs)
        return tg_error(TG_EUSAGE, "give the length of the training: --steps N or --epochs E (one of them)");
    if (o->shuffle && !o->batch_size)
        return tg_error(TG_EUSAGE, "--shuffle orders the rows of mini-batches: it needs --batch-size");
    if (o->log_grad_norm && !o->log)
        return tg_error(TG_EUSAGE, "--log-grad-norm adds to the lines of --log FILE: give --log");
    return check_optim(&o->optim);
}

/* ---- the variables: parameters, data, the rest ---- */

typedef enum { VAR_FIXED, VAR_PARAM, VAR_DATA } var_role;

typedef struct {
    tg_env env;         /* the variables as bound (parameters: their own copies, updated in place) */
    int nvars;
    var_role *role;
    int nparams;
    tg_tensor **params; /* borrowed from env, in --train's order */
    const char **param_names;
    int64_t rows;       /* dim 0 of the data variables (0: none) */
    int64_t batch;      /* rows per pass */
    int64_t nbatches;   /* passes per epoch */
    int64_t *perm;      /* this epoch's order of the rows (--shuffle) */
    int64_t perm_epoch; /* the epoch perm is for (-1: none yet) */
    tg_tensor **batch_values; /* per variable: the current batch of a data variable */
    tg_env pass;        /* the last pass's environment, kept while it can serve the next (pass_env) */
} trainer;

/* The name's index in the comma-separated list, or -1 */
static int list_index(const char *list, const char *name, size_t n)
{
    int k = 0;
    for (const char *p = list; *p; k++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return k;
        if (!e)
            break;
        p = e + 1;
    }
    return -1;
}

/* each name of --train: bound, float, once */
static tg_status find_params(trainer *t, const char *names)
{
    int count = 1;
    for (const char *p = names; *p; p++)
        count += *p == ',';
    t->params = tg_calloc((size_t)count, sizeof *t->params);
    t->param_names = tg_calloc((size_t)count, sizeof *t->param_names);
    if (!t->params || !t->param_names)
        return TG_ERESOURCE;
    for (const char *p = names; t->nparams < count; p++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int found = -1;
        for (int i = 0; i < t->nvars && found < 0; i++)
            if (strlen(t->env.names[i]) == len && !strncmp(t->env.names[i], p, len))
                found = i;
        if (found < 0)
            return tg_error(TG_EUSAGE, "--train names '%.*s', which is not a variable given with --at, --inputs "
                            "or --resume", (int)len, p);
        if (list_index(names, p, len) != t->nparams)
            return tg_error(TG_EUSAGE, "--train names '%.*s' twice", (int)len, p);
        tg_tensor *v = t->env.values[found];
        if (!tg_dtype_is_float(v->dtype))
            return tg_error(TG_EINPUT, "--train: '%s' is %s; only floating point variables can be trained",
                            t->env.names[found], tg_dtype_name(v->dtype));
        /* its own contiguous copy, written in place by the optimizer */
        tg_tensor *c = tg_contiguous(tg_ref(v));
        tg_tensor *own = c ? tg_from_data(c->dtype, c->ndim, c->shape, tg_data(c)) : NULL;
        tg_release(c);
        if (!own || !(own->name = tg_malloc(len + 1)))
            return tg_release(own), tg_errcode();
        memcpy(own->name, p, len);
        own->name[len] = 0;
        tg_set_requires_grad(own, true);
        if (tg_env_set(&t->env, t->env.names[found], own) != TG_OK)
            return tg_errcode();
        t->role[found] = VAR_PARAM;
        t->param_names[t->nparams] = t->env.names[found];
        t->params[t->nparams++] = own;
        p = e ? e : p + len - 1;
    }
    return TG_OK;
}

/* The data variables: every variable not trained that has dim 0 of the
 * largest length among them (the rows); the others are used whole. */
static tg_status find_data(trainer *t, const tg_train_opts *o)
{
    for (int i = 0; i < t->nvars; i++) {
        tg_tensor *v = t->env.values[i];
        if (t->role[i] != VAR_PARAM && v->ndim > 0 && v->shape[0] > t->rows)
            t->rows = v->shape[0];
    }
    for (int i = 0; i < t->nvars; i++) {
        tg_tensor *v = t->env.values[i];
        if (t->role[i] == VAR_PARAM)
            continue;
        tg_set_requires_grad(v, false);
        if (o->batch_size && v->ndim > 0 && v->shape[0] == t->rows) {
            t->role[i] = VAR_DATA;
            if (!tg_is_contiguous(v) && tg_env_set(&t->env, t->env.names[i], tg_contiguous(tg_ref(v))) != TG_OK)
                return tg_errcode();
        }
    }
    t->batch = o->batch_size ? o->batch_size : 1;
    t->nbatches = 1;
    if (!o->batch_size)
        return TG_OK;
    if (t->rows == 0)
        return tg_error(TG_EUSAGE, "--batch-size takes rows (dim 0) of the data variables, but no variable "
                        "other than the trained ones has a dim 0 with rows");
    if (o->batch_size > t->rows)
        return tg_error(TG_EUSAGE, "--batch-size %ld is larger than the data, which has %lld rows", o->batch_size,
                        (long long)t->rows);
    t->nbatches = (t->rows + t->batch - 1) / t->batch; /* the last one smaller (DataLoader's drop_last=False) */
    t->perm_epoch = -1;
    t->batch_values = tg_calloc((size_t)t->nvars, sizeof *t->batch_values);
    if (o->shuffle && !(t->perm = tg_calloc((size_t)t->rows, sizeof *t->perm)))
        return TG_ERESOURCE;
    return t->batch_values ? TG_OK : TG_ERESOURCE;
}

static void trainer_free(trainer *t)
{
    for (int i = 0; t->batch_values && i < t->nvars; i++)
        tg_release(t->batch_values[i]);
    tg_free(t->batch_values);
    tg_free(t->perm);
    tg_free(t->params);
    tg_free(t->param_names);
    tg_free(t->role);
    tg_env_free(&t->pass);
    tg_env_free(&t->env);
}

/* ---- mini-batches ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Epoch e's order of the rows: a Fisher-Yates shuffle from the seed and
 * e alone, so that a resumed run finds the same order again. */
static void shuffle_rows(trainer *t, uint64_t seed, int64_t epoch)
{
    uint64_t state = seed ^ (UINT64_C(0xd1b54a32d192ed03) * (uint64_t)(epoch + 1));
    for (int64_t i = 0; i < t->rows; i++)
        t->perm[i] = i;
    for (int64_t i = t->rows - 1; i > 0; i--) {
        int64_t j = (int64_t)(splitmix64(&state) % (uint64_t)(i + 1));
        int64_t tmp = t->perm[i];
        t->perm[i] = t->perm[j];
        t->perm[j] = tmp;
    }
    t->perm_epoch = epoch;
}

/* rows [start, start + n) of v, in perm's order when there is one */
static tg_tensor *take_rows(const trainer *t, tg_tensor *v, int64_t start, int64_t n, tg_tensor *reuse)
{
    if (!t->perm)
        return tg_slice(tg_ref(v), 0, start, start + n, 1);
    size_t row = tg_dtype_size(v->dtype) * (size_t)(v->numel / v->shape[0]);
    tg_tensor *b = reuse && reuse->refcount == 1 && reuse->shape[0] == n ? tg_ref(reuse) : NULL;
    if (!b) {
        int64_t shape[TG_MAX_DIMS];
        memcpy(shape, v->shape, sizeof shape);
        shape[0] = n;
        if (!(b = tg_empty(v->dtype, v->ndim, shape)))
            return NULL;
    }
    const char *src = tg_data(v);
    char *dst = tg_data(b);
    for (int64_t i = 0; i < n; i++)
        memcpy(dst + (size_t)i * row, src + (size_t)t->perm[start + i] * row, row);
    b->storage->version++;
    return b;
}

/* the data variables' rows for pass number k (counted over all epochs) */
static tg_status load_batch(trainer *t, const tg_train_opts *o, int64_t k)
{
    if (!o->batch_size)
        return TG_OK;
    int64_t epoch = k / t->nbatches, start = (k % t->nbatches) * t->batch;
    int64_t n = t->rows - start < t->batch ? t->rows - start : t->batch;
    if (t->perm && t->perm_epoch != epoch)
        shuffle_rows(t, o->seed, epoch);
    for (int i = 0; i < t->nvars; i++) {
        if (t->role[i] != VAR_DATA)
            continue;
        tg_tensor *b = take_rows(t, t->env.values[i], start, n, t->batch_values[i]);
        if (!b)
            return tg_errcode();
        tg_release(t->batch_values[i]);
        t->batch_values[i] = b;
    }
    return TG_OK;
}

/* ---- one pass: forward and backward ---- */

/* Whether e binds the variables, and nothing else, as pass_env does: a
 * pass that assigned a name, or rebound a variable, leaves it otherwise */
static bool pass_env_intact(const trainer *t, const tg_env *e)
{
    if (e->n != t->nvars)
        return false;
    for (int i = 0; i < t->nvars; i++)
        if (e->values[i] != (t->role[i] == VAR_DATA ? t->batch_values[i] : t->env.values[i]))
            return false;
    return true;
}

/* The environment of one pass: the variables, data variables as batches.
 * Without mini-batches the variables are the same tensors at every pass
 * (the parameters are updated in place), so the last pass's environment
 * serves again when the program left it as it was: the names and their
 * index are not made and freed at every step. */
static tg_status pass_env(trainer *t, tg_env *e)
{
    if (!t->batch_values && pass_env_intact(t, e))
        return TG_OK;
    tg_env_free(e);
    for (int i = 0; i < t->nvars; i++) {
        tg_tensor *v = t->role[i] == VAR_DATA ? t->batch_values[i] : t->env.values[i];
        if (tg_env_set(e, t->env.names[i], tg_ref(v)) != TG_OK)
            return tg_errcode();
    }
    return TG_OK;
}

static tg_status check_loss(const tg_tensor *loss, bool graph)
{
    char s[256];
    if (loss->numel != 1 || loss->ndim > 1)
        return tg_error(TG_EINPUT, "--train minimises a single number, but the result has shape %s: reduce "
                        "it (append .mean() or .sum())", tg_shape_str(loss, s, sizeof s));
    if (!tg_dtype_is_float(loss->dtype))
        return tg_error(TG_EINPUT, "--train minimises a floating point loss, but the result is %s",
                        tg_dtype_name(loss->dtype));
    if (graph && !loss->requires_grad)
        return tg_error(TG_EINPUT, "the loss does not depend on the trained variables: nothing to optimise");
    return TG_OK;
}

typedef struct {
    bool compiled;     /* --compile's plan serves this program */
    tg_train_fused *fused; /* or the fused step does (train_fused.c) */
} pass_state;

/* One forward and backward pass over the current batch; the parameters'
 * gradients add into their .grad (by the backward pass, or added there
 * from the compiled evaluation's).
 * *loss gets the loss. */
static tg_status one_pass(tg_program *p, trainer *t, pass_state *ps, bool first, double *loss, tg_dtype *dt)
{
    if (ps->fused)
        return tg_train_fused_pass(ps->fused, first, loss, dt);
    tg_env e = t->pass;
    t->pass = (tg_env){0};
    tg_tensor *value = NULL;
    tg_status st = pass_env(t, &e);
    if (st == TG_OK && ps->compiled) {
        tg_tensor **g = tg_calloc((size_t)t->nvars, sizeof *g);
        tg_grad_opts go = {0};
        st = g ? tg_compiled_eval(p, &e, t->nvars, &go, &value, g) : TG_ERESOURCE;
        if (st == TG_NO) {
            tg_error_clear();
            ps->compiled = false; /* not of the fused form: eager from now on */
            st = TG_OK;
        }
        for (int i = 0; g && i < t->nvars; i++) {
            tg_tensor *param = t->env.values[i];
            if (st == TG_OK && value && t->role[i] == VAR_PARAM) {
                if (first) /* into .grad, as the eager passes add there */
                    tg_zero_grad(param);
                bool old = tg_set_grad_enabled(false);
                tg_tensor *sum = !g[i] ? param->grad : !param->grad ? tg_ref(g[i]) : tg_add(param->grad, tg_ref(g[i]));
                tg_set_grad_enabled(old);
                param->grad = sum; /* (tg_add consumed the old one) */
                if (g[i] && !sum)
                    st = tg_errcode();
            }
            tg_release(g[i]);
        }
        tg_free(g);
    }
    if (st == TG_OK && !value) {
        bool old = tg_set_grad_enabled(true), old_free = tg_set_free_unsaved(true);
        value = tg_program_eval(p, &e);
        tg_set_free_unsaved(old_free);
        tg_set_grad_enabled(old);
        if (!value || check_loss(value, true) != TG_OK)
            st = tg_errcode();
        for (int i = 0; st == TG_OK && first && i < t->nparams; i++)
            tg_zero_grad(t->params[i]);
        if (st == TG_OK)
            st = tg_backward(value, NULL, false, false);
    } else if (st == TG_OK)
        st = check_loss(value, false);
    if (st == TG_OK) {
        *loss = tg_item(value);
        *dt = value->dtype;
    }
    tg_release(value);
    if (st == TG_OK && !t->batch_values && pass_env_intact(t, &e))
        t->pass = e; /* for the next pass */
    else
        tg_env_free(&e); /* what the program bound goes now */
    return st;
}

/* ---- progress, log ---- */

typedef struct {
    tg_optim *opt;
    pass_state ps;
    int64_t passes;    /* passes done in all, a resumed run's included */
    int64_t steps_run; /* steps of this run */
    int64_t total;     /* steps this run makes */
    double loss;       /* the last pass's */
    tg_dtype loss_dtype;
    tg_fileset *logset;
    FILE *log;
    tg_progress progress; /* the progress line (core/progress.h) */
} run_state;

/* a line now and then, and the last step's always (when progress is shown) */
static void show_progress(const tg_train_opts *o, run_state *r, bool last)
{
    if (!r->progress.out || (!last && !tg_progress_due(&r->progress)))
        return;
    double elapsed = tg_progress_elapsed(&r->progress), rate = elapsed > 0 ? (double)r->steps_run / elapsed : 0;
    double left = rate > 0 ? (double)(r->total - r->steps_run) / rate : 0;
    char loss[32];
    tg_format_number(loss, r->loss, r->loss_dtype);
    tg_progress_show(&r->progress, "step %lld/%lld  loss %s  %.0f steps/s  %.0fs left",
                     (long long)tg_optim_steps(r->opt),
                     (long long)(tg_optim_steps(r->opt) - r->steps_run + r->total), loss, rate, left);
    if (last)
        tg_progress_end(&r->progress);
}

/* the 2-norm of all the gradients together (clip_grad_norm_'s total norm) */
static double grad_norm(tg_tensor *const *grads, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        for (int64_t j = 0; grads[i] && j < grads[i]->numel; j++) {
            double g = tg_get(grads[i], j);
            sum += g * g;
        }
    return sqrt(sum);
}

static tg_status log_step(const tg_train_opts *o, run_state *r, tg_tensor *const *grads, int n)
{
    char loss[32], norm[32];
    tg_format_number(loss, r->loss, r->loss_dtype);
    fprintf(r->log, "{\"step\":%lld,\"loss\":%s", (long long)tg_optim_steps(r->opt), loss);
    if (o->log_grad_norm) {
        tg_format_number(norm, grad_norm(grads, n), r->loss_dtype);
        fprintf(r->log, ",\"grad_norm\":%s", norm);
    }
    if (fputs("}\n", r->log) == EOF || ferror(r->log))
        return tg_error(TG_ERESOURCE, "cannot write the log '%s': %s", o->log, strerror(errno ? errno : EIO));
    return TG_OK;
}

/* ---- the loop ---- */

/* the gradients the step uses: contiguous, NULL for a parameter the loss
 * did not reach; .grad itself (borrowed) when it is contiguous, else a
 * copy that own[k] holds */
static tg_status step_grads(trainer *t, tg_tensor **grads, tg_tensor **own)
{
    for (int k = 0; k < t->nparams; k++) {
        tg_tensor *g = t->params[k]->grad;
        own[k] = g && !tg_is_contiguous(g) ? tg_contiguous(tg_ref(g)) : NULL;
        grads[k] = own[k] ? own[k] : g;
        if (g && !grads[k])
            return tg_errcode();
    }
    return TG_OK;
}

/* grads: 2 * nparams slots, the gradients and the copies step_grads makes */
static tg_status one_step(tg_program *p, trainer *t, const tg_train_opts *o, run_state *r, int64_t npasses,
                          tg_tensor **grads)
{
    for (int64_t k = 0; k < npasses; k++) {
        if (load_batch(t, o, r->passes) != TG_OK ||
            one_pass(p, t, &r->ps, k == 0, &r->loss, &r->loss_dtype) != TG_OK)
            return tg_errcode();
        r->passes++;
    }
    tg_tensor **own = grads + t->nparams;
    tg_status st = step_grads(t, grads, own);
    if (st == TG_OK)
        st = tg_optim_step(r->opt, grads);
    if (st == TG_OK && r->log)
        st = log_step(o, r, grads, t->nparams);
    for (int k = 0; k < t->nparams; k++) {
        tg_release(own[k]);
        grads[k] = own[k] = NULL;
    }
    return st;
}

static tg_status train_loop(tg_program *p, trainer *t, const tg_train_opts *o, run_state *r)
{
    int64_t passes;
    if (tg_mul_overflows(o->steps ? o->steps : o->epochs, o->steps ? o->accumulate : t->nbatches, &passes) ||
        passes > INT64_MAX - r->passes)
        return tg_error(TG_EUSAGE, "--steps or --epochs asks for more passes than can be counted");
    r->total = (passes + o->accumulate - 1) / o->accumulate;
    tg_tensor **grads = tg_calloc(2 * (size_t)t->nparams, sizeof *grads); /* and the copies they own */
    if (!grads)
        return TG_ERESOURCE;
    tg_status st = TG_OK;
    tg_progress_begin(&r->progress, 1.0);
    for (int64_t left = passes; left > 0 && st == TG_OK; left -= o->accumulate) {
        st = one_step(p, t, o, r, left < o->accumulate ? left : o->accumulate, grads);
        r->steps_run++;
        if (st == TG_OK)
            show_progress(o, r, left <= o->accumulate);
    }
    tg_progress_end(&r->progress); /* an error goes on a line of its own */
    tg_free(grads);
    return st;
}

/* ---- binding, the result ---- */

static tg_status bind_vars(trainer *t, tg_program *p, const char *const *at, int nat, const char *inputs,
                           const tg_train_opts *o)
{
    tg_bind_opts b = {.wrt = o->names};
    tg_status st = tg_env_bind_args(&t->env, p, at, nat, inputs, &b, false);
    if (st == TG_OK && o->resume)
        st = tg_train_resume_params(o->resume, o->names, &t->env, &b);
    t->nvars = t->env.n;
    if (st == TG_OK && !(t->role = tg_calloc((size_t)t->nvars + 1, sizeof *t->role)))
        st = TG_ERESOURCE;
    if (st == TG_OK)
        st = find_params(t, o->names);
    if (st == TG_OK)
        st = find_data(t, o);
    return st;
}

/* {"loss":L,"steps":N,"params":{...}}: the parameters inline, or with
 * --save the files' names */
static tg_status result(tg_buf *out, const trainer *t, const tg_train_opts *o, const run_state *r,
                        const tg_buf *saved)
{
    char loss[32];
    tg_format_number(loss, r->loss, r->loss_dtype);
    tg_buf_printf(out, "{\"loss\":%s,\"steps\":%lld,\"params\":", loss, (long long)tg_optim_steps(r->opt));
    if (saved)
        tg_buf_add(out, saved->data, saved->len);
    else
        for (int k = 0; k < t->nparams; k++) {
            tg_buf_add(out, k ? "," : "{", 1);
            tg_buf_json_string(out, t->param_names[k]);
            tg_buf_add(out, ":", 1);
            if (tg_json_write_buf(out, t->params[k]) != TG_OK)
                return tg_errcode();
        }
    tg_buf_printf(out, "%s}\n", saved || !t->nparams ? "" : "}");
    return out->failed ? tg_error(TG_ERESOURCE, "out of memory") : TG_OK;
}

static tg_status start_log(const tg_train_opts *o, run_state *r)
{
    if (!o->log)
        return TG_OK;
    if (!(r->logset = tg_fileset_new(NULL)))
        return tg_errcode();
    return (r->log = tg_fileset_stream(r->logset, o->log)) ? TG_OK : tg_errcode();
}

tg_status tg_run_train(tg_program *p, const char *const *at, int nat, const char *inputs,
                       const tg_train_opts *given, tg_buf *out)
{
    tg_train_opts opts = *given, *o = &opts; /* the optimizer's defaults filled in */
    trainer t = {0};
    run_state r = {0};
    tg_buf saved = {0};
    tg_fileset *saveset = NULL;
    tg_status st = check_train(o);
    if (st == TG_OK)
        st = bind_vars(&t, p, at, nat, inputs, o);
    if (st == TG_OK && !(r.opt = tg_optim_new(&o->optim, t.params, t.nparams)))
        st = tg_errcode();
    if (st == TG_OK && o->resume)
        st = tg_train_resume_state(o->resume, r.opt, t.param_names, t.nparams, &r.passes);
    /* a one-element variable is a constant of the fused plan: a trained one
     * would have a new plan compiled at every step, so such programs run
     * eagerly */
    r.ps.compiled = o->compile;
    for (int k = 0; k < t.nparams; k++)
        r.ps.compiled = r.ps.compiled && t.params[k]->numel > 1;
    /* the whole data each step: an elementwise loss's step in one pass */
    if (st == TG_OK && !r.ps.compiled && !o->batch_size)
        r.ps.fused = tg_train_fused_new(p, &t.env, t.params, t.nparams);
    if (st == TG_OK)
        st = start_log(o, &r);
    if (st == TG_OK)
        st = train_loop(p, &t, o, &r);
    if (st == TG_OK && o->save)
        st = tg_train_save(o->save, t.param_names, t.params, t.nparams, r.opt, r.passes, &saveset, &saved);
    if (st == TG_OK)
        st = result(out, &t, o, &r, o->save ? &saved : NULL);
    if (st == TG_OK && r.logset) {
        st = tg_fileset_commit(r.logset);
        r.logset = NULL;
    }
    if (st == TG_OK && saveset) {
        st = tg_fileset_commit(saveset);
        saveset = NULL;
    }
    tg_fileset_abort(r.logset);
    tg_fileset_abort(saveset);
    tg_buf_free(&saved);
    tg_optim_free(r.opt);
    tg_train_fused_free(r.ps.fused);
    trainer_free(&t);
    return st;
}
