/* torch_repr.c -- what PyTorch 1.13 prints: tensors (print(t), repr(t)),
 * Python floats (repr(x.item())) and grad_fn names.
 *
 * A tensor's text follows torch/_tensor_str.py with the default print
 * options (precision 4, threshold 1000, edgeitems 3, linewidth 80):
 *   - Beyond 1000 elements the text is summarised: each dim longer than 6
 *     shows its first and last 3 entries around "...".  Only the elements
 *     shown are read, for the format as for the text, so an expand()ed
 *     view of any size prints at once.
 *   - One format serves every element of a float tensor, chosen from the
 *     shown values that are finite and not zero: when all are integers,
 *     "1." style, unless the largest magnitude exceeds 1e8 or 1000 times
 *     the smallest, then scientific ("1.0000e+05"); otherwise "%.4f"
 *     unless that ratio or magnitude, or a smallest magnitude below 1e-4,
 *     asks for scientific.  Elements are right-aligned to the widest of
 *     those values (NaN and infinities do not widen it).
 *   - A row (the last dim) holds floor((80 - indent) / (width + 2))
 *     elements a line; the rows of a k-D tensor are separated by "," and
 *     k-1 newlines, each nesting level indented one column more.
 *   - Suffixes follow: device='cuda:0', size=(...) of an empty tensor
 *     that is not 1-D, dtype= where the dtype is not the default float,
 *     int64 or bool (always, for an empty tensor not of the default
 *     float), then grad_fn=<...> or requires_grad=True; each goes on a new
 *     line, indented 7, where it would pass column 80.
 */
#include "torch_repr.h"
#include <inttypes.h>
#include <math.h>
#include <string.h>

enum { PRECISION = 4, THRESHOLD = 1000, EDGEITEMS = 3, LINEWIDTH = 80 };

/* The longest element text: an int64 (20 characters), a scientific float
 * ("-1.7977e+308"), or a fixed or integer-valued one, which are only
 * chosen below 1e8 ("-100000000.0000"). */
#define ELEM_MAX 48

typedef struct {
    const tg_tensor *t;
    const char *base; /* element 0 of the view */
    bool summarize;
    bool int_mode, sci_mode;
    /* the scan of the shown values */
    bool any;           /* a finite non-zero value was seen */
    double lo, hi;      /* their smallest and largest magnitude */
    int width;          /* the widest element's text */
    tg_buf *out;
} printer;

/* ---- elements ---- */
static double elem_double(const printer *p, int64_t off)
{
    switch (p->t->dtype) {
    case TG_FLOAT32: return ((const float *)p->base)[off];
    case TG_FLOAT64: return ((const double *)p->base)[off];
    case TG_INT64: return (double)((const int64_t *)p->base)[off];
    default: return ((const bool *)p->base)[off];
    }
}

static int put_text(char *s, const char *text)
{
    size_t n = strlen(text);
    memcpy(s, text, n + 1);
    return (int)n;
}

/* Python's "{:.4e}", "{:.0f}" + "." or "{:.4f}" of v, as the mode says
 * (Python's text for NaN is "nan" whatever its sign bit) */
static int format_float(const printer *p, double v, char *s)
{
    if (isnan(v))
        return put_text(s, "nan");
    if (isinf(v))
        return put_text(s, v > 0 ? "inf" : "-inf");
    if (p->sci_mode)
        return tg_snprintf_c(s, ELEM_MAX, "%.*e", PRECISION, v);
    if (p->int_mode)
        return tg_snprintf_c(s, ELEM_MAX, "%.0f.", v);
    return tg_snprintf_c(s, ELEM_MAX, "%.*f", PRECISION, v);
}

/* the element at off as PyTorch's formatter writes it, unpadded */
static int format_elem(const printer *p, int64_t off, char *s)
{
    switch (p->t->dtype) {
    case TG_INT64: return tg_snprintf_c(s, ELEM_MAX, "%" PRId64, ((const int64_t *)p->base)[off]);
    case TG_BOOL: return put_text(s, ((const bool *)p->base)[off] ? "True" : "False");
    default: return format_float(p, elem_double(p, off), s);
    }
}

