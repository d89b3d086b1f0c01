#!/usr/bin/env bats
# about 29 s, sanitized 34 s: run_bats.sh starts the longest first
# tgrad --compile: the generated loop (lib/compile/fused_codegen.c, lib/compile/jit.c) gives
# the eager values and gradients byte for byte, and its cache folder is used
# safely; without a compiler or a usable folder the kernels run instead.
load helper

# a C compiler that logs each call, then runs the real one
logging_cc() {
    cat >"$TMP/cc" <<EOF
#!/bin/sh
echo called >>"$TMP/cc.log"
exec cc "\$@"
EOF
    chmod +x "$TMP/cc"
    : >"$TMP/cc.log"
}

# same_as_eager EXPR FILE [ARGS]: --compile writes the eager bytes; a sum()
# only to float rounding (its blocks are added in another order, tgrad(1))
same_as_eager() {
    local e=$1 x=$2 a b
    shift 2
    tgrad "$e" --at "$x" --out-dir "$TMP/eager" "$@" >/dev/null 2>&1 || { echo "eager failed: $e"; return 1; }
    tgrad "$e" --at "$x" --out-dir "$TMP/compiled" --compile "$@" >/dev/null 2>&1 || { echo "compiled failed: $e"; return 1; }
    for f in "$TMP"/eager/*.npy; do
        [[ "$e" == sum\(*\) && "${f##*/}" == value.npy ]] && continue
        cmp "$f" "$TMP/compiled/${f##*/}" || { echo "differs: $e ($*): ${f##*/}"; return 1; }
    done
    if [[ "$e" == sum\(*\) ]]; then
        a=$(tgrad "$e" --at "$x" --no-grad "$@" 2>/dev/null | sed 's/.*"value":\([^,}]*\).*/\1/')
        b=$(tgrad "$e" --at "$x" --no-grad --compile "$@" 2>/dev/null | sed 's/.*"value":\([^,}]*\).*/\1/')
        awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a;
            exit !(a == b || d <= 1e-6 * m) }' || { echo "sum differs: $e: $a vs $b"; return 1; }
    fi
}

setup_file() {
    export TG_CACHE_DIR="$BATS_FILE_TMPDIR/cache"
    # these are the CPU's generated loops (tests/gpu/run.sh runs the suite with
    # TG_DEVICE=cuda; --compile on cuda is cuda_emulated.bats's)
    export TG_DEVICE=cpu
}

@test "--compile: every kind of op, float32 and float64, the eager bytes, through generated code" {
    for dt in float double; do
        tgrad "$dt(randn(20000) * 2)" --seed 3 --no-grad -o "$TMP/x.npy" >/dev/null
        for e in 'sum(exp(x) + log(abs(x) + 1) + sqrt(abs(x)))' 'sum(sin(x) * cos(x) - tan(x) / 3)' \
                 'sum(tanh(x)**2)' 'sum(sigmoid(x) + relu(x) * abs(x) + sign(x))' \
                 'sum(log1p(abs(x)) + expm1(x / 4) + erf(x) + softplus(x))' \
                 'sum(x**3 + 2*x**2 - 5*x + 3)' 'sum(x**0.5 + x**-1 + x**-2 + x**1 + x**2.5)' \
                 'sum(maximum(x, 0.5) - minimum(x, -0.5))' 'sum(where(x > 0, x * x, -x) + (x <= 1) * 2.0)' \
                 'sum(x / (1 + x * x))' 'sum(tanh(x) * x)' 'sum(-x * 3 + x - 1)' \
                 'sum(tanh(double(x)) * float(x))' 'sum(clamp(x, -1, 1) * exp(x))'; do
            same_as_eager "$e" "$TMP/x.npy"
        done
    done
    # an object per program and dtype (and more for the --no-grad sums): every
    # one of them was fused and compiled
    [ "$(ls "$TG_CACHE_DIR"/fused-*.so | wc -l)" -ge 28 ]
    [ "$(ls "$TG_CACHE_DIR"/fused-*.c | wc -l)" -ge 28 ]
}

