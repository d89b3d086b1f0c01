/* ops_gather.c -- ops that move elements by position: cat (of two
 * tensors; cat and stack of a list are trees of it), gather and its
 * backward scatter_add, and index_select (advanced indexing) and its
 * backward index_add.  Each backward is the other op of its pair, so
 * higher derivatives come for free.  attrs.slice.dim holds the dim,
 * attrs.shape the shape a backward op writes (its forward's input's).
 * The wrappers hand the forwards contiguous operands. */
#include "internal.h"
#include "nn.h"
#include <string.h>

static tg_tensor *fail(tg_tensor *a) { tg_release(a); return NULL; }

/* product of shape[from..to) */
static int64_t span(const int64_t *shape, int from, int to)
{
    int64_t n = 1;
    for (int d = from; d < to; d++)
        n *= shape[d];
    return n;
}

static tg_status need_contiguous(const char *op, tg_tensor **in, int n)
{
    for (int i = 0; i < n; i++)
        if (!tg_is_contiguous(in[i]))
            return tg_error(TG_EINPUT, "%s: internal error: operand %d is not contiguous", op, i);
    return TG_OK;
}

/* adds n elements of src to dst (float dtypes; the gradients) */
static void add_run(tg_dtype dt, char *dst, const char *src, int64_t n)
{
    if (dt == TG_FLOAT32)
        for (int64_t i = 0; i < n; i++)
            ((float *)dst)[i] += ((const float *)src)[i];
    else if (dt == TG_FLOAT64)
        for (int64_t i = 0; i < n; i++)
            ((double *)dst)[i] += ((const double *)src)[i];
    else if (dt == TG_INT64)
        for (int64_t i = 0; i < n; i++)
            ((int64_t *)dst)[i] += ((const int64_t *)src)[i];
    else
        for (int64_t i = 0; i < n; i++)
            ((bool *)dst)[i] |= ((const bool *)src)[i];
}

static tg_status out_of_bounds(int64_t k, int dim, int64_t size)
{
    return tg_error(TG_EINPUT, "index %lld is out of bounds for dimension %d with size %lld", (long long)k, dim,
                    (long long)size);
}

/* op on the device (kernels/tg_cuda_move.cu) where its operands are
 * there, else TG_NO; an index out of range is reported as the host loops
 * report it */
static tg_status index_on_device(int op, tg_tensor *src, tg_tensor *idx, int dim, tg_tensor *out)
{
    int64_t bad;
    tg_status st = tg_cuda_index(op, src, idx, dim, out, &bad);
    if (st != TG_OK || bad < 0)
        return st;
    const tg_tensor *big = op == TG_OP_GATHER || op == TG_OP_INDEX_SELECT ? src : out;
    return out_of_bounds(((const int64_t *)tg_data(idx))[bad], dim, big->shape[dim]);
}

/* ---- cat of two tensors along attrs.slice.dim ---- */
tg_status op_infer_cat(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    out->dtype = in[0]->dtype;
    out->shape[a->slice.dim] = in[0]->shape[a->slice.dim] + in[1]->shape[a->slice.dim];
    return tg_shape_check(out->ndim, out->shape, &out->numel);
}

tg_status op_fwd_cat(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)op;
    if (need_contiguous("cat", in, 2) != TG_OK)
        return TG_EINPUT;
    int dim = a->slice.dim;
    tg_status st = tg_cuda_cat(in[0], in[1], dim, out);
    if (st != TG_NO)
        return st;
    size_t sz = tg_dtype_size(out->dtype);
    int64_t outer = span(out->shape, 0, dim), inner = span(out->shape, dim + 1, out->ndim);
    size_t na = (size_t)(in[0]->shape[dim] * inner) * sz, nb = (size_t)(in[1]->shape[dim] * inner) * sz;
    char *o = tg_data(out);
    const char *pa = tg_data(in[0]), *pb = tg_data(in[1]);
    for (int64_t i = 0; i < outer; i++) {
        if (na)
            memcpy(o, pa + i * na, na);
        if (nb)
            memcpy(o + na, pb + i * nb, nb);
        o += na + nb;
    }
    return TG_OK;
}

