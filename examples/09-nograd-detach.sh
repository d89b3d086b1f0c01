#!/bin/sh
# 09-nograd-detach.sh -- turning autograd off: --no-grad evaluates without
# recording a graph (with torch.no_grad():), and detach() cuts one tensor
# out of the graph so that no gradient flows through it.
. "$(dirname "$0")/common.sh"

title "09 No-grad mode and detach()"

say "--no-grad: the value only, as under torch.no_grad() (inference): no graph, no grad key."
run "tgrad 'x**2' --at '[1,2,3]' --no-grad"
run "tgrad '(x @ w + b).relu()' --at x='[[1,2],[3,4]]' --at w='[[1],[-1]]' --at b=1.5 --no-grad"

say "With gradients, the graph has an op node pow between x and the result;" \
    "under --no-grad nothing is recorded and the result is a lone constant node."
run "tgrad 'x**2' --at 3 --graph dot"
run "tgrad 'x**2' --at 3 --no-grad --graph dot"

say "--no-grad also lifts the in-place restriction on leaves (see 08-inplace.sh):"
run "tgrad 'x += 1; x' --at 2 --no-grad"
fails 3 "tgrad 'x += 1; x' --at 2"

say "detach(): the same values, cut from the graph.  x * x.detach() is x**2 in value," \
    "but only one factor carries the gradient: 3, not 6."
run "tgrad 'x * x.detach()' --at 3"
run "tgrad 'x * x' --at 3"
say "x.data is the same as x.detach():"
run "tgrad 'x.data * x' --at 3"

say "The detached factor shows up as a constant in the graph:"
run "tgrad 'x * x.detach()' --at 3 --graph dot"

say "Detaching an intermediate stops the gradient along that path only:" \
    "a = 2x; a + a.detach() has value 4x but gradient 2 per element, not 4."
run "tgrad 'a = x * 2; (a + a.detach()).sum()' --at '[1,2]'"

say "Freezing a part of a model: a variable used only through detach() gets a zero gradient."
run "tgrad 'w * x.detach()' --at x=3 --at w=2"
say "To leave it out of the output instead, say which variables to differentiate with --wrt," \
    "or give it with \"requires_grad\": false:"
run "tgrad 'w * x' --at x=3 --at w=2 --wrt w"
run "tgrad 'w * x' --at x='{\"data\":3,\"requires_grad\":false}' --at w=2"

finish
