#!/usr/bin/env bats
# tgrad --lines in pipelines: a result for each line at once when a
# script waits for it, --keep-going's error records, --id, --line-offset,
# blank lines.  Every line of output must be valid JSON.
load helper

# each line of $1 parses as JSON (and there is at least one)
all_json() {
    [ -n "$1" ] || { echo "no output"; return 1; }
    printf '%s\n' "$1" | python3 -c '
import json, sys
for n, line in enumerate(sys.stdin, 1):
    try:
        json.loads(line)
    except ValueError as e:
        sys.exit("line %d is not JSON (%s): %r" % (n, e, line))'
}

@test "--lines answers each line at once to a coprocess that waits for it" {
    # one line written, its result read (10 s at most), then the next:
    # with the results held in a block buffer the first read times out
    run bash -c '
        coproc T { exec tgrad "x*2" --lines; }
        pid=$T_PID # (bash unsets T_PID once the coprocess has ended)
        for x in 1 2 3; do
            echo "{\"x\":$x}" >&"${T[1]}"
            read -t 10 -r reply <&"${T[0]}" || { echo "no result for x=$x"; exit 1; }
            echo "$reply"
        done
        w=${T[1]}
        exec {w}>&-
        wait "$pid"'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = '{"value":2,"grad":{"x":2}}' ]
    [ "${lines[2]}" = '{"value":6,"grad":{"x":2}}' ]
    [ "${#lines[@]}" -eq 3 ]
}

@test "--unbuffered writes each result by itself even when the input is a file" {
    command -v strace >/dev/null || skip "strace is not installed"
    [ -z "${TG_SANITIZE:-}${TG_UNDER_VALGRIND:-}" ] || skip "LeakSanitizer and valgrind do not work under strace"
    printf '{"x":1}\n{"x":2}\n{"x":3}\n' >"$TMP/in"
    strace -f -e trace=write -o "$TMP/trace" true 2>/dev/null || skip "strace cannot trace here"
    strace -f -e trace=write -o "$TMP/trace" "$(command -v tgrad)" 'x*2' --lines --unbuffered <"$TMP/in" >"$TMP/out"
    [ "$(grep -c 'write(1,' "$TMP/trace")" -eq 3 ]
    [ "$(wc -l <"$TMP/out")" -eq 3 ]
    # without it a file's results go out together: the output is the same
    run --separate-stderr tgrad 'x*2' --lines <"$TMP/in"
    [ "$output" = "$(cat "$TMP/out")" ]
}

@test "--keep-going: a bad line gets an error record in its place and the run goes on" {
    printf '{"x":1}\n{"x":[1,2}\n{"x":"two"}\n{"x":4}\n' >"$TMP/in"
    run --separate-stderr tgrad 'x*2' --lines --keep-going <"$TMP/in"
    [ "$status" -eq 3 ]
    [ "${#lines[@]}" -eq 4 ]
    [ "${lines[0]}" = '{"value":2,"grad":{"x":2}}' ]
    [[ "${lines[1]}" == '{"line":2,"error":"expected '* ]]
    [[ "${lines[2]}" == '{"line":3,"error":"'*'\"two\"'* ]]
    [ "${lines[3]}" = '{"value":8,"grad":{"x":2}}' ]
    all_json "$output"
    # one line on stderr: the first failure, and how many failed
    [ "$(echo "$stderr" | wc -l)" -eq 1 ]
    [[ "$stderr" == "tgrad: line 2: expected "*"(2 lines failed in all;"* ]]
}

@test "--keep-going: the status is the highest of the failures (4 for resources over 3)" {
    [ -z "${TG_SANITIZE:-}${TG_UNDER_VALGRIND:-}" ] || skip "ulimit -v does not work under ASan or valgrind"
    # line 1: bad JSON (status 3); line 3: 30000 x 30000 floats, over ulimit -v (status 4)
    { echo '{"x":[}'; echo '{"x":[1]}'; echo "{\"x\":[$(seq -s, 30000 | sed 's/[0-9]*/1/g')]}"; } >"$TMP/in"
    run --separate-stderr bash -c "ulimit -v 2000000; tgrad '(x.expand(30000,-1)*2).sum()' --lines --keep-going <'$TMP/in'"
    [ "$status" -eq 4 ]
    [ "${#lines[@]}" -eq 3 ]
    [ "${lines[1]}" = '{"value":60000,"grad":{"x":[60000]}}' ]
    [[ "${lines[2]}" == '{"line":3,"error":"out of memory'* ]]
    all_json "$output"
    [[ "$stderr" == "tgrad: line 1: "* ]]
}

@test "--keep-going: a line that fails as a usage error gives status 2, the others still run" {
    run --separate-stderr sh -c "printf '{\"x\":1}\n{\"x\":1,\"w\":2}\n{\"x\":3}\n' | tgrad 'x*w' --at w=10 --lines --keep-going"
    [ "$status" -eq 2 ]
    [ "${lines[1]}" = '{"line":2,"error":"variable '"'w'"' is given twice"}' ]
    [ "${lines[2]}" = '{"value":30,"grad":{"w":3,"x":10}}' ]
}

