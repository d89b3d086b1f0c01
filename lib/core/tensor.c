/* tensor.c -- tensors, storage and reference counts; shapes and strides. */
#include "core/core.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t next_id;
const tg_attrs tg_no_attrs;

/* Ids are handed out to each thread in blocks: unique, and in creation
 * order within a thread, without an atomic operation per tensor (a
 * training step makes some fifty). */
#define ID_BLOCK 4096
static _Thread_local int64_t id_next, id_end;
int64_t tg_next_id(void)
{
    if (id_next == id_end) {
        id_next = __atomic_fetch_add(&next_id, ID_BLOCK, __ATOMIC_RELAXED);
        id_end = id_next + ID_BLOCK;
    }
    return id_next++;
}

tg_tensor *tg_ref(tg_tensor *t)
{
    if (t)
        tg_atomic_inc(&t->refcount);
    return t;
}

/* Freed tensor and storage structs are kept for the next ones: a --lines
 * run makes and frees some 30 of each a line, and malloc and free cost a
 * tenth of the line at the tensor's size (past malloc's per-thread cache).
 * Per thread, a few dozen of each. */
#define SPARE_MAX 64
typedef struct {
    void *p[SPARE_MAX];
    int n;
} spare_list;
static _Thread_local spare_list spare_tensors, spare_storages;

/* size zeroed bytes, a spare block when there is one */
static void *spare_take(spare_list *l, size_t size)
{
    if (!l->n)
        return tg_calloc(1, size);
    if (tg_alloc_injected_failure())
        return NULL;
    void *p = l->p[--l->n];
    /* size hidden from the compiler: as a constant it is zeroed by rep
     * stos, whose start-up costs more than the C library's vector stores
     * for these few hundred bytes */
    __asm__("" : "+r"(size));
    memset(p, 0, size);
    return p;
}

static void spare_put(spare_list *l, void *p)
{
    if (l->n < SPARE_MAX)
        l->p[l->n++] = p;
    else
        tg_free(p);
}

/* Every CPU storage has room for a few elements after it, used when the
 * data fits: one block for a small tensor instead of two.  Two sizes, each
 * with its spare list: a number (the constants of an expression, one per
 * node of the graph) takes the small one. */
#define INLINE_SMALL 8
#define INLINE_BYTES 64
typedef struct {
    tg_storage s;
    _Alignas(16) unsigned char data[INLINE_BYTES];
} cpu_storage;
typedef struct {
    tg_storage s;
    _Alignas(8) unsigned char data[INLINE_SMALL]; /* one element of any dtype */
} cpu_storage_small;
static _Thread_local spare_list spare_small_storages;

static void storage_free(tg_storage *s)
{
    if (s->device != TG_DEV_CPU) {
        tg_device_memory_of(s->device)->free(s->data, s->nbytes);
        tg_free(s);
        return;
    }
    if (s->nbytes <= INLINE_SMALL) { /* cpu_storage_new's small block */
        spare_put(&spare_small_storages, s);
        return;
    }
    if (s->data != ((cpu_storage *)s)->data)
        tg_free(s->data);
    spare_put(&spare_storages, s);
}

/* a CPU storage struct for nbytes of data (inline when they fit) */
static tg_storage *cpu_storage_new(size_t nbytes)
{
    if (nbytes <= INLINE_SMALL) {
        cpu_storage_small *c = spare_take(&spare_small_storages, sizeof *c);
        if (c)
            c->s.data = c->data;
        return c ? &c->s : NULL;
    }
    cpu_storage *c = spare_take(&spare_storages, sizeof *c);
    if (!c)
        return NULL;
    c->s.data = nbytes <= INLINE_BYTES ? c->data : tg_malloc(nbytes);
    if (!c->s.data) {
        spare_put(&spare_storages, c);
        return NULL;
    }
    return &c->s;
}

/* The count *c after one reference is dropped.  The holder of the only
 * reference is the only thread that can reach the count (no other can take
 * a reference to what it does not hold), so dropping the last one needs no
 * atomic read-modify-write, whose lock costs some twenty cycles (a sixth
 * of a small training step went to them); the acquire load still orders
 * the other holders' earlier writes before the free. */
