#!/usr/bin/env bats
# progress.bats -- progress lines on standard error (lib/core/progress.c):
# with --progress they come (TG_PROGRESS_INTERVAL_MS=0: at once, so that
# no test waits or times anything), without it and without a terminal
# nothing is written; standard output is the same either way.

load helper

setup_file() {
    export TG_PROGRESS_INTERVAL_MS=0
}

@test "tgrad --lines --progress: lines done and the count at the end; nothing without --progress" {
    printf '{"x":1}\n{"x":2}\n{"x":3}\n' > "$TMP/in.jsonl"
    run --separate-stderr tgrad 'x**2' --lines --progress < "$TMP/in.jsonl"
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 3 ]
    [[ "$stderr" == *"tgrad: 1 lines, "*" lines/s"* ]]
    [[ "$(printf '%s\n' "$stderr" | tail -1)" == "tgrad: 3 lines, "*" lines/s" ]]
    local with=$output
    run --separate-stderr tgrad 'x**2' --lines < "$TMP/in.jsonl"
    [ "$status" -eq 0 ] && [ -z "$stderr" ] && [ "$output" = "$with" ]
}

@test "tmatmul --progress: the product and its gradients say so; nothing without --progress" {
    run --separate-stderr tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --grad --progress
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"tmatmul: computing 2x2 @ 2x2... 0s"* ]]
    [[ "$stderr" == *"tmatmul: computing 2x2 @ 2x2: done in "* ]]
    [[ "$stderr" == *"tmatmul: computing the gradients: done in "* ]]
    local with=$output
    run --separate-stderr tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --grad
    [ "$status" -eq 0 ] && [ -z "$stderr" ] && [ "$output" = "$with" ]
}

@test "tgrad --compile --progress: the first run's compilation says so, the cached one does not" {
    command -v "${TG_CC:-cc}" >/dev/null || skip "no C compiler"
    export TG_CACHE_DIR="$TMP/cache" TG_DEVICE=cpu
    tgrad 'randn(5000)' --seed 1 --no-grad -o "$TMP/x.npy" >/dev/null
    run --separate-stderr tgrad 'sum(x*x+3)' --at "$TMP/x.npy" --compile --progress --no-grad
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"tgrad: compiling... "*"s (first run; cached afterwards)"* ]]
    [[ "$(printf '%s\n' "$stderr" | tail -1)" == "tgrad: compiled in "*"s (cached for the next runs)" ]]
    run --separate-stderr tgrad 'sum(x*x+3)' --at "$TMP/x.npy" --compile --progress --no-grad
    [ "$status" -eq 0 ] && [ -z "$stderr" ]
}
