/* parse.c -- the expression language: PyTorch's Python syntax, parsed by
 * recursive descent with Python's precedence:
 *
 *   program  := stmt ((';' | newline) stmt)*
 *   stmt     := NAME '=' expr | NAME ('+='|'-='|'*='|'/=') expr | expr
 *   expr     := arith (('<'|'<='|'>'|'>='|'=='|'!=') arith)*
 *   arith    := term (('+'|'-') term)*
 *   term     := factor (('*'|'/'|'//'|'%'|'@') factor)*
 *   factor   := ('-'|'+') factor | power
 *   power    := postfix ('**' factor)?          -- so -x**2 is -(x**2),
 *                                                   2**3**2 is 2**(3**2)
 *   postfix  := atom ('(' args ')' | '.' NAME | '[' subscripts ']')*
 *   atom     := NUMBER | NAME | '(' expr [',' ...] ')' | '[' list ']'
 *
 * Nesting (brackets, unary operators, calls) is limited to TG_MAX_EXPR_DEPTH
 * so that hostile input cannot exhaust the stack; the tree's height, which
 * long chains like x+x+...+x grow, to TG_MAX_TREE_DEPTH. */
#include "expr.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena: every node and string of a program, freed at once ---- */
struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
};

void *prog_alloc(struct tg_program *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct arena_block *b = p->arena;
    if (!b || b->used + n > b->cap) {
        size_t cap = n > 65536 ? n : 65536;
        b = tg_malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = p->arena;
        b->used = 0;
        b->cap = cap;
        p->arena = b;
    }
    void *r = b->data + b->used;
    b->used += n;
    memset(r, 0, n);
    return r;
}

void *prog_grow(struct tg_program *p, void *items, int n, int *cap, size_t size)
{
    if (n < *cap)
        return items;
    if (*cap > INT_MAX / 2) {
        tg_error(TG_ERESOURCE, "out of memory: too many items");
        return NULL;
    }
    int nc = *cap ? *cap * 2 : 4;
    void *grown = prog_alloc(p, (size_t)nc * size);
    if (!grown)
        return NULL;
    if (n)
        memcpy(grown, items, (size_t)n * size);
    *cap = nc;
    return grown;
}

/* ---- lexer ---- */
typedef enum { T_END, T_NUM, T_NAME, T_OP, T_SEP } tok_kind;

typedef struct {
    struct tg_program *prog;
    const char *s;
    int len;
    int i;          /* next byte */
    tok_kind kind;  /* current token */
    int tpos, tlen; /* its position and length */
    int paren;      /* bracket depth: newlines inside brackets are spaces */
    int depth;      /* recursion depth */
} parser;

static const char *ops3[] = {"**=", "//=", NULL};
static const char *ops2[] = {"**", "//", "<=", ">=", "==", "!=", "+=", "-=", "*=", "/=", NULL};
static const char ops1[] = "+-*/%@<>()[],.:=";

static tg_status lex_error(parser *p, int pos, const char *fmt, const char *arg)
{
    return tg_error_at(pos, TG_EINPUT, fmt, arg);
}

