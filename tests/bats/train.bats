#!/usr/bin/env bats
# about 2 s, sanitized 7 s: run_bats.sh starts the longest first
# tgrad --train: torch.optim's numbers, checkpoints, logs, mini-batches,
# a model in a program file, inference, and the errors.
load helper

LINE='((x*w+b-y)**2).mean()'
XS='[0,1,2,3,4,5,6,7,8,9]'
YS='[1,3,5,7,9,11,13,15,17,19]'

@test "SGD, momentum, nesterov, weight decay, Adam, AdamW: torch.optim's parameters after 200 steps" {
    # tests/torch/gen_train.py: a line fit and a 2-layer tanh MLP, float32
    # and float64, within float32 tolerance; and a loss with an exact
    # gradient, whose parameters must be torch's bit for bit (the updates'
    # own rounding); train_check.py runs tgrad once per case and compares
    run python3 tests/torch/train_check.py tests/torch/train_fixtures.jsonl "$(command -v tgrad)" "$TMP"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"38 cases, 0 mismatches"* ]]
}

@test "a line fit: the result holds the last loss, the steps and the parameters" {
    run --separate-stderr tgrad "$LINE" --at x="$XS" --at y="$YS" --at w=0.0 --at b=0.0 --train w,b --lr 0.02 --steps 3000
    [ "$status" -eq 0 ]
    [ -z "$stderr" ] # no progress line when standard error is not a terminal
    [[ "$output" =~ ^\{\"loss\":[-0-9.e]+,\"steps\":3000,\"params\":\{\"w\":2(\.0*[0-9]?)?,\"b\":(1|0\.99999[0-9]*|1\.0000[0-9]*)\}\}$ ]]
}

@test "--resume goes on with the same numbers as an uninterrupted run" {
    opts=(--at x="$XS" --at y="$YS" --at w=0.5 --at b=0.0 --train w,b --optimizer adam --lr 0.1 --batch-size 3 --shuffle --seed 7)
    whole=$(tgrad "$LINE" "${opts[@]}" --steps 25 --log "$TMP/whole.jsonl")
    tgrad "$LINE" "${opts[@]}" --steps 11 --save "$TMP/ck" --log "$TMP/a.jsonl" >/dev/null
    rest=$(tgrad "$LINE" "${opts[@]}" --steps 14 --resume "$TMP/ck" --log "$TMP/b.jsonl")
    [ "$rest" = "$whole" ]
    [ "$(cat "$TMP/a.jsonl" "$TMP/b.jsonl")" = "$(cat "$TMP/whole.jsonl")" ]
}

@test "--save writes the parameters, the optimizer's buffers and optim.json; --no-grad uses them" {
    run tgrad "$LINE" --at x="$XS" --at y="$YS" --at w=0.0 --at b=0.0 --train w,b --lr 0.01 --momentum 0.9 --steps 400 --save "$TMP/model"
    [ "$status" -eq 0 ]
    [[ "$output" == *"\"params\":{\"w\":\"$TMP/model/w.npy\",\"b\":\"$TMP/model/b.npy\"}}" ]]
    [ -f "$TMP/model/w.momentum_buffer.npy" ] && [ -f "$TMP/model/b.momentum_buffer.npy" ]
    grep -q '"optimizer":"sgd","step":400,"passes":400' "$TMP/model/optim.json"
    ! ls -A "$TMP/model" | grep -q tmp # no temporaries left
    run tgrad 'x*w+b' --at x='[10,20]' --at w="$TMP/model/w.npy" --at b="$TMP/model/b.npy" --no-grad
    [[ "$output" =~ ^\{\"value\":\[(21|20\.99[0-9]*|21\.00[0-9]*),(41|40\.99[0-9]*|41\.00[0-9]*)\]\}$ ]]
}

@test "--log: one line per step with the step, the loss and --log-grad-norm's norm" {
    out=$(tgrad "$LINE" --at x="$XS" --at y="$YS" --at w=0.0 --at b=0.0 --train w,b --lr 0.01 --steps 5 --log "$TMP/log" --log-grad-norm)
    [ "$(wc -l <"$TMP/log")" -eq 5 ]
    head -1 "$TMP/log" | grep -Eq '^\{"step":1,"loss":133,"grad_norm":[0-9.]+\}$' # mean(y**2) at w=b=0
    tail -1 "$TMP/log" | grep -q '^{"step":5,'
    last=$(tail -1 "$TMP/log" | sed 's/.*"loss":\([^,}]*\).*/\1/')
    [[ "$out" == "{\"loss\":$last,"* ]] # the result's loss is the last step's
}

@test "mini-batches: --epochs counts passes over the rows, the last batch smaller, --accumulate-steps K batches a step" {
    run tgrad "$LINE" --at x="$XS" --at y="$YS" --at w=0.0 --at b=0.0 --train w,b --lr 0.001 --batch-size 4 --epochs 3 --accumulate-steps 2
    [[ "$output" == *'"steps":5,'* ]] # 3 epochs of 3 batches: 9 passes, 2 a step
    # a data variable is any other with the rows' dim 0; a 0-D one is used whole
    run tgrad '((x*w+b-y)**2).mean()*k' --at x="$XS" --at y="$YS" --at w=0.0 --at b=0.0 --at k=2.0 --train w,b --lr 0.001 --batch-size 5 --steps 2
    [ "$status" -eq 0 ]
}

@test "a model in a program file, trained with --compile, then used under --no-grad" {
    printf 'h = tanh(x @ w1 + b1)\npred = h @ w2 + b2\nloss = ((pred - y)**2).mean()\n' >"$TMP/xor.tg"
    x='[[0,0],[0,1],[1,0],[1,1]]' y='[[0],[1],[1],[0]]'
    w1='[[0.5,-0.4,0.3,0.8],[-0.6,0.7,0.2,-0.9]]' w2='[[0.4],[-0.5],[0.6],[0.3]]'
    run tgrad -f "$TMP/xor.tg" --at x="$x" --at y="$y" --at w1="$w1" --at b1='[0,0,0,0]' --at w2="$w2" --at b2='[0]' \
        --train w1,b1,w2,b2 --optimizer adam --lr 0.05 --steps 600 --compile --save "$TMP/xor"
    [ "$status" -eq 0 ]
    [[ "$output" =~ \"loss\":[0-9.]+e-([4-9]|[1-9][0-9]), ]] || [[ "$output" =~ \"loss\":0\.000 ]]
    printf 'h = tanh(x @ w1 + b1)\npred = h @ w2 + b2\n' >"$TMP/predict.tg"
    run tgrad -f "$TMP/predict.tg" --at x="$x" --at w1="$TMP/xor/w1.npy" --at b1="$TMP/xor/b1.npy" \
        --at w2="$TMP/xor/w2.npy" --at b2="$TMP/xor/b2.npy" --no-grad
    zero='(-?0|-?[0-9.]+e-[0-9]+|-?0\.0[0-9]*)' one='(1|0\.9[0-9]*|1\.0[0-9]*)'
    [[ "$output" =~ ^\{\"value\":\[\[$zero\],\[$one\],\[$one\],\[$zero\]\]\}$ ]]
}

@test "--compile: a fused program's training, gradients accumulated, gives the eager parameters" {
    # 5000 elements: large enough for the fused path (small ones run eagerly)
    awk 'BEGIN { printf "{\"y\":["; for (i = 0; i < 5000; i++) printf "%s%d", i ? "," : "", i % 7 - 3;
                 printf "],\"w\":["; for (i = 0; i < 5000; i++) printf "%s1", i ? "," : ""; print "]}" }' >"$TMP/in.json"
    opts=(--inputs "$TMP/in.json" --train w --lr 0.01 --momentum 0.5 --steps 7 --accumulate-steps 2)
    export TG_CACHE_DIR=$TMP/cache
    eager=$(tgrad '((w-y)**2 + 0.1*w*w).sum()' "${opts[@]}" | sed 's/"loss":[^,]*,//')
    fused=$(tgrad '((w-y)**2 + 0.1*w*w).sum()' "${opts[@]}" --compile | sed 's/"loss":[^,]*,//')
    [ "$fused" = "$eager" ]
    [[ "$eager" == '{"steps":7,"params":{"w":['* ]]
    if [ "${TG_JIT:-1}" != 0 ] && command -v "${TG_CC:-cc}" >/dev/null; then
        [ "$(ls "$TMP/cache" | grep -c '[.]c$')" -eq 1 ] # one plan, compiled once and kept for every step
    fi
    # one-element parameters are constants of a fused plan: such a program
    # trains eagerly rather than compiling a new plan at every step
    rm -rf "$TMP/cache"
    run tgrad '((y*w+b)**2).sum()' --inputs "$TMP/in.json" --at b=0.5 --train w,b --lr 0.0001 --steps 5 --compile
    [ "$status" -eq 0 ]
    run tgrad '((y*w+b)**2).sum()' --inputs "$TMP/in.json" --at b=0.5 --train b --lr 0.0001 --steps 5 --compile
    [ "$status" -eq 0 ]
    [ "$(ls "$TMP/cache" 2>/dev/null | grep -c '[.]c$')" -le 1 ]
}

@test "--progress writes progress lines to standard error, the result stays on standard output" {
    run --separate-stderr tgrad "$LINE" --at x="$XS" --at y="$YS" --at w=0.0 --at b=0.0 --train w,b --lr 0.01 --steps 3 --progress
    [ "$status" -eq 0 ]
    [[ "$output" == '{"loss":'* ]]
    [[ "$stderr" == *"step 3/3  loss "*" steps/s  0s left"* ]]
}

@test "bad training inputs: one line, status 2 or 3, nothing on standard output" {
    base=(--at x="$XS" --at y="$YS" --at w=0.0 --at b=0.0)
    fails_with 2 "^tgrad: --train names 'v', which is not a variable" tgrad "$LINE" "${base[@]}" --train v --lr 0.1 --steps 2
    fails_with 3 "^tgrad: --train minimises a single number, but the result has shape \[10\]" tgrad '(x*w+b-y)**2' "${base[@]}" --train w,b --lr 0.1 --steps 2
    fails_with 2 "^tgrad: invalid learning rate -0.1" tgrad "$LINE" "${base[@]}" --train w,b --lr -0.1 --steps 2
    fails_with 2 "^tgrad: --batch-size 11 is larger than the data, which has 10 rows" tgrad "$LINE" "${base[@]}" --train w,b --lr 0.1 --steps 2 --batch-size 11
    fails_with 2 "^tgrad: --optimizer sgd needs --lr" tgrad "$LINE" "${base[@]}" --train w,b --steps 2
    fails_with 2 "^tgrad: give the length of the training" tgrad "$LINE" "${base[@]}" --train w,b --lr 0.1
    fails_with 2 "^tgrad: --optimizer expects sgd, adam or adamw" tgrad "$LINE" "${base[@]}" --train w,b --optimizer rmsprop --steps 2
    fails_with 2 "^tgrad: --nesterov needs a positive --momentum" tgrad "$LINE" "${base[@]}" --train w,b --lr 0.1 --steps 2 --nesterov
    fails_with 2 "^tgrad: invalid betas" tgrad "$LINE" "${base[@]}" --train w,b --optimizer adam --betas 0.9,1 --steps 2
    fails_with 2 "^tgrad: --steps expects a positive integer" tgrad "$LINE" "${base[@]}" --train w,b --lr 0.1 --steps 0
    fails_with 2 "^tgrad: --steps or --epochs asks for more passes than can be counted" tgrad "$LINE" "${base[@]}" --train w,b --lr 0.1 --steps 9223372036854775807 --accumulate-steps 2
    fails_with 2 "^tgrad: the training options .* go with --train" tgrad "$LINE" "${base[@]}" --lr 0.1
    fails_with 2 "^tgrad: --train runs a training loop: it does not combine" tgrad "$LINE" "${base[@]}" --train w,b --lr 0.1 --steps 2 --hessian
    fails_with 3 "^tgrad: only floating point tensors can require gradients, and 'n' is int64" tgrad '(x*n).sum()' --at x='[1.0]' --at n='{"dtype":"int64","data":[2]}' --train n --lr 0.1 --steps 2
    fails_with 3 "^tgrad: the loss does not depend on the trained variables" tgrad '(x*2).sum()' --at x='[1.0]' --at w=1.0 --train w --lr 0.1 --steps 2
    fails_with 4 "^tgrad: .*nothing/w.npy" tgrad "$LINE" --at x="$XS" --at y="$YS" --train w,b --lr 0.1 --steps 2 --resume "$TMP/nothing"
    tgrad "$LINE" "${base[@]}" --train w,b --lr 0.1 --steps 2 --save "$TMP/ck" >/dev/null
    fails_with 2 "^tgrad: the checkpoint .* was made by --optimizer sgd, not adam" tgrad "$LINE" "${base[@]}" --train w,b --optimizer adam --steps 2 --resume "$TMP/ck"
}
