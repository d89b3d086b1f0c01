#!/usr/bin/python3
"""gen_repr.py -- PyTorch's printed forms, for tests/unit/test_repr.c.

Writes tests/torch/repr_fixtures.jsonl (or the path given as argument), one
JSON object per line, of three kinds:

  {"kind": "tensor", "dtype": "float32"|"float64"|"int64"|"bool",
   "shape": [...], "data": [...], "repr": "tensor(...)",
   optional: "permute": [...], "expand": [...], "requires_grad": true,
   "grad_fn": "AddBackward0", "device": "cuda", "default_dtype": "float64"}

    repr(t) as PyTorch 1.13 prints it.  The elements are data[i % len(data)]
    for i over the base tensor of that shape in row-major order (a short
    data list tiles a large tensor); then the view "permute" (dims) or
    "expand" (a shape) is taken, if given.  Floats are float.hex() strings
    ("nan", "inf" and "-inf" included), int64 decimal strings, bool JSON
    booleans.  "grad_fn" is the name the tensor is printed with (the test
    passes it as it is); "requires_grad" marks a leaf that requires grad;
    "device" a cuda tensor, whose text is PyTorch's own pieces put together
    as _str_intern does (this machine has no GPU); "default_dtype" the
    default float dtype (torch.set_default_dtype) in force.

  {"kind": "float", "value": "0x1.999999999999ap-4", "repr": "0.1"}

    Python's repr of a float (what {x.item()} prints).

  {"kind": "grad_fn", "expr": "x.exp()", "name": "ExpBackward0"}

    type(r.grad_fn).__name__ of the expression, evaluated by Python over
    torch tensors that require grad (x, y: shape (2,); M: (2, 2);
    B: (3, 2, 2); s: 0-D; all float32), and by the toolkit's expression
    language over the same names ("py", when given, is the Python spelling
    where the two differ).

Seeded: the same file on every run.  Run with /usr/bin/python3 (PyTorch
1.13 is installed there).
"""
import json
import math
import random
import struct
import sys

import torch
import torch._tensor_str as ts

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/torch/repr_fixtures.jsonl"
rng = random.Random(20261203)
torch.manual_seed(20261203)

DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "bool": torch.bool}
GRAD_FNS = ["AddBackward0", "MulBackward0", "SumBackward0", "MeanBackward1", "MmBackward0",
            "UnsafeViewBackward0", "TanhBackward0", "SoftmaxBackward0", "LogsumexpBackward0",
            "SliceBackwardBackward0", "ToCopyBackward0"]
cases = []


# ---- values ----
def f32(v):
    return struct.unpack("f", struct.pack("f", v))[0] if math.isfinite(v) and abs(v) < 3.4e38 else v


def magnitude(lo, hi):
    """a random value whose magnitude is 10**u, u uniform in [lo, hi]"""
    return rng.choice([-1, 1]) * 10 ** rng.uniform(lo, hi)


def float_values(n, style):
    if style == "normal":
        return [rng.gauss(0, 1) for _ in range(n)]
    if style == "small":
        return [rng.gauss(0, 1) * 1e-3 for _ in range(n)]
    if style == "int":
        k = rng.choice([3, 50, 1000, 10 ** 6, 10 ** 9])
        return [float(rng.randint(-k, k)) for _ in range(n)]
    if style == "wide":  # magnitudes over many decades: scientific
        lo = rng.uniform(-10, 8)
        return [magnitude(lo, lo + rng.uniform(0, 12)) for _ in range(n)]
    if style == "decade":  # within one decade, anywhere from 1e-10 to 1e10
        e = rng.uniform(-10, 10)
        return [magnitude(e, e + 1) for _ in range(n)]
    if style == "round":  # a few decimals: rounding at the 4th one
        return [round(rng.uniform(-100, 100), rng.randint(0, 6)) for _ in range(n)]
    if style == "huge":
        return [magnitude(8, 300) for _ in range(n)]
    raise ValueError(style)


SPECIALS = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0]


