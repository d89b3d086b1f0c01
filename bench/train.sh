# bench/train.sh -- the training rows of make bench (sourced by bench.sh;
# `make bench-training` runs them alone): tgrad --train against the same
# torch.optim loop (bench/ref_train.py), SGD with lr 0.1 in both:
#   a line fit on 10^4 points, 1000 steps; XOR with a 2-4-1 tanh network,
#   5000 steps; an MLP 784-128-10 (relu) with softmax cross-entropy on 10^4
#   random samples, one epoch of batches of 64 in order (157 steps).
# Each twice: the whole process (loading and start-up included), and the
# training loop alone: PyTorch's timed in its process, ours from the
# rate on tgrad's final --progress line (steps over the loop's seconds).
if [ -n "${SKIP[torch]:-}" ]; then
    note "training rows skipped: ${SKIP[torch]} (the inputs come from bench/ref_train.py)"
else
    [ -s $OUT/mlp_b2.npy ] || { note "generating the training inputs"; "$PY" bench/ref_train.py gen $OUT || exit 1; }
    # train_loop SIZE STEPS CMD...: the loop's seconds, STEPS over --progress's steps/s
    train_loop() {
        local size=$1 steps=$2 rate
        shift 2
        rate=$("$@" --progress 2>&1 >/dev/null | tr '\r' '\n' | sed -n 's/.*  \([0-9.]*\) steps\/s.*/\1/p' | tail -1)
        [ -n "$rate" ] && awk -v s="$steps" -v r="$rate" -v l="$size" 'BEGIN { printf "%s\t%.9f\n", l, s / r }'
    }
    XOR_AT="--at x='[[0,0],[0,1],[1,0],[1,1]]' --at y='[[0],[1],[1],[0]]' --at w1='[[0.5,-0.4,0.3,0.8],[-0.6,0.7,0.2,-0.9]]' --at b1='[0,0,0,0]' --at w2='[[0.4],[-0.5],[0.6],[0.3]]' --at b2='[0]'"
    train_case() { # NAME SIZE STEPS TGRAD-ARGS
        local wl="training: $1" cmd="bin/tgrad $4"
        case_ "$wl (whole process)" "$2" s torch - 0
        alternate "$wl (whole process)" "ours=wall $2 $cmd" "torch=wall $2 '$PY' bench/ref_train.py ${1%% *} $OUT once $2"
        case_ "$wl (training loop)" "$2" s torch - 0
        alternate "$wl (training loop)" "ours=ntimes 3 train_loop $2 $3 $cmd" "torch='$PY' bench/ref_train.py ${1%% *} $OUT loop $2"
    }
    train_case "line fit, SGD, 1000 steps" 1e4 1000 "'((x*w+b-y)**2).mean()' --at x=$OUT/train_x.npy --at y=$OUT/train_y.npy --at w=0.0 --at b=0.0 --train w,b --lr 0.1 --steps 1000"
    train_case "xor 2-4-1 tanh, SGD, 5000 steps" 4x2 5000 "'((tanh(x@w1+b1)@w2+b2-y)**2).mean()' $XOR_AT --train w1,b1,w2,b2 --lr 0.1 --steps 5000"
    train_case "mlp 784-128-10, cross-entropy, SGD, 1 epoch of batches of 64" 1e4x784 157 "'-(log_softmax(relu(x@w1+b1)@w2+b2,1)*onehot).sum(1).mean()' --at x=$OUT/mlp_x.npy --at onehot=$OUT/mlp_onehot.npy --at w1=$OUT/mlp_w1.npy --at b1=$OUT/mlp_b1.npy --at w2=$OUT/mlp_w2.npy --at b2=$OUT/mlp_b2.npy --train w1,b1,w2,b2 --lr 0.1 --batch-size 64 --epochs 1"
fi
