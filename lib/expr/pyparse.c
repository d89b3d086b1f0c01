/* pyparse.c -- the Python subset of tgrad's program mode (tg-expr(5),
 * PYTHON PROGRAMS): a tokenizer with Python's indentation (INDENT and
 * DEDENT tokens, new lines as white space inside brackets) and a recursive
 * descent parser with Python's grammar and precedence:
 *
 *   file      := stmt*
 *   stmt      := import | from | def | if | with | return | pass | simple
 *   simple    := testlist [('=' | AUGOP) testlist]
 *   suite     := simple NEWLINE | NEWLINE INDENT stmt+ DEDENT
 *   test      := or_test ['if' or_test 'else' test] | 'lambda' names ':' test
 *   or_test   := and_test ('or' and_test)*;  and_test := not_test ('and' ...)*
 *   not_test  := 'not' not_test | comparison
 *   comparison:= arith (('<'|'>'|'=='|'>='|'<='|'!='|'is' ['not']|['not'] 'in') arith)*
 *   arith, term, factor, power, postfix, atom: as in parse.c, plus strings,
 *   f-strings, None/True/False and keyword arguments in every call.
 *
 * Nodes live in the arena of a tg_program (prog_alloc), freed at once. */
#include "pyprog.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_END, K_NEWLINE, K_INDENT, K_DEDENT, K_NAME, K_NUM, K_STR, K_OP } tkind;

typedef struct {
    tg_program *arena;
    const char *s;
    int len;        /* the end of what is read (an f-string field ends early) */
    int i;          /* next byte */
    tkind k;        /* the current token */
    int tpos, tlen; /* its position and length */
    bool fstr;      /* a K_STR token is an f-string */
    int body, blen; /* a K_STR token's text between its quotes */
    bool raw;
    int paren;
    bool line_start, nested; /* nested: an f-string's field, no indentation */
    tkind last;
    int *indents, nind, capind; /* in the arena */
    int dedents; /* DEDENT tokens still to give */
    int depth;
} lexer;

static tg_status lx_next(lexer *L);

static bool is_kw(const lexer *L, const char *w)
{
    return L->k == K_NAME && L->tlen == (int)strlen(w) && !memcmp(L->s + L->tpos, w, (size_t)L->tlen);
}

static bool is_op(const lexer *L, const char *op)
{
    return L->k == K_OP && L->tlen == (int)strlen(op) && !memcmp(L->s + L->tpos, op, (size_t)L->tlen);
}

static const char *tok_desc(const lexer *L, char *b, size_t n)
{
    switch (L->k) {
    case K_END: return "the end of the program";
    case K_NEWLINE: return "the end of the line";
    case K_INDENT: return "an indented block";
    case K_DEDENT: return "the end of the indented block";
    default: snprintf(b, n, "'%.*s'", L->tlen > 20 ? 20 : L->tlen, L->s + L->tpos); return b;
    }
}

static tg_status unexpected(const lexer *L, const char *wanted)
{
    char b[40];
    return tg_error_at(L->tpos, TG_EINPUT, "invalid syntax: expected %s, found %s", wanted,
                       tok_desc(L, b, sizeof b));
}

static tg_status expect(lexer *L, const char *op)
{
    char w[16];
    snprintf(w, sizeof w, "'%s'", op);
    return is_op(L, op) ? lx_next(L) : unexpected(L, w);
}

static tg_status push_indent(lexer *L, int col)
{
    int *ni = prog_grow(L->arena, L->indents, L->nind, &L->capind, sizeof *ni);
    if (!ni)
        return TG_ERESOURCE;
    L->indents = ni;
    L->indents[L->nind++] = col;
    return TG_OK;
}

/* at the start of a line outside brackets: the indentation, as INDENT or
 * DEDENT tokens; blank and comment lines are skipped.  TG_NO: no token. */
