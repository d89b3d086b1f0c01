#!/usr/bin/env bats
# nn_layers.bats -- cat, stack, gather, advanced indexing, the losses, dropout
# and one_hot at the tool: bad inputs (status 3, nothing on stdout, the
# message first), the language's strings and lists of tensors, and
# dropout's seeding.  Values and gradients are compared with PyTorch by
# tests/torch/fixtures.jsonl (unit test torch_fixtures_match_pytorch).
load helper

I2='{"data":[2,0],"dtype":"int64"}'
X='[[1,2,3],[1,1,1]]'

@test "losses: targets out of range, wrong shapes and dtypes, bad options: status 3" {
    fails_with 3 'Target 3 is out of bounds' tgrad 'F.cross_entropy(x, t)' --at x="$X" --at t='{"data":[0,3],"dtype":"int64"}'
    fails_with 3 'Target -1 is out of bounds' tgrad 'F.nll_loss(x, t)' --at x="$X" --at t='{"data":[0,-1],"dtype":"int64"}'
    fails_with 3 'batch_size \(2\) to match target batch_size \(3\)' tgrad 'F.cross_entropy(x, t)' --at x="$X" \
        --at t='{"data":[0,1,2],"dtype":"int64"}'
    fails_with 3 'expected scalar type Long' tgrad 'F.cross_entropy(x, t)' --at x="$X" --at t='[0,1]'
    fails_with 3 'weight tensor should be defined either for all 3 classes' \
        tgrad 'F.cross_entropy(x, t, weight=torch.tensor([1., 2]))' --at x="$X" --at t="$I2"
    fails_with 3 'avg is not a valid value for reduction' tgrad "F.mse_loss(x, x, reduction='avg')" --at x='[1]'
    fails_with 3 'label_smoothing must be between 0.0 and 1.0' \
        tgrad 'F.cross_entropy(x, t, label_smoothing=1.5)' --at x="$X" --at t="$I2"
    fails_with 3 'all elements of input should be between 0 and 1' tgrad 'F.binary_cross_entropy(x, y)' \
        --at x='[0.5,1.5]' --at y='[0,1]'
    fails_with 3 'Target size \[3\] must be the same as input size \[2\]' \
        tgrad 'F.binary_cross_entropy_with_logits(x, y)' --at x='[0.5,1.5]' --at y='[0,1,1]'
    fails_with 3 'dropout probability has to be between 0 and 1' tgrad 'F.dropout(x, 1.5)' --at x='[1]'
    fails_with 3 'Class values must be smaller than num_classes' tgrad 'F.one_hot(t, 2)' --at t="$I2"
    fails_with 3 'one_hot is only applicable to index tensor' tgrad 'F.one_hot(x)' --at x='[1]'
}

@test "gather, indexing, cat, stack: out of range, float indices, masks and sizes that do not fit: status 3" {
    fails_with 3 'index 3 is out of bounds for dimension 1 with size 3' \
        tgrad 'x.gather(1, [[0], [3]])' --at x="$X"
    fails_with 3 'Expected dtype int64 for index' tgrad 'x.gather(1, [[0.], [1]])' --at x="$X"
    fails_with 3 'same number of dimensions' tgrad 'x.gather(1, [0, 1])' --at x="$X"
    fails_with 3 'index 2 is out of bounds for dimension 0 with size 2' tgrad 'x[[0, 2]]' --at x="$X"
    fails_with 3 'index -4 is out of bounds for dimension 1 with size 3' tgrad 'x[:, [0, -4]]' --at x="$X"
    fails_with 3 'tensors used as indices must be long, byte or bool' tgrad 'x[[0., 1]]' --at x="$X"
    fails_with 3 'shape of the mask \[3\] at index 0 does not match' tgrad 'x[[True, False, True]]' --at x="$X"
    fails_with 3 'tensor indices apart or with a mask are not supported' tgrad 'x[[0, 1], x[0] > 1]' --at x="$X"
    fails_with 3 'shapes \[2\] and \[3\] cannot be broadcast' tgrad 'x[[0, 1], [0, 1, 2]]' --at x="$X"
    fails_with 3 'Sizes of tensors must match except in dimension 0' tgrad 'torch.cat([x, y])' --at x="$X" --at y='[[1,2]]'
    fails_with 3 'zero-dimensional tensor \(at position 0\) cannot be concatenated' tgrad 'cat([x, x])' --at x=1
    fails_with 3 'stack expects each tensor to be equal size' tgrad 'stack([x, y])' --at x='[1]' --at y='[1,2]'
    fails_with 3 'must be a list or tuple of tensors' tgrad 'cat(x)' --at x='[1]'
}

@test "strings are keyword values only; F.f and torch.nn.functional.f are f; a variable F still works" {
    fails_with 3 'unterminated string' tgrad "F.mse_loss(x, x, reduction='sum)" --at x='[1]'
    fails_with 3 "argument 'reduction' must be a string" tgrad 'F.mse_loss(x, x, reduction=1)' --at x='[1]'
    fails_with 3 "argument 'dim' takes a tensor or a number, not a string" tgrad "x.sum(dim='a')" --at x='[1]'
    run tgrad "torch.nn.functional.mse_loss(x, y, reduction=\"sum\")" --at x='[1,2]' --at y='[0,0]'
    [ "$status" -eq 0 ] && [ "$output" = '{"value":5,"grad":{"x":[2,4],"y":[-2,-4]}}' ]
    run tgrad 'F * 2 + F.T.sum()' --at F='[1,2]' --no-grad
    [ "$status" -eq 0 ] && [ "$output" = '{"value":[5,7]}' ]
    run tgrad 'F.linear(x, w, None)' --at x='[[1,2]]' --at w='[[1,1]]' --no-grad
    [ "$status" -eq 0 ] && [ "$output" = '{"value":[[3]]}' ]
    # None is no variable: the one --at VALUE is x's
    run tgrad 'F.linear(x[None], x, None)' --at '[1,2]' --no-grad
    [ "$status" -eq 0 ] && [ "$output" = '{"value":[5]}' ]
}

@test "dropout: the same mask for the same --seed, scaled by 1/(1-p); off under --no-grad" {
    run tgrad 'F.dropout(x, 0.5)' --at x='[1,1,1,1,1,1,1,1]' --seed 7 --grad-output '[1,1,1,1,1,1,1,1]'
    [ "$status" -eq 0 ]
    first=$output
    [[ "$output" =~ \"value\":\[([02,]+)\] ]] # every element 0 or 2
    run tgrad 'F.dropout(x, 0.5)' --at x='[1,1,1,1,1,1,1,1]' --seed 7 --grad-output '[1,1,1,1,1,1,1,1]'
    [ "$output" = "$first" ]
    run tgrad 'F.dropout(x, 0.5)' --at x='[1,2]' --no-grad
    [ "$output" = '{"value":[1,2]}' ]
}
