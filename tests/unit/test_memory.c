/* test_memory.c -- what a graph node costs, and results written over
 * operands nobody reads again (lib/ops/apply.c's memory_donor). */
#include "test.h"
#include "internal.h"
#include <malloc.h>
#include <unistd.h>

/* The struct of a tensor, which every node of a graph is: its fields
 * (shape and strides for 16 dims) with the attributes out of line. */
TEST(tensor_struct_stays_small)
{
    CHECK(sizeof(tg_tensor) <= 416);
}

/* a chain of n scalar products y = y * 1.0001, the number a wrapped
 * literal as the expression language makes it; returns y */
static tg_tensor *scalar_chain(tg_tensor *x, int n)
{
    tg_tensor *y = tg_ref(x);
    for (int i = 0; i < n && y; i++) {
        tg_tensor *c = tg_scalar(1.0001, TG_FLOAT64);
        if (c)
            c->wrapped_number = true;
        y = tg_mul(y, c);
    }
    return y;
}

/* A node (the result with its recorded inputs, a wrapped number here, and
 * their storage) takes at most 1 KB of heap.  The heap is counted by
 * malloc's own statistics (zero under a sanitizer's allocator: then it
 * checks nothing). */
TEST(graph_node_takes_at_most_1kb)
{
    tg_tensor *x = tg_scalar(1, TG_FLOAT32);
    tg_set_requires_grad(x, true);
    tg_release(scalar_chain(x, 10)); /* the spare lists, warm */
    enum { N = 20000 };
    struct mallinfo2 m0 = mallinfo2();
    tg_tensor *y = scalar_chain(x, N);
    struct mallinfo2 m1 = mallinfo2();
    CHECK(y && y->requires_grad);
    double per_node = ((double)m1.uordblks - (double)m0.uordblks) / N;
    if (per_node > 1024)
        fprintf(stderr, "  %.0f bytes a node\n", per_node);
    CHECK(per_node <= 1024);
    CHECK(y && tg_backward(y, NULL, false, false) == TG_OK);
    CHECK_CLOSE(x->grad ? tg_item(x->grad) : 0, pow(1.0001, N), 5e-3, 0);
    tg_release(y);
    tg_release(x);
}

/* a node's attributes: the shared zero ones when it has none, its own
 * copy otherwise */
TEST(node_attrs_shared_when_none)
{
    int64_t shape[2] = {2, 3};
    tg_tensor *x = tg_full(TG_FLOAT32, 2, shape, 1);
    tg_set_requires_grad(x, true);
    tg_tensor *y = tg_neg(tg_ref(x));
    CHECK(y && y->attrs == &tg_no_attrs);
    int64_t dim = 1;
    tg_tensor *s = tg_sum(tg_ref(y), &dim, 1, false);
    CHECK(s && s->attrs != &tg_no_attrs && s->attrs->reduce.ndims == 1);
    CHECK(s && tg_backward(s, tg_full(TG_FLOAT32, 1, shape, 2), false, false) == TG_OK);
    CHECK(x->grad && tg_get(x->grad, 5) == -2);
    tg_release(s);
    tg_release(y);
    tg_release(x);
}

static tg_tensor *vec(int64_t n, double start)
{
    tg_tensor *t = tg_arange(start, start + (double)n, 1, TG_FLOAT32);
    return t;
}

/* a temporary only the call holds lends its memory to the result */
TEST(elementwise_result_reuses_a_temporary)
{
    tg_tensor *x = vec(1000, 0);
    tg_tensor *t = tg_add(tg_ref(x), tg_ref(x)); /* 2x, held by t alone */
    const void *p = t ? tg_data(t) : NULL;
    tg_tensor *u = tg_neg(t);                    /* -2x, in t's memory */
    CHECK(u && tg_data(u) == p);
    CHECK(u && tg_get(u, 7) == -14);
    /* held elsewhere: left alone */
    tg_tensor *v = tg_neg(tg_ref(u));
    CHECK(v && tg_data(v) != tg_data(u) && tg_get(u, 7) == -14 && tg_get(v, 7) == 14);
    /* a variable's memory is never taken, nor a broadcast operand's */
    tg_tensor *w = tg_mul(tg_ref(x), tg_scalar(3, TG_FLOAT32));
    CHECK(w && tg_data(w) != tg_data(x) && tg_get(x, 7) == 7 && tg_get(w, 7) == 21);
    tg_release(v);
    tg_release(u);
    tg_release(w);
    tg_release(x);
}