static tg_status indentation(lexer *L)
{
    const char *s = L->s;
    for (;;) {
        int col = 0, j = L->i;
        while (j < L->len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\f'))
            col = s[j++] == '\t' ? (col / 8 + 1) * 8 : col + 1;
        if (j < L->len && s[j] == '#')
            while (j < L->len && s[j] != '\n')
                j++;
        if (j < L->len && s[j] == '\n') { /* a blank line */
            L->i = j + 1;
            continue;
        }
        L->i = j;
        L->line_start = false;
        if (j >= L->len)
            return TG_NO;
        int top = L->nind ? L->indents[L->nind - 1] : 0;
        L->tpos = j;
        L->tlen = 0;
        if (col > top) {
            L->k = K_INDENT;
            return push_indent(L, col);
        }
        if (col == top)
            return TG_NO;
        while (L->nind && L->indents[L->nind - 1] > col) {
            L->nind--;
            L->dedents++;
        }
        if ((L->nind ? L->indents[L->nind - 1] : 0) != col)
            return tg_error_at(j, TG_EINPUT, "unindent does not match any outer indentation level");
        L->dedents--;
        L->k = K_DEDENT;
        return TG_OK;
    }
}

static tg_status lex_number(lexer *L)
{
    const char *s = L->s;
    int j = L->i;
    while (j < L->len && (isdigit((unsigned char)s[j]) || s[j] == '_'))
        j++;
    if (j < L->len && s[j] == '.') {
        j++;
        while (j < L->len && (isdigit((unsigned char)s[j]) || s[j] == '_'))
            j++;
    }
    if (j < L->len && (s[j] == 'e' || s[j] == 'E')) {
        int k = j + 1;
        if (k < L->len && (s[k] == '+' || s[k] == '-'))
            k++;
        if (k >= L->len || !isdigit((unsigned char)s[k]))
            return tg_error_at(j, TG_EINPUT, "malformed number: the exponent needs digits");
        while (k < L->len && isdigit((unsigned char)s[k]))
            k++;
        j = k;
    }
    if (j < L->len && (isalpha((unsigned char)s[j]) || s[j] == '_'))
        return tg_error_at(j, TG_EINPUT, "malformed number: unexpected '%c' after the digits (hexadecimal, "
                           "octal, binary and complex numbers are not in the subset)", s[j]);
    L->k = K_NUM;
    L->tlen = j - L->i;
    L->i = j;
    return TG_OK;
}

/* a string literal from its prefix (prefix bytes before the quote) */
static tg_status lex_string(lexer *L, int prefix)
{
    const char *s = L->s;
    int q = L->i + prefix;
    bool triple = q + 2 < L->len && s[q + 1] == s[q] && s[q + 2] == s[q];
    int ql = triple ? 3 : 1, j = q + ql;
    L->fstr = L->raw = false;
    for (int k = L->i; k < q; k++) {
        char c = (char)tolower((unsigned char)s[k]);
        L->fstr |= c == 'f';
        L->raw |= c == 'r';
        if (c == 'b' || c == 'u')
            return tg_error_at(L->i, TG_EINPUT, "bytes and u'' strings are not in the subset");
    }
    for (;; j++) {
        if (j >= L->len || (!triple && s[j] == '\n'))
            return tg_error_at(L->i, TG_EINPUT, "unterminated string literal");
        if (s[j] == '\\') {
            j++;
            continue;
        }
        if (s[j] == s[q] && (!triple || (j + 2 < L->len && s[j + 1] == s[q] && s[j + 2] == s[q])))
            break;
    }
    L->k = K_STR;
    L->body = q + ql;
    L->blen = j - (q + ql);
    L->tlen = j + ql - L->i;
    L->i = j + ql;
    return TG_OK;
}

static tg_status lx_next(lexer *L)
{
    const char *s = L->s;
    static const char *const ops3[] = {"**=", "//=", NULL};
    static const char *const ops2[] = {"**", "//", "<=", ">=", "==", "!=", "+=", "-=", "*=", "/=", "%=", "@=",
                                       "->", NULL};
    static const char ops1[] = "+-*/%@<>()[]{},.:=~&|^";
    if (L->dedents > 0) {
        L->dedents--;
        L->k = L->last = K_DEDENT;
        return TG_OK;
    }
    if (L->line_start && !L->nested && L->paren == 0) {
        tg_status st = indentation(L);
        if (st != TG_NO) {
            L->last = L->k;
            return st;
        }
    }
    for (;;) {
        while (L->i < L->len && (s[L->i] == ' ' || s[L->i] == '\t' || s[L->i] == '\r' || s[L->i] == '\f' ||
                                 (s[L->i] == '\n' && (L->paren > 0 || L->nested))))
            L->i++;
        if (L->i < L->len && s[L->i] == '#') {
            while (L->i < L->len && s[L->i] != '\n')
                L->i++;
            continue;
        }
        if (L->i + 1 < L->len && s[L->i] == '\\' && s[L->i + 1] == '\n') { /* a continued line */
            L->i += 2;
            continue;
        }
        break;
    }
    L->tpos = L->i;
    L->tlen = 0;
    if (L->i >= L->len) {
        if (!L->nested && L->last != K_NEWLINE && L->last != K_DEDENT && L->last != K_INDENT &&
            L->last != K_END) {
            L->k = L->last = K_NEWLINE; /* the last line's end */
            return TG_OK;
        }
        if (!L->nested && L->nind > 0) {
            L->nind--;
            L->k = L->last = K_DEDENT;
            return TG_OK;
        }
        L->k = L->last = K_END;
        return TG_OK;
    }
    char c = s[L->i];
    tg_status st = TG_OK;
    if (c == '\n' || c == ';') {
        L->k = K_NEWLINE;
        L->tlen = 1;
        L->i++;
        L->line_start = c == '\n';
    } else if (isdigit((unsigned char)c) || (c == '.' && L->i + 1 < L->len && isdigit((unsigned char)s[L->i + 1])))
        st = lex_number(L);
    else if (isalpha((unsigned char)c) || c == '_') {
        int j = L->i;
        while (j < L->len && (isalnum((unsigned char)s[j]) || s[j] == '_'))
            j++;
        if (j - L->i <= 2 && j < L->len && (s[j] == '\'' || s[j] == '"'))
            st = lex_string(L, j - L->i);
        else {
            L->k = K_NAME;
            L->tlen = j - L->i;
            L->i = j;
        }
    } else if (c == '\'' || c == '"')
        st = lex_string(L, 0);
    else {
        L->k = K_OP;
        for (int k = 0; ops3[k] && !L->tlen; k++)
            if (L->i + 3 <= L->len && !memcmp(s + L->i, ops3[k], 3))
                L->tlen = 3;
        for (int k = 0; ops2[k] && !L->tlen; k++)
            if (L->i + 2 <= L->len && !memcmp(s + L->i, ops2[k], 2))
                L->tlen = 2;
        if (!L->tlen && strchr(ops1, c))
            L->tlen = 1;
        if (!L->tlen) {
            char b[8];
            snprintf(b, sizeof b, (unsigned char)c < 32 || (unsigned char)c > 126 ? "\\x%02x" : "%c",
                     (unsigned char)c);
            return tg_error_at(L->i, TG_EINPUT, "unexpected character '%s'", b);
        }
        if (c == '(' || c == '[' || c == '{')
            L->paren++;
        if ((c == ')' || c == ']' || c == '}') && L->paren > 0)
            L->paren--;
        L->i += L->tlen;
    }
    L->last = L->k;
    return st;
}

/* ---- nodes ---- */
static pnode *mk(lexer *L, pkind k, int pos)
{
    pnode *n = prog_alloc(L->arena, sizeof *n);
    if (n) {
        n->kind = k;
        n->pos = pos;
    }
    return n;
}

static char *tokstr(lexer *L)
{
    char *s = prog_alloc(L->arena, (size_t)L->tlen + 1);
    if (s)
        memcpy(s, L->s + L->tpos, (size_t)L->tlen);
    return s;
}

static bool push(lexer *L, pnode *n, pnode *item, int *cap)
{
    if (!item)
        return false;
    pnode **nv = prog_grow(L->arena, n->v, n->nv, cap, sizeof *nv);
    if (!nv)
        return false;
    n->v = nv;
    n->v[n->nv++] = item;
    return true;
}

static bool enter(lexer *L)
{
    if (++L->depth > TG_MAX_EXPR_DEPTH) {
        tg_error_at(L->tpos, TG_EINPUT, "expression nested too deeply (more than %d levels)", TG_MAX_EXPR_DEPTH);
        return false;
    }
    return true;
}

static pnode *parse_test(lexer *L);
static pnode *parse_factor(lexer *L);

/* Decodes a string literal's escapes (\n \t \\ \' \" \0 and a new line
 * after a backslash) into dst; f-strings' {{ and }} too.  Returns the
 * length. */
static size_t decode(const char *s, int n, bool raw, bool braces, char *dst)
{
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        char c = s[i];
        if (braces && (c == '{' || c == '}') && i + 1 < n && s[i + 1] == c) {
            dst[k++] = c;
            i++;
        } else if (c == '\\' && !raw && i + 1 < n) {
            char e = s[++i];
            switch (e) {
            case 'n': dst[k++] = '\n'; break;
            case 't': dst[k++] = '\t'; break;
            case 'r': dst[k++] = '\r'; break;
            case '0': dst[k++] = '\0'; break;
            case '\n': break;
            case '\\': case '\'': case '"': dst[k++] = e; break;
            default: dst[k++] = '\\'; dst[k++] = e;
            }
        } else
            dst[k++] = c;
    }
    dst[k] = 0;
    return k;
}

