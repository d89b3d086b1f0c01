#!/usr/bin/env bats
# about 29 s: run_bats.sh starts the longest first
# The cuda path without a GPU: TG_CUDA_EMULATE=1 runs the CUDA backend's
# own kernel code (kernels/tg_cuda_ops.cu, compiled for the host as well)
# over host memory, so that the dispatch to it, the plans and strides it is
# given, and its arithmetic are checked here against the CPU's results on
# random inputs.  On a GPU, tests/gpu/run.sh runs the same file with
# TG_TEST_REAL_CUDA=1: the same comparisons on the device itself.  Skipped
# where the backend is not built (no nvcc).
# not under check-sanitize: the emulated kernels are nvcc's host code, not sanitized (about 100 s under ASan)
# not under check-cuda-emulated: it sets the emulation itself, test by test; make test runs it
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
        same 'sum(max(x, dim=1).values) + sum(min(x, 0)[0]) + max(x) * min(y)'
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

# same_compiled EXPR [tgrad options]: --compile on cuda (one generated
# kernel, fused_cuda.c) against the CPU's eager values and gradients, for
# the variables x and y of $TMP/cx.npy and $TMP/cy.npy (float32), or with
# CD=d of $TMP/dx.npy and $TMP/dy.npy (float64)
same_compiled() {
    local e=$1
    shift
    rm -rf "$TMP/cpu" "$TMP/gpu"
    local x="$TMP/${CD:-c}x.npy" y="$TMP/${CD:-c}y.npy"
    tgrad "$e" --at x="$x" --at y="$y" "$@" --device cpu --out-dir "$TMP/cpu" >/dev/null
    on_cuda tgrad "$e" --at x="$x" --at y="$y" "$@" --device cuda --compile \
        --out-dir "$TMP/gpu" >/dev/null || { echo "compiled on cuda failed: $e"; return 1; }
    for f in "$TMP"/cpu/*.npy; do
        local d
        d=$(tgrad 'amax(abs(a - b) / (abs(a) + 1))' --at a="$f" --at b="$TMP/gpu/${f##*/}" --no-grad --dtype float64)
        [[ "$d" =~ ^\{\"value\":([-0-9.e]+)\}$ ]] || { echo "$e: ${f##*/}: $d"; return 1; }
        awk -v d="${BASH_REMATCH[1]}" 'BEGIN { exit !(d <= 1e-5) }' || { echo "$e: ${f##*/} differs by $d"; return 1; }
    done
}

# the kernels built for the emulated device's host runs, one per program
host_kernels() {
    grep -l tg_fused_host "$TG_CACHE_DIR"/fused-*.c 2>/dev/null | wc -l
}

@test "emulated cuda: --compile runs each program as one generated kernel, NVRTC compiles it, values match the CPU" {
    needs_backend
    export TG_CACHE_DIR="$TMP/cache" TG_FUSED_STRICT=1 # a kernel that does not compile is an error
    tgrad 'randn(6000) * 2' --seed 21 --no-grad -o "$TMP/cx.npy" >/dev/null
    tgrad 'randn(6000) * 2' --seed 22 --no-grad -o "$TMP/cy.npy" >/dev/null
    tgrad 'rand(6000)' --seed 23 --no-grad -o "$TMP/cg.npy" >/dev/null
    tgrad 'double(randn(6000) * 2)' --seed 24 --no-grad -o "$TMP/dx.npy" >/dev/null
    tgrad 'double(randn(6000) * 2)' --seed 25 --no-grad -o "$TMP/dy.npy" >/dev/null
    for e in 'sum(tanh(x)**2)' 'sum(x**3 + 2*x**2 - 5*x + 3 + y * 0)' \
             'sum(exp(x * 0.3) + log(abs(y) + 1) + sqrt(abs(x)) + sin(x) * cos(y) - tan(x * 0.2))' \
             'sum(sigmoid(x) + relu(y) * abs(x) + sign(x) + log1p(abs(y)) + expm1(x / 4) + erf(y) + softplus(x))' \
             'sum(abs(x)**0.5 + x**-1 + x**-2 + x**1 + abs(x)**2.5 + (abs(x) + 0.5)**y)' \
             'sum(maximum(x, y) - minimum(x, -0.5) + where(x > y, x * y, -x) + (x <= 1) * 2.0 + (x == y))' \
             'sum(clamp(x, -1, 1) * exp(y * 0.1) + clamp(y, min=0))' 'sum(tanh(double(x)) * float(y))'; do
        same_compiled "$e"
        CD=d same_compiled "$e"
    done
    # non-scalar results with an upstream gradient, and without gradients
    same_compiled 'x * sigmoid(y) - tanh(x)' --grad-output "$TMP/cg.npy"
    same_compiled 'x * sigmoid(y) - tanh(x)' --no-grad
    # a one-value parameter whose gradient is summed, as broadcasting's backward
    same_compiled 'sum((w * x + b - y)**2)' --at w=0.5 --at b=-0.25
    while IFS= read -r e; do
        same_compiled "$e"
    done < <(random_programs 20 7)
    if [ -z "${TG_TEST_REAL_CUDA:-}" ]; then
        # every one of them was a generated kernel (built for the host here)
        [ "$(host_kernels)" -ge 35 ]
    fi
}

@test "emulated cuda: --compile gives the eager cuda path's numbers where a program does not fuse, and the same on every run" {
    needs_backend
    export TG_CACHE_DIR="$TMP/cache" TG_FUSED_STRICT=1
    tgrad 'randn(6000)' --seed 31 --no-grad -o "$TMP/cx.npy" >/dev/null
    tgrad 'randn(6000)' --seed 32 --no-grad -o "$TMP/cy.npy" >/dev/null
    same_compiled 'sum(x - mean(x)) + sum(softmax(y, 0) * x)' # reduces inside: eager
    same_compiled 'sum(x.reshape(60, 100).T @ y.reshape(60, 100))'
    on_cuda tgrad 'sum(tanh(x) * y)' --at x="$TMP/cx.npy" --at y="$TMP/cy.npy" --device cuda --compile >"$TMP/a"
    on_cuda tgrad 'sum(tanh(x) * y)' --at x="$TMP/cx.npy" --at y="$TMP/cy.npy" --device cuda --compile >"$TMP/b"
    cmp "$TMP/a" "$TMP/b"
}

@test "emulated cuda: NVRTC's machine code is kept in the cache folder, checked by its key, remade when that differs; TG_JIT=0 runs op by op" {
    needs_backend
    export TG_CACHE_DIR="$TMP/cache" TG_FUSED_STRICT=1
    tgrad 'randn(6000)' --seed 41 --no-grad -o "$TMP/cx.npy" >/dev/null
    tgrad 'randn(6000)' --seed 42 --no-grad -o "$TMP/cy.npy" >/dev/null
    same_compiled 'sum(sin(x) * y)'
    local key
    key=$(ls "$TG_CACHE_DIR"/cubin-*.key)
    [ "$(echo "$key" | wc -l)" -eq 1 ]
    [ -s "${key%.key}.bin" ]
    cp "$key" "$TMP/key"
    grep -q 'tg_fused_kernel' "$key" # the key is the kernel's source (and what it was built for)
    same_compiled 'sum(sin(x) * y)' # loaded: still one
    [ "$(ls "$TG_CACHE_DIR"/cubin-*.key | wc -l)" -eq 1 ]
    echo tampered >>"$key"
    same_compiled 'sum(sin(x) * y)'
    cmp "$key" "$TMP/key" # made again
    rm -rf "$TG_CACHE_DIR"
    TG_JIT=0 same_compiled 'sum(sin(x) * y)'
    [ ! -e "$TG_CACHE_DIR" ] || [ -z "$(ls "$TG_CACHE_DIR")" ]
}

@test "emulated cuda: a kernel that cannot be built runs op by op, or with TG_FUSED_STRICT=1 is status 4 saying why" {
    needs_backend
    [ -z "${TG_TEST_REAL_CUDA:-}" ] || skip "the host build is the emulation's"
    export TG_CACHE_DIR="$TMP/cache"
    tgrad 'randn(6000)' --seed 51 --no-grad -o "$TMP/cx.npy" >/dev/null
    tgrad 'randn(6000)' --seed 52 --no-grad -o "$TMP/cy.npy" >/dev/null
    TG_CC=false same_compiled 'sum(cos(x) * y)'
    [ -z "$(ls "$TG_CACHE_DIR" | grep '^fused-' || true)" ]
    TG_FUSED_STRICT=1 TG_CC=false run --separate-stderr on_cuda tgrad 'sum(cos(x) * y)' --at x="$TMP/cx.npy" \
        --at y="$TMP/cy.npy" --device cuda --compile
    [ "$status" -eq 4 ]
    [ -z "$output" ]
    [[ "$stderr" == "tgrad: compiled evaluation on the emulated device: the kernel's host build failed"* ]]
}

@test "emulated cuda: issue 19's activations (eager and --compile), statistics and scans match the CPU" {
    needs_backend
    random_inputs 7
    same 'sum(leaky_relu(x) * y + leaky_relu(x, 0.2) + elu(x, alpha=0.5) * z + silu(x) * y)'
    same 'sum(reciprocal(abs(x) + 0.5) * y + rsqrt(abs(z) + 0.1) + elu(y))' --dtype float64
    same 'sum(x.prod(1, keepdim=True) * z + x.cumsum(1) * y + x.var(0) + x.std(1, keepdim=True) + x.norm(dim=0))'
    export TG_CACHE_DIR="$TMP/cache" TG_FUSED_STRICT=1
    tgrad 'randn(6000) * 2' --seed 71 --no-grad -o "$TMP/cx.npy" >/dev/null
    tgrad 'randn(6000) * 2' --seed 72 --no-grad -o "$TMP/cy.npy" >/dev/null
    tgrad 'double(randn(6000) * 2)' --seed 73 --no-grad -o "$TMP/dx.npy" >/dev/null
    tgrad 'double(randn(6000) * 2)' --seed 74 --no-grad -o "$TMP/dy.npy" >/dev/null
    for e in 'sum(leaky_relu(x, 0.1) * y + elu(y, 2.0) + silu(x) * elu(x))' \
             'sum(reciprocal(abs(x) + 0.5) + rsqrt(abs(y) + 0.25) * x)'; do
        same_compiled "$e"
        CD=d same_compiled "$e"
    done
}

# lines N SEED: N lines of --lines input with integer-valued floats x (3x4)
# and y (4), so that every sum and product is exact in any order, and int64
# indices i (6, for 3x2), j and j2 (5, rows and columns of x, negatives
# from the end), k (6 classes of 5) and a bool mask m (12); in about a
# third of the lines one index is out of range
index_lines() {
    awk -v n="$1" -v seed="$2" '
    function r(lo, hi) { return lo + int(rand() * (hi - lo + 1)) }
    function floats(rows, cols,   s, a, b) {
        s = "["
        for (a = 0; a < rows; a++) {
            s = s (a ? "," : "") (cols ? "[" : "")
            for (b = 0; b < (cols ? cols : 1); b++) s = s (b ? "," : "") r(-3, 3) ".0"
            s = s (cols ? "]" : "")
        }
        return s "]"
    }
    function ints(len, lo, hi, bad,   s, a, v) {
        s = "{\"dtype\":\"int64\",\"data\":["
        for (a = 0; a < len; a++) {
            v = a == bad ? (rand() < 0.5 ? hi + 1 : lo - 1) : r(lo, hi)
            s = s (a ? "," : "") v
        }
        return s "]}"
    }
    BEGIN {
        srand(seed)
        for (l = 0; l < n; l++) {
            which = rand() < 0.3 ? r(1, 4) : 0
            m = "{\"dtype\":\"bool\",\"data\":["
            for (a = 0; a < 12; a++) m = m (a ? "," : "") (rand() < 0.5 ? "true" : "false")
            printf "{\"x\":%s,\"y\":%s,\"i\":%s,\"j\":%s,\"j2\":%s,\"k\":%s,\"m\":%s]}}\n", floats(3, 4),
                floats(4, 0), ints(6, 0, 3, which == 1 ? r(0, 5) : -1), ints(5, -3, 2, which == 2 ? r(0, 4) : -1),
                ints(5, -4, 3, which == 3 ? r(0, 4) : -1), ints(6, 0, 4, which == 4 ? r(0, 5) : -1), m
        }
    }'
}

@test "emulated cuda: cat, stack, gather, indexing, one_hot, cumsum, prod and copies give the CPU's numbers and index errors exactly" {
    needs_backend
    index_lines 40 3 >"$TMP/lines"
    # gather's backward is scatter_add, an index's index_add, cumsum's a
    # cumsum from the end, a slice's slice_backward; double() is a cast
    local e='sum(cat([x, x.T.reshape(3, 4) * 2], 1).cumsum(1) * 3) + sum(stack([x, y.expand(3, 4)], 0).prod(0))
        + sum(gather(x, 1, i.reshape(3, 2)) ** 2) + sum(x[j] * y) + sum(x[m.reshape(3, 4)] * 2) + sum(x[j, j2])
        + sum(one_hot(k, 5) * 2) + sum(x[:, 1:3] * x[:, 2:4]) + sum(double(x) * 2) + x.prod()'
    for dt in float32 float64; do
        tgrad "$e" --lines --keep-going --dtype $dt --device cpu <"$TMP/lines" >"$TMP/cpu" 2>/dev/null || true
        run on_cuda tgrad "$e" --lines --keep-going --dtype $dt --device cuda <"$TMP/lines"
        [ "$status" -eq 3 ] # out-of-range indices are bad input, as on the CPU, not a device fault
        diff "$TMP/cpu" <(printf '%s\n' "$output" | grep '^{')
    done
    # the lines' errors: each kind of index, as the CPU words them
    grep -q '"error":"index -\?[0-9]* is out of bounds for dimension 1 with size 4"' "$TMP/cpu"
    grep -q '"error":"index -\?[0-9]* is out of bounds for dimension 0 with size 3"' "$TMP/cpu"
    grep -q '"error":"Class values must be' "$TMP/cpu"
    [ "$(grep -c '"value"' "$TMP/cpu")" -ge 20 ]
}

@test "emulated cuda: the losses (gathers, one_hot, casts inside) and their gradients match the CPU" {
    needs_backend
    random_inputs 9
    same 'cross_entropy(x, tensor([0, 3, 1])) + cross_entropy(x, tensor([2, 1, 1]), label_smoothing=0.1, reduction="sum")
        + nll_loss(log_softmax(x, 1), tensor([1, 0, 3])) + binary_cross_entropy(sigmoid(x), sigmoid(z * y))
        + binary_cross_entropy_with_logits(x, sigmoid(z * y)) + mse_loss(x, z * y) + l1_loss(x, y)
        + sum(softmax(x, 1)[tensor([0, 2])] * y) + cross_entropy(x, softmax(z * y, 1)) + x.norm() + x.std()
        + cross_entropy(x, tensor([0, -100, 1])) + nll_loss(log_softmax(x, 1), tensor([1, 1, 3]), ignore_index=1)'
    run --separate-stderr on_cuda tgrad 'cross_entropy(x, tensor([0, 4, 1]))' --at x="$TMP/x.npy" --device cuda
    [ "$status" -eq 3 ]
    [[ "$stderr" == "tgrad: Target 4 is out of bounds."* ]]
    same 'sum(cat([x, z], 1).cumsum(0).prod(1) * stack([z, z], 0).sum()) + sum(gather(x, 0, tensor([[2, 0, 1, 1]])))' --dtype float64
    # masks of several of the device's chunks (1024 elements) of true positions
    tgrad 'randn(5, 1000)' --seed 19 --no-grad -o "$TMP/x.npy" >/dev/null
    same 'sum(x[x > 0.3] * 2) + sum(x.cumsum(1)[x < -1]) + sum(x[:, 3:900].prod(0)) + sum(y) + sum(z)'
    # a line of 5000: scanned in chunks on the device (its gradient: from the end)
    same 'sum(x.reshape(-1).cumsum(0) * x.reshape(-1) * 0.01) + (x.reshape(-1) * 0.001 + 1).prod() + sum(y) + sum(z)'
    # and int64's exactly
    tgrad 'randint(-3, 4, (9000,))' --seed 8 --no-grad -o "$TMP/k.npy" >/dev/null
    local e='cat([k.cumsum(0), (k.abs() + 1).prod().reshape(1), k.reshape(3, 3000).cumsum(1).reshape(-1)])'
    tgrad "$e" --at k="$TMP/k.npy" --no-grad --device cpu >"$TMP/k.json"
    on_cuda tgrad "$e" --at k="$TMP/k.npy" --no-grad --device cuda | cmp - "$TMP/k.json"
}

@test "emulated cuda: int64 indices and bool masks on the cpu index a tensor on cuda (copied over), not the other way" {
    needs_backend
    cat >"$TMP/p.py" <<'PY'
import torch
x = torch.tensor([1., 2, 3, 4], requires_grad=True)
xc = x.cuda()
i = torch.tensor([0, 2, -1])
m = torch.tensor([True, False, True, True])
y = xc[i] * 2 + xc[m]
print(y.device, y.tolist())
y.sum().backward()
print(x.grad.tolist())
print(xc[m.cuda()].device, torch.gather(xc, 0, i[:2].cuda()).tolist(), torch.nn.functional.one_hot(i[:2].cuda(), 3).device)
PY
    run on_cuda tgrad -f "$TMP/p.py"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "cuda:0 [3.0, 9.0, 12.0]" ]
    [ "${lines[1]}" = "[3.0, 0.0, 3.0, 3.0]" ]
    [ "${lines[2]}" = "cuda:0 [1.0, 3.0] cuda:0" ]
    printf 'import torch\nx = torch.tensor([1., 2])\nprint(x[torch.tensor([1]).cuda()])\n' >"$TMP/q.py"
    run --separate-stderr on_cuda tgrad -f "$TMP/q.py"
    [ "$status" -eq 3 ]
    [ -z "$output" ]
    [[ "$stderr" == "tgrad: indices should be either on cpu or on the same device as the indexed tensor (cpu)"* ]]
}

@test "emulated cuda: the class losses want the target and weight on the input's device, as PyTorch's kernels do" {
    needs_backend
    local pre='import torch\nimport torch.nn.functional as F\nx = torch.tensor([[1., 2, 3]]).cuda()\nt = torch.tensor([2])\n'
    printf "${pre}print(F.cross_entropy(x, t.cuda()).item() > 0)\n" >"$TMP/ok.py"
    run on_cuda tgrad -f "$TMP/ok.py"
    [ "$status" -eq 0 ] && [ "$output" = True ]
    for call in 'F.cross_entropy(x, t)' 'F.nll_loss(x, t)' 'F.cross_entropy(x, t.cuda(), weight=torch.ones(3))'; do
        printf "${pre}print($call)\n" >"$TMP/p.py"
        run --separate-stderr on_cuda tgrad -f "$TMP/p.py"
        [ "$status" -eq 3 ] && [ -z "$output" ] || { echo "$call: status $status"; return 1; }
        [[ "$stderr" == "tgrad: expected all tensors to be on the same device, but found cuda and cpu"* ]] ||
            { echo "$call: $stderr"; return 1; }
    done
}

@test "emulated cuda: a copy between devices passes its gradient back to its input's device, as PyTorch's ToCopyBackward0" {
    needs_backend
    # (the expected lines are PyTorch 1.13's for the same program: each
    # gradient on its leaf's device, x.grad of a cpu leaf on the cpu)
    cat >"$TMP/p.py" <<'PY'
import torch
dev = torch.device('cuda')
x = torch.tensor([1., 2, 3], requires_grad=True)
y = (x.cuda() ** 2).sum()
y.backward()
print(x.grad, x.grad.device)
w = torch.tensor([1., -2], requires_grad=True)
a = (w * 3).to('cuda')
b = (a.exp() * 2).cpu()
(b * w).sum().backward()
print(w.grad, w.grad.device)
v = torch.tensor([0.5, 1.5], requires_grad=True)
u = v.to(dev, torch.float64)
z = (u.to('cpu') * u.to(dev).cpu() * 2).sum() + (u ** 3).sum().cpu()
z.backward(create_graph=True)
print(v.grad, v.grad.device, v.grad.requires_grad)
h = torch.tensor([0.5, 1.5], requires_grad=True)
(h.cuda() ** 3).sum().backward(create_graph=True)
s = (h.grad.cuda() * 2).sum()
h.grad = None
s.backward()
print(h.grad, h.grad.device)
q = torch.tensor([[1., 2], [3, 4]], device=dev, requires_grad=True)
(q.cpu() * torch.tensor([1., -1])).sum().backward()
print(q.grad.tolist(), q.grad.device, q.cpu().grad_fn.name())
PY
    run on_cuda tgrad -f "$TMP/p.py"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "tensor([2., 4., 6.]) cpu" ]
    [ "${lines[1]}" = "tensor([ 1.6068e+02, -2.4788e-02]) cpu" ]
    [ "${lines[2]}" = "tensor([ 2.7500, 12.7500], grad_fn=<ToCopyBackward0>) cpu True" ]
    [ "${lines[3]}" = "tensor([ 6., 18.]) cpu" ]
    [ "${lines[4]}" = "[[1.0, -1.0], [1.0, -1.0]] cuda:0 ToCopyBackward0" ]
}

# long_index_lines N SEED: N lines of --lines input for scatter_add and
# index_add along few long lines (the device buckets their terms by
# destination when a line has 2048 terms or more): a float a (D rows, C
# columns), an int64 i (L rows, C2 <= C columns, values below D) and
# float weights w (i's shape) for gather along either dim; a float b (E
# rows, F columns), an int64 j (M, negatives from the end) and weights v
# (M, F) for b[j].  Few destinations (many terms each), many, and more
# than 65536 (three digits to sort by) are drawn; in a few lines one
# index is out of range.
long_index_lines() {
    awk -v n="$1" -v seed="$2" '
    function r(lo, hi) { return lo + int(rand() * (hi - lo + 1)) }
    function size(  u) { u = rand(); return u < 0.5 ? r(1, 6) : u < 0.9 ? r(7, 3000) : r(66000, 70000) }
    function len() { return rand() < 0.25 ? r(1, 2047) : r(2048, 5000) }
    # (printed as they are drawn: awk joins long strings slowly)
    function floats(name, rows, cols,   a, b) {
        printf "\"%s\":[", name
        for (a = 0; a < rows; a++) {
            printf "%s[", a ? "," : ""
            for (b = 0; b < cols; b++) printf "%s%.6f", b ? "," : "", rand() * 4 - 2
            printf "]"
        }
        printf "]"
    }
    function ints(name, rows, cols, lo, hi, bad,   a, b, v) {
        printf "\"%s\":{\"dtype\":\"int64\",\"data\":[", name
        for (a = 0; a < rows; a++) {
            printf "%s%s", a ? "," : "", cols ? "[" : ""
            for (b = 0; b < (cols ? cols : 1); b++) {
                v = a == bad && b == 0 ? (rand() < 0.5 ? hi + 1 : lo - 1) : r(lo, hi)
                printf "%s%d", b ? "," : "", v
            }
            printf "%s", cols ? "]" : ""
        }
        printf "]}"
    }
    BEGIN {
        srand(seed)
        for (l = 0; l < n; l++) {
            which = rand() < 0.15 ? r(1, 2) : 0
            D = size(); C = D > 65535 ? 1 : r(1, 3); C2 = r(1, C); L = len()
            E = size(); F = E > 65535 ? 1 : r(1, 3); M = len()
            printf "{"; floats("a", D, C); printf ","
            ints("i", L, C2, 0, D - 1, which == 1 ? r(0, L - 1) : -1); printf ","
            floats("w", L, C2); printf ","; floats("b", E, F); printf ","
            ints("j", M, 0, -E, E - 1, which == 2 ? r(0, M - 1) : -1); printf ","
            floats("v", M, F); printf "}\n"
        }
    }'
}

@test "emulated cuda: scatter_add and index_add along few long lines (bucketed on the device) give the CPU's bits" {
    needs_backend
    long_index_lines 14 5 >"$TMP/lines"
    # gather's gradient is a scatter_add (along dim 0, and along dim 1 of
    # the transposes), b[j]'s an index_add
    local e='sum(gather(a, 0, i) * w) + sum(gather(a.T, 1, i.T) * w.T * 3) + sum(b[j] * v)'
    for dt in float32 float64; do
        tgrad "$e" --lines --keep-going --dtype $dt --device cpu <"$TMP/lines" >"$TMP/cpu" 2>/dev/null || true
        run on_cuda tgrad "$e" --lines --keep-going --dtype $dt --device cuda <"$TMP/lines"
        [ "$status" -eq 3 ] # the lines with an index out of range, as on the CPU
        cmp "$TMP/cpu" <(printf '%s\n' "$output" | grep '^{') # (lines of a megabyte: not diff)
    done
    grep -q '"error":"index -\?[0-9]* is out of bounds for dimension 0 with size' "$TMP/cpu"
    [ "$(grep -c '"value"' "$TMP/cpu")" -ge 8 ]
}
