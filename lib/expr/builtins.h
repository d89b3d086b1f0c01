/* builtins.h -- the expression language's functions (internal). */
#ifndef TG_BUILTINS_H
#define TG_BUILTINS_H
#include "expr.h"

typedef struct builtin builtin;
const builtin *tg_builtin_find(const char *name);
/* every spec of the table fits the parameters a call holds (unit tests) */
bool tg_builtin_specs_fit(void);
/* Does the function act element by element (and keep its operands'
 * shapes)?  false for an unknown name. */
bool tg_builtin_elementwise(const char *name);
/* the op a function applies to its arguments as they are (h_unary and
 * h_binary's), or -1 */
int tg_builtin_op(const char *name);
/* Evaluates a call node; eval_arg(ctx, a) evaluates one argument node
 * (evalctx is eval.c's state, opaque here). */
typedef struct evalctx evalctx;
tg_tensor *tg_eval_call(tg_env *env, node *n, tg_tensor *(*eval_arg)(evalctx *, node *),
                        evalctx *ctx);
/* A call that may give PyTorch's (values, indices) pair (max/min along a
 * dim): returns the values and sets *second to the indices when it gives
 * one, else leaves it NULL.  tg_eval_call refuses a pair (it has no
 * tensor value: take .values, .indices, [0], [1] or unpack it). */
tg_tensor *tg_eval_call_pair(tg_env *env, node *n, tg_tensor *(*eval_arg)(evalctx *, node *),
                             evalctx *ctx, tg_tensor **second);
bool tg_builtin_gives_pair(const char *name);
tg_tensor *tg_binary_op(int op, tg_tensor *a, tg_tensor *b, int pos);
tg_tensor *tg_wrapped(double v, tg_dtype dt); /* a Python-number literal */
#endif