def with_specials(vals, p):
    return [rng.choice(SPECIALS) if rng.random() < p else v for v in vals]


def int_values(n):
    k = rng.choice([1, 9, 100, 10 ** 5, 10 ** 12, 2 ** 63 - 1])
    lo = rng.choice([0, -k])
    return [rng.randint(max(lo, -(2 ** 63)), k) for _ in range(n)]


def values_for(dtype, n):
    if dtype == "bool":
        return [rng.random() < 0.5 for _ in range(n)]
    if dtype == "int64":
        return int_values(n)
    style = rng.choice(["normal", "small", "int", "int", "wide", "decade", "round", "huge"])
    vals = float_values(n, style)
    if rng.random() < 0.25:
        vals = with_specials(vals, rng.choice([0.1, 0.3, 1.0]))
    return vals


def encode(dtype, vals):
    if dtype in ("float32", "float64"):
        return [float(v).hex() for v in vals]
    if dtype == "int64":
        return [str(int(v)) for v in vals]
    return [bool(v) for v in vals]


def numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def make_tensor(dtype, shape, vals):
    n = numel(shape)
    flat = [vals[i % len(vals)] for i in range(n)] if vals else []
    return torch.tensor(flat, dtype=DTYPES[dtype]).reshape(shape)


# ---- cases ----
def pieces_repr(t, suffixes, device=None):
    """_str_intern's text for t (no grad), from PyTorch's own pieces, with
    the device and further suffixes (a grad_fn of any name, which a real
    node cannot be made to have) added as _str_intern adds them"""
    text = "tensor(" + (ts._tensor_str(t, 7) if t.numel() else "[]")
    sfx = ["device='%s'" % device] if device else []
    if t.numel() == 0 and t.dim() != 1:
        sfx.append("size=" + str(tuple(t.shape)))
    if t.numel() == 0 and t.dtype != torch.get_default_dtype():
        sfx.append("dtype=" + str(t.dtype))
    elif t.numel() and t.dtype not in (torch.get_default_dtype(), torch.int64, torch.bool):
        sfx.append("dtype=" + str(t.dtype))
    return ts._add_suffixes(text, sfx + suffixes, 7, False)


def tensor_case(dtype, shape, vals, permute=None, expand=None, requires_grad=False, grad_fn=None,
                device=None, default_dtype=None):
    if default_dtype:
        torch.set_default_dtype(DTYPES[default_dtype])
    try:
        t = make_tensor(dtype, shape, vals)
        if permute:
            t = t.permute(*permute)
        if expand:
            t = t.expand(*expand)
        # float32 data as the float32 values themselves
        stored = [v.item() for v in make_tensor(dtype, [len(vals)], vals)] if vals else []
        case = {"kind": "tensor", "dtype": dtype, "shape": list(shape), "data": encode(dtype, stored)}
        for key, val in (("permute", permute), ("expand", expand), ("requires_grad", requires_grad),
                         ("grad_fn", grad_fn), ("device", device), ("default_dtype", default_dtype)):
            if val:
                case[key] = val
        assert pieces_repr(t, []) == repr(t)
        if requires_grad:
            t.requires_grad_(True)
        suffix = ["grad_fn=<%s>" % grad_fn] if grad_fn else ["requires_grad=True"] if requires_grad else []
        if device or grad_fn:
            case["repr"] = pieces_repr(t.detach(), suffix, device and "cuda:0")
        else:
            case["repr"] = repr(t)
        cases.append(case)
    finally:
        torch.set_default_dtype(torch.float32)


def random_shape(rank, maxsize):
    return [rng.randint(1, maxsize) for _ in range(rank)]


