/* graph.c -- the engine's own graph, seen: collected from a result through
 * each tensor's inputs, written as Graphviz DOT or as JSON, and walked node
 * by node to explain the chain rule.  Nothing here copies the graph: the
 * nodes are the tensors tg_apply recorded. */
#include "internal.h"
#include "io/torch_repr.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the index: node -> position, open addressing, at most half full ---- */
static size_t hash_ptr(const void *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15u;
    return (size_t)(h >> 32) & (cap - 1);
}

static tg_status build_index(tg_graph *g)
{
    size_t cap = 16;
    while (cap < (size_t)g->n * 2)
        cap *= 2;
    if (!(g->index_slots = tg_calloc(cap, sizeof *g->index_slots)))
        return TG_ERESOURCE;
    g->index_cap = cap;
    for (int i = 0; i < g->n; i++) {
        size_t k = hash_ptr(g->nodes[i], cap);
        while (g->index_slots[k])
            k = (k + 1) & (cap - 1);
        g->index_slots[k] = i + 1;
    }
    return TG_OK;
}

/* nodes in data-flow order (inputs before the ops that use them) */
tg_status tg_graph_collect(tg_tensor *root, tg_graph *g)
{
    memset(g, 0, sizeof *g);
    size_t cap = 64, sp = 0;
    tg_tensor **stack = tg_malloc(cap * sizeof *stack);
    int *next = tg_malloc(cap * sizeof *next);
    if (!stack || !next) {
        tg_free(stack);
        tg_free(next);
        return TG_ERESOURCE;
    }
    tg_status st = TG_OK;
    stack[sp] = root;
    next[sp++] = 0;
    root->tape.pending = -1; /* on the stack or done */
    while (sp && st == TG_OK) {
        tg_tensor *t = stack[sp - 1];
        if (next[sp - 1] < t->nin) {
            tg_tensor *u = t->in[next[sp - 1]++];
            if (u->tape.pending != -1) {
                if (sp == cap) {
                    cap *= 2;
                    tg_tensor **ns = tg_realloc(stack, cap * sizeof *ns);
                    int *nn = ns ? tg_realloc(next, cap * sizeof *nn) : NULL;
                    if (ns) stack = ns;
                    if (nn) next = nn;
                    if (!ns || !nn) { st = TG_ERESOURCE; break; }
                }
                u->tape.pending = -1;
                stack[sp] = u;
                next[sp++] = 0;
            }
            continue;
        }
        sp--;
        if (g->n == g->cap) {
            int nc = g->cap ? g->cap * 2 : 32;
            tg_tensor **nv = tg_realloc(g->nodes, nc * sizeof *nv);
            if (!nv) { st = TG_ERESOURCE; break; }
            g->nodes = nv;
            g->cap = nc;
        }
        g->nodes[g->n++] = t;
    }
    tg_free(stack);
    tg_free(next);
    for (int i = 0; i < g->n; i++)
        g->nodes[i]->tape.pending = 0;
    if (st == TG_OK)
        st = build_index(g);
    /* names for the unnamed */
    if (st == TG_OK && !(g->names = tg_calloc(g->n ? g->n : 1, sizeof *g->names)))
        st = TG_ERESOURCE;
    int temp = 0;
    for (int i = 0; i < g->n && st == TG_OK; i++) {
        tg_tensor *t = g->nodes[i];
        char buf[64]; /* a number or t%d: a name is copied whole */
        const char *text = buf;
        if (t->name)
            text = t->name;
        else if (!t->op && t->numel == 1 && !t->requires_grad)
            tg_format_number(buf, tg_item(t), t->dtype);
        else if (!t->op)
            snprintf(buf, sizeof buf, "const%d", i);
        else
            snprintf(buf, sizeof buf, "t%d", ++temp);
        size_t len = strlen(text) + 1;
        if (!(g->names[i] = tg_malloc(len)))
            st = TG_ERESOURCE;
        else
            memcpy(g->names[i], text, len);
    }
    if (st != TG_OK)
        tg_graph_free(g);
    return st;
}

void tg_graph_free(tg_graph *g)
{
    for (int i = 0; i < g->n && g->names; i++)
        tg_free(g->names[i]);
    tg_free(g->names);
    tg_free(g->nodes);
    tg_free(g->index_slots);
    memset(g, 0, sizeof *g);
}

