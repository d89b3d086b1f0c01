#!/usr/bin/env bats
# about 4 s, sanitized 12 s: run_bats.sh starts the longest first
# The default path (no --compile) fuses large elementwise programs
# (lib/compile/compile.c's tg_fused_default_eval, fused_vm.c): the eager
# bytes and --compile's, no compiler ever run, the cache folder only read;
# TG_FUSE=0 turns it off.  (tests/unit/test_fused_default.c compares many
# random programs in one process.)
load helper

setup_file() {
    export TG_CACHE_DIR="$BATS_FILE_TMPDIR/cache"
    export TG_DEVICE=cpu
}

# same_three EXPR ARGS...: TG_FUSE=0 (eager), the default path and
# --compile write the same files, byte for byte
same_three() {
    local e=$1 f
    shift
    rm -rf "$TMP/eager" "$TMP/default" "$TMP/compiled"
    TG_FUSE=0 tgrad "$e" "$@" --out-dir "$TMP/eager" >/dev/null 2>&1 || { echo "eager failed: $e"; return 1; }
    tgrad "$e" "$@" --out-dir "$TMP/default" >/dev/null 2>&1 || { echo "default failed: $e"; return 1; }
    tgrad "$e" "$@" --out-dir "$TMP/compiled" --compile >/dev/null 2>&1 || { echo "compiled failed: $e"; return 1; }
    for f in "$TMP"/eager/*.npy; do
        cmp "$f" "$TMP/default/${f##*/}" || { echo "default differs: $e ($*): ${f##*/}"; return 1; }
        cmp "$f" "$TMP/compiled/${f##*/}" || { echo "compiled differs: $e ($*): ${f##*/}"; return 1; }
    done
}

@test "default path: the eager bytes and --compile's, float32 and float64, summed or not, above and below the threshold" {
    for dt in float double; do
        for n in 70001 3000; do
            tgrad "$dt(randn($n) * 2)" --seed 3 --no-grad -o "$TMP/x.npy" >/dev/null
            tgrad "$dt(rand($n))" --seed 4 --no-grad -o "$TMP/y.npy" >/dev/null
            for e in 'sum(x**3 + 2*x**2 - 5*x + 3)' 'sum(tanh(x)**2)' 'sum((x - y)**2 / (1 + y * y))' \
                     'sum(where(x > 0, x * y, -x) + x**-1 + x**0.5)' 'sum(x * c - y / 3)'; do
                same_three "$e" --at x="$TMP/x.npy" --at y="$TMP/y.npy" --at c=0.25
            done
            same_three 'x * sin(x) - x / 3 + y**2' --at x="$TMP/x.npy" --at y="$TMP/y.npy" --grad-output "$TMP/y.npy"
            same_three 'exp(-x * x) * y' --at x="$TMP/x.npy" --at y="$TMP/y.npy" --no-grad
        done
    done
}

@test "default path: NaN and infinities, and an int64 variable, as the eager path gives them" {
    tgrad 'x = randn(70000); where(rand(70000) < 0.001, x / 0, x) * where(rand(70000) < 0.001, 0 * x / 0, 1)' \
        --seed 5 --no-grad -o "$TMP/x.npy" >/dev/null
    tgrad 'long(randn(70000) * 5)' --seed 6 --no-grad -o "$TMP/k.npy" >/dev/null
    for e in 'sum(x**3 - 2*x)' 'sum(x * k + x**2)' 'sum(relu(x) / (x * x + 1))'; do
        TG_FUSE=0 tgrad "$e" --at x="$TMP/x.npy" --at k="$TMP/k.npy" >"$TMP/eager.json" 2>/dev/null
        tgrad "$e" --at x="$TMP/x.npy" --at k="$TMP/k.npy" >"$TMP/default.json" 2>/dev/null
        cmp "$TMP/eager.json" "$TMP/default.json"
    done
    grep -q NaN "$TMP/eager.json"
}

