#!/bin/sh
# run.sh -- the checks that need a GPU, in one run (the device tool lends a
# machine with one to some sessions).  Builds with CUDA, lists the devices,
# compares tmatmul's products and every op, reduction and gradient, eager
# and compiled (tests/bats/cuda_emulated.bats on the real device: cat,
# gathers, indexing, scans, one_hot and their index errors too) with the
# CPU's on random inputs, times the elementwise autograd workloads at 10^8
# elements against PyTorch on the same card, eager and compiled, and the
# moves and scans against the CPU, runs the whole test suite with cuda as the
# default device (its Bats files side by side: every tool run starts CUDA),
# and measures the card (tdevice --bench).
set -eu
cd "$(dirname "$0")/../.."
# the packages tests/gpu/prepare.sh downloaded (the GPU machine is offline),
# unpacked under a folder of their own, not over the image's /
if [ -d .gpu-deps ]; then
    export TG_DEPS_PREFIX=/tmp/gpu-deps
    for f in .gpu-deps/*.deb; do dpkg -x "$f" "$TG_DEPS_PREFIX"; done
    L=$TG_DEPS_PREFIX/usr/lib/x86_64-linux-gnu
    export LD_LIBRARY_PATH="$L:$L/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export PATH="$TG_DEPS_PREFIX/usr/bin:$PATH"
fi
PY=${PY:-python3} # the image's python3 has PyTorch and NumPy
# the backend, for the programs outside bin/ (build/bench/bench_autograd)
export TG_CUDA_LIBRARY="$PWD/lib/libtg_cuda.so"
make -s -j"$(nproc)" all build/tests/unit_tests
echo "== devices"
./bin/tdevice --pretty
./bin/tdevice --check cuda
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "== tmatmul on cuda against the CPU"
fail=0
for shape in "64 64 64" "257 129 65" "1024 1024 1024" "3 1 5"; do
    set -- $shape
    for dt in float32 float64; do
        "$PY" - "$T" "$1" "$2" "$3" "$dt" <<'PY'
import sys, numpy as np
t, m, k, n, dt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rng = np.random.default_rng(m * 7 + n)
np.save(t + "/a.npy", rng.standard_normal((4, m, k)).astype(dt))
np.save(t + "/b.npy", rng.standard_normal((k, n)).astype(dt))
PY
        ./bin/tmatmul "$T/a.npy" "$T/b.npy" -o "$T/cpu.npy" --device cpu
        ./bin/tmatmul "$T/a.npy" "$T/b.npy" -o "$T/gpu.npy" --device cuda
        "$PY" - "$T" "$dt" <<'PY' || fail=1
import sys, numpy as np
t, dt = sys.argv[1], sys.argv[2]
c, g = np.load(t + "/cpu.npy"), np.load(t + "/gpu.npy")
rtol = 1e-4 if dt == "float32" else 1e-10
err = np.max(np.abs(c - g) / (np.abs(c) + 1))
print(f"{dt} {c.shape}: largest relative difference {err:.3g}", "ok" if err <= rtol else "FAIL")
sys.exit(0 if err <= rtol else 1)
PY
    done
done
echo "== gradients through matmul on cuda"
./bin/tgrad '(x @ w).tanh().sum()' --at x='[[1,2],[3,4]]' --at w='[[0.5,-1],[0.25,1]]' --device cuda
./bin/tgrad '(x @ w).tanh().sum()' --at x='[[1,2],[3,4]]' --at w='[[0.5,-1],[0.25,1]]' --device cpu
echo "== timing: 8192x8192 float32 product on cuda (the CPU's would take too long), then PyTorch's"
"$PY" -c "import numpy as np; np.save('$T/a.npy', np.random.rand(8192, 8192).astype('float32'))"
./bin/tmatmul "$T/a.npy" "$T/a.npy" -o "$T/c.npy" --device cuda --time --repeat 5
echo "-- PyTorch's product on the same card (cuBLAS alone, TF32 off as in ours; the fastest of 5)"
"$PY" - "$T" <<'PY' || true
import sys, time, numpy as np, torch
torch.backends.cuda.matmul.allow_tf32 = False
a = torch.from_numpy(np.load(sys.argv[1] + "/a.npy")).cuda()
best = None
for _ in range(5):
    torch.cuda.synchronize(); t0 = time.perf_counter(); c = a @ a; torch.cuda.synchronize()
    t = time.perf_counter() - t0
    best = t if best is None or t < best else best
print(f"torch: 8192x8192x8192 float32 in {best:.6f} s, {2 * 8192**3 / best / 1e9:.2f} GFLOP/s")
PY
echo "== measurements"
./bin/tdevice --bench --pretty
echo "== every op, reduction and gradient on cuda against the CPU (random inputs)"
TG_TEST_REAL_CUDA=1 bats tests/bats/cuda_emulated.bats || fail=1
echo "== elementwise value+grad of sum(tanh(x)**2), 10^8 float32 elements (seconds per repetition)"
make -s build/bench/bench_autograd
for e in 'sum(tanh(x)**2)' 'sum(x**3+2*x**2-5*x+3)'; do
    echo "-- $e: ours on cuda, then PyTorch on cuda"
    BENCH_DEVICE=cuda BENCH_MIN_REPS=5 build/bench/bench_autograd grad "$e" 1e8 | sort -k2 -n | head -3
    BENCH_DEVICE=cuda BENCH_MIN_REPS=5 "$PY" bench/ref_torch.py grad "$e" 1e8 2>&1 | sort -k2 -n | head -3 || true
done
echo "== the same compiled (--compile: one generated kernel, NVRTC), 10^8 float32 elements"
echo "   (it reads x and writes its gradient: 8 bytes an element; GB/s against tdevice's device_copy_GBps)"
for e in 'sum(tanh(x)**2)' 'sum(x**3+2*x**2-5*x+3)'; do
    echo "-- $e: ours compiled on cuda (seconds per repetition, then GB/s of the best)"
    BENCH_DEVICE=cuda BENCH_MIN_REPS=10 build/bench/bench_autograd cgrad "$e" 1e8 | sort -k2 -n | head -3 |
        awk '{ print } NR == 1 && $2 + 0 > 0 { printf "   %.0f GB/s\n", 8e8 / $2 / 1e9 }' || fail=1
done
echo "(the device-to-device copy bandwidth to compare with is in tdevice --bench above)"
echo "== moves, gathers and scans (kernels/tg_cuda_move.cu), value+grad at 10^7 float32 elements:"
echo "   cuda, then the CPU (seconds per repetition; the last four: one long line, a cumsum and a prod"
echo "   in chunks, then the gradients of a gather and an index, a scatter_add of 10^7 terms into"
echo "   1000 places and an index_add into 10^6, bucketed by place on the device)"
for e in 'sum(cat([x, x * 2], 0) * 3)' 'sum(x.reshape(-1, 1000).cumsum(1) * x.reshape(-1, 1000))' \
         'sum(x.reshape(-1, 1000).prod(1))' 'sum(x[x > 0] * 2)' 'sum(x.reshape(-1, 1000)[:, 1:500] ** 2)' \
         'cross_entropy(x.reshape(-1, 10), argmax(x.reshape(-1, 10), 1))' \
         'sum(gather(x.reshape(-1, 100), 1, argmax(x.reshape(-1, 100), 1, keepdim=True)) * 2)' \
         'sum(x.cumsum(0) * x)' 'x.prod()' 'sum(gather(x[:1000], 0, clamp(abs(x) * 300, max=999).long()) * x)' \
         'sum(x[:1000000][clamp(abs(x) * 300000, max=999999).long()] * x)'; do
    echo "-- $e"
    for d in cuda cpu; do
        BENCH_DEVICE=$d BENCH_MIN_REPS=3 build/bench/bench_autograd grad "$e" 1e7 | sort -k2 -n | head -1 ||
            { fail=1; echo "FAILED on $d"; }
    done
done
echo "== 10^6 elements through files: cuda against the CPU"
./bin/tgrad 'randn(1000000)' --seed 1 --no-grad -o "$T/x6.npy" >/dev/null
for d in cuda cpu; do
    ./bin/tgrad 'sum(tanh(x)**2)' --at "$T/x6.npy" --device $d --out-dir "$T/$d" >/dev/null
done
./bin/tgrad 'amax(abs(a - b) / (abs(a) + 1))' --at a="$T/cpu/grad_x.npy" --at b="$T/cuda/grad_x.npy" --no-grad
echo "== the whole test suite with cuda as the default device (TG_DEVICE=cuda)"
# (the CPU's is CI's.)  About 1800 tool runs, each starting CUDA (a few
# tenths of a second on its own): the Bats files run side by side, one
# process each; their logs, one after another, go to $OUT/suite.log when
# the device tool runs this (it brings back 8 files at most)
LOGS=$T/suite
mkdir -p "$LOGS"
start=$(date +%s)
TG_DEVICE=cuda ./build/tests/unit_tests >"$LOGS/unit.log" 2>&1 || { fail=1; echo "unit tests FAILED"; }
tail -1 "$LOGS/unit.log"
for f in tests/bats/*.bats; do
    n=${f##*/}
    (TG_DEVICE=cuda bats "$f" >"$LOGS/${n%.bats}.log" 2>&1 || echo "$n" >>"$LOGS/failed") &
done
wait
for f in "$LOGS"/*.log; do
    [ "${f##*/}" != unit.log ] || continue
    printf '%s: %s passed of %s\n' "${f##*/}" "$(grep -c '^ok' "$f")" "$(sed -n 's/^1[.][.]//p' "$f")"
done
if [ -s "$LOGS/failed" ]; then
    fail=1
    grep -h -A8 '^not ok' "$LOGS"/*.log | head -80
fi
echo "(the suite took $(($(date +%s) - start)) s)"
[ -z "${OUT:-}" ] || cat "$LOGS"/*.log >"$OUT/suite.log"
exit $fail
