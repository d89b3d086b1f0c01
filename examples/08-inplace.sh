#!/bin/sh
# 08-inplace.sh -- in-place pitfalls, as PyTorch has them: x += 1 on a leaf
# that requires grad is refused; in-place on an intermediate is fine; and
# changing in place a value that the backward pass needs is caught when the
# backward pass gets there (the tensors' version counters).
. "$(dirname "$0")/common.sh"

title "08 In-place operations and their pitfalls"

say "x += 1 on a leaf that requires grad is refused (status 3), as PyTorch refuses it:" \
    "autograd would lose the value x had when the graph was recorded."
fails 3 "tgrad 'x += 1' --at 2"
fails 3 "tgrad 'x *= 2; x.sum()' --at '[1,2]'"
say "So is an in-place update of a view of such a leaf:"
fails 3 "tgrad 'v = x[0]; v += 1; x.sum()' --at '[1,2]'"

say "The fixes: write it out of place (y = x + 1), or update under no_grad (--no-grad)."
run "tgrad 'y = x + 1; y * y' --at 2"
run "tgrad 'x += 1; x * x' --at 2 --no-grad"

say "In place on an intermediate works: y = 2x; y += 1 is 2x + 1, whose derivative is 2."
run "tgrad 'y = x * 2; y += 1; y' --at 2"
say "y *= 3 on y = x**2: 3x**2 = 12 at 2, derivative 6x = 12."
run "tgrad 'y = x**2; y *= 3; y' --at 2"
say "Every name bound to the tensor sees the change (z is y):"
run "tgrad 'y = x * 2; z = y; y += 1; z' --at 2"
say "In place on a view of an intermediate writes into it (PyTorch's CopySlices):" \
    "y = 2x, then y[0] += 10 through the view v; y's gradient is unchanged, 2 per element."
run "tgrad 'y = x * 2; v = y[0]; v += 10; y' --at '[1,2]' --grad-output '[1,1]'"
say "and the view's gradient flows through the update: v *= 10 makes y[0] = 20x[0]."
run "tgrad 'y = x * 2; v = y[0]; v *= 10; y.sum()' --at '[1,2]'"

say "Modifying a value the backward pass needs is caught.  exp's derivative is its own output," \
    "so y = x.exp(); y += 1 leaves exp nothing to differentiate with: the error names the op" \
    "and the versions (0 when saved, 1 now), as PyTorch's \"modified by an inplace operation\"."
fails 3 "tgrad 'y = x.exp(); y += 1; y' --at 0"
fails 3 "tgrad 'y = x.sigmoid(); y *= 2; y' --at 0"
say "Whereas y = x * 2; y += 1 is fine: the product's backward needs the constant 2, not y."
run "tgrad 'y = x * 2; y += 1; y' --at 0"
say "The fix, again: out of place.  y = y + 1 makes a new tensor and leaves exp's output alone."
run "tgrad 'y = x.exp(); y = y + 1; y' --at 0"
say "Without a backward pass (--no-grad) nothing is saved, so nothing can be invalidated:"
run "tgrad 'y = x.exp(); y += 1; y' --at 0 --no-grad"

finish
