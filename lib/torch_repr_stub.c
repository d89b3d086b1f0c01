/* torch_repr_stub.c -- STUB, TO BE DELETED AT THE MERGE with the `repr`
 * branch, whose lib/torch_repr.c is the real implementation of
 * lib/torch_repr.h.  This one covers what the py branch's tests print:
 * small tensors in PyTorch's fixed and integer modes (no scientific
 * mode, no summarising), and Python's float repr. */
#include "torch_repr.h"
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *tg_grad_fn_name(const tg_tensor *t)
{
    static const struct { const char *op, *name; } names[] = {
        {"add", "AddBackward0"}, {"sub", "SubBackward0"}, {"mul", "MulBackward0"},
        {"div", "DivBackward0"}, {"pow", "PowBackward0"}, {"neg", "NegBackward0"},
        {"exp", "ExpBackward0"}, {"sum", "SumBackward0"}, {"matmul", "MmBackward0"},
        {"contiguous", "CloneBackward0"}, {"to", "ToCopyBackward0"},
    };
    if (!t->op || !t->requires_grad)
        return NULL;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(names[i].op, t->op->name))
            return names[i].name;
    static char name[64]; /* the stub's guess: the op's name capitalised */
    snprintf(name, sizeof name, "%c%sBackward0", t->op->name[0] - 'a' + 'A', t->op->name + 1);
    return name;
}

tg_status tg_repr_pyfloat(tg_buf *out, double v)
{
    if (v != v) {
        tg_buf_add(out, "nan", 3);
        return TG_OK;
    }
    if (isinf(v)) {
        tg_buf_printf(out, "%s", v < 0 ? "-inf" : "inf");
        return TG_OK;
    }
    char b[40];
    int p = 1;
    for (; p < 17; p++) {
        tg_snprintf_c(b, sizeof b, "%.*e", p - 1, v);
        if (tg_strtod_c(b, NULL) == v)
            break;
    }
    tg_snprintf_c(b, sizeof b, "%.*e", p - 1, v);
    int exp = atoi(strchr(b, 'e') + 1);
    if (exp < -4 || exp >= 16) {
        char *e = strchr(b, 'e');
        *e = 0;
        tg_buf_printf(out, "%se%c%02d", b, exp < 0 ? '-' : '+', abs(exp));
        return TG_OK;
    }
    int decimals = p - 1 - exp;
    tg_snprintf_c(b, sizeof b, "%.*f", decimals > 0 ? decimals : 0, v);
    tg_buf_printf(out, "%s%s", b, decimals > 0 ? "" : ".0");
    return TG_OK;
}

static void element(char *b, size_t n, const tg_tensor *t, int64_t i, bool int_mode)
{
    if (t->dtype == TG_BOOL)
        snprintf(b, n, "%s", tg_get(t, i) ? "True" : "False");
    else if (t->dtype == TG_INT64)
        snprintf(b, n, "%lld", (long long)tg_get_i64(t, i));
    else if (int_mode)
        tg_snprintf_c(b, n, "%.0f.", tg_get(t, i));
    else
        tg_snprintf_c(b, n, "%.4f", tg_get(t, i));
}

static void rows(tg_buf *out, const tg_tensor *t, int dim, int64_t *at, int width, bool int_mode)
{
    if (t->ndim == 0) {
        char b[64];
        element(b, sizeof b, t, 0, int_mode);
        tg_buf_printf(out, "%s", b);
        return;
    }
    tg_buf_add(out, "[", 1);
    int64_t inner = 1;
    for (int d = dim + 1; d < t->ndim; d++)
        inner *= t->shape[d];
    for (int64_t k = 0; k < t->shape[dim]; k++) {
        if (k && dim == t->ndim - 1)
            tg_buf_add(out, ", ", 2);
        else if (k) {
            tg_buf_add(out, ",", 1);
            for (int d = dim; d < t->ndim - 1; d++)
                tg_buf_add(out, "\n", 1);
            tg_buf_printf(out, "%*s", 8 + dim, "");
        }
        if (dim == t->ndim - 1) {
            char b[64];
            element(b, sizeof b, t, *at, int_mode);
            tg_buf_printf(out, "%*s", width, b);
            (*at)++;
        } else
            rows(out, t, dim + 1, at, width, int_mode);
    }
    (void)inner;
    tg_buf_add(out, "]", 1);
}

tg_status tg_repr_tensor(tg_buf *out, const tg_tensor *t, const char *grad_fn)
{
    bool int_mode = true;
    int width = 0;
    for (int64_t i = 0; i < t->numel && tg_dtype_is_float(t->dtype); i++) {
        double v = tg_get(t, i);
        if (isfinite(v) && v != floor(v))
            int_mode = false;
    }
    for (int64_t i = 0; i < t->numel; i++) {
        char b[64];
        element(b, sizeof b, t, i, int_mode);
        if ((int)strlen(b) > width)
            width = (int)strlen(b);
    }
    tg_buf_add(out, "tensor(", 7);
    int64_t at = 0;
    rows(out, t, 0, &at, width, int_mode);
    if (t->dtype == TG_FLOAT64)
        tg_buf_printf(out, ", dtype=torch.float64");
    if (t->storage->device == TG_DEV_CUDA)
        tg_buf_printf(out, ", device='cuda:0'");
    if (grad_fn)
        tg_buf_printf(out, ", grad_fn=<%s>", grad_fn);
    else if (t->requires_grad && !t->op)
        tg_buf_printf(out, ", requires_grad=True");
    tg_buf_add(out, ")", 1);
    return out->failed ? tg_error(TG_ERESOURCE, "out of memory") : TG_OK;
}