static tg_status next(parser *p)
{
    const char *s = p->s;
    for (;;) {
        while (p->i < p->len && (s[p->i] == ' ' || s[p->i] == '\t' || s[p->i] == '\r' ||
                                 (s[p->i] == '\n' && p->paren > 0) || s[p->i] == '\\'))
            p->i++;
        if (p->i < p->len && s[p->i] == '#') { /* a comment runs to the end of the line */
            while (p->i < p->len && s[p->i] != '\n')
                p->i++;
            continue;
        }
        break;
    }
    p->tpos = p->i;
    if (p->i >= p->len) {
        p->kind = T_END;
        p->tlen = 0;
        return TG_OK;
    }
    char c = s[p->i];
    if (c == ';' || c == '\n') {
        p->kind = T_SEP;
        p->tlen = 1;
        p->i++;
        return TG_OK;
    }
    if (isdigit((unsigned char)c) || (c == '.' && p->i + 1 < p->len && isdigit((unsigned char)s[p->i + 1]))) {
        int j = p->i;
        while (j < p->len && (isdigit((unsigned char)s[j]) || s[j] == '_')) j++;
        if (j < p->len && s[j] == '.') {
            j++;
            while (j < p->len && isdigit((unsigned char)s[j])) j++;
        }
        if (j < p->len && (s[j] == 'e' || s[j] == 'E')) {
            int k = j + 1;
            if (k < p->len && (s[k] == '+' || s[k] == '-')) k++;
            if (k < p->len && isdigit((unsigned char)s[k])) {
                while (k < p->len && isdigit((unsigned char)s[k])) k++;
                j = k;
            } else
                return tg_error_at(j, TG_EINPUT, "malformed number: the exponent needs digits");
        }
        if (j < p->len && (isalpha((unsigned char)s[j]) || s[j] == '_'))
            return lex_error(p, j, "malformed number: unexpected '%.1s' after the digits", s + j);
        p->kind = T_NUM;
        p->tlen = j - p->i;
        p->i = j;
        return TG_OK;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        int j = p->i;
        while (j < p->len && (isalnum((unsigned char)s[j]) || s[j] == '_')) j++;
        p->kind = T_NAME;
        p->tlen = j - p->i;
        p->i = j;
        return TG_OK;
    }
    for (int k = 0; ops3[k]; k++)
        if (p->i + 3 <= p->len && !memcmp(s + p->i, ops3[k], 3)) {
            p->kind = T_OP, p->tlen = 3, p->i += 3;
            return TG_OK;
        }
    for (int k = 0; ops2[k]; k++)
        if (p->i + 2 <= p->len && !memcmp(s + p->i, ops2[k], 2)) {
            p->kind = T_OP, p->tlen = 2, p->i += 2;
            return TG_OK;
        }
    if (c && strchr(ops1, c)) {
        p->kind = T_OP, p->tlen = 1, p->i++;
        if (c == '(' || c == '[') p->paren++;
        if ((c == ')' || c == ']') && p->paren > 0) p->paren--;
        return TG_OK;
    }
    char tmp[8];
    snprintf(tmp, sizeof tmp, (unsigned char)c < 32 || (unsigned char)c > 126 ? "\\x%02x" : "%c", (unsigned char)c);
    return lex_error(p, p->i, "unexpected character '%s'", tmp);
}

static bool is_op(parser *p, const char *op)
{
    return p->kind == T_OP && p->tlen == (int)strlen(op) && !memcmp(p->s + p->tpos, op, p->tlen);
}

static const char *tok_desc(parser *p, char *buf, size_t n)
{
    if (p->kind == T_END) return "the end of the expression";
    if (p->kind == T_SEP) return p->s[p->tpos] == ';' ? "';'" : "a new line";
    snprintf(buf, n, "'%.*s'", p->tlen > 20 ? 20 : p->tlen, p->s + p->tpos);
    return buf;
}

static tg_status expect(parser *p, const char *op, const char *what)
{
    if (is_op(p, op))
        return next(p);
    char b[40], m[128];
    snprintf(m, sizeof m, "expected %s, found %%s", what);
    return tg_error_at(p->tpos, TG_EINPUT, m, tok_desc(p, b, sizeof b));
}

/* ---- parser ---- */
static node *mk(parser *p, node_kind k, int pos)
{
    node *n = prog_alloc(p->prog, sizeof *n);
    if (n) {
        n->kind = k;
        n->pos = pos;
    }
    return n;
}

static char *tokstr(parser *p)
{
    char *s = prog_alloc(p->prog, p->tlen + 1);
    if (s)
        memcpy(s, p->s + p->tpos, p->tlen);
    return s;
}

