/* optim.c -- torch.optim 1.13's SGD, Adam and AdamW, their single-tensor
 * (foreach=False) updates op for op, in the parameter's dtype.
 *
 * Each PyTorch op rounds as its CPU kernel does: x.add_(y, alpha=a) and
 * x.addcmul_(y, z, value=v) are fused multiply-adds there (fma(y, a, x),
 * fma(v*y, z, x)), addcdiv_ is x + (v*y)/z, and every Python number is
 * first converted to the tensor's dtype; the bias corrections are Python
 * floats (double).  So float32 parameters come out as torch's to the last
 * digit.  The loops are built twice, with the processor's FMA instruction
 * where it has one and through libm's fma() elsewhere (the same numbers). */
#include "internal.h"
#include "train.h"
#include <math.h>
#include <string.h>

#define MAX_BUFFERS 2

struct tg_optim {
    tg_optim_opts o;
    int n;
    tg_tensor **params;
    tg_tensor **buf[MAX_BUFFERS]; /* per parameter; NULL until made */
    int64_t *param_steps;         /* Adam's state["step"] per parameter */
    int64_t steps;                /* step() calls */
};

const char *tg_optim_name(tg_optim_kind k)
{
    return k == TG_OPTIM_ADAM ? "adam" : k == TG_OPTIM_ADAMW ? "adamw" : "sgd";
}

int tg_optim_nbuffers(const tg_optim *opt) { return opt->o.kind == TG_OPTIM_SGD ? 1 : 2; }

const char *tg_optim_buffer_name(const tg_optim *opt, int k)
{
    if (opt->o.kind == TG_OPTIM_SGD)
        return "momentum_buffer";
    return k == 0 ? "exp_avg" : "exp_avg_sq";
}

int64_t tg_optim_steps(const tg_optim *opt) { return opt->steps; }

const tg_optim_opts *tg_optim_options(const tg_optim *opt) { return &opt->o; }

tg_tensor *tg_optim_buffer(const tg_optim *opt, int param, int k) { return opt->buf[k][param]; }

void tg_optim_free(tg_optim *opt)
{
    if (!opt)
        return;
    for (int i = 0; i < opt->n; i++) {
        tg_release(opt->params ? opt->params[i] : NULL);
        for (int k = 0; k < MAX_BUFFERS; k++)
            tg_release(opt->buf[k] ? opt->buf[k][i] : NULL);
    }
    for (int k = 0; k < MAX_BUFFERS; k++)
        tg_free(opt->buf[k]);
    tg_free(opt->params);
    tg_free(opt->param_steps);
    tg_free(opt);
}

