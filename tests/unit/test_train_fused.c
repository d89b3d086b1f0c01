/* test_train_fused.c -- the training loop's fused step (lib/train/
 * train_fused.c): a sum fed in pieces is sum()'s value to the last bit,
 * the fused pass gives the eager pass's loss and gradients bit for bit,
 * and programs not of its form are left to the eager path. */
#include "test.h"
#include "internal.h"
#include "train/train.h"

static tg_tensor *random_vec(tg_dtype dt, int64_t n)
{
    tg_tensor *t = tg_empty(dt, 1, &n);
    for (int64_t i = 0; t && i < n; i++) {
        /* magnitudes over six decades: the order of the additions shows */
        double v = test_uniform(-1, 1) * pow(10, test_uniform(-3, 3));
        if (dt == TG_FLOAT32)
            ((float *)tg_data(t))[i] = (float)v;
        else
            ((double *)tg_data(t))[i] = v;
    }
    return t;
}

TEST(sum_stream_is_sum_bit_for_bit)
{
    const int64_t sizes[] = {1, 7, 255, 256, 1000, 16384, 16385, 32768, 40000, 70001};
    for (int d = 0; d < 2; d++)
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            tg_dtype dt = d ? TG_FLOAT64 : TG_FLOAT32;
            int64_t n = sizes[k];
            tg_tensor *x = random_vec(dt, n), *s = tg_sum(tg_ref(x), NULL, 0, false);
            CHECK(x && s);
            if (!x || !s)
                continue;
            /* pieces of 1024 and of 64: multiples of TG_SUM_PIECE dividing TG_SUM_BLOCK */
            for (int64_t piece = 1024; piece >= TG_SUM_PIECE; piece /= 16) {
                tg_sum_stream st;
                tg_sum_stream_init(&st, dt, n);
                size_t esz = tg_dtype_size(dt);
                for (int64_t c = 0; c < n; c += piece)
                    tg_sum_stream_add(&st, (char *)tg_data(x) + c * (int64_t)esz, n - c < piece ? n - c : piece);
                double v = tg_sum_stream_end(&st);
                if (dt == TG_FLOAT32)
                    CHECK((float)v == *(float *)tg_data(s));
                else
                    CHECK(v == *(double *)tg_data(s));
            }
            tg_release(x);
            tg_release(s);
        }
}

/* the program's loss and gradients in x, y, w, b: by the eager path
 * (tg_grad_eval), then by two fused passes, the second adding into .grad */
static void compare_pass(const char *src, tg_dtype dt, int64_t n, bool full_w)
{
    tg_program *p = tg_program_parse(src);
    CHECK(p != NULL);
    if (!p)
        return;
    tg_env env = {0};
    tg_tensor *w = full_w ? random_vec(dt, n) : tg_scalar(0.7, dt), *b = tg_scalar(-0.2, dt);
    tg_env_set(&env, "x", random_vec(dt, n));
    tg_env_set(&env, "y", random_vec(dt, n));
    tg_env_set(&env, "w", tg_ref(w));
    tg_env_set(&env, "b", tg_ref(b));
    tg_set_requires_grad(w, true);
    tg_set_requires_grad(b, true);
    tg_tensor *params[2] = {w, b}, *g[4] = {0};
    tg_grad_opts o = {0};
    tg_tensor *value = tg_grad_eval(p, &env, env.n, &o, g);
    CHECK(value && g[2] && g[3]);
    tg_train_fused *f = tg_train_fused_new(p, &env, params, 2);
    CHECK(f != NULL);
    double loss = 0;
    tg_dtype ldt = TG_BOOL;
    for (int pass = 0; f && value && g[2] && g[3] && pass < 2; pass++) {
        CHECK(tg_train_fused_pass(f, pass == 0, &loss, &ldt) == TG_OK);
        if (ldt != value->dtype || loss != tg_item(value)) {
            fprintf(stderr, "  %s: loss %.17g, eager %.17g\n", src, loss, tg_item(value));
            CHECK(!"the fused loss is the eager one");
        }
        for (int k = 0; k < 2; k++) {
            tg_tensor *mine = params[k]->grad, *eager = g[2 + k];
            CHECK(mine && mine->numel == eager->numel);
            for (int64_t i = 0; mine && i < mine->numel; i++)
                if (tg_get(mine, i) != (pass + 1) * tg_get(eager, i)) { /* doubling is exact */
                    CHECK(!"the fused gradient is the eager one");
                    break;
                }
        }
    }
    tg_train_fused_free(f);
    tg_release(value);
    for (int i = 0; i < 4; i++)
        tg_release(g[i]);
    tg_zero_grad(w);
    tg_zero_grad(b);
    tg_release(w);
    tg_release(b);
    tg_env_free(&env);
    tg_program_free(p);
}

