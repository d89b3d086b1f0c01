#!/usr/bin/env bats
# about 9 s, sanitized 5 s: run_bats.sh starts the longest first
# Output files are written whole or not at all, and never through someone
# else's symbolic link (tgrad(1), FILES; lib/io/outfile.c).
# not under check-cuda-emulated: files written whole: no device work
load helper

# the entries of folder $1, one a line, hidden ones too
entries() { ls -A "$1"; }

# a .npy file of 100000 float32 (400 KB): more than the file-size limits below
big_npy() {
    tgrad 'randn(100000)' --seed 1 --no-grad -o "$1" >/dev/null
}

need_other_user() {
    [ "$(id -u)" -eq 0 ] || skip "needs root, to make a file owned by another user"
    id nobody >/dev/null 2>&1 || skip "no user nobody"
}

@test "-o - is standard output in every tool, and makes no file named -" {
    cd "$TMP"
    run tgrad 'x * 2' --at 3 -o -
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":6,"grad":{"x":2}}' ]
    run tmatmul '[1,2]' '[3,4]' -o -
    [ "$output" = '11' ]
    run tbroadcast '[1,2]' 3 --out -
    [ "$output" = '[4,5]' ]
    run tmatmul '[1.0]' '[2.0]' --grad -o -
    [ "$output" = '{"value":2,"grad":{"a":[2],"b":[1]}}' ]
    [ ! -e - ]
}

@test "-o FILE writes the result instead of printing it, in every tool" {
    run tmatmul '[1,2]' '[3,4]' -o "$TMP/m.json"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ "$(cat "$TMP/m.json")" = 11 ]
    run tbroadcast '[1,2]' 3 -o "$TMP/b.json"
    [ -z "$output" ]
    [ "$(cat "$TMP/b.json")" = '[4,5]' ]
    # where a gradient object is printed, the value's place names the file
    run tgrad 'x * 2' --at 3 -o "$TMP/g.json"
    [ "$output" = "{\"value\":\"$TMP/g.json\",\"grad\":{\"x\":2}}" ]
    [ "$(cat "$TMP/g.json")" = 6 ]
    run tgrad 'x * 2' --at 3 --no-grad -o "$TMP/g.json"
    [ "$output" = "{\"value\":\"$TMP/g.json\"}" ]
    run tmatmul '[1.0]' '[2.0]' --grad -o "$TMP/m.json"
    [ "$output" = "{\"value\":\"$TMP/m.json\",\"grad\":{\"a\":[2],\"b\":[1]}}" ]
    [ "$(cat "$TMP/m.json")" = 2 ]
    run tbroadcast '[1.0]' 2 --grad -o "$TMP/b.json" --pretty
    [ "${lines[1]}" = "  \"value\": \"$TMP/b.json\"," ]
    [ "$(cat "$TMP/b.json")" = '[3]' ]
}

@test "-o with --out-dir: the value to FILE, the gradients to DIR" {
    run tgrad '(x * w).sum()' --at x='[1,2]' --at w='[3,4]' -o "$TMP/v.json" --out-dir "$TMP/d/"
    [ "$status" -eq 0 ]
    [ "$output" = "{\"value\":\"$TMP/v.json\",\"grad\":{\"x\":\"$TMP/d/grad_x.npy\",\"w\":\"$TMP/d/grad_w.npy\"}}" ]
    [ "$(entries "$TMP/d")" = "$(printf 'grad_w.npy\ngrad_x.npy')" ]
    [ "$(cat "$TMP/v.json")" = 11 ]
}

@test "standard output failing leaves the -o file as it was" {
    D=$TMP/d
    mkdir "$D"
    echo old > "$D/keep.json"
    # before: keep.json was replaced, then the output failed
    fails_with 4 'cannot write the output: No space left on device' sh -c "tgrad 'x * 2' --at 3 -o '$D/keep.json' > /dev/full"
    [ "$(cat "$D/keep.json")" = old ]
    fails_with 4 'No space left on device' sh -c "tmatmul '[1.0]' '[2.0]' --grad -o '$D/keep.json' > /dev/full"
    fails_with 4 'No space left on device' sh -c "tbroadcast '[1.0]' 2 --grad -o '$D/keep.json' > /dev/full"
    fails_with 4 'No space left on device' sh -c "tgrad 'x * 2' --at 3 --out-dir '$D' > /dev/full"
    [ "$(cat "$D/keep.json")" = old ]
    [ "$(entries "$D")" = keep.json ]
}

