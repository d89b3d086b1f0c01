#!/usr/bin/env bats
# tgrad --batch (vmap) rules for the functions that are not elementwise:
# lists of tensors, gathers, indexing, the losses, the shape functions,
# reductions along a point's dims.  Each check runs one program on
# random points twice, once with --batch --jsonl and once point by point
# with --lines, and compares the values and gradients line by line.
load helper

# same_as_lines PROGRAM SEED BATCHED [SHARED]: BATCHED and SHARED are
# Python dicts of name -> shape (a point's shape for BATCHED) or a JSON
# text; "i:K:shape" draws integers below K (as floats: the program
# takes .long()), "p:shape" numbers in (0, 1).  5 points.
same_as_lines() {
    python3 - "$@" <<'EOF'
import json, math, random, subprocess, sys
prog, seed, batched, shared = " ".join(sys.argv[1].split()), int(sys.argv[2]), eval(sys.argv[3]), \
    eval(sys.argv[4] if len(sys.argv) > 4 else "{}")
random.seed(seed)
N = 5
def draw(spec, shape):
    if shape:
        return [draw(spec, shape[1:]) for _ in range(shape[0])]
    kind = spec[0] if isinstance(spec, str) else "r"
    if kind == "i":
        return float(random.randrange(int(spec.split(":")[1])))
    if kind == "p":
        return round(random.uniform(0.05, 0.95), 4)
    return round(random.uniform(-2, 2), 4)
def value(spec, points):
    if isinstance(spec, str) and spec[0] not in "ip":
        return json.loads(spec)
    shape = spec if not isinstance(spec, str) else eval(spec.split(":")[-1])
    return draw(spec, ([N] if points else []) + list(shape))
bvals = {k: value(v, True) for k, v in batched.items()}
svals = {k: value(v, False) for k, v in shared.items()}
shared_at = [a for k, v in svals.items() for a in ("--at", "%s=%s" % (k, json.dumps(v)))]
floats = [k for k, v in batched.items() if not (isinstance(v, str) and v[0] == "i")]
wrt = ["--wrt", ",".join(floats)] if floats else ["--no-grad"]
b = subprocess.run(["tgrad", prog] + wrt + shared_at + ["--batch=" + ",".join(batched), "--jsonl"] +
                   [a for k, v in bvals.items() for a in ("--at", "%s=%s" % (k, json.dumps(v)))],
                   capture_output=True, text=True)
# point by point: the values, and the gradients of their sum (--batch's)
lines = "".join(json.dumps({k: v[i] for k, v in bvals.items()}) + "\n" for i in range(N))
l = subprocess.run(["tgrad", prog, "--no-grad", "--lines"] + shared_at, input=lines, capture_output=True, text=True)
g = subprocess.run(["tgrad", "(%s).sum()" % prog, "--lines"] + wrt + shared_at, input=lines, capture_output=True,
                   text=True)
for name, r in ("--batch", b), ("--lines", l), ("--lines of the sum", g):
    if r.returncode:
        sys.exit("%s: %s status %d: %s" % (prog, name, r.returncode, r.stderr))
def close(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, str) or isinstance(b, str):  # "NaN", "Infinity"
        return a == b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= 2e-5 * (1 + abs(a) + abs(b))
got = [json.loads(r) for r in b.stdout.splitlines()]
want = [json.loads(v) for v in l.stdout.splitlines()]
for w, r in zip(want, g.stdout.splitlines()):
    if floats:
        w["grad"] = json.loads(r)["grad"]
if len(got) != N or not close(got, want):
    sys.exit("%s:\n--batch --jsonl:\n%s\npoint by point:\n%s" % (prog, b.stdout, "\n".join(map(json.dumps, want))))
EOF
}

@test "--batch: the losses give each point's loss, as point by point" {
    same_as_lines 'stack([mse_loss(x, t), l1_loss(t, x, reduction="sum"), mse_loss(x, t, reduction="none").sum(),
        binary_cross_entropy(sigmoid(x), s, weight=w), binary_cross_entropy_with_logits(x, s, pos_weight=w,
        reduction="sum"), binary_cross_entropy(sigmoid(x), sigmoid(x) * 0 + t.sigmoid(), reduction="none").sum()])' \
        1 '{"x": [2, 3], "s": "p:[2, 3]"}' '{"t": [3], "w": "p:[3]"}'
    # class indices per point and shared, weights, ignore_index (all
    # targets ignored: NaN, with a zero gradient), label smoothing,
    # probabilities
    same_as_lines 'stack([cross_entropy(x, t.long()), cross_entropy(x, t.long(), weight=w, ignore_index=1,
        label_smoothing=0.2), nll_loss(x.log_softmax(1), t.long(), weight=w, reduction="sum"),
        cross_entropy(x, p.softmax(1), label_smoothing=0.1, weight=w), cross_entropy(x[0], t.long()[0]),
        nll_loss(x.log_softmax(1), u.long(), ignore_index=2, reduction="none").sum(),
        cross_entropy(x, u.long(), reduction="mean", ignore_index=0), nll_loss(x, t.long() * 0 + 1, ignore_index=1)])' \
        2 '{"x": [3, 4], "t": "i:2:[3]", "p": [3, 4]}' '{"w": "p:[4]", "u": "[1, 0, 3]"}'
    same_as_lines 'stack([cross_entropy(x, t.long()), cross_entropy(x, t.long(), reduction="sum", weight=w)])' \
        3 '{"x": [4, 3, 2]}' '{"t": "[[0, 2], [1, 1], [2, 0], [0, 0]]", "w": "p:[3]"}'
}

