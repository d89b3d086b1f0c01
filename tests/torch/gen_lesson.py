#!/usr/bin/python3
"""gen_lesson.py -- the expected output of the lesson's programs.

Runs each examples/lesson/*.py with PyTorch (1.13 here), in that folder,
and writes what it prints to NAME.out; a program that raises gets its
exception's message in NAME.err instead (tests/bats/lesson.bats checks that
tgrad -f NAME.py prints the same, byte for byte, or fails with status 3 and
that message).

PyTorch 1.13 has torch.func under the name functorch: the programs import
it as torch.func, as PyTorch 2 names it, and this script provides the
alias.

Usage: /usr/bin/python3 tests/torch/gen_lesson.py
"""
import contextlib
import glob
import io
import os
import runpy
import sys

import torch

try:
    import torch.func  # noqa: F401  (PyTorch 2)
except ImportError:
    import functorch
    sys.modules["torch.func"] = functorch
    torch.func = functorch

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "lesson")
os.chdir(here)
for path in sorted(glob.glob("*.py")):
    base = path[:-3]
    out = io.StringIO()
    error = None
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(path, run_name="__main__")
        except Exception as e:  # the lesson's deliberate errors
            error = str(e)
    for stale in (base + ".out", base + ".err"):
        if os.path.exists(stale):
            os.remove(stale)
    if error is None:
        with open(base + ".out", "w") as f:
            f.write(out.getvalue())
    else:
        with open(base + ".err", "w") as f:
            f.write(error + "\n")
    print(path, "error" if error else "ok", file=sys.stderr)