@test "a full disk (ulimit -f) leaves the old file and no temporary" {
    mkdir "$TMP/in" "$TMP/d"
    big_npy "$TMP/in/big.npy"
    echo old > "$TMP/d/keep.npy"
    # before: killed by SIGXFSZ, keep.npy cut short
    fails_with 4 "keep.npy.*File too large" bash -c "ulimit -f 64; tgrad 'x * 2' --at '$TMP/in/big.npy' --no-grad -o '$TMP/d/keep.npy'"
    fails_with 4 "keep.npy.*File too large" bash -c "ulimit -f 64; tbroadcast '$TMP/in/big.npy' 1 -o '$TMP/d/keep.npy'"
    [ "$(cat "$TMP/d/keep.npy")" = old ]
    [ "$(entries "$TMP/d")" = keep.npy ]
}

@test "/dev/null and /dev/full are written directly; /dev/stdout at standard output's place" {
    run tmatmul '[1]' '[2]' -o /dev/null
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    fails_with 4 "No space left on device" tmatmul '[1]' '[2]' -o /dev/full
    tgrad 'x * 2' --at 3 -o /dev/stdout > "$TMP/out.txt"
    [ "$(cat "$TMP/out.txt")" = "$(printf '6\n{"value":"/dev/stdout","grad":{"x":2}}')" ]
}

@test "--out-dir is all or nothing: a late failure changes no file" {
    D=$TMP/d
    tgrad '(x * w).sum()' --at x='[1,2]' --at w='[3,4]' --out-dir "$D" >/dev/null
    old=$(cd "$D" && cksum value.npy grad_x.npy grad_w.npy)
    # grad_w.npy cannot be replaced: before, value.npy and grad_x.npy were
    rm "$D/grad_w.npy"
    mkdir "$D/grad_w.npy"
    fails_with 4 "cannot write '$D/grad_w.npy': Is a directory" tgrad '(x * w).sum()' --at x='[5,6]' --at w='[7,8]' --out-dir "$D"
    [ "$(cd "$D" && cksum value.npy grad_x.npy)" = "$(echo "$old" | head -2)" ]
    [ "$(entries "$D")" = "$(printf 'grad_w.npy\ngrad_x.npy\nvalue.npy')" ]
}

@test "--out-dir is all or nothing: a full disk at the last file changes no file" {
    mkdir "$TMP/in"
    big_npy "$TMP/in/big.npy"
    D=$TMP/d
    tgrad 'x.sum()' --at x='[1,2]' --out-dir "$D" >/dev/null
    old=$(cd "$D" && cksum value.npy grad_x.npy)
    # value.npy fits in 64 KiB, grad_x.npy (400 KB) does not
    fails_with 4 "grad_x.npy.*File too large" bash -c "ulimit -f 64; tgrad 'x.sum()' --at x='$TMP/in/big.npy' --out-dir '$D'"
    [ "$(cd "$D" && cksum value.npy grad_x.npy)" = "$old" ]
    [ "$(entries "$D")" = "$(printf 'grad_x.npy\nvalue.npy')" ]
    # a folder the failed run would have made is not left behind
    fails_with 4 "File too large" bash -c "ulimit -f 64; tgrad 'x.sum()' --at x='$TMP/in/big.npy' --out-dir '$TMP/new'"
    [ ! -e "$TMP/new" ]
}

@test "an error before writing leaves the old file" {
    D=$TMP/d
    mkdir "$D"
    echo old > "$D/keep.json"
    fails_with 3 "cannot be multiplied" tmatmul '[1,2]' '[1,2,3]' -o "$D/keep.json"
    fails_with 3 "after an array element" tbroadcast '[1,2]' '[1,2' -o "$D/keep.json"
    [ "$(cat "$D/keep.json")" = old ]
    [ "$(entries "$D")" = keep.json ]
}

