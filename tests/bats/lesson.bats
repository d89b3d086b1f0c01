#!/usr/bin/env bats
# about 6 s, sanitized 8 s: run_bats.sh starts the longest first
# The lesson's PyTorch programs (examples/lesson/*.py) run with tgrad -f and
# print what PyTorch 1.13 prints, byte for byte (expected text made by
# tests/torch/gen_lesson.py); and the Python subset's parts, one by one.
load helper

# lesson NAME: tgrad -f NAME.py in examples/lesson prints NAME.out
lesson() {
    cd examples/lesson
    run --separate-stderr tgrad -f "$1.py"
    [ "$status" -eq 0 ] || { echo "status $status: $stderr"; return 1; }
    diff <(printf '%s\n' "$output") "$1.out"
}

@test "lesson 01: tensors, creation, shapes and dtypes" { lesson 01-tensors; }
@test "lesson 02: NumPy arrays through .npy files" { lesson 02-numpy; }
@test "lesson 03: basic autograd, x**2 + 3x + 1 at 2 gives 7" { lesson 03-autograd; }
@test "lesson 04: the chain rule, 13 and 12; f(2.0) = 9.0" { lesson 04-chain-rule; }
@test "lesson 05: gradients accumulate until zero_()" { lesson 05-accumulation; }
@test "lesson 06: operations and broadcasting" { lesson 06-broadcasting; }
@test "lesson 09: no_grad blocks and detach()" { lesson 09-nograd-detach; }
@test "lesson 10: torch.func's grad and vmap" { lesson 10-transforms; }

@test "lesson 07: the GPU block falls back to the CPU" {
    if tdevice --check cuda 2>/dev/null; then
        cd examples/lesson
        run tgrad -f 07-gpu.py
        [ "$status" -eq 0 ]
        diff <(printf '%s\n' "$output") <(sed 's/^No GPU: using the CPU$/Using the GPU/' 07-gpu.out)
    else
        lesson 07-gpu
    fi
}

@test "lesson 08: in place on a leaf is PyTorch's error, status 3" {
    cd examples/lesson
    fails_with 3 "^tgrad: $(cat 08-inplace.err) \(at position" tgrad -f 08-inplace.py
}

@test "python: inline, with ';' and without import (torch is predefined)" {
    run tgrad 'x = torch.tensor([2.0], requires_grad=True); y = x**2 + 3*x + 1; y.backward(); print(y); print(x.grad)'
    [ "$status" -eq 0 ]
    [ "$output" = $'tensor([11.], grad_fn=<AddBackward0>)\ntensor([7.])' ]
}

@test "python: a program that prints nothing gives the JSON of its last expression and leaves" {
    run tgrad $'import torch\nx = torch.tensor(3.0, requires_grad=True)\ny = x**2\ny.backward()\ny'
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":9,"grad":{"x":6}}' ]
}

@test "python: a second backward without retain_graph is PyTorch's error" {
    fails_with 3 '^tgrad: Trying to backward through the graph a second time \(or directly access saved tensors' \
        tgrad $'x = torch.tensor(3.0, requires_grad=True)\ny = x**2\ny.backward()\ny.backward()'
}

@test "python: backward(gradient=...), requires_grad_(), requires_grad = False" {
    run tgrad $'x = torch.tensor([1.0, 2.0])\nx.requires_grad_()\ny = x * 3\ny.backward(gradient=torch.tensor([1.0, 0.5]))\nprint(x.grad, x.requires_grad)\nx.requires_grad = False\nprint(x, x.is_leaf)'
    [ "$status" -eq 0 ]
    [ "$output" = $'tensor([3.0000, 1.5000]) True\ntensor([1., 2.]) True' ]
}

@test "python: dtype= on creation functions, .to(dtype), .dtype and .device" {
    run tgrad $'a = torch.arange(3, dtype=torch.float64)\nb = torch.zeros(2, dtype=torch.int64)\nc = torch.ones(1, dtype=torch.bool)\nprint(a, b, c)\nprint(a.dtype, b.to(torch.float32).dtype, a.device)'
    [ "$status" -eq 0 ]
    [ "$output" = $'tensor([0., 1., 2.], dtype=torch.float64) tensor([0, 0]) tensor([True])\ntorch.float64 torch.float32 cpu' ]
}

@test "python: f-strings with format specs, Python's float repr, several print arguments" {
    run tgrad $'y = torch.tensor(2.0) ** 0.5\nprint(f"{y.item():.4f} {y:.2f} {3:>4}|{0.1 + 0.2}", "and", 7 // 2, 2**10, "x", sep="-")'
    [ "$status" -eq 0 ]
    [ "$output" = '1.4142 1.41    3|0.30000000000000004-and-3-1024-x' ]
}

