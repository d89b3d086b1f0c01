#!/usr/bin/python3
"""Differential test of tgrad's transforms against PyTorch (run with Debian's
/usr/bin/python3 and python3-torch): --jacobian (jacrev), --jacobian=fwd
(jacfwd), --hessian, --jvp and --batch (vmap of grad) on random expressions
and shapes, in float64.  Prints one line per mismatch and a summary
"N passed, M failed"; exits 1 on any mismatch, 77 where torch or functorch
cannot be imported.

    tests/torch/transforms_check.py [SEED] [CASES]
"""
import json, random, subprocess, sys
try:
    import torch
    from functorch import jacrev, jacfwd, hessian, jvp, vmap, grad
except ImportError as e:
    # (status 77: the caller skips; one interpreter start instead of a
    # separate import check, as importing torch takes over a second)
    print("PyTorch with functorch is not importable: %s" % e)
    sys.exit(77)

TGRAD = "./bin/tgrad"
UNARY = ["exp", "sin", "cos", "tanh", "sigmoid", "softplus", "erf"]
BINARY = ["+", "-", "*"]


def rand_expr(rng, names, depth):
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(names)
    r = rng.random()
    if r < 0.45:
        return "%s(%s)" % (rng.choice(UNARY), rand_expr(rng, names, depth - 1))
    if r < 0.9:
        return "(%s %s %s)" % (rand_expr(rng, names, depth - 1), rng.choice(BINARY), rand_expr(rng, names, depth - 1))
    return "(%s) ** 2" % rand_expr(rng, names, depth - 1)


def torch_fn(expr, names):
    env = {f: getattr(torch, f) for f in UNARY if f != "softplus"}
    env["softplus"] = torch.nn.functional.softplus
    def f(*args):
        return eval(expr, env, dict(zip(names, args)))
    return f


def tgrad(*args):
    p = subprocess.run([TGRAD, *args, "--dtype", "float64"], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip())
    return json.loads(p.stdout)


def close(ours, ref, what, failures, case):
    a = torch.tensor(ours, dtype=torch.float64)
    b = ref.detach().to(torch.float64)
    if a.shape != b.shape or not torch.allclose(a, b, rtol=1e-9, atol=1e-12):
        failures.append("%s %s: ours %s, PyTorch %s" % (case, what, a.tolist(), b.tolist()))
        return False
    return True


def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    cases = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    rng = random.Random(seed)
    torch.manual_seed(seed)
    passed, failures = 0, []
    for c in range(cases):
        names = ["x", "y"][: rng.choice([1, 2])]
        expr = rand_expr(rng, names, 3)
        # 1-D: functorch 1.13 cannot run some transforms on 0-D inputs
        shape = [rng.choice([1, 2, 3])]
        vals = [torch.randn(shape, dtype=torch.float64) * 0.8 for _ in names]
        at = []
        for n, v in zip(names, vals):
            at += ["--at", "%s=%s" % (n, json.dumps(v.tolist()))]
        f = torch_fn(expr, names)
        case = "case %d %r at %s" % (c, expr, [v.tolist() for v in vals])
        argnums = tuple(range(len(names)))
        try:
            # Jacobians, reverse and forward mode
            ref = jacrev(f, argnums=argnums)(*vals)
            for mode in ("", "=fwd"):
                out = tgrad(expr, *at, "--jacobian" + mode)
                ok = all(close(out["jacobian"][n], ref[i], "jacobian" + mode + " " + n, failures, case)
                         for i, n in enumerate(names))
                passed += ok
            # jvp with random tangents
            tang = [torch.randn(shape, dtype=torch.float64) for _ in names]
            _, ref_jv = jvp(f, tuple(vals), tuple(tang))
            jv_args = []
            for n, t in zip(names, tang):
                jv_args += ["--jvp", "%s=%s" % (n, json.dumps(t.tolist()))]
            out = tgrad(expr, *at, *jv_args)
            passed += close(out["jvp"], ref_jv, "jvp", failures, case)
            # Hessian of the sum
            fs = lambda *a: f(*a).sum()
            H = hessian(fs, argnums=argnums)(*vals)
            out = tgrad("(%s).sum()" % expr, *at, "--hessian")
            ok = all(close(out["hessian"][a][b], H[i][j], "hessian %s%s" % (a, b), failures, case)
                     for i, a in enumerate(names) for j, b in enumerate(names))
            passed += ok
            # vmap(grad(sum f)) over a batch of points
            B = 4
            pts = [torch.randn([B] + shape, dtype=torch.float64) * 0.8 for _ in names]
            g = vmap(grad(fs, argnums=argnums))(*pts)
            bat = []
            for n, v in zip(names, pts):
                bat += ["--at", "%s=%s" % (n, json.dumps(v.tolist()))]
            out = tgrad("(%s).sum()" % expr, *bat, "--batch")
            ok = all(close(out["grad"][n], g[i], "vmap grad " + n, failures, case) for i, n in enumerate(names))
            passed += ok
        except RuntimeError as e:
            failures.append("%s: tgrad failed: %s" % (case, e))
    for f in failures:
        print(f)
    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
