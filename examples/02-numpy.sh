#!/bin/sh
# 02-numpy.sh -- NumPy interop through .npy files (torch.from_numpy and
# .numpy() in the lesson): NumPy writes arrays, the tools read them, write
# their results as .npy, and NumPy reads those back.
#
# NumPy is used when `/usr/bin/python3 -c 'import numpy'` works (another
# interpreter: EXAMPLES_PYTHON=/path/to/python3).  Without it the tools
# write the inputs themselves (tbroadcast -o, tmatmul -o) and the script
# says so; the rest is the same.
. "$(dirname "$0")/common.sh"
PY=${EXAMPLES_PYTHON:-/usr/bin/python3}

title "02 NumPy interop: .npy files in and out"

if "$PY" -c 'import numpy' >/dev/null 2>&1; then
    say "NumPy writes two arrays: a, 2x3 float64 (NumPy's default float), and b, 3x2 float32."
    run "$PY -c 'import numpy as np
np.save(\"a.npy\", np.arange(6.0).reshape(2, 3))
np.save(\"b.npy\", np.array([[1, 0], [0, 1], [0.5, 0.5]], dtype=np.float32))'"
    numpy=yes
else
    say "NumPy cannot be imported here, so the tools write the two arrays instead:" \
        "-o FILE.npy writes NumPy's format (a is 2x3 float64, b is 3x2 float32)."
    run "tbroadcast '{\"data\":[[0,1,2],[3,4,5]],\"dtype\":\"float64\"}' -o a.npy"
    run "tmatmul '[[1,0],[0,1],[0.5,0.5]]' '[[1,0],[0,1]]' -o b.npy"
    numpy=no
fi

say "The tools read .npy files wherever they take a tensor, whatever the file's name."
run "tbroadcast a.npy"
run "tbroadcast b.npy"

say "The dtype is kept, as torch.from_numpy keeps it: a stays float64."
run "tgrad x --at a.npy --no-grad --graph json"

say "Results written back with -o: a product (float64 @ float32 is promoted to float64," \
    "where torch.matmul would refuse the mix), a broadcast sum, and a reduction from tgrad."
run "tmatmul a.npy b.npy -o c.npy"
run "tbroadcast a.npy '[10,20,30]' -o d.npy"
run "tgrad 'x.sum(dim=0)' --at a.npy --no-grad -o s.npy"
say "Gradients too: --out-dir writes the value and each variable's gradient as .npy files."
run "tgrad '(x * x).sum()' --at x=a.npy --out-dir g"
run "ls . g"

say "A .npy header as the tools write it (version 1.0, C order, padded to 64 bytes):"
run "head -c 128 c.npy | tail -c +11 | sed 's/ *\$//'"

say "The files read back by the tools:"
run "tbroadcast c.npy"
run "tbroadcast g/grad_x.npy"
run "tgrad 'x @ y' --at x=a.npy --at y=b.npy --no-grad"

if [ "$numpy" = yes ]; then
    say "NumPy reads the results back, and agrees with its own computation."
    run "$PY -c 'import numpy as np
for name in \"c.npy\", \"d.npy\", \"g/grad_x.npy\":
    a = np.load(name)
    print(name, a.dtype, a.shape, a.tolist())'"
    run "$PY -c 'import numpy as np
a, b = np.load(\"a.npy\"), np.load(\"b.npy\")
print(\"a @ b:\", np.array_equal(np.load(\"c.npy\"), a @ b))
print(\"a + [10, 20, 30]:\", np.array_equal(np.load(\"d.npy\"), a + [10, 20, 30]))
print(\"a.sum(axis=0):\", np.array_equal(np.load(\"s.npy\"), a.sum(axis=0)))
print(\"d(sum(a*a))/da = 2a:\", np.array_equal(np.load(\"g/grad_x.npy\"), 2 * a))'"

    say "Other NumPy dtypes: int32 is widened to int64, bool is kept, Fortran order is reordered;" \
        "unsigned integers (and half floats, complex, strings) are refused with status 3."
    run "$PY -c 'import numpy as np
np.save(\"i.npy\", np.arange(3, dtype=np.int32))
np.save(\"m.npy\", np.array([True, False]))
np.save(\"f.npy\", np.asfortranarray(np.arange(6.0).reshape(2, 3)))
np.save(\"u.npy\", np.arange(3, dtype=np.uint8))'"
    run "tbroadcast i.npy -o i64.npy && $PY -c 'import numpy as np; print(np.load(\"i64.npy\").dtype)'"
    run "tbroadcast m.npy"
    run "tbroadcast f.npy"
    fails 3 "tbroadcast u.npy"
else
    say "NumPy would read these files with numpy.load(\"c.npy\"); here the tools read them back:" \
        "int64 and bool tensors go through .npy too."
    run "tbroadcast '{\"data\":[1,2,3],\"dtype\":\"int64\"}' -o i64.npy && tbroadcast i64.npy"
    run "tbroadcast '[true,false]' -o m.npy && tbroadcast m.npy"
fi

finish
