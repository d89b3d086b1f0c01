#!/usr/bin/env bats
# --lines through the default path's kept plan (lib/compile/compile.c):
# from the second line of the same names, dtypes and shapes, a line is
# evaluated by the fused plan, its one-value variables the plan's inputs.
# Its output must be the eager path's (TG_FUSE=0) byte for byte, for
# random programs, over lines whose shapes change now and then.
load helper

# lines of x and y: runs of one-value lines, then of arrays, then of
# one-value lines again (a kept key replaced and made again), with zeros,
# a negative zero, large values and a bad line among them
lines() {
    awk 'BEGIN {
        srand(11)
        for (i = 0; i < 90; i++) {
            if (i == 40) { print "{\"x\": \"bad\", \"y\": 1.5}"; continue }
            if (i >= 30 && i < 50) {
                printf "{\"x\": [%.4f, %.4f, 0.0], \"y\": [%.4f, -0.0, %.4f]}\n", rand() * 6 - 3, rand() * 6 - 3, rand() * 6 - 3, rand() * 6 - 3
                continue
            }
            r = rand()
            x = r < 0.05 ? "0.0" : r < 0.1 ? "-0.0" : r < 0.13 ? "1e30" : sprintf("%.6f", rand() * 6 - 3)
            printf "{\"x\": %s, \"y\": %.5f}\n", x, rand() * 4 - 2
        }
    }'
}

@test "--lines: the default path's bytes are the eager path's, line after line, for random programs" {
    lines >"$TMP/in.jsonl"
    local p q n=0
    while IFS= read -r p; do
        # each program summed (fused at the array lines) and not (fused at the one-value lines)
        for q in "$p" "${p#sum}"; do
            # (status 3: the bad line, whose error record is among the results)
            local se=0 sd=0
            TG_FUSE=0 tgrad "$q" --lines --keep-going <"$TMP/in.jsonl" >"$TMP/eager.out" 2>/dev/null || se=$?
            tgrad "$q" --lines --keep-going <"$TMP/in.jsonl" >"$TMP/default.out" 2>/dev/null || sd=$?
            [ "$se" -eq 3 ] && [ "$sd" -eq 3 ]
            cmp "$TMP/eager.out" "$TMP/default.out" || { echo "differs: $q"; diff "$TMP/eager.out" "$TMP/default.out" | head -5; return 1; }
            [ "$(wc -l <"$TMP/default.out")" -eq 90 ]
            n=$((n + 1))
        done
    done < <(random_programs 6 5; echo "sum(x**3+2*x**2-5*x+3 + y*0)")
    [ "$n" -eq 14 ]
}

@test "--lines: the seed polynomial's results, the same with its plan kept" {
    printf '{"x": %s}\n' 2 0.5 -1.25 0.0 -0.0 3 >"$TMP/in.jsonl"
    tgrad 'x**3+2*x**2-5*x+3' --lines <"$TMP/in.jsonl" >"$TMP/default.out"
    TG_FUSE=0 tgrad 'x**3+2*x**2-5*x+3' --lines <"$TMP/in.jsonl" >"$TMP/eager.out"
    cmp "$TMP/eager.out" "$TMP/default.out"
    [ "$(sed -n 2p "$TMP/default.out")" = '{"value":1.125,"grad":{"x":-2.25}}' ]
}