tg_status op_bw_cat(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    int dim = self->attrs->slice.dim;
    int64_t n0 = self->in[0]->shape[dim];
    gin[0] = tg_slice(tg_ref(g), dim, 0, n0, 1);
    gin[1] = tg_slice(tg_ref(g), dim, n0, self->shape[dim], 1);
    return TG_OK;
}

/* ---- gather(x, dim, index) and scatter_add into zeros ---- */
tg_status op_infer_gather(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)a;
    out->dtype = in[0]->dtype;
    out->ndim = in[1]->ndim;
    memcpy(out->shape, in[1]->shape, sizeof out->shape);
    return tg_shape_check(out->ndim, out->shape, &out->numel);
}

/* Walks every element of the index (shape of idx, contiguous) with the
 * offset, in elements, of the same position in a contiguous tensor of
 * shape big whose coordinate along dim is the index's value; fn gets both
 * offsets.  An index out of [0, big[dim]) is an error. */
typedef void (*pair_fn)(int64_t big_off, int64_t idx_off, void *ctx);
static tg_status walk_index(const tg_tensor *idx, int ndim, const int64_t *big, int dim, pair_fn fn, void *ctx)
{
    int64_t stride[TG_MAX_DIMS], coord[TG_MAX_DIMS] = {0}, s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= big[d];
    }
    const int64_t *iv = tg_data(idx);
    int64_t base = 0; /* offset of coord in big, with coordinate 0 along dim */
    for (int64_t i = 0; i < idx->numel; i++) {
        int64_t k = iv[i];
        if (k < 0 || k >= big[dim])
            return out_of_bounds(k, dim, big[dim]);
        fn(base + k * stride[dim], i, ctx);
        for (int d = ndim - 1; d >= 0; d--) { /* next coordinate of idx */
            if (++coord[d] < idx->shape[d]) {
                if (d != dim)
                    base += stride[d];
                break;
            }
            if (d != dim)
                base -= (coord[d] - 1) * stride[d];
            coord[d] = 0;
        }
    }
    return TG_OK;
}

typedef struct {
    char *dst;
    const char *src;
    size_t sz;
    tg_dtype dt;
} move_ctx;

static void gather_one(int64_t big_off, int64_t idx_off, void *ctx)
{
    move_ctx *m = ctx;
    memcpy(m->dst + idx_off * m->sz, m->src + big_off * m->sz, m->sz);
}

static void scatter_one(int64_t big_off, int64_t idx_off, void *ctx)
{
    move_ctx *m = ctx;
    add_run(m->dt, m->dst + big_off * m->sz, m->src + idx_off * m->sz, 1);
}

tg_status op_fwd_gather(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)op;
    if (need_contiguous("gather", in, 2) != TG_OK)
        return TG_EINPUT;
    tg_status st = index_on_device(op, in[0], in[1], a->slice.dim, out);
    if (st != TG_NO)
        return st;
    move_ctx m = {tg_data(out), tg_data(in[0]), tg_dtype_size(out->dtype), out->dtype};
    return walk_index(in[1], in[0]->ndim, in[0]->shape, a->slice.dim, gather_one, &m);
}

tg_status op_bw_gather(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_attrs a = *self->attrs;
    a.shape.ndim = self->in[0]->ndim;
    memcpy(a.shape.shape, self->in[0]->shape, sizeof a.shape.shape);
    gin[0] = tg_apply(TG_OP_SCATTER_ADD, 2, (tg_tensor *[]){tg_contiguous(tg_ref(g)), IN(self, 1)}, &a);
    return TG_OK;
}

tg_status op_infer_scatter_add(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    out->dtype = in[0]->dtype;
    out->ndim = a->shape.ndim;
    memcpy(out->shape, a->shape.shape, sizeof out->shape);
    return tg_shape_check(out->ndim, out->shape, &out->numel);
}

