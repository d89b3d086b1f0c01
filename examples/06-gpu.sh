#!/bin/sh
# 06-gpu.sh -- the GPU section: which devices there are (tdevice), the
# lesson's device = "cuda" if torch.cuda.is_available() else "cpu", and
# --device on the tools (on cuda, matrix products run through cuBLAS and
# the other ops on the CPU).  It runs anywhere: without a usable GPU (or
# without the CUDA backend libtg_cuda.so), cuda is refused with the reason
# and auto falls back to the CPU.
#
# Some lines depend on the machine (the device list, whether cuda is
# usable and why not); tests/bats/examples.bats checks those with patterns.
. "$(dirname "$0")/common.sh"

title "06 Devices: the CPU, CUDA, and the fallback"

say "tdevice lists the devices as one line of JSON: the CPU first (its SIMD extensions, its BLAS)," \
    "then each CUDA device, and why cuda cannot be used when it cannot.  It differs from machine to machine."
run "tdevice"

say "The default device, chosen as the lesson chooses it (cuda when usable, else cpu):"
run "tdevice --default"

say "For scripts, --check answers with the exit status: 0 usable, 1 not, with the reason on standard error." \
    "The CPU is always usable, and so is auto, which falls back to the CPU."
run "tdevice --check cpu && echo 'cpu: usable'"
run "tdevice --check auto && echo 'auto: usable'"

say "cuda: the lesson's idiom, device = \"cuda\" if torch.cuda.is_available() else \"cpu\"," \
    "with the reason when it falls back to the CPU:"
run "if why=\$(tdevice --check cuda 2>&1); then dev=cuda; echo 'using the GPU'; else dev=cpu; echo \"no usable GPU, using the CPU: \$why\"; fi"
run "tgrad 'x**2' --at 3 --device \$dev"

say "--device auto does the same choice inside the tools; the numbers do not depend on the device."
run "tgrad 'x**3+2*x**2-5*x+3' --at 2 --device auto"
run "tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --device auto"
run "tbroadcast '[[1],[2]]' '[10,20,30]' --device auto"
run "tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --device \"\$(tdevice --default)\""
say "The environment variable TG_DEVICE sets the tools' default device (--device overrides it):"
run "TG_DEVICE=auto tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]'"

say "Asking for cuda where it cannot be used is an error (status 4) that says why;" \
    "where it can, this prints the product and status 0."
run "tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --device cuda 2>&1; echo \"exit status \$?\""

say "The CPU always works, and an unknown device is a usage error (status 2):"
run "tmatmul '[[1,2],[3,4]]' '[[5,6],[7,8]]' --device cpu"
fails 2 "tgrad 'x**2' --at 3 --device tpu"

finish