@test "python: size(), size(0), numel(), len(), tolist(), item(), grad_fn, is_leaf" {
    run tgrad $'x = torch.ones(2, 3, requires_grad=True)\ny = (x * 2).sum()\nprint(x.size(), x.size(-1), x.numel(), len(x), x.dim())\nprint(torch.tensor([[1, 2]]).tolist(), y.item(), y.grad_fn.name(), y.is_leaf, x.grad)'
    [ "$status" -eq 0 ]
    [ "$output" = $'torch.Size([2, 3]) 3 6 2 2\n[[1, 2]] 12.0 SumBackward0 False None' ]
}

@test "python: def with several statements, if/elif/else, and/or, conditional expression" {
    run tgrad $'def f(x):\n    h = x * 2\n    return h + 1\n\nv = f(torch.tensor(1.0))\nif v.item() > 5:\n    print("big")\nelif v.item() > 2 and not False:\n    print("middle", 1 if v.item() == 3.0 else 0)\nelse:\n    print("small")'
    [ "$status" -eq 0 ]
    [ "$output" = 'middle 1' ]
}

@test "python: jacrev, and grad of a lambda" {
    run tgrad $'from torch.func import jacrev, grad\nprint(jacrev(lambda x: x**2)(torch.tensor([1.0, 2.0])))\nprint(grad(lambda x: (x**2).sum())(torch.tensor([1.0, 2.0])))'
    [ "$status" -eq 0 ]
    [ "$output" = $'tensor([[2., 0.],\n        [0., 4.]])\ntensor([2., 4.])' ]
}

@test "python: torch.nn.functional as F, and x.detach() in place under no_grad" {
    run tgrad $'import torch.nn.functional as F\nx = torch.tensor([-1.0, 2.0], requires_grad=True)\nprint(F.relu(x))\nwith torch.no_grad():\n    x += 1\nprint(x)'
    [ "$status" -eq 0 ]
    [ "$output" = $'tensor([0., 2.], grad_fn=<ReluBackward0>)\ntensor([0., 3.], requires_grad=True)' ]
}

@test "python: the names that share a tensor see an in-place update" {
    run tgrad $'a = torch.zeros(2)\nb = a\na += 1\na.mul_(3)\nprint(b)'
    [ "$status" -eq 0 ]
    [ "$output" = 'tensor([3., 3.])' ]
}

@test "python: constructs outside the subset are one clear error, status 3" {
    fails_with 3 "^tgrad: 'for' loops are not in the subset tgrad runs" tgrad $'import torch\nfor i in range(3):\n    pass'
    fails_with 3 "^tgrad: module 'matplotlib' is not in the subset" tgrad 'import matplotlib'
    fails_with 3 "^tgrad: name 'w' is not defined .*--at" tgrad $'import torch\nprint(w)'
    fails_with 3 "^tgrad: with: only torch.no_grad\(\) .*--no-grad" tgrad $'import torch\nwith torch.ones(1):\n    pass'
    fails_with 3 "^tgrad: 'Tensor' object has no attribute 'size' \(did you mean 'shape' or 'size\(\)'\?\)" \
        tgrad $'import torch\nprint(torch.ones(2).size)'
    fails_with 3 "^tgrad: unindent does not match any outer indentation level" tgrad $'if True:\n    x = 1\n  y = 2'
}

@test "python: a cuda tensor where there is none names --device" {
    tdevice --check cuda 2>/dev/null && skip "cuda is usable here"
    fails_with 4 "^tgrad: cuda is not available here: .*--device auto" tgrad $'import torch\nx = torch.ones(2).to("cuda")'
}

@test "python: options that do not apply to a program are a usage error" {
    fails_with 2 "^tgrad: --at does not apply to a Python program" tgrad 'import torch' --at 2
    fails_with 2 "^tgrad: --no-grad does not apply to a Python program" tgrad -f examples/lesson/03-autograd.py --no-grad
}

@test "python: nothing on stdout when the program fails after printing" {
    fails_with 3 "^tgrad: a Tensor with 2 elements cannot be converted to Scalar" \
        tgrad $'print("before")\ntorch.ones(2).item()'
}

@test "python: a gradient-descent step under no_grad keeps the leaf and its .grad" {
    run tgrad $'w = torch.tensor([1.0, -2.0], requires_grad=True)\nloss = (w**2).sum()\nloss.backward()\nwith torch.no_grad():\n    w -= 0.1 * w.grad\nprint(w, w.grad)\nw.grad.zero_()\nprint(w.grad)\nloss = (w**2).sum()\nloss.backward()\nprint(w.grad, w.is_leaf)'
    [ "$status" -eq 0 ]
    [ "$output" = $'tensor([ 0.8000, -1.6000], requires_grad=True) tensor([ 2., -4.])\ntensor([0., 0.])\ntensor([ 1.6000, -3.2000]) True' ]
}

