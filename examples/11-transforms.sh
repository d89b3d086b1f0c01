#!/bin/sh
# 11-transforms.sh -- the function transforms of torch.func: grad (the
# gradient as a function), vmap (--batch: many points in one vectorised
# pass), jacrev (--jacobian), jacfwd (--jacobian=fwd), jvp (--jvp) and
# hessian (--hessian), and higher derivatives (--order).
. "$(dirname "$0")/common.sh"

title "11 Function transforms: grad, vmap, jacrev, jacfwd, jvp, hessian"

say "grad(f)(x): the usual output.  f(x) = x**3 + 2*x**2 - 5*x + 3 at 2: f = 9, f' = 15."
run "tgrad 'x**3+2*x**2-5*x+3' --at 2"

say "vmap(grad(f)) over a batch of points: dimension 0 of x indexes the points and the" \
    "expression is written for one point (--batch), all in one vectorised pass."
run "tgrad 'x**3+2*x**2-5*x+3' --at '[0,1,2,3]' --batch"
say "The same point by point, one run per line (--lines), gives the same numbers:"
run "printf '{\"x\":0}\n{\"x\":1}\n{\"x\":2}\n{\"x\":3}\n' | tgrad 'x**3+2*x**2-5*x+3' --lines"

say "vmap with in_dims: --batch=x batches x only; w is shared by every point and gets the" \
    "sum of their gradients.  Each point is a row of x; (x*w).sum() is that row's dot with w."
run "tgrad '(x*w).sum()' --at x='[[1,2],[3,4]]' --at w='[10,20]' --batch=x"
say "Reductions inside the batched expression count a point's dimensions (dim=0 is a point's first):"
run "tgrad 'x.sum(dim=0)' --at '[[1,2],[3,4],[5,6]]' --batch"

say "jacrev(f): the whole Jacobian of a vector function, shaped result + input (one backward" \
    "pass per element of the result).  d(x**2)/dx is diagonal, with 2x on the diagonal."
run "tgrad 'x**2' --at '[1,2,3]' --jacobian"
say "For y = x @ W (a linear layer), dy/dx is W transposed, and dy/dW has shape [3] + [2,3]:"
run "tgrad 'x @ w' --at x='[1,2]' --at w='[[1,2,3],[4,5,6]]' --jacobian"
say "Several variables, and one the result does not depend on (zeros):"
run "tgrad 'x*y' --at x='[1,2]' --at y=3 --at z=5 --jacobian"

say "jacfwd(f): the same Jacobian by forward mode (--jacobian=fwd), one Jacobian-vector product" \
    "per element of the input: the better choice when inputs are few and results many."
run "tgrad 'x**2' --at '[1,2,3]' --jacobian=fwd"
say "jvp(f, (x,), (v,)): the Jacobian times a tangent v, without forming the Jacobian (a directional" \
    "derivative).  For y = x @ W and v = [1,0], it is the first row of W:"
run "tgrad 'x @ w' --at x='[1,2]' --at w='[[1,2,3],[4,5,6]]' --jvp x='[1,0]'"
say "The lesson's f with the tangent 1 gives f'(2) = 15 by forward mode:"
run "tgrad 'x**3+2*x**2-5*x+3' --at 2 --jvp x=1"

say "hessian(f): the second derivatives of a scalar function, one block per pair of variables." \
    "f = x*y**2: d2f/dx2 = 0, d2f/dxdy = 2y = 6, d2f/dy2 = 2x = 4 at (2, 3)."
run "tgrad 'x*y**2' --at x=2 --at y=3 --hessian"
say "sum(x**3) has a diagonal Hessian 6x:"
run "tgrad '(x**3).sum()' --at '[1,2]' --hessian"
say "The lesson's f: f''(2) = 6*2 + 4 = 16."
run "tgrad 'x**3+2*x**2-5*x+3' --at 2 --hessian"

say "Higher orders of a scalar function of one variable, exact, by differentiating the" \
    "backward pass again and again (here the third derivative of x**4, 24x = 48 at 2):"
run "tgrad 'x**4' --at 2 --order 3"

say "The Hessian needs a scalar result:"
fails 3 "tgrad 'x**2' --at '[1,2]' --hessian"

finish
