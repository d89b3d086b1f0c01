#!/bin/sh
# demo.sh -- the main job on built-in examples: the seed lesson's derivative
# exercise, the chain rule, broadcasting, a matrix product with gradients.
set -e
cd "$(dirname "$0")/.."
run() {
    printf '$ %s\n' "$*"
    "$@"
    echo
}
PATH="$PWD/bin:$PATH"
echo "# The derivative of x**3 + 2x**2 - 5x + 3 at x = 2 (value 9, slope 15)"
run tgrad 'x**3+2*x**2-5*x+3' --at 2
echo "# The chain rule with a named intermediate: g = x**2 = 4, y = 3g + 1 = 13, dy/dx = 3 * 2x = 12"
run tgrad 'g = x**2; y = 3*g + 1' --at 2
echo "# Gradients of a small network's loss, summed back through broadcasting"
run tgrad '(x @ w + b).tanh().sum()' --at x='[[1,2],[3,4]]' --at w='[[0.5,-1],[0.25,1]]' --at b='[0.1,-0.1]'
echo "# Broadcasting: (3,1) + (3,) gives (3,3)"
run tbroadcast '[[1],[2],[3]]' '[10,20,30]'
run tbroadcast --shapes 3,1 3 --explain
echo "# A matrix product and the gradients of its sum: dA = G @ B^T, dB = A^T @ G"
run tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --grad
echo "# The devices here"
run tdevice
