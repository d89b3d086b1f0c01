"""ref_train.py -- the PyTorch side of make bench's training rows (run with
/usr/bin/python3), the same loops as `tgrad --train` runs:

  gen DIR            the inputs, once: DIR/train_x.npy, train_y.npy (10^4
                     points of a line), mlp_x.npy (10^4 x 784), mlp_onehot.npy
                     (10^4 x 10), mlp_w1.npy, mlp_w2.npy, mlp_b1.npy, mlp_b2.npy
                     (seeded; NumPy)
  line DIR HOW LABEL a line fit: ((x*w+b-y)**2).mean(), SGD lr 0.1, 1000 steps
  xor DIR HOW LABEL  XOR with a 2-4-1 tanh network, SGD lr 0.1, 5000 steps
  mlp DIR HOW LABEL  784-128-10 (relu), -(log_softmax(z,1)*onehot).sum(1).mean(),
                     SGD lr 0.1, one epoch of batches of 64 rows in order
HOW once: load and train once (the whole process is timed outside); loop:
the training loop alone, repeated, "LABEL<TAB>SECONDS" per repetition
(bench/timing.py)."""
import os
import sys

import numpy as np
import torch

import timing

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))

XOR_X = [[0, 0], [0, 1], [1, 0], [1, 1]]
XOR_Y = [[0], [1], [1], [0]]
XOR_W1 = [[0.5, -0.4, 0.3, 0.8], [-0.6, 0.7, 0.2, -0.9]]
XOR_W2 = [[0.4], [-0.5], [0.6], [0.3]]


def gen(d):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(10000).astype(np.float32)
    np.save(f"{d}/train_x.npy", x)
    np.save(f"{d}/train_y.npy", (3 * x + 0.5 + 0.1 * rng.standard_normal(10000)).astype(np.float32))
    np.save(f"{d}/mlp_x.npy", rng.standard_normal((10000, 784)).astype(np.float32))
    np.save(f"{d}/mlp_onehot.npy", np.eye(10, dtype=np.float32)[rng.integers(0, 10, 10000)])
    np.save(f"{d}/mlp_w1.npy", (rng.standard_normal((784, 128)) * 0.05).astype(np.float32))
    np.save(f"{d}/mlp_w2.npy", (rng.standard_normal((128, 10)) * 0.1).astype(np.float32))
    np.save(f"{d}/mlp_b1.npy", np.zeros(128, np.float32))
    np.save(f"{d}/mlp_b2.npy", np.zeros(10, np.float32))


def sgd_loop(params, loss_fn, batches, steps):
    opt = torch.optim.SGD(params, lr=0.1)
    loss = None
    for k in range(steps):
        opt.zero_grad()
        loss = loss_fn(*batches(k))
        loss.backward()
        opt.step()
    return loss.item()


def line(d):
    x, y = torch.from_numpy(np.load(f"{d}/train_x.npy")), torch.from_numpy(np.load(f"{d}/train_y.npy"))

    def run():
        w, b = torch.zeros((), requires_grad=True), torch.zeros((), requires_grad=True)
        return sgd_loop([w, b], lambda: ((x * w + b - y) ** 2).mean(), lambda k: (), 1000)
    return run


def xor():
    x, y = torch.tensor(XOR_X, dtype=torch.float32), torch.tensor(XOR_Y, dtype=torch.float32)

    def run():
        w1, w2 = torch.tensor(XOR_W1, requires_grad=True), torch.tensor(XOR_W2, requires_grad=True)
        b1, b2 = torch.zeros(4, requires_grad=True), torch.zeros(1, requires_grad=True)
        return sgd_loop([w1, b1, w2, b2], lambda: ((torch.tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2).mean(),
                        lambda k: (), 5000)
    return run


def mlp(d):
    x = torch.from_numpy(np.load(f"{d}/mlp_x.npy"))
    onehot = torch.from_numpy(np.load(f"{d}/mlp_onehot.npy"))
    w1n, w2n = np.load(f"{d}/mlp_w1.npy"), np.load(f"{d}/mlp_w2.npy")
    n, bs = x.shape[0], 64

    def run():
        w1, w2 = torch.tensor(w1n, requires_grad=True), torch.tensor(w2n, requires_grad=True)
        b1, b2 = torch.zeros(128, requires_grad=True), torch.zeros(10, requires_grad=True)

        def loss(xb, ob):
            z = torch.relu(xb @ w1 + b1) @ w2 + b2
            return -(torch.log_softmax(z, 1) * ob).sum(1).mean()
        return sgd_loop([w1, b1, w2, b2], loss, lambda k: (x[k * bs:(k + 1) * bs], onehot[k * bs:(k + 1) * bs]),
                        (n + bs - 1) // bs)
    return run


def main(mode, *args):
    torch.manual_seed(1)
    if mode == "gen":
        gen(args[0])
        return
    if mode not in ("line", "xor", "mlp") or len(args) != 3:
        sys.exit(__doc__)
    run = xor() if mode == "xor" else globals()[mode](args[0])
    if args[1] == "once":
        print(run())
    else:
        timing.run(args[2], run)


if __name__ == "__main__":
    main(*sys.argv[1:])