def gen_random_tensors():
    for _ in range(700):
        dtype = rng.choice(["float32", "float32", "float64", "int64", "bool"])
        rank = rng.choice([0, 1, 1, 2, 2, 3, 4])
        shape = random_shape(rank, rng.choice([3, 5, 8]))
        while numel(shape) > 400:  # larger ones: gen_large_tensors
            shape = random_shape(rank, 6)
        n = numel(shape)
        vals = values_for(dtype, n)
        kw = {}
        r = rng.random()
        if dtype in ("float32", "float64") and r < 0.15:
            kw["requires_grad"] = True
        elif dtype in ("float32", "float64") and r < 0.35:
            kw["grad_fn"] = rng.choice(GRAD_FNS)
        if rank >= 2 and rng.random() < 0.15:
            perm = list(range(rank))
            rng.shuffle(perm)
            kw["permute"] = perm
        if rng.random() < 0.05:
            kw["device"] = "cuda"
        if dtype in ("float32", "float64") and rng.random() < 0.05:
            kw["default_dtype"] = "float64"
        tensor_case(dtype, shape, vals, **kw)


def gen_edge_tensors():
    F = "float32"
    for v in [9.0, 0.5, -0.0, 0.0, float("nan"), float("inf"), float("-inf"), 1e-5, 1e5, 123456789.0,
              1e8, 1e9, 0.1, 1 / 3, -2.5, 1e-10, 1e10, 3.4e38]:
        for dt in ("float32", "float64"):
            tensor_case(dt, [], [v])
            tensor_case(dt, [1], [v])
    for v in [0, -1, 7, 2 ** 63 - 1, -(2 ** 63), 10 ** 15]:
        tensor_case("int64", [], [v])
    for v in [True, False]:
        tensor_case("bool", [], [v])
    tensor_case(F, [2], [7.0], grad_fn="AddBackward0")
    tensor_case(F, [], [9.0], grad_fn="PowBackward0")
    tensor_case(F, [1], [2.0], requires_grad=True)
    tensor_case(F, [3], [1, 2, 3])
    tensor_case("int64", [3], [1, 2, 3])
    tensor_case("bool", [2], [True, False])
    tensor_case("float64", [2], [1.0, 2.0])
    tensor_case(F, [2], [1e-5, 1e5])
    # the mode thresholds
    for vals in ([1.0, 1000.0], [1.0, 1000.5], [1.0, 1001.0], [0.5, 500.0], [0.5, 500.5],
                 [1e8], [1e8 + 1], [1e8 + 0.5], [1e-4], [9.999e-5], [1e-4, 0.1], [1e-4, 0.1001],
                 [0.00005, 0.5], [0.00015, 0.1], [1.00005, 2.0], [0.12345, 0.12355], [-0.0, 1.5],
                 [0.0, 0.0], [-0.0, -0.0], [float("nan")] * 3, [float("inf"), float("-inf")],
                 [float("nan"), 1.0, 2.0], [float("nan"), 0.5], [float("inf"), 1e-6, 3.0],
                 [float("-inf"), 1e9], [12345678.0, 0.5], [99999999.5, 1.0]):
        for dt in ("float32", "float64"):
            tensor_case(dt, [len(vals)], vals)
    # empty tensors
    for dt in DTYPES:
        for shape in ([0], [0, 3], [2, 0], [2, 0, 3], [0, 0], [1, 0, 1, 2]):
            tensor_case(dt, shape, [])
        tensor_case(dt, [0, 3], [], device="cuda")
    tensor_case(F, [0], [], requires_grad=True)
    tensor_case(F, [0, 4], [], grad_fn="ViewBackward0")
    tensor_case("float64", [0], [], default_dtype="float64")
    tensor_case(F, [0, 2], [], default_dtype="float64")
    tensor_case(F, [3], [1.5, 2.0, -3.0], default_dtype="float64")
    tensor_case("float64", [2, 2], [1.5, 2.0, -3.0, 4.0], default_dtype="float64", requires_grad=True)
    # rows that wrap at 80 columns, and suffixes that go on a new line
    for n in (10, 11, 12, 13, 14, 20, 26, 27, 40, 77, 100):
        for style in ("normal", "int", "wide"):
            tensor_case(F, [n], float_values(n, style))
    tensor_case(F, [999], float_values(999, "wide"))  # the most not summarised
    tensor_case("int64", [1000], int_values(1000))
    for n in (1, 5, 10, 12, 13, 14, 16, 17, 20, 26):
        tensor_case("int64", [n], list(range(n)))
        tensor_case("int64", [n], [10 ** 12 + i for i in range(n)])
        tensor_case("bool", [n], [i % 3 == 0 for i in range(n)])
        tensor_case("float64", [n], float_values(n, "normal"), grad_fn="MmBackward0")
        tensor_case("float64", [n], float_values(n, "wide"), requires_grad=True)
        tensor_case(F, [n], float_values(n, "int"), grad_fn="SliceBackwardBackward0")
        tensor_case(F, [n], float_values(n, "normal"), device="cuda", requires_grad=True)
    for shape in ([2, 3], [3, 2], [2, 2, 2], [2, 1, 3], [1, 1, 1, 1], [2, 3, 2, 2], [3, 1], [1, 12]):
        tensor_case(F, shape, float_values(numel(shape), "normal"), grad_fn="UnsafeViewBackward0")
        tensor_case("float64", shape, float_values(numel(shape), "wide"), device="cuda",
                    grad_fn="LogsumexpBackward0")