static pnode *string_node(lexer *L, int pos, int from, int to, bool raw, bool braces)
{
    pnode *n = mk(L, P_STR, pos);
    if (!n || !(n->str = prog_alloc(L->arena, (size_t)(to - from) * 2 + 1)))
        return NULL;
    n->slen = decode(L->s + from, to - from, raw, braces, n->str);
    return n;
}

/* one {expr!r:spec} field of an f-string, the text between the braces */
static pnode *fstring_field(lexer *L, int from, int to)
{
    int end = from, nest = 0; /* where the expression ends: ! or : outside brackets */
    char quote = 0;
    for (; end < to; end++) {
        char c = L->s[end];
        if (quote) {
            quote = c == quote ? 0 : quote;
            continue;
        }
        if (c == '\'' || c == '"')
            quote = c;
        else if (c == '(' || c == '[' || c == '{')
            nest++;
        else if (c == ')' || c == ']' || c == '}')
            nest--;
        else if (nest == 0 && (c == ':' || (c == '!' && end + 1 < to && L->s[end + 1] != '=')))
            break;
    }
    lexer sub = {.arena = L->arena, .s = L->s, .len = end, .i = from, .nested = true, .depth = L->depth};
    pnode *f = mk(L, P_FIELD, from);
    if (!f || lx_next(&sub) != TG_OK || !(f->a = parse_test(&sub)))
        return NULL;
    if (sub.k != K_END) {
        unexpected(&sub, "'}' after the f-string field's expression");
        return NULL;
    }
    if (end < to && L->s[end] == '!') {
        if (end + 2 > to || L->s[end + 1] != 'r' || (end + 2 < to && L->s[end + 2] != ':')) {
            tg_error_at(end, TG_EINPUT, "only the conversion !r is in the subset");
            return NULL;
        }
        f->conv_repr = true;
        end += 2;
    }
    if (end < to && L->s[end] == ':' && !(f->str = prog_alloc(L->arena, (size_t)(to - end)))) /* the spec */
        return NULL;
    if (f->str) {
        memcpy(f->str, L->s + end + 1, (size_t)(to - end - 1));
        f->slen = (size_t)(to - end - 1);
    }
    return f;
}

