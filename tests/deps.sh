#!/bin/sh
# deps.sh [--quiet] [--check] PKG... -- the Debian packages that are missing:
# installed with apt-get when run as root (make deps, make demo, make test),
# else the exact command is printed and it fails.  --check never installs
# (a plain make, make install): it only prints the command and fails.
quiet=0 check=0
while :; do
    case $1 in
        --quiet) quiet=1; shift ;;
        --check) check=1; shift ;;
        *) break ;;
    esac
done
# not Debian: nothing to check by package name (the compiler says what lacks)
if ! command -v dpkg-query >/dev/null 2>&1; then
    [ $check = 1 ] && exit 0
    echo "deps: dpkg-query not found: install the equivalents of $* by hand" >&2
    exit 1
fi
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    [ $quiet = 1 ] || echo "deps: all installed ($*)"
    exit 0
fi
if [ $check = 0 ] && [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $missing >/dev/null || {
        echo "deps: apt-get install$missing failed" >&2; exit 1; }
else
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo "
    echo "deps: missing$missing; install them with:  ${sudo}apt-get install -y$missing" >&2
    exit 1
fi
