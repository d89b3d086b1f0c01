#!/usr/bin/env bats
# .npz archives (numpy.savez: a zip file of .npy files) are refused with one
# clear line (issue #20), as a file and on standard input, by every tool.
# not under check-cuda-emulated: a refused file format
load helper

@test ".npz: 'npz archives are not supported; unzip it and pass the .npy files', status 3" {
    # a real archive where Python can write one, else its first bytes
    if ! python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1], "w").writestr("x.npy", b"\x93NUMPY")' "$TMP/a.npz" 2>/dev/null; then
        printf 'PK\003\004' >"$TMP/a.npz"
    fi
    local msg="npz archives are not supported; unzip it and pass the \.npy files$"
    fails_with 3 "^tgrad: $TMP/a\.npz: $msg" tgrad x --at "$TMP/a.npz"
    fails_with 3 "^tmatmul: $TMP/a\.npz: $msg" tmatmul '[1]' "$TMP/a.npz"
    fails_with 3 "^tbroadcast: standard input: $msg" tbroadcast - <"$TMP/a.npz"
    # the file of --inputs is a JSON object: an archive there gets the same line
    fails_with 3 "^tgrad: $msg" tgrad x --inputs "$TMP/a.npz"
}
