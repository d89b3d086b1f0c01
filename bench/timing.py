"""timing.py -- the repetition loop of the Python references, the same as
bench.h's: untimed calls, at least BENCH_WARMUP and more until
BENCH_WARMUP_TIME seconds are spent, then at least BENCH_MIN_REPS timed ones
and more until BENCH_MIN_TIME seconds are spent, at most BENCH_MAX_REPS; one
line "LABEL<TAB>SECONDS" per repetition."""
import os
import resource
import sys
import time


def num(name, dflt):
    s = os.environ.get(name)
    return float(s) if s else dflt


def run(label, f):
    warm, warm_time, i, w0 = int(num("BENCH_WARMUP", 2)), num("BENCH_WARMUP_TIME", 0.2), 0, time.perf_counter()
    while i < warm or (time.perf_counter() - w0 < warm_time and i < 1000):
        f()
        i += 1
    minr, maxr = int(num("BENCH_MIN_REPS", 3)), int(num("BENCH_MAX_REPS", 100))
    mint, total, r = num("BENCH_MIN_TIME", 0.3), 0.0, 0
    while r < maxr and (r < minr or total < mint):
        t0 = time.perf_counter()
        f()
        dt = time.perf_counter() - t0
        total, r = total + dt, r + 1
        print(f"{label}\t{dt:.9f}")
    sys.stdout.flush()


def count(s):
    """'1e6' or '1000000'"""
    return int(float(s) + 0.5)


def rss_now_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def rss_peak_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
