/* op_table.c -- the op table, generated from ops.def. */
#include "internal.h"

#define OP(id, name, arity, flags, saves, inf_, fwd_, bwd_, ...)     \
    tg_status op_##inf_(tg_tensor **, const tg_attrs *, tg_tensor *);    \
    tg_status op_##fwd_(int, tg_tensor **, const tg_attrs *, tg_tensor *); \
    tg_status op_##bwd_(tg_tensor *, tg_tensor *, tg_tensor **);
#include "ops.def"
#undef OP

const tg_opdef tg_ops[TG_NOPS] = {
#define OP(id, nm, ar, fl, sv, inf_, fwd_, bwd_, kind_, ...) \
    [TG_OP_##id] = {.name = nm, .arity = ar, .kind = TG_K_##kind_, .flags = fl, .saves = sv, \
                    .infer = op_##inf_, .forward = op_##fwd_, .backward = op_##bwd_},
#include "ops.def"
#undef OP
};

int tg_op_count(void) { return TG_NOPS; }
const char *tg_op_name(int op) { return op >= 0 && op < TG_NOPS ? tg_ops[op].name : "?"; }

const char *tg_node_op(const tg_tensor *t) { return t->op ? t->op->name : NULL; }
