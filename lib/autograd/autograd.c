/* autograd.c -- reverse-mode differentiation over the graph that tg_apply
 * records.  As in micrograd: order the nodes topologically (an explicit
 * stack, never recursion, since expressions can be long), walk them from the
 * root, let each op's backward rule produce its inputs' gradients, and ADD
 * them up, so a value used twice gets both contributions. */
#include "internal.h"
#include <string.h>

typedef struct {
    tg_tensor **v;
    size_t n, cap;
} vec;

static bool vec_push(vec *s, tg_tensor *t)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        tg_tensor **nv = tg_realloc(s->v, nc * sizeof *nv);
        if (!nv)
            return false;
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = t;
    return true;
}

/* Post-order of the nodes that lead to root and need a gradient.  `pending`
 * marks visited nodes (1) and is cleared again by the caller. */
static tg_status topo_order(tg_tensor *root, vec *order)
{
    vec stack = {0};
    tg_status st = TG_OK;
    if (!vec_push(&stack, root))
        return TG_ERESOURCE;
    root->tape.pending = 1;
    /* next[i]: how many inputs of stack entry i have been pushed */
    size_t *next = NULL, ncap = 0;
    while (stack.n && st == TG_OK) {
        if (ncap < stack.cap) {
            size_t *nn = tg_realloc(next, stack.cap * sizeof *nn);
            if (!nn) { st = TG_ERESOURCE; break; }
            for (size_t i = ncap; i < stack.cap; i++) nn[i] = 0;
            next = nn;
            ncap = stack.cap;
        }
        size_t top = stack.n - 1;
        tg_tensor *t = stack.v[top];
        if (t->op && next[top] < (size_t)t->nin) {
            tg_tensor *u = t->in[next[top]++];
            if (u->requires_grad && !u->tape.pending) {
                u->tape.pending = 1;
                if (!vec_push(&stack, u))
                    st = TG_ERESOURCE;
                else if (stack.n - 1 < ncap)
                    next[stack.n - 1] = 0;
            }
            continue;
        }
        next[top] = 0;
        stack.n--;
        if (!vec_push(order, t))
            st = TG_ERESOURCE;
        else
            tg_ref(t); /* the order holds each node while the pass runs */
    }
    tg_free(next);
    tg_free(stack.v);
    return st;
}

static tg_status accumulate(tg_tensor **slot, tg_tensor *g)
{
    if (!g)
        return tg_errcode() ? tg_errcode() : tg_error(TG_EINPUT, "backward produced no gradient");
    *slot = *slot ? tg_add(*slot, g) : g;
    return *slot ? TG_OK : tg_errcode();
}

static tg_status check_saved(tg_tensor *t)
{
    unsigned need = 0; /* what the gradients that will be computed read */
    for (int i = 0; i < t->nin; i++)
        if (t->in[i]->requires_grad)
            need |= TG_SAVES_FOR(t->op->saves, i);
    const char *what = NULL;
    const tg_tensor *culprit = NULL;
    uint32_t expected = 0;
    for (int i = 0; i < t->nin && !what; i++)
        if ((need & (1u << i)) && tg_version_changed(t->in[i]->storage, t->tape.saved_version[i])) {
            culprit = t->in[i];
            expected = t->tape.saved_version[i];
            what = "an input";
        }
    if (!what && (need & TG_S_OUT) && tg_version_changed(t->storage, t->tape.saved_version[3])) {
        culprit = t;
        expected = t->tape.saved_version[3];
        what = "the output";
    }
    if (!what)
        return TG_OK;
    char s[256];
    return tg_error(TG_EINPUT,
                    "one of the variables needed for gradient computation has been modified by "
                    "an inplace operation: %s of %s, a %s tensor of shape %s, is at version %llu; "
                    "expected version %llu instead (write that update out of place, into a new name)",
                    what, t->op->name, tg_dtype_name(culprit->dtype), tg_shape_str(culprit, s, sizeof s),
                    (unsigned long long)culprit->storage->version, (unsigned long long)expected);
}

/* the upstream gradient of the rule tg_backward is running, while the
 * pass's reference to it may still be handed over (tg_grad_take) */
static _Thread_local tg_tensor *lent_grad;

tg_tensor *tg_grad_take(tg_tensor *g)
{
    if (g && g == lent_grad) {
        lent_grad = NULL;
        return g;
    }
    return tg_ref(g);
}

tg_backward_hook_fn tg_backward_hook;
void *tg_backward_hook_data;