def gen_large_tensors():
    """beyond 1000 elements: summarised, from a short tiled data list"""
    shapes = [[1001], [1200], [5000], [2000, 1], [1, 1500], [40, 30], [3, 400], [400, 3], [11, 100],
              [7, 7, 7, 7], [8, 8, 20], [2, 3, 4, 50], [1001, 2], [6, 6, 6, 6], [6, 200], [7, 150],
              [10, 10, 11], [2, 2, 2, 130], [130, 2, 2, 2], [100, 100]]
    for shape in shapes:
        for dt in ("float32", "float64", "int64", "bool"):
            period = rng.choice([1, 7, 23, 61, 97])
            vals = values_for(dt, period)
            kw = {}
            if dt.startswith("float") and rng.random() < 0.3:
                kw["grad_fn"] = rng.choice(GRAD_FNS)
            tensor_case(dt, shape, vals, **kw)
    # an outlier in the middle, not shown, must not change the format
    mid = [0.5] * 601  # tiled: the outlier is element 600 alone
    mid[600] = 1e9
    tensor_case("float32", [1200], mid)
    tensor_case("float32", [40, 30], mid)
    # views: a transposed large tensor, and expand()ed ones (only the shown
    # elements are read)
    tensor_case("float32", [30, 50], float_values(37, "normal"), permute=[1, 0])
    tensor_case("float64", [5, 6, 40], float_values(41, "wide"), permute=[2, 0, 1])
    tensor_case("float32", [1, 5], float_values(5, "normal"), expand=[3000, 5])
    tensor_case("int64", [3, 1], [1, 2, 3], expand=[3, 100000])
    tensor_case("float32", [1], [2.5], expand=[10 ** 6])
    tensor_case("float32", [1, 1, 1], [0.25], expand=[1000, 1000, 1000], grad_fn="ExpandBackward0")
    tensor_case("float32", [2, 1], [1.0, 2.0], expand=[2, 2])


def gen_floats():
    vals = [9.0, 0.1, 0.2, 0.30000000000000004, 1e-05, 1e-4, 0.0001234, 1e16, 1e15, 9999999999999998.0,
            1e22, 1e23, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 2.0 ** 53, 2.0 ** 53 + 2,
            2.0 ** 63, 123456789.0, 0.5, 1 / 3, 2 / 3, -1.5, 100.0, 1e100, -1e-100, float("nan"),
            float("inf"), float("-inf"), -0.0, 0.0, 1.0, -1.0, 3.14159, 2.718281828459045]
    vals += [f32(v) for v in (0.1, 0.2, 1 / 3, 3.14159, 1e-5, 1e10, 123.456, 1e-40)]
    for _ in range(300):
        kind = rng.random()
        if kind < 0.3:
            v = magnitude(-20, 20)
        elif kind < 0.5:
            v = f32(magnitude(-10, 10))  # a float32's item()
        elif kind < 0.7:
            v = float(rng.randint(-10 ** 17, 10 ** 17))
        elif kind < 0.85:
            v = round(rng.uniform(-1000, 1000), rng.randint(0, 8))
        else:
            v = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        vals.append(v)
    for v in vals:
        cases.append({"kind": "float", "value": float(v).hex(), "repr": repr(float(v))})


