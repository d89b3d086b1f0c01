#!/usr/bin/python3
"""gen_train.py -- fixtures for tgrad --train (tests/bats/train.bats).

torch.optim 1.13 (single-tensor updates, foreach=False) trains a line fit
and a 2-layer tanh MLP on seeded data for 200 steps with SGD (plain,
momentum, dampening, nesterov, weight decay), Adam and AdamW, in float32
and float64, and a linear loss whose gradient is exact, so that the
parameters must come out as torch's bit for bit (the optimizer's own
rounding alone); each case becomes one JSON line of train_fixtures.jsonl:

  {"name": ..., "expr": LOSS, "args": [tgrad options], "inputs": {...},
   "params": {name: value after the steps}, "loss": the last step's loss}

Run:  /usr/bin/python3 tests/torch/gen_train.py > tests/torch/train_fixtures.jsonl
"""
import json
import sys

import torch

STEPS = 200

LINE = "((x*w+b-y)**2).mean()"
LINEAR = "(w*g).sum()"
MLP = "((tanh(x@w1+b1)@w2+b2-y)**2).mean()"


def line_data(dtype):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(32, generator=g, dtype=dtype) * 4 - 2
    y = 3 * x + 0.5 + 0.1 * torch.randn(32, generator=g, dtype=dtype)
    return {"x": x, "y": y}, {"w": torch.zeros((), dtype=dtype), "b": torch.zeros((), dtype=dtype)}


def mlp_data(dtype):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(24, 2, generator=g, dtype=dtype)
    y = torch.sin(x[:, :1] * 1.5) * torch.cos(x[:, 1:])
    params = {
        "w1": torch.randn(2, 8, generator=g, dtype=dtype) * 0.5,
        "b1": torch.zeros(8, dtype=dtype),
        "w2": torch.randn(8, 1, generator=g, dtype=dtype) * 0.5,
        "b2": torch.zeros(1, dtype=dtype),
    }
    return {"x": x, "y": y}, params


def linear_data(dtype):
    """w's gradient is exactly g: the parameters isolate the optimizer"""
    gen = torch.Generator().manual_seed(3)
    return {"g": torch.randn(37, generator=gen, dtype=dtype)}, {"w": torch.randn(37, generator=gen, dtype=dtype)}


def linear_loss(d, p):
    return (p["w"] * d["g"]).sum()


def line_loss(d, p):
    return ((d["x"] * p["w"] + p["b"] - d["y"]) ** 2).mean()


def mlp_loss(d, p):
    return ((torch.tanh(d["x"] @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"] - d["y"]) ** 2).mean()


# name, torch optimizer factory, tgrad options
OPTIMIZERS = [
    ("sgd", lambda ps: torch.optim.SGD(ps, lr=0.05, foreach=False), ["--lr", "0.05"]),
    ("sgd-momentum", lambda ps: torch.optim.SGD(ps, lr=0.02, momentum=0.9, dampening=0.1, foreach=False),
     ["--lr", "0.02", "--momentum", "0.9", "--dampening", "0.1"]),
    ("sgd-nesterov", lambda ps: torch.optim.SGD(ps, lr=0.02, momentum=0.8, nesterov=True, foreach=False),
     ["--lr", "0.02", "--momentum", "0.8", "--nesterov"]),
    ("sgd-decay", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.5, weight_decay=0.01, foreach=False),
     ["--lr", "0.05", "--momentum", "0.5", "--weight-decay", "0.01"]),
    ("adam", lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.001, foreach=False),
     ["--optimizer", "adam", "--lr", "0.01", "--weight-decay", "0.001"]),
    ("adamw", lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, foreach=False),
     ["--optimizer", "adamw", "--lr", "0.01", "--betas", "0.8,0.99", "--eps", "1e-6"]),
]


def train(data, params, loss_fn, make_opt, batch=None, accumulate=1):
    params = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    opt = make_opt(list(params.values()))
    n = next(iter(data.values())).shape[0]
    nb = (n + batch - 1) // batch if batch else 1
    k = 0
    for _ in range(STEPS):
        opt.zero_grad()
        for _ in range(accumulate):
            if batch:  # the batches in order, epoch after epoch
                s = (k % nb) * batch
                d = {name: v[s:s + batch] for name, v in data.items()}
            else:
                d = data
            loss = loss_fn(d, params)
            loss.backward()
            k += 1
        opt.step()
    return params, loss.item()


def tolist(t):
    return t.tolist()


def main():
    out = sys.stdout
    for dtype, dname in ((torch.float32, "float32"), (torch.float64, "float64")):
        for model, expr, make_data, loss_fn in (("line", LINE, line_data, line_loss),
                                                ("mlp", MLP, mlp_data, mlp_loss),
                                                ("linear", LINEAR, linear_data, linear_loss)):
            data, params = make_data(dtype)
            cases = [(name, make, args, None, 1) for name, make, args in OPTIMIZERS]
            if model == "line":  # mini-batches in order, gradients accumulated
                cases.append(("sgd-batches", OPTIMIZERS[1][1], OPTIMIZERS[1][2] + [
                    "--batch-size", "10", "--accumulate-steps", "2"], 10, 2))
            for name, make, args, batch, acc in cases:
                trained, loss = train(data, params, loss_fn, make, batch, acc)
                inputs = {k: tolist(v) for k, v in data.items()}
                inputs.update({k: tolist(v) for k, v in params.items()})
                line = {
                    "name": f"{model}-{name}-{dname}",
                    "expr": expr,
                    "args": ["--dtype", dname, "--train", ",".join(params), "--steps", str(STEPS)] + args,
                    "inputs": inputs,
                    "params": {k: tolist(v.detach()) for k, v in trained.items()},
                    "loss": loss,
                    "exact": model == "linear",  # the parameters to the last bit
                }
                out.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
