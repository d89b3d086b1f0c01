/* test_optim.c -- lib/train/optim.c's updates (torch.optim's rules) on numbers
 * worked out by hand, its state, and lib/io/outfile.c's file sets that
 * --save and --log write through.  The comparison with torch.optim itself
 * is tests/bats/train.bats (tests/torch/gen_train.py's fixtures). */
#include "test.h"
#include "internal.h"
#include "train/train.h"
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static tg_tensor *vec3(float a, float b, float c)
{
    float d[3] = {a, b, c};
    int64_t shape[1] = {3};
    return tg_from_data(TG_FLOAT32, 1, shape, d);
}

static tg_optim_opts sgd(double lr, double momentum)
{
    return (tg_optim_opts){TG_OPTIM_SGD, lr, momentum, 0, 0, 0.9, 0.999, 1e-8, false};
}

TEST(optim_sgd_momentum_by_hand)
{
    tg_tensor *p = vec3(1, 2, 3), *g = vec3(0.5f, -1, 2);
    tg_optim_opts o = sgd(0.1, 0.9);
    tg_optim *opt = tg_optim_new(&o, &p, 1);
    CHECK(opt && tg_optim_step(opt, &g) == TG_OK); /* buf = g; p -= 0.1 g */
    CHECK_CLOSE(tg_get(p, 0), 0.95, 1e-6, 0);
    CHECK_CLOSE(tg_get(p, 2), 2.8, 1e-6, 0);
    CHECK(opt && tg_optim_step(opt, &g) == TG_OK); /* buf = 0.9 g + g; p -= 0.19 g */
    CHECK_CLOSE(tg_get(p, 0), 0.95 - 0.095, 1e-6, 0);
    CHECK_CLOSE(tg_get(p, 1), 2.1 + 0.19, 1e-6, 0);
    CHECK(tg_optim_steps(opt) == 2);
    CHECK(!strcmp(tg_optim_buffer_name(opt, 0), "momentum_buffer"));
    CHECK_CLOSE(tg_get(tg_optim_buffer(opt, 0, 0), 2), 3.8, 1e-6, 0);
    tg_optim_free(opt);
    tg_release(p);
    tg_release(g);
}

TEST(optim_adam_first_step_is_lr_times_sign)
{
    /* step 1: m_hat = g, v_hat = g*g, so p -= lr * g / (|g| + eps) */
    tg_tensor *p = vec3(1, 2, 3), *g = vec3(0.5f, -4, 0);
    tg_optim_opts o = {TG_OPTIM_ADAM, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, false};
    tg_optim *opt = tg_optim_new(&o, &p, 1);
    CHECK(opt && tg_optim_step(opt, &g) == TG_OK);
    CHECK_CLOSE(tg_get(p, 0), 0.99, 1e-6, 0);
    CHECK_CLOSE(tg_get(p, 1), 2.01, 1e-6, 0);
    CHECK(tg_get(p, 2) == 3); /* a zero gradient moves nothing */
    CHECK(tg_optim_nbuffers(opt) == 2 && !strcmp(tg_optim_buffer_name(opt, 1), "exp_avg_sq"));
    tg_optim_free(opt);
    tg_release(p);
    tg_release(g);
}

TEST(optim_adamw_decays_the_parameter_itself)
{
    tg_tensor *p = vec3(1, 2, 3), *g = vec3(0, 0, 0);
    tg_optim_opts o = {TG_OPTIM_ADAMW, 0.1, 0, 0, 0.5, 0.9, 0.999, 1e-8, false};
    tg_optim *opt = tg_optim_new(&o, &p, 1);
    CHECK(opt && tg_optim_step(opt, &g) == TG_OK); /* p *= 1 - lr*wd */
    CHECK_CLOSE(tg_get(p, 1), 2 * 0.95, 1e-6, 0);
    tg_optim_free(opt);
    tg_release(p);
    tg_release(g);
}

TEST(optim_no_gradient_leaves_the_parameter)
{
    tg_tensor *p = vec3(1, 2, 3), *none = NULL;
    tg_optim_opts o = sgd(0.1, 0);
    o.weight_decay = 0.5; /* not even the decay: torch.optim skips p.grad None */
    tg_optim *opt = tg_optim_new(&o, &p, 1);
    CHECK(opt && tg_optim_step(opt, &none) == TG_OK);
    CHECK(tg_get(p, 0) == 1 && tg_get(p, 2) == 3);
    CHECK(tg_optim_steps(opt) == 1);
    tg_optim_free(opt);
    tg_release(p);
}

TEST(optim_restore_checks_the_shape)
{
    tg_tensor *p = vec3(1, 2, 3);
    if ((p->name = tg_malloc(2)))
        strcpy(p->name, "w");
    tg_optim_opts o = sgd(0.1, 0.9);
    tg_optim *opt = tg_optim_new(&o, &p, 1);
    int64_t two[1] = {2};
    CHECK(tg_optim_restore(opt, 5, 0, 0, tg_zeros(TG_FLOAT32, 1, two)) == TG_EINPUT);
    CHECK(strstr(tg_errmsg(), "momentum_buffer of 'w'"));
    tg_error_clear();
    CHECK(tg_optim_restore(opt, 5, 0, 0, vec3(1, 1, 1)) == TG_OK);
    CHECK(tg_optim_steps(opt) == 5 && tg_get(tg_optim_buffer(opt, 0, 0), 1) == 1);
    tg_optim_free(opt);
    tg_release(p);
}

TEST(fileset_commits_all_or_nothing)
{
    char dir[] = "/tmp/tg-fileset-XXXXXX", path[64], text[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/sub", dir);
    tg_fileset *f = tg_fileset_new(path);
    snprintf(text, sizeof text, "%s/sub/log", dir);
    CHECK(f && tg_fileset_text(f, text, "a\n", 2) == TG_OK);
    FILE *s = f ? tg_fileset_stream(f, text) : NULL;
    CHECK(s != NULL);
    tg_fileset_abort(f); /* nothing left, the folder it made removed */
    struct stat st;
    CHECK(stat(path, &st) != 0);
    f = tg_fileset_new(path);
    s = f ? tg_fileset_stream(f, text) : NULL;
    CHECK(s && fputs("line\n", s) >= 0);
    CHECK(stat(text, &st) != 0); /* not there before the commit */
    CHECK(f && tg_fileset_commit(f) == TG_OK);
    CHECK(stat(text, &st) == 0 && st.st_size == 5);
    unlink(text);
    rmdir(path);
    rmdir(dir);
}