tg_status op_fwd_scatter_add(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)op;
    if (need_contiguous("scatter_add", in, 2) != TG_OK)
        return TG_EINPUT;
    tg_status st = index_on_device(op, in[0], in[1], a->slice.dim, out);
    if (st != TG_NO)
        return st;
    memset(tg_data(out), 0, (size_t)out->numel * tg_dtype_size(out->dtype));
    move_ctx m = {tg_data(out), tg_data(in[0]), tg_dtype_size(out->dtype), out->dtype};
    return walk_index(in[1], out->ndim, out->shape, a->slice.dim, scatter_one, &m);
}

tg_status op_bw_scatter_add(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_apply(TG_OP_GATHER, 2, (tg_tensor *[]){tg_contiguous(tg_ref(g)), IN(self, 1)}, self->attrs);
    return TG_OK;
}

/* ---- index_select(x, dim, idx) for a 1-D idx, and index_add into zeros ---- */
tg_status op_infer_index_select(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    out->dtype = in[0]->dtype;
    out->shape[a->slice.dim] = in[1]->numel;
    return tg_shape_check(out->ndim, out->shape, &out->numel);
}

/* index k along a dim of size n, negative ones counting from the end */
static tg_status wrap_index(int64_t k, int dim, int64_t n, int64_t *out)
{
    if (k < -n || k >= n)
        return out_of_bounds(k, dim, n);
    *out = k < 0 ? k + n : k;
    return TG_OK;
}

/* moves rows of inner elements between big (size n along dim) and small
 * (one row per index), copying (gather) or adding (scatter) */
static tg_status index_rows(const tg_tensor *idx, const int64_t *big_shape, int ndim, int dim, char *big,
                            char *small, tg_dtype dt, bool scatter)
{
    size_t sz = tg_dtype_size(dt);
    int64_t outer = span(big_shape, 0, dim), inner = span(big_shape, dim + 1, ndim), n = big_shape[dim];
    const int64_t *iv = tg_data(idx);
    size_t row = (size_t)inner * sz;
    for (int64_t j = 0; j < idx->numel; j++) {
        int64_t k = 0;
        if (wrap_index(iv[j], dim, n, &k) != TG_OK)
            return TG_EINPUT;
        for (int64_t o = 0; o < outer && row; o++) {
            char *b = big + (size_t)(o * n + k) * row, *s = small + (size_t)(o * idx->numel + j) * row;
            if (scatter)
                add_run(dt, b, s, inner);
            else
                memcpy(s, b, row);
        }
    }
    return TG_OK;
}

tg_status op_fwd_index_select(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)op;
    if (need_contiguous("index", in, 2) != TG_OK)
        return TG_EINPUT;
    tg_status st = index_on_device(op, in[0], in[1], a->slice.dim, out);
    if (st != TG_NO)
        return st;
    return index_rows(in[1], in[0]->shape, in[0]->ndim, a->slice.dim, tg_data(in[0]), tg_data(out), out->dtype,
                      false);
}

tg_status op_bw_index_select(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    tg_attrs a = *self->attrs;
    a.shape.ndim = self->in[0]->ndim;
    memcpy(a.shape.shape, self->in[0]->shape, sizeof a.shape.shape);
    gin[0] = tg_apply(TG_OP_INDEX_ADD, 2, (tg_tensor *[]){tg_contiguous(tg_ref(g)), IN(self, 1)}, &a);
    return TG_OK;
}

tg_status op_infer_index_add(tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    return op_infer_scatter_add(in, a, out);
}

