#!/bin/sh
# prepare.sh -- run HERE (a machine with Debian's package registry), before
# asking the device tool for a GPU: the GPU machine is bare and offline, so
# the Debian packages the build and the tests need are downloaded into
# .gpu-deps/ (git-ignored), which the device call carries and run.sh unpacks
# under /tmp/gpu-deps (make's TG_DEPS_PREFIX):
#
#   tests/gpu/prepare.sh
#   device run, carry [".gpu-deps"], timeout_s 540, command:
#     set -o pipefail; sh tests/gpu/run.sh 2>&1 | tee $OUT/run.log
#   (the whole log and the suite's, $OUT/suite.log, come back)
#
# Its python3 (PyTorch, NumPy) is the image's own; nvcc is there too.
set -eu
cd "$(dirname "$0")/../.."
mkdir -p .gpu-deps
grep -qx '/.gpu-deps/' .git/info/exclude 2>/dev/null || echo '/.gpu-deps/' >> .git/info/exclude
apt-get update -qq
cd .gpu-deps
apt-get download -qq libcjson1 libcjson-dev libopenblas0 libopenblas0-pthread libopenblas-dev \
    libopenblas-pthread-dev libgfortran5 bats
ls -la
