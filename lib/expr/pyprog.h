/* pyprog.h -- the Python-subset program mode (tg-expr(5), PYTHON
 * PROGRAMS): a PyTorch program as a lesson writes it, parsed by
 * pyparse.c into the tree below and run by pyprog.c (internal). */
#ifndef TG_PYPROG_H
#define TG_PYPROG_H
#include "expr.h"

typedef enum {
    /* expressions */
    P_NUM,     /* 2, 2.5 (is_int, ival, num) */
    P_STR,     /* 'text' (str, slen) */
    P_FSTR,    /* f'...': v holds P_STR parts and P_FIELD fields */
    P_FIELD,   /* {a!r:spec} of an f-string: a the expression, str the spec */
    P_NAME,    /* x, None, True, False */
    P_LIST,    /* [a, b] */
    P_TUPLE,   /* (a, b) or a, b */
    P_UNARY,   /* -a, +a (op OP_SUB, OP_ADD) */
    P_NOT,     /* not a */
    P_BINARY,  /* a + b ... (op: expr.h's OP_*) */
    P_COMPARE, /* a < b < c: v the operands, ops the operators */
    P_AND,     /* a and b */
    P_OR,      /* a or b */
    P_IFEXP,   /* a if b else c: a, b (the condition), c */
    P_LAMBDA,  /* lambda params: a (params in v) */
    P_CALL,    /* a(v...) */
    P_ATTR,    /* a.name */
    P_INDEX,   /* a[v...] */
    P_SLICE,   /* a:b:c inside an index (a, b, c may be NULL) */
    P_KWARG,   /* name=a inside a call */
    /* statements */
    S_EXPR,      /* a */
    S_ASSIGN,    /* a = b (a: a name, an attribute or a tuple of names) */
    S_AUGASSIGN, /* name op= b */
    S_IMPORT,    /* import name [as alias] */
    S_FROM,      /* from name import v... (P_NAME each, alias in str) */
    S_DEF,       /* def name(v...): a (a block) */
    S_RETURN,    /* return a */
    S_IF,        /* if a: b else: c (c a block, an S_IF for elif, or NULL) */
    S_WITH,      /* with a: b */
    S_PASS,      /* pass */
    S_BLOCK,     /* statements v */
} pkind;

/* comparison operators beyond expr.h's OP_LT..OP_NE */
enum { OP_IS = 100, OP_ISNOT, OP_IN, OP_NOTIN };

typedef struct pnode {
    pkind kind;
    int pos; /* byte offset in the source */
    int op;
    const char *name; /* names, attributes, keywords, modules */
    char *str;        /* string literals (decoded), aliases, format specs */
    size_t slen;
    double num;
    int64_t ival;
    bool is_int;
    bool conv_repr; /* f-string field with !r */
    struct pnode *a, *b, *c;
    struct pnode **v;
    int *ops; /* P_COMPARE's operators */
    int nv;
} pnode;

/* Parses a Python-subset program: a block, nodes in arena's memory.  NULL
 * with the error (TG_EINPUT, at a position) set. */
pnode *tg_py_parse(tg_program *arena, const char *src);
#endif