GRAD_EXPRS = [
    "x + y", "x + 2", "2 + x", "x - y", "x - 2", "2 - x", "2.5 - x", "x * y", "x * 2", "2 * x",
    "x / y", "x / 2", "2 / x", "x ** 2", "x ** 0.5", "x ** y", "2 ** x", "-x", "x.exp()", "x.log()",
    "x.sqrt()", "x.sin()", "x.cos()", "x.tan()", "x.tanh()", "x.sigmoid()", "x.relu()", "x.abs()",
    "x.sign()", "x.log1p()", "x.expm1()", "x.erf()", "x.clamp(min=0)", "x.clamp(0, 1)",
    "x.clamp(max=1)", "torch.maximum(x, y)", "torch.minimum(x, y)", "torch.where(x > 1, x, y)",
    "x.sum()", "M.sum(0)", "M.sum(1, keepdim=True)", "x.mean()", "M.mean(0)", "M.mean(1, keepdim=True)",
    "M.amax(0)", "M.amin(1)", "x.max()", "x.min()", "M.reshape(4)", "M.T.reshape(4)", "M.flatten()",
    "x.expand(3, 2)", "M.permute(1, 0)", "M.transpose(0, 1)", "M.T", "x.unsqueeze(0)",
    "M[0:1].squeeze()", "M[0:1].squeeze(0)", "x[0:1]", "x[0]", "M[:, 0]", "M[0, 1]", "M.T.contiguous()",
    "x.double()", "M @ M", "M @ x", "x @ M", "x @ y", "B @ B", "B @ M", "M @ B", "B @ x", "x @ B",
    "x.softmax(0)", "x.log_softmax(0)", "x.logsumexp(0)", "M.logsumexp(1)", "(x * y).sum()",
    "s * x", "s.exp()", "torch.exp(x)", "torch.tanh(M)", "x.matmul(y)", "x.sum() + 1",
    "M.view(4)", "M.t()", "x.square()", "x.reciprocal()", "x.rsqrt()", "x.prod()", "M.prod(0)",
    "M.cumsum(1)", "torch.cat([x, y])", "torch.stack([x, y])", "x[[0, 1, 1]]", "x[x > 1]",
]


def gen_grad_fns():
    def leaf(*shape):
        return (torch.rand(shape) + 0.5).requires_grad_(True)

    env = {"torch": torch, "x": leaf(2), "y": leaf(2), "M": leaf(2, 2), "B": leaf(3, 2, 2), "s": leaf()}
    for expr in GRAD_EXPRS:
        r = eval(expr, env)
        cases.append({"kind": "grad_fn", "expr": expr, "name": type(r.grad_fn).__name__})
    F = "torch.nn.functional."
    for expr, py in [("gelu(x)", F + "gelu(x)"), ("silu(x)", F + "silu(x)"), ("leaky_relu(x)", F + "leaky_relu(x)"),
                     ("elu(x)", F + "elu(x)"), ("M.gather(1, [[0], [1]])", "M.gather(1, torch.tensor([[0], [1]]))"),
                     ("M.max(0).values", "M.max(0).values"), ("M.min(1)[0]", "M.min(1)[0]"),
                     ("M.max(1, keepdim=True).values", "M.max(1, keepdim=True).values")]:
        r = eval(py, env)
        cases.append({"kind": "grad_fn", "expr": expr, "py": py, "name": type(r.grad_fn).__name__})


gen_edge_tensors()
gen_random_tensors()
gen_large_tensors()
gen_floats()
gen_grad_fns()
with open(OUT, "w") as f:
    for c in cases:
        f.write(json.dumps(c, separators=(",", ":")) + "\n")
print("%s: %d cases" % (OUT, len(cases)), file=sys.stderr)
