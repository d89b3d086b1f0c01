#!/bin/bash
# alloc_fail.sh -- allocation-failure injection over whole tool runs.
#
# For each command below, runs it with TG_FAIL_ALLOC=N for N = 1, 2, ...
# (lib/core/alloc.c then fails the N-th tg_malloc/tg_calloc/tg_realloc, and only
# that one) until ALLOC_TAIL consecutive runs succeed.  Every run must either
#   - fail with status 4, nothing on standard output, and exactly one line
#     on standard error, "TOOL: ..." mentioning memory (when the allocation
#     was made evaluating an expression, the line may be followed by the
#     expression and a caret, as tgrad(1) describes); or
#   - succeed with exactly the output of the run without injection (an
#     allocation whose failure is tolerated must not change the answer);
# and, under valgrind (used when installed; ALLOC_VALGRIND=0 turns it off),
# have no memory errors and no definite leaks.
#
# Environment: TG_BIN (the tools, default ./bin), ALLOC_JOBS (parallel runs,
# default the number of CPUs), ALLOC_TAIL (default 10), ALLOC_MAX_N (give up
# after this many, default 3000), ALLOC_VALGRIND (1/0), ALLOC_ONLY (run only
# the cases whose name contains it).  Exit status 0 when every run behaved.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
BIN=${TG_BIN:-$PWD/bin}
JOBS=${ALLOC_JOBS:-$(nproc 2>/dev/null || echo 2)}
TAIL=${ALLOC_TAIL:-10}
MAX_N=${ALLOC_MAX_N:-3000}
if [ -z "${ALLOC_VALGRIND:-}" ]; then
    command -v valgrind >/dev/null && ALLOC_VALGRIND=1 || ALLOC_VALGRIND=0
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/alloc_fail.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# a private copy of the tools: a concurrent `make` must not swap them mid-run
mkdir -p "$WORK/tools"
for t in tgrad tmatmul tbroadcast; do
    cp "$BIN/$t" "$WORK/tools/$t" || { echo "alloc_fail: no $BIN/$t (run make first)" >&2; exit 2; }
done
BIN=$WORK/tools

# inputs from files: a .npy (float64, 2x2) and a JSON file
printf '\x93NUMPY\x01\x00\x76\x00' >"$WORK/x.npy"
printf "%-117s\n" "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }" >>"$WORK/x.npy"
printf '\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x08\x40\x00\x00\x00\x00\x00\x00\x10\x40' >>"$WORK/x.npy"
echo '{"x": [[1,2],[3,4]], "w": {"data": [1,0,0,1], "shape": [2,2]}}' >"$WORK/inputs.json"

# name|command (run by bash in $WORK, tools from $BIN first on PATH)
CASES=(
    "tgrad-issue|tgrad '(x@w).tanh().sum() + relu(x).mean()' --at x='[[1,2],[3,4]]' --at w='[[1,0],[0,1]]'"
    "tgrad-chain|tgrad 'g = x**2; y = 3*g + 1; y.sum()' --at '[1,2,3]'"
    "tgrad-files|tgrad 'sum(exp(x) * w, dim=0).mean()' --inputs inputs.json -o out.npy"
    "tgrad-npy|tgrad 'x.T @ x' --at x.npy --grad-output '[[1,1],[1,1]]' -o out.json"
    "tgrad-nograd|tgrad 'softmax(x, dim=1).max()' --at '[[1,2],[3,4]]' --no-grad --dtype float64"
    "tgrad-error|tgrad 'x + [1,2,3]' --at '[1,2]'"
    "tgrad-check|tgrad 'sin(x).sum() * y' --at x='[1,2]' --at y=3 --check"
    "tgrad-jacobian|tgrad 'x * y' --at x='[1,2]' --at y=3 --jacobian"
    "tgrad-hessian|tgrad 'x**3 * y' --at x=2 --at y=3 --hessian"
    "tgrad-jvp|tgrad 'x * y' --at x='[1,2]' --at y=3 --jvp x='[1,1]'"
    "tgrad-outdir|tgrad '(x * y).sum()' --at x='[1,2]' --at y=3 --out-dir d && ls -A d"
    "tgrad-train|tgrad '((x*w+b-y)**2).mean()' --at x='[1,2,3]' --at y='[2,4,6]' --at w=0.0 --at b=0.0 --train w,b --optimizer adam --steps 3 --batch-size 2 --shuffle --log log --save ck && ls -A ck && cat log"
    "tmatmul|tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]'"
    "tmatmul-grad|tmatmul --grad --tb '[[[1,2],[3,4]],[[5,6],[7,8]]]' x.npy"
    "tbroadcast|tbroadcast '[[1],[2],[3]]' '[10,20,30]'"
    "tbroadcast-grad|tbroadcast --op mul --grad '[[1],[2]]' '[1,2,3]' 2"
    "tbroadcast-explain|tbroadcast --explain '[[1],[2]]' '[1,2,3]'"
)

