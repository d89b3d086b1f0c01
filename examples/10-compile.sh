#!/bin/sh
# 10-compile.sh -- compiled evaluation (torch.compile): --compile fuses an
# elementwise program, forward and backward, and runs it block by block in
# cache on every core.  The numbers are the eager ones: checked here on a
# tensor of 10^6 elements by comparing the outputs byte for byte.
. "$(dirname "$0")/common.sh"

title "10 Compiled evaluation: the same numbers as eager"

say "A 1000 x 1000 input (10^6 elements) made by broadcasting: a column of 1000 values" \
    "plus a row of 1000 values, written as .npy.  The values are small integers (-3 to 3)," \
    "so that every sum below is exact in float32 and the output is the same on every machine."
run "awk 'BEGIN { printf \"[\"; for (i = 0; i < 1000; i++) printf \"%s[%d]\", (i ? \",\" : \"\"), i % 3 - 1; print \"]\" }' > col.json"
run "awk 'BEGIN { printf \"[\"; for (i = 0; i < 1000; i++) printf \"%s%d\", (i ? \",\" : \"\"), i % 5 - 2; print \"]\" }' > row.json"
run "tbroadcast col.json row.json -o x.npy"
run "tgrad x --at x.npy --no-grad --graph json"

say "The lesson's f summed over all 10^6 points: eager, then compiled.  The outputs hold the sum" \
    "and the 10^6 elements of the gradient; cmp finds them identical."
run "tgrad '(x**3 + 2*x**2 - 5*x + 3).sum()' --at x.npy > eager.json"
run "tgrad '(x**3 + 2*x**2 - 5*x + 3).sum()' --at x.npy --compile > compiled.json"
run "cmp eager.json compiled.json && echo identical"
run "cut -c 1-40 eager.json compiled.json"
run "cksum < compiled.json"

say "Transcendental functions too: the gradients are identical element for element.  A sum of" \
    "inexact terms may differ in its last digit, since the compiled sum adds its blocks' partial" \
    "sums in block order; so only the gradients are compared (cut drops the value), and only the" \
    "comparison is shown (the digits depend on the machine's vector math library)."
run "tgrad '(x.tanh() * x + x.exp()).sum()' --at x.npy | cut -d , -f 2- > eager-grad.json"
run "tgrad '(x.tanh() * x + x.exp()).sum()' --at x.npy --compile | cut -d , -f 2- > compiled-grad.json"
run "cmp eager-grad.json compiled-grad.json && echo 'identical gradients'"

say "(A result without the final sum is compared the same way: give its upstream gradient with" \
    "--grad-output, a .npy of 10^6 elements, and write its value with -o FILE.npy for cmp.)"

say "A program that is not elementwise (a matrix product) runs as usual under --compile:"
run "tgrad '(x @ w).sum()' --at x='[[1,2],[3,4]]' --at w='[[5],[6]]'"
run "tgrad '(x @ w).sum()' --at x='[[1,2],[3,4]]' --at w='[[5],[6]]' --compile"

finish