tg_optim *tg_optim_new(const tg_optim_opts *o, tg_tensor *const *params, int n)
{
    tg_optim *opt = tg_calloc(1, sizeof *opt);
    if (!opt)
        return NULL;
    opt->o = *o;
    opt->n = n;
    size_t count = n ? (size_t)n : 1;
    opt->params = tg_calloc(count, sizeof *opt->params);
    opt->param_steps = tg_calloc(count, sizeof *opt->param_steps);
    for (int k = 0; k < MAX_BUFFERS; k++)
        opt->buf[k] = tg_calloc(count, sizeof(tg_tensor *));
    if (!opt->params || !opt->param_steps || !opt->buf[0] || !opt->buf[1]) {
        tg_optim_free(opt);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        opt->params[i] = tg_ref(params[i]);
    return opt;
}

/* ---- the updates, element by element ----
 * T is float or double; FMA is fmaf or fma.  The comments are torch's
 * lines. */
#define SGD_LOOP(T, FMA)                                                                                           \
    for (int64_t j = 0; j < len; j++) {                                                                            \
        T d = g[j];                                                                                                \
        if (wd != 0)                                                                                               \
            d = FMA(p[j], (T)wd, d); /* d_p = d_p.add(param, alpha=weight_decay) */                                 \
        if (mom != 0) {                                                                                            \
            if (first)                                                                                             \
                b[j] = d; /* buf = torch.clone(d_p).detach() */                                                    \
            else /* buf.mul_(momentum).add_(d_p, alpha=1 - dampening) */                                           \
                b[j] = FMA(d, (T)(1 - damp), b[j] * (T)mom);                                                       \
            d = nesterov ? FMA(b[j], (T)mom, d) : b[j]; /* d_p.add(buf, alpha=momentum) or buf */                  \
        }                                                                                                          \
        p[j] = FMA(d, (T)(-lr), p[j]); /* param.add_(d_p, alpha=-lr) */                                            \
    }

#define ADAM_LOOP(T, FMA, SQRT)                                                                                    \
    for (int64_t j = 0; j < len; j++) {                                                                            \
        T gj = g[j];                                                                                               \
        if (decoupled)                                                                                             \
            p[j] = p[j] * (T)(1 - lr * wd); /* param.mul_(1 - lr * weight_decay) (AdamW) */                         \
        else if (wd != 0)                                                                                          \
            gj = FMA(p[j], (T)wd, gj); /* grad = grad.add(param, alpha=weight_decay) */                             \
        m[j] = FMA(gj, (T)(1 - b1), m[j] * (T)b1); /* exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1) */           \
        v[j] = FMA((T)(1 - b2) * gj, gj, v[j] * (T)b2); /* exp_avg_sq.mul_(beta2).addcmul_(grad, grad, ...) */    \
        T denom = SQRT(v[j]) / (T)bc2_sqrt + (T)eps; /* (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps) */  \
        p[j] = p[j] + ((T)(-step_size) * m[j]) / denom; /* param.addcdiv_(exp_avg, denom, value=-step_size) */     \
    }

typedef struct {
    int64_t len;
    bool first, nesterov, decoupled;
    double lr, wd, mom, damp, b1, b2, eps, step_size, bc2_sqrt;
} update;

#define SGD_FN(NAME, T, FMA, ATTR)                                                                                 \
    ATTR static void NAME(const update *u, T *restrict p, const T *restrict g, T *restrict b)                                                 \
    {                                                                                                              \
        int64_t len = u->len;                                                                                      \
        bool first = u->first, nesterov = u->nesterov;                                                             \
        double wd = u->wd, mom = u->mom, damp = u->damp, lr = u->lr;                                               \
        SGD_LOOP(T, FMA)                                                                                           \
    }
#define ADAM_FN(NAME, T, FMA, SQRT, ATTR)                                                                          \
    ATTR static void NAME(const update *u, T *restrict p, const T *restrict g, T *restrict m, T *restrict v)                                           \
    {                                                                                                              \
        int64_t len = u->len;                                                                                      \
        bool decoupled = u->decoupled;                                                                             \
        double wd = u->wd, lr = u->lr, b1 = u->b1, b2 = u->b2, eps = u->eps, step_size = u->step_size,             \
               bc2_sqrt = u->bc2_sqrt;                                                                             \
        ADAM_LOOP(T, FMA, SQRT)                                                                                    \
    }

SGD_FN(sgd_f32, float, fmaf, )
SGD_FN(sgd_f64, double, fma, )
ADAM_FN(adam_f32, float, fmaf, sqrtf, )
ADAM_FN(adam_f64, double, fma, sqrt, )
#if TG_HAVE_FMA_TARGET
SGD_FN(sgd_f32_fma, float, __builtin_fmaf, TG_FMA_TARGET)
SGD_FN(sgd_f64_fma, double, __builtin_fma, TG_FMA_TARGET)
ADAM_FN(adam_f32_fma, float, __builtin_fmaf, __builtin_sqrtf, TG_FMA_TARGET)
ADAM_FN(adam_f64_fma, double, __builtin_fma, __builtin_sqrt, TG_FMA_TARGET)
#endif

static void run_sgd(const update *u, tg_tensor *p, const tg_tensor *g, tg_tensor *b)
{
    void *pd = tg_data(p), *bd = b ? tg_data(b) : NULL;
    const void *gd = tg_data(g);
#if TG_HAVE_FMA_TARGET
    if (tg_cpu_has_fma()) {
        if (p->dtype == TG_FLOAT32)
            sgd_f32_fma(u, pd, gd, bd);
        else
            sgd_f64_fma(u, pd, gd, bd);
        return;
    }
#endif
    if (p->dtype == TG_FLOAT32)
        sgd_f32(u, pd, gd, bd);
    else
        sgd_f64(u, pd, gd, bd);
}

static void run_adam(const update *u, tg_tensor *p, const tg_tensor *g, tg_tensor *m, tg_tensor *v)
{
    void *pd = tg_data(p), *md = tg_data(m), *vd = tg_data(v);
    const void *gd = tg_data(g);
#if TG_HAVE_FMA_TARGET
    if (tg_cpu_has_fma()) {
        if (p->dtype == TG_FLOAT32)
            adam_f32_fma(u, pd, gd, md, vd);
        else
            adam_f64_fma(u, pd, gd, md, vd);
        return;
    }
#endif
    if (p->dtype == TG_FLOAT32)
        adam_f32(u, pd, gd, md, vd);
    else
        adam_f64(u, pd, gd, md, vd);
}

/* A buffer of zeros shaped as p, made the first time (torch's lazy state) */
static tg_status ensure_buffer(tg_optim *opt, int k, int i)
{
    if (opt->buf[k][i])
        return TG_OK;
    tg_tensor *p = opt->params[i];
    opt->buf[k][i] = tg_zeros(p->dtype, p->ndim, p->shape);
    return opt->buf[k][i] ? TG_OK : tg_errcode();
}

static tg_status step_one(tg_optim *opt, int i, const tg_tensor *g)
{
    const tg_optim_opts *o = &opt->o;
    tg_tensor *p = opt->params[i];
    update u = {.len = p->numel, .lr = o->lr, .wd = o->weight_decay, .mom = o->momentum, .damp = o->dampening,
                .nesterov = o->nesterov, .b1 = o->beta1, .b2 = o->beta2, .eps = o->eps};
    if (o->kind == TG_OPTIM_SGD) {
        u.first = !opt->buf[0][i];
        if (o->momentum != 0 && ensure_buffer(opt, 0, i) != TG_OK)
            return tg_errcode();
        run_sgd(&u, p, g, o->momentum != 0 ? opt->buf[0][i] : NULL);
        return TG_OK;
    }
    if (ensure_buffer(opt, 0, i) != TG_OK || ensure_buffer(opt, 1, i) != TG_OK)
        return tg_errcode();
    double step = (double)++opt->param_steps[i]; /* step = step_t.item() */
    double bc1 = 1 - pow(o->beta1, step), bc2 = 1 - pow(o->beta2, step);
    u.step_size = o->lr / bc1;
    u.bc2_sqrt = sqrt(bc2);
    u.decoupled = o->kind == TG_OPTIM_ADAMW;
    run_adam(&u, p, g, opt->buf[0][i], opt->buf[1][i]);
    return TG_OK;
}

tg_status tg_optim_step(tg_optim *opt, tg_tensor *const *grads)
{
    for (int i = 0; i < opt->n; i++) {
        const tg_tensor *g = grads[i];
        if (!g)
            continue; /* p.grad is None: skipped */
        tg_tensor *p = opt->params[i];
        if (g->dtype != p->dtype || g->numel != p->numel || !tg_is_contiguous(g) || !tg_is_contiguous(p))
            return tg_error(TG_EINPUT, "the gradient of '%s' does not match it", p->name ? p->name : "?");
        if (step_one(opt, i, g) != TG_OK)
            return tg_errcode();
        p->storage->version++; /* written in place */
    }
    opt->steps++;
    return TG_OK;
}

tg_status tg_optim_restore(tg_optim *opt, int64_t steps, int param, int k, tg_tensor *buf)
{
    opt->steps = steps;
    if (param < 0 || !buf) {
        tg_release(buf);
        return buf || param < 0 ? TG_OK : tg_errcode();
    }
    tg_tensor *p = opt->params[param];
    if (buf->dtype != p->dtype || buf->ndim != p->ndim || memcmp(buf->shape, p->shape, (size_t)p->ndim * sizeof *p->shape)) {
        char a[128], b[128];
        tg_error(TG_EINPUT, "the saved %s of '%s' is %s %s, but '%s' is %s %s", tg_optim_buffer_name(opt, k),
                 p->name ? p->name : "?", tg_dtype_name(buf->dtype), tg_shape_str(buf, a, sizeof a),
                 p->name ? p->name : "?", tg_dtype_name(p->dtype), tg_shape_str(p, b, sizeof b));
        tg_release(buf);
        return TG_EINPUT;
    }
    tg_tensor *c = tg_contiguous(buf); /* own storage, written in place */
    tg_tensor *own = c ? tg_from_data(c->dtype, c->ndim, c->shape, tg_data(c)) : NULL;
    tg_release(c);
    if (!own)
        return tg_errcode();
    tg_release(opt->buf[k][param]);
    opt->buf[k][param] = own;
    if (opt->o.kind != TG_OPTIM_SGD)
        opt->param_steps[param] = steps;
    return TG_OK;
}