/* f'text {expr} text': literal parts and fields */
static pnode *fstring(lexer *L, pnode *n, int *cap)
{
    int i = L->body, end = L->body + L->blen, lit = i;
    while (i < end) {
        char c = L->s[i];
        if ((c == '{' || c == '}') && i + 1 < end && L->s[i + 1] == c) {
            i += 2;
            continue;
        }
        if (c == '}')
            return tg_error_at(i, TG_EINPUT, "f-string: single '}' is not allowed"), NULL;
        if (c != '{') {
            i += c == '\\' && !L->raw ? 2 : 1;
            continue;
        }
        if (i > lit && !push(L, n, string_node(L, lit, lit, i, L->raw, true), cap))
            return NULL;
        int j = i + 1, nest = 0;
        char quote = 0;
        for (; j < end; j++) { /* the matching '}' */
            char d = L->s[j];
            if (quote)
                quote = d == quote ? 0 : quote;
            else if (d == '\'' || d == '"')
                quote = d;
            else if (d == '{' || d == '[' || d == '(')
                nest++;
            else if ((d == ']' || d == ')') || (d == '}' && nest > 0))
                nest--;
            else if (d == '}')
                break;
        }
        if (j >= end)
            return tg_error_at(i, TG_EINPUT, "f-string: expecting '}'"), NULL;
        if (!push(L, n, fstring_field(L, i + 1, j), cap))
            return NULL;
        i = lit = j + 1;
    }
    if (i > lit && !push(L, n, string_node(L, lit, lit, i, L->raw, true), cap))
        return NULL;
    return n;
}

/* adjacent literals ('a' 'b', f'..' '..') make one string */
static pnode *parse_strings(lexer *L)
{
    pnode *n = mk(L, P_FSTR, L->tpos);
    int cap = 0;
    if (!n)
        return NULL;
    while (L->k == K_STR) {
        if (L->fstr ? !fstring(L, n, &cap)
                    : !push(L, n, string_node(L, L->tpos, L->body, L->body + L->blen, L->raw, false), &cap))
            return NULL;
        if (lx_next(L) != TG_OK)
            return NULL;
    }
    if (n->nv == 1 && n->v[0]->kind == P_STR)
        return n->v[0];
    return n;
}

static pnode *parse_number(lexer *L)
{
    pnode *n = mk(L, P_NUM, L->tpos);
    char *digits = tokstr(L);
    if (!n || !digits)
        return NULL;
    int k = 0;
    for (int i = 0; digits[i]; i++)
        if (digits[i] != '_')
            digits[k++] = digits[i];
    digits[k] = 0;
    n->is_int = !strpbrk(digits, ".eE");
    n->num = tg_strtod_c(digits, NULL);
    if (n->is_int) {
        errno = 0;
        n->ival = strtoll(digits, NULL, 10);
        if (errno == ERANGE) {
            tg_error_at(n->pos, TG_EINPUT, "integer %s does not fit in int64 (Python's ints are unbounded, "
                        "tgrad's are int64)", digits);
            return NULL;
        }
    }
    return lx_next(L) == TG_OK ? n : NULL;
}

/* the items of (...) or [...] up to close: a tuple, a list, or (a) alone */
static pnode *parse_items(lexer *L, pkind kind, const char *close)
{
    int pos = L->tpos, cap = 0;
    pnode *n = mk(L, kind, pos);
    bool comma = false;
    if (!n || lx_next(L) != TG_OK)
        return NULL;
    while (!is_op(L, close)) {
        if (!push(L, n, parse_test(L), &cap))
            return NULL;
        if (!is_op(L, ","))
            break;
        comma = true;
        if (lx_next(L) != TG_OK)
            return NULL;
    }
    if (expect(L, close) != TG_OK)
        return NULL;
    if (kind == P_TUPLE && n->nv == 1 && !comma)
        return n->v[0]; /* (a) is a */
    return n;
}

static pnode *parse_atom(lexer *L)
{
    if (L->k == K_NUM)
        return parse_number(L);
    if (L->k == K_STR)
        return parse_strings(L);
    if (L->k == K_NAME) {
        static const char *const reserved[] = {"if", "else", "elif", "for", "while", "in", "is", "not", "and",
                                               "or", "def", "return", "import", "from", "as", "with", "pass",
                                               "class", "try", "except", "lambda", "yield", "del", NULL};
        for (int k = 0; reserved[k]; k++)
            if (is_kw(L, reserved[k]))
                return unexpected(L, "an expression"), NULL;
        pnode *n = mk(L, P_NAME, L->tpos);
        if (!n || !(n->name = tokstr(L)) || lx_next(L) != TG_OK)
            return NULL;
        return n;
    }
    if (is_op(L, "("))
        return parse_items(L, P_TUPLE, ")");
    if (is_op(L, "["))
        return parse_items(L, P_LIST, "]");
    if (is_op(L, "{")) {
        tg_error_at(L->tpos, TG_EINPUT, "dicts and sets are not in the subset tgrad runs");
        return NULL;
    }
    return unexpected(L, "an expression"), NULL;
}

static pnode *parse_call(lexer *L, pnode *callee)
{
    pnode *c = mk(L, P_CALL, L->tpos);
    int cap = 0;
    bool kw_seen = false;
    if (!c || lx_next(L) != TG_OK)
        return NULL;
    c->a = callee;
    while (!is_op(L, ")")) {
        pnode *a;
        if (is_op(L, "*") || is_op(L, "**")) {
            tg_error_at(L->tpos, TG_EINPUT, "*args and **kwargs are not in the subset tgrad runs");
            return NULL;
        }
        if (L->k == K_NAME && L->i < L->len && L->s[L->i] == '=' && (L->i + 1 >= L->len || L->s[L->i + 1] != '=')) {
            if (!(a = mk(L, P_KWARG, L->tpos)) || !(a->name = tokstr(L)) || lx_next(L) != TG_OK ||
                lx_next(L) != TG_OK || !(a->a = parse_test(L)))
                return NULL;
            kw_seen = true;
        } else {
            if (kw_seen) {
                tg_error_at(L->tpos, TG_EINPUT, "positional argument follows keyword argument");
                return NULL;
            }
            if (!(a = parse_test(L)))
                return NULL;
        }
        if (!push(L, c, a, &cap))
            return NULL;
        if (!is_op(L, ","))
            break;
        if (lx_next(L) != TG_OK)
            return NULL;
    }
    return expect(L, ")") == TG_OK ? c : NULL;
}

