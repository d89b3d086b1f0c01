/* py_text.c -- what print(), str(), repr() and f-strings write for the
 * Python program mode's values (pyprog.h): PyTorch's text for tensors,
 * Python's for the rest, and format specs. */
#include "pyprog.h"
#include "io/torch_repr.h"
#include <string.h>

static tg_status put_tensor(tg_buf *b, const pv *v)
{
    if (v->numpy)
        return tg_error(TG_EINPUT, "printing a NumPy array is not in the subset: print "
                        "torch.from_numpy(a) (the tensor) instead");
    return tg_repr_tensor(b, v->t, tg_grad_fn_name(v->t));
}

tg_status py_put_value(tg_buf *b, const pv *v, bool repr)
{
    switch (v->kind) {
    case V_NONE: tg_buf_printf(b, "None"); break;
    case V_BOOL: tg_buf_printf(b, "%s", v->i ? "True" : "False"); break;
    case V_INT: tg_buf_printf(b, "%lld", (long long)v->i); break;
    case V_FLOAT: return tg_repr_pyfloat(b, v->f);
    case V_STR:
        if (repr) {
            bool dq = memchr(v->s, '\'', v->slen) && !memchr(v->s, '"', v->slen);
            tg_buf_add(b, dq ? "\"" : "'", 1);
            for (size_t k = 0; k < v->slen; k++) {
                char c = v->s[k];
                if (c == '\\' || (c == '\'' && !dq))
                    tg_buf_printf(b, "\\%c", c);
                else if (c == '\n')
                    tg_buf_printf(b, "\\n");
                else if (c == '\t')
                    tg_buf_printf(b, "\\t");
                else
                    tg_buf_add(b, &c, 1);
            }
            tg_buf_add(b, dq ? "\"" : "'", 1);
        } else
            tg_buf_add(b, v->s, v->slen);
        break;
    case V_TENSOR: return put_tensor(b, v);
    case V_DTYPE: tg_buf_printf(b, "torch.%s", tg_dtype_name(v->dt)); break;
    case V_DEVICE: tg_buf_printf(repr ? b : b, repr ? "device(type='%s')" : "%s", v->s); break;
    case V_SIZE:
    case V_LIST:
    case V_TUPLE:
        tg_buf_printf(b, "%s", v->kind == V_SIZE ? "torch.Size([" : v->kind == V_LIST ? "[" : "(");
        for (int k = 0; k < v->n; k++) {
            if (k)
                tg_buf_add(b, ", ", 2);
            tg_status st = py_put_value(b, v->items[k], true);
            if (st != TG_OK)
                return st;
        }
        tg_buf_printf(b, "%s", v->kind == V_SIZE ? "])" : v->kind == V_LIST ? "]" : v->n == 1 ? ",)" : ")");
        break;
    case V_GRADFN: tg_buf_printf(b, "<%s object>", v->name); break;
    case V_MODULE: tg_buf_printf(b, "<module '%s'>", v->name); break;
    case V_FUNC: tg_buf_printf(b, "<function %s>", v->fn->kind == S_DEF ? v->fn->name : "<lambda>"); break;
    default: tg_buf_printf(b, "<%s>", v->name ? v->name : py_type_name(v)); break;
    }
    return b->failed ? tg_error(TG_ERESOURCE, "out of memory") : TG_OK;
}

/* format(v, spec) for Python's mini-language: [[fill]align][sign][width]
 * [,][.precision][type], types f e g d % and none; a one-element tensor
 * formats as its number, as Tensor.__format__ does */