/* ---- choosing the format (PyTorch's _Formatter) ---- */
typedef void (*visit_fn)(printer *p, int64_t off);

/* Calls fn for each element shown, in order.  Recursion is bounded by the
 * rank. */
static void walk(printer *p, int d, int64_t off, visit_fn fn)
{
    const tg_tensor *t = p->t;
    if (d == t->ndim) {
        fn(p, off);
        return;
    }
    int64_t n = t->shape[d];
    bool cut = p->summarize && n > 2 * EDGEITEMS;
    for (int64_t i = 0; i < n; i++) {
        if (cut && i == EDGEITEMS)
            i = n - EDGEITEMS;
        walk(p, d + 1, off + i * t->stride[d], fn);
    }
}

static void scan_magnitude(printer *p, int64_t off)
{
    double v = elem_double(p, off);
    if (!isfinite(v) || v == 0)
        return;
    double a = fabs(v);
    if (!p->any || a < p->lo)
        p->lo = a;
    if (!p->any || a > p->hi)
        p->hi = a;
    p->any = true;
    if (v != ceil(v))
        p->int_mode = false;
}

static void scan_float_width(printer *p, int64_t off)
{
    double v = elem_double(p, off);
    char s[ELEM_MAX];
    if (isfinite(v) && v != 0) {
        int n = format_float(p, v, s);
        if (n > p->width)
            p->width = n;
    }
}

static void scan_width(printer *p, int64_t off)
{
    char s[ELEM_MAX];
    int n = format_elem(p, off, s);
    if (n > p->width)
        p->width = n;
}

static void choose_format(printer *p)
{
    p->width = 1;
    p->int_mode = true;
    p->sci_mode = false;
    if (!tg_dtype_is_float(p->t->dtype)) {
        walk(p, 0, 0, scan_width);
        return;
    }
    walk(p, 0, 0, scan_magnitude);
    if (!p->any)
        return; /* zeros and non-finite values only: "0.", "nan", "inf" */
    double ratio = p->hi / p->lo;
    p->sci_mode = ratio > 1000.0 || p->hi > 1.0e8 || (!p->int_mode && p->lo < 1.0e-4);
    walk(p, 0, 0, scan_float_width);
}

/* ---- the text ---- */
static void put_spaces(tg_buf *b, int64_t n)
{
    static const char spaces[] = "                                ";
    while (n > 0) {
        int64_t k = n < (int64_t)sizeof spaces - 1 ? n : (int64_t)sizeof spaces - 1;
        tg_buf_add(b, spaces, (size_t)k);
        n -= k;
    }
}

static void put_elem(printer *p, int64_t off)
{
    char s[ELEM_MAX];
    int n = format_elem(p, off, s);
    put_spaces(p->out, p->width - n);
    tg_buf_add(p->out, s, (size_t)n);
}

/* the separator before item k of a row laid out per_line a line */
static void row_separator(printer *p, int64_t k, int64_t per_line, int indent)
{
    if (k == 0)
        return;
    if (k % per_line) {
        tg_buf_add(p->out, ", ", 2);
        return;
    }
    tg_buf_add(p->out, ",\n", 2);
    put_spaces(p->out, indent + 1);
}

/* the last dim, from off (PyTorch's _vector_str) */
static void put_row(printer *p, int64_t off, int indent)
{
    const tg_tensor *t = p->t;
    int64_t n = t->shape[t->ndim - 1], stride = t->stride[t->ndim - 1];
    int64_t per_line = (LINEWIDTH - indent) / (p->width + 2);
    if (per_line < 1)
        per_line = 1;
    bool cut = p->summarize && n > 2 * EDGEITEMS;
    int64_t k = 0;
    tg_buf_add(p->out, "[", 1);
    for (int64_t i = 0; i < n; i++) {
        if (cut && i == EDGEITEMS) {
            row_separator(p, k++, per_line, indent);
            tg_buf_add(p->out, " ...", 4);
            i = n - EDGEITEMS;
        }
        row_separator(p, k++, per_line, indent);
        put_elem(p, off + i * stride);
    }
    tg_buf_add(p->out, "]", 1);
}

