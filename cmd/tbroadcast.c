/* tbroadcast -- NumPy/PyTorch broadcasting, computed and shown
 * (tbroadcast(1)).
 *   tbroadcast '[[1],[2],[3]]' '[10,20,30]'  ->  [[11,21,31],[12,22,32],[13,23,33]] */
#include "tg.h"
#include "cli/cli.h"
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define TOOL "tbroadcast"
#define MAX_OPERANDS 26

static const char usage[] =
    "usage: tbroadcast A [B C ...] [--op OP] [--grad] [--grad-output G] [--names a,b,...]\n"
    "                  [--dtype DTYPE] [--device DEV] [-o FILE] [--pretty] [--typed]\n"
    "       tbroadcast --shapes SHAPE SHAPE [...] [--explain]\n"
    "       tbroadcast A B [...] --explain\n"
    "       tbroadcast --cat SHARD... [--dim D] [-o FILE]\n"
    "Combines the operands elementwise, broadcast together by NumPy's rules.\n"
    "  --op OP          add (default), sub, mul, div, pow, maximum, minimum,\n"
    "                   or (two operands) eq, ne, lt, le, gt, ge, giving bool\n"
    "  --grad           print {\"value\":...,\"grad\":{\"a\":...}} for L = sum(result)\n"
    "  --grad-output G  the upstream gradient instead of ones (implies --grad)\n"
    "  --names LIST     the operands' names in the output (default a,b,c,...)\n"
    "  --shapes         operands are shapes (3,1 or [3,1]; [] or '' for 0-D): print the result's shape\n"
    "  --explain        print the alignment of the dimensions as a table (text)\n"
    "  --dtype DTYPE    the dtype of JSON numbers (float32 default, float64, int64)\n"
    "  --device DEV     cpu, cuda or auto\n"
    "  -o, --out FILE   write the result to FILE (.npy or .json; - is stdout) instead of\n"
    "                   printing it (--grad: the object names the file)\n"
    "  --pretty         indent the --grad object\n"
    "  --typed          print each tensor as {\"data\":...,\"shape\":...,\"dtype\":...}\n"
    "  --cat            join the operands (shards: .npy or JSON) along a dimension, as torch.cat;\n"
    "                   a .npy FILE is written as it is made, one shard in memory at a time\n"
    "  --dim D          the dimension --cat joins along (default 0)\n"
    "See tbroadcast(1).\n";

static const struct { const char *name, *infix, *fn; bool two_only; } op_forms[] = {
    {"add", "+", NULL, false}, {"sub", "-", NULL, false}, {"mul", "*", NULL, false},
    {"div", "/", NULL, false}, {"pow", "**", NULL, false},
    {"maximum", NULL, "maximum", false}, {"minimum", NULL, "minimum", false},
    {"eq", "==", NULL, true}, {"ne", "!=", NULL, true}, {"lt", "<", NULL, true},
    {"le", "<=", NULL, true}, {"gt", ">", NULL, true}, {"ge", ">=", NULL, true},
};

typedef struct {
    const char *operands[MAX_OPERANDS];
    int n;
    const char *op, *names, *grad_output, *out;
    bool grad, shapes, explain, pretty;
    int dtype;
    bool cat, has_dim; /* --cat, along dim */
    long dim;
} options;

/* "3,1", "[3,1]", "(3,1)", "3" or "" (0-D) */
static tg_status parse_shape(const char *s, int *nd, int64_t *shape)
{
    const char *p = s;
    *nd = 0;
    while (isspace((unsigned char)*p) || *p == '[' || *p == '(')
        p++;
    while (*p && *p != ']' && *p != ')') {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0)
            return tg_error(TG_EINPUT, "bad shape '%.60s': expected sizes like 3,1 or [3,1]", s);
        if (*nd == TG_MAX_DIMS)
            return tg_error(TG_EINPUT, "shape '%.60s' has more than %d dimensions", s, TG_MAX_DIMS);
        shape[(*nd)++] = v;
        p = end;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == ',')
            p++;
        while (isspace((unsigned char)*p))
            p++;
    }
    return tg_shape_check(*nd, shape, NULL);
}

