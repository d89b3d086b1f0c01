#!/usr/bin/env bats
# about 30 s: run_bats.sh starts the longest first
# Packaging as Debian users expect (issue #20): make install's folders and
# make uninstall, the build's dependency check that never installs, the
# shell completions, and the Debian packages (make deb; skipped where
# dpkg-buildpackage or debhelper is missing).  The shared library linked
# through pkg-config is tested in examples.bats.
# not under check-sanitize: installing, packages and completions: no library code of its own
load helper

setup() {
    cd "$BATS_TEST_DIRNAME/../.."
    PATH="${TG_BIN:-$PWD/bin}:$PATH"
    TMP="$BATS_TEST_TMPDIR"
    # nothing here depends on the device (left out of check-cuda-emulated)
    export TG_DEVICE=cpu
}

@test "make install honours BINDIR, LIBDIR, INCLUDEDIR, MANDIR; make uninstall removes every file" {
    local root=$TMP/root dirs=(PREFIX=/opt/tg BINDIR=/opt/b LIBDIR=/opt/l INCLUDEDIR=/opt/i MANDIR=/opt/m)
    make -s install DESTDIR="$root" "${dirs[@]}" >"$TMP/log" 2>&1 || { cat "$TMP/log"; return 1; }
    [ -x "$root/opt/b/tgrad" ] && [ -f "$root/opt/l/libtg.so.0.1.0" ] && [ -f "$root/opt/i/tg.h" ]
    [ -f "$root/opt/m/man1/tgrad.1" ] && [ -f "$root/opt/m/man5/tg-formats.5" ]
    [ -f "$root/opt/tg/share/bash-completion/completions/tgrad" ]
    [ "$(readlink "$root/opt/tg/share/bash-completion/completions/tdevice")" = tgrad ]
    grep -qx 'libdir=/opt/l' "$root/opt/l/pkgconfig/tg.pc"
    grep -qx 'includedir=/opt/i' "$root/opt/l/pkgconfig/tg.pc"
    make -s uninstall DESTDIR="$root" "${dirs[@]}"
    run find "$root" -not -type d
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "CPPFLAGS and LDFLAGS reach the compiler and the linker (dpkg-buildflags' hardening)" {
    run make -n -B CPPFLAGS=-DTG_PKG_CPP LDFLAGS=-Wl,-z,now bin/tgrad lib/libtg.so
    [ "$status" -eq 0 ]
    grep -q -- '-DTG_PKG_CPP .*-c lib/core/tensor.c' <<<"$output"
    grep -q -- '-DTG_PKG_CPP .*-fPIC -c lib/core/tensor.c' <<<"$output"
    grep -q -- '-Wl,-z,now.* build/cmd/tgrad.o .*lib/libtg.a' <<<"$output"
    grep -q -- '-Wl,-z,now.*-shared -Wl,-soname,libtg.so.0' <<<"$output"
}

@test "a plain build with a missing package stops with the apt-get command and installs nothing" {
    run --separate-stderr make deps-check BUILD_PKGS=tg-no-such-package
    [ "$status" -ne 0 ]
    [[ "$stderr" == *"apt-get install -y tg-no-such-package"* ]]
    [[ "$output$stderr" != *installing* ]]
}

# comp WORD...: the bash completions of the last word of the command line
comp() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMPREPLY=()
    _tgrad
    echo "${COMPREPLY[*]}"
}

@test "bash completion: options from --help, dtypes, devices, ops, files" {
    # shellcheck source=/dev/null
    source completions/tgrad.bash
    [ "$(complete -p tdevice)" = "complete -F _tgrad tdevice" ]
    [ "$(comp tgrad --dt)" = "--dtype" ]
    [ "$(comp tgrad --dtype '')" = "float32 float64 int64 bool" ]
    [ "$(comp tmatmul a b --device c)" = "cpu cuda" ]
    [ "$(comp tbroadcast --op m)" = "mul maximum minimum" ]
    [ "$(comp tgrad --explain = '')" = "json" ]
    [ "$(comp tgrad --ba)" = "--batch --batch-size --batch=" ]
    [[ " $(comp tdevice --) " == *" --check --default "* ]]
    # tgrad's --check is a flag; tdevice's takes a device
    [[ "$(comp tgrad --check --no)" == "--no-grad" ]]
    [ "$(comp tdevice --check c)" = "cpu cuda" ]
    touch "$TMP/in.npy"
    [ "$(comp tgrad --at "$TMP/in.n")" = "$TMP/in.npy" ]
    [ "$(comp tmatmul "$TMP/in.n")" = "$TMP/in.npy" ]
}

@test "zsh completion: valid zsh, for the four tools" {
    command -v zsh >/dev/null || skip "zsh is not installed (apt-get install zsh)"
    zsh -n completions/_tgrad
    [ "$(head -1 completions/_tgrad)" = "#compdef tgrad tmatmul tbroadcast tdevice" ]
}

@test "make deb: the packages unpack (dpkg -x) into a folder where the seed example runs; lintian finds no error" {
    [ -z "${TG_BIN:-}" ] || skip "TG_BIN is set: make deb builds its own tools"
    command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
        skip "dpkg-buildpackage or debhelper is not installed (apt-get install dpkg-dev debhelper)"
    # unoptimised, no unit tests, no debug packages: the packaging is tested here
    DEB_BUILD_OPTIONS="nocheck noopt noautodbgsym" make -s deb >"$TMP/log" 2>&1 || { tail -30 "$TMP/log"; return 1; }
    local d
    for d in build/deb/tgrad_*.deb build/deb/libtg0_*.deb build/deb/libtg-dev_*.deb; do
        dpkg -x "$d" "$TMP/root"
    done
    local lib=$TMP/root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)
    [ -f "$TMP/root/usr/share/man/man1/tgrad.1.gz" ] && [ -f "$TMP/root/usr/include/tg.h" ]
    [ -f "$TMP/root/usr/share/bash-completion/completions/tgrad" ]
    [ -f "$TMP/root/usr/share/zsh/vendor-completions/_tgrad" ]
    [ -f "$lib/pkgconfig/tg.pc" ] && [ -f "$lib/libtg.so.0.1.0" ] && [ -L "$lib/libtg.so" ]
    run --separate-stderr env PATH="$TMP/root/usr/bin:/usr/bin:/bin" tgrad 'x**3+2*x**2-5*x+3' --at 2
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":9,"grad":{"x":15}}' ]
    if command -v lintian >/dev/null; then
        run lintian --fail-on error build/deb/tgrad_*.changes
        echo "$output"
        [ "$status" -eq 0 ]
    fi
}
