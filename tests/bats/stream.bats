#!/usr/bin/env bats
# Big results written as they are produced, and --batch --jsonl: one line
# per point, the lines --lines prints for the same points.
load helper

@test "a big result is streamed: 40 MB of text under a 50 MB address space" {
    [ -z "${TG_SANITIZE:-}${TG_UNDER_VALGRIND:-}" ] || skip "ulimit -v does not work under ASan or valgrind"
    # a view of one number: built whole first, the text alone needs 40 MB
    run --separate-stderr bash -c "ulimit -v 50000; tgrad 'x.expand(20000000)' --at '[2.0]' --no-grad >'$TMP/out'"
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$(stat -c %s "$TMP/out")" -eq 40000012 ] # {"value":[ 2, ... 2]}
    [ "$(tr -d 2, <"$TMP/out")" = '{"value":[]}' ]
}

@test "streamed results: the same bytes; a tensor that cannot be written leaves nothing out" {
    printf '{"x":[[1.5,-2],[0.1,3]],"y":7}' >"$TMP/in.json"
    run tgrad '(x*y).sum()' --inputs "$TMP/in.json" --pretty --typed
    [ "$output" = '{
  "value": {"data":18.2,"shape":[],"dtype":"float32"},
  "grad": {
    "x": {"data":[[7,7],[7,7]],"shape":[2,2],"dtype":"float32"},
    "y": {"data":2.6,"shape":[],"dtype":"float32"}
  }
}' ]
    # the value is written without trouble, the gradient (shape 5000 x
    # 5000 x 0: 2.5e7 empty arrays) is refused: nothing of the value is out
    local dict="{'descr': '<f4', 'fortran_order': False, 'shape': (5000, 5000, 0), }"
    { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((${#dict} + 1)))\\x00%s\n" "$dict"; } >"$TMP/e.npy"
    fails_with 3 "empty tensor of shape \[5000,5000,0\].*write it as .npy" tgrad 'x.sum()' --at "$TMP/e.npy"
    # standard output gone half way (SIGPIPE ignored, as under Python): status 4, one line
    run --separate-stderr bash -c "trap '' PIPE; tgrad 'x.expand(1000000)' --at '[2.0]' --no-grad | head -c 10 >/dev/null; exit \${PIPESTATUS[0]}"
    [ "$status" -eq 4 ] && [ "${#stderr_lines[@]}" -eq 1 ] && [[ "$stderr" =~ ^tgrad:\ cannot\ write.*Broken\ pipe ]]
}

@test "--batch --jsonl prints the lines --lines prints for the same points" {
    # 300 points of 3 numbers: one --batch run against one --lines run
    awk -v json="$TMP/x.json" 'BEGIN {
        for (i = 0; i < 300; i++) {
            p = sprintf("[%d,%g,%g]", i - 150, i / 7, -i / 3)
            printf "%s%s", i ? "," : "[", p >json
            printf "{\"x\":%s}\n", p
        }
        print "]" >json }' >"$TMP/x.jsonl"
    tgrad '(x*x*x).sum() - 2*x.max()' --at "$TMP/x.json" --batch --jsonl >"$TMP/batch.out"
    tgrad '(x*x*x).sum() - 2*x.max()' --lines <"$TMP/x.jsonl" >"$TMP/lines.out"
    [ "$(wc -l <"$TMP/batch.out")" -eq 300 ]
    cmp "$TMP/batch.out" "$TMP/lines.out"
}

@test "--batch --jsonl: shared variables, --no-grad, and what it refuses" {
    run tgrad '(x*w).sum()' --at x='[[1,2],[3,4]]' --at w='[10,20]' --batch=x --wrt x --jsonl
    [ "$output" = '{"value":50,"grad":{"x":[10,20]}}
{"value":110,"grad":{"x":[10,20]}}' ]
    run tgrad '(x*w).sum()' --at x='[[1,2],[3,4]]' --at w='[10,20]' --batch=x --no-grad --jsonl
    [ "$output" = '{"value":50}
{"value":110}' ]
    # a shared variable's gradient is the sum over the points: no line can hold its own
    fails_with 2 "w is not batched.*--wrt" tgrad '(x*w).sum()' --at x='[[1,2]]' --at w='[10,20]' --batch=x --jsonl
    fails_with 2 "--jsonl .* needs --batch" tgrad x --at 1 --jsonl
    fails_with 2 "--jsonl .*--pretty" tgrad x --at '[1]' --batch --jsonl --pretty
}
