/* test_backward_order.c -- lib/autograd/autograd.c's pass over graphs
 * larger than the arrays it starts with on the stack: the order and the
 * path from the root grow onto the heap and the gradients stay right. */
#include "test.h"
#include <stdlib.h>

/* y = x + x + ... (n terms, each its own node): dy/dx = n */
static double chain_gradient(int n)
{
    tg_tensor *x = tg_scalar(0.5, TG_FLOAT64);
    tg_set_requires_grad(x, true);
    tg_tensor *y = tg_ref(x);
    for (int i = 1; i < n && y; i++)
        y = tg_add(y, tg_ref(x));
    double g = NAN;
    if (y && tg_backward(y, NULL, false, false) == TG_OK && x->grad)
        g = tg_item(x->grad);
    tg_release(y);
    tg_release(x);
    return g;
}

/* a balanced tree of sums over n leaves: each leaf's gradient is 1 */
static bool tree_gradients(int n)
{
    tg_tensor **leaf = calloc((size_t)n, sizeof *leaf), **level = calloc((size_t)n, sizeof *level);
    bool ok = leaf && level;
    for (int i = 0; ok && i < n; i++) {
        leaf[i] = tg_scalar(i, TG_FLOAT32);
        ok = leaf[i] != NULL;
        if (ok) {
            tg_set_requires_grad(leaf[i], true);
            level[i] = tg_ref(leaf[i]);
        }
    }
    for (int m = n; ok && m > 1; m = (m + 1) / 2)
        for (int i = 0; i < m / 2; i++) {
            level[i] = tg_add(level[2 * i], level[2 * i + 1]);
            if (m % 2 && i == m / 2 - 1)
                level[i + 1] = level[m - 1];
            ok = ok && level[i];
        }
    ok = ok && tg_backward(level[0], NULL, false, false) == TG_OK;
    for (int i = 0; ok && i < n; i++)
        ok = leaf[i]->grad && tg_item(leaf[i]->grad) == 1;
    if (level)
        tg_release(level[0]);
    for (int i = 0; leaf && i < n; i++)
        tg_release(leaf[i]);
    free(leaf);
    free(level);
    return ok;
}

TEST(backward_small_and_large_graphs)
{
    CHECK(chain_gradient(3) == 3);
    CHECK(chain_gradient(64) == 64);
    CHECK(chain_gradient(65) == 65);
    CHECK(chain_gradient(1000) == 1000); /* a path from the root 1000 deep */
    CHECK(tree_gradients(5));
    CHECK(tree_gradients(300)); /* 600 nodes in the order, a shallow path */
}