static bool set_depth(parser *p, node *n, node *a, node *b)
{
    int da = a ? a->depth : 0, db = b ? b->depth : 0;
    n->depth = 1 + (da > db ? da : db);
    if (n->depth > TG_MAX_TREE_DEPTH) {
        tg_error_at(n->pos, TG_EINPUT, "expression too long: its tree is deeper than %d levels "
                    "(split it into statements with named intermediates)", TG_MAX_TREE_DEPTH);
        return false;
    }
    return true;
}

static node *parse_expr(parser *p);
static node *parse_factor(parser *p);

static bool enter(parser *p)
{
    if (++p->depth > TG_MAX_EXPR_DEPTH) {
        tg_error_at(p->tpos, TG_EINPUT, "expression nested too deeply (more than %d levels of "
                    "brackets, calls or unary operators)", TG_MAX_EXPR_DEPTH);
        return false;
    }
    return true;
}

static bool push_arg(parser *p, node *n, node *a, int *cap)
{
    node **na = prog_grow(p->prog, n->args, n->nargs, cap, sizeof *na);
    if (!na)
        return false;
    n->args = na;
    n->args[n->nargs++] = a;
    int d = a->depth + 1;
    if (d > n->depth)
        n->depth = d;
    return true;
}

static node *parse_number(parser *p)
{
    node *n = mk(p, N_NUM, p->tpos);
    char buf[128];
    int k = 0;
    for (int i = 0; i < p->tlen && k < (int)sizeof buf - 1; i++)
        if (p->s[p->tpos + i] != '_')
            buf[k++] = p->s[p->tpos + i];
    buf[k] = 0;
    if (!n || p->tlen >= (int)sizeof buf) {
        if (n) tg_error_at(p->tpos, TG_EINPUT, "number too long");
        return NULL;
    }
    n->is_int = !strpbrk(buf, ".eE");
    errno = 0;
    n->num = tg_strtod_c(buf, NULL); /* '.' whatever setlocale chose */
    if (n->is_int) {
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno == ERANGE) {
            tg_error_at(p->tpos, TG_EINPUT, "integer %s does not fit in int64", buf);
            return NULL;
        }
        n->num = (double)v;
        n->depth = 1;
        n->name = tokstr(p); /* keeps the exact digits for int64 */
    }
    n->depth = 1;
    return next(p) == TG_OK ? n : NULL;
}

/* '(' expr ')' or a tuple '(a, b)' */
static node *parse_paren(parser *p)
{
    int pos = p->tpos;
    if (next(p) != TG_OK)
        return NULL;
    if (is_op(p, ")")) { /* (): the empty tuple, as in x.sum(()) or zeros(()) */
        node *t = mk(p, N_TUPLE, pos);
        if (t)
            t->depth = 1;
        return t && next(p) == TG_OK ? t : NULL;
    }
    node *first = parse_expr(p);
    if (!first)
        return NULL;
    if (is_op(p, ")")) {
        if (next(p) != TG_OK) return NULL;
        return first;
    }
    node *t = mk(p, N_TUPLE, pos);
    int cap = 0;
    if (!t || !push_arg(p, t, first, &cap))
        return NULL;
    while (is_op(p, ",")) {
        if (next(p) != TG_OK) return NULL;
        if (is_op(p, ")")) break;
        node *e = parse_expr(p);
        if (!e || !push_arg(p, t, e, &cap)) return NULL;
    }
    return expect(p, ")", "')' to close the '(' opened before") == TG_OK ? t : NULL;
}

/* '[' a, b, ... ']' : a tensor literal */
static node *parse_list(parser *p)
{
    node *l = mk(p, N_LIST, p->tpos);
    int cap = 0;
    if (!l || next(p) != TG_OK)
        return NULL;
    l->depth = 1;
    while (!is_op(p, "]")) {
        node *e = parse_expr(p);
        if (!e || !push_arg(p, l, e, &cap))
            return NULL;
        if (!is_op(p, ","))
            break;
        if (next(p) != TG_OK)
            return NULL;
    }
    return expect(p, "]", "',' or ']' in the list") == TG_OK ? l : NULL;
}