# runs tgrad with -o $1 while its standard output is a pipe nobody reads:
# it blocks printing the gradient, its temporary already written; sets pid
# and reader, once the temporary is there
start_blocked() {
    big_npy "$TMP/big.npy"
    mkfifo "$TMP/pipe"
    sleep 60 < "$TMP/pipe" >/dev/null 2>&1 3>&- &
    reader=$!
    tgrad 'x * 2' --at x="$TMP/big.npy" --grad-output "$TMP/big.npy" -o "$1" > "$TMP/pipe" 2>/dev/null 3>&- &
    pid=$!
    local dir=${1%/*} leaf=${1##*/}
    for _ in $(seq 200); do
        compgen -G "$dir/.$leaf.tmp-??????" >/dev/null && return 0
        sleep 0.1
    done
    echo "no temporary appeared in $dir: $(ls -A "$dir")"
    kill $pid $reader
    return 1
}

@test "SIGTERM while writing: the old file stays, the temporary is removed" {
    mkdir "$TMP/d"
    echo old > "$TMP/d/keep.npy"
    start_blocked "$TMP/d/keep.npy"
    kill -TERM $pid
    status=0
    wait $pid || status=$?
    kill $reader
    [ "$status" -eq 143 ]
    [ "$(cat "$TMP/d/keep.npy")" = old ]
    [ "$(entries "$TMP/d")" = keep.npy ]
}

@test "SIGKILL while writing: the old file stays, at most a named temporary is left" {
    mkdir "$TMP/d"
    echo old > "$TMP/d/keep.npy"
    start_blocked "$TMP/d/keep.npy"
    kill -KILL $pid
    wait $pid || true
    kill $reader
    [ "$(cat "$TMP/d/keep.npy")" = old ]
    for f in $(entries "$TMP/d"); do
        [[ "$f" = keep.npy || "$f" = .keep.npy.tmp-?????? ]] || { echo "left: $f"; return 1; }
    done
}

@test "a new file gets 0666 less the umask; a replaced file of yours keeps its mode" {
    (umask 027; tgrad x --at 1 -o "$TMP/new.npy" >/dev/null)
    [ "$(stat -c %a "$TMP/new.npy")" = 640 ]
    echo old > "$TMP/private.json"
    chmod 600 "$TMP/private.json"
    tgrad x --at 1 --no-grad -o "$TMP/private.json" >/dev/null
    [ "$(stat -c %a "$TMP/private.json")" = 600 ]
    [ "$(cat "$TMP/private.json")" = 1 ]
}

@test "a link of your own is followed: the file it points to is replaced" {
    echo old > "$TMP/real.json"
    ln -s real.json "$TMP/link.json"
    tgrad x --at 1 --no-grad -o "$TMP/link.json" >/dev/null
    [ -L "$TMP/link.json" ]
    [ "$(cat "$TMP/real.json")" = 1 ]
    [ "$(entries "$TMP")" = "$(printf 'link.json\nreal.json')" ]
}

@test "a link planted by another user is replaced, never written through" {
    need_other_user
    echo notes > "$TMP/notes.txt"
    mkdir "$TMP/shared"
    chmod 1777 "$TMP/shared"
    ln -s ../notes.txt "$TMP/shared/value.npy"
    ln -s ../notes.txt "$TMP/shared/r.json"
    chown -h nobody "$TMP/shared/value.npy" "$TMP/shared/r.json"
    # before: notes.txt overwritten, status 0
    run tgrad x --at 1 --out-dir "$TMP/shared"
    [ "$status" -eq 0 ]
    run tmatmul '[1]' '[2]' -o "$TMP/shared/r.json"
    [ "$status" -eq 0 ]
    [ "$(cat "$TMP/notes.txt")" = notes ]
    [ ! -L "$TMP/shared/value.npy" ] && [ -f "$TMP/shared/value.npy" ]
    [ "$(cat "$TMP/shared/r.json")" = 2 ]
}