tg_status op_fwd_index_add(int op, tg_tensor **in, const tg_attrs *a, tg_tensor *out)
{
    (void)op;
    if (need_contiguous("index_add", in, 2) != TG_OK)
        return TG_EINPUT;
    tg_status st = index_on_device(op, in[0], in[1], a->slice.dim, out);
    if (st != TG_NO)
        return st;
    memset(tg_data(out), 0, (size_t)out->numel * tg_dtype_size(out->dtype));
    return index_rows(in[1], out->shape, out->ndim, a->slice.dim, tg_data(out), tg_data(in[0]), out->dtype, true);
}

tg_status op_bw_index_add(tg_tensor *self, tg_tensor *g, tg_tensor **gin)
{
    gin[0] = tg_apply(TG_OP_INDEX_SELECT, 2, (tg_tensor *[]){tg_contiguous(tg_ref(g)), IN(self, 1)},
                      self->attrs);
    return TG_OK;
}

/* ---- the public functions ---- */
static bool is_index_dtype(const tg_tensor *t) { return t->dtype == TG_INT64; }

/* PyTorch takes indices on the cpu for a tensor on cuda (they are copied
 * over), not the other way */
static tg_status check_index_device(const tg_tensor *x, const tg_tensor *idx)
{
    tg_device dx = x->storage->device, di = idx->storage->device;
    if (di != dx && di != TG_DEV_CPU)
        return tg_error(TG_EINPUT, "indices should be either on cpu or on the same device as the indexed "
                        "tensor (%s)", tg_device_name(dx));
    return TG_OK;
}

/* idx (consumed) on x's device */
static tg_tensor *index_on_device_of(const tg_tensor *x, tg_tensor *idx)
{
    if (check_index_device(x, idx) != TG_OK)
        return fail(idx);
    if (idx->storage->device == x->storage->device)
        return idx;
    tg_device old = tg_get_device();
    tg_set_device(x->storage->device);
    tg_tensor *r = tg_apply(TG_OP_CONTIGUOUS, 1, &idx, NULL);
    tg_set_device(old);
    return r;
}

static tg_status check_cat_pair(const tg_tensor *a, const tg_tensor *b, int dim, int pos)
{
    if (a->ndim != b->ndim)
        return tg_error(TG_EINPUT, "Tensors must have same number of dimensions: got %d and %d", a->ndim, b->ndim);
    for (int d = 0; d < a->ndim; d++)
        if (d != dim && a->shape[d] != b->shape[d])
            return tg_error(TG_EINPUT, "Sizes of tensors must match except in dimension %d. Expected size %lld "
                            "but got size %lld for tensor number %d in the list.", dim, (long long)a->shape[d],
                            (long long)b->shape[d], pos);
    return TG_OK;
}

/* cat of ts[lo..hi) (each consumed), a balanced tree of two-tensor cats */
static tg_tensor *cat_range(tg_tensor **ts, int lo, int hi, int dim)
{
    if (hi - lo == 1)
        return ts[lo];
    int mid = lo + (hi - lo) / 2;
    tg_tensor *a = cat_range(ts, lo, mid, dim);
    tg_tensor *b = cat_range(ts, mid, hi, dim);
    if (!a || !b) {
        tg_release(a);
        tg_release(b);
        return NULL;
    }
    tg_attrs at;
    memset(&at, 0, sizeof at);
    at.slice.dim = dim;
    return tg_apply(TG_OP_CAT, 2, (tg_tensor *[]){tg_contiguous(a), tg_contiguous(b)}, &at);
}

static void release_n(tg_tensor **ts, int n)
{
    for (int i = 0; i < n; i++)
        tg_release(ts[i]);
}

