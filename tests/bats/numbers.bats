#!/usr/bin/env bats
# numbers.bats -- numbers at the edges of int64 (issue 17, section 5):
# Python integers combine exactly, and one beyond int64 is a clean error
# (PyTorch: "Overflow when unpacking long") rather than a silent wrap;
# slices with huge steps or bounds; int64 values above 2^53 stay exact.
# (Numbers in a program that set a ',' locale: tests/unit/test_locale.c.)
load helper

N='n={"data":[0],"dtype":"int64"}'

@test "2**63 meeting a tensor is an overflow error, not a wrap" {
    fails_with 3 'integer overflow: 2 \*\* 63 is beyond int64' tgrad '(2**63 + 0*x).sum()' --at x='[1.0,2.0]'
    fails_with 3 'integer overflow: 2 \*\* 64' tgrad '(2**64 + x).sum()' --at x='[1.0]'
    fails_with 3 'integer overflow: 9223372036854775807 \+ 1 ' tgrad '9223372036854775807 + 1 + n' --at "$N"
    fails_with 3 'integer overflow: 9223372036854775807 \* 2 ' tgrad '9223372036854775807 * 2 + n' --at "$N"
    fails_with 3 'integer overflow: \(-9223372036854775807\) - 2 ' tgrad '-9223372036854775807 - 2 + n' --at "$N"
    fails_with 3 'integer overflow: 0 - \(-9223372036854775808\)' tgrad '-(-9223372036854775807 - 1) + n' --at "$N"
    fails_with 3 'integer overflow: \(-2\) \*\* 65 ' tgrad '(-2)**65 + n' --at "$N"
    fails_with 3 'integer overflow: 3037000500 \*\* 2 ' tgrad '3037000500**2 + n' --at "$N"
    fails_with 3 'does not fit in int64' tgrad '9223372036854775808 + n' --at "$N"
}

@test "Python integers up to the int64 edges are exact" {
    run -0 tgrad '2**62 + n' --at "$N" --no-grad
    [ "$output" = '{"value":[4611686018427387904]}' ]
    run -0 tgrad '-9223372036854775807 - 1 + n' --at "$N" --no-grad
    [ "$output" = '{"value":[-9223372036854775808]}' ]
    run -0 tgrad '(-2)**63 + n' --at "$N" --no-grad
    [ "$output" = '{"value":[-9223372036854775808]}' ]
    run -0 tgrad '3037000499**2 + n' --at "$N" --no-grad
    [ "$output" = '{"value":[9223372030926249001]}' ]
    # above 2^53 a double would round: -9007199254740993 became ...992
    run -0 tgrad '-9007199254740993 + n' --at "$N" --no-grad
    [ "$output" = '{"value":[-9007199254740993]}' ]
    run -0 tgrad '1**9223372036854775807 + (-1)**9223372036854775807 + 0**9223372036854775807 + n' --at "$N" --no-grad
    [ "$output" = '{"value":[0]}' ]
    # the float path of Python: 2**-1 is 0.5, 2.0**63 is fine
    run -0 tgrad '2**-1 + 2.0**63 + 0*x' --at x=1.0 --dtype float64 --no-grad
    [ "$output" = '{"value":9.223372036854776e+18}' ]
}

@test "int64 tensors wrap as PyTorch's do" {
    # torch.tensor([2**62])*4 is tensor([0]); torch.tensor([2])**63 is -2**63
    run -0 tgrad '(n + 4611686018427387904) * 4' --at "$N" --no-grad
    [ "$output" = '{"value":[0]}' ]
    run -0 tgrad '(n + 2)**63' --at "$N" --no-grad
    [ "$output" = '{"value":[-9223372036854775808]}' ]
}

