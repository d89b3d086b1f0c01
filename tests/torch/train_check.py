#!/usr/bin/python3
"""train_check.py FIXTURES TGRAD TMPDIR -- runs tgrad --train once per
case of FIXTURES (gen_train.py's lines) and compares the trained
parameters and the final loss with torch.optim's: float32 cases within
rtol 1e-4 + atol 1e-5 (float32 tolerance over 200 steps), float64 within
rtol 1e-9; the parameters of the "exact" cases (an exact gradient: the
optimizer's rounding alone) bit for bit.  Prints each mismatch; exit 1 if
any.  Needs no torch."""
import json
import os
import struct
import subprocess
import sys


def f32(x):
    """x rounded to float32 (tgrad prints float32's shortest digits)"""
    return struct.unpack("f", struct.pack("f", x))[0]


def flat(v):
    if isinstance(v, list):
        return [x for e in v for x in flat(e)]
    return [v]


def close(a, b, f64, exact=False):
    if exact:
        return a == b if f64 else f32(a) == f32(b)
    rtol, atol = (1e-9, 1e-12) if f64 else (1e-4, 1e-5)
    return abs(a - b) <= atol + rtol * abs(b)


def main():
    fixtures, tgrad, tmp = sys.argv[1:4]
    bad = 0
    with open(fixtures) as f:
        cases = [json.loads(line) for line in f if line.strip()]
    for c in cases:
        path = os.path.join(tmp, c["name"] + ".json")
        with open(path, "w") as f:
            json.dump(c["inputs"], f)
        r = subprocess.run([tgrad, c["expr"], "--inputs", path] + c["args"], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{c['name']}: status {r.returncode}: {r.stderr.strip()}")
            bad += 1
            continue
        got = json.loads(r.stdout)
        f64 = "float64" in c["args"]
        pairs = [("loss", [got["loss"]], [c["loss"]])]
        pairs += [(k, flat(got["params"][k]), flat(v)) for k, v in c["params"].items()]
        for what, g, w in pairs:
            exact = c.get("exact") and what != "loss"
            if len(g) != len(w) or not all(close(a, b, f64, exact) for a, b in zip(g, w)):
                print(f"{c['name']}: {what}: tgrad {g[:6]} torch {w[:6]}")
                bad += 1
    print(f"{len(cases)} cases, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
