# helper.bash -- shared set-up for the tool tests: run from the repo root
# with the freshly built tools first on PATH.
bats_require_minimum_version 1.5.0

setup() {
    cd "$BATS_TEST_DIRNAME/../.."
    PATH="${TG_BIN:-$PWD/bin}:$PATH"
    TMP="$BATS_TEST_TMPDIR"
}

# fails_with STATUS PATTERN CMD...: exit status, empty stdout, one-line
# stderr matching PATTERN (a grep -E regex)
fails_with() {
    local status=$1 pattern=$2
    shift 2
    run "-$status" --separate-stderr "$@"
    [ -z "$output" ] || { echo "stdout not empty: $output"; return 1; }
    [ -n "$stderr" ] || { echo "no message on stderr"; return 1; }
    echo "$stderr" | head -1 | grep -Eq -- "$pattern" || { echo "stderr: $stderr"; echo "expected: $pattern"; return 1; }
}
