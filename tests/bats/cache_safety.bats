#!/usr/bin/env bats
# about 7 s, sanitized 11 s: run_bats.sh starts the longest first
# The compile cache (lib/compile/jit_cache.c, lib/compile/jit.c) loads no code that anyone
# but the user (or root) could have written: every folder on its path is
# checked on its open handle and then used through that handle only;
# objects are compiled in a private folder, recorded with their size and
# hash, and loaded through the descriptor that was checked.  A refused
# folder is said once on stderr and the result is the same, computed
# without generated code.  Where a second user is needed, one is made
# (useradd, as root: CI runs as root); elsewhere those tests are skipped.
load helper

OTHER=tgcache-test # the unprivileged user these tests make where they can

setup_file() {
    export TG_DEVICE=cpu
    unset TG_TEST_CACHE_HOOK
}

teardown_file() {
    if [ -f "$BATS_FILE_TMPDIR/made-user" ]; then userdel "$OTHER" 2>/dev/null || true; fi
}

teardown() {
    if [ -n "${MOUNTED:-}" ]; then umount "$MOUNTED" 2>/dev/null || true; fi
}

# other_uid: the second user, made when missing; skips where that cannot be
needs_other() {
    [ "$(id -u)" = 0 ] || skip "making a second user needs root"
    if ! id "$OTHER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$OTHER" >/dev/null 2>&1 ||
            skip "useradd cannot make a user here"
        : >"$BATS_FILE_TMPDIR/made-user"
    fi
}

# the test program, its input, its result computed without generated code,
# and a C compiler that logs each call (with the folder it runs in and that
# folder's mode) before running the real one
prepare() {
    E='sum(cos(x) * x**3 + tanh(x))'
    tgrad 'randn(9000)' --seed 4 --no-grad -o "$TMP/x.npy" >/dev/null
    TG_JIT=0 tgrad "$E" --at x="$TMP/x.npy" --compile >"$TMP/ref"
    cat >"$TMP/cc" <<EOF
#!/bin/sh
echo "\$(pwd) \$(stat -c %a .)" >>"$TMP/cc.log"
exec cc "\$@"
EOF
    chmod +x "$TMP/cc"
    : >"$TMP/cc.log"
    export TG_CC="$TMP/cc"
}

# compiled [ENV...]: the test program with --compile under env ENV...; it
# succeeds with the result computed without generated code
compiled() {
    run --separate-stderr env "$@" tgrad "$E" --at x="$TMP/x.npy" --compile
    [ "$status" -eq 0 ] || { echo "status $status: $stderr"; return 1; }
    [ "$output" = "$(cat "$TMP/ref")" ] || { echo "result differs: $output"; return 1; }
}

compiles() { wc -l <"$TMP/cc.log"; }

