/* bench_ops.c -- inputs for the benchmarks, and in-process timings of
 * single library calls.
 *
 *   bench_ops gen PATH f32|f64 SEED DIM...  writes randn(DIM...) to PATH
 *                                           (.npy or .json, by tg_save)
 *   bench_ops json FILE LABEL               tg_json_parse of FILE's text
 *                                           (read once, parsed per repetition)
 *   bench_ops add A B LABEL                 tg_add of two loaded tensors
 * Timings print "LABEL<TAB>SECONDS" per repetition (see bench.h). */
#include "bench.h"

typedef struct {
    const char *text;
    size_t len;
    tg_tensor *a, *b;
} ctx;

static bool parse_once(void *p)
{
    ctx *c = p;
    tg_tensor *t = tg_json_parse(c->text, c->len, -1, NULL);
    tg_release(t);
    return t != NULL;
}

static bool add_once(void *p)
{
    ctx *c = p;
    tg_tensor *t = tg_add(tg_ref(c->a), tg_ref(c->b));
    tg_release(t);
    return t != NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    ctx c = {0};
    if (!strcmp(mode, "gen") && argc >= 6 && argc - 5 <= TG_MAX_DIMS) {
        int64_t shape[TG_MAX_DIMS];
        for (int i = 5; i < argc; i++)
            shape[i - 5] = parse_count(argv[i]);
        tg_seed(strtoull(argv[4], NULL, 10));
        tg_tensor *t = tg_randn(strcmp(argv[3], "f64") ? TG_FLOAT32 : TG_FLOAT64, argc - 5, shape);
        if (!t || tg_save(argv[2], t) != TG_OK)
            die_tg(argv[2]);
        tg_release(t);
    } else if (!strcmp(mode, "json") && argc == 4) {
        char *text = tg_read_file(argv[2], &c.len);
        if (!(c.text = text))
            die_tg(argv[2]);
        bench_run(argv[3], parse_once, &c);
        tg_free(text);
    } else if (!strcmp(mode, "add") && argc == 5) {
        c.a = tg_load_arg(argv[2], -1, NULL);
        c.b = tg_load_arg(argv[3], -1, NULL);
        if (!c.a || !c.b)
            die_tg("add");
        bench_run(argv[4], add_once, &c);
        tg_release(c.a);
        tg_release(c.b);
    } else {
        fprintf(stderr, "usage: bench_ops gen PATH f32|f64 SEED DIM... | json FILE LABEL | add A B LABEL\n");
        return 2;
    }
    return 0;
}
