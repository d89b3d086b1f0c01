# common.sh -- sourced by the numbered examples (examples/NN-*.sh); not run
# on its own.  It puts this tree's tools first on PATH ($TG_BIN instead when
# it is set, as the Bats tests allow for the sanitizer and valgrind builds),
# makes a scratch directory, works there, removes it on exit, and defines:
#
#   title TEXT         the example's heading
#   say LINE...        a comment, one line per argument, after a blank line
#   run 'COMMAND'      prints "$ COMMAND", then runs it (standard error too,
#                      so that messages show where they belong); a status
#                      other than 0 is shown as "(exit status N)" and counted
#                      as unexpected
#   fails N 'COMMAND'  the same, for a command that should exit with N
#   finish             at the end: status 1 when anything was unexpected
#
# COMMAND is shown exactly as it is run (with eval), so it can be copied to
# a shell whose PATH has the tools and whose directory is a scratch one.
examples_dir=$(cd "$(dirname "$0")" && pwd) || exit 4
PATH="${TG_BIN:-$examples_dir/../bin}:$PATH"
export PATH
# the same output everywhere: no default device from the environment
# (06-gpu.sh sets TG_DEVICE where it shows it), C collation for ls
unset TG_DEVICE
LC_ALL=C
export LC_ALL
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tg-example.XXXXXX") || exit 4
trap 'cd / && rm -rf "$scratch"' EXIT
trap 'exit 130' HUP INT TERM
cd "$scratch" || exit 4
unexpected=0

title() {
    printf '%s\n' "$*"
}

say() {
    echo
    for line in "$@"; do
        printf '# %s\n' "$line"
    done
}

fails() {
    want=$1
    printf '$ %s\n' "$2"
    eval "$2" 2>&1
    got=$?
    [ "$got" -eq 0 ] || printf '(exit status %d)\n' "$got"
    if [ "$got" -ne "$want" ]; then
        printf '%s: unexpected exit status %d (expected %d): %s\n' "${0##*/}" "$got" "$want" "$2" >&2
        unexpected=$((unexpected + 1))
    fi
    return 0
}

run() {
    fails 0 "$1"
}

finish() {
    [ "$unexpected" -eq 0 ] || exit 1
    exit 0
}
