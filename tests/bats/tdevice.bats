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
