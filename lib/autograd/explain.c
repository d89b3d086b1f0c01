/* explain.c -- the chain rule, node by node, as the lesson walks it:
 *   forward: g = pow(x, 2) = 4; y = add(mul(3, g), 1) = 13
 *   backward: each node receives its upstream gradient, multiplies it by
 *   its local derivative and passes the product on to its inputs.
 * The local derivative shown is the op's backward applied to ones: for
 * elementwise ops exactly the derivative, for reductions and products the
 * vector-Jacobian product with ones. */
#include "internal.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    tg_graph *g;
    FILE *out; /* the backward section, written while the pass runs */
    bool json;
    int count;
} explain_ctx;

/* a tensor's value: JSON, or in text a shape for large ones */
static void show(FILE *f, const tg_tensor *t, bool json)
{
    char s[256];
    if (json || t->numel <= 16)
        tg_json_write(f, t);
    else
        fprintf(f, "<%s %s>", tg_dtype_name(t->dtype), tg_shape_str(t, s, sizeof s));
}

static const char *name_of(const tg_graph *g, const tg_tensor *t)
{
    int i = tg_graph_index(g, t);
    return i >= 0 ? g->names[i] : "?";
}

static void json_name(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void forward(FILE *f, const tg_graph *g, bool json)
{
    if (!json)
        fprintf(f, "forward (each node's value):\n");
    bool first = true;
    for (int i = 0; i < g->n; i++) {
        const tg_tensor *t = g->nodes[i];
        if (!t->op && !t->requires_grad && !t->name)
            continue; /* constants appear by value where they are used */
        if (json) {
            fprintf(f, "%s{\"name\":", first ? "" : ",");
            json_name(f, g->names[i]);
            if (t->op) {
                fprintf(f, ",\"op\":\"%s\",\"inputs\":[", t->op->name);
                for (int k = 0; k < t->nin; k++) {
                    if (k) fputc(',', f);
                    json_name(f, name_of(g, t->in[k]));
                }
                fprintf(f, "]");
            }
            fprintf(f, ",\"value\":");
            show(f, t, true);
            fprintf(f, "}");
        } else {
            fprintf(f, "  %s = ", g->names[i]);
            if (t->op) {
                fprintf(f, "%s(", t->op->name);
                for (int k = 0; k < t->nin; k++)
                    fprintf(f, "%s%s", k ? ", " : "", name_of(g, t->in[k]));
                fprintf(f, ") = ");
            }
            show(f, t, false);
            fprintf(f, "%s\n", !t->op ? "  (input)" : i == g->n - 1 ? "  (result)" : "");
        }
        first = false;
    }
}

static tg_status explain_hook(tg_tensor *node, tg_tensor *g, tg_tensor **gin, void *data)
{
    explain_ctx *c = data;
    FILE *f = c->out;
    const char *nm = name_of(c->g, node);
    /* the local derivatives: the backward rule applied to ones */
    tg_tensor *loc[3] = {0};
    tg_status st = tg_node_local_derivatives(node, g, loc);
    if (st != TG_OK)
        return st;
    if (c->json) {
        fprintf(f, "%s{\"node\":", c->count++ ? "," : "");
        json_name(f, nm);
        fprintf(f, ",\"op\":\"%s\",\"upstream\":", node->op->name);
        show(f, g, true);
        fprintf(f, ",\"to\":[");
    } else {
        fprintf(f, "  %s = %s(...): upstream gradient ", nm, node->op->name);
        show(f, g, false);
        fprintf(f, "\n");
    }
    bool first = true;
    for (int i = 0; i < node->nin; i++) {
        if (!node->in[i]->requires_grad || !gin[i])
            continue;
        const char *in = name_of(c->g, node->in[i]);
        if (c->json) {
            fprintf(f, "%s{\"input\":", first ? "" : ",");
            json_name(f, in);
            fprintf(f, ",\"local\":");
            if (loc[i]) show(f, loc[i], true); else fprintf(f, "null");
            fprintf(f, ",\"passes\":");
            show(f, gin[i], true);
            fprintf(f, "}");
        } else {
            fprintf(f, "    to %s: local derivative d%s/d%s = ", in, nm, in);
            if (loc[i]) show(f, loc[i], false);
            fprintf(f, ", passes upstream x local = ");
            show(f, gin[i], false);
            fprintf(f, "\n");
        }
        first = false;
    }
    if (c->json)
        fprintf(f, "]}");
    for (int i = 0; i < 3; i++)
        tg_release(loc[i]);
    return TG_OK;
}

tg_status tg_explain(tg_tensor *value, tg_tensor *grad_output, tg_tensor **inputs, const char *const *names,
                     int n, bool json, FILE *out)
{
    tg_graph g;
    tg_status st = tg_graph_collect(value, &g);
    if (st != TG_OK) {
        tg_release(grad_output);
        return st;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) {
        tg_graph_free(&g);
        tg_release(grad_output);
        return tg_error(TG_ERESOURCE, "out of memory");
    }
    explain_ctx c = {.g = &g, .out = mem, .json = json};
    tg_tensor **grads = tg_calloc(n > 0 ? (size_t)n : 1, sizeof *grads);
    if (!grads) {
        fclose(mem);
        free(buf);
        tg_graph_free(&g);
        tg_release(grad_output);
        return TG_ERESOURCE;
    }
    tg_backward_hook_fn old_hook = tg_backward_hook;
    void *old_data = tg_backward_hook_data;
    tg_backward_hook = explain_hook;
    tg_backward_hook_data = &c;
    if (value->requires_grad && n > 0)
        st = tg_grad(value, grad_output, inputs, n, false, grads);
    else { /* nothing depends on the variables (or the result is bool): zero */
        tg_release(grad_output);
        for (int i = 0; i < n && st == TG_OK; i++)
            if (!(grads[i] = tg_zeros_like(inputs[i])))
                st = tg_errcode();
    }
    tg_backward_hook = old_hook;
    tg_backward_hook_data = old_data;
    fclose(mem);
    if (st == TG_OK) {
        if (json) {
            fprintf(out, "{\"forward\":[");
            forward(out, &g, true);
            fprintf(out, "],\"backward\":[%s],\"value\":", buf ? buf : "");
            tg_json_write(out, value);
            fprintf(out, ",\"grad\":{");
            for (int i = 0; i < n; i++) {
                fprintf(out, "%s", i ? "," : "");
                json_name(out, names[i]);
                fputc(':', out);
                tg_json_write(out, grads[i]);
            }
            fprintf(out, "}}\n");
        } else {
            forward(out, &g, false);
            fprintf(out, "backward (chain rule: each node passes upstream x local derivative to its inputs):\n%s",
                    buf ? buf : "");
            fprintf(out, "gradients:\n");
            for (int i = 0; i < n; i++) {
                fprintf(out, "  d(result)/d%s = ", names[i]);
                show(out, grads[i], false);
                fprintf(out, "\n");
            }
        }
    }
    free(buf);
    for (int i = 0; i < n; i++)
        tg_release(grads[i]);
    tg_free(grads);
    tg_graph_free(&g);
    return st;
}
