#!/bin/sh
# 05-broadcasting.sh -- operations and broadcasting: elementwise operations
# with NumPy's broadcasting rules (which PyTorch follows), the alignment
# explained, a pair that does not broadcast, and the backward of
# broadcasting: each operand's gradient summed back to its own shape.
. "$(dirname "$0")/common.sh"

title "05 Operations and broadcasting"

say "Elementwise operations on equal shapes: +, and --op for the others."
run "tbroadcast '[1,2,3]' '[10,20,30]'"
run "tbroadcast '[1,2,3]' '[10,20,30]' --op mul"
run "tbroadcast '[1,2,3]' '[10,20,30]' --op div"
run "tbroadcast '[1,5,3]' '[4,2,6]' --op maximum"
run "tbroadcast '[1,5,3]' '[4,2,6]' --op lt"

say "The same in tgrad's expression language, with matrix products and reductions:"
run "tgrad 'x * y + 1' --at x='[1,2,3]' --at y='[10,20,30]' --no-grad"
run "tgrad 'a @ b' --at a='[[1,2],[3,4]]' --at b='[[5,6],[7,8]]' --no-grad"
run "tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]'"
run "tgrad 'x.sum()' --at '[[1,2],[3,4]]' --no-grad"
run "tgrad 'x.mean(dim=0)' --at '[[1,2],[3,4]]' --no-grad"

say "Broadcasting: shapes are aligned from the right; a size 1 (or a missing dimension)" \
    "is stretched.  A column (3,1) plus a row (3,) gives (3,3):"
run "tbroadcast '[[1],[2],[3]]' '[10,20,30]'"
say "A scalar stretches to anything:"
run "tbroadcast '[[1,2],[3,4]]' 100"

say "--shapes works on shapes alone, and --explain shows the alignment (* = stretched):"
run "tbroadcast --shapes 3,1 3"
run "tbroadcast --shapes 3,1 3 --explain"
run "tbroadcast --shapes 8,1,6,1 7,1,5 --explain"
run "tbroadcast '[[1],[2]]' '[10,20,30]' --explain --names x,y"

say "An incompatible pair: (2,3) and (2,) clash in the last dimension (3 and 2, neither 1)." \
    "The error names both shapes and the dimension; the exit status is 3."
fails 3 "tbroadcast '[[1,2,3],[4,5,6]]' '[10,20]'"
fails 3 "tbroadcast --shapes 2,3 2"
say "Making the row a column, (2,1), fixes it:"
run "tbroadcast '[[1,2,3],[4,5,6]]' '[[10],[20]]'"

say "--grad: the gradient of sum(result) in each operand, summed back to the operand's shape." \
    "The column [[1],[2]] was stretched over 3 columns, so each of its elements gets 3;" \
    "the row [10,20,30] over 2 rows, so each gets 2."
run "tbroadcast '[[1],[2]]' '[10,20,30]' --grad"
say "With a product, each gradient is the other operand, summed over the stretched dimension:"
run "tbroadcast '[[1],[2]]' '[10,20,30]' --op mul --grad --names x,y"
say "A scalar operand's gradient is the sum over everything:"
run "tbroadcast '[[1,2,3],[4,5,6]]' 10 --op mul --grad"
say "The same rule in tgrad: the bias b of x + b is summed over the rows."
run "tgrad '(x + b).sum()' --at x='[[1,2],[3,4]]' --at b='[10,20]'"

finish