static pnode *parse_subscript(lexer *L)
{
    pnode *parts[3] = {0};
    int pos = L->tpos;
    if (!is_op(L, ":")) {
        if (!(parts[0] = parse_test(L)))
            return NULL;
        if (!is_op(L, ":"))
            return parts[0];
    }
    pnode *s = mk(L, P_SLICE, pos);
    for (int k = 1; s && k < 3 && is_op(L, ":"); k++) {
        if (lx_next(L) != TG_OK)
            return NULL;
        if (!is_op(L, ":") && !is_op(L, ",") && !is_op(L, "]") && !(parts[k] = parse_test(L)))
            return NULL;
    }
    if (s) {
        s->a = parts[0];
        s->b = parts[1];
        s->c = parts[2];
    }
    return s;
}

static pnode *parse_postfix(lexer *L)
{
    pnode *n = parse_atom(L);
    while (n) {
        if (is_op(L, "(")) {
            if (!enter(L))
                return NULL;
            n = parse_call(L, n);
            L->depth--;
        } else if (is_op(L, ".")) {
            if (lx_next(L) != TG_OK)
                return NULL;
            if (L->k != K_NAME)
                return unexpected(L, "an attribute name after '.'"), NULL;
            pnode *a = mk(L, P_ATTR, L->tpos);
            if (!a || !(a->name = tokstr(L)) || lx_next(L) != TG_OK)
                return NULL;
            a->a = n;
            n = a;
        } else if (is_op(L, "[")) {
            pnode *ix = mk(L, P_INDEX, L->tpos);
            int cap = 0;
            if (!ix || !enter(L) || lx_next(L) != TG_OK)
                return NULL;
            ix->a = n;
            while (!is_op(L, "]")) {
                if (!push(L, ix, parse_subscript(L), &cap))
                    return NULL;
                if (!is_op(L, ","))
                    break;
                if (lx_next(L) != TG_OK)
                    return NULL;
            }
            L->depth--;
            if (expect(L, "]") != TG_OK)
                return NULL;
            n = ix;
        } else
            break;
    }
    return n;
}

static pnode *binary(lexer *L, pkind k, int op, int pos, pnode *a, pnode *b)
{
    if (!a || !b)
        return NULL;
    pnode *n = mk(L, k, pos);
    if (n) {
        n->op = op;
        n->a = a;
        n->b = b;
    }
    return n;
}

static pnode *parse_power(lexer *L)
{
    pnode *base = parse_postfix(L);
    if (!base || !is_op(L, "**"))
        return base;
    int pos = L->tpos;
    if (!enter(L) || lx_next(L) != TG_OK)
        return NULL;
    pnode *e = parse_factor(L);
    L->depth--;
    return binary(L, P_BINARY, OP_POW, pos, base, e);
}

static pnode *parse_factor(lexer *L)
{
    if (!is_op(L, "-") && !is_op(L, "+") && !is_op(L, "~"))
        return parse_power(L);
    if (is_op(L, "~")) {
        tg_error_at(L->tpos, TG_EINPUT, "the operator ~ is not in the subset (use logical_not)");
        return NULL;
    }
    int pos = L->tpos, op = is_op(L, "-") ? OP_SUB : OP_ADD;
    if (!enter(L) || lx_next(L) != TG_OK)
        return NULL;
    pnode *x = parse_factor(L), *u = x ? mk(L, P_UNARY, pos) : NULL;
    L->depth--;
    if (u) {
        u->op = op;
        u->a = x;
    }
    return u;
}

typedef struct { const char *tok; int op; } optab;

static pnode *parse_left(lexer *L, pnode *(*sub)(lexer *), const optab *ops)
{
    pnode *l = sub(L);
    while (l) {
        int op = 0;
        for (int k = 0; ops[k].tok && !op; k++)
            if (is_op(L, ops[k].tok))
                op = ops[k].op;
        if (!op)
            break;
        int pos = L->tpos;
        if (lx_next(L) != TG_OK)
            return NULL;
        l = binary(L, P_BINARY, op, pos, l, sub(L));
    }
    return l;
}

static pnode *parse_term(lexer *L)
{
    static const optab t[] = {{"*", OP_MUL}, {"/", OP_DIV}, {"//", OP_FLOORDIV}, {"%", OP_MOD},
                              {"@", OP_MATMUL}, {0, 0}};
    return parse_left(L, parse_factor, t);
}

static pnode *parse_arith(lexer *L)
{
    static const optab t[] = {{"+", OP_ADD}, {"-", OP_SUB}, {0, 0}};
    if (is_op(L, "&") || is_op(L, "|") || is_op(L, "^"))
        return unexpected(L, "an expression"), NULL;
    return parse_left(L, parse_term, t);
}