tg_tensor *tg_cat(tg_tensor **ts, int n, int64_t dim)
{
    if (n == 0) {
        tg_error(TG_EINPUT, "cat(): expected a non-empty list of Tensors");
        return NULL;
    }
    /* PyTorch skips 1-D empty tensors (a legacy rule) when others have another rank */
    int ref = 0;
    while (ref < n - 1 && ts[ref]->ndim == 1 && ts[ref]->numel == 0)
        ref++;
    for (int i = 0; i < n; i++)
        if (ts[i]->ndim == 0) {
            tg_error(TG_EINPUT, "zero-dimensional tensor (at position %d) cannot be concatenated", i);
            release_n(ts, n);
            return NULL;
        }
    tg_status st;
    int64_t d = tg_norm_dim(dim, ts[ref]->ndim, "cat", &st);
    for (int i = 0; i < n && st == TG_OK; i++)
        if (!(ts[i]->ndim == 1 && ts[i]->numel == 0 && ts[ref]->ndim != 1))
            st = check_cat_pair(ts[ref], ts[i], (int)d, i);
    if (st != TG_OK) {
        release_n(ts, n);
        return NULL;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (ts[i]->ndim == 1 && ts[i]->numel == 0 && ts[ref]->ndim != 1)
            tg_release(ts[i]);
        else
            ts[k++] = ts[i];
    }
    if (k == 1) /* still a new tensor, as torch.cat's result is */
        return tg_apply(TG_OP_CONTIGUOUS, 1, &ts[0], NULL);
    return cat_range(ts, 0, k, (int)d);
}

tg_tensor *tg_stack(tg_tensor **ts, int n, int64_t dim)
{
    if (n == 0) {
        tg_error(TG_EINPUT, "stack expects a non-empty TensorList");
        return NULL;
    }
    for (int i = 1; i < n; i++)
        if (ts[i]->ndim != ts[0]->ndim || memcmp(ts[i]->shape, ts[0]->shape, ts[0]->ndim * sizeof(int64_t))) {
            char s0[256], s1[256];
            tg_error(TG_EINPUT, "stack expects each tensor to be equal size, but got %s at entry 0 and %s at "
                     "entry %d", tg_shape_str(ts[0], s0, sizeof s0), tg_shape_str(ts[i], s1, sizeof s1), i);
            release_n(ts, n);
            return NULL;
        }
    int nd = ts[0]->ndim + 1;
    if (dim < -nd || dim >= nd) {
        tg_error(TG_EINPUT, "Dimension out of range (expected to be in range of [%d, %d], but got %lld)", -nd,
                 nd - 1, (long long)dim);
        release_n(ts, n);
        return NULL;
    }
    if (dim < 0)
        dim += nd;
    bool ok = true;
    for (int i = 0; i < n; i++)
        ok = (ts[i] = tg_unsqueeze(ts[i], dim)) != NULL && ok;
    if (!ok) {
        release_n(ts, n);
        return NULL;
    }
    return tg_cat(ts, n, dim);
}

tg_tensor *tg_gather(tg_tensor *x, int64_t dim, tg_tensor *index)
{
    if (!x || !index) {
        tg_release(x);
        return fail(index);
    }
    tg_status st = TG_OK;
    char sx[256], si[256];
    if (!is_index_dtype(index))
        st = tg_error(TG_EINPUT, "gather(): Expected dtype int64 for index");
    else if (index->ndim != x->ndim && !(index->ndim <= 1 && x->ndim <= 1))
        st = tg_error(TG_EINPUT, "Index tensor must have the same number of dimensions as input tensor");
    int64_t d = 0;
    if (st == TG_OK)
        d = tg_norm_dim(dim, x->ndim, "gather", &st);
    for (int k = 0; st == TG_OK && k < index->ndim && index->ndim == x->ndim; k++)
        if (k != d && index->shape[k] > x->shape[k])
            st = tg_error(TG_EINPUT, "Size does not match at dimension %d expected index %s to be smaller than "
                          "self %s apart from dimension %lld", k, tg_shape_str(index, si, sizeof si),
                          tg_shape_str(x, sx, sizeof sx), (long long)d);
    if (st != TG_OK) {
        tg_release(x);
        return fail(index);
    }
    if (x->ndim == 0 || index->ndim == 0) { /* as 1-D, then back */
        int64_t one = 1;
        bool idx0 = index->ndim == 0;
        tg_tensor *r = tg_gather(tg_reshape(x, 1, &one), 0, idx0 ? tg_reshape(index, 1, &one) : index);
        return idx0 ? tg_reshape(r, 0, NULL) : r;
    }
    tg_attrs at;
    memset(&at, 0, sizeof at);
    at.slice.dim = (int)d;
    return tg_apply(TG_OP_GATHER, 2, (tg_tensor *[]){tg_contiguous(x), tg_contiguous(index)}, &at);
}

