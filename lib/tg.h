/*
 * tg.h -- tensors and reverse-mode automatic differentiation in C.
 *
 * This header is the library's documentation.  The library holds what the
 * command-line tools (tgrad, tmatmul, tbroadcast, tdevice) do; the tools only
 * parse options and print.
 *
 * A worked example: f(x) = x**3 + 2*x**2 - 5*x + 3 and its gradient at 2.
 *
 *     tg_tensor *x = tg_scalar(2.0, TG_FLOAT32);
 *     tg_set_requires_grad(x, true);
 *     tg_tensor *f = tg_add(tg_sub(tg_add(tg_pow(tg_ref(x), tg_scalar(3, TG_FLOAT32)),
 *                                         tg_mul(tg_scalar(2, TG_FLOAT32),
 *                                                tg_pow(tg_ref(x), tg_scalar(2, TG_FLOAT32)))),
 *                                  tg_mul(tg_scalar(5, TG_FLOAT32), tg_ref(x))),
 *                           tg_scalar(3, TG_FLOAT32));
 *     if (!f || tg_backward(f, NULL, false, false) != TG_OK)
 *         fprintf(stderr, "error: %s\n", tg_errmsg());
 *     // tg_item(f) == 9, tg_item(x->grad) == 15
 *     tg_release(f); tg_release(x);
 *
 * Or, with the expression language:  tg_program_eval() on "x**3+2*x**2-5*x+3".
 *
 * OWNERSHIP (the one rule, as in jq's jv.h): every function that takes a
 * tg_tensor* argument CONSUMES one reference to it, and every function that
 * returns a tg_tensor* returns a NEW reference.  Use tg_ref(t) to keep your
 * own reference when passing t on.  Exceptions are marked "borrows".
 * Functions that return a tensor return NULL on failure, with the error set
 * (tg_errcode(), tg_errmsg()); every op accepts NULL inputs and then simply
 * releases the others and returns NULL, so calls can be nested and the first
 * error is the one reported.
 *
 * ERRORS: the library never exits or aborts on input it is given.  A failure
 * sets a status whose values are the toolkit's exit statuses (tg-formats(5),
 * EXIT STATUS) and a one-line message; only the tools print it.
 */
#ifndef TG_H
#define TG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TG_VERSION "0.1.0"

/* ---- Limits (documented in tg-formats(5), LIMITS; each is enforced with a
 * status-3 error naming the limit) ---- */
#define TG_MAX_DIMS 16               /* rank */
#define TG_MAX_ELEMS (INT64_C(1) << 40) /* elements in one tensor */
#define TG_MAX_JSON_DEPTH 64         /* nesting of JSON arrays/objects */
#define TG_MAX_EXPR_DEPTH 200        /* nesting of an expression */
#define TG_MAX_INPUT_BYTES (INT64_C(1) << 34) /* 16 GiB: one input file */
#define TG_MAX_DERIVATIVE_NODES 200000  /* graph of an n-th derivative */
/* Elements one op may read or write: an expand()ed tensor can be far larger
 * than memory (x.expand(2, 10**10).sum() reads 2*10**10 elements, minutes of
 * work), so an op beyond it fails with TG_EINPUT (a limit, status 3) before
 * it starts.
 * tg_set_max_work changes the limit for the process and returns the old. */
#define TG_MAX_WORK (INT64_C(1) << 32)
int64_t tg_set_max_work(int64_t elements);
int64_t tg_get_max_work(void);

/* ---- Errors ---- */
typedef enum {
    TG_OK = 0,        /* success */
    TG_NO = 1,        /* the answer is "no" (a failed --check) */
    TG_EUSAGE = 2,    /* usage: unknown option, missing argument */
    TG_EINPUT = 3,    /* bad input: syntax, shapes, dtypes, limits */
    TG_ERESOURCE = 4, /* files, memory, devices */
} tg_status;

/* Sets the error (status and printf-style message) and returns the status.
 * The first error set since tg_error_clear() wins; later ones are ignored so
 * that the root cause is what the user sees. */
