#!/bin/sh
# deps.sh [--quiet] PKG... -- install the Debian packages that are missing:
# with apt-get when run as root, else print the exact command and fail.
quiet=0
[ "$1" = "--quiet" ] && { quiet=1; shift; }
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    [ $quiet = 1 ] || echo "deps: all installed ($*)"
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $missing >/dev/null || {
        echo "deps: apt-get install$missing failed" >&2; exit 1; }
else
    echo "deps: missing$missing; run as root:  apt-get install -y$missing" >&2
    exit 1
fi
