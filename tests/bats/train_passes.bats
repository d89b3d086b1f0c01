#!/usr/bin/env bats
# tgrad --train's eager passes (lib/train/train.c): without mini-batches a
# pass's environment serves the next one while the program leaves it as
# it was bound; a program that binds names or rebinds a variable gets a
# fresh one.  Each form of the same network must give the same numbers.
load helper

XOR_AT=(--at x='[[0,0],[0,1],[1,0],[1,1]]' --at y='[[0],[1],[1],[0]]'
        --at w1='[[0.5,-0.4,0.3,0.8],[-0.6,0.7,0.2,-0.9]]' --at b1='[0,0,0,0]'
        --at w2='[[0.4],[-0.5],[0.6],[0.3]]' --at b2='[0]' --train w1,b1,w2,b2 --lr 0.1 --steps 40)

@test "an expression, a program binding names and one rebinding a variable train alike" {
    run tgrad '((tanh(x@w1+b1)@w2+b2-y)**2).mean()' "${XOR_AT[@]}"
    [ "$status" -eq 0 ]
    expected=$output
    [[ "$expected" == '{"loss":'* ]]
    printf 'h = tanh(x @ w1 + b1)\npred = h @ w2 + b2\n((pred - y)**2).mean()\n' >"$TMP/names.tg"
    run tgrad -f "$TMP/names.tg" "${XOR_AT[@]}"
    [ "$status" -eq 0 ]
    [ "$output" = "$expected" ]
    # w2 bound to a new tensor: an environment kept from the last pass
    # would multiply the old product again, with last step's values
    printf 'w2 = w2 * 1\n((tanh(x@w1+b1)@w2+b2-y)**2).mean()\n' >"$TMP/rebind.tg"
    run tgrad -f "$TMP/rebind.tg" "${XOR_AT[@]}"
    [ "$status" -eq 0 ]
    [ "$output" = "$expected" ]
}
