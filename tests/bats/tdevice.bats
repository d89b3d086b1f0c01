#!/usr/bin/env bats
# tdevice: the device list, the check for scripts, the default device.
load helper

@test "lists the CPU with its BLAS" {
    run tdevice
    [ "$status" -eq 0 ]
    [[ "$output" == '{"devices":[{"type":"cpu",'* ]]
    [[ "$output" == *'"blas":{"name":"OpenBLAS"'* ]]
    if command -v jq >/dev/null; then echo "$output" | jq -e '.devices[0].cores >= 1'; fi
}

# OpenBLAS is opened on the first product, not at start-up: a run without
# a product does not need it, and one with a product says what is missing.
@test "without a loadable OpenBLAS only the matrix products fail" {
    mkdir -p "$TMP/lib"
    : >"$TMP/lib/libopenblas.so.0" # found first, and no library
    export LD_LIBRARY_PATH="$TMP/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    run --separate-stderr tgrad 'x**3+2*x**2-5*x+3' --at 2
    [ "$status" -eq 0 ] && [ "$output" = '{"value":9,"grad":{"x":15}}' ] && [ -z "$stderr" ]
    fails_with 4 '^tgrad: the matrix product needs OpenBLAS: .*libopenblas\.so\.0' tgrad 'sum(x@x)' --at '[[1,2],[3,4]]'
    fails_with 4 '^tmatmul: the matrix product needs OpenBLAS: ' tmatmul '[[1.5]]' '[[2.0]]'
    run tmatmul '[[1,2]]' '[[3],[4]]' # int64: no BLAS
    [ "$status" -eq 0 ] && [ "$output" = '[[11]]' ]
    run tdevice
    [ "$status" -eq 0 ]
    [[ "$output" == *'"blas":{"name":"OpenBLAS","unavailable":"'*'libopenblas.so.0: '* ]]
    [[ "$output" != *'"threads":'* ]]
}

@test "the CPU entry says what tgrad --compile would use to generate its loops" {
    run env TG_CC=cc TG_CACHE_DIR=/tmp/somewhere tdevice
    [[ "$output" == *'"compile":{"generated_code":'*'"compiler":"cc","compiler_found":true,"enabled":true,"cache":"/tmp/somewhere"}'* ]]
    [ ! -e /tmp/somewhere ] # described, not made
    run env TG_CC=/nonexistent/cc TG_JIT=0 tdevice
    [[ "$output" == *'"compile":{"generated_code":false,"compiler":"/nonexistent/cc","compiler_found":false,"enabled":false,'* ]]
    run env -u HOME -u TG_CACHE_DIR -u XDG_CACHE_HOME tdevice
    [[ "$output" == *'"generated_code":false,'*'"cache":null}'* ]]
}

@test "--check cpu is yes; --check cuda without a GPU is no (status 1) with the reason" {
    run tdevice --check cpu
    [ "$status" -eq 0 ]
    if tdevice --check cuda 2>/dev/null; then skip "a GPU is present"; fi
    run --separate-stderr tdevice --check cuda
    [ "$status" -eq 1 ]
    [ -z "$output" ]
    [[ "$stderr" == "tdevice: device cuda is not available: "* ]]
}

@test "--default prints the device alone" {
    run tdevice --default
    [ "$status" -eq 0 ]
    [ "$output" = cpu ] || [ "$output" = cuda ]
}

@test "--device on every tool: cpu works, an unknown device is a usage error" {
    run tmatmul '[1]' '[2]' --device cpu
    [ "$output" = '2' ]
    run tbroadcast 1 2 --device cpu
    [ "$output" = '3' ]
    fails_with 2 "unknown device 'tpu'" tgrad x --at 1 --device tpu
    fails_with 2 "unknown device 'tpu'" tdevice --check tpu
}

@test "-V and --version: every tool prints its name and the version, status 0" {
    local t v
    v=$(sed -n 's/^#define TG_VERSION "\(.*\)"$/\1/p' lib/tg.h)
    [ -n "$v" ]
    for t in tgrad tmatmul tbroadcast tdevice; do
        run -0 "$t" -V
        [ "$output" = "$t $v" ]
        run -0 "$t" --version
        [ "$output" = "$t $v" ]
    done
    # an expression that starts with a minus sign is still one
    run -0 tgrad -x --at 2
    [ "$output" = '{"value":-2,"grad":{"x":-1}}' ]
}