@test "--compile with two variables, a constant and an upstream gradient: the eager bytes" {
    tgrad 'randn(9000)' --seed 4 --no-grad -o "$TMP/a.npy" >/dev/null
    tgrad 'randn(9000)' --seed 5 --no-grad -o "$TMP/b.npy" >/dev/null
    tgrad 'rand(9000)' --seed 6 --no-grad -o "$TMP/g.npy" >/dev/null
    tgrad 'sum(a * tanh(b) + a**2 * c)' --at a="$TMP/a.npy" --at b="$TMP/b.npy" --at c=0.25 --out-dir "$TMP/eager" >/dev/null
    tgrad 'sum(a * tanh(b) + a**2 * c)' --at a="$TMP/a.npy" --at b="$TMP/b.npy" --at c=0.25 --out-dir "$TMP/compiled" --compile >/dev/null
    for f in value grad_a grad_b; do cmp "$TMP/eager/$f.npy" "$TMP/compiled/$f.npy"; done
    tgrad 'a * sigmoid(b)' --at a="$TMP/a.npy" --at b="$TMP/b.npy" --grad-output "$TMP/g.npy" --out-dir "$TMP/eager2" >/dev/null
    tgrad 'a * sigmoid(b)' --at a="$TMP/a.npy" --at b="$TMP/b.npy" --grad-output "$TMP/g.npy" --out-dir "$TMP/compiled2" --compile >/dev/null
    for f in value grad_a grad_b; do cmp "$TMP/eager2/$f.npy" "$TMP/compiled2/$f.npy"; done
}

@test "--compile: a constant's new value is used, not the one the first call saw" {
    tgrad 'randn(9000)' --seed 4 --no-grad -o "$TMP/x.npy" >/dev/null
    run tgrad 'sum(x * 0 + c)' --at x="$TMP/x.npy" --at c=2 --compile
    [ "$status" -eq 0 ]
    [[ "$output" == '{"value":18000,'* ]]
    run tgrad 'sum(x * 0 + c)' --at x="$TMP/x.npy" --at c=3 --compile
    [[ "$output" == '{"value":27000,'* ]]
}

@test "--compile compiles a program once; later runs load it; a damaged object is rebuilt" {
    logging_cc
    tgrad 'randn(9000)' --seed 4 --no-grad -o "$TMP/x.npy" >/dev/null
    # same_as_eager compiles two programs: with gradients, and --no-grad
    TG_CC="$TMP/cc" same_as_eager 'sum(cos(x) * x**3)' "$TMP/x.npy"
    [ "$(wc -l <"$TMP/cc.log")" -eq 2 ]
    TG_CC="$TMP/cc" same_as_eager 'sum(cos(x) * x**3)' "$TMP/x.npy"
    [ "$(wc -l <"$TMP/cc.log")" -eq 2 ]
    for so in "$TG_CACHE_DIR"/fused-*.so; do echo garbage >"$so"; done
    TG_CC="$TMP/cc" same_as_eager 'sum(cos(x) * x**3)' "$TMP/x.npy"
    [ "$(wc -l <"$TMP/cc.log")" -eq 4 ]
    # an object whose kept source is not the program's is never loaded
    for c in "$TG_CACHE_DIR"/fused-*.c; do echo '/* changed */' >>"$c"; done
    TG_CC="$TMP/cc" same_as_eager 'sum(cos(x) * x**3)' "$TMP/x.npy"
    [ "$(wc -l <"$TMP/cc.log")" -eq 6 ]
}

@test "--compile without a compiler, with TG_JIT=0 or without a usable cache folder: the same bytes, nothing built" {
    tgrad 'randn(9000)' --seed 8 --no-grad -o "$TMP/x.npy" >/dev/null
    e='sum(sigmoid(x)**2.5 + exp(-x*x))'
    TG_CACHE_DIR="$TMP/c1" TG_CC=/nonexistent/cc same_as_eager "$e" "$TMP/x.npy"
    TG_CACHE_DIR="$TMP/c2" TG_JIT=0 same_as_eager "$e" "$TMP/x.npy"
    [ -z "$(ls -A "$TMP/c1" 2>/dev/null)" ]
    [ ! -e "$TMP/c2" ]
    # a folder others can write to is not used: its objects could be anyone's
    mkdir "$TMP/open" && chmod 777 "$TMP/open"
    TG_CACHE_DIR="$TMP/open" same_as_eager "$e" "$TMP/x.npy"
    [ -z "$(ls -A "$TMP/open")" ]
    : >"$TMP/afile"
    TG_CACHE_DIR="$TMP/afile" same_as_eager "$e" "$TMP/x.npy"
    # a compiler that fails
    printf '#!/bin/sh\nexit 1\n' >"$TMP/badcc" && chmod +x "$TMP/badcc"
    TG_CACHE_DIR="$TMP/c3" TG_CC="$TMP/badcc" same_as_eager "$e" "$TMP/x.npy"
    [ -z "$(ls "$TMP/c3" | grep -v '^tmp-' || true)" ]
    # a compiler that never finishes is stopped after TG_JIT_TIMEOUT seconds
    printf '#!/bin/sh\nsleep 100\n' >"$TMP/slowcc" && chmod +x "$TMP/slowcc"
    SECONDS=0
    TG_CACHE_DIR="$TMP/c4" TG_CC="$TMP/slowcc" TG_JIT_TIMEOUT=1 same_as_eager "$e" "$TMP/x.npy"
    [ "$SECONDS" -lt 30 ]
    [ -z "$(ls "$TMP/c4" | grep -v '^tmp-' || true)" ]
}

