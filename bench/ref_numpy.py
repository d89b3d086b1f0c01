"""ref_numpy.py -- the NumPy side of make bench (run with /usr/bin/python3).

  json FILE LABEL     json.loads of FILE's text (read once) + numpy.array float32
  add A B LABEL       a + b of two loaded .npy arrays
  matmul-file A B C   whole process: C = A @ B, .npy in and out
  add-file A B C      whole process: C = A + B, .npy in and out
Timings print "LABEL<TAB>SECONDS" per repetition (bench/timing.py)."""
import json
import sys

import numpy as np

import timing


def main(mode, *args):
    if mode == "json":
        with open(args[0]) as f:
            text = f.read()
        timing.run(args[1], lambda: np.array(json.loads(text), dtype=np.float32))
    elif mode == "add":
        a, b = np.load(args[0]), np.load(args[1])
        timing.run(args[2], lambda: a + b)
    elif mode == "matmul-file":
        np.save(args[2], np.load(args[0]) @ np.load(args[1]))
    elif mode == "add-file":
        np.save(args[2], np.load(args[0]) + np.load(args[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(*sys.argv[1:])