static inline int drop_ref(int *c)
{
    if (__atomic_load_n(c, __ATOMIC_ACQUIRE) == 1) {
        __atomic_store_n(c, 0, __ATOMIC_RELAXED);
        return 0;
    }
    return tg_atomic_dec(c);
}

void tg_storage_release(tg_storage *s)
{
    if (s && drop_ref(&s->refcount) == 0)
        storage_free(s);
}

void tg_share_storage(tg_tensor *dst, const tg_tensor *src)
{
    dst->storage = src->storage;
    tg_atomic_inc(&src->storage->refcount);
    dst->offset = src->offset;
}

/* In free_unsaved mode (core.h), an intermediate that only the graph holds
 * now, whose values no backward reads, gives up its memory when its last
 * other holder lets go (tg_apply drops it at once when that holder was the
 * op consuming it).  Views keep theirs: it is another tensor's. */
static void drop_if_graph_only(tg_tensor *u, int refs)
{
    if (tg_mode.free_unsaved && !tg_mode.tracing && u->op && !u->tape.grad_view && u->storage &&
        u->tape.data_needed == 0 && refs == __atomic_load_n(&u->tape.graph_refs, __ATOMIC_ACQUIRE)) {
        tg_storage_release(u->storage);
        u->storage = NULL;
    }
}

/* Releasing walks the graph with an explicit stack: a long chain of
 * intermediates must not recurse once per node. */
void tg_release(tg_tensor *t)
{
    tg_tensor *stack_buf[64], **stack = stack_buf;
    size_t n = 0, cap = 64;
    if (!t)
        return;
    stack[n++] = t;
    while (n) {
        tg_tensor *u = stack[--n];
        int left = drop_ref(&u->refcount);
        if (left > 0) {
            drop_if_graph_only(u, left);
            continue;
        }
        for (int i = 0; i < u->nin; i++) {
            if (!u->in[i])
                continue;
            tg_graph_unref(u->in[i]);
            if (n == cap) {
                size_t ncap = cap * 2;
                tg_tensor **ns = malloc(ncap * sizeof *ns); /* not tg_malloc: release must not fail by injection */
                if (!ns) { tg_release(u->in[i]); continue; } /* recursion is the fallback */
                memcpy(ns, stack, n * sizeof *ns);
                if (stack != stack_buf)
                    free(stack);
                stack = ns;
                cap = ncap;
            }
            stack[n++] = u->in[i];
        }
        if (u->grad) /* its own walk: a gradient's graph is separate */
            tg_release(u->grad);
        if (u->tape.grad_view && u->storage)
            u->storage->grad_views--;
        if (u->tape.grad_acc)
            tg_release(u->tape.grad_acc);
        tg_storage_release(u->storage);
        if (u->name)
            tg_free(u->name);
        if (u->attrs != &tg_no_attrs)
            tg_free((void *)u->attrs);
        spare_put(&spare_tensors, u);
    }
    if (stack != stack_buf)
        free(stack);
}

tg_status tg_shape_check(int ndim, const int64_t *shape, int64_t *numel)
{
    if (ndim < 0 || ndim > TG_MAX_DIMS)
        return tg_error(TG_EINPUT, "rank %d exceeds the limit of %d dimensions", ndim, TG_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return tg_error(TG_EINPUT, "negative dimension %lld in shape", (long long)shape[i]);
        if (__builtin_mul_overflow(n, shape[i], &n) || n > TG_MAX_ELEMS)
            return tg_error(TG_EINPUT, "shape has too many elements (the limit is 2^40)");
    }
    if (numel)
        *numel = n;
    return TG_OK;
}

/* Row-major strides, a size 0 counting as 1 (as PyTorch does).  A shape
 * with no elements may have dims whose product overflows: such strides are
 * never used to reach an element, so they saturate instead. */
void tg_set_contiguous_strides(tg_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = s;
        if (__builtin_mul_overflow(s, t->shape[i] ? t->shape[i] : 1, &s))
            s = INT64_MAX;
    }
}

/* The shape's element count into *numel, true when the shape is valid
 * (no error set: tg_shape_check says what is wrong) */
