#!/usr/bin/env bats
# about 7 s, sanitized 17 s: run_bats.sh starts the longest first
# Sizes come from the data: long programs, many names, results too large
# for memory refused before the work, and no hang under ulimit -v.  No
# timing assertions: `timeout` only guards against hangs.
# not under check-cuda-emulated: program size and memory limits, the same on every device
load helper

# chain N FILE: "y0 = x*1.0001" and N-1 more statements, each on the last
chain() {
    awk -v n="$1" 'BEGIN { print "y0 = x*1.0001"; for (i = 1; i < n; i++) printf "y%d = y%d*1.0001\n", i, i - 1 }' > "$2"
}

# close A B: |A - B| <= 1e-5 |B|
close() {
    awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * (b < 0 ? -b : b)) }'
}

# the value and the gradient of x in tgrad's one-line output
value_of() { echo "$1" | sed -E 's/^\{"value":([^,]*),.*/\1/'; }
grad_of() { echo "$1" | sed -E 's/.*"grad":\{"x":([^}]*)\}.*/\1/'; }

no_ulimit_v() {
    [ -z "${TG_SANITIZE:-}${TG_UNDER_VALGRIND:-}" ] || skip "ulimit -v does not work under ASan or valgrind"
}

@test "a program of 300 statements: more names than 256, one free variable" {
    chain 300 "$TMP/p"
    run --separate-stderr tgrad --file "$TMP/p" --at 2
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    close "$(value_of "$output")" "$(awk 'BEGIN { print 2 * 1.0001^300 }')"
    close "$(grad_of "$output")" "$(awk 'BEGIN { print 1.0001^300 }')"
}

@test "a program of 10^5 statements runs (linear time; the timeout only guards a hang)" {
    [ -z "${TG_UNDER_VALGRIND:-}" ] || skip "too slow under valgrind"
    # under the sanitizers 2*10^4 (10^5 took 39 s of the 60 there): the
    # same code, and CI's ten minutes
    local n=100000
    [ -z "${TG_SANITIZE:-}" ] || n=20000
    chain $n "$TMP/p"
    run --separate-stderr timeout 60 tgrad --file "$TMP/p" --at 2 --dtype float64
    [ "$status" -eq 0 ] || { echo "status $status: $stderr"; return 1; }
    close "$(value_of "$output")" "$(awk -v n=$n 'BEGIN { print 2 * 1.0001^n }')"
    close "$(grad_of "$output")" "$(awk -v n=$n 'BEGIN { print 1.0001^n }')"
}

@test "--explain, --graph, --hessian and --check of a 10^4-statement program" {
    [ -z "${TG_UNDER_VALGRIND:-}" ] || skip "too slow under valgrind"
    chain 10000 "$TMP/p"
    for mode in --explain --explain=json '--graph json' '--graph dot' --hessian --check '--order 2'; do
        run --separate-stderr timeout 60 tgrad --file "$TMP/p" --at 2 $mode
        [ "$status" -eq 0 ] || { echo "$mode: status $status: $stderr"; return 1; }
    done
    run --separate-stderr timeout 60 tgrad --file "$TMP/p" --at 2 --explain
    echo "$output" | grep -q '^  y9999 = mul(y9998, 1.0001) = '
    run --separate-stderr timeout 60 tgrad --file "$TMP/p" --at 2 --graph json
    [ "$(echo "$output" | grep -o '"name":"y[0-9]*"' | wc -l)" -eq 10000 ]
}

@test "a name of 300 characters is shown whole by --explain and --graph" {
    local n
    n=$(printf 'v%.0s' $(seq 300))
    run --separate-stderr tgrad "$n = x*2; $n.sum()" --at '[1.0]' --explain
    echo "$output" | grep -q "^  $n = mul(x, 2) = \[2\]"
    run --separate-stderr tgrad "$n = x*2; $n.sum()" --at '[1.0]' --graph json
    echo "$output" | grep -q "\"name\":\"$n\""
}

@test "x += 1 on 3*10^4 names, some sharing a tensor: every sharer sees it" {
    awk 'BEGIN { for (i = 0; i < 30000; i++) printf "y%d = x*1\n", i;
                 print "z = y7"; for (i = 0; i < 30000; i++) printf "y%d += 1\n", i; print "z * 10 + y29999" }' > "$TMP/p"
    run --separate-stderr timeout 60 tgrad --file "$TMP/p" --at 2
    [ "$status" -eq 0 ] || { echo "status $status: $stderr"; return 1; }
    [ "$output" = '{"value":33,"grad":{"x":11}}' ]
}

