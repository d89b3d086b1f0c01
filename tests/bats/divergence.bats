#!/usr/bin/env bats
# Issue #18: no silent divergence from PyTorch on the command line.  The
# values and errors of expressions are pinned against PyTorch itself in
# tests/torch/fixtures.jsonl ("divergence" cases); these are the tools' side.
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
