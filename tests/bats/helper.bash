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
    # the first line against the regex in bash itself: a pipe into grep
    # cost three processes per check, nearly half of each check's time
    # (hostile.bats makes hundreds); [[ =~ ]] and grep -E are the same
    # ERE engine (glibc's regex)
    local first=${stderr%%$'\n'*}
    [[ $first =~ $pattern ]] || { echo "stderr: $stderr"; echo "expected: $pattern"; return 1; }
}

# random_programs N SEED: N random elementwise programs of x and y, one a line
random_programs() {
    awk -v n="$1" -v seed="$2" '
    function leaf(r) { r = int(rand() * 5); return r == 0 ? "x" : r == 1 ? "y" : r == 2 ? "x" : r == 3 ? "y" : (int(rand() * 7) - 3) / 2 }
    function e(d,   r, a, b) {
        if (d <= 0) return leaf()
        r = int(rand() * 24); a = e(d - 1)
        if (r == 0) return "exp(" a " * 0.3)"
        if (r == 1) return "tanh(" a ")"
        if (r == 2) return "sigmoid(" a ")"
        if (r == 3) return "sin(" a ")"
        if (r == 4) return "cos(" a ")"
        if (r == 5) return "abs(" a ")"
        if (r == 6) return "relu(" a ")"
        if (r == 7) return "sqrt(abs(" a ") + 0.5)"
        if (r == 8) return "log(abs(" a ") + 1)"
        if (r == 9) return "erf(" a ")"
        if (r == 10) return "softplus(" a ")"
        if (r == 11) return "-(" a ")"
        if (r == 12) return "(" a ")**2"
        if (r == 13) return "(" a ")**3"
        if (r == 14) return "(abs(" a ") + 1)**1.5"
        if (r == 15) return "clamp(" a ", -1, 2)"
        b = e(d - 1)
        if (r == 16) return "(" a " + " b ")"
        if (r == 17) return "(" a " - " b ")"
        if (r == 18) return "(" a " * " b ")"
        if (r == 19) return "(" a ") / (1 + (" b ")**2)"
        if (r == 20) return "maximum(" a ", " b ")"
        if (r == 21) return "minimum(" a ", " b ")"
        if (r == 22) return "where(" a " > " b ", " a ", " b " * 2)"
        return "(" a " < " b ") * " a
    }
    BEGIN { srand(seed); for (i = 0; i < n; i++) print "sum(" e(2 + int(rand() * 3)) " + x * 0 + y * 0)" }'
}