/* value and gradient through tg_grad_eval (free_unsaved: intermediates
 * give their memory to the next op where no backward reads them) */
static void grad_at(const char *expr, double x0, double *value, double *grad)
{
    tg_program *p = tg_program_parse(expr);
    tg_env env = {0};
    tg_tensor *x = tg_full(TG_FLOAT32, 1, (int64_t[]){4}, x0);
    tg_set_requires_grad(x, true);
    *value = *grad = NAN;
    if (p && x && tg_env_set(&env, "x", x) == TG_OK) {
        tg_tensor *g[1] = {0};
        tg_grad_opts o = {0};
        for (int rep = 0; rep < 2; rep++) { /* the second with x->grad from the first */
            tg_tensor *v = tg_grad_eval(p, &env, 1, &o, g);
            *value = v ? tg_item(v) : NAN;
            *grad = g[0] ? tg_get(g[0], 3) : NAN;
            tg_release(v);
            tg_release(g[0]);
        }
    }
    tg_env_free(&env);
    tg_program_free(p);
}

TEST(gradients_right_where_results_reuse_memory)
{
    double v, g;
    grad_at("sum(x**3+2*x**2-5*x+3)", 1.5, &v, &g);
    CHECK_CLOSE(v, 4 * (3.375 + 4.5 - 7.5 + 3), 1e-6, 0);
    CHECK_CLOSE(g, 3 * 2.25 + 4 * 1.5 - 5, 1e-6, 0);
    grad_at("sum(tanh(x)**2)", 0.5, &v, &g);
    double th = tanh(0.5);
    CHECK_CLOSE(v, 4 * th * th, 1e-6, 0);
    CHECK_CLOSE(g, 2 * th * (1 - th * th), 1e-6, 0);
    /* values a backward reads: exp saves its result, x*y both inputs */
    grad_at("sum(exp(-x)*(x+1)*exp(2*x))", 0.25, &v, &g);
    CHECK_CLOSE(v, 4 * 1.25 * exp(0.25), 1e-6, 0);
    CHECK_CLOSE(g, exp(0.25) * (1 + 1.25), 1e-6, 0);
}

/* the VmFlags line of the mapping of /proc/self/smaps that holds addr
 * (into line), or false where smaps cannot be read */
static bool vmflags_of(uintptr_t addr, char *line, size_t n)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return false;
    bool inside = false, found = false;
    while (!found && fgets(line, (int)n, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) /* a mapping's first line */
            inside = addr >= lo && addr < hi;
        else if (inside && !strncmp(line, "VmFlags:", 8))
            found = true;
    }
    fclose(f);
    return found;
}

/* Tensor data of 4 MiB and more is advised MADV_HUGEPAGE (lib/core/
 * alloc.c): the kernel marks the advised range "hg" in its VmFlags.
 * Skipped where the kernel has no transparent huge pages or no smaps. */
TEST(large_blocks_asked_for_huge_pages)
{
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0) {
        fprintf(stderr, "  (skipped: no transparent huge pages here)\n");
        return;
    }
    size_t n = (size_t)8 << 20;
    char *p = tg_malloc(n);
    CHECK(p != NULL);
    if (!p)
        return;
    uintptr_t mid = ((uintptr_t)p + n / 2) & ~(uintptr_t)4095;
    char line[512];
    if (vmflags_of(mid, line, sizeof line))
        CHECK(strstr(line, " hg") != NULL);
    else
        fprintf(stderr, "  (skipped: /proc/self/smaps not readable)\n");
    tg_free(p);
}