static node *parse_atom(parser *p)
{
    char b[40];
    switch (p->kind) {
    case T_NUM:
        return parse_number(p);
    case T_NAME: {
        node *n = mk(p, N_NAME, p->tpos);
        if (!n || !(n->name = tokstr(p)))
            return NULL;
        n->depth = 1;
        return next(p) == TG_OK ? n : NULL;
    }
    case T_OP:
        if (is_op(p, "("))
            return parse_paren(p);
        if (is_op(p, "["))
            return parse_list(p);
        /* fall through */
    default:
        tg_error_at(p->tpos, TG_EINPUT, "expected a number, a name, '(' or '[', found %s",
                    tok_desc(p, b, sizeof b));
        return NULL;
    }
}

/* A keyword argument's value written as a string, 'sum' or "sum"
 * (reduction='sum'), when the next byte after spaces opens one: the node,
 * with p past it; NULL with *err false when none is there. */
static node *parse_kwarg_string(parser *p, bool *err)
{
    int i = p->i;
    while (i < p->len && (p->s[i] == ' ' || p->s[i] == '\t'))
        i++;
    *err = false;
    if (i >= p->len || (p->s[i] != '\'' && p->s[i] != '"'))
        return NULL;
    *err = true;
    char quote = p->s[i];
    int start = i + 1, end = start;
    while (end < p->len && p->s[end] != quote && p->s[end] != '\n' && p->s[end] != '\\')
        end++;
    if (end >= p->len || p->s[end] != quote) {
        tg_error_at(i, TG_EINPUT, "unterminated string (a keyword's value such as reduction='sum' takes "
                    "plain text without escapes)");
        return NULL;
    }
    node *n = mk(p, N_STR, i);
    if (!n || !(n->name = prog_alloc(p->prog, (size_t)(end - start) + 1)))
        return NULL;
    memcpy(n->name, p->s + start, (size_t)(end - start));
    n->depth = 1;
    p->i = end + 1;
    if (next(p) != TG_OK)
        return NULL;
    *err = false;
    return n;
}

/* call arguments: positional then keyword (name=value) */
static node *parse_call(parser *p, node *callee, node *obj)
{
    node *c = mk(p, N_CALL, callee->pos);
    int cap = 0;
    if (!c || next(p) != TG_OK)
        return NULL;
    c->name = callee->name;
    c->obj = obj;
    c->depth = obj ? obj->depth + 1 : 1;
    bool kw_seen = false;
    while (!is_op(p, ")")) {
        node *a;
        int pos = p->tpos;
        if (p->kind == T_NAME && p->i < p->len && p->s[p->i] == '=' &&
            (p->i + 1 >= p->len || p->s[p->i + 1] != '=')) {
            a = mk(p, N_KWARG, pos);
            if (!a || !(a->name = tokstr(p)) || next(p) != TG_OK)
                return NULL;
            bool err;
            if (!(a->obj = parse_kwarg_string(p, &err)) && (err || next(p) != TG_OK || !(a->obj = parse_expr(p))))
                return NULL;
            a->depth = a->obj->depth + 1;
            kw_seen = true;
        } else {
            if (kw_seen) {
                tg_error_at(pos, TG_EINPUT, "positional argument follows keyword argument");
                return NULL;
            }
            if (!(a = parse_expr(p)))
                return NULL;
        }
        if (!push_arg(p, c, a, &cap))
            return NULL;
        if (!is_op(p, ","))
            break;
        if (next(p) != TG_OK)
            return NULL;
    }
    if (expect(p, ")", "',' or ')' in the call's arguments") != TG_OK)
        return NULL;
    return set_depth(p, c, c, NULL) ? c : NULL;
}

