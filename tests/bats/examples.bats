#!/usr/bin/env bats
# about 10 s: run_bats.sh starts the longest first
# The runnable examples of examples/: the lesson section by section, and the
# C example built against an installed copy of the library.
#
# Convention.  Each examples/NN-name.sh is run with sh (dash on Debian, so a
# bashism fails here) from a scratch directory, with TMPDIR pointing into
# the test's own directory.  It must exit 0 (a script exits 1 when one of
# its commands gives another status than the one it shows), write nothing
# on standard error (the commands' messages are part of standard output),
# remove its scratch files, and print exactly examples/expected/NN-name.out,
# byte for byte, with one exception for what depends on the machine:
#
#   a line of the expected file that starts with "~ " (a tilde and a space)
#   is an extended regular expression that the whole output line at the
#   same line number must match (examples/mask.awk).
#
# Only such lines vary: the device list and whether CUDA is usable
# (06-gpu.out), the finite-difference error measured by --check
# (07-derivative.out).  Everything else is exact: the examples keep to
# numbers that are the same on every machine.  02-numpy.sh has two expected
# outputs: 02-numpy.out where /usr/bin/python3 can import NumPy (skipped
# elsewhere) and 02-numpy.nonumpy.out for the fallback without it, which is
# always tested by pointing EXAMPLES_PYTHON at a missing interpreter.
# examples/expected/c-grad.out is the output of examples/c/grad.c, compared
# exactly.
#
# After a deliberate change, `make examples-update` rewrites the expected
# files from the scripts (keeping the "~ " lines that still match); review
# the change with git diff before committing it.
# not under check-sanitize: the example scripts run the tools of bin/ (make test runs them)
load helper

# check_example NAME [EXPECTED [VAR=VALUE...]]: runs examples/NAME.sh with the
# variables set and compares its output with examples/expected/EXPECTED.out.
check_example() {
    local name=$1 expected=examples/expected/${2:-$1}.out
    shift 2 || shift
    [ -f "$expected" ] || { echo "no expected output $expected"; return 1; }
    mkdir -p "$TMP/tmp" "$TMP/cwd"
    local st=0
    (cd "$TMP/cwd" && env TMPDIR="$TMP/tmp" "$@" sh "$OLDPWD/examples/$name.sh" >"$TMP/out" 2>"$TMP/err") || st=$?
    if [ "$st" -ne 0 ]; then echo "examples/$name.sh exited with $st"; cat "$TMP/err"; return 1; fi
    if [ -s "$TMP/err" ]; then echo "examples/$name.sh wrote to standard error:"; cat "$TMP/err"; return 1; fi
    if [ -n "$(find "$TMP/tmp" "$TMP/cwd" -mindepth 1)" ]; then echo "examples/$name.sh left files:"; find "$TMP/tmp" "$TMP/cwd" -mindepth 1; return 1; fi
    [ "$(tail -c 1 "$TMP/out" | od -An -c | tr -d ' ')" = '\n' ] || { echo "the output does not end with a new line"; return 1; }
    awk -v expected="$expected" -f examples/mask.awk "$TMP/out" >"$TMP/masked"
    diff -u "$expected" "$TMP/masked" || { echo "examples/$name.sh: output differs from $expected (lines starting with ~ are patterns)"; return 1; }
}

@test "01-tensors.sh: ranks 0-D to 4-D, dtypes, the object form, shapes" {
    check_example 01-tensors
}

@test "02-numpy.sh with NumPy: .npy written by NumPy, read by the tools, results read back by NumPy" {
    /usr/bin/python3 -c 'import numpy' 2>/dev/null || skip "NumPy is not installed for /usr/bin/python3 (apt-get install python3-numpy)"
    check_example 02-numpy 02-numpy EXAMPLES_PYTHON=/usr/bin/python3
}

@test "02-numpy.sh without NumPy: the tools write the .npy inputs, and the script says so" {
    check_example 02-numpy 02-numpy.nonumpy EXAMPLES_PYTHON=/nonexistent/python3
    grep -q "^# NumPy cannot be imported here" "$TMP/out"
}

@test "03-autograd.sh: requires_grad, the chain rule (13 and 12) with --explain, several variables" {
    check_example 03-autograd
    grep -qx '{"value":13,"grad":{"x":12}}' "$TMP/out"
}

@test "04-accumulation.sh: gradients accumulate across backward passes until zeroed" {
    check_example 04-accumulation
    grep -qx '{"values":\[9,9\],"grad":{"x":9}}' "$TMP/out"
}

@test "05-broadcasting.sh: broadcasting, --shapes, --explain, an incompatible pair, --grad summed back" {
    check_example 05-broadcasting
}

# 06-gpu.sh's expected output is that of a machine without a usable GPU (the
# CI's and the developers'); where one is usable (tests/gpu/run.sh) the
# devices are checked by cuda_emulated.bats and tdevice.bats instead
no_usable_gpu() {
    ! tdevice --check cuda >/dev/null 2>&1 || skip "a GPU is usable here: the expected output is for machines without one"
}

@test "06-gpu.sh: tdevice, --check cuda with the fallback to the CPU, --device auto" {
    no_usable_gpu
    check_example 06-gpu
}

@test "06-gpu.sh is also right when TG_DEVICE is set in the environment" {
    no_usable_gpu
    check_example 06-gpu 06-gpu TG_DEVICE=cuda
}

@test "07-derivative.sh: x**3+2*x**2-5*x+3 at 2 is 9 with derivative 15; --order; --check" {
    check_example 07-derivative
    grep -qx '{"value":9,"grad":{"x":15}}' "$TMP/out"
}