static tg_status put_formatted(tg_buf *b, const pv *v, const char *spec, size_t slen, int pos)
{
    pv tmp = *v;
    if (v->kind == V_TENSOR && v->t->ndim == 0) {
        tmp.kind = tg_dtype_is_float(v->t->dtype) ? V_FLOAT : v->t->dtype == TG_BOOL ? V_BOOL : V_INT;
        tmp.f = tg_item(v->t);
        tmp.i = tg_get_i64(v->t, 0);
    }
    if (!slen)
        return py_put_value(b, &tmp, false);
    const char *p = spec, *end = spec + slen;
    char fill = ' ', align = 0, sign = 0, type = 0;
    int width = 0, prec = -1;
    if (p + 1 < end && strchr("<>^=", p[1]))
        fill = *p++, align = *p++;
    else if (p < end && strchr("<>^=", *p))
        align = *p++;
    if (p < end && strchr("+- ", *p))
        sign = *p++;
    while (p < end && *p >= '0' && *p <= '9' && width < 1000)
        width = width * 10 + (*p++ - '0');
    if (p < end && *p == '.')
        for (p++, prec = 0; p < end && *p >= '0' && *p <= '9' && prec < 100;)
            prec = prec * 10 + (*p++ - '0');
    if (p < end && strchr("fFeEgGd%", *p))
        type = *p++;
    bool numeric = tmp.kind == V_INT || tmp.kind == V_FLOAT || tmp.kind == V_BOOL;
    if (p != end || (type && !numeric) || (type == 'd' && tmp.kind == V_FLOAT))
        return tg_error_at(pos, TG_EINPUT, "format spec '%.*s' is not in the subset for a %s (it has "
                           "[[fill]align][sign][width][.precision][f|e|g|d|%%])", (int)slen, spec, py_type_name(&tmp));
    tg_buf body = {0};
    char fmt[16];
    if (type && type != 'd') {
        double x = pv_num(&tmp) * (type == '%' ? 100 : 1);
        snprintf(fmt, sizeof fmt, "%%%s.*%c", sign == '+' ? "+" : sign == ' ' ? " " : "", type == '%' ? 'f' : type);
        char nb[400];
        tg_snprintf_c(nb, sizeof nb, fmt, prec < 0 ? 6 : prec, x);
        tg_buf_printf(&body, "%s%s", nb, type == '%' ? "%" : "");
    } else if (tmp.kind == V_FLOAT && prec >= 0) { /* no type, a precision: %g with repr's ".0" rules */
        char nb[400];
        tg_snprintf_c(nb, sizeof nb, "%.*g", prec ? prec : 1, tmp.f);
        tg_buf_printf(&body, "%s", nb);
    } else {
        if (sign == '+' && numeric && pv_num(&tmp) >= 0)
            tg_buf_add(&body, "+", 1);
        py_put_value(&body, &tmp, false);
    }
    size_t len = body.len;
    int pad = width > (int)len ? width - (int)len : 0;
    if (!align)
        align = numeric ? '>' : '<';
    int left = align == '>' || align == '=' ? pad : align == '^' ? pad / 2 : 0;
    for (int k = 0; k < left; k++)
        tg_buf_add(b, &fill, 1);
    tg_buf_add(b, body.data ? body.data : "", len);
    for (int k = left; k < pad; k++)
        tg_buf_add(b, &fill, 1);
    bool failed = body.failed;
    tg_buf_free(&body);
    return failed || b->failed ? tg_error(TG_ERESOURCE, "out of memory") : TG_OK;
}

pv *py_eval_fstring(interp *I, scope *S, const pnode *n)
{
    tg_buf b = {0};
    tg_status st = TG_OK;
    for (int k = 0; k < n->nv && st == TG_OK; k++) {
        const pnode *part = n->v[k];
        if (part->kind == P_STR) {
            tg_buf_add(&b, part->str, part->slen);
            continue;
        }
        pv *v = py_eval(I, S, part->a);
        if (!v)
            st = tg_errcode();
        else if (part->conv_repr)
            st = py_put_value(&b, v, true);
        else
            st = put_formatted(&b, v, part->str, part->slen, part->pos);
        pv_unref(v);
    }
    pv *r = st == TG_OK && !b.failed ? pv_str(b.data ? b.data : "", b.len) : NULL;
    if (st == TG_OK && b.failed)
        tg_error(TG_ERESOURCE, "out of memory");
    tg_buf_free(&b);
    return r;
}