@test "without --keep-going the first bad line still stops the run" {
    run --separate-stderr sh -c "printf '{\"x\":1}\n{\"x\":[}\n{\"x\":3}\n' | tgrad 'x*2' --lines"
    [ "$status" -eq 3 ]
    [ "$output" = '{"value":2,"grad":{"x":2}}' ]
    [[ "$stderr" == "tgrad: line 2: "* ]]
}

@test "--keep-going: an error message's quotes, backslashes and control characters stay valid JSON" {
    # the message quotes the bad text: a backslash escape and a quote
    run --separate-stderr sh -c "printf '%s\n' '{\"x\":\"\\\\t\\\"\"}' '{\"x\\\\q\":1}' '{\"x\":1,\"x\":2}' | tgrad 'x*2' --lines --keep-going"
    [ "$status" -eq 3 ]
    [ "${#lines[@]}" -eq 3 ]
    all_json "$output"
}

@test "--id: the key is copied verbatim as the first member, not bound as a variable" {
    printf '%s\n' '{"id":7,"x":1}' '{"x":2,"id":"b"}' '{"id":[1, {"k":null}],"x":3}' '{"x":4}' >"$TMP/in"
    run --separate-stderr tgrad 'x*2' --lines --id id <"$TMP/in"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = '{"id":7,"value":2,"grad":{"x":2}}' ]
    [ "${lines[1]}" = '{"id":"b","value":4,"grad":{"x":2}}' ]
    [ "${lines[2]}" = '{"id":[1, {"k":null}],"value":6,"grad":{"x":2}}' ]
    [ "${lines[3]}" = '{"value":8,"grad":{"x":2}}' ]
    all_json "$output"
}

@test "--id: a float id is not differentiated, and a string id no longer stops the run" {
    run --separate-stderr sh -c "echo '{\"id\":7.5,\"x\":1}' | tgrad 'x*2' --lines --id id"
    [ "$status" -eq 0 ]
    [ "$output" = '{"id":7.5,"value":2,"grad":{"x":2}}' ]
}

@test "--id with --keep-going: the error record carries the id when it could be read" {
    printf '%s\n' '{"id":"a","x":[1,2}' '{"x":[},"id":"b"}' '{"id":"c","x":"s"}' '{"id":"d","x":1}' >"$TMP/in"
    run --separate-stderr tgrad 'x*2' --lines --id id --keep-going <"$TMP/in"
    [ "$status" -eq 3 ]
    [[ "${lines[0]}" == '{"id":"a","line":1,"error":"'* ]]
    [[ "${lines[1]}" == '{"line":2,"error":"'* ]]
    [[ "${lines[2]}" == '{"id":"c","line":3,"error":"'* ]]
    [ "${lines[3]}" = '{"id":"d","value":2,"grad":{"x":2}}' ]
    all_json "$output"
}

@test "--id: a key given twice on a line is an error; a key with quotes is escaped in the output" {
    run --separate-stderr sh -c "echo '{\"id\":1,\"id\":2,\"x\":1}' | tgrad 'x*2' --lines --id id"
    [ "$status" -eq 3 ]
    [[ "$stderr" == "tgrad: line 1: duplicate name 'id'"* ]]
    run --separate-stderr sh -c "echo '{\"a\\\"b\":1,\"x\":1}' | tgrad 'x*2' --lines --id 'a\"b'"
    [ "$status" -eq 0 ]
    [ "$output" = '{"a\"b":1,"value":2,"grad":{"x":2}}' ]
    all_json "$output"
}

@test "--line-offset N: line numbers in errors count from N+1" {
    run --separate-stderr sh -c "printf '{\"x\":1}\n{\"x\":[}\n' | tgrad 'x*2' --lines --line-offset 1000"
    [ "$status" -eq 3 ]
    [[ "$stderr" == "tgrad: line 1002: "* ]]
    run --separate-stderr sh -c "printf '{\"x\":[}\n' | tgrad 'x*2' --lines --keep-going --line-offset 5"
    [[ "${lines[0]}" == '{"line":6,"error":'* ]]
    fails_with 2 'line-offset' tgrad x --lines --line-offset -1
    fails_with 2 'line-offset' tgrad x --lines --line-offset 99999999999999999999
}

@test "blank lines are skipped but counted: the numbers stay the input's" {
    run --separate-stderr sh -c "printf '{\"x\":1}\n\n  \t\r\n{\"x\":[}\n' | tgrad 'x*2' --lines --keep-going"
    [ "$status" -eq 3 ]
    [ "${#lines[@]}" -eq 2 ]
    [[ "${lines[1]}" == '{"line":4,"error":'* ]]
}

@test "the --lines options need --lines" {
    for opt in --keep-going --unbuffered '--id=id' '--line-offset=3'; do
        fails_with 2 'go with --lines' tgrad x --at 1 "$opt"
    done
}
