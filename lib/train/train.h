/* train.h -- training as a tool (tgrad --train, tgrad(1) TRAINING): a
 * loss program, the variables it optimises, torch.optim's SGD, Adam and
 * AdamW, mini-batches over the data variables, logs, checkpoints.  The
 * loop is train.c, the optimizers optim.c, checkpoints train_state.c,
 * the one-pass step of an elementwise loss train_fused.c. */
#ifndef TG_TRAIN_H
#define TG_TRAIN_H
#include "tg.h"

typedef struct tg_fileset tg_fileset;

typedef enum { TG_OPTIM_SGD, TG_OPTIM_ADAM, TG_OPTIM_ADAMW } tg_optim_kind;

/* torch.optim's hyperparameters; NaN where not given (the optimizer's
 * default then, set by tg_train_check) */
typedef struct tg_optim_opts {
    tg_optim_kind kind;
    double lr, momentum, dampening, weight_decay, beta1, beta2, eps;
    bool nesterov;
} tg_optim_opts;

typedef struct tg_train_opts {
    const char *names;      /* --train: the variables to optimise, comma-separated */
    tg_optim_opts optim;
    long steps, epochs;     /* optimizer steps of this run, or passes over the data (0: not given) */
    long batch_size;        /* rows of each data variable per pass (0: all of them) */
    long accumulate;        /* backward passes summed into one step (1) */
    bool shuffle;           /* a new order of the rows each epoch (from seed) */
    uint64_t seed;
    const char *log;        /* a JSON line per step, written whole at the end */
    bool log_grad_norm;
    const char *save, *resume; /* checkpoint folders */
    bool compile;           /* tg_compiled_eval where the program allows */
} tg_train_opts;

/* The long options, for getopt_long tables: codes from TG_TRAIN_OPT_FIRST */
enum {
    TG_TRAIN_OPT_FIRST = 0x7e00, TG_TOPT_TRAIN = TG_TRAIN_OPT_FIRST, TG_TOPT_OPTIMIZER, TG_TOPT_LR, TG_TOPT_STEPS,
    TG_TOPT_EPOCHS, TG_TOPT_MOMENTUM, TG_TOPT_DAMPENING, TG_TOPT_NESTEROV, TG_TOPT_BETAS, TG_TOPT_EPS,
    TG_TOPT_WEIGHT_DECAY, TG_TOPT_BATCH_SIZE, TG_TOPT_SHUFFLE, TG_TOPT_ACCUMULATE, TG_TOPT_LOG,
    TG_TOPT_LOG_GRAD_NORM, TG_TOPT_SAVE, TG_TOPT_RESUME, TG_TRAIN_OPT_LAST = TG_TOPT_RESUME
};
#define TG_TRAIN_LONGOPTS                                                                                          \
    {"train", required_argument, 0, TG_TOPT_TRAIN}, {"optimizer", required_argument, 0, TG_TOPT_OPTIMIZER},       \
        {"lr", required_argument, 0, TG_TOPT_LR}, {"steps", required_argument, 0, TG_TOPT_STEPS},                 \
        {"epochs", required_argument, 0, TG_TOPT_EPOCHS}, {"momentum", required_argument, 0, TG_TOPT_MOMENTUM},   \
        {"dampening", required_argument, 0, TG_TOPT_DAMPENING}, {"nesterov", no_argument, 0, TG_TOPT_NESTEROV},   \
        {"betas", required_argument, 0, TG_TOPT_BETAS}, {"eps", required_argument, 0, TG_TOPT_EPS},               \
        {"weight-decay", required_argument, 0, TG_TOPT_WEIGHT_DECAY},                                             \
        {"batch-size", required_argument, 0, TG_TOPT_BATCH_SIZE}, {"shuffle", no_argument, 0, TG_TOPT_SHUFFLE},   \
        {"accumulate-steps", required_argument, 0, TG_TOPT_ACCUMULATE},                                           \
        {"log", required_argument, 0, TG_TOPT_LOG}, {"log-grad-norm", no_argument, 0, TG_TOPT_LOG_GRAD_NORM},     \
        {"save", required_argument, 0, TG_TOPT_SAVE}, {"resume", required_argument, 0, TG_TOPT_RESUME}