/* the comparison operator at L (consumed), or 0 */
static tg_status compare_op(lexer *L, int *op)
{
    static const optab t[] = {{"<", OP_LT}, {"<=", OP_LE}, {">", OP_GT}, {">=", OP_GE}, {"==", OP_EQ},
                              {"!=", OP_NE}, {0, 0}};
    *op = 0;
    for (int k = 0; t[k].tok && !*op; k++)
        if (is_op(L, t[k].tok))
            *op = t[k].op;
    if (is_kw(L, "in"))
        *op = OP_IN;
    if (is_kw(L, "is"))
        *op = OP_IS;
    if (is_kw(L, "not") && L->i < L->len) { /* not in */
        int j = L->i;
        while (j < L->len && L->s[j] == ' ')
            j++;
        if (j + 2 <= L->len && !memcmp(L->s + j, "in", 2) && (j + 2 == L->len || !isalnum((unsigned char)L->s[j + 2])))
            *op = OP_NOTIN;
    }
    if (!*op)
        return TG_OK;
    tg_status st = lx_next(L);
    if (st == TG_OK && (*op == OP_NOTIN || (*op == OP_IS && is_kw(L, "not")))) {
        *op = *op == OP_IS ? OP_ISNOT : OP_NOTIN;
        st = lx_next(L);
    }
    return st;
}

static pnode *parse_comparison(lexer *L)
{
    pnode *first = parse_arith(L), *c = NULL;
    int op, cap = 0, opcap = 0;
    while (first && compare_op(L, &op) == TG_OK && op) {
        if (!c) {
            if (!(c = mk(L, P_COMPARE, first->pos)) || !push(L, c, first, &cap))
                return NULL;
        }
        if (!(c->ops = prog_grow(L->arena, c->ops, c->nv - 1, &opcap, sizeof *c->ops)))
            return NULL;
        c->ops[c->nv - 1] = op;
        if (!push(L, c, parse_arith(L), &cap))
            return NULL;
    }
    if (tg_errcode())
        return NULL;
    return c ? c : first;
}

static pnode *parse_not(lexer *L)
{
    if (!is_kw(L, "not"))
        return parse_comparison(L);
    int pos = L->tpos;
    if (!enter(L) || lx_next(L) != TG_OK)
        return NULL;
    pnode *x = parse_not(L), *n = x ? mk(L, P_NOT, pos) : NULL;
    L->depth--;
    if (n)
        n->a = x;
    return n;
}

static pnode *parse_boolop(lexer *L, const char *word, pkind kind, pnode *(*sub)(lexer *))
{
    pnode *l = sub(L);
    while (l && is_kw(L, word)) {
        int pos = L->tpos;
        if (lx_next(L) != TG_OK)
            return NULL;
        l = binary(L, kind, 0, pos, l, sub(L));
    }
    return l;
}

static pnode *parse_and(lexer *L) { return parse_boolop(L, "and", P_AND, parse_not); }
static pnode *parse_or(lexer *L) { return parse_boolop(L, "or", P_OR, parse_and); }

static pnode *parse_lambda(lexer *L)
{
    pnode *n = mk(L, P_LAMBDA, L->tpos);
    int cap = 0;
    if (!n || lx_next(L) != TG_OK)
        return NULL;
    while (L->k == K_NAME) {
        pnode *p = mk(L, P_NAME, L->tpos);
        if (!p || !(p->name = tokstr(L)) || !push(L, n, p, &cap) || lx_next(L) != TG_OK)
            return NULL;
        if (!is_op(L, ","))
            break;
        if (lx_next(L) != TG_OK)
            return NULL;
    }
    if (expect(L, ":") != TG_OK || !(n->a = parse_test(L)))
        return NULL;
    return n;
}

static pnode *parse_test(lexer *L)
{
    if (!enter(L))
        return NULL;
    pnode *r;
    if (is_kw(L, "lambda"))
        r = parse_lambda(L);
    else {
        r = parse_or(L);
        if (r && is_kw(L, "if")) {
            pnode *n = mk(L, P_IFEXP, L->tpos);
            if (!n || lx_next(L) != TG_OK || !(n->b = parse_or(L)))
                return NULL;
            if (!is_kw(L, "else"))
                return unexpected(L, "'else' in the conditional expression"), NULL;
            if (lx_next(L) != TG_OK || !(n->c = parse_test(L)))
                return NULL;
            n->a = r;
            r = n;
        }
    }
    L->depth--;
    return r;
}

/* a, b, c without brackets: a tuple (or a alone) */
static pnode *parse_testlist(lexer *L)
{
    pnode *first = parse_test(L);
    if (!first || !is_op(L, ","))
        return first;
    pnode *t = mk(L, P_TUPLE, first->pos);
    int cap = 0;
    if (!t || !push(L, t, first, &cap))
        return NULL;
    while (is_op(L, ",")) {
        if (lx_next(L) != TG_OK)
            return NULL;
        if (L->k == K_NEWLINE || L->k == K_END || is_op(L, "="))
            break;
        if (!push(L, t, parse_test(L), &cap))
            return NULL;
    }
    return t;
}

/* ---- statements ---- */
static pnode *parse_stmt(lexer *L);

static tg_status end_of_statement(lexer *L)
{
    if (L->k == K_NEWLINE)
        return lx_next(L);
    if (L->k == K_END || L->k == K_DEDENT)
        return TG_OK;
    return unexpected(L, "the end of the statement");
}