/* the "," and newlines between the slices of dim d */
static void slice_separator(printer *p, int d, int indent)
{
    tg_buf_add(p->out, ",", 1);
    for (int k = d; k < p->t->ndim - 1; k++)
        tg_buf_add(p->out, "\n", 1);
    put_spaces(p->out, indent + 1);
}

/* dims d.. from off (PyTorch's _tensor_str_with_formatter); recursion is
 * bounded by the rank */
static void put_dims(printer *p, int d, int64_t off, int indent)
{
    const tg_tensor *t = p->t;
    if (t->ndim == 0) {
        put_elem(p, off);
        return;
    }
    if (d == t->ndim - 1) {
        put_row(p, off, indent);
        return;
    }
    int64_t n = t->shape[d];
    bool cut = p->summarize && n > 2 * EDGEITEMS;
    tg_buf_add(p->out, "[", 1);
    for (int64_t i = 0; i < n; i++) {
        if (i > 0)
            slice_separator(p, d, indent);
        if (cut && i == EDGEITEMS) {
            tg_buf_add(p->out, "...", 3);
            slice_separator(p, d, indent);
            i = n - EDGEITEMS;
        }
        put_dims(p, d + 1, off + i * t->stride[d], indent + 1);
    }
    tg_buf_add(p->out, "]", 1);
}

/* How many elements the text shows: all of them, or the summary's. */
static bool shown_elements(const tg_tensor *t, bool summarize, int64_t *count)
{
    *count = 1;
    for (int d = 0; d < t->ndim; d++) {
        int64_t n = summarize && t->shape[d] > 2 * EDGEITEMS ? 2 * EDGEITEMS : t->shape[d];
        if (tg_mul_overflows(*count, n, count))
            return false;
    }
    return true;
}

/* ---- suffixes (PyTorch's _add_suffixes) ---- */
typedef struct {
    tg_buf text; /* the suffixes, each followed by a zero byte */
    int n;
} suffixes;

static void suffix_add(suffixes *s, const char *fmt, const char *arg)
{
    tg_buf_printf(&s->text, fmt, arg);
    tg_buf_add(&s->text, "", 1);
    s->n++;
}

/* Python's str of the shape tuple: "(0,)", "(2, 0, 3)" */
static void suffix_size(suffixes *s, const tg_tensor *t)
{
    tg_buf_add(&s->text, "size=(", 6);
    for (int d = 0; d < t->ndim; d++)
        tg_buf_printf(&s->text, d ? ", %" PRId64 : "%" PRId64, t->shape[d]);
    tg_buf_add(&s->text, t->ndim == 1 ? ",)" : ")", t->ndim == 1 ? 2 : 1);
    tg_buf_add(&s->text, "", 1);
    s->n++;
}

static void collect_suffixes(suffixes *s, const tg_tensor *t, const char *grad_fn)
{
    if (t->storage && t->storage->device == TG_DEV_CUDA)
        suffix_add(s, "device='%s'", "cuda:0");
    bool default_dtype = t->dtype == tg_default_float || t->dtype == TG_INT64 || t->dtype == TG_BOOL;
    if (t->numel == 0) {
        if (t->ndim != 1)
            suffix_size(s, t);
        default_dtype = t->dtype == tg_default_float; /* no element tells it */
    }
    if (!default_dtype)
        suffix_add(s, "dtype=torch.%s", tg_dtype_name(t->dtype));
    if (grad_fn)
        suffix_add(s, "grad_fn=<%s>", grad_fn);
    else if (t->requires_grad)
        suffix_add(s, "%s", "requires_grad=True");
}

