/* expr.h -- the expression language's syntax tree (internal). */
#ifndef TG_EXPR_H
#define TG_EXPR_H
#include "internal.h"

typedef enum {
    N_NUM,       /* 2, 2., .5, 1e-3 */
    N_NAME,      /* x, pi */
    N_LIST,      /* [1, 2, 3]: a tensor literal (torch.tensor's dtype rules) */
    N_TUPLE,     /* (0, 1): dims */
    N_UNARY,     /* -x, +x */
    N_BINARY,    /* x + y, x @ y, x < y ... */
    N_CALL,      /* f(args) or obj.f(args) when obj is set */
    N_ATTR,      /* x.T */
    N_INDEX,     /* x[0, 1:3] */
    N_SLICE,     /* a:b:c inside an index */
    N_KWARG,     /* dim=0 inside a call */
    N_ASSIGN,    /* g = expr */
    N_AUGASSIGN, /* x += expr */
    N_STR,       /* 'sum': a keyword argument's value (name holds the text) */
} node_kind;

typedef struct node {
    node_kind kind;
    int pos;   /* byte offset in the source, for messages */
    int op;    /* operator token for unary, binary, augmented assignment */
    int depth; /* height of the tree below, bounded by TG_MAX_TREE_DEPTH */
    char *name;
    double num;
    bool is_int, is_bool;
    struct node *obj;  /* operand, receiver, indexed value, assigned value */
    struct node *rhs;
    struct node **args;
    int nargs;
    struct tg_tensor *value; /* set on statements and results by evaluation */
} node;

/* binary operator tokens (also used for augmented assignments) */
enum {
    OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_MATMUL,
    OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE,
};

#define TG_MAX_TREE_DEPTH 10000

struct tg_program {
    char *src;
    node **stmts;
    int nstmts;
    struct arena_block *arena;
    struct tg_fused_plan *plan; /* compiled evaluation's, for the next call (compile.c) */
};

void *prog_alloc(struct tg_program *p, size_t n);
/* items, an array of n in p's arena, with room for one more: the same or a
 * copy twice as large (*cap updated); NULL with the error set */
void *prog_grow(struct tg_program *p, void *items, int n, int *cap, size_t size);
#endif