@test "08-inplace.sh: x += 1 on a leaf is refused (status 3), intermediates work, saved values are checked" {
    check_example 08-inplace
}

@test "09-nograd-detach.sh: --no-grad and detach()" {
    check_example 09-nograd-detach
}

@test "10-compile.sh: --compile gives the eager numbers on 10^6 elements" {
    check_example 10-compile
    [ "$(grep -c '^identical$' "$TMP/out")" -eq 3 ]
}

@test "11-transforms.sh: vmap (--batch), grad, jacrev, jacfwd, jvp, hessian" {
    check_example 11-transforms
}

@test "every example script has an expected output and a test here, and is executable" {
    local s n
    for s in examples/[0-9][0-9]-*.sh; do
        n=$(basename "$s" .sh)
        [ -f "examples/expected/$n.out" ] || { echo "no examples/expected/$n.out"; return 1; }
        grep -q "check_example $n\b" "$BATS_TEST_FILENAME" || { echo "no test runs $s"; return 1; }
        [ -x "$s" ] || { echo "$s is not executable"; return 1; }
    done
    for s in examples/expected/*.out; do
        n=$(basename "$s" .out)
        [ -f "examples/${n%%.*}.sh" ] || [ "$n" = c-grad ] || { echo "$s has no script"; return 1; }
    done
}

@test "a failing command makes an example script exit 1, with the command on standard error" {
    mkdir -p "$TMP/ex"
    cp examples/common.sh "$TMP/ex/"
    # shellcheck disable=SC2016 # the script's own text
    printf '%s\n' '. "$(dirname "$0")/common.sh"' 'run "tgrad x --at 1"' 'fails 3 "tgrad x --at 1"' 'finish' >"$TMP/ex/99-bad.sh"
    run --separate-stderr env TG_BIN="${TG_BIN:-$PWD/bin}" sh "$TMP/ex/99-bad.sh"
    [ "$status" -eq 1 ]
    [ "$stderr" = "99-bad.sh: unexpected exit status 0 (expected 3): tgrad x --at 1" ]
}

@test "examples/c/grad.c: built through pkg-config against 'make install DESTDIR=... PREFIX=/usr', shared and static, it prints 9 and 15" {
    command -v pkg-config >/dev/null || skip "pkg-config is not installed (apt-get install pkg-config)"
    local root=$TMP/root cc=${CC:-cc}
    make -s install DESTDIR="$root" PREFIX=/usr >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log"; return 1; }
    [ -f "$root/usr/lib/pkgconfig/tg.pc" ]
    [ -f "$root/usr/lib/libtg.a" ]
    [ -f "$root/usr/include/tg.h" ]
    # the shared library under its full version, with the soname's link
    # and the development link
    [ "$(readlink "$root/usr/lib/libtg.so")" = libtg.so.0 ]
    [ "$(readlink "$root/usr/lib/libtg.so.0")" = libtg.so.0.1.0 ]
    readelf -d "$root/usr/lib/libtg.so.0.1.0" | grep -q 'SONAME.*\[libtg\.so\.0\]'
    local flags
    flags=$(PKG_CONFIG_PATH="$root/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root" pkg-config --cflags --libs tg)
    echo "pkg-config: $flags"
    # the installed copy, not one elsewhere on the system
    [[ " $flags " == *" -I$root/usr/include "* ]]
    [[ " $flags " == *" -L$root/usr/lib "* ]]
    # linked dynamically, as pkg-config's flags give it: libtg.so.0 is needed
    # shellcheck disable=SC2086 # the flags are words
    "$cc" -std=gnu11 -Wall -Wextra -Werror -o "$TMP/grad" examples/c/grad.c $flags
    readelf -d "$TMP/grad" | grep -q 'NEEDED.*\[libtg\.so\.0\]'
    run --separate-stderr env LD_LIBRARY_PATH="$root/usr/lib" "$TMP/grad"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    printf '%s\n' "$output" >"$TMP/out"
    diff -u examples/expected/c-grad.out "$TMP/out"
    # and statically, from libtg.a with --static's private libraries
    flags=$(PKG_CONFIG_PATH="$root/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root" pkg-config --cflags --libs --static tg)
    # shellcheck disable=SC2086 # the flags are words
    "$cc" -std=gnu11 -Wall -Wextra -Werror -o "$TMP/grad-static" examples/c/grad.c ${flags/-ltg/-Wl,-Bstatic -ltg -Wl,-Bdynamic}
    ! readelf -d "$TMP/grad-static" | grep -q 'NEEDED.*libtg'
    "$TMP/grad-static" >"$TMP/out"
    diff -u examples/expected/c-grad.out "$TMP/out"
}

@test "12-training.sh: a line fit, a small network trained with --train, inference under --no-grad" {
    check_example 12-training
}

@test "make examples runs every example script and the C example" {
    [ -z "${TG_BIN:-}" ] || skip "TG_BIN is set: make examples uses the tools of bin/"
    run make -s examples
    [ "$status" -eq 0 ]
    local s
    for s in examples/[0-9][0-9]-*.sh; do
        [[ "$output" == *"==> $s"* ]] || { echo "make examples did not run $s"; return 1; }
    done
    [[ "$output" == *"tg_grad_eval:  f(2) = 9, df/dx = 15"* ]]
}

@test "the benchmarks build (make bench-build): CI does not run them, but they must compile" {
    [ -z "${TG_BIN:-}" ] || skip "TG_BIN is set: the benchmarks link lib/libtg.a"
    run make -s bench-build
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    [ -x build/bench/bench_autograd ]
}