@test "a Jacobian larger than memory: status 4 at once, naming its size" {
    awk 'BEGIN { printf "["; for (i = 0; i < 200000; i++) printf "%s1", i ? "," : ""; print "]" }' > "$TMP/x.json"
    fails_with 4 'the Jacobian would be 200000 x 200000 float32 = 160 GB, more than' \
        timeout 20 tgrad 'x*2' --at "$TMP/x.json" --jacobian
    fails_with 4 'the Jacobian would be 200000 x 200000 float32 = 160 GB' \
        timeout 20 tgrad 'x*2' --at "$TMP/x.json" --jacobian=fwd
    fails_with 4 'the Hessian would be 200000 x 200000 float32 = 160 GB' \
        timeout 20 tgrad '(x*x).sum()' --at "$TMP/x.json" --hessian
    # --check's central differences: 2 runs per element, sized up front too
    fails_with 3 '--check needs 400000 runs of the program .* more work than the limit' \
        timeout 20 tgrad '(x*2).sum()' --at "$TMP/x.json" --check
}

@test "a Jacobian that fits memory but needs too much work: status 3, the limit named" {
    fails_with 3 'the Jacobian needs 4900000000 backward passes over 4900000000 elements each, more work than the limit' \
        timeout 20 tgrad 'x.expand(70000, 70000)' --at 1.0 --jacobian
}

@test "under ulimit -v the Jacobian is sized against the limit" {
    no_ulimit_v
    awk 'BEGIN { printf "["; for (i = 0; i < 20000; i++) printf "%s1", i ? "," : ""; print "]" }' > "$TMP/x.json"
    fails_with 4 'the Jacobian would be 20000 x 20000 float32 = 1.6 GB, more than the .* this process may use \(its ulimit -v\)' \
        timeout 20 bash -c "ulimit -v 1000000; exec tgrad 'x*2' --at '$TMP/x.json' --jacobian"
}

@test "under ulimit -v 200000 tmatmul never hangs: 30 runs, each the product" {
    no_ulimit_v
    for i in $(seq 30); do
        run --separate-stderr timeout 20 bash -c "ulimit -v 200000; exec tmatmul '[[1,2],[3,4]]' '[[1,2],[3,4]]'"
        [ "$status" -ne 124 ] || { echo "run $i: hung"; return 1; }
        [ "$status" -eq 0 ] && [ "$output" = '[[7,10],[15,22]]' ] || { echo "run $i: status $status: $stderr"; return 1; }
    done
}

@test "under ulimit -v 200000 an op too large fails and exits: 30 runs, status 4" {
    no_ulimit_v
    for i in $(seq 30); do
        run --separate-stderr timeout 20 bash -c "ulimit -v 200000; exec tgrad '(x.expand(10000,10000)*1).sum()' --at 1.0"
        [ "$status" -ne 124 ] || { echo "run $i: hung"; return 1; }
        [ "$status" -eq 4 ] && [[ "${stderr_lines[0]}" =~ ^tgrad:\ out\ of\ memory.*ulimit\ -v ]] ||
            { echo "run $i: status $status: $stderr"; return 1; }
        [ -z "$output" ]
    done
}

@test "under ulimit -v a product whose BLAS buffer cannot fit: status 4, no spin" {
    no_ulimit_v
    # the tools load in about 60 MB of address space; OpenBLAS's buffer is 128 MiB
    run --separate-stderr timeout 20 bash -c "ulimit -v 120000; exec tmatmul '[[1,2],[3,4]]' '[[1,2],[3,4]]'"
    [ "$status" -ne 124 ] || { echo "hung"; return 1; }
    [ "$status" -eq 4 ] || { echo "status $status: $stderr"; return 1; }
    [[ "${stderr_lines[0]}" =~ ^tmatmul:\ .*OpenBLAS.*ulimit\ -v ]]
}

@test "under ulimit -v 300000, 16 pool threads and then a product: the answer" {
    no_ulimit_v
    for i in $(seq 5); do
        run --separate-stderr timeout 20 bash -c "ulimit -v 300000; TG_NUM_THREADS=16 exec tgrad '(x.expand(3000,3000)*1.5).sum() + (y@y).sum()' --at x=1.0 --at y='[[1,2],[3,4]]'"
        [ "$status" -ne 124 ] || { echo "run $i: hung"; return 1; }
        [ "$output" = '{"value":13500054,"grad":{"x":13500000,"y":[[7,11],[9,13]]}}' ] || { echo "run $i: status $status: $stderr"; return 1; }
    done
}

@test "a program of 10^6 statements runs within memory (TG_TEST_LARGE=1)" {
    [ -n "${TG_TEST_LARGE:-}" ] || skip "about 20 s and 2.5 GB: set TG_TEST_LARGE=1"
    chain 1000000 "$TMP/p"
    run --separate-stderr timeout 300 tgrad --file "$TMP/p" --at 1 --dtype float64
    [ "$status" -eq 0 ] || { echo "status $status: $stderr"; return 1; }
    close "$(value_of "$output")" "$(awk 'BEGIN { print 1.0001^1000000 }')"
}
