#!/usr/bin/env bats
# nn_ops.bats -- what the PyTorch fixtures cannot check of issue 19's ops:
# randint's seeded numbers (not PyTorch's generator), and the refusals'
# exit status and single stderr line.
load helper

@test "randint: seeded, in [low, high), int64; the same seed gives the same numbers" {
    run -0 tgrad 'randint(-3, 4, (2000,))' --seed 7 --no-grad -o "$TMP/a.npy"
    run -0 tgrad 'randint(-3, 4, size=(2000,))' --seed 7 --no-grad -o "$TMP/b.npy"
    cmp "$TMP/a.npy" "$TMP/b.npy"
    run -0 tgrad 'randint(-3, 4, (2000,))' --seed 8 --no-grad -o "$TMP/c.npy"
    ! cmp -s "$TMP/a.npy" "$TMP/c.npy"
    # every value of the range drawn, none outside it, the dtype int64
    run -0 tgrad '[amin(a), amax(a), sum(a == -3) > 200, sum(a == 3) > 200, a.float().mean().abs() < 0.2]' \
        --at a="$TMP/a.npy" --no-grad
    [ "$output" = '{"value":[-3,3,1,1,1]}' ]
    run -0 tgrad 'randint(5, (2, 3))' --seed 1 --no-grad
    [[ "$output" =~ ^\{\"value\":\[\[[0-4],[0-4],[0-4]\],\[[0-4],[0-4],[0-4]\]\]\}$ ]]
}

@test "issue 19's ops refuse bad arguments: status 3, one line on stderr, nothing on stdout" {
    fails_with 3 '^tgrad: randint: high \(2\) must be greater than low \(2\)' tgrad 'randint(2, 2, (3,))' --no-grad
    fails_with 3 '^tgrad: randint: size must be a tuple' tgrad 'randint(0, 2, 3)' --no-grad
    fails_with 3 '^tgrad: linspace: number of steps must be non-negative' tgrad 'linspace(0, 1, -2)' --no-grad
    fails_with 3 '^tgrad: item\(\): a Tensor with 2 elements cannot be converted to Scalar' tgrad 'x.item()' --at '[1,2]'
    fails_with 3 '^tgrad: flatten\(\) has invalid args: start_dim cannot come after end_dim' tgrad 'x.flatten(1, 0)' --at '[[1]]'
    fails_with 3 '^tgrad: repeat: the number of repeat dims \(1\)' tgrad 'x.repeat(2)' --at '[[1]]'
    fails_with 3 '^tgrad: repeat: repeats must be non-negative' tgrad 'x.repeat(-1)' --at '[1]'
    fails_with 3 '^tgrad: norm: p = 0.5 is not supported' tgrad 'x.norm(0.5)' --at '[1]'
    fails_with 3 '^tgrad: var: give unbiased or correction, not both' tgrad 'x.var(0, True, correction=0)' --at '[1, 2]'
    fails_with 3 '^tgrad: std: std and var only support floating point' tgrad 'x.long().std()' --at '[1, 2]'
    fails_with 3 '^tgrad: silu is not supported for int64 tensors' tgrad 'silu(x.long())' --at '[1]'
    fails_with 3 '^tgrad: leaky_relu: negative_slope must be a number' tgrad 'leaky_relu(x, [1, 2])' --at '[1]'
    fails_with 3 '^tgrad: cumsum: dimension 1 is out of range' tgrad 'x.cumsum(1)' --at '[1]'
    fails_with 3 '^tgrad: prod: dimension 2 is out of range' tgrad 'x.prod(2)' --at '[[1]]'
    fails_with 3 '^tgrad: .*too large|^tgrad: .*limit' tgrad 'x.repeat(4611686018427387904, 4)' --at '[1]'
}

@test "second derivatives at the points PyTorch decides: elu's at 0 is 0, prod's with a zero" {
    run -0 tgrad 'elu(x, 0.5).sum()' --at '[1.5,0,-2]' --hessian --dtype float64
    [[ "$output" == '{"value":1.067667'*',"hessian":{"x":{"x":[[0,0,0],[0,0,0],[0,0,0.0676676'*']]}}}' ]]
    run -0 tgrad 'x.prod()' --at '[1.5,0,-2]' --hessian --dtype float64
    [ "$output" = '{"value":-0.0,"hessian":{"x":{"x":[[0,-2,0],[-2,0,1.5],[0,1.5,0]]}}}' ]
    run -0 tgrad 'x.var()' --at '[1,2,4]' --hessian --dtype float64
    [[ "$output" == *'"hessian":{"x":{"x":[[0.666666666666666'*',-0.333333333333333'* ]]
}
