#!/bin/sh
# 01-tensors.sh -- the lesson's first section: tensors of each rank (0-D to
# 4-D) and dtype (float32 by default, float64, int64, bool), the JSON object
# form, and shapes.  tbroadcast with a single operand prints a tensor back
# as it was read; tgrad --no-grad evaluates an expression without gradients.
. "$(dirname "$0")/common.sh"

title "01 Tensors: ranks, dtypes, the object form, shapes"

say "A 0-D tensor (a scalar, torch.tensor(3.5)): a bare JSON number; its shape is []."
run "tbroadcast 3.5"
run "tgrad 'x.shape' --at 3.5 --no-grad"

say "A 1-D tensor (a vector) and a 2-D tensor (a matrix): nested JSON arrays."
run "tbroadcast '[1,2,3]'"
run "tbroadcast '[[1,2,3],[4,5,6]]'"
run "tgrad 'x.shape' --at '[[1,2,3],[4,5,6]]' --no-grad"

say "3-D and 4-D tensors: a batch of 2 matrices, and a batch of 2 one-channel 2x2 images (N, C, H, W)."
run "tbroadcast '[[[1,2],[3,4]],[[5,6],[7,8]]]'"
run "tgrad 'x.shape' --at '[[[1,2],[3,4]],[[5,6],[7,8]]]' --no-grad"
run "tbroadcast '[[[[1,2],[3,4]]],[[[5,6],[7,8]]]]'"
run "tgrad 'x.ndim' --at '[[[[1,2],[3,4]]],[[[5,6],[7,8]]]]' --no-grad"
run "tgrad 'zeros(2, 1, 2, 2).shape' --no-grad"

say "The array must be rectangular:"
fails 3 "tbroadcast '[[1,2],[3]]'"

say "dtypes: JSON numbers are float32 by default, as in PyTorch (16777217 is not a float32)." \
    "tgrad --graph json lists a tensor's dtype and shape (and requires_grad, off under --no-grad)."
run "tbroadcast '[0.1, 16777217]'"
run "tgrad x --at '[0.1, 16777217]' --no-grad --graph json"

say "float64: the object form's \"dtype\", or --dtype for every JSON number."
run "tbroadcast '{\"data\":[0.1, 16777217],\"dtype\":\"float64\"}'"
run "tgrad x --at '[0.1, 16777217]' --dtype float64 --no-grad --graph json"

say "int64 holds exact integers only; bool holds true and false."
run "tbroadcast '{\"data\":[3, 1e2, 9223372036854775807],\"dtype\":\"int64\"}'"
fails 3 "tbroadcast '{\"data\":[1.5],\"dtype\":\"int64\"}'"
run "tgrad x --at '{\"data\":[1,2,3],\"dtype\":\"int64\"}' --no-grad --graph json"
run "tbroadcast '[true, false]'"
run "tgrad x --at '[true, false]' --no-grad --graph json"

say "Type promotion as in PyTorch: int64 with a float gives float32, division gives a float," \
    "and the sum of a bool tensor counts the trues (int64)."
run "tbroadcast '{\"data\":[1,2],\"dtype\":\"int64\"}' 0.5"
run "tbroadcast 7 2 --op div --dtype int64"
run "tgrad 'x.sum()' --at '[true, false, true]' --no-grad"

say "The object form: data (nested or flat), an optional shape, dtype and requires_grad."
run "tbroadcast '{\"data\":[1,2,3,4,5,6],\"shape\":[2,3]}'"
run "tbroadcast '{\"data\":[[1,2],[3,4]],\"shape\":[4],\"dtype\":\"float64\"}'"
run "tgrad 'x * c' --at x=2 --at c='{\"data\":3,\"requires_grad\":false}'"
fails 3 "tbroadcast '{\"data\":[1,2],\"shape\":[3]}'"

say "Shapes: reshape and view (-1 is inferred), .T, unsqueeze and squeeze, flatten."
run "tgrad 'x.reshape(3, 2)' --at '[[1,2,3],[4,5,6]]' --no-grad"
run "tgrad 'x.view(-1)' --at '[[1,2,3],[4,5,6]]' --no-grad"
run "tgrad 'x.flatten().shape' --at '[[[1,2],[3,4]],[[5,6],[7,8]]]' --no-grad"
run "tgrad 'x.T' --at '[[1,2,3],[4,5,6]]' --no-grad"
run "tgrad 'x.unsqueeze(0).shape' --at '[[1,2,3],[4,5,6]]' --no-grad"
run "tgrad 'x.unsqueeze(0).squeeze().shape' --at '[[1,2,3],[4,5,6]]' --no-grad"
fails 3 "tgrad 'x.reshape(4, 2)' --at '[[1,2,3],[4,5,6]]' --no-grad"

say "Indexing and slicing, with Python's rules."
run "tgrad 'x[0]' --at '[[1,2,3],[4,5,6]]' --no-grad"
run "tgrad 'x[:, 1]' --at '[[1,2,3],[4,5,6]]' --no-grad"
run "tgrad 'x[1, -1]' --at '[[1,2,3],[4,5,6]]' --no-grad"
run "tgrad 'x[:, ::2]' --at '[[1,2,3],[4,5,6]]' --no-grad"

say "Creating tensors: zeros, ones, arange, eye, full, and rand from a seeded generator."
run "tgrad 'ones(2, 3)' --no-grad"
run "tgrad 'arange(5)' --no-grad"
run "tgrad 'arange(0, 1, 0.25)' --no-grad"
run "tgrad 'eye(3)' --no-grad"
run "tgrad 'full((2, 2), 7)' --no-grad"
run "tgrad 'rand(2, 3)' --seed 0 --no-grad"

finish