static inline bool shape_ok(int ndim, const int64_t *shape, int64_t *numel)
{
    if (ndim < 0 || ndim > TG_MAX_DIMS)
        return false;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || __builtin_mul_overflow(n, shape[i], &n) || n > TG_MAX_ELEMS)
            return false;
    *numel = n;
    return true;
}

tg_tensor *tg_new_meta(tg_dtype dt, int ndim, const int64_t *shape)
{
    int64_t numel;
    if (!shape_ok(ndim, shape, &numel)) /* an invalid shape: the message */
        return tg_shape_check(ndim, shape, &numel), NULL;
    tg_tensor *t = spare_take(&spare_tensors, sizeof *t);
    if (!t)
        return NULL;
    t->refcount = 1;
    t->dtype = dt;
    t->ndim = ndim;
    t->numel = numel;
    t->pos = -1;
    t->id = (int)tg_next_id();
    t->attrs = &tg_no_attrs;
    if (numel == 0) { /* strides that may saturate */
        if (ndim)
            memcpy(t->shape, shape, ndim * sizeof *shape);
        tg_set_contiguous_strides(t);
        return t;
    }
    /* with elements, every suffix product is at most numel: no overflow */
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->stride[i] = s;
        s *= shape[i];
    }
    return t;
}

tg_status tg_alloc_storage(tg_tensor *t)
{
    int64_t nbytes;
    if (__builtin_mul_overflow(t->numel, (int64_t)tg_dtype_size(t->dtype), &nbytes))
        return tg_error(TG_EINPUT, "tensor byte size overflows");
    tg_device dev = tg_get_device();
    tg_storage *s;
    if (dev == TG_DEV_CPU) {
        if (!(s = cpu_storage_new((size_t)nbytes)))
            return TG_ERESOURCE;
    } else { /* on cuda, managed memory: the kernels and the host code share it */
        if (!(s = tg_calloc(1, sizeof *s)))
            return TG_ERESOURCE;
        if (!(s->data = tg_device_memory_of(dev)->alloc((size_t)nbytes))) {
            tg_free(s);
            return TG_ERESOURCE;
        }
    }
    s->device = dev;
    s->nbytes = (size_t)nbytes;
    s->refcount = 1;
    t->storage = s;
    t->offset = 0;
    tg_set_contiguous_strides(t);
    return TG_OK;
}

tg_tensor *tg_empty(tg_dtype dt, int ndim, const int64_t *shape)
{
    tg_tensor *t = tg_new_meta(dt, ndim, shape);
    if (t && tg_alloc_storage(t) != TG_OK) {
        tg_release(t);
        return NULL;
    }
    return t;
}

static void fill(tg_tensor *t, double v)
{
    void *d = tg_data(t);
    int64_t n = t->numel;
    switch (t->dtype) {
    case TG_FLOAT32: for (int64_t i = 0; i < n; i++) ((float *)d)[i] = (float)v; break;
    case TG_FLOAT64: for (int64_t i = 0; i < n; i++) ((double *)d)[i] = v; break;
    case TG_INT64: for (int64_t i = 0; i < n; i++) ((int64_t *)d)[i] = tg_f64_to_i64(v); break;
    case TG_BOOL: memset(d, v != 0, (size_t)n); break;
    default: break;
    }
}

tg_tensor *tg_full(tg_dtype dt, int ndim, const int64_t *shape, double value)
{
    tg_tensor *t = tg_empty(dt, ndim, shape);
    if (t)
        fill(t, value);
    return t;
}

tg_tensor *tg_zeros(tg_dtype dt, int ndim, const int64_t *shape)
{
    tg_tensor *t = tg_empty(dt, ndim, shape);
    if (t)
        memset(tg_data(t), 0, t->storage->nbytes);
    return t;
}

tg_tensor *tg_scalar(double value, tg_dtype dt) { return tg_full(dt, 0, NULL, value); }

tg_tensor *tg_scalar_i64(int64_t value)
{
    tg_tensor *t = tg_empty(TG_INT64, 0, NULL);
    if (t)
        *(int64_t *)tg_data(t) = value;
    return t;
}

