/* internal.h -- what the library's files share and users do not need. */
#ifndef TG_INTERNAL_H
#define TG_INTERNAL_H
#include "tg.h"
#include <stdarg.h>

/* ---- the op table ----
 * Every op is one entry of ops.def (name, arity, flags, what the backward
 * reads, its kind, function and formula) and one family file holding its
 * shape rule, forward and backward side by side.  Nothing else switches on
 * ops. */
enum {
#define OP(id, ...) TG_OP_##id,
#include "ops.def"
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

/* not const: a unit test swaps in a wrong backward to prove the checks catch it */
extern tg_opdef tg_ops[TG_NOPS];

/* ---- helpers for ops ---- */
/* Allocates a contiguous output for out's dtype and shape (already set). */
tg_status tg_alloc_storage(tg_tensor *out);
tg_tensor *tg_new_meta(tg_dtype dt, int ndim, const int64_t *shape); /* no storage */
void tg_set_contiguous_strides(tg_tensor *t);
tg_status tg_infer_broadcast(tg_tensor **in, int n, tg_tensor *out);
int64_t tg_norm_dim(int64_t d, int ndim, const char *op, tg_status *st);

/* The elementwise loop: out is contiguous, inputs are broadcast to its
 * shape over strides (no copies).  The kernel gets one contiguous run of
 * the output and the inputs' element strides along it (0 when broadcast). */
typedef void (*tg_kernel_fn)(int64_t n, void *out, const void *const *in,
                             const int64_t *stride, const tg_attrs *a);
void tg_loop(tg_tensor *out, int nin, tg_tensor **in, tg_kernel_fn k, const tg_attrs *a);
/* threads.c: runs fn(i, ctx, tid) for i < items on the pool (tid <
 * tg_threads() names the thread, for scratch space) and returns when all
 * are done. */
typedef void (*tg_task_fn)(int64_t item, void *ctx, int tid);
void tg_parallel_for(int64_t items, tg_task_fn fn, void *ctx);
int tg_threads(void);
/* heavy: worth several threads (math functions), see loop.c */
void tg_loop_ex(tg_tensor *out, int nin, tg_tensor **in, tg_kernel_fn k, const tg_attrs *a, bool heavy);
/* The loop's plan: out's shape with size-1 dims dropped and dims that are
 * contiguous for every operand merged; the strides of out and of each input
 * (0 along broadcast dims), in elements.  Returns the number of dims (>= 1). */
int tg_loop_plan(const tg_tensor *out, int nin, tg_tensor *const *in, int64_t *shape, int64_t *ost,
                 int64_t (*st)[TG_MAX_DIMS + 1]);

/* The CUDA backend's memory and kernels (cuda.c).  Storage on cuda is
 * managed memory, readable and writable by the host code too.  tg_cuda_map
 * and tg_cuda_reduce return TG_NO (no error) for what the kernels do not
 * do: the caller computes on the CPU. */
void *tg_cuda_alloc(size_t bytes);
void tg_cuda_free(void *p, size_t bytes);
tg_status tg_cuda_map(int op, int nin, tg_tensor **in, const tg_attrs *a, tg_tensor *out);
tg_status tg_cuda_reduce(int kind, const tg_tensor *x, const int64_t *ost, tg_tensor *out);
/* Is the cuda device emulated on the host (TG_CUDA_EMULATE)? */
bool tg_cuda_emulated(void);
/* A kernel of compiled evaluation (fused_cuda.c): dev_src compiled by
 * NVRTC and loaded; where the device is emulated, dev_src is compiled (to
 * check it) and host_src, the same kernel with a launcher for the host
 * (NULL elsewhere), built by the C++ compiler runs instead.  TG_ERESOURCE with the reason
 * where NVRTC or the compiler is missing or the source does not compile. */
tg_status tg_cuda_fused_load(const char *dev_src, const char *host_src, void **kernel);
/* why the kernels cannot be compiled (no NVRTC, no device), or NULL */
const char *tg_cuda_fused_unavailable_reason(void);
/* runs it on grid blocks of block threads; args as cudaLaunchKernel's */
tg_status tg_cuda_fused_launch(void *kernel, unsigned grid, unsigned block, void **args);
/* drops one reference to s, freeing it (wherever its memory is) with the
 * last; NULL is fine */
void tg_storage_release(tg_storage *s);
/* dst (metadata only) shares src's storage from src's offset: a view */
void tg_share_storage(tg_tensor *dst, const tg_tensor *src);

/* kernel tables, indexed by op and dtype of the computation; an empty slot
 * means "not supported for that dtype". */
extern const tg_kernel_fn tg_cpu_kernels[TG_NOPS][TG_NDTYPES];
/* conversions, [from][to] (the cast op) */
extern const tg_kernel_fn tg_cpu_conv[TG_NDTYPES][TG_NDTYPES];

/* each kernel's expression as C text over its inputs x, y, z (NULL where
 * its body is not one expression), and pow's formula for a constant
 * exponent (bw: its backward, over g, x, e, em1) */
extern const char *const tg_cpu_kernel_src[TG_NOPS][TG_NDTYPES];
extern const char *const tg_cpu_conv_src[TG_NDTYPES][TG_NDTYPES];
const char *tg_cpu_pow_src(tg_dtype dt, double exponent, bool bw);
/* does that text call a function? */
bool tg_cpu_src_calls(const char *src);

/* what compiled evaluation's generated loops would use (jit.c), for
 * tdevice: TG_JIT not 0, the compiler and whether it is found on PATH, the
 * cache folder ("" when there is none), and whether it would be used
 * (jit_cache.c's checks; else why not) */
typedef struct {
    bool enabled, compiler_found, cache_usable;
    const char *compiler;
    char cache[4096];
    char cache_refused[1024];
} tg_jit_info;
void tg_jit_describe(tg_jit_info *info);

/* strtod, strtof and snprintf in the C locale whatever setlocale chose
 * (c_locale.c): every number the library reads or writes as text */
double tg_strtod_c(const char *s, char **end);
float tg_strtof_c(const char *s, char **end);
int tg_vsnprintf_c(char *buf, size_t n, const char *fmt, va_list ap);
int tg_snprintf_c(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* tg_full and tg_arange for int64, exact beyond 2^53 (tensor.c) */
tg_tensor *tg_full_i64(int ndim, const int64_t *shape, int64_t value);
tg_tensor *tg_arange_i64(int64_t start, int64_t stop, int64_t step);

/* tg_buf, the growing byte buffer, is public: see tg.h */

/* The result builder (result.c) with each tensor put by entry: appended to
 * b as it likes (inline JSON, or a file's name); name is NULL for the
 * value, else the gradient's variable.  tg_result_grad is this with the
 * tensors inline; tg_write_result_files puts them in files. */
typedef tg_status (*tg_result_entry)(tg_buf *b, const char *name, const tg_tensor *t, void *ctx);
tg_status tg_result_grad_with(tg_buf *b, const tg_tensor *value, const char *const *names,
                              tg_tensor *const *grads, int n, bool pretty, const char *extra,
                              tg_result_entry entry, void *ctx);
/* s as a JSON string, quotes and escapes (\", \\, \u00XX) included */
void tg_buf_json_string(tg_buf *b, const char *s);

/* Files written whole or not at all, as a set (outfile.c's rules, as
 * tg_save): each goes to a temporary beside its path; commit renames them
 * all into place (and frees the set), abort removes them.  dir (NULL:
 * none) is made if missing, and removed again on abort if it was made.
 * A stream stays open for writing until the commit. */
typedef struct tg_fileset tg_fileset;
tg_fileset *tg_fileset_new(const char *dir);
tg_status tg_fileset_save(tg_fileset *f, const char *path, const tg_tensor *t); /* borrows t */
tg_status tg_fileset_text(tg_fileset *f, const char *path, const char *text, size_t len);
FILE *tg_fileset_stream(tg_fileset *f, const char *path); /* NULL: the error set */
tg_status tg_fileset_commit(tg_fileset *f);
void tg_fileset_abort(tg_fileset *f);

/* letters, digits and _, not starting with a digit: a variable's name (bind.c) */
bool tg_is_identifier(const char *s, size_t n);

/* Memory (alloc.c): what this process may use, the machine's physical
 * memory or RLIMIT_AS (ulimit -v) when lower; whether RLIMIT_AS is set. */
uint64_t tg_memory_limit(void);
bool tg_memory_limited(void);
/* "160 GB": decimal units, three digits */
void tg_format_bytes(char *buf, size_t n, double bytes);
/* A result whose whole size is known before the work starts: TG_OK when
 * bytes fit in tg_memory_limit(), else TG_ERESOURCE with "out of memory:
 * WHAT = SIZE, more than ..." (what: "the Jacobian would be 3 x 4 float32") */
tg_status tg_check_fits(double bytes, const char *what);
/* For an allocator that recycles its own blocks (tensor.c's spare tensor
 * structs): true, with the out-of-memory error set, when the test hook
 * (TG_FAIL_ALLOC) fails this allocation, as tg_malloc would. */
bool tg_alloc_injected_failure(void);

/* OpenBLAS is loaded on first use (cpu_blas.c): NULL once it is, else why
 * it cannot be ("libopenblas.so.0: cannot open shared object file ..."). */
const char *tg_blas_unavailable_reason(void);

/* A hash index over an array of names (env.c): slots hold a position + 1
 * in keys (0: empty), open addressing, at most half full.  Start it as {0},
 * free slots with tg_free.  Lookups and additions take constant time. */
typedef struct {
    int *slots;
    size_t cap; /* a power of two, or 0 */
} tg_name_index;
/* the position of name in keys, or -1 */
int tg_name_index_find(const tg_name_index *ix, const char *const *keys, const char *name);
/* adds keys[pos], pos < n (keys[0..n) are what the index holds once the
 * call returns: growing rehashes them); TG_ERESOURCE when out of memory */
tg_status tg_name_index_add(tg_name_index *ix, const char *const *keys, int n, int pos);

/* compiled evaluation's plan kept on a program (compile.c); NULL is fine */
struct tg_fused_plan;
void tg_fused_plan_free(struct tg_fused_plan *pl);

/* the sum of n contiguous float32 or float64 values, accumulated in double
 * in a fixed order (eight lanes, element i to lane i % 8, then a fixed tree):
 * the block sums of the whole-tensor sum and of compiled evaluation */
double tg_cpu_sum_run(const void *x, int64_t n, tg_dtype dt);

/* kernels are compiled for the baseline and for AVX2 and AVX-512 (files
 * built with -O3, see the Makefile), the best the processor has chosen when
 * the program starts */
#if defined(__x86_64__) && !defined(TG_NO_CLONES) && !defined(__clang__)
#define TG_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define TG_CLONES
#endif

/* the backend's matrix product: c[b] = a[b] @ b[b] for batch-broadcast
 * operands already laid out by the matmul op. */
tg_status tg_cpu_matmul(tg_tensor *a, tg_tensor *b, tg_tensor *out);

/* Set while compiled evaluation runs its probe (fused_plan.c): ops whose
 * result does not require grad (comparisons, the masks of backward
 * formulas, ops on constants) are recorded too, with their inputs, so the
 * whole computation is one graph.  Returns the previous setting. */
bool tg_set_trace(bool on);

/* Set during a backward pass that builds no graph (apply.c): elementwise
 * ops on inputs that are one value broadcast then compute that value once
 * and return it expanded.  Returns the previous setting. */
bool tg_set_in_backward(bool on);
/* Set while tg_grad_eval evaluates for one backward pass that builds no
 * graph of its own (apply.c): an intermediate that only the graph holds and
 * whose values no backward formula reads gives up its memory at once, as
 * PyTorch frees what its nodes do not save.  Returns the previous setting. */
bool tg_set_free_unsaved(bool on);
/* TG_OK, or an error when writing t would go over that limit (an
 * expand()ed result larger than memory) */
tg_status tg_check_write_size(const tg_tensor *t);
/* a node no longer holds its input t (autograd.c, tensor.c) */
static inline void tg_graph_unref(tg_tensor *t)
{
    if (t)
        __atomic_sub_fetch(&t->graph_refs, 1, __ATOMIC_ACQ_REL);
}
/* the forward of every elementwise op (ops_unary.c) */
tg_status op_fwd_map(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out);

/* fused backward formulas (ops_backward.c); they consume g and y/x */
tg_tensor *tg_tanh_backward(tg_tensor *g, tg_tensor *y);
tg_tensor *tg_sigmoid_backward(tg_tensor *g, tg_tensor *y);
tg_tensor *tg_pow_backward(tg_tensor *g, tg_tensor *x, double exponent);

/* Reductions (ops_reduce.c) */


/* scalar of the same dtype as like (borrowed) */
tg_tensor *tg_scalar_like(double v, const tg_tensor *like);
tg_tensor *tg_zeros_like(const tg_tensor *like);
tg_tensor *tg_ones_like(const tg_tensor *like);
/* one more reference to in[i] of a node (borrowed) */
#define IN(self, i) tg_ref((self)->in[i])

int64_t tg_next_id(void);
/* bool 0 < integer 1 < floating 2, as torch.can_cast orders them */
static inline int tg_dtype_category(tg_dtype d) { return d == TG_BOOL ? 0 : d == TG_INT64 ? 1 : 2; }

/* reference counts are atomic: compiled evaluation shares the variables'
 * storage between threads */
static inline void tg_atomic_inc(int *c) { __atomic_add_fetch(c, 1, __ATOMIC_RELAXED); }
static inline int tg_atomic_dec(int *c) { return __atomic_sub_fetch(c, 1, __ATOMIC_ACQ_REL); }
bool tg_vmap_active(void);

/* anomaly.c: called by tg_apply and tg_backward */
void tg_anomaly_check(const char *op, tg_tensor *out, int nin, tg_tensor **in);
void tg_anomaly_set_backward(const tg_tensor *node);
#endif