/* Appends the suffixes and ")" after the text that starts at start. */
static void put_suffixes(tg_buf *out, size_t start, const suffixes *s)
{
    const int indent = 7; /* "tensor(" */
    const char *text = out->data + start;
    size_t len = out->len - start, after = len; /* after the last newline, or 0 */
    while (after > 0 && text[after - 1] != '\n')
        after--;
    /* PyTorch's count, len(text) - text.rfind("\n") + 1, where rfind is
     * after - 1 (-1 without a newline) */
    int64_t last = (int64_t)len - ((int64_t)after - 1) + 1;
    const char *sfx = s->text.data;
    for (int i = 0; i < s->n; i++) {
        int64_t n = (int64_t)strlen(sfx);
        if (last + n + 2 > LINEWIDTH) {
            tg_buf_add(out, ",\n", 2);
            put_spaces(out, indent);
            last = indent + n;
        } else {
            tg_buf_add(out, ", ", 2);
            last += n + 2;
        }
        tg_buf_add(out, sfx, (size_t)n);
        sfx += n + 1;
    }
    tg_buf_add(out, ")", 1);
}

tg_status tg_repr_tensor(tg_buf *out, const tg_tensor *t, const char *grad_fn)
{
    if (!t)
        return tg_errcode() ? tg_errcode() : tg_error(TG_EINPUT, "print: no tensor");
    printer p = {.t = t, .summarize = t->numel > THRESHOLD, .out = out};
    int64_t shown;
    if (t->numel && (!shown_elements(t, p.summarize, &shown) || shown > tg_get_max_work()))
        return tg_error(TG_EINPUT, "print: the tensor's text would show more than %" PRId64 " elements "
                        "(the work limit)", tg_get_max_work());
    size_t start = out->len;
    tg_buf_add(out, "tensor(", 7);
    if (t->numel == 0) {
        tg_buf_add(out, "[]", 2);
    } else {
        p.base = tg_data(t);
        choose_format(&p);
        put_dims(&p, 0, 0, 7);
    }
    suffixes s = {{0}, 0};
    collect_suffixes(&s, t, grad_fn);
    if (!out->failed && !s.text.failed)
        put_suffixes(out, start, &s);
    bool failed = out->failed || s.text.failed;
    tg_buf_free(&s.text);
    if (failed)
        return tg_error(TG_ERESOURCE, "out of memory writing a tensor's text");
    return TG_OK;
}

tg_status tg_repr_pyfloat(tg_buf *out, double v)
{
    char s[40];
    int n;
    if (isnan(v))
        n = put_text(s, "nan");
    else if (isinf(v))
        n = put_text(s, v > 0 ? "inf" : "-inf");
    else {
        /* json_write.c's digits and layout are Python's repr, but for a
         * whole number, which Python writes with ".0" */
        n = tg_format_number(s, v, TG_FLOAT64);
        if (!strpbrk(s, ".e"))
            n += put_text(s + n, ".0");
    }
    tg_buf_add(out, s, (size_t)n);
    return out->failed ? tg_error(TG_ERESOURCE, "out of memory writing a number") : TG_OK;
}

/* ---- grad_fn names ----
 * PyTorch's class for each op of ops.def, in its most common call form;
 * grad_fn_variant() tells the other forms apart by the node's attributes
 * and inputs, and composites (mean, softmax, x[0], a @ v, ...) name their
 * result themselves with tg_name_grad_fn. */
