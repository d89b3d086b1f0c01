/* pyprog.h -- the Python-subset program mode (tg-expr(5), PYTHON
 * PROGRAMS): a PyTorch program as a lesson writes it, parsed by
 * pyparse.c into the tree below and run by pyprog.c and py_*.c (internal). */
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

/* ---- running a program (py_*.c, pyprog.c) ---- */
typedef enum {
    V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TENSOR, V_DTYPE, V_DEVICE, V_SIZE, V_LIST, V_TUPLE,
    V_FUNC,      /* def or lambda: fn */
    V_TRANSFORM, /* grad(f), vmap(f), ...: name, inner */
    V_MODULE,    /* name: "torch", "torch.nn.functional", "numpy", ... */
    V_BUILTIN,   /* a function of a module (mod) or of Python (mod NULL): name */
    V_GRADFN,    /* a tensor's grad_fn: name */
    V_GRADMODE,  /* torch.no_grad() / torch.enable_grad(): i */
} vkind;

typedef struct pv {
    int refs;
    vkind kind;
    int64_t i; /* bool, int, grad mode */
    double f;
    char *s; /* str (owned, slen bytes), device name (owned) */
    size_t slen;
    const char *name, *mod; /* static or the program's */
    tg_tensor *t;
    bool numpy; /* a tensor standing for a NumPy array (np.load, .numpy()) */
    tg_dtype dt;
    struct pv **items; /* list, tuple, torch.Size */
    int n;
    const pnode *fn;
    struct pv *inner;
} pv;

typedef struct {
    const char *name; /* the program's or static */
    pv *v;
} binding;

typedef struct scope {
    struct scope *globals; /* NULL for the globals themselves */
    binding *b;
    int n, cap;
} scope;

typedef struct {
    tg_program *arena; /* the tree, and the call nodes made for eval.c */
    tg_buf *out;       /* what print() wrote */
    bool printed;
    scope globals;
    pv *last; /* the last expression statement's value */
    int calls;
} interp;

/* a call's arguments, evaluated */
typedef struct {
    pv **v;
    const char **kw; /* NULL for positional */
    const pnode **node;
    int n;
} args;


/* values (py_value.c): each constructor gives a new reference or NULL */
pv *pv_new(vkind k);
pv *pv_int(int64_t i);
pv *pv_bool(bool b);
pv *pv_float(double f);
pv *pv_dtype(tg_dtype dt);
pv *pv_named(vkind k, const char *mod, const char *name);
pv *pv_str(const char *s, size_t n);
pv *pv_device(const char *name);
pv *pv_tensor(tg_tensor *t); /* consumes t */
pv *pv_seq(vkind k, int n);
pv *pv_size(const tg_tensor *t);
pv *pv_ref(pv *v);
void pv_unref(pv *v);
const char *py_type_name(const pv *v);
static inline bool pv_is_number(const pv *v) { return v->kind == V_BOOL || v->kind == V_INT || v->kind == V_FLOAT; }
static inline double pv_num(const pv *v) { return v->kind == V_FLOAT ? v->f : (double)v->i; }
bool py_truth(const pv *v, int pos, bool *out);
void py_error_at(int pos);

/* scopes (py_value.c) */
pv **py_scope_slot(scope *S, const char *name);
pv *py_scope_get(scope *S, const char *name);
tg_status py_scope_set(scope *S, const char *name, pv *v);
void py_scope_free(scope *S);
tg_status py_scope_rebind(scope *S, const tg_tensor *old, tg_tensor *now);

/* text (py_text.c) */
tg_status py_put_value(tg_buf *b, const pv *v, bool repr);
pv *py_eval_fstring(interp *I, scope *S, const pnode *n);

/* tensors, devices and eval.c's nodes (py_bridge.c) */
tg_tensor *py_tensor_of(const pv *v, int dt);
tg_tensor *py_to_tensor(const pv *v, int pos);
node *py_synth(interp *I, node_kind k, int pos, const char *name);
node *py_operand(interp *I, tg_env *env, const pv *v, int pos);
tg_device py_follow_device(tg_tensor *const *t, int n);
pv *py_run_node(node *n, tg_env *env);
pv *py_builtin_call(interp *I, const char *name, const pv *self, const args *A, int pos);
bool py_cuda_available(void);
tg_status py_parse_device(const pv *v, tg_device *dev, int pos);
tg_tensor *py_to_device(tg_tensor *t, tg_device dev);

/* Python's operators (py_ops.c) */
pv *py_int_result(__int128 r, int pos);
pv *py_binary_op(int op, const pv *a, const pv *b, int pos);
pv *py_compare(interp *I, scope *S, const pnode *n);

/* arguments (py_args.c) */
/* what a function or method takes: at most `most` arguments, each by
 * position or by its keyword in params, the first `least` of them
 * required.  A signature that is all zeros but for the name takes no
 * arguments; most PY_ANY: the function checks its own. */
enum { PY_ANY = -1, PY_MAX_PARAMS = 3 };
typedef struct {
    const char *name;
    int least, most;
    const char *params[PY_MAX_PARAMS];
    const char *usage; /* the message when the arguments do not fit; NULL: Python's words */
} py_sig;
tg_status py_check_args(const args *A, const py_sig *s, int pos);
tg_status py_args_eval(interp *I, scope *S, const pnode *call, args *A);
void py_args_free(args *A);
pv *py_take_kw(args *A, const char *name);
pv *py_arg(const args *A, int k, const char *name);

/* functions (py_torch.c: torch's and NumPy's; py_call.c: the rest) */
pv *py_module_call(interp *I, const char *mod, const char *name, args *A, int pos);
pv *py_call_value(interp *I, pv *fn, args *A, int pos);
/* name's static copy when it is one of Python's functions, else NULL */
const char *py_python_function(const char *name);

/* tensors' methods and attributes (py_tensor.c) */
pv *py_tensor_method(interp *I, scope *S, pv *x, const char *name, args *A, int pos);
pv *py_tensor_attr(interp *I, const pv *x, const char *name, int pos);
pv *py_zero_grad(interp *I, scope *S, const pnode *owner);
pv *py_update(interp *I, scope *S, pv *x, int op, const pv *y, int pos);
pv *py_set_requires_grad(pv *x, const pv *flag, int pos);

/* the interpreter (pyprog.c) */
pv *py_eval(interp *I, scope *S, const pnode *n);
tg_status py_exec_block(interp *I, scope *S, const pnode *b, pv **ret);
#endif

