#!/bin/sh
# report_logs.sh WHAT FILE... -- prints every non-empty log file (sanitizer
# or valgrind reports written with log_path / --log-file) and fails if there
# is any; says "WHAT: no reports" otherwise.
what=$1
shift
n=0
for f in "$@"; do
    [ -s "$f" ] || continue
    n=$((n + 1))
    echo "==== $what report: $f"
    cat "$f"
done
if [ $n -gt 0 ]; then
    echo "$what: $n report(s) above" >&2
    exit 1
fi
echo "$what: no reports"
