#!/usr/bin/env bats
# about 14 s, sanitized 18 s: run_bats.sh starts the longest first
# man.bats -- the man pages: mandoc has nothing to say about them, every
# option a tool's --help prints is in its page, and every marked example
# runs and prints exactly what the page shows.
# not under check-cuda-emulated: its examples pin the cpu
#
# The example convention (in the page source):
#     .\" example                  (or: .\" example status=3)
#     .EX
#     $ COMMAND
#     OUTPUT LINES (standard output and standard error together)
#     .EE
# Each example runs with bash in a scratch directory of its own, with the
# repository's bin/ first on PATH; the exit status must be the one marked
# (0 when none is).

bats_require_minimum_version 1.5.0

PAGES=(man/man1/tgrad.1 man/man1/tmatmul.1 man/man1/tbroadcast.1 man/man1/tdevice.1
       man/man5/tg-formats.5 man/man5/tg-expr.5)
TOOLS=(tgrad tmatmul tbroadcast tdevice)

setup() {
    cd "$BATS_TEST_DIRNAME/../.."
    PATH="$PWD/bin:$PATH"
}

# The page's text with font escapes removed and other escapes decoded
# enough to compare option names: \-\-grad\-output -> --grad-output.
plain_page() {
    sed -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' -e 's/\\f\[[^]]*\]//g' -e 's/\\(aq/'"'"'/g' \
        -e 's/\\//g' "$1"
}

# Splits the marked examples of page $1 into directory $2: N.cmd, N.out,
# N.status for N = 1, 2, ...; prints the count.
split_examples() {
    awk -v dir="$2" '
        function unesc(s,    r, i, c, n) {
            r = ""
            for (i = 1; i <= length(s); i++) {
                c = substr(s, i, 1)
                if (c != "\\") { r = r c; continue }
                n = substr(s, i + 1, 1)
                if (n == "e") { r = r "\\"; i++ }
                else if (n == "-") { r = r "-"; i++ }
                else if (n == "&") { i++ }
                else if (n == "(") {
                    n = substr(s, i + 2, 2)
                    if (n == "aq") r = r "\047"
                    else if (n == "dq") r = r "\""
                    else if (n == "ha") r = r "^"
                    else if (n == "ti") r = r "~"
                    else if (n == "ga") r = r "`"
                    else if (n == "rs") r = r "\\"
                    else r = r "\\(" n
                    i += 3
                } else r = r c
            }
            return r
        }
        inex && $0 == ".EE" { inex = 0; prev = $0; next }
        inex && first {
            if (substr($0, 1, 2) != "$ ") {
                print "example " count " does not start with \"$ \": " $0 > "/dev/stderr"
                bad = 1
            }
            print unesc(substr($0, 3)) > (dir "/" count ".cmd")
            first = 0
            next
        }
        inex { print unesc($0) > (dir "/" count ".out"); next }
        $0 == ".EX" && prev ~ /^\.\\" example( status=[0-9]+)?[ \t]*$/ {
            count++
            inex = 1
            first = 1
            st = 0
            if (match(prev, /status=[0-9]+/))
                st = substr(prev, RSTART + 7, RLENGTH - 7)
            print st > (dir "/" count ".status")
            printf "" > (dir "/" count ".out")
        }
        { prev = $0 }
        END { print count + 0; exit bad }
    ' "$1"
}

