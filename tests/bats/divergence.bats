#!/usr/bin/env bats
# Issue #18: no silent divergence from PyTorch on the command line.  The
# values and errors of expressions are pinned against PyTorch itself in
# tests/torch/fixtures.jsonl ("divergence" cases); these are the tools' side.
# not under check-cuda-emulated: command-line and language rules, the same on every device
load helper

@test "tbroadcast --op sub refuses a bool operand, as torch.sub does" {
    fails_with 3 '^tbroadcast: Subtraction, the `-` operator, with a bool tensor is not supported' \
        tbroadcast --op sub '[true,false]' 1
    fails_with 3 'with two bool tensors is not supported' tbroadcast --op sub '[true]' '[false]'
    run tbroadcast --op add '[true,false]' 1
    [ "$output" = '[2,1]' ]
}

@test "tbroadcast: a clash names the operands' shapes as given, not a partial result" {
    fails_with 3 '^tbroadcast: operands a and b: shapes \[3,1\] and \[4,3\] cannot be broadcast: dimension -2 ' \
        tbroadcast --shapes 3,1 4,3
    fails_with 3 '^tbroadcast: operands a and c: shapes \[3,1\] and \[4,1\] cannot' tbroadcast --shapes 3,1 1,3 4,1
    fails_with 3 '^tbroadcast: operands y and z: shapes \[1,3\] and \[2\] cannot' \
        tbroadcast '[[1],[2],[3]]' '[[1,2,3]]' '[1,2]' --names x,y,z
}

@test "long options: unambiguous prefixes take their argument, as getopt_long reads them" {
    run tgrad --wr y 'x*y' --at x=1 --at y=2
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":2,"grad":{"y":1}}' ]
    run tgrad --dt float64 'x/3' --at 1 --no-grad
    [ "$output" = '{"value":0.3333333333333333}' ]
    run tgrad --grad-out '[2,3]' 'x*2' --at '[1,1]'
    [ "$output" = '{"value":[2,2],"grad":{"x":[4,6]}}' ]
    run tgrad --wrt=y 'x*y' --at x=1 --at y=2
    [ "$output" = '{"value":2,"grad":{"y":1}}' ]
    run tmatmul --dt float64 '[[0.1]]' '[[3]]'
    [ "$output" = '[[0.30000000000000004]]' ]
    run tbroadcast --na p,q '[1]' '[2]' --grad
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":[3],"grad":{"p":[1],"q":[1]}}' ]
    run tdevice --def
    [ "$status" -eq 0 ]
    [ -n "$output" ]
}

@test "long options: ambiguous prefixes, values on flags, missing arguments" {
    fails_with 2 "^tgrad: option '--gr' is ambiguous: it could be --graph, --graph-values, --grad-output " \
        tgrad --gr dot x --at 1
    fails_with 2 "^tbroadcast: option '--gr' is ambiguous: it could be --grad, --grad-output " \
        tbroadcast --gr '[1]' '[2]'
    fails_with 2 "^tgrad: option '--pretty' takes no value" tgrad --pretty=1 x --at 1
    fails_with 2 "^tgrad: option '--no-grad' takes no value" tgrad --no-g=yes x --at 1
    fails_with 2 "^tmatmul: option '--pretty' takes no value" tmatmul --pretty=3 '[1]' '[1]'
    fails_with 2 "^tdevice: option '--pretty' takes no value" tdevice --pretty=x
    fails_with 2 "^tbroadcast: option --op needs an argument" tbroadcast '[1]' --op
    fails_with 2 "^tgrad: option --wrt needs an argument" tgrad x --at 1 --wr
    fails_with 2 "^tdevice: unknown option '--js'" tdevice --js
}

@test "--batch must batch something: unknown names, no variables and in_dims are refused" {
    fails_with 2 "^tgrad: --batch names 'y', which is not a variable given" tgrad 'x*2' --at '[1,2]' --batch=y
    fails_with 2 '^tgrad: --batch: the expression has no variables' tgrad '3*2' --batch
    fails_with 2 "^tgrad: --batch=x:1: a batch dimension other than 0 \(vmap's in_dims\) is not supported" \
        tgrad 'x.sum()' --at '[[1,2],[3,4]]' --batch=x:1
    run tgrad '(x*w).sum()' --at x='[[1,2],[3,4]]' --at w='[10,20]' --batch=x --no-grad
    [ "$output" = '{"value":[50,110]}' ]
}

@test "--detect-anomaly is honoured with --lines, and refused where it would be ignored" {
    run -3 --separate-stderr tgrad 'log(x)' --lines --detect-anomaly <<< $'{"x":1}\n{"x":0}'
    [ "$output" = '{"value":0,"grad":{"x":1}}' ] # the lines before, as always with --lines
    [[ "$stderr" == 'tgrad: line 2: anomaly: log produced an infinity from finite inputs in the forward pass'* ]]
    run tgrad 'log(x)' --lines --detect-anomaly --keep-going <<< $'{"x":0}\n{"x":1}'
    [ "${lines[0]}" = '{"line":1,"error":"anomaly: log produced an infinity from finite inputs in the forward pass"}' ]
    [ "${lines[1]}" = '{"value":0,"grad":{"x":1}}' ]
    fails_with 2 '^tgrad: --detect-anomaly watches a plain evaluation' tgrad 'log(x)' --at 0 --detect-anomaly --jacobian
    fails_with 2 '^tgrad: --detect-anomaly watches' tgrad 'log(x)' --at 0 --detect-anomaly --graph dot
    fails_with 2 '^tgrad: --detect-anomaly watches' tgrad 'log(x)' 'x' --at 0 --detect-anomaly
}