/* one subscript: an index expression or a slice a:b:c with parts optional */
static node *parse_subscript(parser *p)
{
    int pos = p->tpos;
    node *parts[3] = {0};
    int k = 0;
    if (!is_op(p, ":")) {
        parts[0] = parse_expr(p);
        if (!parts[0])
            return NULL;
        if (!is_op(p, ":"))
            return parts[0];
    }
    node *s = mk(p, N_SLICE, pos);
    if (!s)
        return NULL;
    while (is_op(p, ":") && k < 2) {
        k++;
        if (next(p) != TG_OK)
            return NULL;
        if (!is_op(p, ":") && !is_op(p, ",") && !is_op(p, "]"))
            if (!(parts[k] = parse_expr(p)))
                return NULL;
    }
    s->obj = parts[0];
    s->rhs = parts[1];
    s->args = prog_alloc(p->prog, sizeof(node *));
    if (!s->args)
        return NULL;
    s->args[0] = parts[2];
    s->depth = 2;
    return s;
}

static node *parse_postfix(parser *p)
{
    node *n = parse_atom(p);
    while (n) {
        if (is_op(p, "(")) {
            if (n->kind != N_NAME) {
                tg_error_at(p->tpos, TG_EINPUT, "only named functions can be called");
                return NULL;
            }
            if (!enter(p)) return NULL;
            n = parse_call(p, n, NULL);
            p->depth--;
        } else if (is_op(p, ".")) {
            if (next(p) != TG_OK)
                return NULL;
            if (p->kind != T_NAME) {
                char b[40];
                tg_error_at(p->tpos, TG_EINPUT, "expected a method or attribute name after '.', found %s",
                            tok_desc(p, b, sizeof b));
                return NULL;
            }
            node *name = mk(p, N_NAME, p->tpos);
            if (!name || !(name->name = tokstr(p)) || next(p) != TG_OK)
                return NULL;
            /* torch.f(...) is f(...): the toolkit's functions are torch's;
             * F (import torch.nn.functional as F) and torch.nn.functional
             * name them too */
            if (n->kind == N_NAME && !strcmp(n->name, "nn") && !strcmp(name->name, "functional") &&
                !is_op(p, "(")) {
                n = name;
                n->name = "F";
                continue;
            }
            bool torch = n->kind == N_NAME && (!strcmp(n->name, "torch") || (!strcmp(n->name, "F") && is_op(p, "(")));
            if (is_op(p, "(")) {
                if (!enter(p)) return NULL;
                n = parse_call(p, name, torch ? NULL : n);
                p->depth--;
            } else if (torch) {
                n = name;
            } else {
                node *a = mk(p, N_ATTR, name->pos);
                if (!a) return NULL;
                a->name = name->name;
                a->obj = n;
                if (!set_depth(p, a, n, NULL)) return NULL;
                n = a;
            }
        } else if (is_op(p, "[")) {
            node *ix = mk(p, N_INDEX, p->tpos);
            int cap = 0;
            if (!ix || !enter(p) || next(p) != TG_OK)
                return NULL;
            ix->obj = n;
            ix->depth = n->depth + 1;
            while (!is_op(p, "]")) {
                node *s = parse_subscript(p);
                if (!s || !push_arg(p, ix, s, &cap))
                    return NULL;
                if (!is_op(p, ","))
                    break;
                if (next(p) != TG_OK)
                    return NULL;
            }
            p->depth--;
            if (expect(p, "]", "',' or ']' in the index") != TG_OK || !set_depth(p, ix, ix, NULL))
                return NULL;
            n = ix;
        } else
            break;
    }
    return n;
}

static node *binary(parser *p, int op, int pos, node *l, node *r)
{
    if (!l || !r)
        return NULL;
    node *b = mk(p, N_BINARY, pos);
    if (!b)
        return NULL;
    b->op = op;
    b->obj = l;
    b->rhs = r;
    return set_depth(p, b, l, r) ? b : NULL;
}

