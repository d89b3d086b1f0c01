#!/usr/bin/env bats
# about 5 s, sanitized 3 s: run_bats.sh starts the longest first
# tgrad's transforms: Jacobians, Hessians, higher derivatives, vmap, lines.
load helper

@test "--order: x**3 at 2 gives 12, 6, 0 for orders 2, 3, 4" {
    run tgrad 'x**3' --at 2 --order 2
    [ "$output" = '{"value":8,"derivative":{"x":12},"order":2}' ]
    run tgrad 'x**3' --at 2 --order 3
    [ "$output" = '{"value":8,"derivative":{"x":6},"order":3}' ]
    run tgrad 'x**3' --at 2 --order 4
    [ "$output" = '{"value":8,"derivative":{"x":0},"order":4}' ]
}

@test "--order: the derivatives of sin at 0 cycle 1, 0, -1, 0" {
    for k in 1 2 3 4; do
        run tgrad 'sin(x)' --at 0 --order $k --dtype float64
        echo "$output" | grep -Eq "\"derivative\":\{\"x\":($(echo '1 -?0(\.0)? -1 -?0(\.0)?' | cut -d' ' -f$k))\}"
    done
}

@test "--hessian of x**2*y+y**3 at (1,2)" {
    run tgrad 'x**2*y+y**3' --at x=1 --at y=2 --hessian
    [ "$output" = '{"value":10,"hessian":{"x":{"x":4,"y":2},"y":{"x":2,"y":12}}}' ]
}

@test "--hessian of a quadratic form is A + A^T" {
    run tgrad 'x @ a @ x' --at x='[1,2]' --at a='{"data":[[1,2],[3,4]],"requires_grad":false}' --hessian
    [ "$output" = '{"value":27,"hessian":{"x":{"x":[[2,5],[5,8]]}}}' ]
}

@test "--jacobian shapes output.shape + input.shape" {
    run tgrad 'x*x' --at '[1,2,3]' --jacobian
    [ "$output" = '{"value":[1,4,9],"jacobian":{"x":[[2,0,0],[0,4,0],[0,0,6]]}}' ]
    run tgrad 'w @ x' --at x='[1,2]' --at w='[[1,2],[3,4],[5,6]]' --jacobian
    [ "$output" = '{"value":[5,11,17],"jacobian":{"x":[[1,2],[3,4],[5,6]],"w":[[[1,2],[0,0],[0,0]],[[0,0],[1,2],[0,0]],[[0,0],[0,0],[1,2]]]}}' ]
}

@test "--batch (vmap): one pass gives every point's value and gradient" {
    run tgrad 'x**3+2*x**2-5*x+3' --batch --at '[0,1,2]'
    [ "$output" = '{"value":[3,1,9],"grad":{"x":[-5,2,15]}}' ]
    run tgrad '(x*x).sum()' --batch --at '[[1,2],[3,4]]'
    [ "$output" = '{"value":[5,25],"grad":{"x":[[2,4],[6,8]]}}' ]
    run tgrad 'x @ x' --batch --at '[[1,2],[3,4]]'
    [ "$output" = '{"value":[5,25],"grad":{"x":[[2,4],[6,8]]}}' ]
    run tgrad '(w @ x).sum()' --batch=x --at x='[[1,2],[3,4]]' --at w='[[1,0],[0,2]]'
    [ "$output" = '{"value":[5,11],"grad":{"x":[[1,2],[1,2]],"w":[[4,6],[4,6]]}}' ]
    run tgrad 'x.max()' --batch --at '[[1,3],[3,3]]'
    [ "$output" = '{"value":[3,3],"grad":{"x":[[0,1],[0.5,0.5]]}}' ]
}

@test "--batch refuses functions it has no rule for" {
    fails_with 3 'item is not supported with --batch' tgrad 'x.item()' --batch --at '[[1,2]]'
    fails_with 3 "'x' is 0-D" tgrad 'x' --batch --at 1
}

@test "--lines: one result per input line, constant --at values shared" {
    run sh -c "printf '{\"x\":1}\n{\"x\":2}\n\n{\"x\":3}\n' | tgrad 'x*w' --at w=10 --lines"
    [ "${lines[0]}" = '{"value":10,"grad":{"w":1,"x":10}}' ]
    [ "${lines[1]}" = '{"value":20,"grad":{"w":2,"x":10}}' ]
    [ "${lines[2]}" = '{"value":30,"grad":{"w":3,"x":10}}' ]
    [ "${#lines[@]}" -eq 3 ]
}

@test "--lines: a bad line is reported with its number" {
    run --separate-stderr sh -c "printf '{\"x\":1}\n{\"x\":[1,2}\n' | tgrad 'x*2' --lines"
    [ "$status" -eq 3 ]
    [ "$output" = '{"value":2,"grad":{"x":2}}' ]
    [[ "$stderr" == "tgrad: line 2: "* ]]
}

@test "--jacobian=fwd (jacfwd) equals --jacobian (jacrev)" {
    a=$(tgrad '(w @ x).tanh()' --at x='[1,2]' --at w='[[1,2],[3,4],[5,6]]' --jacobian --dtype float64)
    b=$(tgrad '(w @ x).tanh()' --at x='[1,2]' --at w='[[1,2],[3,4],[5,6]]' --jacobian=fwd --dtype float64)
    [ "$a" = "$b" ]
}

@test "--jvp: forward mode, the Jacobian times the tangents (functorch's jvp)" {
    # the CPU's digits (cuda's sin may differ in the last bit)
    run tgrad 'sin(x)*y' --at x='[0,1]' --at y='[2,3]' --jvp x='[1,0]' --jvp y='[1,1]' --device cpu
    [ "$output" = '{"value":[0,2.5244129],"jvp":[2,0.84147096]}' ]
    fails_with 2 "--jvp z=1: expected NAME=TANGENT" tgrad 'x*2' --at x=1 --jvp z=1
}

@test "several expressions: a line each, or --accumulate adds the gradients up" {
    run tgrad 'x**2' 'x**3' --at 2
    [ "${lines[0]}" = '{"value":4,"grad":{"x":4}}' ]
    [ "${lines[1]}" = '{"value":8,"grad":{"x":12}}' ]
    run tgrad 'x**2' 'x**3' --at 2 --accumulate
    [ "$output" = '{"values":[4,8],"grad":{"x":16}}' ]
    fails_with 2 "--accumulate adds the gradients of several expressions" tgrad 'x**2' --at 2 --accumulate
}

@test "--out-dir writes value.npy and grad_NAME.npy and names them" {
    run tgrad '(x*w).sum()' --at x='[1,2]' --at w='[3,4]' --out-dir "$TMP/o"
    [ "$output" = "{\"value\":\"$TMP/o/value.npy\",\"grad\":{\"x\":\"$TMP/o/grad_x.npy\",\"w\":\"$TMP/o/grad_w.npy\"}}" ]
    run tbroadcast "$TMP/o/grad_x.npy" 0
    [ "$output" = '[3,4]' ]
}

@test "the transforms match PyTorch's functorch on random expressions (where PyTorch is installed)" {
    # (the script runs ./bin/tgrad, the plain tool, whatever TG_BIN says:
    # under check-sanitize it would only repeat make test's run)
    [ -z "${TG_SANITIZE:-}" ] || skip "runs ./bin/tgrad, not the sanitized tools: make test runs it"
    run /usr/bin/python3 tests/torch/transforms_check.py 1 40
    [ "$status" -ne 77 ] || skip "python3-torch is not installed"
    echo "$output" | tail -5
    [ "$status" -eq 0 ]
}
