#!/bin/sh
# 12-training.sh -- the next lesson's first steps, training: a loss, its
# gradient, one step of gradient descent by hand, then tgrad --train doing
# the loop (torch.optim's SGD and Adam), a small network in a program file,
# a checkpoint, and using the trained model under --no-grad.
. "$(dirname "$0")/common.sh"

title "12 Training: a line fit, a small network, and inference"

say "Five points on the line y = 2x + 1.  A model y = w*x + b with w = b = 0 to start," \
    "and its loss, the mean squared error: its value and its gradient in w and b."
run "tgrad '((x*w+b-y)**2).mean()' --at x='[0,1,2,3,4]' --at y='[1,3,5,7,9]' --at w=0.0 --at b=0.0 --wrt w,b"

say "One step of gradient descent with learning rate 0.05 is w - 0.05 * dL/dw, b - 0.05 * dL/db:" \
    "w = 0 - 0.05 * -28 = 1.4 and b = 0 - 0.05 * -10 = 0.5.  --train w,b makes that step, as" \
    "optimizer.zero_grad(); loss.backward(); optimizer.step() does with torch.optim.SGD; the" \
    "loss printed is the one computed before the step (loss.item() in the loop)."
run "tgrad '((x*w+b-y)**2).mean()' --at x='[0,1,2,3,4]' --at y='[1,3,5,7,9]' --at w=0.0 --at b=0.0 --train w,b --lr 0.05 --steps 1"

say "The whole loop: 1000 steps, in one process (the program is parsed once), each step's" \
    "loss in a log of JSON lines."
run "tgrad '((x*w+b-y)**2).mean()' --at x='[0,1,2,3,4]' --at y='[1,3,5,7,9]' --at w=0.0 --at b=0.0 --train w,b --lr 0.05 --steps 1000 --log fit.jsonl"
run "head -3 fit.jsonl"
run "wc -l < fit.jsonl"

say "The same with momentum, and with Adam (torch.optim.Adam's rule, step for step):"
run "tgrad '((x*w+b-y)**2).mean()' --at x='[0,1,2,3,4]' --at y='[1,3,5,7,9]' --at w=0.0 --at b=0.0 --train w,b --lr 0.02 --momentum 0.9 --steps 300"
run "tgrad '((x*w+b-y)**2).mean()' --at x='[0,1,2,3,4]' --at y='[1,3,5,7,9]' --at w=0.0 --at b=0.0 --train w,b --optimizer adam --lr 0.1 --steps 1000"

say "Mini-batches: 2 rows of x and y per step (the last batch of each epoch has 1), in a new" \
    "order every epoch (--shuffle, from --seed), 200 epochs of 3 steps each."
run "tgrad '((x*w+b-y)**2).mean()' --at x='[0,1,2,3,4]' --at y='[1,3,5,7,9]' --at w=0.0 --at b=0.0 --train w,b --lr 0.02 --batch-size 2 --shuffle --seed 1 --epochs 200"

say "A small network, 2-4-1 with tanh, learning XOR.  The model is a program: statements" \
    "that compute the predictions from the parameters, then the loss; the data and the" \
    "initial parameters are a JSON object."
run "printf 'h = tanh(x @ w1 + b1)\npred = h @ w2 + b2\n((pred - y)**2).mean()\n' > xor.tg"
run "cat xor.tg"
run "echo '{\"x\": [[0,0],[0,1],[1,0],[1,1]], \"y\": [[0],[1],[1],[0]], \"w1\": [[0.5,-0.4,0.3,0.8],[-0.6,0.7,0.2,-0.9]], \"b1\": [0,0,0,0], \"w2\": [[0.4],[-0.5],[0.6],[0.3]], \"b2\": [0]}' > xor.json"
say "Trained with Adam for 500 steps; --save writes the parameters as .npy files (and the" \
    "optimizer's state, to go on later with --resume).  The loss is close to 0 (its last" \
    "digits depend on the machine's tanh, so they are not shown here):"
run "tgrad -f xor.tg --inputs xor.json --train w1,b1,w2,b2 --optimizer adam --lr 0.05 --steps 500 --save model | sed 's/\"loss\":[^,]*/\"loss\":.../'"
run "ls model"

say "Using the trained model is evaluating the predictions alone, under --no-grad (PyTorch's" \
    "with torch.no_grad(): y = model(x)), the parameters read from the saved files.  Read as" \
    "true where the prediction is above 0.5, the network gives XOR:"
run "printf 'h = tanh(x @ w1 + b1)\n(h @ w2 + b2) > 0.5\n' > predict.tg"
run "tgrad -f predict.tg --at x='[[0,0],[0,1],[1,0],[1,1]]' --at w1=model/w1.npy --at b1=model/b1.npy --at w2=model/w2.npy --at b2=model/b2.npy --no-grad"

say "Training goes on from the checkpoint with --resume: 100 more steps."
run "tgrad -f xor.tg --inputs xor.json --train w1,b1,w2,b2 --optimizer adam --lr 0.05 --steps 100 --resume model | sed 's/\"loss\":[^,]*/\"loss\":.../; s/\"params\".*/.../'"

finish