static const char *const op_grad_fn[TG_NOPS] = {
    [TG_OP_NEG] = "NegBackward0",
    [TG_OP_EXP] = "ExpBackward0",
    [TG_OP_LOG] = "LogBackward0",
    [TG_OP_SQRT] = "SqrtBackward0",
    [TG_OP_SIN] = "SinBackward0",
    [TG_OP_COS] = "CosBackward0",
    [TG_OP_TAN] = "TanBackward0",
    [TG_OP_TANH] = "TanhBackward0",
    [TG_OP_SIGMOID] = "SigmoidBackward0",
    [TG_OP_RELU] = "ReluBackward0",
    [TG_OP_ABS] = "AbsBackward0",
    [TG_OP_SIGN] = "SignBackward0",
    [TG_OP_LOG1P] = "Log1PBackward0",
    [TG_OP_EXPM1] = "Expm1Backward0",
    [TG_OP_ERF] = "ErfBackward0",
    [TG_OP_SOFTPLUS] = "SoftplusBackward0",
    [TG_OP_CLAMP] = "ClampBackward1",            /* clamp(x, min, max) with numbers */
    [TG_OP_ADD] = "AddBackward0",
    [TG_OP_SUB] = "SubBackward0",
    [TG_OP_MUL] = "MulBackward0",
    [TG_OP_DIV] = "DivBackward0",
    [TG_OP_POW] = "PowBackward1",                /* a tensor exponent */
    [TG_OP_MAXIMUM] = "MaximumBackward0",
    [TG_OP_MINIMUM] = "MinimumBackward0",
    [TG_OP_WHERE] = "WhereBackward0",
    [TG_OP_TANH_BW] = "TanhBackwardBackward0",
    [TG_OP_SIGMOID_BW] = "SigmoidBackwardBackward0",
    [TG_OP_POW_BW] = "MulBackward0",             /* PyTorch's pow_backward ends in a mul */
    [TG_OP_SUM] = "SumBackward1",                /* over dims */
    [TG_OP_AMAX] = "AmaxBackward0",
    [TG_OP_AMIN] = "AminBackward0",
    [TG_OP_MAX_DIM] = "MaxBackward0",
    [TG_OP_MIN_DIM] = "MinBackward0",
    [TG_OP_RESHAPE] = "ReshapeAliasBackward0",   /* reshape of a contiguous tensor */
    [TG_OP_EXPAND] = "ExpandBackward0",
    [TG_OP_PERMUTE] = "PermuteBackward0",
    [TG_OP_SLICE] = "SliceBackward0",
    [TG_OP_SLICE_BACKWARD] = "SliceBackwardBackward0",
    [TG_OP_CONTIGUOUS] = "CloneBackward0",
    [TG_OP_CAST] = "ToCopyBackward0",
    [TG_OP_MATMUL] = "MmBackward0",              /* 2-D @ 2-D */
    [TG_OP_SILU] = "SiluBackward0",
    [TG_OP_RECIPROCAL] = "ReciprocalBackward0",
    [TG_OP_RSQRT] = "RsqrtBackward0",
    [TG_OP_LEAKY_RELU] = "LeakyReluBackward0",
    [TG_OP_ELU] = "EluBackward0",
    [TG_OP_PROD] = "ProdBackward1",              /* along a dim */
    [TG_OP_CUMSUM] = "CumsumBackward0",
    [TG_OP_CAT] = "CatBackward0",
    [TG_OP_GATHER] = "GatherBackward0",
    [TG_OP_SCATTER_ADD] = "ScatterAddBackward0",
    [TG_OP_INDEX_SELECT] = "IndexBackward0",     /* x[idx], x[mask] */
    [TG_OP_INDEX_ADD] = "IndexAddBackward0",
};

/* The forms whose class differs from the table's, or NULL.  A Python
 * number stays marked wrapped as an op's input (apply.c). */
static const char *grad_fn_variant(const tg_tensor *t, int op)
{
    switch (op) {
    case TG_OP_SUB: return t->in[0]->wrapped_number ? "RsubBackward1" : NULL;  /* 2 - x */
    case TG_OP_DIV: return t->in[0]->wrapped_number ? "MulBackward0" : NULL;   /* 2 / x: x.reciprocal() * 2 */
    case TG_OP_POW: return t->in[1]->wrapped_number ? "PowBackward0" : NULL;   /* x ** 2 */
    case TG_OP_SUM: return t->attrs && t->attrs->reduce.all ? "SumBackward0" : NULL;        /* x.sum() */
    case TG_OP_MATMUL: /* batched: the product of folded batches, viewed back */
        if (t->in[0]->ndim > 2)
            return "UnsafeViewBackward0";
        return t->in[1]->ndim > 2 ? "CloneBackward0" : NULL;
    default: return NULL;
    }
}

const char *tg_grad_fn_name(const tg_tensor *t)
{
    if (!t || !t->op || !t->requires_grad)
        return NULL;
    if (t->grad_fn_name)
        return t->grad_fn_name;
    int op = (int)(t->op - tg_ops);
    if (op < 0 || op >= TG_NOPS)
        return NULL;
    const char *v = grad_fn_variant(t, op);
    return v ? v : op_grad_fn[op];
}

tg_tensor *tg_name_grad_fn(tg_tensor *t, const char *name)
{
    if (t && t->op && t->requires_grad)
        t->grad_fn_name = name;
    return t;
}
