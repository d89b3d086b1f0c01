#!/usr/bin/env bats
# Sharding tgrad --lines over processes with GNU parallel (README, "More
# than one machine"): the same bytes as one process, errors included.
load helper

# GNU parallel, not moreutils' parallel of the same name
gnu_parallel() {
    parallel --version 2>/dev/null | grep -q 'GNU parallel' || skip "GNU parallel is not installed"
}

@test "parallel --pipe -k -N with --line-offset gives one process's output byte for byte" {
    gnu_parallel
    # 30 lines in jobs of 11: a bad line first in job 2 (line 12), a blank
    # line last in job 3 (line 30), a line too short for the expression
    awk 'BEGIN { for (i = 1; i <= 30; i++)
                     if (i == 12) print "{\"x\": oops}"; else if (i == 30) print ""
                     else if (i == 25) print "{\"x\":[1]}"; else printf "{\"x\":[%g,%g]}\n", i / 7, -i }' >"$TMP/in"
    run -3 --separate-stderr bash -c "tgrad 'x[1]*(x*x).sum()' --lines --keep-going <'$TMP/in' >'$TMP/one'"
    # the recipe: -N is line-exact, so job {#} starts after ({#}-1)*N lines
    export TG_NUM_THREADS=1
    run --separate-stderr bash -c "parallel --will-cite --pipe -k -N 11 -j 2 \
        \"tgrad 'x[1]*(x*x).sum()' --lines --keep-going --line-offset \\\$(( ({#} - 1) * 11 ))\" <'$TMP/in' >'$TMP/shards'"
    [ "$status" -eq 2 ] # parallel's: the number of jobs that failed (2 and 3)
    cmp "$TMP/one" "$TMP/shards"
    [ "$(sed -n 12p "$TMP/shards")" = '{"line":12,"error":"expected a JSON value at offset 6, found '"'oops'"'"}' ]
    grep -q '^{"line":25,"error":"index 1 is out of bounds' "$TMP/shards"
    [ "$(wc -l <"$TMP/shards")" -eq 29 ]
}

@test "points in .npy shards: --batch --out-dir per shard, tbroadcast --cat merges" {
    cd "$TMP"
    tgrad 'torch.arange(10.0).reshape(5,2)' --no-grad -o pts.npy >/dev/null
    tgrad '(x*x).sum()' --at x=pts.npy --batch --out-dir one >/dev/null
    for k in 0 1; do
        tgrad "x[$((k * 3)):$((k * 3 + 3))]" --at x=pts.npy --no-grad -o part-$k.npy >/dev/null
        tgrad '(x*x).sum()' --at x=part-$k.npy --batch --out-dir out-$k >/dev/null
    done
    tbroadcast --cat out-*/value.npy -o value.npy
    tbroadcast --cat out-*/grad_x.npy -o grad_x.npy
    cmp one/value.npy value.npy
    cmp one/grad_x.npy grad_x.npy
}