/* statements up to a DEDENT (consumed) or the end */
static pnode *parse_block(lexer *L, bool indented)
{
    pnode *b = mk(L, S_BLOCK, L->tpos);
    int cap = 0;
    if (!b)
        return NULL;
    for (;;) {
        while (L->k == K_NEWLINE)
            if (lx_next(L) != TG_OK)
                return NULL;
        if (L->k == K_END)
            break;
        if (L->k == K_DEDENT) {
            if (indented)
                return lx_next(L) == TG_OK ? b : NULL;
            return unexpected(L, "a statement"), NULL;
        }
        if (L->k == K_INDENT) {
            tg_error_at(L->tpos, TG_EINPUT, "unexpected indent");
            return NULL;
        }
        if (!push(L, b, parse_stmt(L), &cap))
            return NULL;
    }
    return b;
}

/* ':' then the statements on the line or the indented block */
static pnode *parse_suite_body(lexer *L)
{
    if (expect(L, ":") != TG_OK)
        return NULL;
    if (L->k != K_NEWLINE) {
        pnode *b = mk(L, S_BLOCK, L->tpos);
        int cap = 0;
        return b && push(L, b, parse_stmt(L), &cap) ? b : NULL;
    }
    if (lx_next(L) != TG_OK)
        return NULL;
    if (L->k != K_INDENT) {
        tg_error_at(L->tpos, TG_EINPUT, "expected an indented block");
        return NULL;
    }
    return lx_next(L) == TG_OK ? parse_block(L, true) : NULL;
}

static pnode *parse_suite(lexer *L)
{
    if (!enter(L)) /* blocks nest: the same bound as brackets */
        return NULL;
    pnode *b = parse_suite_body(L);
    L->depth--;
    return b;
}

/* a dotted module name: torch.nn.functional */
static char *dotted_name(lexer *L)
{
    tg_buf b = {0};
    while (L->k == K_NAME) {
        tg_buf_add(&b, L->s + L->tpos, (size_t)L->tlen);
        if (lx_next(L) != TG_OK || !is_op(L, "."))
            break;
        tg_buf_add(&b, ".", 1);
        if (lx_next(L) != TG_OK)
            break;
    }
    char *r = NULL;
    if (!tg_errcode() && !b.failed && b.len && (r = prog_alloc(L->arena, b.len + 1)))
        memcpy(r, b.data, b.len);
    else if (b.failed)
        tg_error(TG_ERESOURCE, "out of memory");
    else if (!tg_errcode())
        unexpected(L, "a module name");
    tg_buf_free(&b);
    return r;
}

/* "as NAME" after an import, or NULL */
static bool parse_alias(lexer *L, char **alias)
{
    *alias = NULL;
    if (!is_kw(L, "as"))
        return true;
    if (lx_next(L) != TG_OK)
        return false;
    if (L->k != K_NAME)
        return unexpected(L, "a name after 'as'"), false;
    return (*alias = tokstr(L)) && lx_next(L) == TG_OK;
}

static pnode *parse_import(lexer *L, bool from)
{
    pnode *n = mk(L, from ? S_FROM : S_IMPORT, L->tpos);
    int cap = 0;
    if (!n || lx_next(L) != TG_OK || !(n->name = dotted_name(L)))
        return NULL;
    if (!from)
        return parse_alias(L, &n->str) && end_of_statement(L) == TG_OK ? n : NULL;
    if (!is_kw(L, "import"))
        return unexpected(L, "'import'"), NULL;
    if (lx_next(L) != TG_OK)
        return NULL;
    bool paren = is_op(L, "(");
    if (paren && lx_next(L) != TG_OK)
        return NULL;
    while (L->k == K_NAME) {
        pnode *p = mk(L, P_NAME, L->tpos);
        if (!p || !(p->name = tokstr(L)) || lx_next(L) != TG_OK || !parse_alias(L, &p->str) || !push(L, n, p, &cap))
            return NULL;
        if (!is_op(L, ","))
            break;
        if (lx_next(L) != TG_OK)
            return NULL;
    }
    if (!n->nv)
        return unexpected(L, "the names to import"), NULL;
    if (paren && expect(L, ")") != TG_OK)
        return NULL;
    return end_of_statement(L) == TG_OK ? n : NULL;
}

static pnode *parse_def(lexer *L)
{
    pnode *n = mk(L, S_DEF, L->tpos);
    int cap = 0;
    if (!n || lx_next(L) != TG_OK)
        return NULL;
    if (L->k != K_NAME)
        return unexpected(L, "the function's name"), NULL;
    if (!(n->name = tokstr(L)) || lx_next(L) != TG_OK || expect(L, "(") != TG_OK)
        return NULL;
    while (L->k == K_NAME) {
        pnode *p = mk(L, P_NAME, L->tpos);
        if (!p || !(p->name = tokstr(L)) || !push(L, n, p, &cap) || lx_next(L) != TG_OK)
            return NULL;
        if (is_op(L, "=") || is_op(L, ":")) {
            tg_error_at(L->tpos, TG_EINPUT, "default values and annotations of parameters are not in the subset");
            return NULL;
        }
        if (!is_op(L, ","))
            break;
        if (lx_next(L) != TG_OK)
            return NULL;
    }
    if (expect(L, ")") != TG_OK)
        return NULL;
    if (is_op(L, "->")) {
        tg_error_at(L->tpos, TG_EINPUT, "return annotations are not in the subset");
        return NULL;
    }
    return (n->a = parse_suite(L)) ? n : NULL;
}