@test "--batch: cat, stack and gather, of batched and shared tensors" {
    same_as_lines '(cat([x, w], 0) * cat([w, x])).sum() + (cat([x, v, x], dim=-1) ** 2).sum() +
        (stack([x, w]) * stack([w, x], 1)).sum() + stack([x.sum(), w.sum(), x.amax()]).prod()' \
        4 '{"x": [2]}' '{"w": [2], "v": [3]}'
    same_as_lines '(gather(x, 1, i.long()) ** 2).sum() + (x.gather(-1, j.long()) * 3).sum() +
        gather(w, 0, i.long().flatten()).sum() + gather(x, 0, i.long()).sum()' \
        5 '{"x": [2, 3], "i": "i:2:[2, 2]"}' '{"w": [4], "j": "[[0, 2, 1], [2, 2, 2]]"}'
}

@test "--batch: indexing with ints, slices, None, int64 tensors and shared masks" {
    same_as_lines '(x[0] * 2 + x[1:, ::2].sum() + x[None, -1, 0]).sum() + (x[j.long()] ** 2).sum() +
        (x[:, i.long()] * 3).sum() + (x[i.long()] ** 3).sum() + (w[i.long()] ** 2).sum() +
        (w[:, i.long()] * 2).sum() + (x[i.long(), i.long()] ** 2).sum() + (x[m] ** 2).sum() +
        (x[:, m[:2]] * 5).sum() + x[i.long()[0], 1:].sum()' \
        6 '{"x": [3, 2], "i": "i:2:[2]"}' '{"w": [2, 3], "j": "[[0, 2], [1, 1]]", "m": "[true, false, true]"}'
}

@test "--batch: shape functions and reductions along a point's dims" {
    same_as_lines '(x.reshape(-1) * x.view(3, 2).t().reshape(6)).sum() + (x.flatten() ** 2).sum() +
        x.flatten(0, 1).sum() + (x.T * w).sum() + x.mT.sum() + (x.permute(1, 0) * w).sum() +
        (x.transpose(0, -1) ** 2).sum() + x.unsqueeze(-1).squeeze().sum() + x[None].squeeze(0).sum() +
        (x.expand(2, 2, 3) ** 2).sum() + x.expand_as(v).sum() + w[:, 0].expand_as(x).sum() +
        (x.repeat(2, 1) ** 2).sum() + x.shape[0] * x.ndim * x.sum()' \
        7 '{"x": [2, 3]}' '{"w": [3, 2], "v": [4, 2, 3]}'
    same_as_lines 'x.argmax() + x.argmin(1).sum() + x.var() + x.std(1, keepdim=True).sum() + x.norm(1, 1).sum() +
        x.prod(0).sum() + x.prod() + x.cumsum(-1).sum() + (linear(x, w, b) ** 2).sum() +
        (one_hot(x.argmax(1), 3) * x).sum()' \
        8 '{"x": [2, 3]}' '{"w": [4, 3], "b": [4]}'
}

@test "--batch: clear errors where a point's shape would depend on its data" {
    fails_with 3 'bool mask that differs from point to point .*--lines' \
        tgrad 'x[x > 0].sum()' --batch --at 'x=[[1.0, -1], [2, 3]]'
    fails_with 3 'one_hot with --batch needs num_classes=' \
        tgrad 'one_hot(x.argmax(), -1).sum()' --batch --at 'x=[[1.0, -1], [2, 3]]'
    fails_with 3 'cross_entropy: a weight that differs from point to point' \
        tgrad 'cross_entropy(x, t, weight=x[0] * 0 + 1)' --batch=x --at 'x=[[1.0, -1], [2, 3]]' --at 't=1'
    fails_with 3 'the operands have 2 and 3 points' \
        tgrad 'cat([x, y]).sum()' --batch --at 'x=[[1.0], [2]]' --at 'y=[[1.0], [2], [3]]'
    fails_with 3 'item is not supported with --batch yet' tgrad 'x.sum().item()' --batch --at 'x=[[1.0, 2]]'
}