@test "default path: never runs a compiler, makes no cache folder, loads what --compile left; TG_FUSE=0 looks nowhere" {
    cat >"$TMP/cc" <<EOF2
#!/bin/sh
echo called >>"$TMP/cc.log"
exec cc "\$@"
EOF2
    chmod +x "$TMP/cc"
    : >"$TMP/cc.log"
    tgrad 'randn(70000)' --seed 7 --no-grad -o "$TMP/x.npy" >/dev/null
    e='sum(cos(x) * x**3)'
    # no cache folder: none is made, nothing compiled
    TG_CACHE_DIR="$TMP/none" TG_CC="$TMP/cc" tgrad "$e" --at "$TMP/x.npy" >/dev/null
    [ ! -e "$TMP/none" ]
    [ ! -s "$TMP/cc.log" ]
    # an existing folder is looked in (TG_TEST_CACHE_HOOK runs when it is
    # opened), not written to
    mkdir -m 700 "$TMP/c"
    TG_CACHE_DIR="$TMP/c" TG_CC="$TMP/cc" TG_TEST_CACHE_HOOK="echo looked >>$TMP/hook.log" \
        tgrad "$e" --at "$TMP/x.npy" >"$TMP/first.json"
    [ "$(cat "$TMP/hook.log")" = looked ]
    [ -z "$(ls -A "$TMP/c")" ]
    [ ! -s "$TMP/cc.log" ]
    # --compile fills it; the default path then gives the same bytes with
    # the code kept there, compiling nothing
    TG_CACHE_DIR="$TMP/c" TG_CC="$TMP/cc" tgrad "$e" --at "$TMP/x.npy" --compile >/dev/null
    [ "$(wc -l <"$TMP/cc.log")" -eq 1 ]
    TG_CACHE_DIR="$TMP/c" TG_CC="$TMP/cc" tgrad "$e" --at "$TMP/x.npy" >"$TMP/second.json"
    [ "$(wc -l <"$TMP/cc.log")" -eq 1 ]
    cmp "$TMP/first.json" "$TMP/second.json"
    # below the threshold, or with TG_FUSE=0, or --detect-anomaly: eager, no look
    : >"$TMP/hook.log"
    TG_CACHE_DIR="$TMP/c" TG_FUSE=0 TG_TEST_CACHE_HOOK="echo looked >>$TMP/hook.log" tgrad "$e" --at "$TMP/x.npy" >/dev/null
    TG_CACHE_DIR="$TMP/c" TG_TEST_CACHE_HOOK="echo looked >>$TMP/hook.log" tgrad "$e" --at "$TMP/x.npy" \
        --detect-anomaly >/dev/null
    tgrad 'randn(3000)' --seed 7 --no-grad -o "$TMP/small.npy" >/dev/null
    TG_CACHE_DIR="$TMP/c" TG_TEST_CACHE_HOOK="echo looked >>$TMP/hook.log" tgrad "$e" --at "$TMP/small.npy" >/dev/null
    [ ! -s "$TMP/hook.log" ]
}

@test "default path: a float32 sum adds in the eager sum's lanes, where their order decides the value" {
    # 1 at 0, 1e20 at 8 and -1e20 at 72: the eager sum's 64 float32 lanes
    # keep the 1 (lane 0 holds it alone, lane 8 the two big ones); eight
    # lanes would lose it (PyTorch 1.13 gives 1 too)
    awk 'BEGIN { printf "["; for (i = 0; i < 70000; i++) printf "%s%s", i ? "," : "",
                 i == 0 ? "1" : i == 8 ? "1e20" : i == 72 ? "-1e20" : "0"; print "]" }' >"$TMP/x.json"
    tgrad x --at "$TMP/x.json" --no-grad -o "$TMP/x.npy" >/dev/null
    same_three '(x * 1).sum()' --at x="$TMP/x.npy" --no-grad
    run tgrad '(x * 1).sum()' --at x="$TMP/x.npy" --no-grad
    [ "$output" = '{"value":1}' ]
}