@test "a slice step or bound near int64's limits" {
    # was undefined behaviour in slice_len and "negative dimension -1"
    run -0 tgrad 'x[::9223372036854775807]' --at x='[1.0,2.0,3.0]' --no-grad
    [ "$output" = '{"value":[1]}' ]
    run -0 tgrad 'x[1:9223372036854775807:9223372036854775807]' --at x='[1.0,2.0,3.0]' --no-grad
    [ "$output" = '{"value":[2]}' ]
    run -0 tgrad 'x[-9223372036854775807-1::2]' --at x='[1.0,2.0,3.0]' --no-grad
    [ "$output" = '{"value":[1,3]}' ]
    run -0 tgrad 'x[9223372036854775807:]' --at x='[1.0,2.0,3.0]' --no-grad
    [ "$output" = '{"value":[]}' ]
    run -0 tgrad 'x[:-9223372036854775807-1]' --at x='[1.0,2.0,3.0]' --no-grad
    [ "$output" = '{"value":[]}' ]
    # the gradient flows back through the one element taken
    run -0 tgrad 'x[::9223372036854775807].sum()' --at x='[1.0,2.0,3.0]'
    [ "$output" = '{"value":1,"grad":{"x":[1,0,0]}}' ]
    fails_with 3 'index -9223372036854775808 is out of bounds for dimension 0 with size 3' \
        tgrad 'x[-9223372036854775807-1]' --at x='[1.0,2.0,3.0]'
}

@test "huge sizes and dims are clean errors" {
    fails_with 3 'too many elements' tgrad 'x.expand(9223372036854775807, 3)' --at x='[1.0,2.0,3.0]'
    fails_with 3 'invalid for input of size 3' tgrad 'x.reshape(-1, 9223372036854775807)' --at x='[1.0,2.0,3.0]'
    fails_with 3 'too many elements' tgrad 'x.view(4611686018427387904, 4)' --at x='[1.0,2.0,3.0]'
    fails_with 3 'too many elements' tgrad 'zeros(4611686018427387904, 4)' --at x='[1.0]'
    fails_with 3 'too many elements' tgrad 'arange(0, 9223372036854775807)' --at x='[1.0]'
    fails_with 3 'dimension -9223372036854775808 is out of range' tgrad 'x.sum(-9223372036854775807-1)' --at x='[1.0]'
    fails_with 3 'dimension 9223372036854775807 is out of range' tgrad 'x.unsqueeze(9223372036854775807)' --at x='[1.0]'
}

@test "arange, full and clamp keep int64 values beyond 2^53 exact" {
    # through a double, arange(2**53+1, 2**53+3) had 4 elements
    run -0 tgrad 'arange(9007199254740993, 9007199254740995)' --at "$N" --no-grad
    [ "$output" = '{"value":[9007199254740993,9007199254740994]}' ]
    run -0 tgrad 'arange(9223372036854775805, 9223372036854775807)' --at "$N" --no-grad
    [ "$output" = '{"value":[9223372036854775805,9223372036854775806]}' ]
    # a span beyond INT64_MAX, as Python's range
    run -0 tgrad 'arange(-9223372036854775807, 9223372036854775807, 4611686018427387904)' --at "$N" --no-grad
    [ "$output" = '{"value":[-9223372036854775807,-4611686018427387903,1,4611686018427387905]}' ]
    run -0 tgrad 'arange(9223372036854775807, -9223372036854775807-1, -4611686018427387904)' --at "$N" --no-grad
    [ "$output" = '{"value":[9223372036854775807,4611686018427387903,-1,-4611686018427387905]}' ]
    run -0 tgrad 'arange(7, 1, -2)' --at "$N" --no-grad
    [ "$output" = '{"value":[7,5,3]}' ]
    fails_with 3 'arange: step must be non-zero' tgrad 'arange(0, 1, 0)' --at "$N"
    run -0 tgrad 'full((2,), 9223372036854775807)' --at "$N" --no-grad
    [ "$output" = '{"value":[9223372036854775807,9223372036854775807]}' ]
    # was undefined behaviour (the double 2^63 converted to int64)
    run -0 tgrad 'n.clamp(min=-9223372036854775807-1, max=9223372036854775807)' --at "$N" --no-grad
    [ "$output" = '{"value":[0]}' ]
    run -0 tgrad 'n.clamp(9223372036854775807)' --at "$N" --no-grad
    [ "$output" = '{"value":[9223372036854775807]}' ]
}