tg_tensor *tg_scalar_like(double v, const tg_tensor *like) { return tg_scalar(v, like->dtype); }
tg_tensor *tg_zeros_like(const tg_tensor *like) { return tg_zeros(like->dtype, like->ndim, like->shape); }
tg_tensor *tg_ones_like(const tg_tensor *like) { return tg_full(like->dtype, like->ndim, like->shape, 1); }

tg_tensor *tg_from_data(tg_dtype dt, int ndim, const int64_t *shape, const void *data)
{
    tg_tensor *t = tg_empty(dt, ndim, shape);
    if (t && t->storage->nbytes)
        memcpy(tg_data(t), data, t->storage->nbytes);
    return t;
}

tg_tensor *tg_arange(double start, double stop, double step, tg_dtype dt)
{
    if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
        tg_error(TG_EINPUT, "arange: step must be non-zero and bounds finite");
        return NULL;
    }
    double nd = ceil((stop - start) / step);
    if (nd > (double)TG_MAX_ELEMS) {
        tg_error(TG_EINPUT, "arange: too many elements (the limit is 2^40)");
        return NULL;
    }
    int64_t n = nd > 0 ? (int64_t)nd : 0;
    tg_tensor *t = tg_empty(dt, 1, &n);
    if (!t)
        return NULL;
    for (int64_t i = 0; i < n; i++) {
        double v = start + (double)i * step;
        switch (dt) {
        case TG_FLOAT32: ((float *)tg_data(t))[i] = (float)v; break;
        case TG_FLOAT64: ((double *)tg_data(t))[i] = v; break;
        case TG_INT64: ((int64_t *)tg_data(t))[i] = tg_f64_to_i64(v); break;
        default: ((bool *)tg_data(t))[i] = v != 0; break;
        }
    }
    return t;
}

/* int64 forms of tg_full and tg_arange, exact where a double would round
 * the value or the bounds (beyond 2^53): arange(2**53 + 1, 2**53 + 3) has
 * two elements, and full((2,), 2**63 - 1) holds 2**63 - 1. */
tg_tensor *tg_full_i64(int ndim, const int64_t *shape, int64_t value)
{
    tg_tensor *t = tg_empty(TG_INT64, ndim, shape);
    if (t)
        for (int64_t i = 0; i < t->numel; i++)
            ((int64_t *)tg_data(t))[i] = value;
    return t;
}

/* hi - lo for lo < hi, which may exceed INT64_MAX, with no wrap */
static uint64_t span_u64(int64_t lo, int64_t hi)
{
    if (lo >= 0 || hi < 0)
        return (uint64_t)(hi - lo);
    return (uint64_t)hi + (uint64_t)(-(lo + 1)) + 1;
}

tg_tensor *tg_arange_i64(int64_t start, int64_t stop, int64_t step)
{
    if (step == 0) {
        tg_error(TG_EINPUT, "arange: step must be non-zero");
        return NULL;
    }
    int64_t n = 0;
    if (step > 0 ? start < stop : stop < start) {
        uint64_t span = step > 0 ? span_u64(start, stop) : span_u64(stop, start);
        uint64_t mag = step > 0 ? (uint64_t)step : (uint64_t)(-(step + 1)) + 1;
        uint64_t count = (span - 1) / mag + 1;
        if (count > (uint64_t)TG_MAX_ELEMS) {
            tg_error(TG_EINPUT, "arange: too many elements (the limit is 2^40)");
            return NULL;
        }
        n = (int64_t)count;
    }
    tg_tensor *t = tg_empty(TG_INT64, 1, &n);
    int64_t v = start;
    for (int64_t i = 0; t && i < n; i++) {
        ((int64_t *)tg_data(t))[i] = v;
        if (i + 1 < n) /* the next element exists, so v + step is in range */
            v += step;
    }
    return t;
}

tg_tensor *tg_eye(int64_t n, int64_t m, tg_dtype dt)
{
    int64_t shape[2] = {n, m};
    tg_tensor *t = tg_zeros(dt, 2, shape);
    if (!t)
        return NULL;
    for (int64_t i = 0; i < n && i < m; i++) {
        int64_t k = i * m + i;
        switch (dt) {
        case TG_FLOAT32: ((float *)tg_data(t))[k] = 1; break;
        case TG_FLOAT64: ((double *)tg_data(t))[k] = 1; break;
        case TG_INT64: ((int64_t *)tg_data(t))[k] = 1; break;
        default: ((bool *)tg_data(t))[k] = 1; break;
        }
    }
    return t;
}