# refused_once PATTERN: stderr is exactly one warning matching PATTERN
refused_once() {
    [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || { echo "stderr: $stderr"; return 1; }
    [[ "$stderr" =~ ^tgrad:\ warning:\ the\ compile\ cache\ .*\ is\ not\ used:\ $1 ]] ||
        { echo "stderr: $stderr"; echo "expected: $1"; return 1; }
}

@test "cache: a folder above it that another user owns is refused, said once; the same result" {
    needs_other
    prepare
    mkdir -m 755 "$TMP/theirs"
    chown "$OTHER" "$TMP/theirs"
    compiled TG_CACHE_DIR="$TMP/theirs/cache"
    refused_once ".*/theirs belongs to uid $(id -u "$OTHER"), not to you \(uid 0\) or root"
    [ ! -e "$TMP/theirs/cache" ]
    [ "$(compiles)" -eq 0 ]
    # root running with that user's HOME (sudo without -H): the same
    compiled -u TG_CACHE_DIR -u XDG_CACHE_HOME HOME="$TMP/theirs"
    refused_once ".*/theirs belongs to uid"
    [ ! -e "$TMP/theirs/.cache" ]
    # deeper: any folder on the way, not only the last one's parent
    mkdir -p "$TMP/theirs2/a/b"
    chown "$OTHER" "$TMP/theirs2"
    compiled TG_CACHE_DIR="$TMP/theirs2/a/b/cache"
    refused_once ".*/theirs2 belongs to uid"
    [ ! -e "$TMP/theirs2/a/b/cache" ]
    # tdevice says so too
    run env TG_CACHE_DIR="$TMP/theirs/cache" tdevice
    [[ "$output" == *'"compile":{"generated_code":false,'*'"cache_refused":"'*'/theirs belongs to uid'* ]]
}

@test "cache: for an unprivileged user, a folder of theirs under /tmp is used; one of root's is refused" {
    needs_other
    prepare
    # a copy of the tool and the input where that user can read them
    local base
    base=$(mktemp -d /tmp/tg-cache-safety.XXXXXX)
    chmod 755 "$base"
    cp "$(command -v tgrad)" "$TMP/x.npy" "$TMP/ref" "$base/"
    chmod 644 "$base/x.npy"
    as_other() {
        run --separate-stderr runuser -u "$OTHER" -- env -u TG_CC HOME=/nonexistent "$@" "$base/tgrad" "$E" \
            --at x="$base/x.npy" --compile
    }
    mkdir -m 700 "$base/theirs"
    chown "$OTHER" "$base/theirs"
    as_other TG_CACHE_DIR="$base/theirs/cache" # under root's folders and sticky /tmp: fine
    local st=$status out=$output err=$stderr
    mkdir -m 700 "$base/roots"
    as_other TG_CACHE_DIR="$base/roots"
    local st2=$status out2=$output err2=$stderr
    local owner
    owner=$(stat -c %U "$base/theirs/cache" 2>/dev/null || true)
    ls "$base/theirs/cache"/fused-*.so >/dev/null 2>&1 && local made=1
    rm -rf "$base"
    [ "$st" -eq 0 ] && [ "$out" = "$(cat "$TMP/ref")" ] && [ -z "$err" ] || { echo "$st ${out:0:100} $err"; false; }
    [ "$owner" = "$OTHER" ] && [ -n "${made:-}" ]
    [ "$st2" -eq 0 ] && [ "$out2" = "$(cat "$TMP/ref")" ]
    [[ "$err2" == "tgrad: warning: the compile cache $base/roots is not used: $base/roots belongs to uid 0, not to you"* ]]
}

@test "cache: a symbolic link another user planted is not followed, with or without a trailing slash" {
    needs_other
    prepare
    mkdir -m 1777 "$TMP/sticky" # as /tmp: anyone may add entries
    mkdir -m 700 "$TMP/mine"
    ln -s "$TMP/mine" "$TMP/sticky/cache"
    chown -h "$OTHER" "$TMP/sticky/cache" # theirs: they may point it elsewhere at any time
    for dir in "$TMP/sticky/cache" "$TMP/sticky/cache/" "$TMP/sticky/cache/."; do
        compiled TG_CACHE_DIR="$dir"
        refused_once ".*/sticky/cache is a symbolic link that belongs to uid $(id -u "$OTHER")"
        [ -z "$(ls -A "$TMP/mine")" ]
    done
    [ "$(compiles)" -eq 0 ]
    # a folder of the user's in the sticky one is fine; so is a link of the user's own
    compiled TG_CACHE_DIR="$TMP/sticky/own"
    [ -z "$stderr" ]
    [ -n "$(ls "$TMP/sticky/own"/fused-*.so)" ]
    ln -s "$TMP/mine" "$TMP/mylink"
    compiled TG_CACHE_DIR="$TMP/mylink/"
    [ -z "$stderr" ]
    [ -n "$(ls "$TMP/mine"/fused-*.so)" ]
}

@test "cache: a folder swapped for another after its check (TG_TEST_CACHE_HOOK): nothing goes to or comes from the new one" {
    prepare
    # a full cache for the program, planted where the checked folder was:
    # a process that went by the folder's name again would load from it
    compiled TG_CACHE_DIR="$TMP/planted"
    [ "$(compiles)" -eq 1 ]
    ls -l --time-style=full-iso "$TMP/planted" >"$TMP/planted.before"
    mkdir -m 700 "$TMP/c"
    export C="$TMP/c" P="$TMP/planted"
    compiled TG_CACHE_DIR="$TMP/c" TG_TEST_CACHE_HOOK='[ -L "$C" ] || { mv "$C" "$C.checked" && ln -s "$P" "$C"; }'
    [ -z "$stderr" ]
    [ -L "$TMP/c" ] # the hook ran
    # compiled in the folder that was checked, and kept there
    [ "$(compiles)" -eq 2 ]
    [[ "$(tail -1 "$TMP/cc.log")" == "$TMP/c.checked/tmp-"* ]]
    [ -n "$(ls "$TMP/c.checked"/fused-*.so)" ]
    [ -z "$(ls "$TMP/c.checked" | grep '^tmp-' || true)" ]
    # the planted folder: untouched
    ls -l --time-style=full-iso "$TMP/planted" | cmp - "$TMP/planted.before"
}

@test "cache: a truncated or damaged object is found by its recorded size and hash and compiled again" {
    prepare
    compiled TG_CACHE_DIR="$TMP/c"
    [ "$(compiles)" -eq 1 ]
    so=$(ls "$TMP/c"/fused-*.so)
    truncate -s $(($(stat -c %s "$so") / 2)) "$so" # a crash or a full disk while it was written
    compiled TG_CACHE_DIR="$TMP/c"                # was SIGBUS, status 135
    [ "$(compiles)" -eq 2 ]
    compiled TG_CACHE_DIR="$TMP/c"
    [ "$(compiles)" -eq 2 ]
    # the same size, one byte changed
    printf 'X' | dd of="$so" bs=1 seek=$(($(stat -c %s "$so") / 2)) conv=notrunc 2>/dev/null
    compiled TG_CACHE_DIR="$TMP/c"
    [ "$(compiles)" -eq 3 ]
    # the record kept beside it: the object's size and hash, then the source
    head -1 "${so%.so}.c" | grep -Eq '^/\* tgrad-jit object: [0-9]+ bytes, FNV-1a [0-9a-f]{16} \*/$'
}

@test "cache: an object made under umask 002 is the user's alone and loaded later; a group-writable one is compiled again once" {
    prepare
    (
        umask 002
        compiled TG_CACHE_DIR="$TMP/c"
        compiled TG_CACHE_DIR="$TMP/c"
        compiled TG_CACHE_DIR="$TMP/c"
    )
    [ "$(compiles)" -eq 1 ] # was: compiled again on every run
    so=$(ls "$TMP/c"/fused-*.so)
    [ "$(stat -c %a "$so")" = 600 ]
    [ "$(stat -c %a "${so%.so}.c")" = 600 ]
    chmod g+w "$so"
    compiled TG_CACHE_DIR="$TMP/c"
    [ -z "$stderr" ]
    [ "$(compiles)" -eq 2 ]
    compiled TG_CACHE_DIR="$TMP/c"
    [ "$(compiles)" -eq 2 ]
    [ "$(stat -c %a "$so")" = 600 ]
}

@test "cache: a group-writable shared folder is refused, said once on stderr and by tdevice" {
    prepare
    mkdir "$TMP/shared"
    chmod 2775 "$TMP/shared"
    compiled TG_CACHE_DIR="$TMP/shared" # was silent
    refused_once ".*/shared is writable by its group \(mode 2775\)"
    [ -z "$(ls -A "$TMP/shared")" ]
    [ "$(compiles)" -eq 0 ]
    run env TG_CACHE_DIR="$TMP/shared" tdevice # was: generated_code true
    [ "$status" -eq 0 ]
    [[ "$output" == *'"compile":{"generated_code":false,'*'"cache":"'"$TMP"'/shared","cache_refused":"'"$TMP"'/shared is writable by its group (mode 2775)"}'* ]]
    # not a folder at all
    : >"$TMP/afile"
    compiled TG_CACHE_DIR="$TMP/afile"
    refused_once ".*/afile is not a folder"
}

@test "cache: the compiler runs in a private folder of a random name, removed afterwards" {
    prepare
    compiled TG_CACHE_DIR="$TMP/c"
    # the PID alone is not unique: two containers sharing a cache have equal PIDs
    grep -Eq "^$TMP/c/tmp-[0-9a-f]{16} 700\$" "$TMP/cc.log" || { cat "$TMP/cc.log"; false; }
    [ -z "$(ls "$TMP/c" | grep -v '^fused-' || true)" ]
    # a relative TG_CC is found from where tgrad runs, not from that folder
    rm -rf "$TMP/c"
    cp "$TMP/cc" "$TMP/relcc"
    (cd "$TMP" && run --separate-stderr env TG_CC=./relcc TG_CACHE_DIR="$TMP/c" tgrad "$E" --at x="$TMP/x.npy" --compile &&
        [ "$status" -eq 0 ])
    [ "$(compiles)" -eq 2 ]
}

# alive PID: the process runs (a zombie does not count: a container's first
# process may never reap it)
alive() {
    [ -e "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}

# interrupt SIGNAL: --compile with a compiler that never finishes (it and
# its child log their PIDs), SIGNAL once it runs; then the compiler and its
# child are gone, and nothing is left in the cache folder
interrupt() {
    env --default-signal=INT true 2>/dev/null || skip "env --default-signal is missing (coreutils < 8.31)"
    cat >"$TMP/slowcc" <<EOF
#!/bin/sh
echo \$\$ >"$TMP/cc.pid"
sleep 1000 &
echo \$! >"$TMP/child.pid"
wait
EOF
    chmod +x "$TMP/slowcc"
    rm -f "$TMP/cc.pid" "$TMP/child.pid"
    # a job started with & ignores SIGINT; tgrad at a terminal does not.
    # (Bats' descriptors closed: a compiler left running would hold them.)
    TG_CC="$TMP/slowcc" TG_CACHE_DIR="$TMP/c" env --default-signal=INT tgrad "$E" --at x="$TMP/x.npy" --compile \
        >/dev/null 2>&1 3>&- 4>&- &
    local pid=$! i
    for i in $(seq 1 600); do [ -s "$TMP/child.pid" ] && break; sleep 0.1; done
    [ -s "$TMP/child.pid" ]
    kill -"$1" "$pid"
    local status=0
    wait "$pid" || status=$?
    [ "$status" -eq $((128 + $(kill -l "$1"))) ] || { echo "status $status"; return 1; }
    for i in $(seq 1 100); do
        alive "$(cat "$TMP/cc.pid")" || alive "$(cat "$TMP/child.pid")" || break
        sleep 0.1
    done
    local left=""
    alive "$(cat "$TMP/cc.pid")" && left="the compiler"
    alive "$(cat "$TMP/child.pid")" && left="$left its child"
    if [ -n "$left" ]; then
        kill -9 "$(cat "$TMP/cc.pid")" "$(cat "$TMP/child.pid")" 2>/dev/null
        echo "still running: $left"
        return 1
    fi
    [ -z "$(ls -A "$TMP/c")" ] || { ls -la "$TMP/c"; false; }
}

@test "cache: Ctrl-C (SIGINT) or SIGTERM during a compile stops the compiler too and leaves no tmp- folder" {
    prepare
    interrupt INT
    interrupt TERM
}

@test "cache: on a noexec mount, objects are loaded from memory: compiled once, no warning" {
    prepare
    [ "$(id -u)" = 0 ] || skip "mounting needs root"
    mkdir "$TMP/noexec"
    mount -t tmpfs -o noexec,mode=0700 tmpfs "$TMP/noexec" 2>/dev/null || skip "cannot mount a tmpfs here"
    MOUNTED="$TMP/noexec"
    compiled TG_CACHE_DIR="$TMP/noexec/c"
    [ -z "$stderr" ]
    compiled TG_CACHE_DIR="$TMP/noexec/c"
    [ -z "$stderr" ]
    [ "$(compiles)" -eq 1 ] # was: compiled again on every run
}

@test "cache: NVRTC's machine code (emulated cuda): truncated, damaged or group-writable is made again; a refused folder gets none" {
    export TG_CUDA_LIBRARY="$PWD/lib/libtg_cuda.so"
    [ -f "$TG_CUDA_LIBRARY" ] || skip "the CUDA backend is not built (no nvcc)"
    [ -z "${TG_UNDER_VALGRIND:-}" ] || skip "the CUDA libraries' loading trips valgrind"
    tgrad 'randn(6000)' --seed 41 --no-grad -o "$TMP/x.npy" >/dev/null
    tgrad 'randn(6000)' --seed 42 --no-grad -o "$TMP/y.npy" >/dev/null
    # cuda REF [ENV...]: the program on the emulated device, its result REF
    cuda() {
        local ref=$1
        shift
        run --separate-stderr env TG_CUDA_EMULATE=1 TG_FUSED_STRICT=1 "$@" tgrad 'sum(sin(x) * y)' \
            --at x="$TMP/x.npy" --at y="$TMP/y.npy" --device cuda --compile
        [ "$status" -eq 0 ] && [ "$output" = "$(cat "$ref")" ] || { echo "$status $output $stderr"; return 1; }
    }
    TG_CUDA_EMULATE=1 TG_FUSED_STRICT=1 TG_CACHE_DIR="$TMP/c" tgrad 'sum(sin(x) * y)' --at x="$TMP/x.npy" \
        --at y="$TMP/y.npy" --device cuda --compile >"$TMP/kernel.ref"
    bin=$(ls "$TMP/c"/cubin-*.bin)
    size=$(stat -c %s "$bin")
    [ "$(stat -c %a "$bin")" = 600 ]
    head -1 "$bin" | grep -Eq '^tgrad-cache blob: key FNV-1a [0-9a-f]{16}, [0-9]+ bytes, FNV-1a [0-9a-f]{16}$'
    truncate -s $((size / 2)) "$bin"
    cuda "$TMP/kernel.ref" TG_CACHE_DIR="$TMP/c"
    [ "$(stat -c %s "$bin")" -eq "$size" ] # made again, not taken
    printf 'X' | dd of="$bin" bs=1 seek=$((size - 10)) conv=notrunc 2>/dev/null
    cp "$bin" "$TMP/damaged"
    cuda "$TMP/kernel.ref" TG_CACHE_DIR="$TMP/c"
    ! cmp -s "$bin" "$TMP/damaged"
    chmod g+w "$bin"
    cuda "$TMP/kernel.ref" TG_CACHE_DIR="$TMP/c"
    [ "$(stat -c %a "$bin")" = 600 ]
    [ -z "$(ls "$TMP/c" | grep '^tmp-' || true)" ]
    # a refused folder: no machine code kept, one warning, the same result
    mkdir "$TMP/shared"
    chmod 2775 "$TMP/shared"
    TG_CUDA_EMULATE=1 TG_JIT=0 tgrad 'sum(sin(x) * y)' --at x="$TMP/x.npy" --at y="$TMP/y.npy" --device cuda \
        --compile >"$TMP/ops.ref"
    cuda "$TMP/ops.ref" TG_CACHE_DIR="$TMP/shared" TG_FUSED_STRICT=0 # op by op: no kernel can be kept
    refused_once ".*/shared is writable by its group"
    [ -z "$(ls -A "$TMP/shared")" ]
}