@test "--check passes on an identity and on views, as torch.autograd.gradcheck does" {
    for e in 'x[0]' 'x.T[:, 0]' '(x[0])' 'h = x[0]; h'; do
        run tgrad "$e" --at '[[1.5,2]]' --check --grad-output '[1,1]'
        [ "$status" -eq 0 ] || { echo "$e: $output"; return 1; }
        [[ "$output" == *'"check":{"passed":true'* ]]
    done
    for e in x '(x)'; do
        run tgrad "$e" --at 1 --check
        [ "$status" -eq 0 ]
    done
}

@test "max(dim=) is PyTorch's (values, indices) pair: taken apart, also with --batch" {
    run tgrad 'v, i = x.max(dim=1); v.sum() + i.sum()' --at '[[1,5],[7,2]]'
    [ "$output" = '{"value":13,"grad":{"x":[[0,1],[1,0]]}}' ]
    run tgrad 'v, i = x.max(dim=0); v + i' --batch --at '[[1,3],[3,2]]' --no-grad
    [ "$output" = '{"value":[4,3]}' ]
    fails_with 3 "^tgrad: max\(dim=...\) gives PyTorch's \(values, indices\) pair, not a tensor" \
        tgrad 'x.max(dim=1)' --at '[[1,5],[7,2]]'
}

@test "--typed prints tensors as the object form, with shape and dtype, and reads back" {
    run tgrad 'tensor(0.1) + 0.2' --typed
    [ "$output" = '{"value":{"data":0.3,"shape":[],"dtype":"float32"}}' ]
    run tgrad 'x.max(dim=1).indices' --at '[[1.0,2],[4,3]]' --typed --no-grad
    [ "$output" = '{"value":{"data":[1,0],"shape":[2],"dtype":"int64"}}' ]
    run tgrad 'x[:0]' --at '[[1.0,2]]' --typed --no-grad
    [ "$output" = '{"value":{"data":[],"shape":[0,2],"dtype":"float32"}}' ]
    run tgrad '(x*2).sum()' --at '{"data":[1,2],"dtype":"float64"}' --typed
    [ "$output" = '{"value":{"data":6,"shape":[],"dtype":"float64"},"grad":{"x":{"data":[2,2],"shape":[2],"dtype":"float64"}}}' ]
    run tmatmul '[[1,2]]' '[[3],[4]]' --typed
    [ "$output" = '{"data":[[11]],"shape":[1,1],"dtype":"float32"}' ]
    run tbroadcast '{"data":[1,2],"dtype":"int64"}' '{"data":1,"dtype":"int64"}' --typed
    [ "$output" = '{"data":[2,3],"shape":[2],"dtype":"int64"}' ]
    # what --typed prints is input again
    tmatmul '[[1,2]]' '[[3],[4]]' --typed --dtype float64 -o "$TMP/p.json"
    run tgrad 'x' --at "$TMP/p.json" --typed --no-grad
    [ "$output" = '{"value":{"data":[[11]],"shape":[1,1],"dtype":"float64"}}' ]
}

@test "Python programs: lists of tensors as arguments, strings as keywords, the losses' grad_fn names" {
    # the program and its output from PyTorch 1.13 (/usr/bin/python3)
    cat >"$BATS_TEST_TMPDIR/p.py" <<'EOF'
import torch
import torch.nn.functional as F
x = torch.tensor([[1.0, 2.0, 0.5], [0.1, 0.2, 0.3]], requires_grad=True)
t = torch.tensor([2, 0])
y = x.detach() * 0.5
c = torch.cat([x, y], dim=1)
s = torch.stack((x, x))
print(c.shape, s.shape, c.grad_fn.name(), s.grad_fn.name())
print(F.cross_entropy(x, t, reduction='sum'))
print(F.nll_loss(x, t, reduction='none'))
print(F.mse_loss(x, y, reduction='sum'))
print(F.cross_entropy(x, y.softmax(1)))
print(F.binary_cross_entropy(torch.sigmoid(x), y, reduction='sum'))
print(F.binary_cross_entropy_with_logits(x, y, reduction='none'))
loss = F.cross_entropy(c, t) + s.sum()
loss.backward()
print(x.grad)
EOF
    cat >"$BATS_TEST_TMPDIR/want" <<'EOF'
torch.Size([2, 6]) torch.Size([2, 2, 3]) CatBackward0 StackBackward0
tensor(3.1663, grad_fn=<NllLossBackward0>)
tensor([-0.5000, -0.1000], grad_fn=<NllLossBackward0>)
tensor(1.3475, grad_fn=<MseLossBackward0>)
tensor(1.0978, grad_fn=<DivBackward1>)
tensor(4.1162, grad_fn=<BinaryCrossEntropyBackward0>)
tensor([[0.8133, 0.1269, 0.8491],
        [0.7394, 0.7781, 0.8094]],
       grad_fn=<BinaryCrossEntropyWithLogitsBackward0>)
tensor([[2.0781, 2.2122, 1.5474],
        [1.5790, 2.0873, 2.0965]])
EOF
    run tgrad -f "$BATS_TEST_TMPDIR/p.py"
    [ "$status" -eq 0 ]
    diff <(printf '%s\n' "$output") "$BATS_TEST_TMPDIR/want"
}

@test "Python programs: backward() with a number as the gradient is refused, as PyTorch refuses it" {
    fails_with 3 "gradients can be either Tensors or None, but got int" \
        tgrad "x = torch.tensor(2.0, requires_grad=True); y = x * x; y.backward(1)"
}
