#!/usr/bin/env bats
# about 30 s, sanitized 40 s: run_bats.sh starts the longest first
# hostile.bats -- the bad-input catalogue: one test per class of hostile
# input, each asserting the exit status of tg-formats(5), an empty standard
# output and one line on standard error that names the problem.  Cases that
# fail today are kept, marked `skip "known bug: ..."`, for the lead to
# unskip once fixed.
# not under check-cuda-emulated: bad input is refused before any device work
load helper

# ulimit -v cannot be used under ASan (it reserves terabytes of address
# space) or valgrind: such tests skip there
no_ulimit_v() {
    [ -z "${TG_SANITIZE:-}${TG_UNDER_VALGRIND:-}" ] || skip "ulimit -v does not work under ASan or valgrind"
}

# fails1 STATUS REGEX CMD...: fails_with, and the message is exactly one line
fails1() {
    fails_with "$@" || return 1
    [ "${#stderr_lines[@]}" -eq 1 ] || { echo "expected one line on stderr, got:"; echo "$stderr"; return 1; }
}

# fails_expr STATUS REGEX CMD...: an expression error: the message, then the
# expression's line and a caret under the position
fails_expr() {
    fails_with "$@" || return 1
    [ "${#stderr_lines[@]}" -eq 3 ] || { echo "expected message, line, caret:"; echo "$stderr"; return 1; }
    [[ "${stderr_lines[0]}" =~ \(at\ position\ [0-9]+\)$ ]] || { echo "no position: ${stderr_lines[0]}"; return 1; }
    [[ "${stderr_lines[2]}" =~ ^\ +\^$ ]] || { echo "no caret: ${stderr_lines[2]}"; return 1; }
}