static node *parse_power(parser *p)
{
    node *base = parse_postfix(p);
    if (!base || !is_op(p, "**"))
        return base;
    int pos = p->tpos;
    if (!enter(p) || next(p) != TG_OK)
        return NULL;
    node *e = parse_factor(p); /* right-associative, and 2**-1 works */
    p->depth--;
    return binary(p, OP_POW, pos, base, e);
}

static node *parse_factor(parser *p)
{
    if (is_op(p, "-") || is_op(p, "+")) {
        int pos = p->tpos, op = is_op(p, "-") ? OP_SUB : OP_ADD;
        if (!enter(p) || next(p) != TG_OK)
            return NULL;
        node *x = parse_factor(p);
        p->depth--;
        if (!x)
            return NULL;
        node *u = mk(p, N_UNARY, pos);
        if (!u)
            return NULL;
        u->op = op;
        u->obj = x;
        return set_depth(p, u, x, NULL) ? u : NULL;
    }
    return parse_power(p);
}

typedef struct { const char *tok; int op; } optab;

static node *parse_left(parser *p, node *(*sub)(parser *), const optab *ops)
{
    node *l = sub(p);
    while (l) {
        int op = 0;
        for (int k = 0; ops[k].tok; k++)
            if (is_op(p, ops[k].tok)) {
                op = ops[k].op;
                break;
            }
        if (!op)
            break;
        int pos = p->tpos;
        if (next(p) != TG_OK)
            return NULL;
        l = binary(p, op, pos, l, sub(p));
    }
    return l;
}

static node *parse_term(parser *p)
{
    static const optab t[] = {{"*", OP_MUL}, {"/", OP_DIV}, {"//", OP_FLOORDIV}, {"%", OP_MOD}, {"@", OP_MATMUL}, {0, 0}};
    return parse_left(p, parse_factor, t);
}

static node *parse_arith(parser *p)
{
    static const optab t[] = {{"+", OP_ADD}, {"-", OP_SUB}, {0, 0}};
    return parse_left(p, parse_term, t);
}

static node *parse_expr(parser *p)
{
    static const optab t[] = {{"<", OP_LT}, {"<=", OP_LE}, {">", OP_GT}, {">=", OP_GE},
                              {"==", OP_EQ}, {"!=", OP_NE}, {0, 0}};
    if (!enter(p))
        return NULL;
    /* Python chains comparisons: a < b < c is (a < b) and (b < c), the
     * "and" of bool tensors being their product */
    node *left = parse_arith(p), *result = NULL;
    while (left) {
        int op = 0;
        for (int k = 0; t[k].tok; k++)
            if (is_op(p, t[k].tok))
                op = t[k].op;
        if (!op)
            break;
        int pos = p->tpos;
        if (next(p) != TG_OK)
            return NULL;
        node *right = parse_arith(p);
        node *cmp = binary(p, op, pos, left, right);
        result = result ? binary(p, OP_MUL, pos, result, cmp) : cmp;
        if (!result)
            return NULL;
        left = right;
    }
    p->depth--;
    return result ? result : left;
}

/* NAME, NAME [, ...] = expr: an assignment whose targets are its args
 * (its name the first's); first is the first name, parsed */
static node *parse_unpack(parser *p, node *first)
{
    node *a = mk(p, N_ASSIGN, first->pos);
    int cap = 0;
    if (!a || !push_arg(p, a, first, &cap))
        return NULL;
    a->name = first->name;
    while (is_op(p, ",")) {
        if (next(p) != TG_OK)
            return NULL;
        if (p->kind != T_NAME) {
            tg_error_at(p->tpos, TG_EINPUT, "only names can be unpacked into (as in v, i = x.max(dim=1))");
            return NULL;
        }
        node *n = mk(p, N_NAME, p->tpos);
        if (!n || !(n->name = tokstr(p)) || next(p) != TG_OK || !push_arg(p, a, n, &cap))
            return NULL;
        n->depth = 1;
    }
    if (expect(p, "=", "'=' after the names to unpack into") != TG_OK || !(a->obj = parse_expr(p)))
        return NULL;
    return set_depth(p, a, a->obj, NULL) ? a : NULL;
}

