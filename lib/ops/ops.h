/* ops.h -- the op table and what the ops share (internal). */
#ifndef TG_OPS_OPS_H
#define TG_OPS_OPS_H
#include "core/core.h"

/* ---- the op table ----
 * Every op is one entry of ops.def (name, arity, flags, what the backward
 * reads, its kind, function and formula) and one family file holding its
 * shape rule, forward and backward side by side.  Nothing else switches on
 * ops. */
enum {
#define OP(id, ...) TG_OP_##id,
#include "ops/ops.def"
#undef OP
    TG_NOPS
};

/* flags */
#define TG_F_PROMOTE 1u  /* inputs cast to their common dtype first (PyTorch rules) */
#define TG_F_FLOAT 2u    /* integer/bool inputs computed in the default float */
#define TG_F_NODIFF 4u   /* output never requires grad (comparisons) */
#define TG_F_VIEW 8u     /* output aliases input 0's storage */
#define TG_F_COND 16u    /* input 0 is a bool condition, not promoted (where) */

/* saves: what the gradient of each input reads, packed by SV(for input 0,
 * for input 1, for input 2), each a mask of TG_S_IN0..2 and TG_S_OUT.  Only
 * what a needed gradient reads is checked by PyTorch's in-place rule (the
 * version counter), so `y = a*2; y *= 3` is fine and `y = x.exp(); y += 1`
 * before backward is caught. */
#define TG_S_IN0 1u
#define TG_S_IN1 2u
#define TG_S_IN2 4u
#define TG_S_OUT 8u
#define SV(a, b, c) ((a) | (b) << 4 | (c) << 8)
#define TG_SAVES_FOR(saves, i) (((saves) >> (4 * (i))) & 15u)

typedef tg_status (*tg_infer_fn)(tg_tensor **in, const tg_attrs *a, tg_tensor *out);
typedef tg_status (*tg_forward_fn)(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out);
/* gin[i]: new reference to the gradient for input i, or NULL for none.
 * g is borrowed; self->in[] are the inputs, self the output. */
typedef tg_status (*tg_backward_fn)(tg_tensor *self, tg_tensor *g, tg_tensor **gin);

/* how an op maps elements (ops.def's kind column) */
enum { TG_K_UNARY, TG_K_BINARY, TG_K_COMPARE, TG_K_SELECT, TG_K_CAST, TG_K_OTHER };

typedef struct tg_opdef {
    const char *name;
    int arity;
    int kind; /* TG_K_* */
    unsigned flags;
    unsigned saves;
    tg_infer_fn infer;
    tg_forward_fn forward;
    tg_backward_fn backward;
} tg_opdef;

extern const tg_opdef tg_ops[TG_NOPS];

/* shape rules and dims shared by the ops */
tg_status tg_infer_broadcast(tg_tensor **in, int n, tg_tensor *out);
int64_t tg_norm_dim(int64_t d, int ndim, const char *op, tg_status *st);
/* argmax/argmin (is_max false): the int64 index of the first extremal
 * element along *dim, or of the flattened x when dim is NULL (argext.c) */
tg_tensor *tg_arg_extremum(const tg_tensor *x, const int64_t *dim, bool keepdim, bool is_max);

/* the forward of every elementwise op (ops_unary.c) */
tg_status op_fwd_map(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out);

/* fused backward formulas (ops_backward.c); they consume g and y/x */
tg_tensor *tg_tanh_backward(tg_tensor *g, tg_tensor *y);
tg_tensor *tg_sigmoid_backward(tg_tensor *g, tg_tensor *y);
tg_tensor *tg_pow_backward(tg_tensor *g, tg_tensor *x, double exponent);

/* Names the grad_fn of t, a node that requires grad, as PyTorch would
 * (name: a static string, "MeanBackward0"), where its op alone does not
 * tell it: a composite's last node (mean is a div), or a call form of an
 * op (x.transpose() is a permute).  Nothing for a leaf or a tensor that
 * does not require grad.  Returns t.  io/torch_repr.c maps the rest
 * (tg_grad_fn_name). */
tg_tensor *tg_name_grad_fn(tg_tensor *t, const char *name);

/* one more reference to in[i] of a node (borrowed) */
#define IN(self, i) tg_ref((self)->in[i])
/* ---- the sum of all of a contiguous float tensor, fed in pieces
 * (ops_reduce.c; the training loop's fused step): the same order, so the
 * same value, as sum() of the whole.  Each piece but the last is a
 * multiple of TG_SUM_PIECE elements and no piece crosses a multiple of
 * TG_SUM_BLOCK. ---- */
#define TG_SUM_PIECE 64
/* The whole-tensor sum adds float32 in TG_SUM_PIECE running double sums
 * (lane j takes elements j, j + TG_SUM_PIECE, ...), float64 in 8; the
 * lanes' total in its fixed tree (a fused sum adds as it does) */
#define TG_SUM_LANES_OF(dt) ((dt) == TG_FLOAT32 ? TG_SUM_PIECE : 8)
double tg_sum_lanes_total(const double *lanes, tg_dtype dt);
#define TG_SUM_BLOCK 16384
typedef struct {
    tg_dtype dt;
    bool lanes;      /* by lanes over blocks, or one running sum */
    int64_t pos;     /* elements added */
    double acc[TG_SUM_PIECE], total;
} tg_sum_stream;
/* a sum of n elements of float dtype dt */
void tg_sum_stream_init(tg_sum_stream *s, tg_dtype dt, int64_t n);
void tg_sum_stream_add(tg_sum_stream *s, const void *x, int64_t len);
/* the sum, in double (the tensor's dtype rounds it) */
double tg_sum_stream_end(tg_sum_stream *s);

#endif
