#!/bin/sh
# 10-compile.sh -- compiled evaluation (torch.compile): --compile fuses an
# elementwise program, forward and backward, into one loop generated as C
# and compiled once, and runs it block by block in cache on every core.  The numbers are the eager ones: checked here on a
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

say "The lesson's f summed over all 10^6 points, eager and then compiled.  --out-dir writes" \
    "the value and each gradient as .npy files (large tensors need not pass through JSON)."
run "tgrad '(x**3 + 2*x**2 - 5*x + 3).sum()' --at x.npy --out-dir eager"
say "The compiled loop is kept in a cache folder, \$TG_CACHE_DIR (by default ~/.cache/tgrad);" \
    "here one of this example's own:"
run 'export TG_CACHE_DIR=$PWD/cache'
run "tgrad '(x**3 + 2*x**2 - 5*x + 3).sum()' --at x.npy --out-dir compiled --compile"
say "The program's forward and backward pass became one loop, generated as C and compiled by" \
    "the system's C compiler (cc, or \$TG_CC) the first time; later runs only load it.  The" \
    "folder holds the object and its source (the hash names the program; masked here):"
run "ls cache | sed 's/-[0-9a-f]*[.]/-HASH./'"
run "grep -c 'for (int64_t j' cache/*.c"
say "Without a C compiler (or with TG_JIT=0) the same blocks run op by op through the usual" \
    "kernels, with the same numbers."
say "cmp finds the values and the 10^6 elements of the gradients identical, byte for byte:"
run "cmp eager/value.npy compiled/value.npy && cmp eager/grad_x.npy compiled/grad_x.npy && echo identical"
run "tbroadcast compiled/value.npy"
run "cksum < compiled/grad_x.npy"

say "Without a final sum the result has 10^6 elements: its upstream gradient is given as a" \
    "tensor (here x itself: y.backward(gradient=x)), and the value is compared as well."
run "tgrad 'x*x*x - 4*x' --at x.npy --grad-output x.npy --out-dir eager"
run "tgrad 'x*x*x - 4*x' --at x.npy --grad-output x.npy --out-dir compiled --compile"
run "cmp eager/value.npy compiled/value.npy && cmp eager/grad_x.npy compiled/grad_x.npy && echo identical"

say "Transcendental functions too, element for element (their digits depend on the machine's" \
    "vector math library, so only the comparison is shown).  Only a sum of inexact terms may" \
    "differ, in its last digit: the compiled sum adds its blocks' partial sums in block order."
run "tgrad 'x.tanh() * x + x.exp()' --at x.npy --grad-output x.npy --out-dir eager"
run "tgrad 'x.tanh() * x + x.exp()' --at x.npy --grad-output x.npy --out-dir compiled --compile"
run "cmp eager/value.npy compiled/value.npy && cmp eager/grad_x.npy compiled/grad_x.npy && echo identical"

say "A program that is not elementwise (a matrix product) runs as usual under --compile:"
run "tgrad '(x @ w).sum()' --at x='[[1,2],[3,4]]' --at w='[[5],[6]]'"
run "tgrad '(x @ w).sum()' --at x='[[1,2],[3,4]]' --at w='[[5],[6]]' --compile"

finish