static node *parse_stmt(parser *p)
{
    static const optab aug[] = {{"+=", OP_ADD}, {"-=", OP_SUB}, {"*=", OP_MUL}, {"/=", OP_DIV},
                                {"**=", OP_POW}, {"//=", OP_FLOORDIV}, {0, 0}};
    node *e = parse_expr(p);
    if (!e)
        return NULL;
    if (is_op(p, ",") && e->kind == N_NAME) /* v, i = x.max(dim=1) */
        return parse_unpack(p, e);
    int op = 0;
    for (int k = 0; aug[k].tok; k++)
        if (is_op(p, aug[k].tok))
            op = aug[k].op;
    if (!op && !is_op(p, "="))
        return e;
    if (e->kind != N_NAME) {
        tg_error_at(p->tpos, TG_EINPUT, "only a name can be assigned to (as in g = x**2)");
        return NULL;
    }
    node *a = mk(p, op ? N_AUGASSIGN : N_ASSIGN, e->pos);
    if (!a || next(p) != TG_OK)
        return NULL;
    a->op = op;
    a->name = e->name;
    if (!(a->obj = parse_expr(p)))
        return NULL;
    return set_depth(p, a, a->obj, NULL) ? a : NULL;
}

void tg_program_free(tg_program *prog)
{
    if (!prog)
        return;
    for (int i = 0; i < prog->nstmts; i++)
        tg_release(prog->stmts[i]->value);
    while (prog->arena) {
        struct arena_block *b = prog->arena;
        prog->arena = b->next;
        tg_free(b);
    }
    tg_fused_plan_free(prog->plan);
    tg_free(prog->src);
    tg_free(prog);
}

tg_program *tg_program_parse(const char *src)
{
    tg_program *prog = tg_calloc(1, sizeof *prog);
    if (!prog)
        return NULL;
    size_t len = strlen(src);
    if (len > (1u << 30)) {
        tg_error(TG_EINPUT, "expression longer than 1 GiB");
        tg_free(prog);
        return NULL;
    }
    prog->src = tg_malloc(len + 1);
    if (!prog->src) {
        tg_free(prog);
        return NULL;
    }
    memcpy(prog->src, src, len + 1);
    parser p = {.prog = prog, .s = prog->src, .len = (int)len};
    int cap = 0;
    bool ok = next(&p) == TG_OK;
    while (ok) {
        while (p.kind == T_SEP && (ok = next(&p) == TG_OK))
            ;
        if (!ok || p.kind == T_END)
            break;
        node *s = parse_stmt(&p);
        if (!s) {
            ok = false;
            break;
        }
        node **ns = prog_grow(prog, prog->stmts, prog->nstmts, &cap, sizeof *ns);
        if (!ns) {
            ok = false;
            break;
        }
        prog->stmts = ns;
        prog->stmts[prog->nstmts++] = s;
        if (p.kind != T_SEP && p.kind != T_END) {
            char b[40];
            tg_error_at(p.tpos, TG_EINPUT, "unexpected %s: expected an operator, or ';' between "
                        "statements", tok_desc(&p, b, sizeof b));
            ok = false;
        }
    }
    if (ok && prog->nstmts == 0) {
        tg_error_at(0, TG_EINPUT, "empty expression: write one, for example 'x**2'");
        ok = false;
    }
    if (ok && prog->stmts[prog->nstmts - 1]->kind == N_AUGASSIGN) {
        /* the last statement's value is the result; an update's is the name */
    }
    if (!ok) {
        tg_program_free(prog);
        return NULL;
    }
    return prog;
}