@test "an output folder that is another user's link, or writable by all without the sticky bit, is refused" {
    mkdir "$TMP/open"
    chmod 777 "$TMP/open"
    fails_with 4 "refusing to write '$TMP/open/value.npy': anyone may write to the folder" tgrad x --at 1 --out-dir "$TMP/open"
    fails_with 4 "refusing to write '$TMP/open/x.npy': anyone may write" tmatmul '[1]' '[2]' -o "$TMP/open/x.npy"
    [ -z "$(entries "$TMP/open")" ]
    chmod +t "$TMP/open" # with the sticky bit (as /tmp): used
    run tgrad x --at 1 --out-dir "$TMP/open"
    [ "$status" -eq 0 ]
    need_other_user
    mkdir "$TMP/mine"
    ln -s mine "$TMP/theirs"
    chown -h nobody "$TMP/theirs"
    fails_with 4 "the folder '$TMP/theirs' is a symbolic link owned by another user" tgrad x --at 1 --out-dir "$TMP/theirs"
    fails_with 4 "the folder '$TMP/theirs' is a symbolic link owned by another user" tbroadcast 1 -o "$TMP/theirs/x.json"
    [ -z "$(entries "$TMP/mine")" ]
}

# alloc_sweep CMD...: runs CMD with TG_FAIL_ALLOC=1, 2, ... (the N-th
# allocation fails) until ten runs in a row succeed; each run must either
# print exactly what CMD prints without injection, or exit 4 with nothing on
# standard output and a message about memory -- never a partial or
# different result
alloc_sweep() {
    local base n=0 ok=0 st out
    base=$("$@") || { echo "fails without injection: $*"; return 1; }
    while [ $ok -lt 10 ] && [ $n -lt 3000 ]; do
        n=$((n + 1))
        st=0
        out=$(TG_FAIL_ALLOC=$n "$@" 2>"$TMP/err") || st=$?
        if [ $st -eq 0 ]; then
            [ "$out" = "$base" ] || { echo "TG_FAIL_ALLOC=$n: $* printed '$out', not '$base'"; return 1; }
            ok=$((ok + 1))
        else
            [ $st -eq 4 ] && [ -z "$out" ] && grep -q memory "$TMP/err" ||
                { echo "TG_FAIL_ALLOC=$n: $*: status $st, stdout '$out', stderr $(cat "$TMP/err")"; return 1; }
            ok=0
        fi
    done
    [ $ok -eq 10 ]
}

# --check once printed its result without "check" when the member's
# buffer failed; --jacobian, --hessian and --jvp were reported to print
# {"value":,"jacobian":{}} (some 700 runs in all)
@test "a failed allocation never prints a partial or different result" {
    # (not again under a sanitizer or valgrind: make check-alloc sweeps the
    # same runs under valgrind, and CI's ten minutes have no room for it)
    [ -z "${TG_SANITIZE:-}${TG_UNDER_VALGRIND:-}" ] || skip "make check-alloc covers it under valgrind"
    # in a plain shell: Bats's per-command trace would double the time
    run bash -c "TMP='$TMP'; $(declare -f alloc_sweep)
        alloc_sweep tgrad 'sin(x).sum() * y' --at x='[1,2]' --at y=3 --check &&
        alloc_sweep tgrad 'x * y' --at x='[1,2]' --at y=3 --jacobian &&
        alloc_sweep tgrad 'x**3 * y' --at x=2 --at y=3 --hessian &&
        alloc_sweep tgrad 'x * y' --at x='[1,2]' --at y=3 --jvp x='[1,1]'"
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "a failed allocation with --out-dir changes no file" {
    [ -z "${TG_SANITIZE:-}${TG_UNDER_VALGRIND:-}" ] || skip "make check-alloc covers it under valgrind"
    cd "$TMP"
    base=$(tgrad '(x * y).sum()' --at x='[1,2]' --at y=3 --out-dir ref)
    for n in $(seq 1 400); do
        st=0
        out=$(TG_FAIL_ALLOC=$n tgrad '(x * y).sum()' --at x='[1,2]' --at y=3 --out-dir d 2>err) || st=$?
        if [ $st -eq 0 ]; then
            [ "$out" = "${base//ref/d}" ] && cmp d/value.npy ref/value.npy && cmp d/grad_x.npy ref/grad_x.npy
            return
        fi
        [ $st -eq 4 ] && [ -z "$out" ] && grep -q memory err ||
            { echo "TG_FAIL_ALLOC=$n: status $st, stdout '$out', stderr $(cat err)"; return 1; }
        [ ! -e d ] || { echo "TG_FAIL_ALLOC=$n left: $(ls -A d)"; return 1; }
    done
    return 1
}