tg_status tg_error(tg_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same, for an error at a byte position of the expression being
 * parsed or evaluated; tg_errpos() gives it back (-1 when none). */
tg_status tg_error_at(int pos, tg_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tg_errpos(void);
tg_status tg_errcode(void);    /* TG_OK when no error is set */
const char *tg_errmsg(void);   /* "" when no error is set */
void tg_error_clear(void);
/* Warnings: the library went on, but the user should know (a compile
 * cache folder refused, compiled code that cannot be loaded).  The library
 * never writes to stderr itself: each warning goes to the handler the
 * program set (the tools print "TOOL: warning: ..."), or nowhere. */
typedef void (*tg_warning_fn)(const char *message, void *data);
void tg_set_warning_handler(tg_warning_fn fn, void *data);

/* ---- Allocation: every byte of tensor data and metadata goes through here.
 * tg_malloc returns NULL and sets TG_ERESOURCE on failure.  Sizes are
 * checked against the machine's physical memory first, since Linux lets an
 * oversized malloc succeed and kills the process later.  Blocks of 1 MiB
 * and more are kept for reuse when freed (given back when a large one fails);
 * fresh blocks of 4 MiB and more are advised MADV_HUGEPAGE, as NumPy's
 * arrays are, where the kernel's transparent huge pages allow it. ---- */
void *tg_malloc(size_t n);
void *tg_calloc(size_t count, size_t size);
void *tg_realloc(void *p, size_t n);
void tg_free(void *p);
/* Test hook: make the n-th allocation from now fail (0 turns it off).  The
 * environment variable TG_FAIL_ALLOC=n does the same at start-up. */
void tg_alloc_fail_after(long n);
/* a*b with overflow check: false on overflow. */
bool tg_mul_overflows(int64_t a, int64_t b, int64_t *out);

/* ---- dtypes ---- */
typedef enum { TG_FLOAT32, TG_FLOAT64, TG_INT64, TG_BOOL, TG_NDTYPES } tg_dtype;
const char *tg_dtype_name(tg_dtype dt);           /* "float32", ... */
tg_status tg_dtype_parse(const char *s, tg_dtype *out); /* also f4 f8 i8 b1 */
size_t tg_dtype_size(tg_dtype dt);
bool tg_dtype_is_float(tg_dtype dt);
/* PyTorch's promotion of two dtypes of the same kind of operand. */
tg_dtype tg_dtype_promote(tg_dtype a, tg_dtype b);
extern tg_dtype tg_default_float; /* float32 unless --dtype says otherwise */

/* ---- Devices ---- */
typedef enum { TG_DEV_CPU = 0, TG_DEV_CUDA = 1 } tg_device;
const char *tg_device_name(tg_device d);
/* Parses "cpu", "cuda", "cuda:0" or "auto" (cuda when usable, else cpu).
 * Asking for cuda where it cannot run is TG_ERESOURCE with the reason. */
tg_status tg_device_parse(const char *s, tg_device *out);
/* The device new tensors are made on (default cpu).  On cuda they live in
 * CUDA managed memory: elementwise ops and reductions run as CUDA kernels,
 * products through cuBLAS, the rest on the host over the same memory. */
void tg_set_device(tg_device d);
/* Parses a --device argument and makes it the current device. */
tg_status tg_device_select(const char *s);
/* The default from the environment variable TG_DEVICE (cpu, cuda, auto). */
tg_status tg_device_from_env(void);
tg_device tg_get_device(void);
/* Why CUDA cannot be used here, or NULL when it can (cuda.c). */
const char *tg_cuda_unavailable_reason(void);
int tg_cuda_device_count(void);
typedef struct tg_cuda_info {
    char name[256];
    int major, minor, runtime_version;
    size_t total_bytes, free_bytes;
} tg_cuda_info;
tg_status tg_cuda_device_info(int dev, tg_cuda_info *info);
/* host<->device and device copy GB/s, float32 GEMM TFLOP/s (n = 4096) */
tg_status tg_cuda_bench(double *h2d, double *d2h, double *d2d, double *tflops);
/* out = a @ b through cuBLAS for contiguous float operands shaped as the
 * matmul op shapes them; TG_NO when the layout needs the CPU path. */
struct tg_tensor;
tg_status tg_cuda_matmul(struct tg_tensor *a, struct tg_tensor *b, struct tg_tensor *out);
/* Moves a cuda tensor's memory onto the device now: after the host wrote it
 * (a file read into it) the next kernel would otherwise migrate its pages
 * one fault at a time.  Nothing for a CPU tensor (tmatmul --time times the
 * product alone). */
tg_status tg_prefetch(struct tg_tensor *t);

/* ---- Tensors ---- */
typedef struct tg_storage {
    void *data;
    size_t nbytes;
    int refcount;
    tg_device device;
    uint64_t version; /* bumped by every in-place write (PyTorch's _version) */
    int grad_views;   /* live views of it that are in a graph */
} tg_storage;

/* An op's non-tensor arguments (dims, shapes, bounds). */
typedef struct tg_attrs {
    struct { int64_t dims[TG_MAX_DIMS]; int ndims; bool keepdim; bool all; } reduce;
    struct { int64_t shape[TG_MAX_DIMS]; int ndim; } shape;  /* reshape, expand */
    struct { int perm[TG_MAX_DIMS]; int ndim; } perm;         /* permute */
    struct { int dim; int64_t start, stop, step; } slice;     /* slice */
    struct { double lo, hi; bool has_lo, has_hi; } clamp;
    struct { tg_dtype dtype; } cast;
    struct { double exponent; } pow;                          /* pow_backward */
} tg_attrs;

struct tg_opdef;

typedef struct tg_tensor {
    int refcount;
    tg_dtype dtype;
    int ndim;
    int nin;                     /* autograd: how many of in[] the node holds */
    int64_t shape[TG_MAX_DIMS];
    int64_t stride[TG_MAX_DIMS]; /* in elements */
    int64_t offset;              /* in elements, into storage */
    int64_t numel;
    tg_storage *storage;

    /* autograd: a tensor made by an op while grad mode is on records the op,
     * its inputs (one reference each) and attributes: that is its grad_fn.
     * The op table says which of those the backward needs (saved). */
    const struct tg_opdef *op;       /* NULL for a leaf */
    const char *grad_fn_name;        /* PyTorch's grad_fn class where op alone does not
                                        tell it (a composite), static; see tg_name_grad_fn */
    struct tg_tensor *in[3];
    /* the op's attributes: tg_no_attrs (all zero) unless the node was
     * recorded with some, then its own copy (a node is kept small: most
     * ops have none); NULL only in a struct not made by the library */
    const tg_attrs *attrs;
    struct tg_tensor *grad;          /* leaves: accumulated gradient */
    /* the tape's own bookkeeping: the library's, never read or written
     * by users (it may change between versions) */
    struct {
        uint32_t saved_version[4];   /* versions of in[0..2] and of itself (the low
                                        32 bits: tg_version_changed) */
        struct tg_tensor *grad_acc;  /* scratch during one backward pass */
        int pending;                 /* scratch during one backward pass */
        int graph_refs;              /* how many recorded nodes hold it as an input */
        int data_needed;             /* how many of those (or its own node) read its values */
        bool graph_freed;            /* backward ran without retain_graph */
        bool grad_view;              /* a view recorded in a graph (counted in storage) */
    } tape;

    /* for messages, graphs and explanations */
    char *name;  /* variable or intermediate name, or NULL */
    int pos;     /* position in the expression, -1 when none */
    int id;      /* creation order */
    bool wrapped_number; /* a Python-style literal: weakest in promotion */
    bool batched;        /* vmap: dim 0 indexes independent points (tgrad --batch) */
    bool requires_grad;
} tg_tensor;

/* the attributes of a node recorded without any (all zero) */
extern const tg_attrs tg_no_attrs;

tg_tensor *tg_ref(tg_tensor *t);   /* borrows; returns t with one more reference */
void tg_release(tg_tensor *t);     /* NULL is fine */

/* Creation.  shape may be NULL when ndim is 0. */
tg_tensor *tg_empty(tg_dtype dt, int ndim, const int64_t *shape);
tg_tensor *tg_zeros(tg_dtype dt, int ndim, const int64_t *shape);
tg_tensor *tg_full(tg_dtype dt, int ndim, const int64_t *shape, double value);
tg_tensor *tg_scalar(double value, tg_dtype dt);          /* 0-D */
tg_tensor *tg_scalar_i64(int64_t value);                  /* 0-D int64 */
tg_tensor *tg_from_data(tg_dtype dt, int ndim, const int64_t *shape, const void *data);
tg_tensor *tg_arange(double start, double stop, double step, tg_dtype dt);
tg_tensor *tg_eye(int64_t n, int64_t m, tg_dtype dt);
/* Seeded generator: the same numbers on every machine for the same seed
 * (xoshiro256** with splitmix64 seeding, Box-Muller for normals). */
void tg_seed(uint64_t seed);
tg_tensor *tg_rand(tg_dtype dt, int ndim, const int64_t *shape);   /* U[0,1) */
tg_tensor *tg_randn(tg_dtype dt, int ndim, const int64_t *shape);  /* N(0,1) */

/* Checks a shape: rank, non-negative sizes, element count within limits.
 * Writes the element count to *numel. */
tg_status tg_shape_check(int ndim, const int64_t *shape, int64_t *numel);
bool tg_is_contiguous(const tg_tensor *t);                 /* borrows */
/* Pointer to element 0 of the view (borrows). */
void *tg_data(const tg_tensor *t);
/* Value of element i (row-major index over the view) as double (borrows). */
double tg_get(const tg_tensor *t, int64_t i);
double tg_item(const tg_tensor *t); /* borrows; first element */
/* element i as an integer, exactly for int64 (a double holds only 53 bits);
 * floats truncate toward zero, and NaN or out of range give INT64_MIN, as
 * PyTorch's conversion does on x86-64 */
int64_t tg_get_i64(const tg_tensor *t, int64_t i);
int64_t tg_f64_to_i64(double x);
/* "[2,3]" into buf (borrows). */
const char *tg_shape_str(const tg_tensor *t, char *buf, size_t n);
const char *tg_shape_str_raw(int ndim, const int64_t *shape, char *buf, size_t n);

/* Broadcast two shapes (NumPy's rule).  On a clash: TG_EINPUT naming both
 * shapes and the clashing dimension (counted from the right, as NumPy's
 * message does, and from the left of the result). */
tg_status tg_broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b,
                              int *nout, int64_t *out);

/* ---- vmap: while on, ops treat dim 0 of tensors marked batched as the
 * index of independent points (broadcasting aligns a point's dims, and the
 * expression language's reductions and matmul follow torch.vmap).  Off
 * during backward.  Returns the previous setting. ---- */
bool tg_set_vmap(bool on);

/* ---- Grad mode (torch.no_grad) ---- */
bool tg_grad_enabled(void);
bool tg_set_grad_enabled(bool on); /* returns the previous mode */
void tg_set_requires_grad(tg_tensor *t, bool on); /* borrows */

/* ---- Ops.  All consume their tensor arguments (see OWNERSHIP). ---- */
/* elementwise, with broadcasting and PyTorch's type promotion */
tg_tensor *tg_add(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_sub(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_mul(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_div(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_pow(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_maximum(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_minimum(tg_tensor *a, tg_tensor *b);
tg_tensor *tg_where(tg_tensor *cond, tg_tensor *a, tg_tensor *b);
tg_tensor *tg_neg(tg_tensor *a);
/* Applies the op named in the op table (tg_op_find) to n inputs. */
tg_tensor *tg_apply(int op, int n, tg_tensor **in, const tg_attrs *attrs);
int tg_op_find(const char *name); /* -1 when unknown */
const char *tg_op_name(int op);
int tg_op_count(void);
const char *tg_node_op(const tg_tensor *t); /* the op that made t, or NULL for a leaf */

/* reductions: dims==NULL/ndims==0 reduces everything */
tg_tensor *tg_sum(tg_tensor *a, const int64_t *dims, int ndims, bool keepdim);
tg_tensor *tg_mean(tg_tensor *a, const int64_t *dims, int ndims, bool keepdim);
/* max/min over everything (ties share the gradient evenly, as PyTorch's
 * max() does) or along one dim (the gradient goes to the first maximal
 * element, as the index returned by torch.max(dim=) does). */
tg_tensor *tg_max(tg_tensor *a, const int64_t *dim, bool keepdim);
tg_tensor *tg_min(tg_tensor *a, const int64_t *dim, bool keepdim);
tg_tensor *tg_amax(tg_tensor *a, const int64_t *dims, int ndims, bool keepdim);
tg_tensor *tg_amin(tg_tensor *a, const int64_t *dims, int ndims, bool keepdim);

/* shapes and views */
tg_tensor *tg_reshape(tg_tensor *a, int ndim, const int64_t *shape); /* -1 allowed once */
tg_tensor *tg_expand(tg_tensor *a, int ndim, const int64_t *shape);
tg_tensor *tg_permute(tg_tensor *a, const int *perm);
tg_tensor *tg_transpose(tg_tensor *a, int64_t d0, int64_t d1);
tg_tensor *tg_t(tg_tensor *a); /* x.T: reverses all dims */
tg_tensor *tg_unsqueeze(tg_tensor *a, int64_t dim);
tg_tensor *tg_squeeze(tg_tensor *a, const int64_t *dim); /* NULL: all size-1 dims */
tg_tensor *tg_slice(tg_tensor *a, int64_t dim, int64_t start, int64_t stop, int64_t step);
tg_tensor *tg_select(tg_tensor *a, int64_t dim, int64_t index);
tg_tensor *tg_contiguous(tg_tensor *a);
tg_tensor *tg_cast(tg_tensor *a, tg_dtype dt);
tg_tensor *tg_detach(tg_tensor *a);
/* Sums a gradient back to a shape it was broadcast from. */
tg_tensor *tg_sum_to(tg_tensor *g, int ndim, const int64_t *shape);

/* torch.matmul: 1-D dot, 2-D product, 1-D promotion, batched broadcast. */
tg_tensor *tg_matmul(tg_tensor *a, tg_tensor *b);

/* composites built from the ops above (so their gradients come for free) */
tg_tensor *tg_softmax(tg_tensor *a, int64_t dim);
tg_tensor *tg_log_softmax(tg_tensor *a, int64_t dim);
tg_tensor *tg_logsumexp(tg_tensor *a, const int64_t *dims, int ndims, bool keepdim);

/* ---- Autograd ---- */
/* Backward from root (borrows root; consumes grad_output, which may be NULL
 * for a scalar root).  Leaf gradients ADD into leaf->grad (zero them with
 * tg_zero_grad).  retain_graph keeps the graph for another pass;
 * create_graph records the backward itself so it can be differentiated. */
tg_status tg_backward(tg_tensor *root, tg_tensor *grad_output, bool retain_graph,
                      bool create_graph);
void tg_zero_grad(tg_tensor *leaf); /* borrows */
/* Called for each node as backward passes it (gradient in, gradients out),
 * for explanations and anomaly checks.  All borrowed.  A status other than
 * TG_OK stops the pass. */
typedef tg_status (*tg_backward_hook_fn)(tg_tensor *node, tg_tensor *g, tg_tensor **gin, void *data);
extern tg_backward_hook_fn tg_backward_hook;
extern void *tg_backward_hook_data;

/* In-place update (x += y): result, computed out of place from target,
 * is written into target's storage, whose version goes up, and comes back
 * as a tensor sharing that storage with result's graph (PyTorch's
 * rebase_history).  Refused on a leaf that requires grad while grad mode is
 * on, and when the result's shape or dtype cannot be written into target.
 * Consumes both; returns the updated tensor. */
tg_tensor *tg_inplace(tg_tensor *target, tg_tensor *result);
/* The same where target is a view of an intermediate (x[0] += y after
 * x = a * b; PyTorch's CopySlices): returns the updated view; *base_out is
 * the old base (borrowed, valid while the caller holds its references) and
 * *new_base the updated base (a new reference), to rebind names to. */
tg_tensor *tg_inplace_view(tg_tensor *view, tg_tensor *result, tg_tensor **base_out, tg_tensor **new_base);

/* ---- The expression language (tg-expr(5)) ---- */
typedef struct tg_program tg_program;
/* Parses a program: statements separated by ';' or new lines.  On a syntax
 * error: NULL, TG_EINPUT and tg_errpos() the byte offset. */
tg_program *tg_program_parse(const char *src);
void tg_program_free(tg_program *p);
const char *tg_program_source(const tg_program *p);

/* Named tensors: the variables a program reads and the intermediates it
 * names.  The environment owns one reference to each value. */
typedef struct tg_env {
    int n, cap;
    char **names;
    tg_tensor **values;
    /* env.c's private index of names and values: constant-time lookups */
    struct tg_env_index *index;
} tg_env;
tg_status tg_env_set(tg_env *e, const char *name, tg_tensor *t); /* consumes t */
tg_tensor *tg_env_get(const tg_env *e, const char *name);        /* borrowed */
/* Every name bound to old is bound to now instead (x += 1 on a tensor that
 * other names share).  Names are bound through tg_env_set only. */
tg_status tg_env_rebind(tg_env *e, const tg_tensor *old, tg_tensor *now);
void tg_env_free(tg_env *e);

/* Names the program reads before assigning them that are neither constants
 * nor functions: its free variables, in order of first use.  Up to max are
 * written to names (borrowed from p); the count written is returned, -1
 * when out of memory (the error set). */
int tg_program_free_names(const tg_program *p, const char **names, int max);
/* All of them, however many: *names gets an array (free it with tg_free;
 * the strings are borrowed from p) and the count is returned, -1 when out
 * of memory (the error set, *names NULL). */
int tg_program_free_names_all(const tg_program *p, const char ***names);
/* Runs the program: variables come from env, assignments are bound into
 * env.  Returns the last statement's value (a new reference). */
tg_tensor *tg_program_eval(tg_program *p, tg_env *env);
/* Names of the built-in functions, NULL-terminated (for docs and tests). */
const char *const *tg_builtin_names(void);
/* The nearest of candidates to name by edit distance, or NULL. */
const char *tg_nearest_name(const char *name, const char *const *candidates, int n);

/* Evaluate and differentiate: runs p over env, whose first nvars entries
 * are the inputs (leaves; those with requires_grad are differentiated), then
 * backward from the result (with grad_output, consumed, as the upstream
 * gradient when given).  grads[i] gets input i's gradient, zeros when the
 * result does not depend on it, NULL when it is not differentiated.
 * Returns the result's value. */
typedef struct tg_grad_opts {
    bool no_grad;           /* evaluate only, build no graph */
    bool retain_graph;
    bool create_graph;      /* differentiable gradients (higher orders) */
    tg_tensor *grad_output; /* the upstream gradient, or NULL */
    bool sum_output;        /* no upstream gradient: differentiate sum(result) */
    bool accumulate;        /* add into the inputs' .grad (no zero_grad first);
                               grads[i] then gets the running total */
} tg_grad_opts;
tg_tensor *tg_grad_eval(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor **grads);
/* Compiled (fused) evaluation of the same: elementwise programs over
 * equally shaped variables, ending in sum() or not, run block by block in
 * cache and in parallel, through one generated C loop compiled once by the
 * system's compiler and cached on disk (TG_CC, TG_CACHE_DIR; TG_JIT=0 or
 * no compiler: through the kernels, with the same values).  The plan is
 * kept on p for the next call with variables of the same names, dtypes and
 * shapes.  TG_NO (no error set) when the program is not of that form: run
 * tg_grad_eval instead.  Consumes o->grad_output in every case. */
tg_status tg_compiled_eval(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor **value,
                           tg_tensor **grads);
/* Does the program call a function whose name starts with prefix? */
bool tg_program_calls(const tg_program *p, const char *prefix);
/* Is the program elementwise: numbers, names, operators other than @,
 * elementwise functions (exp, where, clamp, casts, ...) and sum() of
 * everything -- nothing that reads or changes shapes (.shape, .T,
 * indexing, dims, tensor literals) or updates in place? */
bool tg_program_elementwise(const tg_program *p);
/* {"value":...,"grad":{name:...}} as one line (or indented); names[i]
 * with a NULL grads[i] are skipped; names NULL leaves the grad key out.
 * tg_result_grad_write's object, written as it is produced (not flushed). */
tg_status tg_write_result(FILE *f, const tg_tensor *value, const char *const *names,
                          tg_tensor *const *grads, int n, bool pretty);

/* ---- Transforms (torch.autograd.grad, torch.func) ---- */
/* Gradients of y (borrowed) with respect to inputs (borrowed), with upstream
 * gradient g (consumed; NULL for a single-element y): out[i] are new
 * references, zeros where y does not depend on inputs[i].  The inputs'
 * accumulated .grad are left as they were; the graph is kept.
 * create_graph makes the gradients differentiable. */
tg_status tg_grad(tg_tensor *y, tg_tensor *g, tg_tensor **inputs, int n, bool create_graph,
                  tg_tensor **out);
/* The Jacobians, the Hessian and the gradient check size their whole
 * result before any work: larger than the memory the process may use (the
 * machine's, or RLIMIT_AS when lower) is TG_ERESOURCE, naming the size; a
 * backward pass per row (per input element for the check, two runs of
 * the program) beyond tg_get_max_work() elements in all is TG_EINPUT.
 * Any number of inputs: nothing is held in a fixed-size array. */
/* jac[i]: dy/dinputs[i], shaped y.shape + inputs[i].shape (reverse mode). */
tg_status tg_jacobian(tg_tensor *y, tg_tensor **inputs, int n, tg_tensor **jac);
/* Forward mode (torch.func.jvp): *out = J v for tangents v (borrowed, one
 * per input, each of its input's shape), y's shape; exact. */
tg_status tg_jvp(tg_tensor *y, tg_tensor **inputs, tg_tensor **tangents, int n, tg_tensor **out);
/* jacfwd: the same Jacobians as tg_jacobian, by forward mode. */
tg_status tg_jacobian_fwd(tg_tensor *y, tg_tensor **inputs, int n, tg_tensor **jac);
/* hess[a*n+b]: d2y/da db of a scalar y, shaped a.shape + b.shape. */
tg_status tg_hessian(tg_tensor *y, tg_tensor **inputs, int n, tg_tensor **hess);
/* The order-th derivative of scalar y in scalar x (exact, by repeated
 * differentiation of the backward pass). */
tg_tensor *tg_nth_derivative(tg_tensor *y, tg_tensor *x, int order);

/* ---- Seeing the graph (graph.c, explain.c) ---- */
/* The nodes that lead to root, inputs before the ops using them (root
 * last), with display names: the variable or intermediate's name, the value
 * of a scalar constant, or t1, t2, ... for unnamed intermediates. */
typedef struct tg_graph {
    tg_tensor **nodes; /* borrowed */
    char **names;
    int n, cap;
    /* a hash index of nodes (graph.c's, private): tg_graph_index in
     * constant time */
    int *index_slots;
    size_t index_cap;
} tg_graph;
tg_status tg_graph_collect(tg_tensor *root, tg_graph *g); /* borrows root */
void tg_graph_free(tg_graph *g);
int tg_graph_index(const tg_graph *g, const tg_tensor *t);
/* Graphviz DOT / JSON (documented in tgrad(1)); values adds each node's
 * value and gradient (kept by tg_hook_retain_grads during backward). */
tg_status tg_graph_write_dot(FILE *f, const tg_graph *g, bool values);
tg_status tg_graph_write_json(FILE *f, const tg_graph *g, bool values);
/* Writes the forward values and the backward pass node by node (upstream
 * gradient, local derivative, what is passed on), then the gradients of
 * value (borrowed) in inputs (borrowed); text for people, or JSON.
 * grad_output (consumed) as for tg_grad. */
tg_status tg_explain(tg_tensor *value, tg_tensor *grad_output, tg_tensor **inputs, const char *const *names,
                     int n, bool json, FILE *out);
/* A backward hook that keeps every op node's upstream gradient in ->grad. */
tg_status tg_hook_retain_grads(tg_tensor *node, tg_tensor *g, tg_tensor **gin, void *data);

/* ---- Checking (anomaly.c, gradcheck.c) ---- */
/* Anomaly detection (torch.autograd.detect_anomaly): while enabled, the
 * first op whose output holds NaN or infinity though its inputs hold none
 * is remembered; *backward tells whether it happened in the backward rule
 * of the node returned (borrowed, NULL when none), *op names the op.
 * Enabling clears it. */
void tg_anomaly_enable(bool on);
bool tg_anomaly_enabled(void);
const tg_tensor *tg_anomaly_first(bool *backward, const char **op);

/* Gradient check (torch.autograd.gradcheck): the program is run again in
 * float64; its analytic Jacobian in each differentiated input is compared
 * with central differences of step eps, element by element, passing when
 * |analytic - numeric| <= atol + rtol * |numeric| everywhere. */
typedef struct tg_gradcheck_var {
    double max_abs_error;
    int64_t worst_input;  /* flat index of the input element */
    int64_t worst_output; /* flat index of the output element */
    double analytic, numeric;
    bool passed;
} tg_gradcheck_var;
tg_status tg_gradcheck(tg_program *p, tg_env *env, int nvars, double eps, double atol, double rtol,
                       tg_gradcheck_var *res, bool *passed);

/* ---- Text built in memory (buf.c), as git's strbuf ----
 * Results are made whole in a buffer and then written, so that a failure
 * half way leaves nothing on the output (tg-formats(5), EXIT STATUS). */
/* A growing, zero-terminated byte buffer; start it as {0}.  After a failed
 * allocation `failed` is set, later additions do nothing and tg_buf_write
 * reports it. */
typedef struct tg_buf {
    char *data;
    size_t len, cap;
    bool failed;
} tg_buf;
void tg_buf_add(tg_buf *b, const void *p, size_t n);
void tg_buf_printf(tg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tg_buf_free(tg_buf *b); /* frees the text; b is empty again */
/* Writes the whole text to f (not flushed): TG_ERESOURCE when the buffer
 * ran out of memory or the write failed. */
tg_status tg_buf_write(const tg_buf *b, FILE *f);

/* ---- Reading and writing tensors (tg-formats(5)) ---- */
/* Parses one tensor from JSON text (strict RFC 8259).  dtype_hint: dtype
 * for JSON numbers when the object form does not say (-1: the default
 * float).  *requires_grad gets the object form's "requires_grad" (or -1
 * when absent); it may be NULL. */
tg_tensor *tg_json_parse(const char *text, size_t len, int dtype_hint, int *requires_grad);
/* Writes t as compact JSON: nested arrays, shortest round-trip numbers. */
tg_status tg_json_write(FILE *f, const tg_tensor *t); /* borrows */
/* From now on, every tensor written as JSON is the object form
 * {"data":...,"shape":[...],"dtype":"..."} (the tools' --typed). */
void tg_json_set_typed(bool on);
/* The same text appended to b (borrows t). */
tg_status tg_json_write_buf(tg_buf *b, const tg_tensor *t);
/* Formats one number of dtype dt in the shortest form that reads back
 * identically; returns the length.  buf needs 32 bytes. */
int tg_format_number(char *buf, double v, tg_dtype dt);

/* A JSON object of named tensors ({"x": 2, "w": [[1,2]]}): cb is called
 * for each member in order with the name (borrowed), a new tensor (which cb
 * consumes) and its requires_grad (1, 0, or -1 when absent); a non-zero
 * return stops the walk and is returned.  See lib/io/json.h. */
tg_status tg_json_parse_named(const char *text, size_t len, int dtype_hint,
                              int (*cb)(const char *name, tg_tensor *t, int requires_grad, void *ctx),
                              void *ctx);

tg_tensor *tg_npy_read(const void *bytes, size_t len);
tg_status tg_npy_write(FILE *f, const tg_tensor *t); /* borrows */

/* Loads a tensor argument: inline JSON, "-" (stdin, JSON or .npy), or a path
 * (.npy by its magic, else JSON).  dtype_hint as in tg_json_parse. */
tg_tensor *tg_load_arg(const char *arg, int dtype_hint, int *requires_grad);
/* Reads a whole file ("-" = stdin) into a NUL-terminated buffer. */
char *tg_read_file(const char *path, size_t *len);
/* Writes t to path, .npy or .json by its extension ("-": JSON on standard
 * output), whole or not at all: into a new temporary file beside path,
 * synced, then renamed over it; on any failure path is as it was and no
 * temporary is left.  A device or pipe (/dev/null) is written directly; a
 * symbolic link not owned by you or root is replaced, never followed.  The
 * rules are outfile.c's; tgrad(1) FILES tells them to users. */
tg_status tg_save(const char *path, const tg_tensor *t); /* borrows */
/* tbroadcast --cat: the tensors args[0..n) (tg_load_arg arguments, the
 * shards; dtype_hint as there) joined along dim (negative: from the end)
 * as torch.cat joins them, saved to out as tg_save does (NULL: "-").
 * They must have one dtype, a rank of at least 1 and the same sizes but
 * in dim (else TG_EINPUT naming two of them), checked from the .npy
 * shards' headers before any data is read.  A .npy out is written as it
 * is made, along dim 0 with one shard in memory at a time. */
tg_status tg_cat_files(const char *const *args, int n, int64_t dim, int dtype_hint, const char *out);
/* tg_write_result's object with tensors in files: value_file (not NULL or
 * "-") gets the value, dir (made if missing) gets DIR/grad_NAME.npy for
 * each gradient and DIR/value.npy unless value_file is given; a tensor in a
 * file is printed as the file's name, a JSON string.  All files are written
 * and synced first, then the object to f, flushed; only then are the files
 * renamed into place: if f or anything else fails, no file has changed. */
tg_status tg_write_result_files(FILE *f, const char *value_file, const char *dir, const tg_tensor *value,
                                const char *const *names, tg_tensor *const *grads, int n, bool pretty);

/* The devices as JSON text, for tdevice: {"devices":[...],"default":...}.
 * bench adds measured memory bandwidth and GEMM rate.  free() the result. */
char *tg_device_report(bool bench, bool pretty);

/* ---- The CPU backend's BLAS (OpenBLAS) ----
 * OpenBLAS is opened at run time (libopenblas.so.0), by the first product
 * or by one of these; config and corename are NULL, threads 0, if it
 * cannot be. */
void tg_blas_set_threads(int n);  /* as OPENBLAS_NUM_THREADS does */
int tg_blas_threads(void);
const char *tg_blas_config(void); /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." */
const char *tg_blas_corename(void); /* the kernel set in use, e.g. "Haswell" */
/* Monotonic seconds, for timings. */
double tg_now(void);

/* ---- Results as JSON (result.c) ----
 * Each appends one whole object and a newline to b; a tensor that cannot
 * be written (too large) fails with its error, and a buffer out of memory
 * with TG_ERESOURCE.  Names are variable names (identifiers). */
/* {"value":V,"grad":{"x":G,...}}: names NULL leaves "grad" out, a NULL
 * grads[i] is skipped; pretty indents it; extra, when not NULL, holds
 * further members (",\"check\":{...}") put before the closing brace. */
tg_status tg_result_grad(tg_buf *b, const tg_tensor *value, const char *const *names, tg_tensor *const *grads,
                         int n, bool pretty, const char *extra);
/* tg_result_grad's object written to f as it is produced, never held
 * whole (not flushed); a tensor that cannot be written, or memory, fails
 * before the first byte, so that only a failed write can leave part of
 * the object out. */
tg_status tg_result_grad_write(FILE *f, const tg_tensor *value, const char *const *names,
                               tg_tensor *const *grads, int n, bool pretty, const char *extra);
/* tgrad --batch --jsonl: for each point i < npoints, one line to f,
 * tg_result_grad's compact object of row i (dim 0) of value (all of value
 * when !value_batched) and of each grads[k] that is not NULL.  Lines are
 * written as they are made (not flushed); the tensors are checked first
 * (writable, npoints rows each), so that a refusal writes nothing. */
tg_status tg_result_points(FILE *f, const tg_tensor *value, bool value_batched, const char *const *names,
                           tg_tensor *const *grads, int n, int64_t npoints);
/* {"value":V,"WHAT":{"x":T,...}EXTRA} (--jacobian, --order) */
tg_status tg_result_named(tg_buf *b, const tg_tensor *value, const char *what, const char *const *names,
                          tg_tensor *const *t, int n, const char *extra);
tg_status tg_result_jvp(tg_buf *b, const tg_tensor *value, const tg_tensor *jvp); /* {"value":V,"jvp":T} */
/* {"value":V,"hessian":{"x":{"x":H,"y":H},...}} of hess[a*n+b] */
tg_status tg_result_hessian(tg_buf *b, const tg_tensor *value, const char *const *names, tg_tensor *const *hess,
                            int n);
/* {"values":[V,...],"grad":{"x":G,...}} (--accumulate) */
tg_status tg_result_values(tg_buf *b, tg_tensor *const *values, int nvalues, const char *const *names,
                           tg_tensor *const *grads, int n);
/* tgrad --lines --id KEY: the compact result object r (one of the above)
 * again with "KEY":ID put first; ID is the JSON text id[0..idlen), copied
 * as it is; a NULL id leaves r as it was. */
tg_status tg_result_with_id(tg_buf *b, const char *key, const char *id, size_t idlen, const tg_buf *r);
/* {"KEY":ID,"line":N,"error":"MESSAGE"}, the record of a line that failed
 * (--lines --keep-going); a NULL key or id leaves "KEY":ID out. */
tg_status tg_result_error(tg_buf *b, const char *key, const char *id, size_t idlen, long line, const char *msg);
/* The member ,"check":{"passed":...,"variables":{"x":{...}}} of a
 * gradient check: res[k] and names[k] for the n differentiated inputs. */
void tg_result_check(tg_buf *b, const tg_gradcheck_var *res, const char *const *names, int n, bool passed,
                     double eps, double atol, double rtol);

/* ---- tgrad's work as library calls (bind.c, grad_run.c) ----
 * Every count comes from the data: there is no limit on the number of
 * variables, --at or --jvp options or expressions but memory. */
/* How variables are bound and which are differentiated. */
typedef struct tg_bind_opts {
    const char *wrt;   /* comma-separated names to differentiate; NULL: every float variable */
    const char *batch; /* --batch: NULL; "" for every variable, or the names whose dim 0 indexes points */
    bool no_grad;      /* differentiate none */
} tg_bind_opts;
/* Binds name to t (consumed) in e.  The name must be an identifier not
 * bound yet (else TG_EINPUT, TG_EUSAGE).  t is differentiated when o->wrt
 * names it (or is NULL), requires_grad is not 0 (1, 0, or -1 for not
 * said) and o->no_grad is false; an integer tensor is then an error
 * (TG_EINPUT) when o->wrt or requires_grad 1 asked for it, else silently
 * not differentiated.  A NULL t passes its error on. */
tg_status tg_env_bind(tg_env *e, const char *name, tg_tensor *t, int requires_grad, const tg_bind_opts *o);
/* Binds each member of a JSON object of named tensors ({"x": 2, ...}). */
tg_status tg_env_bind_json(tg_env *e, const char *text, size_t len, const tg_bind_opts *o);
/* tgrad's --at and --inputs: each of at[0..nat), "NAME=VALUE", or VALUE
 * alone for a program with one free variable (TG_EUSAGE otherwise), then
 * the members of the file inputs (NULL for none).  all_wrt: every name
 * of o->wrt must then be bound (TG_EUSAGE). */
tg_status tg_env_bind_args(tg_env *e, tg_program *p, const char *const *at, int nat, const char *inputs,
                           const tg_bind_opts *o, bool all_wrt);

typedef struct tg_run_opts {
    tg_bind_opts bind;       /* bind.no_grad: evaluate only; bind.batch: differentiate sum(result) */
    const char *grad_output; /* the upstream gradient, a tg_load_arg argument loaded for each pass; or NULL */
    bool compile;            /* tg_compiled_eval where the program allows (not with bind.batch,
                                detect_anomaly or keep_graph) */
    bool detect_anomaly;     /* a NaN or infinity produced anywhere is an error (TG_EINPUT) */
    bool keep_graph;         /* keep the graph (tgrad --graph): no re-run for anomalies */
    bool pretty;             /* indented result objects */
    bool accumulate;         /* tg_run_several: gradients added up over the passes */
} tg_run_opts;
/* The value of p over env, whose env->n entries are the inputs, and each
 * input's gradient in grads[0..env->n) (as tg_grad_eval; the caller
 * releases them).  A value or gradient holding NaN or infinity without
 * detect_anomaly makes the program run again with anomaly detection:
 * *warned is then true, the value is still returned and the error state
 * holds the warning ("warning: anomaly: log produced NaN ...", with the
 * op's position) for the caller to print and clear. */
tg_tensor *tg_run_eval(tg_program *p, tg_env *env, const tg_run_opts *o, tg_tensor **grads, bool *warned);

typedef enum {
    TG_TRANSFORM_JACOBIAN,     /* {"value":V,"jacobian":{"x":J}} by reverse mode */
    TG_TRANSFORM_JACOBIAN_FWD, /* the same by forward mode */
    TG_TRANSFORM_JVP,          /* {"value":V,"jvp":T} */
    TG_TRANSFORM_HESSIAN,      /* {"value":V,"hessian":{"x":{"y":H}}}, any number of variables */
    TG_TRANSFORM_DERIVATIVE,   /* {"value":V,"derivative":{"x":D},"order":N} */
} tg_transform_kind;
typedef struct tg_transform_opts {
    tg_transform_kind kind;
    const char *const *jvp; /* TG_TRANSFORM_JVP: "NAME=TANGENT", or "TANGENT" for one variable */
    int njvp;
    int order; /* TG_TRANSFORM_DERIVATIVE: N */
} tg_transform_opts;
/* Evaluates p over env and appends the transform of its result in the
 * inputs that require grad to out. */
tg_status tg_run_transform(tg_program *p, tg_env *env, const tg_transform_opts *t, tg_buf *out);
/* The result of tg_run_eval over env's first nvars entries appended to
 * out: {"value":V,"grad":{...}} (no "grad" with o->bind.no_grad; pretty
 * with o->pretty), and with check the report of tg_gradcheck with
 * PyTorch's defaults (eps 1e-6, atol 1e-5, rtol 1e-3); *passed tells
 * whether it passed (true without check). */
tg_status tg_run_result(tg_program *p, tg_env *env, int nvars, const tg_tensor *value, tg_tensor *const *grads,
                        const tg_run_opts *o, bool check, tg_buf *out, bool *passed);
/* tg_run_result's object written to f as it is produced
 * (tg_result_grad_write). */
tg_status tg_run_result_write(tg_program *p, tg_env *env, int nvars, const tg_tensor *value,
                              tg_tensor *const *grads, const tg_run_opts *o, bool check, FILE *f, bool *passed);
/* tgrad --batch --jsonl: the result of tg_run_eval over env (o->bind.batch
 * set) as one line per point to f (tg_result_points).  A differentiated
 * variable that is not batched is shared by the points and has no
 * gradient of each: that is TG_EUSAGE. */
tg_status tg_run_points(tg_env *env, int nvars, const tg_tensor *value, tg_tensor *const *grads,
                        const tg_run_opts *o, FILE *f);
/* tgrad --graph: evaluates p over env and writes the graph that leads to
 * its value to out, as Graphviz DOT or JSON (tg_graph_write_dot/json).
 * values: each node's value and gradient too, from a backward pass (for a
 * single-number result, or with o->grad_output). */
tg_status tg_run_graph(tg_program *p, tg_env *env, const tg_run_opts *o, bool dot, bool values, FILE *out);
/* tgrad --explain: evaluates p over env and writes tg_explain's walk of
 * the chain rule in the inputs that require grad; grad_output is the
 * upstream gradient's argument (NULL: a single-number result's). */
tg_status tg_run_explain(tg_program *p, tg_env *env, const char *grad_output, bool json, FILE *out);
typedef struct tg_lines_opts {
    const char *id;   /* --id: the member copied into each result as its first, not bound; NULL: none */
    long line_offset; /* --line-offset: the lines before this input, for the numbers in errors */
    bool keep_going;  /* --keep-going: a line that fails gets an error record, and the run goes on */
    bool flush;       /* --unbuffered: each result line written out at once */
    bool flush_idle;  /* the results written out whenever the next line has not arrived yet
                       * (a pipe or terminal as input: a script waiting for its answer) */
} tg_lines_opts;
/* tgrad --lines: for each line of in that holds a JSON object of inputs,
 * binds them after fixed's, evaluates and writes one result line to out;
 * blank lines are skipped.  Stops at the first error, whose message
 * starts "line N: "; with lo->keep_going that line's result is the record
 * {"line":N,"error":"..."} instead, and at the end the highest status of
 * the failed lines is returned with the first one's message. */
tg_status tg_run_lines(tg_program *p, const tg_env *fixed, const tg_run_opts *o, const tg_lines_opts *lo,
                       FILE *in, FILE *out);
/* Several programs over env's inputs, one backward pass each from the
 * inputs as bound: a result line each, or with o->accumulate one
 * {"values":[...],"grad":{...}} of the gradients added up (backward()
 * without zero_grad()).  On failure *failed is the index of the program
 * that failed (for the caret), -1 when none did. */
tg_status tg_run_several(tg_program *const *progs, int np, tg_env *env, const tg_run_opts *o, tg_buf *out,
                         int *failed);

/* ---- Python programs (tg-expr(5), PYTHON PROGRAMS; pyprog.c) ---- */
/* Is this a Python-subset program rather than an expression?  A file
 * named *.py, or a source with a line starting with import, from, print(,
 * def, with or if, or holding .backward( or requires_grad=.  file may be
 * NULL. */
bool tg_python_program(const char *file, const char *src);
/* Runs a Python-subset program with PyTorch's meaning and appends its
 * output to out: what it printed, or when it printed nothing the
 * {"value":...,"grad":{...}} of the last tensor it computed at the top
 * level and of the leaves it named (pretty: indented).  Nothing is appended on failure. */
tg_status tg_python_run(const char *src, bool pretty, tg_buf *out);

#endif
