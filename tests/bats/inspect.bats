#!/usr/bin/env bats
# tgrad's graph, explanation, gradient check and anomaly detection.
load helper

@test "--explain walks the lesson's chain rule: 4, 13; dy/dg = 3, dg/dx = 4, dy/dx = 12" {
    run tgrad 'g = x**2; y = 3*g + 1' --at 2 --explain
    [ "$status" -eq 0 ]
    [[ "$output" == *"g = pow(x, 2) = 4"* ]]
    [[ "$output" == *"y = add(t1, 1) = 13  (result)"* ]]
    [[ "$output" == *"to g: local derivative dt1/dg = 3, passes upstream x local = 3"* ]]
    [[ "$output" == *"to x: local derivative dg/dx = 4, passes upstream x local = 12"* ]]
    [[ "$output" == *"d(result)/dx = 12"* ]]
}

@test "--explain=json is JSON with forward, backward and grad" {
    run tgrad 'g = x**2; y = 3*g + 1' --at 2 --explain=json
    [ "$status" -eq 0 ]
    [[ "$output" == '{"forward":[{"name":"x","value":2},{"name":"g","op":"pow","inputs":["x","2"],"value":4}'* ]]
    [[ "$output" == *'"grad":{"x":12}}' ]]
    if [ -x /usr/bin/python3 ]; then echo "$output" | /usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)'; fi
}

@test "--graph dot renders with Graphviz when it is installed" {
    run tgrad 'g = x**2; y = 3*g + 1' --at 2 --graph dot --graph-values
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "digraph tgrad {" ]]
    [[ "$output" == *'label="g = x ** 2\nPowBackward0\nfloat32 scalar\nvalue 4\ngrad 3"'* ]]
    if ! command -v dot >/dev/null; then skip "graphviz is not installed"; fi
    tgrad 'g = x**2; y = 3*g + 1' --at 2 --graph dot | dot -Tsvg > "$TMP/g.svg"
    grep -q '<svg' "$TMP/g.svg"
}

@test "--graph dot: PyTorch's node names, constants folded, shapes and gradients on edges, big values summarised" {
    # x's and w's gradients, as the JSON result gives them (on the device)
    run -0 tgrad 'h = (x * w).tanh(); h.sum() * 2' --at x='[0.5,-1,2]' --at w=1.5
    local gw=${output##*\"w\":} gx=${output##*\"x\":}
    gw=${gw%%\}*}
    gx=${gx%%\]*}]
    run -0 tgrad 'h = (x * w).tanh(); h.sum() * 2' --at x='[0.5,-1,2]' --at w=1.5 --graph dot --graph-values
    # the constant 2 is no node of its own: it is in its op's label
    [ "$(grep -c 'shape=box' <<<"$output")" -eq 2 ]
    [[ "$output" == *'label="h = tanh(t1)\nTanhBackward0\nfloat32, shape [3]'* ]]
    [[ "$output" == *'= t2 * 2\nMulBackward0\nfloat32 scalar\nvalue '* ]]
    # an edge carries the input's shape, its local derivative (the rule
    # applied to ones: d(x*w)/dw summed to w's shape, 0.5 - 1 + 2) and what
    # it passes back: for w, its gradient
    [[ "$output" == *" -> n2 [label=\"scalar\\nlocal 1.5\\npasses $gw\"];"* ]]
    # x's edge: d(x*w)/dx = w for each element, and x's gradient
    [[ "$output" == *" -> n2 [label=\"[3]\\nlocal [1.5,1.5,1.5]\\npasses $gx\"];"* ]]
    # a big tensor is summarised by its size, never shown as a one-element tensor
    tgrad 'randn(5000)' --seed 1 --no-grad -o "$TMP/big.npy" >/dev/null
    run tgrad 'x.sum()' --at x="$TMP/big.npy" --graph dot --graph-values
    [[ "$output" == *'float32, shape [5000]\nvalue: 5000 values, shape [5000]\ngrad: 5000 values, shape [5000]"'* ]]
    [[ "$output" == *'[label="[5000]\nlocal: 5000 values, shape [5000]\npasses: 5000 values, shape [5000]"]'* ]]
}

@test "--graph json lists nodes in data-flow order with names and positions" {
    run tgrad 'g = x**2; y = 3*g + 1' --at 2 --graph json
    [[ "$output" == *'{"id":3,"name":"g","kind":"op","op":"pow","inputs":[1,2],"dtype":"float32","shape":[],"requires_grad":true,"pos":6}'* ]]
    [[ "$output" == *'"output":6}' ]]
}

@test "--check passes on every op family in float64" {
    for e in 'exp(x).sum()' 'log(x).sum()' 'sqrt(x).sum()' 'tanh(x).sum()' 'sigmoid(x).sum()' \
             '(x**y).sum()' '(x/y).sum()' 'softmax(x, 0)[0]' 'logsumexp(x, 0)' 'gelu(x).sum()' \
             '(x @ y)' 'maximum(x, y).sum()' 'x.max()' 'softplus(x).mean()'; do
        run tgrad "$e" --at x='[0.5,1.5]' --at y='[1.25,0.75]' --check
        [ "$status" -eq 0 ] || { echo "$e: $output"; return 1; }
        [[ "$output" == *'"check":{"passed":true'* ]]
    done
}

@test "--check fails (status 1) where the function is not differentiable" {
    run --separate-stderr tgrad 'relu(x)' --at 0 --check
    [ "$status" -eq 1 ]
    [[ "$output" == *'"check":{"passed":false'* ]]
    [[ "$stderr" == "tgrad: gradient check failed"* ]]
}

@test "a NaN from log at -1 is traced to log and its position" {
    run --separate-stderr tgrad 'y = 2*x; log(y)' --at -1
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":"NaN","grad":{"x":-1}}' ]
    [[ "${stderr_lines[0]}" == "tgrad: warning: anomaly: log produced NaN from finite inputs in the forward pass (at position 10)" ]]
    fails_with 3 'anomaly: log produced NaN' tgrad 'y = 2*x; log(y)' --at -1 --detect-anomaly
}

@test "an infinity made by the backward pass is traced too" {
    fails_with 3 'anomaly: the backward pass of sqrt' tgrad 'sqrt(x)' --at 0 --detect-anomaly
}