bool tg_is_contiguous(const tg_tensor *t)
{
    if (t->numel == 0)
        return true; /* nothing to lay out */
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s)
            return false;
        s *= t->shape[i];
    }
    return true;
}

void *tg_data(const tg_tensor *t)
{
    if (!t->offset) /* most tensors: no size to look up */
        return t->storage->data;
    return (char *)t->storage->data + t->offset * (int64_t)tg_dtype_size(t->dtype);
}

/* element i (row-major) of the view: its address */
static const char *element(const tg_tensor *t, int64_t i)
{
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t sz = t->shape[d];
        off += (i % sz) * t->stride[d];
        i /= sz;
    }
    return (const char *)tg_data(t) + off * (int64_t)tg_dtype_size(t->dtype);
}

double tg_get(const tg_tensor *t, int64_t i)
{
    const char *e = element(t, i);
    switch (t->dtype) {
    case TG_FLOAT32: return *(const float *)e;
    case TG_FLOAT64: return *(const double *)e;
    case TG_INT64: return (double)*(const int64_t *)e;
    default: return *(const bool *)e;
    }
}

int64_t tg_f64_to_i64(double x)
{
    /* C leaves out-of-range conversions undefined; PyTorch on x86-64 gets
     * the processor's "integer indefinite" for them, INT64_MIN, and for NaN */
    return x >= -9223372036854775808.0 && x < 9223372036854775808.0 ? (int64_t)x : INT64_MIN;
}

int64_t tg_get_i64(const tg_tensor *t, int64_t i)
{
    const char *e = element(t, i);
    switch (t->dtype) {
    case TG_FLOAT32: return tg_f64_to_i64(*(const float *)e);
    case TG_FLOAT64: return tg_f64_to_i64(*(const double *)e);
    case TG_INT64: return *(const int64_t *)e;
    default: return *(const bool *)e;
    }
}

double tg_item(const tg_tensor *t) { return t->numel ? tg_get(t, 0) : NAN; }

const char *tg_shape_str_raw(int ndim, const int64_t *shape, char *buf, size_t n)
{
    size_t k = 0;
    k += snprintf(buf + k, n - k, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
    return buf;
}

const char *tg_shape_str(const tg_tensor *t, char *buf, size_t n)
{
    return tg_shape_str_raw(t->ndim, t->shape, buf, n);
}

tg_status tg_broadcast_shapes(int na, const int64_t *a, int nb, const int64_t *b,
                              int *nout, int64_t *out)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) { /* i counts from the right */
        int64_t da = i < na ? a[na - 1 - i] : 1, db = i < nb ? b[nb - 1 - i] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[256], sb[256];
            return tg_error(TG_EINPUT,
                            "shapes %s and %s cannot be broadcast: dimension %d (counting from the "
                            "right, as NumPy does; dimension %d of the result) is %lld in one and "
                            "%lld in the other, and neither is 1",
                            tg_shape_str_raw(na, a, sa, sizeof sa), tg_shape_str_raw(nb, b, sb, sizeof sb),
                            -(i + 1), n - 1 - i, (long long)da, (long long)db);
        }
        out[n - 1 - i] = da == 1 ? db : da;
    }
    *nout = n;
    return TG_OK;
}

int64_t tg_norm_dim(int64_t d, int ndim, const char *op, tg_status *st)
{
    int n = ndim ? ndim : 1; /* PyTorch lets a 0-D tensor take dim 0 or -1 */
    if (d < -n || d >= n) {
        *st = tg_error(TG_EINPUT, "%s: dimension %lld is out of range for a %d-D tensor "
                       "(expected %d to %d)", op, (long long)d, ndim, -n, n - 1);
        return 0;
    }
    *st = TG_OK;
    return d < 0 ? d + n : d;
}

/* ---- grad mode ---- */
void tg_set_requires_grad(tg_tensor *t, bool on) { t->requires_grad = on; }
