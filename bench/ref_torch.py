"""ref_torch.py -- the PyTorch side of make bench (run with /usr/bin/python3).

  grad EXPR SIZE...   x = randn(SIZE, requires_grad) float32; EXPR (the
                      same text as ours, evaluated by Python with torch's
                      sum/tanh/sin) forward + backward, x.grad = None each time
  value EXPR SIZE...  the same without gradients: EXPR's value alone
  net                 sum(tanh(x@w1)@w2), x 256x512, w1 512x512, w2 512x10;
                      grads in w1, w2
  vmap SIZE           functorch.vmap(functorch.grad(sin(t)*t**2)) over SIZE points
  peak EXPR SIZE      two evaluations, then "BASE_KB<TAB>PEAK_KB"
  node N              memory of a graph node: RSS growth over a chain of N
                      products y = y * 1.0001 (y float32, requires_grad),
                      divided by N: "N<TAB>BYTES"
  add A B LABEL       a + b of two loaded .npy tensors
  matmul-file A B C   whole process: C = A @ B, .npy in and out
  add-file A B C      whole process: C = A + B, .npy in and out
Timings print "LABEL<TAB>SECONDS" per repetition (bench/timing.py)."""
import os
import sys

import numpy as np
import torch

import timing

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
NS = {"sum": torch.sum, "tanh": torch.tanh, "sin": torch.sin}
DEVICE = os.environ.get("BENCH_DEVICE") or "cpu"  # cuda: tests/gpu/run.sh


def grad_fn(expr, env, leaves):
    code = compile(expr, "<expr>", "eval")
    ns = dict(NS, **env)

    def f():
        for t in leaves:
            t.grad = None
        eval(code, ns).backward()
        if DEVICE != "cpu":
            torch.cuda.synchronize()
    return f


def main(mode, *args):
    torch.manual_seed(1)
    if mode == "grad":
        for size in args[1:]:
            x = torch.randn(timing.count(size), device=DEVICE, requires_grad=True)
            timing.run(size, grad_fn(args[0], {"x": x}, [x]))
    elif mode == "value":
        code = compile(args[0], "<expr>", "eval")
        for size in args[1:]:
            x = torch.randn(timing.count(size), device=DEVICE)
            ns = dict(NS, x=x)
            timing.run(size, lambda: eval(code, ns))
    elif mode == "net":
        x = torch.randn(256, 512)
        w1 = torch.randn(512, 512, requires_grad=True)
        w2 = torch.randn(512, 10, requires_grad=True)
        timing.run("256x512x512x10", grad_fn("sum(tanh(x@w1)@w2)", {"x": x, "w1": w1, "w2": w2}, [w1, w2]))
    elif mode == "vmap":
        import functorch
        g = functorch.vmap(functorch.grad(lambda t: torch.sin(t) * t**2))
        x = torch.randn(timing.count(args[0]))
        timing.run(args[0], lambda: g(x))
    elif mode == "peak":
        base = timing.rss_now_kb()
        x = torch.randn(timing.count(args[1]), requires_grad=True)
        f = grad_fn(args[0], {"x": x}, [x])
        f()
        f()
        print(f"{base}\t{timing.rss_peak_kb()}")
    elif mode == "node":
        n = timing.count(args[0])
        x = torch.tensor(1.0, requires_grad=True)
        (x * 1.0001).backward()  # the autograd engine's own start-up, before the count
        base, y = timing.rss_now_kb(), x
        for _ in range(n):
            y = y * 1.0001
        print(f"{args[0]}\t{(timing.rss_now_kb() - base) * 1024 / n:.1f}")
    elif mode == "add":
        a, b = torch.from_numpy(np.load(args[0])), torch.from_numpy(np.load(args[1]))
        timing.run(args[2], lambda: a + b)
    elif mode == "matmul-file":
        np.save(args[2], (torch.from_numpy(np.load(args[0])) @ torch.from_numpy(np.load(args[1]))).numpy())
    elif mode == "add-file":
        np.save(args[2], (torch.from_numpy(np.load(args[0])) + torch.from_numpy(np.load(args[1]))).numpy())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(*sys.argv[1:])