# Runs every marked example of page $1; prints a diff for each mismatch.
check_examples() {
    local page=$1 dir="$BATS_TEST_TMPDIR/$(basename "$1")" n i t fails=0
    for t in "${TOOLS[@]}"; do
        [ -x "bin/$t" ] || { echo "bin/$t is missing: run make first"; return 1; }
    done
    mkdir -p "$dir"
    n=$(split_examples "$page" "$dir") || return 1
    [ "$n" -gt 0 ] || { echo "$page: no examples marked"; return 1; }
    for ((i = 1; i <= n; i++)); do
        local cmd want_status got_status work
        cmd=$(cat "$dir/$i.cmd")
        want_status=$(cat "$dir/$i.status")
        work="$dir/run.$i"
        mkdir -p "$work"
        got_status=0
        # on the CPU: the pages show its digits (on cuda the math functions
        # differ in the last bits; tests/gpu/run.sh sets TG_DEVICE=cuda)
        (cd "$work" && LC_ALL=C TG_DEVICE=cpu timeout 30 bash -c "$cmd") >"$dir/$i.got" 2>&1 || got_status=$?
        if ! cmp -s "$dir/$i.out" "$dir/$i.got" || [ "$got_status" != "$want_status" ]; then
            fails=$((fails + 1))
            [ "$fails" -le 10 ] || continue # the first ten in full
            echo "--- $page, example $i: \$ $cmd"
            echo "    status: expected $want_status, got $got_status"
            diff -u "$dir/$i.out" "$dir/$i.got" | sed -e 1,2d -e 's/^/    /'
        fi
    done
    [ "$fails" -eq 0 ] || { echo "$fails of $n examples of $page differ"; return 1; }
}

@test "every man page exists and mandoc -Tlint -W warning reports nothing" {
    command -v mandoc >/dev/null || skip "mandoc is not installed"
    for page in "${PAGES[@]}"; do
        [ -f "$page" ] || { echo "missing: $page"; return 1; }
        run mandoc -Tlint -W warning "$page"
        [ -z "$output" ] || { echo "$output"; return 1; }
    done
}

@test "every long option of each tool's --help is in its man page" {
    for tool in "${TOOLS[@]}"; do
        [ -x "bin/$tool" ] || { echo "bin/$tool is missing: run make first"; return 1; }
        run ./bin/$tool --help
        [ "$status" -eq 0 ]
        local opts text missing=""
        opts=$(printf '%s\n' "$output" | grep -oE -- '--[a-z][a-z-]*' | sort -u)
        [ -n "$opts" ] || { echo "$tool --help lists no options"; return 1; }
        text=$(plain_page "man/man1/$tool.1")
        for opt in $opts; do
            printf '%s\n' "$text" | grep -qE -- "$opt([^a-z-]|\$)" || missing="$missing $opt"
        done
        [ -z "$missing" ] || { echo "man/man1/$tool.1 lacks:$missing"; return 1; }
    done
}

@test "every function of the expression language (lib/expr/builtins.c, lib/ops/ops.def) is in tg-expr(5)" {
    # each as "name(", as the FUNCTIONS section writes it
    local names text missing=""
    # the table's entries, {"name", "params", ...}, and the ops' CALL("name", ...)
    names=$( (grep -oE '\{"[a-z_][a-z_0-9]*", "[^"]*",' lib/expr/builtins.c; grep -oE 'CALL\("[a-z_][a-z_0-9]*"' lib/ops/ops.def) |
        sed -E 's/^(\{|CALL\()"([^"]*)".*/\2/' | sort -u)
    [ -n "$names" ] || { echo "no functions found in lib/expr/builtins.c"; return 1; }
    text=$(plain_page man/man5/tg-expr.5)
    for f in $names; do
        printf '%s\n' "$text" | grep -qE "(^|[^a-z_])$f\\(" || missing="$missing $f"
    done
    [ -z "$missing" ] || { echo "man/man5/tg-expr.5 lacks:$missing"; return 1; }
}

@test "tgrad(1): the examples print what the page shows" {
    check_examples man/man1/tgrad.1
}

@test "tmatmul(1): the examples print what the page shows" {
    check_examples man/man1/tmatmul.1
}

@test "tbroadcast(1): the examples print what the page shows" {
    check_examples man/man1/tbroadcast.1
}

@test "tdevice(1): the examples print what the page shows" {
    check_examples man/man1/tdevice.1
}

@test "tg-formats(5): the examples print what the page shows" {
    check_examples man/man5/tg-formats.5
}

@test "tg-expr(5): the examples print what the page shows" {
    check_examples man/man5/tg-expr.5
}