@test "--compile: 40 random programs of two variables (10 under the sanitizers), float32 and float64, the eager bytes" {
    local before n=20
    # under the sanitizers 5 of each (the same library code per program;
    # CI's ten minutes)
    [ -z "${TG_SANITIZE:-}" ] || n=5
    before=$(ls "$TG_CACHE_DIR" 2>/dev/null | grep -c '[.]so$' || true)
    for dt in float double; do
        tgrad "$dt(randn(5000) * 2)" --seed 11 --no-grad -o "$TMP/x.npy" >/dev/null
        tgrad "$dt(randn(5000) * 2)" --seed 12 --no-grad -o "$TMP/y.npy" >/dev/null
        while IFS= read -r e; do
            same_as_eager "$e" "x=$TMP/x.npy" --at "y=$TMP/y.npy"
        done < <(random_programs $n "$([ $dt = float ] && echo 1 || echo 2)")
    done
    # the programs were fused and compiled, with gradients and --no-grad:
    # 4n loops, fewer objects where two have the same shape (the functions a
    # loop calls are passed to it when it runs, so they share one)
    [ "$(ls "$TG_CACHE_DIR" | grep -c '[.]so$')" -ge $((before + 3 * n)) ]
}

@test "--compile: a program too large to compile quickly runs through the kernels, with the same bytes" {
    tgrad 'randn(9000)' --seed 9 --no-grad -o "$TMP/x.npy" >/dev/null
    e="sum($(for i in $(seq 1 100); do printf 'tanh(x*%d)+' "$i"; done)x)"
    TG_CACHE_DIR="$TMP/big" same_as_eager "$e" "$TMP/x.npy"
    [ -z "$(ls -A "$TMP/big" 2>/dev/null)" ]
}

@test "--compile: a program that reduces inside (mean, sum, amax, softmax) is not fused: the eager numbers" {
    # a regression: the probe took such a value, computed over its one
    # block, for a constant
    tgrad 'randn(20000)' --seed 2 --no-grad -o "$TMP/x.npy" >/dev/null
    # (and a count of elements, sum(ones_like(x)): the probe took its
    # block's count for the constant)
    for e in 'sum(x - mean(x))' 'sum(x * x.sum())' 'sum(softmax(x, 0) * x)' 'sum(x * amax(x))' \
             'sum(tanh(x) / sum(x * x))' 'sum(x * sum(ones_like(x)))'; do
        same_as_eager "$e" "$TMP/x.npy"
    done
}

@test "--compile: programs that read or change shapes run eagerly, with the eager numbers and shapes" {
    # regressions: the probe saw a 2-D variable as one flat block, so .T,
    # .ndim, .shape, flatten and unsqueeze gave the block's answers, and
    # dims beyond the first were errors
    tgrad 'randn(8, 1024)' --seed 3 --no-grad -o "$TMP/m.npy" >/dev/null
    for e in 'x.T * 2' 'x * x.ndim' 'x * x.shape[1]' 'x.flatten() * 2' 'x.unsqueeze(0) * 2' \
             'x.reshape(1024, 8) * 2' 'x.sum(1)' 'sum(x.sum(1) * 2)' 'x.mT * 2' 'x + ones(1, 1, 1024)'; do
        a=$(tgrad "$e" --at "$TMP/m.npy" --no-grad 2>&1)
        b=$(tgrad "$e" --at "$TMP/m.npy" --no-grad --compile 2>&1)
        [ "$a" = "$b" ] || { echo "differs: $e"; return 1; }
    done
    # elementwise programs of a 2-D variable still fuse, in their shape
    same_as_eager 'x * tanh(x) + 1' "$TMP/m.npy" --grad-output "$TMP/m.npy"
    same_as_eager 'sum(clamp(x, min=0) * x)' "$TMP/m.npy"
}

