#!/usr/bin/env bats
# tmatmul: torch.matmul's rules, transposes, gradients, files.
load helper

@test "the first example of tmatmul(1)" {
    run tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]'
    [ "$output" = '[[19,22],[43,50]]' ]
}

@test "1-D rules: dot, promotion on either side" {
    run tmatmul '[1,2,3]' '[4,5,6]'
    [ "$output" = '32' ]
    run tmatmul '[1,2]' '[[1,2],[3,4]]'
    [ "$output" = '[7,10]' ]
    run tmatmul '[[1,2],[3,4]]' '[1,2]'
    [ "$output" = '[5,11]' ]
}

@test "batched with broadcast batch dims" {
    run tmatmul '[[[1,0],[0,1]],[[2,0],[0,2]]]' '[[1,2],[3,4]]'
    [ "$output" = '[[[1,2],[3,4]],[[2,4],[6,8]]]' ]
}

@test "empty dimensions: [0,3] @ [3,4] is [0,4]; a zero inner dim gives zeros" {
    run tmatmul '{"data":[],"shape":[0,3]}' '{"data":[1,2,3,4,5,6,7,8,9,10,11,12],"shape":[3,4]}'
    [ "$output" = '[]' ]
    run tmatmul '{"data":[],"shape":[2,0]}' '{"data":[],"shape":[0,2]}'
    [ "$output" = '[[0,0],[0,0]]' ]
}

@test "int64 operands use an exact loop; mixed dtypes promote" {
    run tmatmul '{"data":[[3037000499]],"dtype":"int64"}' '{"data":[[3]],"dtype":"int64"}'
    [ "$output" = '[[9111001497]]' ]
    run tmatmul '{"data":[[1,2]],"dtype":"int64"}' '[[0.5],[0.25]]'
    [ "$output" = '[[1]]' ]
}

@test "--ta and --tb transpose the operands" {
    run tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --ta
    [ "$output" = '[[26,30],[38,44]]' ]
    run tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --tb
    [ "$output" = '[[17,23],[39,53]]' ]
}

@test "--grad: dA = G @ B^T, dB = A^T @ G, reduced over broadcast batch dims" {
    run tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --grad
    [ "$output" = '{"value":[[19,22],[43,50]],"grad":{"a":[[11,15],[11,15]],"b":[[4,4],[6,6]]}}' ]
    run tmatmul '[[[1,0],[0,1]],[[2,0],[0,2]]]' '[[1,2],[3,4]]' --grad
    [ "$output" = '{"value":[[[1,2],[3,4]],[[2,4],[6,8]]],"grad":{"a":[[[3,7],[3,7]],[[3,7],[3,7]]],"b":[[3,3],[3,3]]}}' ]
    run tmatmul '[[1,2]]' '[[3],[4]]' --grad-output '[[2]]'
    [ "$output" = '{"value":[[11]],"grad":{"a":[[6,8]],"b":[[2],[4]]}}' ]
}

@test ".npy in and out" {
    run tmatmul '[[1,2],[3,4]]' '[[1,0],[0,1]]' -o "$TMP/c.npy"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    run tmatmul "$TMP/c.npy" "$TMP/c.npy"
    [ "$output" = '[[7,10],[15,22]]' ]
}

@test "--time reports the product on standard error; --threads is accepted" {
    run --separate-stderr tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --time --threads 1
    [ "$output" = '[[19,22],[43,50]]' ]
    [[ "$stderr" == *"GFLOP/s, 1 BLAS thread"* ]]
}

@test "--repeat N computes the product N times: the same result and gradients, --time the fastest" {
    run --separate-stderr tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --time --repeat 4
    [ "$output" = '[[19,22],[43,50]]' ]
    [[ "$stderr" == *"(the fastest of 4), "*"GFLOP/s"* ]]
    [ "$(tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --grad --repeat 3)" = "$(tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --grad)" ]
    fails_with 2 "--repeat expects an integer from 1 to 1000" tmatmul '[1]' '[1]' --repeat 0
    fails_with 2 "--repeat expects an integer" tmatmul '[1]' '[1]' --repeat x
}

@test "a shape mismatch names both shapes and the dimensions" {
    fails_with 3 'matmul: shapes \[2,3\] and \[2,3\] cannot be multiplied' tmatmul '[[1,2,3],[4,5,6]]' '[[1,2,3],[4,5,6]]'
    fails_with 3 'both arguments need at least 1 dimension' tmatmul 2 3
}

@test "usage errors" {
    fails_with 2 "expected two operands" tmatmul '[1]'
    fails_with 2 "--threads expects an integer" tmatmul '[1]' '[1]' --threads 0
}

@test "--dtype float64 reads JSON numbers in float64" {
    run tmatmul '[[0.1,0.2]]' '[[1],[1]]' --dtype float64
    [ "$output" = '[[0.30000000000000004]]' ]
}

@test "TG_DEVICE sets the default device; cuda without a GPU is status 4" {
    if tdevice --check cuda 2>/dev/null; then skip "a GPU is present"; fi
    TG_DEVICE=cpu run tmatmul '[2]' '[3]'
    [ "$output" = '6' ]
    TG_DEVICE=cuda fails_with 4 "device cuda is not available" tmatmul '[2]' '[3]'
}