/* x indexed along dim by idx (int64, any shape): x.shape[:dim] + idx.shape
 * + x.shape[dim+1:], negative indices counting from the end */
tg_tensor *tg_index_tensor(tg_tensor *x, int64_t dim, tg_tensor *idx)
{
    if (!x || !idx) {
        tg_release(x);
        return fail(idx);
    }
    if (!is_index_dtype(idx)) {
        tg_error(TG_EINPUT, "tensors used as indices must be long, int, byte or bool tensors");
        tg_release(x);
        return fail(idx);
    }
    tg_status st;
    dim = tg_norm_dim(dim, x->ndim, "index", &st);
    if (st == TG_OK)
        st = check_index_device(x, idx);
    if (st == TG_OK && x->ndim - 1 + idx->ndim > TG_MAX_DIMS)
        st = tg_error(TG_EINPUT, "index: the result would have more than %d dimensions", TG_MAX_DIMS);
    if (st != TG_OK) {
        tg_release(x);
        return fail(idx);
    }
    int64_t shape[TG_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < dim; d++)
        shape[nd++] = x->shape[d];
    for (int d = 0; d < idx->ndim; d++)
        shape[nd++] = idx->shape[d];
    for (int d = (int)dim + 1; d < x->ndim; d++)
        shape[nd++] = x->shape[d];
    int64_t all = -1;
    tg_attrs at;
    memset(&at, 0, sizeof at);
    at.slice.dim = (int)dim;
    tg_tensor *flat = tg_contiguous(tg_reshape(index_on_device_of(x, idx), 1, &all));
    tg_tensor *r = tg_apply(TG_OP_INDEX_SELECT, 2, (tg_tensor *[]){tg_contiguous(x), flat}, &at);
    return tg_name_grad_fn(tg_reshape(r, nd, shape), "IndexBackward0"); /* x[idx], as PyTorch names it */
}

/* *pos: a new 1-D int64 tensor of the positions (row-major) of mask's
 * non-zero elements */
static tg_status true_positions(const tg_tensor *mask, tg_tensor **pos)
{
    int64_t count = 0;
    for (int64_t i = 0; i < mask->numel; i++)
        count += tg_get_i64(mask, i) != 0;
    *pos = tg_empty(TG_INT64, 1, &count);
    if (!*pos)
        return tg_errcode();
    int64_t *pv = tg_data(*pos), j = 0;
    for (int64_t i = 0; i < mask->numel; i++)
        if (tg_get_i64(mask, i))
            pv[j++] = i;
    return TG_OK;
}

/* x indexed at dims dim.. by a bool mask of shape x.shape[dim:dim+mask.ndim]:
 * those dims become one, of the mask's true positions (row-major) */
