#!/bin/sh
# 04-accumulation.sh -- the lesson's point that gradients accumulate: every
# backward() adds into x.grad until it is zeroed (x.grad.zero_(),
# optimizer.zero_grad()).
#
# A Python program shows it as the lesson writes it: x.grad grows with
# each backward() until x.grad.zero_() (tgrad -f, examples/lesson).  An
# expression, on the other hand, is one run: it starts from zero
# gradients (zero_grad() then backward()).  For expressions, accumulation
# is shown the way autograd defines it: x.grad after loss1.backward() and
# loss2.backward() equals the gradient of loss1 + loss2 after a single
# backward(); and tgrad --accumulate runs several expressions' backward
# passes one after another without zeroing in between.  (The C library
# keeps x.grad between passes as PyTorch does: see examples/c/grad.c,
# where a second tg_backward doubles it and tg_zero_grad clears it.)
. "$(dirname "$0")/common.sh"

title "04 Gradient accumulation and zeroing"

say "The lesson's code, run as it is: loss1 = x**2 at x = 3 leaves x.grad = 6, loss2 = 3*x adds 3," \
    "zero_() clears it, and two backward passes of x**2 (retain_graph=True) leave 12."
run "cat \"\$examples_dir/lesson/05-accumulation.py\""
run "tgrad -f \"\$examples_dir/lesson/05-accumulation.py\""

say "As expressions: two losses of the same x = 3: loss1 = x**2 (gradient 2x = 6) and loss2 = 3*x (gradient 3)."
run "tgrad 'x**2' --at 3"
run "tgrad '3*x' --at 3"

say "In PyTorch, loss1.backward(); loss2.backward() leaves x.grad = 6 + 3 = 9:" \
    "the gradients accumulate.  That is the gradient of their sum after one backward pass:"
run "tgrad 'loss1 = x**2; loss2 = 3*x; loss1 + loss2' --at 3"

say "tgrad --accumulate runs loss1.backward(); loss2.backward() as written: one backward pass" \
    "per expression, each adding into x.grad, and prints both values and the accumulated x.grad:"
run "tgrad 'x**2' '3*x' --at 3 --accumulate"
say "Without --accumulate, each expression starts from zero gradients (zero_grad() before each):"
run "tgrad 'x**2' '3*x' --at 3"

say "The classic bug: the same loss backpropagated three times without zero_grad() triples x.grad."
run "tgrad 'x**2' 'x**2' 'x**2' --at 3 --accumulate"

say "--explain shows the accumulation inside one pass: x receives 3 from loss2 and 6 from loss1," \
    "and adds them."
run "tgrad 'loss1 = x**2; loss2 = 3*x; loss1 + loss2' --at 3 --explain"

say "The same holds within one expression: x is used twice in x*x, and the two paths add up (x + x = 6)."
run "tgrad 'x*x' --at 3 --explain"

say "zero_grad: every tgrad run starts with x.grad = None.  Running the same backward again" \
    "in a new run gives 6 again, not 12 as a second backward() without zero_grad() would."
run "tgrad 'x**2' --at 3"
run "tgrad 'x**2' --at 3"

say "--lines evaluates one point per input line in one process: every line is an independent" \
    "forward and backward pass from zero gradients, so three equal lines give three equal answers."
run "printf '{\"x\":3}\n{\"x\":3}\n{\"x\":3}\n' | tgrad 'x**2' --lines"

say "A weight w shared by every line (given with --at) is zeroed between lines too:" \
    "its gradient on each line is that line's x alone (1, 2, 3)."
run "printf '{\"x\":1}\n{\"x\":2}\n{\"x\":3}\n' | tgrad 'w*x' --at w=10 --lines"

say "Without zero_grad, w.grad would accumulate over the passes: 1, then 1+2, then 1+2+3."
run "printf '{\"x\":1}\n{\"x\":2}\n{\"x\":3}\n' | tgrad 'w*x' --at w=10 --lines | sed 's/.*\"w\":\([0-9]*\).*/\1/' | awk '{ s += \$1; print \"w.grad after backward pass\", NR, \"without zero_grad:\", s }'"

say "Accumulating over mini-batches is what one backward of the summed loss gives: w gets 6."
run "tgrad '(w*x).sum()' --at w=10 --at x='[1,2,3]'"
say "and --batch (vmap) gives each point its own gradient and the shared w their sum:"
run "tgrad 'w*x' --at w=10 --at x='[1,2,3]' --batch=x"

finish
