/* autograd.c -- reverse-mode differentiation over the graph that tg_apply
 * records.  As in micrograd: order the nodes topologically (an explicit
 * stack, never recursion, since expressions can be long), walk them from the
 * root, let each op's backward rule produce its inputs' gradients, and ADD
 * them up, so a value used twice gets both contributions. */
#include "internal.h"
#include <string.h>

/* A growing array of items of size bytes.  It starts in a buffer the
 * caller gives (on its stack): a small graph's pass allocates nothing. */
typedef struct {
    void *v;
    size_t n, cap, size;
    bool heap; /* v was allocated here */
} vec;

static vec vec_on(void *buf, size_t cap, size_t size) { return (vec){buf, 0, cap, size, false}; }

/* room for one more item: its address, NULL when out of memory */
static void *vec_grow(vec *s)
{
    if (s->n == s->cap) {
        size_t nc = s->cap * 2;
        void *nv = nc <= SIZE_MAX / s->size ? tg_malloc(nc * s->size) : NULL;
        if (!nv)
            return NULL;
        memcpy(nv, s->v, s->n * s->size);
        if (s->heap)
            tg_free(s->v);
        s->v = nv;
        s->cap = nc;
        s->heap = true;
    }
    return (char *)s->v + s->n++ * s->size;
}

static bool vec_push(vec *s, tg_tensor *t)
{
    tg_tensor **slot = vec_grow(s);
    if (slot)
        *slot = t;
    return slot != NULL;
}

static void vec_free(vec *s)
{
    if (s->heap)
        tg_free(s->v);
}

#define VEC_INLINE 64 /* items of a pass's arrays on the stack */

/* Post-order of the nodes that lead to root and need a gradient.  `pending`
 * marks visited nodes (1) and is cleared again by the caller. */
static tg_status topo_order(tg_tensor *root, vec *order)
{
    /* the path from the root: each node and how many of its inputs were pushed */
    typedef struct {
        tg_tensor *t;
        int next;
    } frame;
    frame buf[VEC_INLINE];
    vec stack = vec_on(buf, VEC_INLINE, sizeof *buf);
    tg_status st = TG_OK;
    frame *f = vec_grow(&stack);
    *f = (frame){root, 0}; /* the first item fits */
    root->tape.pending = 1;
    while (stack.n && st == TG_OK) {
        f = (frame *)stack.v + (stack.n - 1);
        tg_tensor *t = f->t;
        if (t->op && f->next < t->nin) {
            tg_tensor *u = t->in[f->next++];
            if (u->requires_grad && !u->tape.pending) {
                u->tape.pending = 1;
                frame *g = vec_grow(&stack);
                if (g)
                    *g = (frame){u, 0};
                else
                    st = TG_ERESOURCE;
            }
            continue;
        }
        stack.n--;
        if (!vec_push(order, t))
            st = TG_ERESOURCE;
        else
            tg_ref(t); /* the order holds each node while the pass runs */
    }
    vec_free(&stack);
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

    tg_tensor *order_buf[VEC_INLINE];
    vec order = vec_on(order_buf, VEC_INLINE, sizeof *order_buf);
    tg_status st = topo_order(root, &order);
    tg_tensor **nodes = order.v;
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
        tg_tensor *t = nodes[k];
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
            nodes[k] = NULL;
            tg_release(t);
        }
    }
    tg_modes_set(saved);
    tg_set_device(device);
    for (size_t k = 0; k < order.n; k++) {
        if (!nodes[k])
            continue;
        tg_release(nodes[k]->tape.grad_acc);
        nodes[k]->tape.grad_acc = NULL;
        nodes[k]->tape.pending = 0;
    }
    for (size_t k = order.n; k-- > 0;)
        tg_release(nodes[k]);
    vec_free(&order);
    return st;
}

void tg_zero_grad(tg_tensor *leaf)
{
    tg_release(leaf->grad);
    leaf->grad = NULL;
}