tg_tensor *tg_index_mask(tg_tensor *x, int64_t dim, tg_tensor *mask)
{
    if (!x || !mask) {
        tg_release(x);
        return fail(mask);
    }
    int k = mask->ndim;
    if (check_index_device(x, mask) != TG_OK) {
        tg_release(x);
        return fail(mask);
    }
    if (dim + k > x->ndim) {
        tg_error(TG_EINPUT, "too many indices for tensor of dimension %d", x->ndim);
        tg_release(x);
        return fail(mask);
    }
    for (int d = 0; d < k; d++)
        if (mask->shape[d] != x->shape[dim + d]) {
            char sm[256], sx[256];
            tg_error(TG_EINPUT, "The shape of the mask %s at index %d does not match the shape of the indexed "
                     "tensor %s at index %lld", tg_shape_str(mask, sm, sizeof sm), d,
                     tg_shape_str(x, sx, sizeof sx), (long long)(dim + d));
            tg_release(x);
            return fail(mask);
        }
    mask = tg_contiguous(mask);
    tg_tensor *pos = NULL;
    tg_status st = mask ? tg_cuda_nonzero(mask, &pos) : TG_ERESOURCE; /* where the mask is on cuda */
    if (st == TG_NO)
        st = true_positions(mask, &pos);
    tg_release(mask);
    if (st != TG_OK)
        return fail(x);
    /* the mask's dims merged into one */
    int64_t shape[TG_MAX_DIMS + 1];
    int nd = 0;
    for (int d = 0; d < dim; d++)
        shape[nd++] = x->shape[d];
    shape[nd++] = span(x->shape, (int)dim, (int)dim + k);
    for (int d = (int)dim + k; d < x->ndim; d++)
        shape[nd++] = x->shape[d];
    if (nd > TG_MAX_DIMS) {
        tg_error(TG_EINPUT, "index: the result would have more than %d dimensions", TG_MAX_DIMS);
        tg_release(pos);
        return fail(x);
    }
    return tg_index_tensor(tg_reshape(x, nd, shape), dim, pos);
}

/* x indexed at dims dim..dim+k-1 by k int64 tensors side by side (x[i, j]):
 * they broadcast together, and the result's dims in their place are their
 * broadcast shape, as PyTorch's.  Done as one index over those dims merged. */
tg_tensor *tg_index_tensors(tg_tensor *x, int64_t dim, tg_tensor **ts, int k)
{
    if (k == 1)
        return tg_index_tensor(x, dim, ts[0]);
    tg_status st = TG_OK;
    if (!x || dim + k > x->ndim)
        st = x ? tg_error(TG_EINPUT, "too many indices for tensor of dimension %d", x->ndim) : TG_EINPUT;
    int nd = 0;
    int64_t shape[TG_MAX_DIMS] = {0};
    for (int j = 0; j < k && st == TG_OK; j++) {
        if (!ts[j] || ts[j]->dtype != TG_INT64)
            st = ts[j] ? tg_error(TG_EINPUT, "tensors used as indices must be long, byte or bool tensors")
                       : TG_EINPUT;
        else if ((st = check_index_device(x, ts[j])) != TG_OK)
            break;
        else /* its message names both shapes */
            st = tg_broadcast_shapes(nd, shape, ts[j]->ndim, ts[j]->shape, &nd, shape);
    }
    tg_tensor *lin = st == TG_OK ? tg_zeros(TG_INT64, nd, shape) : NULL;
    if (!lin) {
        release_n(ts, k);
        return fail(x);
    }
    int64_t *lv = tg_data(lin);
    for (int j = 0; j < k && st == TG_OK; j++) {
        tg_tensor *e = tg_contiguous(tg_expand(ts[j], nd, shape));
        ts[j] = NULL;
        int64_t n = x->shape[dim + j];
        const int64_t *ev = e ? tg_data(e) : NULL;
        for (int64_t i = 0; e && i < lin->numel && st == TG_OK; i++) {
            int64_t w = 0;
            st = wrap_index(ev[i], (int)dim + j, n, &w);
            lv[i] = lv[i] * n + w; /* within the merged dims' element count */
        }
        if (!e)
            st = TG_EINPUT;
        tg_release(e);
    }
    int64_t merged[TG_MAX_DIMS];
    int mn = 0;
    for (int d = 0; d < dim; d++)
        merged[mn++] = x->shape[d];
    merged[mn++] = span(x->shape, (int)dim, (int)dim + k);
    for (int d = (int)dim + k; d < x->ndim; d++)
        merged[mn++] = x->shape[d];
    release_n(ts, k);
    if (st != TG_OK) {
        tg_release(lin);
        return fail(x);
    }
    return tg_index_tensor(tg_reshape(x, mn, merged), dim, lin);
}