static void operand_name(const options *o, int i, char *buf, size_t n)
{
    if (o->names) {
        const char *p = o->names;
        for (int k = 0; k < i && p; k++) {
            p = strchr(p, ',');
            if (p) p++;
        }
        if (p) {
            const char *e = strchr(p, ',');
            snprintf(buf, n, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
            return;
        }
    }
    snprintf(buf, n, "%c", 'a' + i);
}

/* The operands' broadcast shape.  When they clash, the message names the
 * two operands that clash, with their shapes as given (not a partial
 * result of the fold): the first earlier operand that holds the size the
 * i-th one meets. */
static tg_status broadcast_operands(const options *o, int n, int nds[], int64_t shapes[][TG_MAX_DIMS],
                                    int *rnd, int64_t *r)
{
    *rnd = 0;
    for (int i = 0; i < n; i++) {
        if (tg_broadcast_shapes(*rnd, r, nds[i], shapes[i], rnd, r) == TG_OK)
            continue;
        tg_error_clear();
        int64_t tmp[TG_MAX_DIMS];
        int ntmp;
        for (int j = 0; j < i; j++)
            if (tg_broadcast_shapes(nds[j], shapes[j], nds[i], shapes[i], &ntmp, tmp) != TG_OK) {
                char a[64], b[64], msg[1024];
                snprintf(msg, sizeof msg, "%s", tg_errmsg());
                tg_error_clear();
                operand_name(o, j, a, sizeof a);
                operand_name(o, i, b, sizeof b);
                return tg_error(TG_EINPUT, "operands %s and %s: %s", a, b, msg);
            }
        return tg_error(TG_EINPUT, "operand %d cannot be broadcast with the others", i + 1);
    }
    return TG_OK;
}

/* the alignment table: dims right-aligned, stretched ones marked with '*' */
static void explain(const options *o, int n, int nds[], int64_t shapes[][TG_MAX_DIMS], int rnd, const int64_t *r)
{
    char buf[256], name[64];
    printf("%-10s %-16s aligned (right to left; * = stretched)\n", "operand", "shape");
    for (int i = 0; i <= n; i++) {
        int nd = i < n ? nds[i] : rnd;
        const int64_t *sh = i < n ? shapes[i] : r;
        if (i < n)
            operand_name(o, i, name, sizeof name);
        printf("%-10s %-16s", i < n ? name : "result", tg_shape_str_raw(nd, sh, buf, sizeof buf));
        for (int d = 0; d < rnd; d++) {
            int k = d - (rnd - nd);
            int64_t size = k < 0 ? 1 : sh[k];
            bool stretched = i < n && size != r[d];
            printf(" %6lld%s", (long long)size, stretched ? "*" : " ");
        }
        printf("\n");
    }
}

static int run_shapes(const options *o)
{
    int nds[MAX_OPERANDS], rnd = 0;
    int64_t shapes[MAX_OPERANDS][TG_MAX_DIMS], r[TG_MAX_DIMS];
    for (int i = 0; i < o->n; i++)
        if (parse_shape(o->operands[i], &nds[i], shapes[i]) != TG_OK)
            return tg_cli_fail(TOOL);
    if (broadcast_operands(o, o->n, nds, shapes, &rnd, r) != TG_OK)
        return tg_cli_fail(TOOL);
    if (o->explain)
        explain(o, o->n, nds, shapes, rnd, r);
    else {
        char buf[512];
        printf("%s\n", tg_shape_str_raw(rnd, r, buf, sizeof buf));
    }
    return tg_cli_finish_output() == TG_OK ? 0 : tg_cli_fail(TOOL);
}

/* the expression for the operation, folded from the left over the
 * operands: ((a + b) + c), maximum(maximum(a, b), c) */
static tg_status build_expr(const options *o, char expr[static 4096], size_t cap)
{
    int k = -1;
    for (size_t i = 0; i < sizeof op_forms / sizeof *op_forms; i++)
        if (!strcmp(op_forms[i].name, o->op))
            k = (int)i;
    if (k < 0)
        return tg_error(TG_EUSAGE, "unknown --op '%.40s' (add, sub, mul, div, pow, maximum, minimum, "
                        "eq, ne, lt, le, gt, ge)", o->op);
    if (op_forms[k].two_only && o->n != 2)
        return tg_error(TG_EUSAGE, "--op %s compares exactly two operands, not %d", o->op, o->n);
    char name[64], tmp[8400];
    operand_name(o, 0, name, sizeof name);
    int len = snprintf(expr, cap, "%s", name);
    for (int i = 1; i < o->n && len < (int)cap; i++) {
        operand_name(o, i, name, sizeof name);
        if (op_forms[k].infix)
            snprintf(tmp, sizeof tmp, "(%s %s %s)", expr, op_forms[k].infix, name);
        else
            snprintf(tmp, sizeof tmp, "%s(%s, %s)", op_forms[k].fn, expr, name);
        len = snprintf(expr, cap, "%s", tmp);
    }
    if (len >= (int)cap - 1)
        return tg_error(TG_EUSAGE, "too many operands");
    return TG_OK;
}

static int run(const options *o)
{
    char expr[4096];
    if (build_expr(o, expr, sizeof expr) != TG_OK)
        return tg_cli_fail(TOOL);
    tg_program *prog = tg_program_parse(expr);
    if (!prog)
        return tg_cli_fail(TOOL);
    tg_env env = {0};
    tg_tensor *grads[MAX_OPERANDS] = {0}, *value = NULL;
    int status = 0;
    char name[64];
    const char *names[MAX_OPERANDS];
    int nds[MAX_OPERANDS];
    int64_t shapes[MAX_OPERANDS][TG_MAX_DIMS];
    for (int i = 0; i < o->n; i++) {
        operand_name(o, i, name, sizeof name);
        for (int j = 0; j < i; j++)
            if (!strcmp(env.names[j], name)) {
                tg_error(TG_EUSAGE, "--names gives '%s' twice", name);
                goto fail;
            }
        tg_tensor *t = tg_load_arg(o->operands[i], o->dtype, NULL);
        if (!t)
            goto fail;
        nds[i] = t->ndim;
        memcpy(shapes[i], t->shape, sizeof shapes[i]);
        if (o->grad && !tg_dtype_is_float(t->dtype)) {
            tg_error(TG_EINPUT, "--grad needs float operands, and %s is %s", name, tg_dtype_name(t->dtype));
            tg_release(t);
            goto fail;
        }
        tg_set_requires_grad(t, o->grad);
        if (tg_env_set(&env, name, t) != TG_OK)
            goto fail;
        names[i] = env.names[i];
    }
    int rnd = 0;
    int64_t r[TG_MAX_DIMS];
    if (broadcast_operands(o, o->n, nds, shapes, &rnd, r) != TG_OK)
        goto fail;
    if (o->explain) {
        explain(o, o->n, nds, shapes, rnd, r);
        goto finish;
    }
    tg_grad_opts go = {.no_grad = !o->grad, .sum_output = true};
    if (o->grad) {
        if (o->grad_output && !(go.grad_output = tg_load_arg(o->grad_output, -1, NULL)))
            goto fail;
    }
    value = tg_grad_eval(prog, &env, o->n, &go, grads);
    if (!value)
        goto fail;
    if (o->grad && !value->requires_grad && tg_dtype_is_float(value->dtype) == false) {
        tg_error(TG_EINPUT, "--grad: the result of --op %s is %s and has no gradient", o->op,
                 tg_dtype_name(value->dtype));
        goto fail;
    }
    if (o->grad) {
        /* -o FILE: the value to FILE, named in the object */
        if (tg_write_result_files(stdout, o->out, NULL, value, names, grads, o->n, o->pretty) != TG_OK)
            goto fail;
    } else if (tg_save(o->out ? o->out : "-", value) != TG_OK) /* "-": standard output */
        goto fail;
finish:
    if (tg_cli_finish_output() != TG_OK)
        goto fail;
    goto done;
fail:
    status = tg_cli_fail(TOOL);
done:
    for (int i = 0; i < MAX_OPERANDS; i++)
        tg_release(grads[i]);
    tg_release(value);
    tg_env_free(&env);
    tg_program_free(prog);
    return status;
}

/* --cat: any number of shards, not only MAX_OPERANDS */
static int run_cat(const options *o, const char *const *shards, int n)
{
    const char *other = o->grad ? "--grad" : o->names ? "--names" : o->shapes ? "--shapes"
                      : o->explain ? "--explain" : o->pretty ? "--pretty" : strcmp(o->op, "add") ? "--op" : NULL;
    if (!o->cat)
        tg_error(TG_EUSAGE, "--dim goes with --cat");
    else if (other)
        tg_error(TG_EUSAGE, "--cat joins its shards into one tensor: %s does not apply", other);
    else if (n < 1)
        tg_error(TG_EUSAGE, "--cat: no shards given (usage: tbroadcast --cat SHARD... [--dim D] [-o FILE])");
    else if (tg_cat_files(shards, n, o->dim, o->dtype, o->out) == TG_OK && tg_cli_finish_output() == TG_OK)
        return 0;
    return tg_cli_fail(TOOL);
}

int main(int argc, char **argv)
{
    enum { O_OP = 256, O_GRAD, O_GRAD_OUTPUT, O_NAMES, O_SHAPES, O_EXPLAIN, O_DTYPE, O_PRETTY, O_CAT, O_DIM };
    static const struct option longopts[] = {
        {"op", required_argument, 0, O_OP}, {"grad", no_argument, 0, O_GRAD},
        {"grad-output", required_argument, 0, O_GRAD_OUTPUT}, {"names", required_argument, 0, O_NAMES},
        {"shapes", no_argument, 0, O_SHAPES}, {"explain", no_argument, 0, O_EXPLAIN},
        {"cat", no_argument, 0, O_CAT}, {"dim", required_argument, 0, O_DIM},
        {"dtype", required_argument, 0, O_DTYPE}, TG_CLI_DEVICE_OPTION,
        {"out", required_argument, 0, 'o'}, {"pretty", no_argument, 0, O_PRETTY},
        TG_CLI_TYPED_OPTION, TG_CLI_OPTIONS, {0, 0, 0, 0}};
    options o = {.op = "add", .dtype = -1};
    int c, status;
    tg_dtype dt;
    if (!(argv = tg_cli_begin(TOOL, &argc, argv, ":o:hV", longopts)))
        return tg_cli_fail(TOOL);
    while ((c = getopt_long(argc, argv, ":o:hV", longopts, NULL)) != -1) {
        switch (c) {
        case O_OP: o.op = optarg; break;
        case O_GRAD: o.grad = true; break;
        case O_GRAD_OUTPUT: o.grad_output = optarg; o.grad = true; break;
        case O_NAMES: o.names = optarg; break;
        case O_SHAPES: o.shapes = true; break;
        case O_EXPLAIN: o.explain = true; break;
        case O_DTYPE:
            if (tg_cli_parse_dtype(optarg, TG_BOOL, &dt) != TG_OK)
                return tg_cli_fail(TOOL);
            o.dtype = dt;
            break;
        case 'o': o.out = optarg; break;
        case O_PRETTY: o.pretty = true; break;
        case O_CAT: o.cat = true; break;
        case O_DIM:
            if (tg_cli_parse_long("--dim", optarg, -TG_MAX_DIMS, TG_MAX_DIMS, &o.dim) != TG_OK)
                return tg_cli_fail(TOOL);
            o.has_dim = true;
            break;
        default: /* --device, --help, --version, errors */
            if ((status = tg_cli_common_option(TOOL, usage, c, argv)) >= 0)
                return status;
        }
    }
    if (o.cat || o.has_dim)
        return run_cat(&o, (const char *const *)argv + optind, argc - optind);
    o.n = argc - optind;
    if (o.n < 1 || o.n > MAX_OPERANDS) {
        tg_error(TG_EUSAGE, "expected 1 to %d operands, got %d (usage: tbroadcast A B [C ...])", MAX_OPERANDS, o.n);
        return tg_cli_fail(TOOL);
    }
    for (int i = 0; i < o.n; i++)
        o.operands[i] = argv[optind + i];
    if (o.names) { /* names must be identifiers, one per operand */
        int count = 1;
        for (const char *p = o.names; *p; p++) {
            bool start = p == o.names || p[-1] == ',';
            if (*p == ',' && (start || !p[1])) {
                tg_error(TG_EUSAGE, "--names: a name is empty");
                return tg_cli_fail(TOOL);
            }
            if (*p == ',')
                count++;
            else if (!(isalnum((unsigned char)*p) || *p == '_') || (start && isdigit((unsigned char)*p))) {
                tg_error(TG_EUSAGE, "--names: '%c' cannot %s a name (letters, digits and _, not "
                         "starting with a digit)", *p, start ? "start" : "be in");
                return tg_cli_fail(TOOL);
            }
        }
        if (count != o.n) {
            tg_error(TG_EUSAGE, "--names gives %d names for %d operands", count, o.n);
            return tg_cli_fail(TOOL);
        }
    }
    return o.shapes ? run_shapes(&o) : run(&o);
}