#define TG_TRAIN_USAGE                                                                                             \
    "  --train NAMES       optimise these variables to minimise the scalar result (tgrad(1) TRAINING):\n"         \
    "                      [--optimizer sgd|adam|adamw] [--lr LR] --steps N | --epochs E [--momentum M]\n"        \
    "                      [--dampening D] [--nesterov] [--betas B1,B2] [--eps E] [--weight-decay W]\n"           \
    "                      [--batch-size B [--shuffle]] [--accumulate-steps K] [--log FILE\n"                    \
    "                      [--log-grad-norm]] [--save DIR] [--resume DIR]\n"

/* Starts o with nothing given (the optimizer's defaults come later). */
void tg_train_opts_init(tg_train_opts *o);
/* One training option (code from the enum, its argument or NULL) into o;
 * TG_EUSAGE for a bad value. */
tg_status tg_train_option(tg_train_opts *o, int code, const char *arg);
/* Whether any training option but --train was given (they need it). */
bool tg_train_options_given(const tg_train_opts *o);

/* Trains: binds the variables (--at arguments at[0..nat), --inputs file;
 * with o->resume the trained ones missing there come from its files),
 * optimises the trained ones and appends {"loss":L,"steps":N,
 * "params":{...}} and a newline to out. */
tg_status tg_run_train(tg_program *p, const char *const *at, int nat, const char *inputs,
                       const tg_train_opts *o, tg_buf *out);

/* ---- optim.c: torch.optim's single-tensor updates ---- */
typedef struct tg_optim tg_optim;
/* An optimizer for n parameters (borrowed, contiguous, float); NULL with
 * the error set. */
tg_optim *tg_optim_new(const tg_optim_opts *o, tg_tensor *const *params, int n);
void tg_optim_free(tg_optim *opt);
/* One step: grads[i] (contiguous, params[i]'s shape and dtype; NULL: that
 * parameter has no gradient and is left alone, as torch.optim does). */
tg_status tg_optim_step(tg_optim *opt, tg_tensor *const *grads);
/* The state: steps taken, and per parameter its buffers (NULL when not
 * made yet): SGD's momentum_buffer; Adam's exp_avg, exp_avg_sq. */
int64_t tg_optim_steps(const tg_optim *opt);
int tg_optim_nbuffers(const tg_optim *opt);
const char *tg_optim_buffer_name(const tg_optim *opt, int k);
tg_tensor *tg_optim_buffer(const tg_optim *opt, int param, int k); /* borrowed */
/* Restores the state: the steps and each buffer (consumed; shape and
 * dtype checked against the parameter's). */
tg_status tg_optim_restore(tg_optim *opt, int64_t steps, int param, int k, tg_tensor *buf);
const char *tg_optim_name(tg_optim_kind k);
const tg_optim_opts *tg_optim_options(const tg_optim *opt);

/* ---- train_state.c: checkpoints (--save, --resume) ---- */
/* The trained variables' values from DIR/NAME.npy into env (bound, or
 * replacing what --at gave). */
tg_status tg_train_resume_params(const char *dir, const char *names, tg_env *env, const tg_bind_opts *b);
/* The optimizer's state from DIR/optim.json and its buffers; *passes the
 * passes over batches done. */
tg_status tg_train_resume_state(const char *dir, tg_optim *opt, const char *const *names, int n, int64_t *passes);
/* DIR/NAME.npy for each parameter, the optimizer's buffers and
 * DIR/optim.json, written to temporaries in the set *set (made here;
 * committed by the caller); *files gets the JSON object of the
 * parameters' file names. */
tg_status tg_train_save(const char *dir, const char *const *names, tg_tensor *const *params, int n,
                        const tg_optim *opt, int64_t passes, tg_fileset **set, tg_buf *files);

/* ---- train_fused.c: the step of a full-batch elementwise loss ---- */
typedef struct tg_train_fused tg_train_fused;
/* The program's step evaluated in one pass over the data, when the loss
 * is elementwise ops summed over the variables' elements (every variable
 * of one value or of the data's size, on the CPU, contiguous) and
 * params[0..n) (borrowed, in env) are variables of env; NULL (no error)
 * otherwise: the eager path runs it. */
tg_train_fused *tg_train_fused_new(tg_program *p, const tg_env *env, tg_tensor *const *params, int n);
/* One forward and backward pass: the gradients into the parameters'
 * .grad (written when first, else added), *loss the loss. */
tg_status tg_train_fused_pass(tg_train_fused *f, bool first, double *loss, tg_dtype *dt);
void tg_train_fused_free(tg_train_fused *f);

#endif
