#!/bin/sh
# live_check.sh -- the differential test against PyTorch with fresh cases:
# regenerates the fixtures with another seed into a temporary file and runs
# the C test (tests/unit/test_torch_fixtures.c) over them.
#
#   tests/torch/live_check.sh [SEED [NRANDOM]]
#
# SEED defaults to one drawn from the clock (printed, so that a failure can
# be reproduced); NRANDOM is the number of random compositions (default 300).
# Needs Debian's /usr/bin/python3 with python3-torch; without it, prints a
# skip message and exits 0.  Exit status: the unit-test binary's.
set -eu
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    echo "live_check: skipped: $PY cannot import torch (apt-get install python3-torch)"
    exit 0
fi
seed=${1:-$(date +%s)}
nrandom=${2:-300}
tmp=$(mktemp "${TMPDIR:-/tmp}/tg-fixtures.XXXXXX")
trap 'rm -f "$tmp"' EXIT
echo "live_check: seed $seed"
"$PY" tests/torch/gen_fixtures.py --seed "$seed" --random "$nrandom" --out "$tmp" --quiet
make --no-print-directory build/tests/unit_tests >/dev/null
TG_FIXTURES=$tmp ./build/tests/unit_tests torch_fixtures