# npy FILE DICT [VERSION]: writes the .npy prefix and header for DICT (a
# Python dict literal) to FILE, byte by byte: magic, version, header length
# (2 bytes for 1.0, 4 for 2.0/3.0, little-endian), the dict, '\n'.  Append
# the data yourself.  The header is not padded (NumPy pads; readers must not
# require it).
npy() {
    local file=$1 dict=$2 ver=${3:-1}
    local n=$((${#dict} + 1))
    printf '\x93NUMPY' >"$file"
    if [ "$ver" = 1 ]; then
        printf "\\x01\\x00\\x$(printf %02x $((n & 255)))\\x$(printf %02x $((n >> 8)))" >>"$file"
    else
        printf "\\x0$ver\\x00\\x$(printf %02x $((n & 255)))\\x$(printf %02x $((n >> 8 & 255)))\\x00\\x00" >>"$file"
    fi
    printf '%s\n' "$dict" >>"$file"
}

# f8 VALUES...: little-endian float64 bytes of small integers 0..3 (enough
# for data that must be present; the values do not matter)
f8_zeros() { head -c $((8 * $1)) /dev/zero; }

@test "the npy helper writes a file the tools read (sanity check of the catalogue)" {
    npy "$TMP/ok.npy" "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
    printf '\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40' >>"$TMP/ok.npy"
    run tmatmul "$TMP/ok.npy" "$TMP/ok.npy"
    [ "$status" -eq 0 ]
    [ "$output" = 5 ]
    npy "$TMP/ok2.npy" "{'descr': '<i8', 'fortran_order': False, 'shape': (), }" 2
    printf '\x07\x00\x00\x00\x00\x00\x00\x00' >>"$TMP/ok2.npy"
    run tbroadcast "$TMP/ok2.npy" 1
    [ "$output" = 8 ]
}

@test "malformed JSON: status 3 naming what was expected and where" {
    for bad in '[1,,2]' '[1 2]' '[01]' '[1.]' '[.5]' '[+1]' '[0x10]' '[1]x' '[1],' '[1e]' '[-]' \
               '{"data":}' '{"data":[1],}' '{data:[1]}' "{'data':[1]}" '[1,2]]' '{"data":[1]' '[tru]'; do
        fails1 3 '^tgrad: .*(expected|malformed|unexpected|not JSON|offset)' tgrad x --at "$bad"
        fails1 3 '^tmatmul: ' tmatmul "$bad" '[1]'
        fails1 3 '^tbroadcast: ' tbroadcast '[1]' "$bad"
    done
    fails1 3 'expected .* at offset 3' tgrad x --at '[1,,2]'
    fails1 3 'leading zeros' tgrad x --at '[01]'
    fails1 3 'hexadecimal' tgrad x --at '[0x10]'
}

@test "truncated JSON: status 3, the message says where the input ended" {
    for bad in '[' '[[1,2],[3,' '{"data":[1,2' '{"data":[1,2],"shape":[2' '{"data"' '["NaN' '[1,2,'; do
        fails1 3 'end of the input|unterminated' tgrad x --at "$bad"
        fails1 3 '^tmatmul: .*(end of the input|unterminated)' tmatmul "$bad" '[1]'
    done
    printf '[[1,2],[3,' >"$TMP/t.json"
    fails1 3 "^tgrad: .*t\.json.*end of the input" tgrad x --at "$TMP/t.json"
    printf '[[1,2],[3,' | { fails1 3 'standard input.*end of the input' tgrad x --at -; }
}

@test "ragged arrays: status 3 naming the elements that differ" {
    fails1 3 'ragged array .*element \[1\] has 1 items but element \[0\] has 2' tgrad x --at '[[1,2],[3]]'
    fails1 3 'ragged' tgrad x --at '[[1,2],3]'
    fails1 3 'ragged' tgrad x --at '[1,[2]]'
    fails1 3 'ragged' tgrad x --at '[[],[1]]'
    fails1 3 'ragged' tgrad x --at '[[[1]],[[1,2]]]'
    fails1 3 '^tmatmul: ragged' tmatmul '[[1,2],[3]]' '[1,2]'
    fails1 3 '^tbroadcast: ragged' tbroadcast '[1]' '[[1],[2,3]]'
    fails1 3 'ragged' tgrad x --at '{"data":[[1,2],[3]]}'
    fails1 3 'booleans and numbers' tgrad x --at '[true,1]'
}

@test "nesting deeper than the limits: status 3, no stack overflow" {
    deep() { printf "%$1s" | tr ' ' '['; printf 1; printf "%$1s" | tr ' ' ']'; }
    fails1 3 'nested more than 16 deep|rank limit' tgrad x --at "$(deep 17)"
    fails1 3 'nested|deep|limit' tgrad x --at "$(deep 60000)"
    fails1 3 '^tmatmul: .*(nested|deep|limit)' tmatmul "$(deep 60000)" '[1]'
    objs=$(printf '{"data":%.0s' $(seq 100); printf 1; printf '}%.0s' $(seq 100))
    fails1 3 'nested|deep|limit|expected' tgrad x --at "$objs"
    deep 1000000 >"$TMP/deep.json"
    fails1 3 'nested|deep|limit' tgrad x --at "$TMP/deep.json"
    # expressions: parentheses, unary minus, calls, method chains
    parens=$(printf '(%.0s' $(seq 60000); printf x; printf ')%.0s' $(seq 60000))
    fails_expr 3 'deep|nest|limit' tgrad "$parens" --at 1
    fails_expr 3 'deep|nest|limit' tgrad "x*$(printf -- '-%.0s' $(seq 60000))x" --at 1
    fails_expr 3 'deeper than 10000 levels' tgrad "x$(printf '+x%.0s' $(seq 20000))" --at 1
    fails_expr 3 'deep|nest|limit' tgrad "$(printf 'exp(%.0s' $(seq 20000); printf x; printf ')%.0s' $(seq 20000))" --at 1
    fails_expr 3 'deep|nest|limit' tgrad "$(printf "[%.0s" $(seq 60000))1" --no-grad
}

@test "long expressions within the limits work (5000 additions, 2000 method calls)" {
    run --separate-stderr tgrad "x$(printf '+x%.0s' $(seq 5000))" --at 1
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":5001,"grad":{"x":5001}}' ]
    run --separate-stderr tgrad "x$(printf '.exp().log()%.0s' $(seq 2000))" --at 1
    [ "$status" -eq 0 ]
}

@test "shapes whose element count overflows 64 bits: object form, status 3" {
    fails1 3 'too many elements|limit' tgrad x --at '{"data":[],"shape":[4294967296,4294967296]}'
    fails1 3 'too many elements|limit' tgrad x --at '{"data":[],"shape":[9223372036854775807,2]}'
    fails1 3 'too many elements|limit' tgrad x --at '{"data":[],"shape":[3037000500,3037000500]}'
    fails1 3 'too many elements|limit' tgrad x --at '{"data":[],"shape":[1099511627777]}'
    fails1 3 'out of the int64 range|too many|limit' tgrad x --at '{"data":[],"shape":[18446744073709551617]}'
    fails1 3 'negative' tgrad x --at '{"data":[],"shape":[-1]}'
    fails1 3 'rank|dimensions|limit' tgrad x --at '{"data":[],"shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,0]}'
    fails1 3 '^tmatmul: .*(too many elements|limit)' tmatmul '{"data":[],"shape":[4294967296,4294967296]}' '[1]'
    fails1 3 '^tbroadcast: .*(too many elements|limit)' tbroadcast --shapes 4294967296,4294967296 1
}

@test "shapes whose element count overflows 64 bits: .npy header, status 3" {
    npy "$TMP/a.npy" "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"
    fails1 3 'a\.npy.*(too many elements|limit)' tgrad x --at "$TMP/a.npy"
    npy "$TMP/b.npy" "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }"
    fails1 3 'b\.npy.*(overflows|too many|limit)' tgrad x --at "$TMP/b.npy"
    npy "$TMP/c.npy" "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }"
    fails1 3 'c\.npy.*(too many elements|limit|overflow)' tmatmul "$TMP/c.npy" '[1]'
    npy "$TMP/d.npy" "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"
    fails1 3 'd\.npy.*negative' tgrad x --at "$TMP/d.npy"
    npy "$TMP/e.npy" "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1), }"
    fails1 3 'e\.npy.*(rank|dimensions)' tgrad x --at "$TMP/e.npy"
}

@test "a huge shape of zero elements is fine, and reducing it does not overflow strides" {
    # [0, 2^32, 2^32] has no elements; its contiguous strides (2^64, ...) do
    # not fit in int64.  PyTorch accepts the shape.
    run --separate-stderr tgrad 'x.sum()' --at '{"data":[],"shape":[0,4294967296,4294967296]}'
    [ "$status" -eq 0 ] || [ "$status" -eq 3 ]
    [ "$status" -ne 0 ] || [ "$output" = '{"value":0,"grad":{"x":[]}}' ]
}

@test "truncated .npy files: status 3 saying how many bytes are missing" {
    npy "$TMP/t.npy" "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"
    f8_zeros 2 >>"$TMP/t.npy"
    fails1 3 't\.npy: truncated .npy data: .*24 bytes.* 16 ' tgrad x --at "$TMP/t.npy"
    fails1 3 '^tmatmul: .*truncated' tmatmul "$TMP/t.npy" '[1,2,3]'
    fails1 3 '^tbroadcast: .*truncated' tbroadcast "$TMP/t.npy" 1
    # inside the magic, the version, the header length, the header
    printf '\x93NUM' >"$TMP/m.npy"
    run --separate-stderr tgrad x --at "$TMP/m.npy"
    [ "$status" -eq 3 ] && [ -z "$output" ] && [ "${#stderr_lines[@]}" -eq 1 ]
    printf '\x93NUMPY\x01' >"$TMP/v.npy"
    fails1 3 'truncated' tgrad x --at "$TMP/v.npy"
    printf '\x93NUMPY\x01\x00\x46' >"$TMP/l.npy"
    fails1 3 'truncated' tgrad x --at "$TMP/l.npy"
    npy "$TMP/h.npy" "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"
    head -c 30 "$TMP/h.npy" >"$TMP/h2.npy"
    fails1 3 'past the end|truncated' tgrad x --at "$TMP/h2.npy"
    # from standard input
    head -c 30 "$TMP/h.npy" | { fails1 3 'standard input.*(past the end|truncated)' tgrad x --at -; }
}

@test "unsupported .npy dtypes: object, structured, complex and others, status 3 naming the dtype" {
    npy "$TMP/o.npy" "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    f8_zeros 1 >>"$TMP/o.npy"
    fails1 3 "dtype '\|O'.*object" tgrad x --at "$TMP/o.npy"
    npy "$TMP/s.npy" "{'descr': [('a', '<f4'), ('b', '<i8')], 'fortran_order': False, 'shape': (1,), }"
    head -c 12 /dev/zero >>"$TMP/s.npy"
    fails1 3 'structured' tgrad x --at "$TMP/s.npy"
    for d in '<c8' '<c16' '<U5' '|S3' '<f2' '<u4' '|u1' '<i2' '<M8[ns]' '|V8' '<f16' 'x' ''; do
        npy "$TMP/u.npy" "{'descr': '$d', 'fortran_order': False, 'shape': (1,), }"
        f8_zeros 2 >>"$TMP/u.npy"
        fails1 3 "unsupported .npy dtype|dtype '" tgrad x --at "$TMP/u.npy"
        fails1 3 "^tmatmul: .*dtype" tmatmul "$TMP/u.npy" '[1]'
    done
    npy "$TMP/c.npy" "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }"
    f8_zeros 1 >>"$TMP/c.npy"
    fails1 3 "'<c8' \(complex" tgrad x --at "$TMP/c.npy"
}

@test "a .npy header that lies about its length: status 3" {
    dict="{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }"
    # longer than the file
    { printf '\x93NUMPY\x01\x00\xff\xff'; printf '%s\n' "$dict"; f8_zeros 1; } >"$TMP/long.npy"
    fails1 3 'header length 65535 runs past the end' tgrad x --at "$TMP/long.npy"
    { printf '\x93NUMPY\x02\x00\xff\xff\xff\xff'; printf '%s\n' "$dict"; } >"$TMP/long2.npy"
    fails1 3 'header length 4294967295 runs past the end' tgrad x --at "$TMP/long2.npy"
    # shorter: the dict is cut
    { printf '\x93NUMPY\x01\x00\x10\x00'; printf '%s\n' "$dict"; f8_zeros 1; } >"$TMP/short.npy"
    fails1 3 'malformed .npy header' tgrad x --at "$TMP/short.npy"
    # zero length
    { printf '\x93NUMPY\x01\x00\x00\x00'; printf '%s\n' "$dict"; f8_zeros 1; } >"$TMP/zero.npy"
    fails1 3 'malformed .npy header' tgrad x --at "$TMP/zero.npy"
    # the data is longer than the shape says
    npy "$TMP/extra.npy" "$dict"
    f8_zeros 2 >>"$TMP/extra.npy"
    fails1 3 '8 bytes after the data' tgrad x --at "$TMP/extra.npy"
    # other versions
    { printf '\x93NUMPY\x04\x00\x10\x00'; printf '%s\n' "$dict"; } >"$TMP/v4.npy"
    fails1 3 'version 4.0' tgrad x --at "$TMP/v4.npy"
    # a header that is not a dict, or has unknown/missing/duplicate keys
    for d in "[]" "{'descr': '<f8', 'shape': (1,), }" "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}" \
             "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,), }" \
             "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,), }" \
             "{'descr': '<f8', 'fortran_order': False, 'shape': (1), }" \
             "{'descr': '<f8', 'fortran_order': False, 'shape': [1], }" \
             "{'descr': '<f8\\x', 'fortran_order': False, 'shape': (1,), }" \
             "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), } junk"; do
        npy "$TMP/bad.npy" "$d"
        f8_zeros 1 >>"$TMP/bad.npy"
        fails1 3 'malformed .npy header|\.npy' tgrad x --at "$TMP/bad.npy"
    done
}

@test "bare NaN and Infinity are not JSON: status 3 saying to quote them" {
    fails1 3 'bare NaN at offset 1 is not JSON: write it as the string "NaN"' tgrad x --at '[NaN]'
    fails1 3 'bare Infinity .*"Infinity"' tgrad x --at '[1,Infinity]'
    fails1 3 'bare -Infinity .*"-Infinity"' tgrad x --at '[-Infinity]'
    fails1 3 'bare NaN' tgrad x --at 'NaN'
    fails1 3 'bare (nan|NaN)' tgrad x --at '[nan]'
    fails1 3 'bare (inf|Inf)' tgrad x --at '[inf]'
    fails1 3 'bare NaN' tgrad x --at '{"data":[NaN]}'
    fails1 3 '^tmatmul: bare NaN' tmatmul '[NaN]' '[1]'
    fails1 3 '^tbroadcast: bare Infinity' tbroadcast '[Infinity]' '[1]'
    # the quoted forms are fine
    run tgrad x --no-grad --at '["NaN","Infinity","-Infinity"]'
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":["NaN","Infinity","-Infinity"]}' ]
}

@test "strings, null and other values where numbers belong: status 3" {
    fails1 3 'expected a number at offset 1, found the string "1"' tgrad x --at '["1"]'
    fails1 3 'found null' tgrad x --at '[null]'
    fails1 3 'found null' tgrad x --at 'null'
    fails1 3 'found an object' tgrad x --at '[{}]'
    fails1 3 'expected a number' tgrad x --at '{"data":"abc"}'
    fails1 3 'expected a number' tgrad x --at '{"data":["nan"]}'
    fails1 3 '"shape"' tgrad x --at '{"data":[1],"shape":"1"}'
    fails1 3 '"shape"' tgrad x --at '{"data":[1],"shape":[null]}'
    fails1 3 '"shape"|integer' tgrad x --at '{"data":[1],"shape":[1.5]}'
    fails1 3 'dtype' tgrad x --at '{"data":[1],"dtype":5}'
    fails1 3 "unknown dtype 'complex64'" tgrad x --at '{"data":[1],"dtype":"complex64"}'
    fails1 3 'requires_grad' tgrad x --at '{"data":[1],"requires_grad":"yes"}'
    fails1 3 'duplicate key' tgrad x --at '{"data":[1],"data":[2]}'
    fails1 3 "unknown key 'bogus'" tgrad x --at '{"data":[1],"bogus":1}'
    fails1 3 'not an integer' tgrad x --at '{"data":[1.5],"dtype":"int64"}'
    fails1 3 'out of the int64 range' tgrad 'x*1' --at '{"data":[9223372036854775808],"dtype":"int64"}'
    fails1 3 'overflows float32' tgrad x --at '[1e39]'
    fails1 3 'overflows float64' tgrad x --at '{"data":[1e309],"dtype":"float64"}'
    fails1 3 'invalid UTF-8' tgrad x --at $'["\xff"]'
    fails1 3 'control character' tgrad x --at $'["\x01"]'
    fails1 3 '^tmatmul: .*found null' tmatmul '[1,null]' '[1,2]'
    fails1 3 '^tbroadcast: .*found the string' tbroadcast '[1]' '["a"]'
}

@test "expression syntax errors: status 3 with the position and a caret" {
    for e in 'x +' 'x ** * 2' '2 x' 'x..sum()' 'x.sum(' '@x' 'x = ' '1 = x' 'x[' 'x,' ',' '*' \
             'x +* 2' 'x.' 'sum(x,,)' 'sum(,x)' 'x = = 1' '"x"' "'x'" 'x ? 1' 'x$' '1.2.3' '1e' '0x1g'; do
        fails_expr 3 '^tgrad: ' tgrad "$e" --at 1
    done
    fails_expr 3 'expected a number, a name' tgrad 'x +' --at 1
    fails_expr 3 "unexpected character '\\\\xff'" tgrad $'x+\xff' --at 1
    fails_expr 3 "unexpected character '\\\\x01'" tgrad $'x+\x01' --at 1
}

@test "unbalanced brackets: status 3 pointing at the bracket" {
    for e in '(x' 'x)' '((x)' '(x))' '[1,2' '1,2]' 'exp(x' 'exp x)' 'x[0' 'x]' '(]' '[)' 'sum(x, dim=(0,1)'; do
        fails_expr 3 "^tgrad: .*(\\(|\\)|\\[|\\]|close|unexpected|expected)" tgrad "$e" --at '[[1]]'
    done
    fails_expr 3 "expected '\\)' to close the '\\('" tgrad '(x' --at 1
}

@test "unknown functions, methods and variables: status 3 with a suggestion" {
    fails_expr 3 "unknown function 'foo'" tgrad 'foo(x)' --at 1
    fails_expr 3 "unknown function 'expp'.*did you mean 'exp'" tgrad 'expp(x)' --at 1
    fails_expr 3 "unknown name 'y'.*did you mean 'x'" tgrad 'x+y' --at x=1
    fails_expr 3 "unknown|method|attribute" tgrad 'x.foo()' --at 1
    fails_expr 3 "unknown|method|attribute" tgrad 'x.foo' --at 1
    fails_expr 3 "unknown name 'q'" tgrad 'q' --no-grad
    fails_expr 3 "unknown" tgrad '__import__(x)' --at 1
}

@test "wrong argument counts and keywords: status 3" {
    fails_expr 3 'exp\(\) takes 1 argument' tgrad 'exp(x,x)' --at 1
    fails_expr 3 'exp\(\) takes 1 argument|argument' tgrad 'x + exp()' --at 1
    fails_expr 3 'argument' tgrad 'pow(x)' --at 1
    fails_expr 3 'argument' tgrad 'matmul(x)' --at '[1]'
    fails_expr 3 'argument' tgrad 'x.exp(1)' --at 1
    fails_expr 3 'keyword|dimm' tgrad 'sum(x, dimm=0)' --at '[1]'
    fails_expr 3 'keyword|dim|twice|repeated' tgrad 'sum(x, dim=0, dim=0)' --at '[1]'
    fails_expr 3 'dim|range' tgrad 'sum(x, dim=5)' --at '[1]'
    fails_expr 3 'dim|integer' tgrad 'sum(x, dim=0.5)' --at '[1]'
    fails_expr 3 'reshape|shape|elements' tgrad 'x.reshape(3)' --at '[1,2]'
    fails_expr 3 'shape|broadcast' tgrad 'x + y' --at x='[1,2]' --at y='[1,2,3]'
}

@test "exp() with no variables: the arity error, not a complaint about --at" {
    fails_expr 3 'exp\(\).*argument' tgrad 'exp()' --at 1
}

@test "unknown options and missing arguments: status 2, one line" {
    for t in tgrad tmatmul tbroadcast tdevice; do
        fails1 2 "^$t: unknown option '--bogus'" $t --bogus
        fails1 2 "^$t: unknown option" $t --bogus=1
        fails1 2 "^$t: unknown option" $t '[1]' '[1]' --bogus
    done
    # an unknown short option: operands may start with '-' (-x**2, -5), so
    # tgrad takes -z for an expression and says so
    fails_expr 3 "^tgrad: unknown name 'z'" tgrad -z
    fails1 2 "^tmatmul: " tmatmul -z '[1]' '[1]'
    fails1 2 'option --at needs an argument' tgrad x --at
    fails1 2 'needs an argument' tgrad x --dtype
    fails1 2 'needs an argument' tgrad x -o
    fails1 2 'needs an argument' tmatmul '[1]' '[1]' --grad-output
    fails1 2 'needs an argument' tbroadcast '[1]' --op
    fails1 2 'needs an argument' tdevice --check
    fails1 2 "--dtype expects float32 or float64, not 'complex'" tgrad x --at 1 --dtype complex
    fails1 2 '--seed expects an integer' tgrad x --at 1 --seed abc
    fails1 2 '--seed expects an integer' tgrad x --at 1 --seed -1
    fails1 2 '--seed expects an integer' tgrad x --at 1 --seed 99999999999999999999999
    fails1 2 '--threads expects an integer from 1 to 1024' tmatmul --threads 0 '[1]' '[1]'
    fails1 2 '--threads expects an integer' tmatmul --threads 1x '[1]' '[1]'
    fails1 2 "unknown device 'tpu'" tgrad x --at 1 --device tpu
    fails1 2 "unknown --op 'nope'" tbroadcast --op nope '[1]' '[2]'
    fails1 2 'no expression given' tgrad
    fails1 2 'expected two operands' tmatmul '[1]'
    fails1 2 'expected two operands' tmatmul '[1]' '[1]' '[1]'
    fails1 2 'expected 1 to 26 operands' tbroadcast
    fails1 2 "unexpected argument 'extra'" tdevice extra
    fails1 2 "variable 'x' is given twice" tgrad x --at x=1 --at x=2
    fails1 2 'has 2 variables' tgrad 'x+y' --at 1
    fails1 2 'not both' tgrad x -f "$TMP/nothing" --at 1
}

@test "missing files, directories, empty files and /dev/null" {
    for t in tmatmul tbroadcast; do
        fails1 4 "^$t: cannot open 'no-such-file.npy': No such file or directory" $t no-such-file.npy '[1]'
        fails1 4 "^$t: '$TMP' is a directory" $t "$TMP" '[1]'
        fails1 3 "^$t: empty input.*/dev/null is empty" $t /dev/null '[1]'
    done
    fails1 4 "cannot open 'no-such-file.npy'" tgrad x --at no-such-file.npy
    fails1 4 "cannot open 'no/such/dir/x.json'" tgrad x --at no/such/dir/x.json
    fails1 4 "is a directory" tgrad x --at "$TMP"
    fails1 4 "is a directory" tgrad x --at /
    : >"$TMP/empty.json"
    fails1 3 'empty input.*empty\.json is empty' tgrad x --at "$TMP/empty.json"
    printf ' \n\t\n' >"$TMP/blank.json"
    fails1 3 'empty input' tgrad x --at "$TMP/blank.json"
    fails1 3 'empty input.*/dev/null is empty' tgrad x --at /dev/null
    fails1 3 'empty input.*argument is empty' tgrad x --at ''
    fails1 4 "cannot open 'no-such-inputs.json'" tgrad x --inputs no-such-inputs.json
    fails1 4 "is a directory" tgrad x --inputs "$TMP"
    fails1 4 "cannot open 'no-such.expr'" tgrad -f no-such.expr
    fails1 4 "is a directory" tgrad -f "$TMP"
    fails_with 3 "empty expression" tgrad -f /dev/null
    fails1 4 "cannot open 'no-such-g.json'" tmatmul '[1]' '[1]' --grad-output no-such-g.json
}

@test "unreadable files: status 4 (not testable as root)" {
    [ "$(id -u)" -ne 0 ] || skip "running as root: chmod 000 does not stop root reading"
    echo '[1]' >"$TMP/locked.json"
    chmod 000 "$TMP/locked.json"
    fails1 4 "cannot open .*locked\.json.*Permission denied" tgrad x --at "$TMP/locked.json"
    fails1 4 "Permission denied" tmatmul "$TMP/locked.json" '[1]'
}

@test "output that cannot be written: status 4, one line" {
    fails1 4 "cannot write '/nonexistent-dir/x.npy': No such file or directory" tgrad x --at 1 -o /nonexistent-dir/x.npy
    fails1 4 "cannot write '$TMP': Is a directory" tmatmul '[1]' '[1]' -o "$TMP"
    fails1 4 "No space left on device" tgrad x --at 1 -o /dev/full
    fails1 4 "No space left on device" tbroadcast '[1]' '[1]' -o /dev/full
    for cmd in "tgrad x --at 1" "tmatmul [1] [2]" "tbroadcast [1] [2]" "tbroadcast --shapes 2,1 3" "tdevice"; do
        run --separate-stderr bash -c "$cmd >/dev/full"
        [ "$status" -eq 4 ] || { echo "$cmd >/dev/full: status $status"; return 1; }
        [[ "$stderr" =~ cannot\ write.*No\ space\ left\ on\ device ]] || { echo "$cmd: $stderr"; return 1; }
        [ "${#stderr_lines[@]}" -eq 1 ]
        # (not under valgrind: its log file takes the free descriptor 1)
        [ -z "${TG_UNDER_VALGRIND:-}" ] || continue
        run --separate-stderr bash -c "$cmd >&-"
        [ "$status" -eq 4 ] || { echo "$cmd >&-: status $status"; return 1; }
        [[ "$stderr" =~ cannot\ write.*Bad\ file\ descriptor ]] || { echo "$cmd: $stderr"; return 1; }
    done
}

@test "--help and --version to a full disk report the write error" {
    for t in tgrad tmatmul tbroadcast tdevice; do
        run --separate-stderr bash -c "$t --help >/dev/full"
        [ "$status" -eq 4 ]
        run --separate-stderr bash -c "$t --version >/dev/full"
        [ "$status" -eq 4 ]
    done
}

@test "standard input closed: status 4, one line" {
    run --separate-stderr bash -c 'tgrad x --at - <&-'
    [ "$status" -eq 4 ] && [ -z "$output" ]
    [[ "$stderr" =~ ^tgrad:\ cannot\ read\ standard\ input ]]
    [ "${#stderr_lines[@]}" -eq 1 ]
    run --separate-stderr bash -c 'tmatmul - "[1]" <&-'
    [ "$status" -eq 4 ] && [[ "$stderr" =~ ^tmatmul:\ cannot\ read\ standard\ input ]]
    run --separate-stderr bash -c 'tbroadcast "[1]" - <&-'
    [ "$status" -eq 4 ] && [[ "$stderr" =~ ^tbroadcast:\ cannot\ read\ standard\ input ]]
    run --separate-stderr bash -c 'tgrad -f - <&-'
    [ "$status" -eq 4 ] && [[ "$stderr" =~ ^tgrad:\ cannot\ read\ standard\ input ]]
    # closed standard input does not matter when nothing reads it
    run --separate-stderr bash -c 'tgrad x --at 2 <&-'
    [ "$status" -eq 0 ] && [ "$output" = '{"value":2,"grad":{"x":1}}' ]
    # standard input given twice: the second read finds it empty
    run --separate-stderr bash -c 'echo "[1,2]" | tmatmul - -'
    [ "$status" -eq 3 ] && [[ "$stderr" =~ standard\ input ]]
}

@test "standard output closed early (| head -c1): no hang, no error spew" {
    # outputs of a few hundred KB: more than a pipe holds
    npy "$TMP/m.npy" "{'descr': '<f8', 'fortran_order': False, 'shape': (300, 300), }"
    head -c 720000 /dev/zero >>"$TMP/m.npy"
    for cmd in "tgrad 'ones(300,300)' --no-grad" "tgrad 'x.expand(300,300)' --no-grad --at '[1.5]'" \
               "tmatmul $TMP/m.npy $TMP/m.npy" "tbroadcast $TMP/m.npy 1" "tmatmul --grad $TMP/m.npy $TMP/m.npy" \
               "tgrad --help" "tdevice"; do
        run --separate-stderr timeout 20 bash -c "$cmd | head -c1; exit \${PIPESTATUS[0]}"
        [ "$status" -ne 124 ] || { echo "hung: $cmd"; return 1; }
        # finished, or ended by SIGPIPE (141)
        [ "$status" -eq 0 ] || [ "$status" -eq 141 ] || { echo "status $status: $cmd: $stderr"; return 1; }
        [ "${#stderr_lines[@]}" -le 1 ] || { echo "spew from $cmd: $stderr"; return 1; }
        [ "${#output}" -le 1 ]
    done
    # with SIGPIPE ignored (as under Python's subprocess), EPIPE is one line, status 4
    run --separate-stderr timeout 20 bash -c "trap '' PIPE; tgrad 'ones(300,300)' --no-grad | head -c1; exit \${PIPESTATUS[0]}"
    [ "$status" -eq 4 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" =~ ^tgrad:\ cannot\ write.*Broken\ pipe ]]
}

@test "--device cuda without a GPU: status 4 saying why" {
    if tdevice --check cuda 2>/dev/null; then skip "a GPU is present"; fi
    fails1 4 '^tgrad: .*cuda.*(not available|no |cannot)' tgrad x --at 1 --device cuda
    fails1 4 '^tmatmul: .*cuda' tmatmul '[1]' '[1]' --device cuda
    fails1 4 '^tbroadcast: .*cuda' tbroadcast '[1]' '[1]' --device cuda
    fails1 4 '^tgrad: .*cuda' tgrad x --at 1 --device cuda:0
    run --separate-stderr tdevice --check cuda
    [ "$status" -eq 1 ] && [ -z "$output" ] && [ "${#stderr_lines[@]}" -eq 1 ]
}

@test "requests for more memory than the machine has: status 3 or 4 before allocating" {
    memfail() { # like fails1, with status 3 or 4
        run --separate-stderr "$@"
        [ "$status" -eq 3 ] || [ "$status" -eq 4 ] || { echo "status $status: $*"; return 1; }
        [ -z "$output" ]
        echo "${stderr_lines[0]}" | grep -Eq 'memory|too many elements|limit' || { echo "$stderr"; return 1; }
    }
    memfail tgrad 'zeros(100000,100000,100)'
    memfail tgrad 'ones(100000,100000,100)' --no-grad
    memfail tgrad 'randn(100000,100000,100)' --no-grad
    memfail tgrad 'zeros(1099511627776)'
    memfail tgrad 'zeros(4294967296,4294967296)'
    memfail tgrad 'x.expand(100000,100000,100) * 2' --at '[1.0]' --no-grad
    memfail tgrad 'x.expand(100000,100000,100).exp()' --at '[1.0]'
    fails1 3 'no "data" key' tgrad x --at '{"shape":[100000,100000,100]}'
    fails1 3 'has 0 elements but "shape" \[100000,100000,100\] needs' tgrad x --at '{"data":[],"shape":[100000,100000,100]}'
    fails1 3 'has 0 elements' tmatmul '{"data":[],"shape":[100000,100000,100]}' '[1]'
    memfail tbroadcast --shapes 100000,1 1,100000,100000000
    npy "$TMP/big.npy" "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100), }"
    fails1 3 "big\.npy: truncated .npy data: the shape and dtype need 4000000000000 bytes, but only 0" tgrad x --at "$TMP/big.npy"
    # two 1e6-element operands whose broadcast has 1e12 elements (4 TB)
    npy "$TMP/col.npy" "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1), }"
    head -c 4000000 /dev/zero >>"$TMP/col.npy"
    npy "$TMP/row.npy" "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1000000), }"
    head -c 4000000 /dev/zero >>"$TMP/row.npy"
    memfail tbroadcast "$TMP/col.npy" "$TMP/row.npy"
    memfail tgrad 'x * y' --at x="$TMP/col.npy" --at y="$TMP/row.npy"
    memfail tmatmul "$TMP/col.npy" "$TMP/row.npy"
}

@test "NUL bytes and odd bytes in files: status 3" {
    printf '[1,\0 2]' >"$TMP/nul.json"
    fails1 3 'nul\.json' tgrad x --at "$TMP/nul.json"
    printf '\xef\xbb\xbf[1,2]' >"$TMP/bom.json"
    fails1 3 'bom\.json' tgrad x --at "$TMP/bom.json"
    head -c 1000 /dev/urandom | tr -d '\223' >"$TMP/noise"
    run --separate-stderr tgrad x --at "$TMP/noise"
    [ "$status" -eq 3 ] && [ -z "$output" ] && [ "${#stderr_lines[@]}" -eq 1 ]
}

@test "tbroadcast --names that are not variable names are refused" {
    fails1 2 '--names' tbroadcast '[1,2]' '[10,20]' --names 1,2
    fails1 2 '--names' tbroadcast '[1,2]' '[10,20]' --names ,b
}

@test "an unknown short option is a usage error (status 2) in the tools that take no expression" {
    fails1 2 "^tbroadcast: unknown option '-z'" tbroadcast -z '[1]'
    fails1 2 "^tdevice: unknown option '-z'" tdevice -z
    fails1 2 "^tmatmul: unknown option '-z'" tmatmul -z '[1]' '[1]'
}

@test "tmatmul with 0-D operands: status 3, no read outside the shape" {
    # under UBSan (make check-sanitize) cmd/tmatmul.c reads a->shape[-1]
    fails1 3 'both arguments need at least 1 dimension' tmatmul 2 3
    fails1 3 'at least 1 dimension' tmatmul 2 '[1]'
    fails1 3 'at least 1 dimension' tmatmul '[1]' 2
    fails1 3 'at least 1 dimension' tmatmul --grad 2.0 3.0
}

@test "--explain on a result without a gradient: no crash, valid output or a clear error" {
    for e in 'x > 2' 'x.detach()' '(x > 2).float()'; do
        for opt in --explain --explain=json; do
            run --separate-stderr tgrad "$e" $opt --at 3
            [ "$status" -eq 0 ] || [ "$status" -eq 3 ] || { echo "$e $opt: status $status"; return 1; }
            if [ "$status" -eq 3 ]; then
                [ -z "$output" ] && [ "${#stderr_lines[@]}" -eq 1 ]
            elif [ "$opt" = --explain=json ]; then
                printf '%s' "$output" | python3 -c 'import json,sys; json.load(sys.stdin)' || { echo "invalid JSON: $output"; return 1; }
            fi
        done
    done
}

@test "tgrad --lines frees its --at values when one is malformed (valgrind)" {
    command -v valgrind >/dev/null || skip "valgrind is not installed"
    [ -z "${TG_SANITIZE:-}${TG_UNDER_VALGRIND:-}" ] || skip "already under a sanitizer or valgrind"
    # on the CPU: what the CUDA libraries do at load trips valgrind (tests/gpu/run.sh
    # runs the suite with TG_DEVICE=cuda)
    run --separate-stderr bash -c "echo '{}' | TG_DEVICE=cpu valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=tests/valgrind.supp \
        $(command -v tgrad) '(x@w).sum()' --lines --at 'x=[[0,2],[3,4]]' --at 'w=[[1,0)[],,1]]'"
    [ "$status" -eq 3 ]
}

@test "an allocation that fails while the result is printed leaves standard output empty" {
    for n in $(seq 1 150); do
        run --separate-stderr env TG_FAIL_ALLOC=$n tgrad '(x*y).sum()' --at x='[1,2]' --at y='[3,4]'
        [ "$status" -eq 0 ] && break
        [ "$status" -eq 4 ] || { echo "TG_FAIL_ALLOC=$n: status $status"; return 1; }
        [ -z "$output" ] || { echo "TG_FAIL_ALLOC=$n: stdout '$output'"; return 1; }
    done
    [ "$status" -eq 0 ]
}

@test "an empty tensor with huge leading dims is refused quickly, not printed as 10^10 '[]'" {
    run --separate-stderr timeout 20 tgrad 'ones(100800,100000,0)' --no-grad
    [ "$status" -eq 3 ] || [ "$status" -eq 0 ]
    [ "$status" -ne 3 ] || { [ -z "$output" ] && [ "${#stderr_lines[@]}" -eq 1 ]; }
    run --separate-stderr timeout 20 tgrad x --no-grad --at '{"data":[],"shape":[4294967296,4294967296,0]}'
    [ "$status" -ne 124 ]
}

@test "unknown long options are quoted in full only up to a limit" {
    run --separate-stderr tgrad "--$(printf 'a%.0s' $(seq 5000))"
    [ "$status" -eq 2 ]
    [ "${#stderr}" -lt 300 ]
}

@test "--order N of a function whose derivatives grow: bounded time and memory, or a clear error" {
    no_ulimit_v
    for e in 'tanh(x)' 'sigmoid(x)' 'x**x'; do
        run --separate-stderr timeout 60 bash -c "ulimit -v 4000000; tgrad '$e' --at 0.5 --order 20"
        [ "$status" -ne 124 ] || { echo "$e: timed out"; return 1; }
        [ "$status" -eq 0 ] || [ "$status" -eq 3 ] || [ "$status" -eq 4 ] || { echo "$e: status $status: $stderr"; return 1; }
        [ "$status" -eq 0 ] || [[ "${stderr_lines[0]}" =~ ^tgrad:\  ]]
    done
}

@test "with little address space (ulimit -v) the tools still exit" {
    no_ulimit_v
    for v in 100000 150000 200000; do
        run --separate-stderr timeout 30 bash -c "ulimit -v $v; exec tgrad 'x+1' --at 1"
        [ "$status" -ne 124 ] || { echo "ulimit -v $v: hung"; return 1; }
    done
    # and running out of memory there is status 4 with a message
    for v in 100000 150000 200000 250000 300000 400000; do
        run --separate-stderr timeout 30 bash -c "ulimit -v $v; exec tgrad 'x.expand(4000,4000).exp().sum()' --at '[1.0]'"
        [ "$status" -ne 124 ] || { echo "ulimit -v $v: hung"; return 1; }
        [ "$status" -eq 0 ] || { [ "$status" -eq 4 ] && [[ "${stderr_lines[0]}" =~ ^tgrad:\ .*memory ]]; } || { echo "ulimit -v $v: status $status: $stderr"; return 1; }
    done
}

@test "--jacobian of a bool or integer result: status 3, no write past the result's storage" {
    fails1 3 'jacobian|Jacobian|float' tgrad 'x > 1' --at '[1,2]' --jacobian
    fails1 3 'jacobian|Jacobian|float' tgrad 'x.long()' --at '[1,2]' --jacobian
}

@test "int64 negation and abs of INT64_MIN wrap as PyTorch's do, without signed overflow" {
    # UBSan (make check-sanitize) would see a signed overflow here
    run --separate-stderr tgrad '-n' --at n='{"data":-9223372036854775808,"dtype":"int64"}'
    [ "$output" = '{"value":-9223372036854775808,"grad":{}}' ]
    run --separate-stderr tgrad 'abs(n)' --at n='{"data":[-9223372036854775808,5],"dtype":"int64"}'
    [ "$output" = '{"value":[-9223372036854775808,5],"grad":{}}' ]
}

@test "tgrad --file with a NUL byte frees the text it read" {
    # a leak only LeakSanitizer and valgrind see (check-sanitize, check-valgrind)
    printf 'x\0+1' >"$TMP/nul.expr"
    fails1 3 'NUL' tgrad -f "$TMP/nul.expr" --at 1
}

@test "standard input named twice: status 3 saying only one argument can be -" {
    fails_with 3 'already read for another argument.*only one' sh -c "echo '[[1,2],[3,4]]' | tmatmul - -"
    fails_with 3 'already read for another argument' sh -c "echo '[1,2]' | tbroadcast - - --op mul"
    run sh -c "echo '[[1,2],[3,4]]' | tmatmul - '[[1],[1]]'"
    [ "$status" -eq 0 ]
    [ "$output" = '[[3],[7]]' ]
}

@test "--batch NAMES without '=': the names are not silently read as an expression" {
    fails_with 2 "--batch takes its names after '='.*--batch=x" tgrad --batch x 'sum(x**2)' --at '[1,2]'
}

@test "an op over an expand()ed tensor larger than memory: status 3 (a limit) before the work, not minutes of it" {
    fails_with 3 'sum would read 71111111064 elements.*more than one operation may' \
        timeout 20 tgrad 'x.expand(2, 8888888883, 2, 2).sum()' --at '[[1.5,-2],[0,3]]'
    run tgrad 'x.expand(1000, 1000, 2, 2).sum()' --at '[[1.5,-2],[0,3]]'
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":2500000,"grad":{"x":[[1000000,1000000],[1000000,1000000]]}}' ]
}

@test "a NaN made in the backward pass: the anomaly warning names the op (found by fuzzing: it read freed values)" {
    run --separate-stderr tgrad 'x**nan**2*225*x-15**x+3' --at 2
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":"NaN","grad":{"x":"NaN"}}' ]
    [[ "$stderr" == *"warning: anomaly: the backward pass of pow produced a NaN"* ]]
}

@test "a result expand()ed past the work limit is refused before it is scanned or printed" {
    fails_with 3 'the output would write 10000000000 elements.*more than one operation may' timeout 20 tgrad 'x.expand(10**10)' --at 1 --no-grad
    fails_with 3 'pow would write 377777777771 elements' timeout 20 tgrad '60**expand(6, 377777777771)' --no-grad
}

@test "float to int64 out of range, NaN and infinities give INT64_MIN as PyTorch's, without undefined behaviour (found by fuzzing)" {
    run tgrad 'long(tensor([1e19, -1e19, 2.7, -2.7, 0/0, 1/0]))' --no-grad
    [ "$status" -eq 0 ]
    [ "$output" = '{"value":[-9223372036854775808,-9223372036854775808,2,-2,-9223372036854775808,-9223372036854775808]}' ]
    run tgrad 'long(1/0).sum()' --no-grad
    [ "$output" = '{"value":-9223372036854775808}' ]
    run tgrad '(long(1/0) * long(1/0)).sum()' --no-grad
    [ "$output" = '{"value":0}' ]
}
