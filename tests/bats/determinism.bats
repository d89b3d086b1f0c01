#!/usr/bin/env bats
# about 12 s, sanitized 18 s: run_bats.sh starts the longest first
# determinism.bats -- the same command gives the same bytes: run twice, and
# with 1, 2 or 4 BLAS / OpenMP threads.  Inputs are large enough that the
# products and reductions are split across threads.
load helper

# same_output CMD...: runs CMD (a string for bash -c) twice under each of
# several thread settings; every output must be byte-identical to the first
# of its setting, and (unless ACROSS=0) to the very first
same_output() {
    local cmd=$1 ref="" first out
    for env in "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1" "OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2" \
               "OPENBLAS_NUM_THREADS=4 OMP_NUM_THREADS=4"; do
        first=""
        for run in 1 2; do
            out=$(env $env bash -c "$cmd") || { echo "failed: $env $cmd"; return 1; }
            [ -n "$out" ] || { echo "no output: $env $cmd"; return 1; }
            out=$(printf '%s' "$out" | sha256sum)
            [ -n "$first" ] || first=$out
            [ "$out" = "$first" ] || { echo "two runs differ with $env: $cmd"; return 1; }
        done
        [ -n "$ref" ] || ref=$out
        if [ "${ACROSS:-1}" = 1 ] && [ "$out" != "$ref" ]; then
            echo "output differs with $env from the one with 1 thread: $cmd"
            return 1
        fi
    done
}

setup_file() {
    cd "$BATS_TEST_DIRNAME/../.."
    PATH="${TG_BIN:-$PWD/bin}:$PATH"
    D=$BATS_FILE_TMPDIR
    tgrad 'randn(257, 300)' --seed 1 --no-grad -o "$D/a.npy" >/dev/null
    tgrad 'randn(300, 129)' --seed 2 --no-grad -o "$D/b.npy" >/dev/null
    tgrad 'randn(4, 64, 96)' --seed 3 --no-grad --dtype float64 -o "$D/c.npy" >/dev/null
    tgrad 'randn(200000)' --seed 4 --no-grad -o "$D/v.npy" >/dev/null
    tgrad 'ones(257)' --no-grad -o "$D/g.json" >/dev/null
}

@test "rand/randn with a seed give the same numbers every run" {
    run tgrad 'randn(5)' --seed 7 --no-grad
    first=$output
    run tgrad 'randn(5)' --seed 7 --no-grad
    [ "$output" = "$first" ]
    run tgrad 'randn(5)' --seed 8 --no-grad
    [ "$output" != "$first" ]
}

@test "tmatmul: same bytes on every run (float32, float64, batched, --grad, .npy out)" {
    D=$BATS_FILE_TMPDIR
    ACROSS=0
    same_output "tmatmul $D/a.npy $D/b.npy"
    same_output "tmatmul --dtype float64 $D/a.npy $D/b.npy"
    same_output "tmatmul $D/c.npy $D/c.npy --tb"
    same_output "tmatmul --grad $D/a.npy $D/b.npy"
    same_output "tmatmul $D/a.npy $D/b.npy -o $D/out.npy && od -An -tx1 $D/out.npy"
    same_output "tgrad '(x@w).tanh().sum()' --at x=$D/a.npy --at w=$D/b.npy"
}

@test "tmatmul: same bytes with 1, 2 and 4 BLAS threads" {
    skip "known bug: OpenBLAS's result depends on its thread count in the last bits (float64 257x300 @ 300x129: 104 of 33153 elements differ, at most 2.5e-14, all in rows 129..256, the second thread's block; float32 at 513x700 @ 700x301 too)"
    D=$BATS_FILE_TMPDIR
    same_output "tmatmul $D/a.npy $D/b.npy"
    same_output "tmatmul --dtype float64 $D/a.npy $D/b.npy"
    same_output "tmatmul $D/c.npy $D/c.npy --tb"
    same_output "tmatmul --grad $D/a.npy $D/b.npy"
    for t in 1 2 4; do
        run --separate-stderr tmatmul --threads $t "$D/a.npy" "$D/b.npy" --dtype float64
        [ "$status" -eq 0 ]
        [ $t = 1 ] && ref=$output
        [ "$output" = "$ref" ] || { echo "--threads $t differs"; return 1; }
    done
}

@test "tgrad: same bytes with 1, 2 and 4 threads (elementwise, reductions, gradients; no BLAS)" {
    D=$BATS_FILE_TMPDIR
    same_output "tgrad 'x.tanh().sum() + relu(x).mean()' --at x=$D/a.npy"
    same_output "tgrad '(v.exp() * v.sin()).sum()' --at v=$D/v.npy"
    same_output "tgrad 'softmax(v, dim=0).max() + logsumexp(v, dim=0)' --at v=$D/v.npy"
    same_output "tgrad 'v.mean() + v.amax() + (v * v).sum()' --at v=$D/v.npy --dtype float64"
    same_output "tgrad 'x.exp().sum(dim=1)' --at x=$D/a.npy --grad-output $D/g.json"
    same_output "tgrad 'x.sum(dim=0).max()' --at x=$D/a.npy --no-grad"
}

@test "tbroadcast: same bytes with 1, 2 and 4 threads" {
    D=$BATS_FILE_TMPDIR
    same_output "tbroadcast $D/a.npy $D/a.npy 1.5"
    same_output "tbroadcast --op mul --grad $D/v.npy $D/v.npy"
}