static pnode *parse_if(lexer *L)
{
    pnode *n = mk(L, S_IF, L->tpos);
    if (!n || lx_next(L) != TG_OK || !(n->a = parse_test(L)) || !(n->b = parse_suite(L)))
        return NULL;
    if (is_kw(L, "elif"))
        n->c = parse_if(L);
    else if (is_kw(L, "else"))
        n->c = lx_next(L) == TG_OK ? parse_suite(L) : NULL;
    else
        return n;
    return n->c ? n : NULL;
}

static pnode *parse_with(lexer *L)
{
    pnode *n = mk(L, S_WITH, L->tpos);
    if (!n || lx_next(L) != TG_OK || !(n->a = parse_test(L)))
        return NULL;
    if (is_kw(L, "as") || is_op(L, ",")) {
        tg_error_at(L->tpos, TG_EINPUT, "with: one context manager without 'as' (with torch.no_grad():) is "
                    "what the subset has");
        return NULL;
    }
    return (n->b = parse_suite(L)) ? n : NULL;
}

/* the statements Python has and the subset has not, with what to do */
static bool refuse_statement(lexer *L)
{
    static const struct { const char *kw, *hint; } no[] = {
        {"for", "'for' loops are not in the subset tgrad runs (for many points use vmap(f)(xs), or "
                "tgrad EXPR --lines / --batch)"},
        {"while", "'while' loops are not in the subset tgrad runs"},
        {"class", "classes (nn.Module) are not in the subset tgrad runs"},
        {"try", "try/except is not in the subset tgrad runs: an error ends the program (status 3)"},
        {"raise", "'raise' is not in the subset tgrad runs"},
        {"assert", "'assert' is not in the subset tgrad runs"},
        {"del", "'del' is not in the subset tgrad runs"},
        {"global", "'global' is not in the subset tgrad runs"},
        {"nonlocal", "'nonlocal' is not in the subset tgrad runs"},
        {"yield", "'yield' is not in the subset tgrad runs"},
        {"async", "'async' is not in the subset tgrad runs"},
        {"break", "'break' is not in the subset tgrad runs"},
        {"continue", "'continue' is not in the subset tgrad runs"},
        {"else", "'else' without 'if'"},
        {"elif", "'elif' without 'if'"},
        {"except", "'except' without 'try'"},
    };
    for (size_t k = 0; k < sizeof no / sizeof *no; k++)
        if (is_kw(L, no[k].kw)) {
            tg_error_at(L->tpos, TG_EINPUT, "%s", no[k].hint);
            return false;
        }
    return true;
}

static pnode *parse_simple(lexer *L)
{
    static const optab aug[] = {{"+=", OP_ADD}, {"-=", OP_SUB}, {"*=", OP_MUL}, {"/=", OP_DIV},
                                {"**=", OP_POW}, {"//=", OP_FLOORDIV}, {"%=", OP_MOD}, {"@=", OP_MATMUL}, {0, 0}};
    int pos = L->tpos;
    pnode *e = parse_testlist(L);
    if (!e)
        return NULL;
    int op = 0;
    for (int k = 0; aug[k].tok && !op; k++)
        if (is_op(L, aug[k].tok))
            op = aug[k].op;
    pnode *s;
    if (op || is_op(L, "=")) {
        if (!(s = mk(L, op ? S_AUGASSIGN : S_ASSIGN, pos)) || lx_next(L) != TG_OK || !(s->b = parse_testlist(L)))
            return NULL;
        s->op = op;
        s->a = e;
        if (is_op(L, "=")) {
            tg_error_at(L->tpos, TG_EINPUT, "chained assignment (a = b = ...) is not in the subset");
            return NULL;
        }
    } else if ((s = mk(L, S_EXPR, pos)))
        s->a = e;
    return s && end_of_statement(L) == TG_OK ? s : NULL;
}

static pnode *parse_stmt(lexer *L)
{
    if (!refuse_statement(L))
        return NULL;
    if (is_kw(L, "import") || is_kw(L, "from"))
        return parse_import(L, is_kw(L, "from"));
    if (is_kw(L, "def"))
        return parse_def(L);
    if (is_kw(L, "if"))
        return parse_if(L);
    if (is_kw(L, "with"))
        return parse_with(L);
    if (is_kw(L, "pass") || is_kw(L, "return")) {
        pnode *n = mk(L, is_kw(L, "pass") ? S_PASS : S_RETURN, L->tpos);
        if (!n || lx_next(L) != TG_OK)
            return NULL;
        if (n->kind == S_RETURN && L->k != K_NEWLINE && L->k != K_END && L->k != K_DEDENT &&
            !(n->a = parse_testlist(L)))
            return NULL;
        return end_of_statement(L) == TG_OK ? n : NULL;
    }
    return parse_simple(L);
}

pnode *tg_py_parse(tg_program *arena, const char *src)
{
    size_t len = strlen(src);
    if (len > (1u << 30)) {
        tg_error(TG_EINPUT, "program longer than 1 GiB");
        return NULL;
    }
    lexer L = {.arena = arena, .s = src, .len = (int)len, .line_start = true, .last = K_NEWLINE};
    pnode *b = lx_next(&L) == TG_OK ? parse_block(&L, false) : NULL;
    return b;
}