@test "python: nesting and recursion are bounded (status 3, no crash)" {
    awk 'BEGIN { for (i = 0; i < 300; i++) printf "%*sif True:\n", i, ""; printf "%*spass\n", 300, "" }' >"$TMP/deep.py"
    fails_with 3 "^tgrad: expression nested too deeply" tgrad -f "$TMP/deep.py"
    fails_with 3 "^tgrad: maximum recursion depth exceeded" tgrad $'def f(x):\n    return f(x)\nf(1)'
}

@test "python: w.data -= lr * w.grad updates the leaf without autograd" {
    run tgrad $'w = torch.tensor([1.0, -2.0], requires_grad=True)\nloss = (w**2).sum()\nloss.backward()\nw.data -= 0.5 * w.grad\nprint(w, w.grad, w.is_leaf)'
    [ "$status" -eq 0 ]
    [ "$output" = 'tensor([0., 0.], requires_grad=True) tensor([ 2., -4.]) True' ]
}

@test "python: a program that ends in backward() gives its value and gradients as JSON" {
    run tgrad $'import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\nw = torch.tensor(3.0, requires_grad=True)\nloss = (w * x).sum()\nloss.backward()'
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":9,"grad":{"x":[3,3],"w":3}}' ]
}

@test "python: torch.tensor(t) is a copy" {
    run tgrad $'a = torch.zeros(2)\nb = torch.tensor(a)\na += 1\nprint(b)'
    [ "$status" -eq 0 ]
    [ "$output" = 'tensor([0., 0.])' ]
}

@test "python: ops follow their tensors' device; programs start on the CPU whatever TG_DEVICE says" {
    tdevice --check cuda 2>/dev/null || skip "cuda is not usable here (make check-cuda-emulated runs this)"
    run env TG_DEVICE=cuda tgrad $'x = torch.tensor([1.0, 2.0])\ny = x.cuda() * 2\nprint(x.device, y.device, torch.exp(y).device, y.sum().cpu().device)'
    [ "$status" -eq 0 ]
    [ "$output" = 'cpu cuda:0 cuda:0 cpu' ]
}

@test "python: methods and torch functions check their arguments against one signature each" {
    # these were accepted, the extra arguments dropped (size, requires_grad_), or
    # printed an empty line with status 0 (is_tensor())
    fails_with 3 "^tgrad: size\(\) takes at most one argument \(at position" tgrad $'import torch\nprint(torch.ones(2, 3).size(1, 2))'
    fails_with 3 "^tgrad: requires_grad_\(\) takes at most one argument" tgrad $'import torch\ntorch.ones(2).requires_grad_(True, 5)'
    fails_with 3 "^tgrad: is_tensor\(\) takes one argument" tgrad $'import torch\nprint(torch.is_tensor())'
    fails_with 3 "^tgrad: mul_\(\) got an unexpected keyword argument 'y'" tgrad $'import torch\ntorch.ones(2).mul_(y=3)'
    fails_with 3 "^tgrad: '\.backward' is a method: call it" tgrad $'import torch\nprint(torch.ones(2).backward)'
    run tgrad $'import torch\nx = torch.ones(2, requires_grad=True)\ny = (x * x).sum()\ny.backward(None, True)\ny.backward()\nprint(x.grad, x.size(dim=0))'
    [ "$status" -eq 0 ]
    [ "$output" = 'tensor([4., 4.]) 2' ]
}

@test "python: vmap refuses a result with more dimensions than a tensor has (no stack overflow)" {
    # f gives 16 dims per point: the stacked result would have 17; the
    # shape was copied into a 16-slot array before the check (ASan saw it)
    fails_with 3 "^tgrad: vmap: the result would have 17 dimensions \(tgrad's tensors have at most 16\)" \
        tgrad $'from torch.func import vmap\nx = torch.ones(2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)\nvmap(lambda t: t.unsqueeze(0))(x)'
    # points of the same size but another shape are refused, not stacked
    fails_with 3 "^tgrad: vmap: the function returned tensors of different shapes" \
        tgrad $'from torch.func import vmap\nvmap(lambda t: t.view(2, 3) if t.sum().item() > 6 else t.view(3, 2))(torch.ones(2, 6) * torch.tensor([[1.0], [2.0]]))'
}
