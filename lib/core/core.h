/* core.h -- tensors, memory, threads and the elementwise loop: the
 * lowest layer, on which every other stands (internal). */
#ifndef TG_CORE_CORE_H
#define TG_CORE_CORE_H
#include "tg.h"
#include <stdarg.h>

/* Allocates a contiguous output for out's dtype and shape (already set). */
tg_status tg_alloc_storage(tg_tensor *out);
tg_tensor *tg_new_meta(tg_dtype dt, int ndim, const int64_t *shape); /* no storage */
void tg_set_contiguous_strides(tg_tensor *t);

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

/* Loops built twice, with the processor's fused multiply-add instruction
 * (TG_FMA_TARGET on a function) and through libm's fma() (the same
 * numbers); tg_cpu_has_fma() (cpu.c) says which one may run. */
#if defined(__x86_64__) && defined(__GNUC__)
#define TG_FMA_TARGET __attribute__((target("fma")))
#define TG_HAVE_FMA_TARGET 1
#else
#define TG_FMA_TARGET
#define TG_HAVE_FMA_TARGET 0
#endif
bool tg_cpu_has_fma(void);
/* heavy: worth several threads (math functions), see loop.c */
void tg_loop_ex(tg_tensor *out, int nin, tg_tensor **in, tg_kernel_fn k, const tg_attrs *a, bool heavy);
/* The loop's plan: out's shape with size-1 dims dropped and dims that are
 * contiguous for every operand merged; the strides of out and of each input
 * (0 along broadcast dims), in elements.  Returns the number of dims (>= 1). */
int tg_loop_plan(const tg_tensor *out, int nin, tg_tensor *const *in, int64_t *shape, int64_t *ost,
                 int64_t (*st)[TG_MAX_DIMS + 1]);


/* a warning to the program's handler (tg_set_warning_handler), if any */
void tg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tg_vwarn(const char *fmt, va_list ap);

/* Each device's memory, for tensor storage (the table is the backend's,
 * device.c).  The CPU's own blocks are tensor.c's (small ones inline, the
 * rest from tg_malloc); another device's come from here.  alloc returns
 * NULL with the error set. */
typedef struct {
    void *(*alloc)(size_t bytes);
    void (*free)(void *p, size_t bytes);
} tg_device_memory;
const tg_device_memory *tg_device_memory_of(tg_device d);
/* drops one reference to s, freeing it (wherever its memory is) with the
 * last; NULL is fine */
void tg_storage_release(tg_storage *s);
/* dst (metadata only) shares src's storage from src's offset: a view */
void tg_share_storage(tg_tensor *dst, const tg_tensor *src);

/* strtod, strtof and snprintf in the C locale whatever setlocale chose
 * (c_locale.c): every number the library reads or writes as text */
double tg_strtod_c(const char *s, char **end);
float tg_strtof_c(const char *s, char **end);
int tg_vsnprintf_c(char *buf, size_t n, const char *fmt, va_list ap);
int tg_snprintf_c(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* uniform integers in [low, high), int64, from the seeded generator
 * (random.c), as torch.randint */
tg_tensor *tg_randint(int64_t low, int64_t high, int ndim, const int64_t *shape);

/* tg_full and tg_arange for int64, exact beyond 2^53 (tensor.c) */
tg_tensor *tg_full_i64(int ndim, const int64_t *shape, int64_t value);
tg_tensor *tg_arange_i64(int64_t start, int64_t stop, int64_t step);

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

/* scalar of the same dtype as like (borrowed) */
tg_tensor *tg_scalar_like(double v, const tg_tensor *like);
tg_tensor *tg_zeros_like(const tg_tensor *like);
tg_tensor *tg_ones_like(const tg_tensor *like);

int64_t tg_next_id(void);
/* bool 0 < integer 1 < floating 2, as torch.can_cast orders them */
static inline int tg_dtype_category(tg_dtype d) { return d == TG_BOOL ? 0 : d == TG_INT64 ? 1 : 2; }

/* reference counts are atomic: compiled evaluation shares the variables'
 * storage between threads */
static inline void tg_atomic_inc(int *c) { __atomic_add_fetch(c, 1, __ATOMIC_RELAXED); }
static inline int tg_atomic_dec(int *c) { return __atomic_sub_fetch(c, 1, __ATOMIC_ACQ_REL); }

/* ---- the modes that change what tg_apply does (modes.c) ----
 * All of them in one struct, one per thread, so that a pass that changes
 * several saves and restores them as a unit (tg_modes_get, then
 * tg_modes_set).  The device new tensors go to is the process's
 * (tg_set_device), not a mode. */
typedef struct tg_modes {
    /* record the graph: torch.is_grad_enabled(); off under no_grad */
    bool grad;
    /* inside vmap (transforms.c): a batched operand's dims after dim 0 are
     * one point's, and broadcasting aligns them there */
    bool vmap;
    /* compiled evaluation's probe (fused_plan.c): ops whose result does
     * not require grad (comparisons, the masks of backward formulas, ops
     * on constants) are recorded too, so the whole computation is one
     * graph */
    bool tracing;
    /* a backward pass that builds no graph: elementwise ops on inputs that
     * are one value broadcast compute it once and return it expanded */
    bool in_backward;
    /* tg_grad_eval's one backward pass without a graph of its own: an
     * intermediate only the graph holds, whose values no backward formula
     * reads, gives up its memory at once, as PyTorch frees what its nodes
     * do not save */
    bool free_unsaved;
} tg_modes;
extern _Thread_local tg_modes tg_mode;
tg_modes tg_modes_get(void);
void tg_modes_set(tg_modes m);
/* one field each (tg_set_grad_enabled and tg_set_vmap are in tg.h); each
 * returns the field's previous value */
bool tg_set_trace(bool on);
bool tg_set_in_backward(bool on);
bool tg_set_free_unsaved(bool on);
bool tg_vmap_active(void);

/* whether a storage was written since its version was saved in a node
 * (which keeps the low 32 bits, to keep nodes small) */
static inline bool tg_version_changed(const tg_storage *s, uint32_t saved) { return (uint32_t)s->version != saved; }

/* a node no longer holds its input t (autograd.c, tensor.c).  Not a
 * locked read-modify-write: a graph is recorded and released by one
 * thread (tg_apply counts the holders up without one), and the lock cost
 * a small training step's backward pass a tenth of its time. */
static inline void tg_graph_unref(tg_tensor *t)
{
    if (t)
        __atomic_store_n(&t->tape.graph_refs, __atomic_load_n(&t->tape.graph_refs, __ATOMIC_RELAXED) - 1,
                         __ATOMIC_RELAXED);
}
#endif