# one run: writes $WORK/r.N.{out,err,st,vg}
run_one() {
    local cmd=$1 n=$2 pre=""
    if [ "$ALLOC_VALGRIND" = 1 ]; then
        mkdir -p "$WORK/vgbin.$n"
        for t in tgrad tmatmul tbroadcast; do
            printf '#!/bin/sh\nexec valgrind -q --suppressions=%s/tests/valgrind.supp --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --log-file=%s "%s/%s" "$@"\n' \
                "$ROOT" "$WORK/r.$n.vg" "$BIN" "$t" >"$WORK/vgbin.$n/$t"
            chmod +x "$WORK/vgbin.$n/$t"
        done
        pre="$WORK/vgbin.$n:"
    fi
    mkdir -p "$WORK/cwd.$n"
    cp "$WORK/x.npy" "$WORK/inputs.json" "$WORK/cwd.$n/"
    (cd "$WORK/cwd.$n" && PATH="$pre$BIN:$PATH" TG_FAIL_ALLOC=$n timeout 120 bash -c "$cmd" \
        >"$WORK/r.$n.out" 2>"$WORK/r.$n.err" </dev/null)
    echo $? >"$WORK/r.$n.st"
    rm -rf "$WORK/cwd.$n" "$WORK/vgbin.$n"
}

# one line; or, for an error inside an expression, the message (ending
# "(at position N)"), the expression's line and a caret
one_line_or_caret() {
    local n
    n=$(wc -l <"$1")
    [ "$n" -eq 1 ] && return 0
    [ "$n" -eq 3 ] && head -1 "$1" | grep -Eq '\(at position [0-9]+\)$' && tail -1 "$1" | grep -Eq '^ +\^$'
}

bad=0
report() { # case n problem
    echo "FAIL $1 TG_FAIL_ALLOC=$2: $3"
    sed 's/^/    | /' "$WORK/r.$2.err" | head -5
    [ -s "$WORK/r.$2.vg" ] && sed 's/^/    vg| /' "$WORK/r.$2.vg" | head -40
    bad=$((bad + 1))
}

for c in "${CASES[@]}"; do
    name=${c%%|*} cmd=${c#*|}
    [ -n "${ALLOC_ONLY:-}" ] && [[ $name != *$ALLOC_ONLY* ]] && continue
    # the reference run, without injection
    run_one "$cmd" 0
    base_st=$(cat "$WORK/r.0.st")
    cp "$WORK/r.0.out" "$WORK/base.out"
    tool=${cmd%% *}
    if [ "$base_st" != 0 ] && [ "$name" != tgrad-error ]; then
        report "$name" 0 "the run without injection fails (status $base_st)"
        continue
    fi
    n=1 ok_run=0 nfail=0 t0=$SECONDS
    while [ $ok_run -lt "$TAIL" ] && [ $n -le "$MAX_N" ]; do
        for ((k = n; k < n + JOBS; k++)); do run_one "$cmd" $k & done
        wait
        for ((k = n; k < n + JOBS; k++)); do
            st=$(cat "$WORK/r.$k.st")
            if [ -s "$WORK/r.$k.vg" ] || [ "$st" = 99 ]; then
                report "$name" $k "valgrind reports an error or a leak (status $st)"
            elif [ "$st" = "$base_st" ] && cmp -s "$WORK/r.$k.out" "$WORK/base.out" &&
                 { [ "$st" = 0 ] || cmp -s "$WORK/r.$k.err" "$WORK/r.0.err"; }; then
                ok_run=$((ok_run + 1)) # as without injection
            elif [ "$st" = 0 ]; then
                report "$name" $k "succeeded with different output: $(head -c 200 "$WORK/r.$k.out")"
            elif [ "$st" = 124 ]; then
                report "$name" $k "timed out"
            elif [ "$st" -gt 128 ]; then
                report "$name" $k "killed by signal $((st - 128))"
            elif [ "$st" != 4 ]; then
                report "$name" $k "status $st, expected 4"
            elif [ -s "$WORK/r.$k.out" ]; then
                report "$name" $k "standard output not empty: $(head -c 200 "$WORK/r.$k.out")"
            elif ! one_line_or_caret "$WORK/r.$k.err"; then
                report "$name" $k "expected one line on standard error (or message, expression, caret), got $(wc -l <"$WORK/r.$k.err")"
            elif ! head -1 "$WORK/r.$k.err" | grep -Eq "^$tool: .*memory"; then
                report "$name" $k "the message does not mention memory"
            else
                ok_run=0 nfail=$((nfail + 1))
            fi
            rm -f "$WORK/r.$k".*
        done
        n=$((n + JOBS))
    done
    if [ $n -gt "$MAX_N" ]; then
        echo "FAIL $name: still failing after $MAX_N injections"
        bad=$((bad + 1))
    fi
    printf '%-20s %4d injected failures exited 4 with one line about memory (N = 1..%d; %ds%s)\n' \
        "$name" $nfail $((n - 1)) $((SECONDS - t0)) "$([ "$ALLOC_VALGRIND" = 1 ] && echo ", valgrind")"
done
if [ $bad -gt 0 ]; then
    echo "alloc_fail: $bad problem(s)"
    exit 1
fi
echo "alloc_fail: all runs behaved"
