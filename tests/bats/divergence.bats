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
