#!/bin/sh
# 07-derivative.sh -- the lesson's exercise: f(x) = x**3 + 2*x**2 - 5*x + 3
# at x = 2.  By hand: f(2) = 8 + 8 - 10 + 3 = 9, f'(x) = 3x**2 + 4x - 5, so
# f'(2) = 12 + 8 - 5 = 15.  Then the higher derivatives (--order), and the
# gradient checked against finite differences (--check).
. "$(dirname "$0")/common.sh"

title "07 The derivative exercise: x**3 + 2*x**2 - 5*x + 3 at 2"

say "The value 9 and the derivative 15:"
run "tgrad 'x**3+2*x**2-5*x+3' --at 2"

say "The chain rule behind it, term by term (3x**2 = 12, 2*2x = 8, -5):"
run "tgrad 'x**3+2*x**2-5*x+3' --at 2 --explain"

say "Higher derivatives, by differentiating the backward pass again (create_graph=True):" \
    "f'(2) = 15, f''(x) = 6x + 4 = 16, f'''(x) = 6, and every later one is 0."
run "tgrad 'x**3+2*x**2-5*x+3' --at 2 --order 1"
run "tgrad 'x**3+2*x**2-5*x+3' --at 2 --order 2"
run "tgrad 'x**3+2*x**2-5*x+3' --at 2 --order 3"
run "tgrad 'x**3+2*x**2-5*x+3' --at 2 --order 4"

say "The derivative at several points at once, as vmap(grad(f)): f' is -5, 2, 15, 34 at 0, 1, 2, 3."
run "tgrad 'x**3+2*x**2-5*x+3' --at '[0,1,2,3]' --batch"

say "--check compares the gradient with central finite differences in float64 (torch.autograd.gradcheck);" \
    "the exit status says whether it passed.  (The error it measures depends on the machine's arithmetic.)"
run "tgrad 'x**3+2*x**2-5*x+3' --at 2 --check"
run "tgrad 'x**3+2*x**2-5*x+3' --at 2 --check >/dev/null && echo 'gradient check passed'"

say "A wrong gradient fails the check (status 1): detach hides x**2's dependence on one of its factors."
fails 1 "tgrad 'x.detach()*x' --at 2 --check >/dev/null"

finish
