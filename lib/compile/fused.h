/* fused.h -- the form compiled evaluation gives a program: a list of
 * registers over one block of elements.  fused_plan.c builds it from a
 * probe; compile.c runs it, block by block, through the eager kernels or
 * through the C that fused_codegen.c writes for it (one loop, every
 * register a local variable) and jit.c compiles. */
#ifndef TG_FUSED_H
#define TG_FUSED_H
#include "internal.h"

#define TG_FUSE_BLOCK 1024 /* elements per scratch block: the live ones stay in L1/L2 */
/* the instructions' chunk at the widest (float32 in 8 vectors of 64
 * bytes): a short block runs over a whole number of these */
#define TG_VM_CHUNK 128
#define TG_FUSE_MAXVARS 255
/* a plan of more registers runs through the kernels: the C compiler's time
 * grows faster than the program (256 registers, a few dozen ops forward
 * and backward: about half a second; 2500: 20 s) */
#define TG_FUSE_MAX_JIT 256

enum { R_STREAM, R_CONST, R_OP, R_ALIAS };

typedef struct {
    int kind;
    int op;             /* R_OP: the op */
    tg_kernel_fn kernel; /* R_OP: tg_cpu_kernels[op][kdtype], or a conversion for a cast */
    tg_dtype dtype, kdtype;
    int in[3], nin;     /* register indices */
    int stream;         /* R_STREAM: which input stream */
    int alias;          /* R_ALIAS: the register it is */
    int slot;           /* R_OP: the scratch block its values go to */
    bool scalar;        /* one value, broadcast (stride 0) */
    double value;       /* R_CONST */
    int64_t ivalue;     /* R_CONST of int64: exactly */
    tg_attrs attrs;
} tg_reg;

/* an instruction of the interpreted blocks (fused_vm.c) */
typedef struct {
    uint16_t code;
    int reg;          /* the register whose values it reads or writes, or whose op it runs */
    int out;          /* STORE_OUT: the output (0 the value, 1 + i variable i's gradient) */
    float F_c;        /* the constant it reads, as float32 */
    double D_c;       /* and as float64 */
} tg_vm_ins;

/* the generated loop: n elements of every input stream in[s] to the
 * output registers' blocks out[k] (tg_fused.outs); register i's kernel and
 * attributes, for the ops it calls, are kernels[i] and attrs[i]; tmp is
 * jit_tmp bytes of the calling thread's own */
typedef void (*tg_fused_fn)(int64_t n, const void *const *in, void *const *out, const tg_kernel_fn *kernels,
                            const tg_attrs *const *attrs, void *tmp);

typedef struct {
    tg_reg *r;
    int n;
    int nslots;         /* scratch blocks per thread */
    int nstreams;       /* input streams (R_STREAM registers' streams) */
    int value_reg;      /* the result, or the summand when sum_root */
    bool sum_root;
    int nvars;
    int grad_reg[TG_FUSE_MAXVARS]; /* per variable, -1 when not differentiated */
    bool grad_sum[TG_FUSE_MAXVARS]; /* a one-value variable's: grad_reg is the summand */
    int outs[TG_FUSE_MAXVARS + 1]; /* the ops whose values leave the block */
    int nouts;
    tg_fused_fn jit;    /* NULL: the registers run through the eager kernels */
    size_t jit_tmp;
    tg_kernel_fn *kernels;     /* per register, for jit */
    const tg_attrs **attrs;
    tg_vm_ins *vm;      /* without jit, a whole block runs these (NULL: op by op) */
    int nvm;
    bool *vm_out;       /* per output (value, gradients): the instructions write it to its tensor */
    bool *vm_sum;       /* per output: the instructions add it to the sum's lanes (vm_out's memory) */
    int *vm_streams;    /* the registers whose values are an input stream's (they move from block to block) */
    int nvm_streams;
    int vm_chained;     /* ops that run as chunked instructions, not through their kernels */
} tg_fused;

/* A program's plan for calls with variables of given names, dtypes,
 * shapes and one-value constants (fused_plan.c); kept on the program. */
struct tg_fused_plan {
    char *key;
    size_t keylen;
    bool fusable;       /* false: the program does not fuse (TG_NO, cached too) */
    bool jit_tried;     /* the generated loop compiled, or found not to be */
    bool jit_looked;    /* looked for in the cache (the default path) */
    tg_fused F;
    tg_dtype out_dtype;
    bool cuda_tried;    /* on cuda: the kernel below compiled (or not) once */
    void *cuda_kernel;
    bool made;          /* false: only the key is kept so far (a first small call) */
    int out_ndim;       /* the value's shape when the probe was the whole variables; -1: theirs */
    int64_t out_shape[TG_MAX_DIMS];
    struct tg_fused_plan *other; /* the plan used before this one, kept too (fused_plan.c) */
    void *small;        /* one thread's scratch and partial sums, kept for the next one-thread call */
    size_t small_bytes;
};

/* The plan for this call: the program's kept one when it fits, else a new
 * one (kept in its place).  TG_NO (no error set) when the program does not
 * fuse; another status is an error of this call's.  later: a key not seen
 * before is kept alone (TG_NO) and its plan made when it comes again: a
 * small evaluation made once costs less eagerly than a plan.  exact: only programs
 * whose sums are the eager ones (a plain final sum, one-value variables'
 * gradients that are plain sums), not sums of sums or sums times
 * constants, which fuse by adding or multiplying before summing. */
tg_status tg_fused_plan_get(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor *gout,
                            int64_t n, bool exact, bool later, struct tg_fused_plan **out);
/* Attaches the plan's generated loop, compiled once (jit.c); without a C
 * compiler the registers keep running through the eager kernels.  Without
 * may_compile only a loop kept in the cache is loaded (tg_jit_lookup). */