tg_status tg_backward(tg_tensor *root, tg_tensor *grad_output, bool retain_graph, bool create_graph)
{
    if (!root) {
        tg_release(grad_output);
        return tg_errcode() ? tg_errcode() : tg_error(TG_EINPUT, "backward: no tensor");
    }
    if (!root->requires_grad) {
        tg_release(grad_output);
        return tg_error(TG_EINPUT, "element 0 of tensors does not require grad and does not have "
                        "a grad_fn: nothing in the expression depends on a variable being "
                        "differentiated");
    }
    char s1[256], s2[256];
    tg_tensor *g = grad_output;
    if (!g) {
        if (root->numel != 1)
            return tg_error(TG_EINPUT, "grad can be implicitly created only for scalar outputs, and "
                            "the result has shape %s: reduce it (.sum(), .mean()), give the upstream "
                            "gradient, or ask for the Jacobian", tg_shape_str(root, s1, sizeof s1));
        g = tg_ones_like(root);
        if (!g)
            return tg_errcode();
    } else {
        if (g->ndim != root->ndim || memcmp(g->shape, root->shape, root->ndim * sizeof(int64_t))) {
            tg_error(TG_EINPUT, "the upstream gradient has shape %s but the result has shape "
                     "%s: they must match", tg_shape_str(g, s1, sizeof s1), tg_shape_str(root, s2, sizeof s2));
            tg_release(g);
            return TG_EINPUT;
        }
        g = tg_cast(g, root->dtype);
        if (!g)
            return tg_errcode();
    }

    vec order = {0};
    tg_status st = topo_order(root, &order);
    tg_modes saved = tg_modes_get();
    tg_device device = tg_get_device();
    tg_mode.grad = create_graph;
    tg_mode.vmap = false; /* gradients already have their inputs' shapes */
    tg_mode.in_backward = !create_graph;
    if (st == TG_OK)
        root->tape.grad_acc = g;
    else
        tg_release(g);
    for (size_t k = order.n; k-- > 0 && st == TG_OK;) {
        tg_tensor *t = order.v[k];
        tg_tensor *gt = t->tape.grad_acc;
        if (!gt)
            continue;
        t->tape.grad_acc = NULL;
        /* each rule runs where its node's gradient is: a copy between
         * devices passes its gradient back to its input's (ops_view.c) */
        tg_set_device(gt->storage->device);
        if (!t->op) { /* a leaf: gradients accumulate across passes */
            if (tg_dtype_is_float(t->dtype))
                st = accumulate(&t->grad, gt);
            else
                tg_release(gt);
            continue;
        }
        if (t->tape.graph_freed) {
            tg_release(gt);
            st = tg_error(TG_EINPUT, "trying to backward through the graph a second time: its "
                          "saved values were freed after the first pass (retain the graph)");
            break;
        }
        if ((st = check_saved(t)) != TG_OK) {
            tg_release(gt);
            break;
        }
        tg_tensor *gin[3] = {0};
        tg_anomaly_set_backward(t);
        /* a hook reads gt after the rule: not handed over then */
        lent_grad = tg_backward_hook ? NULL : gt;
        bool lent = lent_grad != NULL;
        st = t->op->backward(t, gt, gin);
        bool taken = lent && !lent_grad;
        lent_grad = NULL;
        tg_anomaly_set_backward(NULL);
        if (st == TG_OK && tg_backward_hook)
            st = tg_backward_hook(t, gt, gin, tg_backward_hook_data);
        for (int i = 0; i < t->nin; i++) {
            if (st == TG_OK && t->in[i]->requires_grad)
                st = accumulate(&t->in[i]->tape.grad_acc, gin[i]);
            else
                tg_release(gin[i]);
        }
        if (!taken)
            tg_release(gt);
        if (!retain_graph) {
            /* without retain_graph a node's inputs are let go once its
             * backward has run: intermediates nobody else holds are freed
             * during the pass, not after it (peak memory) */
            t->tape.graph_freed = true;
            for (int i = 0; i < t->nin; i++) {
                tg_graph_unref(t->in[i]);
                tg_release(t->in[i]);
                t->in[i] = NULL;
            }
            t->nin = 0;
            t->tape.pending = 0;
            order.v[k] = NULL;
            tg_release(t);
        }
    }
    tg_modes_set(saved);
    tg_set_device(device);
    for (size_t k = 0; k < order.n; k++) {
        if (!order.v[k])
            continue;
        tg_release(order.v[k]->tape.grad_acc);
        order.v[k]->tape.grad_acc = NULL;
        order.v[k]->tape.pending = 0;
    }
    for (size_t k = order.n; k-- > 0;)
        tg_release(order.v[k]);
    tg_free(order.v);
    return st;
}

void tg_zero_grad(tg_tensor *leaf)
{
    tg_release(leaf->grad);
    leaf->grad = NULL;
}
