#!/usr/bin/env bats
# tgrad --train's one-pass step (lib/train/train_fused.c): a full-batch
# elementwise loss gives the eager path's numbers to the last digit.  The
# eager path is the same training with --batch-size the rows (one batch,
# the data in order), which takes the usual operations.
load helper

@test "the one-pass step of an elementwise loss gives the eager numbers bit for bit" {
    # 3000 points (several pieces of the data, lanes in the sums), float32 and float64
    awk 'BEGIN { srand(3); printf "{\"x\":["; for (i = 0; i < 3000; i++) printf "%s%.6f", i ? "," : "", rand() * 4 - 2;
                 printf "],\"y\":["; for (i = 0; i < 3000; i++) printf "%s%.6f", i ? "," : "", rand() * 6 - 1; print "]}" }' >"$TMP/in.json"
    sed 's/"x":\[/"x":{"dtype":"float64","data":[/; s/\],"y":\[/]},"y":{"dtype":"float64","data":[/; s/\]}$/]}}/' \
        "$TMP/in.json" >"$TMP/in64.json"
    check() { # PROGRAM INPUTS OPTIONS...: the same result and log both ways
        local prog=$1 in=$2
        shift 2
        one=$(tgrad "$prog" --inputs "$in" --at w=0.5 --at b=0.0 --train w,b --steps 40 --log "$TMP/one.log" --log-grad-norm "$@")
        eager=$(tgrad "$prog" --inputs "$in" --at w=0.5 --at b=0.0 --train w,b --steps 40 --log "$TMP/eager.log" --log-grad-norm --batch-size 3000 "$@")
        [ "$one" = "$eager" ] || { echo "$prog $*: $one / $eager"; return 1; }
        cmp "$TMP/one.log" "$TMP/eager.log"
    }
    check '((x*w+b-y)**2).mean()' "$TMP/in.json" --lr 0.1 --momentum 0.9 --nesterov
    check '((x*w+b-y)**2).mean()' "$TMP/in64.json" --optimizer adam --lr 0.05 --accumulate-steps 3
    check '(tanh(x*w+b) - y/4).abs().sum() / 100 + 0.01*w*w' "$TMP/in.json" --lr 0.1
    check 'torch.where(x > 0, (x*w+b-y)**2, sigmoid(x*w-y)).mean()' "$TMP/in.json" --optimizer adamw --lr 0.01
    # a program that writes its data in place does so once a pass, the
    # first pass included: the step before the loop must not have done it
    check 'x += 0.001; ((x*w+b-y)**2).mean()' "$TMP/in.json" --lr 0.1
}