void tg_fused_plan_jit(struct tg_fused_plan *pl, bool may_compile);

/* An input of the plan (R_STREAM register s): a full-size variable, or the
 * upstream gradient, in the probe's order */
typedef struct {
    const void *data; /* element 0 */
    size_t esz;
    tg_dtype dtype;
} tg_fused_stream;

/* The instructions of F's blocks (fused_vm.c): chains of arithmetic in
 * registers, the other ops through their kernels; false (F->vm NULL)
 * when memory ran out or no op chains. */
bool tg_fused_vm_build(tg_fused *F);
/* F's instructions over elements [from, to) of one block (whole
 * chunks: multiples of TG_VM_CHUNK, or the whole TG_FUSE_BLOCK), every
 * register's values from ptr[i] (the block's first element; an op run
 * through its kernel: to len, what lies after is left as it was) with
 * stride[i] (compile.c's locate); output k with vm_out[k] to outp[k] (the
 * block's first element in its tensor; non-temporal stores if stream,
 * which need 16-byte alignment) where outp and outp[k] are not NULL, else
 * to its register's scratch block; summed output k with vm_sum[k] added
 * to the lanes lanes + k * TG_SUM_LANES as tg_fused_add_to_lanes adds
 * (lanes not NULL), else written to the scratch block; the first run of
 * chunked instructions asks for pf[0..npf) (the inputs two blocks on) a
 * chunk's share at a time, so that the reads overlap the work */
typedef struct {
    const char *p; /* a stream's element 0 of a later block */
    int esz;
} tg_vm_prefetch;
typedef struct {
    int64_t from, to;
    int64_t len;      /* the block's elements: the kernels stop there (an eager kernel's
                       * last few elements, past its whole vectors, may round otherwise) */
    void *const *outp;
    bool stream;
    double *lanes;
    const tg_vm_prefetch *pf;
    int npf;
} tg_vm_span;
void tg_fused_vm_run(const tg_fused *F, const void **ptr, const int64_t *stride, const tg_vm_span *span);

/* Adds len values at p (stride 1, or 0: one value len times) to the
 * running double sums acc as the eager whole-tensor sum adds them (L =
 * TG_SUM_LANES_OF(dt), ops/ops.h): element j of each group of L to acc[j],
 * a last odd few to acc[0] (fused_vm.c, with the kernels' flags;
 * compile.c's SUM_BLOCK).  acc holds TG_SUM_LANES. */
#define TG_SUM_LANES TG_SUM_PIECE
void tg_fused_add_to_lanes(double *acc, const void *p, int64_t stride, int64_t len, tg_dtype dt);

/* t's one value: the partial sums added in order, in double (compile.c) */
void tg_fused_set_sum(tg_tensor *t, const double *partial, int64_t count);

/* On the cuda device (fused_cuda.c): the plan's kernel for these inputs,
 * compiled and loaded once; TG_NO (no error) when it cannot be, and the
 * caller runs the program eagerly.  Then tg_fused_cuda_run computes the
 * value (or its sum) and the gradients into the tensors given, made on
 * the device with their shapes. */
tg_status tg_fused_cuda_ready(struct tg_fused_plan *pl, const tg_fused_stream *S, int nstreams);
/* how the kernel computes op in float dtype dt (a positive number), or -1
 * where its device code has no form for it: the tests' completeness check */
int tg_fused_cuda_form(int op, tg_dtype dt);
tg_status tg_fused_cuda_run(const struct tg_fused_plan *pl, const tg_fused_stream *S, int nstreams, int64_t n,
                            tg_tensor *value, tg_tensor **grads);
/* a dtype's C name in generated code (fused_codegen.c; CUDA's prelude
 * defines int64_t too) */
const char *tg_fused_ctype(tg_dtype dt);

/* the register whose values register i has (itself unless an alias) */
int tg_fused_owner(const tg_fused *F, int i);
/* the input stream whose values register i has (an R_STREAM register's,
 * or through aliases its owner's), or -1 (inline: run_block asks it of
 * every register of every block, a --lines line's one element too) */
static inline int tg_fused_stream_of(const tg_fused *F, int i)
{
    while (F->r[i].kind == R_ALIAS)
        i = F->r[i].alias;
    return F->r[i].kind == R_STREAM ? F->r[i].stream : -1;
}

/* The C source of tg_fused_block, a tg_fused_fn computing F, and the
 * bytes of memory it needs per thread; NULL when memory ran out, no error
 * left set.  Freed with tg_free. */
char *tg_fused_source(const tg_fused *F, size_t *tmp_bytes);

/* The function `symbol` of C source src, compiled by the system's C
 * compiler into a shared object kept in a cache folder and loaded; NULL
 * when that cannot be done (no compiler, no usable cache folder, TG_JIT=0),
 * no error left set. */
void *tg_jit(const char *src, const char *symbol);
/* The same when it is loaded already or kept in an existing cache folder;
 * NULL, nothing compiled, made or said, otherwise. */
void *tg_jit_lookup(const char *src, const char *symbol);
/* false under TG_JIT=0: no generated code at all, the kernels run op by op */
bool tg_jit_enabled(void);
/* Bytes made elsewhere (NVRTC's machine code for a kernel), kept in the
 * same cache folder under the text key (what they were made from and for):
 * tg_cache_get gives them back (*data to free()) only when the kept key is
 * that text exactly; false when there are none, or TG_JIT=0. */
bool tg_cache_get(const char *kind, const char *key, void **data, size_t *len);
void tg_cache_put(const char *kind, const char *key, const void *data, size_t len);
/* the same for C++ source (the cuda kernels' host build, fused_cuda.c) */
void *tg_jit_cxx(const char *src, const char *symbol);
#endif
