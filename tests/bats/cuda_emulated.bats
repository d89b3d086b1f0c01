#!/usr/bin/env bats
# The cuda path without a GPU: TG_CUDA_EMULATE=1 runs the CUDA backend's
# own kernel code (kernels/tg_cuda_ops.cu, compiled for the host as well)
# over host memory, so that the dispatch to it, the plans and strides it is
# given, and its arithmetic are checked here against the CPU's results on
# random inputs.  On a GPU, tests/gpu/run.sh runs the same file with
# TG_TEST_REAL_CUDA=1: the same comparisons on the device itself.  Skipped
# where the backend is not built (no nvcc).
load helper

setup_file() {
    export TG_CUDA_LIBRARY="$BATS_TEST_DIRNAME/../../lib/libtg_cuda.so"
}

# runs CMD on the emulated device, or on the real one with TG_TEST_REAL_CUDA=1
on_cuda() {
    if [ -n "${TG_TEST_REAL_CUDA:-}" ]; then "$@"; else TG_CUDA_EMULATE=1 "$@"; fi
}

needs_backend() {
    [ -f "$TG_CUDA_LIBRARY" ] || skip "the CUDA backend is not built (no nvcc)"
    # memcheck reports glibc's loader reading the CUDA libraries' rpath (a
    # false positive in dl-load.c); check-sanitize runs these under ASan
    [ -z "${TG_UNDER_VALGRIND:-}" ] || skip "the CUDA libraries' loading trips valgrind; checked under ASan instead"
}

# same EXPR [tgrad options]: values and gradients on cpu and on the emulated
# cuda device agree to float32 tolerance, element for element
same() {
    local e=$1
    shift
    rm -rf "$TMP/cpu" "$TMP/gpu"
    tgrad "$e" --at x="$TMP/x.npy" --at y="$TMP/y.npy" --at z="$TMP/z.npy" "$@" --device cpu --out-dir "$TMP/cpu" >/dev/null
    on_cuda tgrad "$e" --at x="$TMP/x.npy" --at y="$TMP/y.npy" --at z="$TMP/z.npy" "$@" --device cuda \
        --out-dir "$TMP/gpu" >/dev/null
    for f in "$TMP"/cpu/*.npy; do
        local g="$TMP/gpu/${f##*/}" d
        d=$(tgrad 'amax(abs(a - b) / (abs(a) + 1))' --at a="$f" --at b="$g" --no-grad --dtype float64)
        [[ "$d" =~ ^\{\"value\":([-0-9.e]+)\}$ ]] || { echo "$e: ${f##*/}: $d"; return 1; }
        d=${BASH_REMATCH[1]}
        awk -v d="$d" 'BEGIN { exit !(d <= 1e-5) }' || { echo "$e: ${f##*/} differs by $d"; return 1; }
    done
}

random_inputs() {
    tgrad 'randn(3, 4)' --seed "$1" --no-grad -o "$TMP/x.npy" >/dev/null
    tgrad 'randn(4)' --seed "$(($1 + 1))" --no-grad -o "$TMP/y.npy" >/dev/null
    tgrad 'randn(3, 1)' --seed "$(($1 + 2))" --no-grad -o "$TMP/z.npy" >/dev/null
}

@test "emulated cuda: the device is there and tensors are made on it" {
    needs_backend
    on_cuda tdevice --check cuda
    run on_cuda tgrad 'sum(x * 2)' --at '[1,2]' --device cuda
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":6,"grad":{"x":[2,2]}}' ]
}

@test "emulated cuda: every elementwise op, forward and backward, matches the CPU on random inputs" {
    needs_backend
    for seed in 1 11 21; do
        random_inputs $seed
        same 'sum(exp(x) * sin(y) + cos(x) / (2 + tanh(z)) - x * y)'
        same 'sum(sigmoid(x) * relu(x - 0.1) + abs(y) * sign(x) + log1p(abs(x)) + expm1(x * 0.3) + erf(x) + softplus(x * 3))'
        same 'sum(clamp(x, min=-0.5, max=0.7) ** 2 + sqrt(abs(x) + 1) + log(abs(y) + 2) + tan(x * 0.3) - 1 / (abs(z) + 1))'
        same 'sum(maximum(x, y) * minimum(x, z) + where(x > y, x, z * 2) + x ** 3 * abs(x) ** 2.5 + abs(x) ** y)'
        same 'sum((x == y) * x + (x != z) * y + (x <= 0.5) * z + (x >= z) * 2 + (x < y) + (x > 0))'
        same 'sum((x * 2 + 1).expand(2, 3, 4) * y + x.T.reshape(12)[::2].sum())'
    done
}

@test "emulated cuda: reductions over all and over dims match the CPU" {
    needs_backend
    for seed in 2 12; do
        random_inputs $seed
        same 'sum(x.sum(dim=1, keepdim=True) * x.amax(dim=0) + x.amin(dim=1, keepdim=True) + x.mean(0) ** 2)'
        same 'sum(max(x, dim=1)) + sum(min(x, 0)) + max(x) * min(y)'
        same 'sum(softmax(x, 1) * y + log_softmax(x, 0) * z + logsumexp(x, 1, keepdim=True))'
        same 'sum(x.T.sum(1) * y) + x.permute(1, 0).amax(1).sum()'
    done
}

@test "emulated cuda: float64, products and the lesson's example" {
    needs_backend
    random_inputs 5
    same 'sum(exp(x) * sin(y) + tanh(x @ y.reshape(4, 1)) ** 2)' --dtype float64
    same 'sum(tanh(x @ y.reshape(4, 1)) ** 2 + (x.T @ z).sum())'
    run on_cuda tgrad 'x**3+2*x**2-5*x+3' --at 2 --device cuda
    [ "$output" = '{"value":9,"grad":{"x":15}}' ]
}