TEST(train_fused_pass_is_the_eager_pass)
{
    compare_pass("((x*w+b-y)**2).mean()", TG_FLOAT32, 10000, false);
    compare_pass("((x*w+b-y)**2).mean()", TG_FLOAT64, 40000, false);
    compare_pass("((tanh(x*w+b)-y)**2).sum() / 7", TG_FLOAT32, 3000, false);
    compare_pass("(sigmoid(x*w)*exp(-(x/1000)**2*b) - y).abs().mean() + 0.1*w*w*b", TG_FLOAT32, 20000, false);
    compare_pass("torch.where(x > 0, (x*w+b-y)**2, (x*w-y).abs()).mean()", TG_FLOAT64, 100, false);
    compare_pass("((x*w+b-y)**2).mean()", TG_FLOAT32, 5000, true); /* w of the data's size */
}

TEST(train_fused_leaves_other_programs_eager)
{
    const char *progs[] = {
        "((x@w+b-y)**2).mean()",             /* matmul */
        "((x*w+b-y)**2).mean() + x.sum()*0", /* a sum of data alone: fine */
        "(x*w - (x*w).mean()).abs().sum()",  /* a reduction inside */
        "((x*w+b-y)**2 * rand_like(x)).mean()",
        "((x*w+b-y)**2).mean() + 0*w.sum()", /* a sum of one value: eager */
    };
    const bool fused[] = {false, true, false, false, false};
    for (size_t k = 0; k < sizeof progs / sizeof *progs; k++) {
        tg_program *p = tg_program_parse(progs[k]);
        int64_t n = 1000, col[2] = {1000, 1}, one[2] = {1, 1};
        tg_env env = {0};
        tg_tensor *w = k == 0 ? tg_from_data(TG_FLOAT32, 2, one, (float[]){2}) : tg_scalar(1, TG_FLOAT32);
        tg_tensor *x = random_vec(TG_FLOAT32, n), *y = random_vec(TG_FLOAT32, n);
        if (k == 0) { /* columns, for x @ w */
            x = tg_reshape(x, 2, col);
            y = tg_reshape(y, 2, col);
        }
        tg_tensor *b = tg_scalar(0, TG_FLOAT32);
        tg_set_requires_grad(w, true);
        tg_set_requires_grad(b, true);
        tg_env_set(&env, "x", x);
        tg_env_set(&env, "y", y);
        tg_env_set(&env, "w", tg_ref(w));
        tg_env_set(&env, "b", tg_ref(b));
        tg_tensor *params[2] = {w, b};
        tg_train_fused *f = p ? tg_train_fused_new(p, &env, params, 2) : NULL;
        if ((f != NULL) != fused[k]) {
            fprintf(stderr, "  %s: %s\n", progs[k], f ? "fused" : "not fused");
            CHECK(!"as expected");
        }
        CHECK(tg_errcode() == TG_OK); /* no error left behind */
        tg_train_fused_free(f);
        tg_release(w);
        tg_release(b);
        tg_env_free(&env);
        tg_program_free(p);
    }
}