int tg_graph_index(const tg_graph *g, const tg_tensor *t)
{
    if (!g->index_cap)
        return -1;
    for (size_t k = hash_ptr(t, g->index_cap);; k = (k + 1) & (g->index_cap - 1)) {
        int slot = g->index_slots[k];
        if (!slot)
            return -1;
        if (g->nodes[slot - 1] == t)
            return slot - 1;
    }
}

static const char *kind(const tg_tensor *t)
{
    return t->op ? "op" : t->requires_grad || t->name ? "input" : "constant";
}

/* small tensors are shown whole; larger ones by their size */
#define SHOW_MAX 8

static void dot_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
}

/* "[2,3]" as the tensor's shape; "scalar" for a 0-D one */
static void dot_shape(FILE *f, const tg_tensor *t)
{
    char s[256];
    fprintf(f, "%s", t->ndim ? tg_shape_str(t, s, sizeof s) : "scalar");
}

/* "LABEL [1,4]" for a small tensor; "LABEL: 1000000 values, shape [1000000]"
 * for a larger one, never to be read as a one-element tensor */
static void dot_tensor(FILE *f, const char *label, const tg_tensor *t)
{
    if (!t)
        return;
    if (t->numel > SHOW_MAX) {
        fprintf(f, "\\n%s: %lld values, shape ", label, (long long)t->numel);
        dot_shape(f, t);
        return;
    }
    fprintf(f, "\\n%s ", label);
    char *buf = NULL; /* JSON text of a small tensor, with its quotes escaped */
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (m) {
        tg_json_write(m, t);
        fclose(m);
        dot_escape(f, buf);
        free(buf);
    }
}

/* a constant that is one number, shown inside its op's label, not as a node */
static bool folded(const tg_tensor *t)
{
    return !t->op && !t->requires_grad && !t->name && t->numel == 1;
}

/* the operators the expression language writes infix; other ops are calls */
static const char *const infix[TG_NOPS] = {
    [TG_OP_ADD] = "+", [TG_OP_SUB] = "-", [TG_OP_MUL] = "*", [TG_OP_DIV] = "/", [TG_OP_POW] = "**",
    [TG_OP_MATMUL] = "@", [TG_OP_EQ] = "==", [TG_OP_NE] = "!=", [TG_OP_LT] = "<", [TG_OP_LE] = "<=",
    [TG_OP_GT] = ">", [TG_OP_GE] = ">=",
};

static void dot_operand(FILE *f, const tg_graph *g, const tg_tensor *t)
{
    dot_escape(f, g->names[tg_graph_index(g, t)]);
}

/* "y = x ** 2": the op over its inputs, by name, constants folded in */
static void dot_op_label(FILE *f, const tg_graph *g, const tg_tensor *t)
{
    int op = (int)(t->op - tg_ops);
    if (t->nin == 2 && infix[op]) {
        dot_operand(f, g, t->in[0]);
        fprintf(f, " %s ", infix[op]);
        dot_operand(f, g, t->in[1]);
    } else if (op == TG_OP_NEG) {
        fprintf(f, "-");
        dot_operand(f, g, t->in[0]);
    } else {
        fprintf(f, "%s(", t->op->name);
        for (int k = 0; k < t->nin; k++) {
            fprintf(f, "%s", k ? ", " : "");
            dot_operand(f, g, t->in[k]);
        }
        fprintf(f, ")");
    }
    const char *fn = tg_grad_fn_name(t);
    if (fn)
        fprintf(f, "\\n%s", fn);
}

tg_status tg_node_local_derivatives(tg_tensor *node, const tg_tensor *g, tg_tensor **loc)
{
    bool old = tg_set_grad_enabled(false);
    tg_tensor *ones = tg_ones_like(g);
    tg_status st = ones ? node->op->backward(node, ones, loc) : tg_errcode();
    tg_release(ones);
    tg_set_grad_enabled(old);
    return st;
}

/* What flows along the edges into op t in the backward pass, with
 * --graph-values, once per node: the local derivative for each input and
 * the gradient it passes back (the rule applied to t's upstream gradient).
 * A rule that cannot run here leaves the edges plain (all NULL). */
