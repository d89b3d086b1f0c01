#!/usr/bin/env bats
# tbroadcast: NumPy's broadcasting, shapes alone, explanations, gradients.
load helper

@test "the lesson's example: (3,1) + (3,) gives (3,3)" {
    run tbroadcast '[[1],[2],[3]]' '[10,20,30]'
    [ "$status" -eq 0 ]
    [ "$output" = '[[11,21,31],[12,22,32],[13,23,33]]' ]
}

@test "three operands, and 0-D operands" {
    run tbroadcast '[1,2]' '[[10],[20]]' 100
    [ "$output" = '[[111,112],[121,122]]' ]
    run tbroadcast 2 3
    [ "$output" = '5' ]
}

@test "operations and PyTorch's type promotion" {
    run tbroadcast '[1,2,3]' '[2]' --op mul
    [ "$output" = '[2,4,6]' ]
    run tbroadcast '{"data":[1,2,3],"dtype":"int64"}' '{"data":[2],"dtype":"int64"}' --op div
    [ "$output" = '[0.5,1,1.5]' ]
    run tbroadcast '{"data":[7],"dtype":"int64"}' '[0.5]' --op mul
    [ "$output" = '[3.5]' ]
    run tbroadcast '[1,5]' '[3,3]' --op maximum
    [ "$output" = '[3,5]' ]
    run tbroadcast '[1,5]' '[[3],[1]]' --op gt
    [ "$output" = '[[false,true],[false,true]]' ]
    run tbroadcast '[2,3]' '[3,2]' --op pow
    [ "$output" = '[8,9]' ]
}

@test "empty dimensions broadcast too" {
    run tbroadcast '{"data":[],"shape":[0,3]}' '[1,2,3]'
    [ "$output" = '[]' ]
    run tbroadcast --shapes 2,0,3 1,3
    [ "$output" = '[2,0,3]' ]
}

@test "shapes alone" {
    run tbroadcast --shapes 3,1 3
    [ "$output" = '[3,3]' ]
    run tbroadcast --shapes '[8,1,6,1]' '[7,1,5]'
    [ "$output" = '[8,7,6,5]' ]
    run tbroadcast --shapes '' 4
    [ "$output" = '[4]' ]
}

@test "an incompatible pair names both shapes and the dimension" {
    fails_with 3 'shapes \[2\] and \[3\] cannot be broadcast: dimension -1' tbroadcast '[1,2]' '[1,2,3]'
    fails_with 3 'shapes \[2,3\] and \[4,3\] cannot be broadcast: dimension -2' tbroadcast --shapes 2,3 4,3
}

@test "--explain shows the alignment with stretched dims marked" {
    run tbroadcast --shapes 3,1 3 --explain
    [ "$status" -eq 0 ]
    [ "${lines[1]}" = "a          [3,1]                 3       1*" ]
    [ "${lines[2]}" = "b          [3]                   1*      3 " ]
    [ "${lines[3]}" = "result     [3,3]                 3       3 " ]
}

@test "--grad reduces each gradient to its operand's shape" {
    run tbroadcast '[[1],[2],[3]]' '[10,20,30]' --grad
    [ "$output" = '{"value":[[11,21,31],[12,22,32],[13,23,33]],"grad":{"a":[[3],[3],[3]],"b":[3,3,3]}}' ]
    run tbroadcast '[[1],[2]]' '[10,20]' --op mul --grad --names x,w
    [ "$output" = '{"value":[[10,20],[20,40]],"grad":{"x":[[30],[30]],"w":[3,3]}}' ]
    run tbroadcast '[1,2]' 3 --grad --grad-output '[1,2]' --op mul
    [ "$output" = '{"value":[3,6],"grad":{"a":[3,6],"b":5}}' ]
}

@test "-o writes the result instead of standard output" {
    run tbroadcast '[1,2]' '[3,4]' -o "$TMP/r.npy"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    run tbroadcast "$TMP/r.npy" 0
    [ "$output" = '[4,6]' ]
}

@test "usage errors" {
    fails_with 2 "unknown --op 'plus'" tbroadcast 1 2 --op plus
    fails_with 2 "compares exactly two operands" tbroadcast 1 2 3 --op lt
    fails_with 2 "expected 1 to 26 operands" tbroadcast
    fails_with 2 "--names gives 1 names for 2 operands" tbroadcast 1 2 --names x
}

@test "--names must be identifiers" {
    fails_with 2 "cannot start a name" tbroadcast 5 6 --names 1,b
    fails_with 2 "a name is empty" tbroadcast 5 6 --names ,b
}

@test "an argument that parses as JSON is inline JSON, even where a file has that name" {
    cd "$TMP"
    echo '[8,9]' > 2
    run tbroadcast 2 0
    [ "$output" = '2' ]
    echo '[8,9]' > '[7'
    run tbroadcast '[7' 0
    [ "$output" = '[8,9]' ]
}
