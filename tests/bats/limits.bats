#!/usr/bin/env bats
# Sizes come from the data: many variables, options, expressions and long
# names give correct results, not a crash, truncated JSON or a hidden cap.

load helper

# inputs N FILE: a JSON object {"v0": 0.0, "v1": 1.0, ...} of N variables
inputs() {
    python3 -c 'import json, sys; print(json.dumps({f"v{i}": float(i) for i in range(int(sys.argv[1]))}))' "$1" >"$2"
}

@test "--hessian of 40 variables: valid JSON with the right 1600 blocks (was a crash, status 139)" {
    inputs 40 "$TMP/in.json"
    run --separate-stderr tgrad 'v2*v3' --inputs "$TMP/in.json" --hessian
    [ "$status" -eq 0 ]
    echo "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
h = d["hessian"]
assert d["value"] == 6, d["value"]
assert len(h) == 40 and all(len(row) == 40 for row in h.values())
for a in h:
    for b in h[a]:
        want = 1 if {a, b} == {"v2", "v3"} else 0
        assert h[a][b] == want, (a, b, h[a][b])
'
}

@test "--check of 40 variables: the whole report as valid JSON (was truncated at 4096 bytes)" {
    inputs 40 "$TMP/in.json"
    run --separate-stderr tgrad '(v1*v2).sum() + v39**2' --inputs "$TMP/in.json" --check
    [ "$status" -eq 0 ]
    echo "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
c = d["check"]
assert c["passed"] is True and len(c["variables"]) == 40, c
assert d["grad"]["v39"] == 78 and d["grad"]["v1"] == 2
'
}

@test "300 variables from --inputs: a grad object of 300 keys" {
    inputs 300 "$TMP/in.json"
    run --separate-stderr tgrad 'v0*v299' --inputs "$TMP/in.json"
    [ "$status" -eq 0 ]
    echo "$output" | python3 -c '
import json, sys
g = json.load(sys.stdin)["grad"]
assert len(g) == 300, len(g)
assert g["v0"] == 299 and g["v299"] == 0 and g["v5"] == 0
'
    # and a line of --lines (its arrays were 256 long)
    run --separate-stderr tgrad 'v0*v299' --lines <"$TMP/in.json"
    [ "$status" -eq 0 ]
    echo "$output" | python3 -c 'import json, sys; assert len(json.load(sys.stdin)["grad"]) == 300'
}

@test "300 --at options (was: at most 256)" {
    args=()
    for i in $(seq 0 299); do args+=(--at "v$i=$i.0"); done
    run --separate-stderr tgrad 'v1*v2*v299' "${args[@]}" --wrt v1,v2
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":598,"grad":{"v1":598,"v2":299}}' ]
}

@test "300 --jvp options: the last tangent counts (was: too many --jvp options)" {
    args=()
    for i in $(seq 300); do args+=(--jvp "$i"); done
    run --separate-stderr tgrad '2*x' --at 3.0 "${args[@]}"
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":6,"jvp":600}' ]
}

@test "100 expressions, one backward pass each (was: at most 65)" {
    exprs=()
    for k in $(seq 100); do exprs+=("$k*x"); done
    run --separate-stderr tgrad "${exprs[@]}" --at 2.0 --accumulate
    [ "$status" -eq 0 ]
    echo "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["values"] == [2 * k for k in range(1, 101)], d["values"]
assert d["grad"] == {"x": 5050}, d["grad"]
'
    run --separate-stderr tgrad "${exprs[@]}" --at 2.0
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 100 ]
    [ "${lines[99]}" = '{"value":200,"grad":{"x":100}}' ]
}

@test "a variable name of 300 characters in --at NAME=VALUE and --wrt (was: 127)" {
    name=$(printf 'a%.0s' $(seq 300))
    run --separate-stderr tgrad "$name*y" --at "$name=2.0" --at y=3.0 --wrt "$name"
    [ "$status" -eq 0 ]
    [ "$output" = "{\"value\":6,\"grad\":{\"$name\":3}}" ]
}
