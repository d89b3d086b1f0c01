/* py_ops.c -- Python's own operators on the program mode's values
 * (pyprog.h): numbers as Python computes them (int64, with overflow an
 * error), strings and sequences, tensors through tg_binary_op. */
#include "pyprog.h"
#include "builtins.h"
#include <math.h>
#include <string.h>

pv *py_int_result(__int128 r, int pos)
{
    if (r > INT64_MAX || r < INT64_MIN) {
        tg_error_at(pos, TG_EINPUT, "integer overflow: the result does not fit in int64 (Python's ints are "
                    "unbounded, tgrad's are int64)");
        return NULL;
    }
    return pv_int((int64_t)r);
}

static pv *number_op(int op, const pv *a, const pv *b, int pos)
{
    bool ints = a->kind != V_FLOAT && b->kind != V_FLOAT;
    double x = pv_num(a), y = pv_num(b);
    switch (op) {
    case OP_ADD: return ints ? py_int_result((__int128)a->i + b->i, pos) : pv_float(x + y);
    case OP_SUB: return ints ? py_int_result((__int128)a->i - b->i, pos) : pv_float(x - y);
    case OP_MUL: return ints ? py_int_result((__int128)a->i * b->i, pos) : pv_float(x * y);
    case OP_DIV:
    case OP_FLOORDIV:
    case OP_MOD:
        if (y == 0) {
            tg_error_at(pos, TG_EINPUT, "%s by zero",
                        ints && op != OP_DIV ? "integer division or modulo" : "float division");
            return NULL;
        }
        if (op == OP_DIV)
            return pv_float(x / y);
        if (ints) {
            int64_t q = a->i / b->i, m = a->i % b->i;
            if (m && ((m < 0) != (b->i < 0)))
                q--, m += b->i;
            return pv_int(op == OP_FLOORDIV ? q : m);
        }
        return pv_float(op == OP_FLOORDIV ? floor(x / y) : x - floor(x / y) * y);
    case OP_POW:
        if (ints && b->i >= 0) {
            __int128 r = 1;
            for (int64_t k = 0; k < b->i; k++) {
                r *= a->i;
                if (r > INT64_MAX || r < INT64_MIN)
                    return py_int_result(r, pos);
                if (r == 0 || r == 1)
                    break;
            }
            if (r == 1 && a->i == -1 && (b->i & 1))
                r = -1;
            return py_int_result(r, pos);
        }
        return pv_float(pow(x, y));
    case OP_LT: return pv_bool(x < y);
    case OP_LE: return pv_bool(x <= y);
    case OP_GT: return pv_bool(x > y);
    case OP_GE: return pv_bool(x >= y);
    case OP_EQ: return pv_bool(ints ? a->i == b->i : x == y);
    case OP_NE: return pv_bool(ints ? a->i != b->i : x != y);
    default:
        tg_error_at(pos, TG_EINPUT, "unsupported operand types for @: a number");
        return NULL;
    }
}

static pv *concat(const pv *a, const pv *b)
{
    if (a->kind == V_STR) {
        pv *r = pv_str(a->s, a->slen + b->slen);
        if (r)
            memcpy(r->s + a->slen, b->s, b->slen);
        return r;
    }
    pv *r = pv_seq(a->kind, a->n + b->n);
    for (int k = 0; r && k < a->n + b->n; k++)
        r->items[k] = pv_ref(k < a->n ? a->items[k] : b->items[k - a->n]);
    return r;
}

pv *py_binary_op(int op, const pv *a, const pv *b, int pos)
{
    if (pv_is_number(a) && pv_is_number(b))
        return number_op(op, a, b, pos);
    if (a->kind == b->kind && (a->kind == V_STR || a->kind == V_LIST || a->kind == V_TUPLE) && op == OP_ADD)
        return concat(a, b);
    if (a->kind == V_TENSOR || b->kind == V_TENSOR) {
        if (op == OP_FLOORDIV || op == OP_MOD) {
            tg_error_at(pos, TG_EINPUT, "the operators // and %% on tensors are not supported yet (use "
                        "division: x / y)");
            return NULL;
        }
        tg_tensor *x = py_to_tensor(a, pos), *y = x ? py_to_tensor(b, pos) : NULL;
        if (!y) {
            tg_release(x);
            return NULL;
        }
        tg_device old = py_follow_device((tg_tensor *[]){x, y}, 2);
        tg_tensor *r = tg_binary_op(op, x, y, pos);
        tg_set_device(old);
        return pv_tensor(r);
    }
    if (op == OP_EQ || op == OP_NE) {
        bool same = a->kind == b->kind &&
                    ((a->kind == V_STR && a->slen == b->slen && !memcmp(a->s, b->s, a->slen)) ||
                     (a->kind == V_DTYPE && a->dt == b->dt) || (a->kind == V_DEVICE && !strcmp(a->s, b->s)) ||
                     a->kind == V_NONE);
        if (a->kind == V_SIZE || a->kind == V_TUPLE || a->kind == V_LIST) {
            same = (b->kind == V_SIZE || b->kind == V_TUPLE || b->kind == V_LIST) && a->n == b->n;
            for (int k = 0; same && k < a->n; k++) {
                pv *e = py_binary_op(OP_EQ, a->items[k], b->items[k], pos);
                same = e && e->i;
                pv_unref(e);
            }
        }
        return pv_bool(op == OP_EQ ? same : !same);
    }
    tg_error_at(pos, TG_EINPUT, "unsupported operand types for this operator: '%s' and '%s'", py_type_name(a),
                py_type_name(b));
    return NULL;
}

pv *py_compare(interp *I, scope *S, const pnode *n)
{
    pv *left = py_eval(I, S, n->v[0]), *result = NULL;
    for (int k = 1; left && k < n->nv; k++) {
        pv *right = py_eval(I, S, n->v[k]), *r = NULL;
        if (!right)
            break;
        int op = n->ops[k - 1];
        if (op == OP_IS || op == OP_ISNOT) {
            bool same = left == right || (left->kind == V_NONE && right->kind == V_NONE) ||
                        (left->kind == V_TENSOR && right->kind == V_TENSOR && left->t == right->t) ||
                        (left->kind == V_BOOL && right->kind == V_BOOL && left->i == right->i);
            r = pv_bool(op == OP_IS ? same : !same);
        } else if (op == OP_IN || op == OP_NOTIN) {
            tg_error_at(n->pos, TG_EINPUT, "'in' is not in the subset tgrad runs");
        } else
            r = py_binary_op(op, left, right, n->pos);
        pv_unref(left);
        left = right;
        if (!r)
            break;
        if (result) { /* a < b < c: (a < b) and (b < c) */
            bool t;
            if (!py_truth(result, n->pos, &t)) {
                pv_unref(r);
                break;
            }
            if (!t) {
                pv_unref(r);
                continue;
            }
            pv_unref(result);
        }
        result = r;
        r = NULL;
    }
    pv_unref(left);
    if (tg_errcode()) {
        pv_unref(result);
        return NULL;
    }
    return result;
}