static void edge_values(tg_tensor *t, tg_tensor **loc, tg_tensor **pass)
{
    bool old = tg_set_grad_enabled(false);
    if (tg_node_local_derivatives(t, t->grad, loc) != TG_OK || t->op->backward(t, t->grad, pass) != TG_OK)
        for (int i = 0; i < 3; i++) {
            tg_release(loc[i]);
            tg_release(pass[i]);
            loc[i] = pass[i] = NULL;
        }
    tg_error_clear();
    tg_set_grad_enabled(old);
}

tg_status tg_graph_write_dot(FILE *f, const tg_graph *g, bool values)
{
    fprintf(f, "digraph tgrad {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=11];\n"
               "  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (int i = 0; i < g->n; i++) {
        const tg_tensor *t = g->nodes[i];
        if (folded(t) && i != g->n - 1)
            continue;
        fprintf(f, "  n%d [shape=%s, label=\"", i, t->op ? "ellipse" : "box");
        dot_escape(f, g->names[i]);
        if (t->op) {
            fprintf(f, " = ");
            dot_op_label(f, g, t);
        }
        fprintf(f, "\\n%s%s", tg_dtype_name(t->dtype), t->ndim ? ", shape " : " ");
        dot_shape(f, t);
        if (values) {
            dot_tensor(f, "value", t);
            dot_tensor(f, "grad", t->grad);
        }
        fprintf(f, "\"%s];\n", i == g->n - 1 ? ", peripheries=2" : "");
    }
    for (int i = 0; i < g->n; i++) {
        tg_tensor *t = g->nodes[i], *loc[3] = {0}, *pass[3] = {0};
        if (values && t->op && t->grad)
            edge_values(t, loc, pass);
        for (int k = 0; k < t->nin; k++) {
            const tg_tensor *in = t->in[k];
            if (folded(in))
                continue;
            fprintf(f, "  n%d -> n%d [label=\"", tg_graph_index(g, in), i);
            dot_shape(f, in);
            if (in->requires_grad) {
                dot_tensor(f, "local", loc[k]);
                dot_tensor(f, "passes", pass[k]);
            }
            fprintf(f, "\"];\n");
        }
        for (int k = 0; k < 3; k++) {
            tg_release(loc[k]);
            tg_release(pass[k]);
        }
    }
    fprintf(f, "}\n");
    return ferror(f) ? tg_error(TG_ERESOURCE, "cannot write the graph") : TG_OK;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

tg_status tg_graph_write_json(FILE *f, const tg_graph *g, bool values)
{
    char s[256];
    tg_status st = TG_OK;
    fprintf(f, "{\"nodes\":[");
    for (int i = 0; i < g->n && st == TG_OK; i++) {
        const tg_tensor *t = g->nodes[i];
        fprintf(f, "%s{\"id\":%d,\"name\":", i ? "," : "", i);
        json_str(f, g->names[i]);
        fprintf(f, ",\"kind\":\"%s\"", kind(t));
        if (t->op)
            fprintf(f, ",\"op\":\"%s\"", t->op->name);
        fprintf(f, ",\"inputs\":[");
        for (int k = 0; k < t->nin; k++)
            fprintf(f, "%s%d", k ? "," : "", tg_graph_index(g, t->in[k]));
        fprintf(f, "],\"dtype\":\"%s\",\"shape\":%s,\"requires_grad\":%s", tg_dtype_name(t->dtype),
                tg_shape_str(t, s, sizeof s), t->requires_grad ? "true" : "false");
        if (t->pos >= 0)
            fprintf(f, ",\"pos\":%d", t->pos + 1);
        if (values) {
            fprintf(f, ",\"value\":");
            st = tg_json_write(f, t);
            if (t->grad && st == TG_OK) {
                fprintf(f, ",\"grad\":");
                st = tg_json_write(f, t->grad);
            }
        }
        fprintf(f, "}");
    }
    fprintf(f, "],\"output\":%d}\n", g->n - 1);
    return st == TG_OK && ferror(f) ? tg_error(TG_ERESOURCE, "cannot write the graph") : st;
}

/* ---- keeping each node's upstream gradient (retain_grad on every node) ---- */
tg_status tg_hook_retain_grads(tg_tensor *node, tg_tensor *g, tg_tensor **gin, void *data)
{
    (void)gin, (void)data;
    if (node->op) {
        tg_release(node->grad);
        node->grad = tg_detach(tg_ref(g));
    }
    return TG_OK;
}
