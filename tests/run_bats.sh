#!/bin/sh
# run_bats.sh -- the Bats files, several at a time.
#
#   tests/run_bats.sh [FILE.bats ...]      (default: every tests/bats/*.bats)
#
# An argument that is not a .bats file is a program run as one more job
# (the unit tests: make test, make check-sanitize), its output printed
# whole in its place; it starts first, so that it overlaps the Bats files
# rather than keeping a core waiting alone before them.
#
# Each file runs in its own bats process, TG_BATS_JOBS of them at once
# (default: the number of processors), its TAP output kept in a temporary
# file and printed whole, in the files' order, when it is done, so that the
# log reads as a serial run's.  The exit status is 1 when any file fails.
# The suite has to stay under ten minutes on 2 cores three times over
# (plain, cuda-emulated, sanitized), and one bats process keeps about one
# core busy: two at a time nearly halve it.
#
# Files are independent: each test works in its own BATS_TEST_TMPDIR and
# its own cache folder (helper.bash), so running them side by side changes
# no result; tests never assert on timing.
set -u
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- tests/bats/*.bats
jobs=${TG_BATS_JOBS:-$(nproc 2>/dev/null || echo 2)}
logs=$(mktemp -d "${TMPDIR:-/tmp}/tg-bats.XXXXXX") || exit 4
trap 'rm -rf "$logs"' EXIT
trap 'exit 130' INT TERM HUP

# the longest files start first, so that the last ones to finish are
# short: a file says how long it takes in a line "# about N s" (or "# about
# N s, sanitized M s", used when TG_SANITIZE is set); others count as 5 s
i=0
for f in "$@"; do
    i=$((i + 1))
    case $f in
    *.bats)
        cost=$(sed -n 's/^# about \([0-9]*\) s\(, sanitized \([0-9]*\) s\)\{0,1\}.*/\1 \3/p' "$f" | head -1)
        plain=${cost%% *} sanitized=${cost#* }
        [ -n "${TG_SANITIZE:-}" ] && [ -n "$sanitized" ] && plain=$sanitized ;;
    *) plain=9999 ;;
    esac
    printf '%s %s\n' "${plain:-5}" "$(printf '%03d' $i) $f"
done | sort -rn | cut -d' ' -f2- | xargs -P "$jobs" -L 1 sh -c '
    start=$(date +%s) n=$1
    case $2 in
    *.bats) set -- bats --tap --timing "$2" ;;
    *) set -- "$2" ;;
    esac
    if "$@" >"$0/$n.out" 2>&1; then : >"$0/$n.ok"; fi
    echo $(($(date +%s) - start)) >"$0/$n.time"
' "$logs"

st=0
i=0
for f in "$@"; do
    i=$((i + 1))
    n=$(printf '%03d' $i)
    echo "# $f ($(cat "$logs/$n.time" 2>/dev/null || echo ?) s)"
    cat "$logs/$n.out"
    [ -e "$logs/$n.ok" ] || { st=1; failed="${failed:-} $f"; }
done
if [ $st -ne 0 ]; then
    echo "run_bats: failed:$failed" >&2
else
    echo "run_bats: all $# files passed"
fi
exit $st
