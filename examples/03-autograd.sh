#!/bin/sh
# 03-autograd.sh -- autograd and the chain rule: requires_grad, y.backward()
# and x.grad as one tgrad run, the chain rule step by step (--explain), the
# graph autograd records (--graph), several variables.
. "$(dirname "$0")/common.sh"

title "03 Autograd: requires_grad, backward, the chain rule"

say "x = torch.tensor(3.0, requires_grad=True); y = x**2; y.backward(); x.grad is 2x = 6." \
    "tgrad prints y's value and x.grad as one JSON object."
run "tgrad 'x**2' --at 3"

say "The chain rule: g = x**2, y = 3*g + 1.  At x = 2: g = 4, y = 13," \
    "dy/dx = dy/dg * dg/dx = 3 * 2x = 12."
run "tgrad 'g = x**2; y = 3*g + 1' --at 2"

say "--explain walks the chain rule node by node: each op passes upstream x local derivative on."
run "tgrad 'g = x**2; y = 3*g + 1' --at 2 --explain"

say "The graph autograd recorded (y.grad_fn and its next_functions), for Graphviz's dot:"
run "tgrad 'g = x**2; y = 3*g + 1' --at 2 --graph dot"

say "requires_grad: every floating-point variable is differentiated (requires_grad=True)," \
    "unless its object form says \"requires_grad\": false; --graph json shows the flag."
run "tgrad 'x.sum()' --at '[1.5, 2]' --graph json"
run "tgrad 'x * c' --at x=2 --at c='{\"data\":3,\"requires_grad\":false}'"

say "Integer tensors cannot require gradients, as in PyTorch: left out silently, refused when asked for."
run "tgrad 'x * n' --at x=2.5 --at n='{\"data\":3,\"dtype\":\"int64\"}'"
fails 3 "tgrad 'x * n' --at x=2.5 --at n='{\"data\":3,\"dtype\":\"int64\",\"requires_grad\":true}'"

say "Several variables: each gets its partial derivative.  d(w*x + b)/dw = x, /dx = w, /db = 1."
run "tgrad 'w*x + b' --at x=2 --at w=3 --at b=1"
say "--wrt picks the ones to differentiate (the others are constants):"
run "tgrad 'w*x + b' --at x=2 --at w=3 --at b=1 --wrt w,b"

say "A mean squared error of a line w*x + b through the points (1,2), (2,4), (3,6):" \
    "the gradients in w and b that gradient descent would follow."
run "tgrad '((w*x + b - t)**2).mean()' --at x='[1,2,3]' --at t='[2,4,6]' --at w=1 --at b=0 --wrt w,b"

say "Named inputs can come from a JSON object (a file, or - for standard input);" \
    "at w = 2 the line fits the points: the loss and its gradients are 0."
run "echo '{\"x\": [1,2,3], \"t\": [2,4,6], \"w\": 2, \"b\": 0}' | tgrad '((w*x + b - t)**2).mean()' --inputs - --wrt w,b"

say "backward() needs a single number; for a vector y, y.backward(gradient=v) is --grad-output v."
fails 3 "tgrad 'x**2' --at '[1,2,3]'"
run "tgrad 'x**2' --at '[1,2,3]' --grad-output '[1,1,1]'"
run "tgrad 'x**2' --at '[1,2,3]' --grad-output '[1,0,0.5]'"

finish