@test "--compile: variables of equal size but different shapes are the eager path's error, not a flat product" {
    # a regression: the block loop only compared sizes
    tgrad 'randn(8, 1024)' --seed 3 --no-grad -o "$TMP/a.npy" >/dev/null
    tgrad 'randn(1024, 8)' --seed 4 --no-grad -o "$TMP/b.npy" >/dev/null
    tgrad 'randn(8192)' --seed 5 --no-grad -o "$TMP/c.npy" >/dev/null
    fails_with 3 'cannot be broadcast' tgrad 'sum(x * y)' --at x="$TMP/a.npy" --at y="$TMP/b.npy" --compile
    fails_with 3 'cannot be broadcast' tgrad 'sum(x * y)' --at x="$TMP/a.npy" --at y="$TMP/c.npy" --compile
    fails_with 3 'upstream gradient has shape' tgrad 'x * 2' --at x="$TMP/a.npy" --grad-output "$TMP/c.npy" --compile
}

# close JSON1 JSON2: the same numbers, to float32 rounding
close() {
    paste <(tr -c '0-9eE.+-' '\n' <<<"$1" | grep -E '[0-9]') <(tr -c '0-9eE.+-' '\n' <<<"$2" | grep -E '[0-9]') |
        awk -F'\t' '{ d = $1 - $2; d = d < 0 ? -d : d; m = $1 < 0 ? -$1 : $1; if (NF != 2 || d > 1e-6 * m + 1e-30) bad = 1 }
                    END { exit bad || NR == 0 }'
}

@test "--compile: one-value parameters (w*x + b) get their gradients summed over the blocks, as broadcasting's backward" {
    tgrad 'randn(20000)' --seed 7 --no-grad -o "$TMP/x.npy" >/dev/null
    tgrad 'randn(20000)' --seed 8 --no-grad -o "$TMP/y.npy" >/dev/null
    # (the last two: w used twice, b's gradient a count of elements, w * b
    # a factor: sums of sums, a sum of a broadcast constant, a sum times a
    # constant)
    for e in 'sum((w*x + b - y)**2)' 'sum(tanh(w * x) * b + y * 0)' 'sum(sigmoid(x * w) - y * b)' \
             'sum(x * w + w * y + b)' 'sum((w*x + b - y)**2 + w * b * x)'; do
        a=$(tgrad "$e" --at w=0.5 --at b=-1 --at x="$TMP/x.npy" --at y="$TMP/y.npy" --wrt w,b)
        c=$(TG_CACHE_DIR="$TMP/c" tgrad "$e" --at w=0.5 --at b=-1 --at x="$TMP/x.npy" --at y="$TMP/y.npy" --wrt w,b --compile)
        close "$a" "$c" || { echo "$e: $a vs $c"; return 1; }
        # and the data's gradients too, byte for byte
        same_as_eager "$e" "x=$TMP/x.npy" --at y="$TMP/y.npy" --at w=0.5 --at b=-1 --wrt x,y
    done
    [ "$(ls "$TMP/c" | grep -c '[.]so$')" -ge 5 ]
}

@test "--compile: a variable the program does not use gets a zero gradient and still fuses" {
    tgrad 'randn(9000)' --seed 61 --no-grad -o "$TMP/x.npy" >/dev/null
    tgrad 'randn(9000)' --seed 62 --no-grad -o "$TMP/y.npy" >/dev/null
    export TG_CACHE_DIR="$TMP/c"
    same_as_eager 'sum(tanh(x)**2)' "x=$TMP/x.npy" --at y="$TMP/y.npy"
    same_as_eager 'x * sigmoid(x)' "x=$TMP/x.npy" --at y="$TMP/y.npy" --grad-output "$TMP/y.npy"
    [ "$(ls "$TMP/c" | grep -c '[.]so$')" -ge 2 ]
    [ "$(tgrad 'amax(abs(g))' --at g="$TMP/compiled/grad_y.npy" --no-grad)" = '{"value":0}' ]
}
