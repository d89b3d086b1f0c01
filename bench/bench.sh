#!/usr/bin/env bash
# bench/bench.sh -- run by `make bench` (which builds the tools and build/bench/*
# first).  Measures ours against PyTorch, NumPy and direct BLAS calls, the
# sides alternating in every round, then prints the table and writes
# bench/out/results.json (bench/report.awk).  See bench/README.md.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export LC_ALL=C PYTHONDONTWRITEBYTECODE=1 # no bench/__pycache__ in the tree
T=${BENCH_THREADS:-2}
export BENCH_THREADS=$T OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T
ROUNDS=${BENCH_ROUNDS:-3}
PY=${BENCH_PYTHON:-/usr/bin/python3}
GEMM_SIZES=$(for n in 512 1024 2048 4096; do [ "$n" -le "${BENCH_MAX_GEMM:-4096}" ] && echo $n; done)
B=build/bench OUT=bench/out
RAW=$OUT/raw.tsv
mkdir -p $OUT
: >"$RAW"

rec() { local IFS=$'\t'; echo "$*" >>"$RAW"; }
note() { printf 'bench: %s\n' "$*" >&2; }

# ---- the machine, and which references can run ----
declare -A SKIP=()
rec M date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
rec M commit "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- lib cmd 2>/dev/null || echo +dirty)"
rec M cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
rec M cores "$(nproc)"
rec M threads "$T"
rec M rounds "$ROUNDS"
rec M load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
rec M OPENBLAS_CORETYPE "${OPENBLAS_CORETYPE:-unset}"
rec M OPENBLAS_L2_SIZE "${OPENBLAS_L2_SIZE:-unset}"
check_ref() { # side module
    local v
    if [ -n "${SKIP[$1]:-}" ]; then :
    elif ! [ -x "$PY" ]; then SKIP[$1]="$PY not found"
    elif v=$("$PY" -c "import $2; print($2.__version__)" 2>/dev/null); then rec M "$2" "$v"
    else SKIP[$1]="$PY cannot import $2"; fi
    if [ -n "${SKIP[$1]:-}" ]; then rec X "$1" "${SKIP[$1]}"; note "$1 skipped: ${SKIP[$1]}"; fi
}
check_ref numpy numpy
check_ref torch torch
[ -n "${SKIP[torch]:-}" ] && SKIP[torch-vmap]=${SKIP[torch]}
check_ref torch-vmap functorch
# The floors, measured now and again at the end: the report takes the better
# of the two (a busy moment only makes a measurement slower).
floors() {
    note "machine floors: memory bandwidth, tanh rate and GEMM rate"
    { $B/bench_autograd bandwidth; $B/bench_gemm rate; } | while IFS=$'\t' read -r k v; do rec M "$k" "$v"; done
}
case ${BENCH_ONLY:-} in startup | training) ;; *) floors ;; esac

# ---- measuring ----
# A case: workload, size, unit (s or MB), references (comma-separated), and
# what bounds it: bytes (over the bandwidth), bytes_tanh (that, or AMT/8
# tanh evaluations at the vectorised rate, the longer), flop32/flop64 (over
# the GEMM rate), mem (bytes that must be resident) or - (no floor).
case_() { rec C "$@"; }

# sample SIDE WL CMD: runs CMD (eval'd) and records its "SIZE<TAB>VALUE" lines
sample() {
    local side=$1 wl=$2 out size v
    [ -n "${SKIP[$side]:-}" ] && return
    if ! out=$(eval "$3"); then rec F "$side" "$wl" "$3"; note "FAILED ($side): $3"; return; fi
    while IFS=$'\t' read -r size v; do [ -n "$size" ] && rec T "$side" "$wl" "$size" "$v"; done <<<"$out"
}

# alternate WL SIDE=CMD...: ROUNDS rounds, each running every side once in turn
alternate() {
    local wl=$1 r s
    shift
    note "$wl${ALT_SIZE:+ ($ALT_SIZE)}"
    for ((r = 0; r < ROUNDS; r++)); do
        for s in "$@"; do sample "${s%%=*}" "$wl" "${s#*=}"; done
    done
}

# wall LABEL CMD...: one whole process, timed with bash's clock (no extra process)
wall() {
    local label=$1 t0 t1 us
    shift
    t0=$EPOCHREALTIME
    "$@" >/dev/null || return 1
    t1=$EPOCHREALTIME
    us=$((${t1/./} - ${t0/./}))
    printf '%s\t%d.%06d\n' "$label" $((us / 1000000)) $((us % 1000000))
}

# tmm N A B: tmatmul's own --time of the product (stderr: "... in SECONDS s, ...")
tmm() {
    local e
    e=$(bin/tmatmul "$2" "$3" -o $OUT/C.npy --time 2>&1 >/dev/null) || return 1
    e=$(sed -n 's/.* in \([0-9.]*\) s,.*/\1/p' <<<"$e")
    [ -n "$e" ] && printf '%s\t%s\n' "$1" "$e"
}
# ntimes K CMD...: CMD, K times (one-shot measurements need several per round)
ntimes() { local k=$1 i; shift; for ((i = 0; i < k; i++)); do "$@" || return 1; done; }

# peak SIDE WL CMD: CMD prints "BASE_KB<TAB>PEAK_KB"; two rows, in MB
# peak SIDE CMD WL...: one run of CMD, its peak RSS recorded under each WL
peak() {
    local side=$1 cmd=$2 base pk wl
    shift 2
    [ -n "${SKIP[$side]:-}" ] && return
    if ! read -r base pk < <(eval "$cmd") || [ -z "$pk" ]; then
        for wl in "$@"; do rec F "$side" "$wl" "$cmd"; done
        return
    fi
    for wl in "$@"; do
        rec T "$side" "$wl (whole process)" 1e7 "$(awk -v k="$pk" 'BEGIN { print k * 1024 / 1e6 }')"
        rec T "$side" "$wl (above start-up)" 1e7 "$(awk -v k="$pk" -v b="$base" 'BEGIN { print (k - b) * 1024 / 1e6 }')"
    done
}

gen() { # PATH DTYPE SEED DIM...: made once, kept in bench/out
    [ -s "$1" ] || { note "generating $1"; $B/bench_ops gen "$@" || exit 1; }
}

# BENCH_ONLY=training (make bench-training): the training rows alone, their
# table on standard output and in $OUT/training.json
if [ "${BENCH_ONLY:-}" = training ]; then
    . bench/train.sh
    rec M load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
    { grep -v '^T' "$RAW"; grep '^T' "$RAW" | sort -t$'\t' -k5,5g; } | awk -f bench/report.awk -v json=$OUT/training.json
    ! grep -q '^F' "$RAW" || { note "some commands failed (F lines in $RAW)"; exit 1; }
    exit 0
fi

# the default path (no --compile): the polynomial fused automatically,
# without a compiler (an empty cache folder of its own: the interpreted
# blocks), against --compile's generated loop, the eager path (TG_FUSE=0)
# and PyTorch; and the polynomial's value alone, not summed
fused_rows() {
    local e WL k s FUSE_CACHE=$OUT/fuse-cache-empty
    rm -rf "$FUSE_CACHE"
    for e in "sum($POLY)" "$POLY"; do
        if [[ $e == sum* ]]; then WL="default path (no --compile) value+grad $e, float32" k=grad
        else WL="default path (no --compile) value of $e, float32" k=value; fi
        for s in 1e6 1e7; do case_ "$WL" $s s compiled,eager,torch bytes "$(awk -v s=$s 'BEGIN { printf "%.0f", 8 * s }')"; done
        alternate "$WL" "ours=TG_CACHE_DIR=$FUSE_CACHE $B/bench_autograd d$k '$e' 1e6 1e7" \
            "compiled=$B/bench_autograd c$k '$e' 1e6 1e7" "eager=TG_FUSE=0 $B/bench_autograd d$k '$e' 1e6 1e7" \
            "torch=$PY bench/ref_torch.py $k '$e' 1e6 1e7"
    done
    # it never makes a cache folder
    [ ! -e "$FUSE_CACHE" ] || { note "the default path made $FUSE_CACHE"; rec F ours "$WL" "$FUSE_CACHE"; }
}

# ---- 1. start-up ----
POLY='x**3+2*x**2-5*x+3'
# BENCH_ONLY=fused: the default path's rows alone, their table on standard
# output and in $OUT/fused.json
if [ "${BENCH_ONLY:-}" = fused ]; then
    fused_rows
    rec M load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
    { grep -v '^T' "$RAW"; grep '^T' "$RAW" | sort -t$'\t' -k5,5g; } | awk -f bench/report.awk -v json=$OUT/fused.json
    ! grep -q '^F' "$RAW" || { note "some commands failed (F lines in $RAW)"; exit 1; }
    exit 0
fi
ONELINER='import torch; x=torch.tensor(2.,requires_grad=True); y=x**3+2*x**2-5*x+3; y.backward(); print(y.item(), x.grad.item())'
WL="start-up: tgrad '$POLY' --at 2 (whole process)"
case_ "$WL" scalar s torch - 0
alternate "$WL" "ours=ntimes 5 wall scalar bin/tgrad '$POLY' --at 2" "torch=wall scalar '$PY' -c '$ONELINER'"
# BENCH_ONLY=startup (make bench-startup): this workload alone, its table
# on standard output and in $OUT/startup.json (results.json is left as is)
if [ "${BENCH_ONLY:-}" = startup ]; then
    rec M load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
    { grep -v '^T' "$RAW"; grep '^T' "$RAW" | sort -t$'\t' -k5,5g; } | awk -f bench/report.awk -v json=$OUT/startup.json
    ! grep -q '^F' "$RAW" || { note "some commands failed (F lines in $RAW)"; exit 1; }
    exit 0
fi

# ---- inputs ----
for n in $GEMM_SIZES; do
    for d in f32 f64; do gen $OUT/A_${d}_$n.npy $d 1 $n $n; gen $OUT/B_${d}_$n.npy $d 2 $n $n; done
done
gen $OUT/A_f32_2048.npy f32 1 2048 2048
gen $OUT/B_f32_2048.npy f32 2 2048 2048
gen $OUT/vec_a.npy f32 3 1e7
gen $OUT/vec_b.npy f32 4 1e7
gen $OUT/col.npy f32 5 4096 1
gen $OUT/row.npy f32 6 1 4096
gen $OUT/big.json f32 7 1000 1000

# ---- 2. elementwise autograd, and 6. the vmap-like batch ----
SIZES="1e3 1e5 1e6 1e7"
for e in 'sum(tanh(x)**2)' "sum($POLY)"; do
    WL="eager (tg_grad_eval, TG_FUSE=0's path) value+grad $e, float32"
    fl=bytes; [[ $e == *tanh* ]] && fl=bytes_tanh
    for s in $SIZES; do case_ "$WL" $s s torch $fl "$(awk -v s=$s 'BEGIN { printf "%.0f", 8 * s }')"; done
    alternate "$WL" "ours=$B/bench_autograd grad '$e' $SIZES" "torch=$PY bench/ref_torch.py grad '$e' $SIZES"
done
# the same at 10^3 as tgrad runs it by default: repeated calls of one
# program (the loop of bench_autograd, --lines, training) fuse from the
# second call on, the plan kept (lib/compile/compile.c); the eager path
# (TG_FUSE=0) alongside
for e in 'sum(tanh(x)**2)' "sum($POLY)"; do
    WL="default path (no --compile) value+grad $e, float32, repeated calls"
    fl=bytes; [[ $e == *tanh* ]] && fl=bytes_tanh
    case_ "$WL" 1e3 s eager,torch $fl 8000
    alternate "$WL" "ours=TG_CACHE_DIR=$OUT/fuse-cache-empty $B/bench_autograd dgrad '$e' 1e3" \
        "eager=TG_FUSE=0 $B/bench_autograd dgrad '$e' 1e3" "torch=$PY bench/ref_torch.py grad '$e' 1e3"
done
# compiled evaluation (tgrad --compile): the same programs fused into one
# pass over memory, against the same PyTorch eager loop
for e in 'sum(tanh(x)**2)' "sum($POLY)"; do
    WL="compiled (--compile) value+grad $e, float32"
    fl=bytes; [[ $e == *tanh* ]] && fl=bytes_tanh
    for s in 1e6 1e7; do case_ "$WL" $s s torch $fl "$(awk -v s=$s 'BEGIN { printf "%.0f", 8 * s }')"; done
    alternate "$WL" "ours=$B/bench_autograd cgrad '$e' 1e6 1e7" "torch=$PY bench/ref_torch.py grad '$e' 1e6 1e7"
done
fused_rows
WL="vmap-like: grad of sum(sin(x)*x**2) at 1e6 points"
case_ "$WL" 1e6 s torch,torch-vmap bytes 8000000
alternate "$WL" "ours=$B/bench_autograd grad 'sum(sin(x)*x**2)' 1e6" \
    "torch=$PY bench/ref_torch.py grad 'sum(sin(x)*x**2)' 1e6" "torch-vmap=$PY bench/ref_torch.py vmap 1e6"

# ---- 2b. --lines: the polynomial and its gradient a line at a time,
# against jq computing the hand-derived formula on the same lines ----
LINES_N=200000
awk -v n=$LINES_N 'BEGIN { srand(1); for (i = 0; i < n; i++) printf "{\"x\":%.6f}\n", rand() * 4 - 2 }' \
    >$OUT/lines.jsonl
# perline CMD...: the seconds a line of $OUT/lines.jsonl costs CMD (one
# whole process over all of them), as "2e5<TAB>SECONDS"
perline() {
    local t0 t1 us
    t0=$EPOCHREALTIME
    "$@" <$OUT/lines.jsonl >/dev/null || return 1
    t1=$EPOCHREALTIME
    us=$((${t1/./} - ${t0/./}))
    awk -v us=$us -v n=$LINES_N 'BEGIN { printf "2e5\t%.9f\n", us / 1e6 / n }'
}
jq_poly() { jq -c '{value: (.x*.x*.x + 2*.x*.x - 5*.x + 3), grad: {x: (3*.x*.x + 4*.x - 5)}}'; }
command -v jq >/dev/null || { SKIP[jq]="jq not found"; rec X jq "${SKIP[jq]}"; }
WL="--lines: tgrad '$POLY' --lines, per line of {\"x\":...}"
case_ "$WL" 2e5 s jq,eager - 0
alternate "$WL" "ours=perline bin/tgrad '$POLY' --lines" "eager=TG_FUSE=0 perline bin/tgrad '$POLY' --lines" \
    "jq=perline jq_poly"

# ---- 3. small network ----
WL="net: grad of sum(tanh(x@w1)@w2) in w1,w2"
case_ "$WL" 256x512x512x10 s torch flop32 276299776
alternate "$WL" "ours=$B/bench_autograd net" "torch=$PY bench/ref_torch.py net"

# ---- 7. peak memory (one run each) ----
for e in 'sum(tanh(x)**2)' "sum($POLY)"; do
    WL="peak RSS: value+grad $e" CWL="peak RSS, compiled: value+grad $e"
    DWL="peak RSS, default path: value+grad $e"
    # resident at once: x and its gradient; eager, also the tensors the
    # backward reads besides x (tanh(x)); fused code (compiled, the
    # default path at this size) recomputes them
    mem=80000000; [[ $e == *tanh* ]] && mem=120000000
    for w in "$WL" "$DWL" "$CWL"; do
        [ "$w" = "$WL" ] || mem=80000000
        case_ "$w (whole process)" 1e7 MB torch mem $mem
        case_ "$w (above start-up)" 1e7 MB torch mem $mem
    done
    note "$WL"
    peak ours "$B/bench_autograd peak '$e' 1e7" "$WL"
    peak ours "TG_CACHE_DIR=$OUT/fuse-cache-empty $B/bench_autograd dpeak '$e' 1e7" "$DWL"
    peak ours "$B/bench_autograd cpeak '$e' 1e7" "$CWL"
    peak torch "$PY bench/ref_torch.py peak '$e' 1e7" "$WL" "$DWL" "$CWL" # one run serves every row
done

# ---- 7b. memory of a graph node (bench_autograd node): RSS growth per
# recorded product y = y * 1.0001, over a chain of 10^5 ----
WL="graph node memory: chain of 1e5 y*1.0001, RSS per node"
case_ "$WL" 1e5 B torch - 0
alternate "$WL" "ours=$B/bench_autograd node 1e5" "torch=$PY bench/ref_torch.py node 1e5"

# ---- 4. GEMM alone, end to end, and JSON in ----
for d in f32 f64; do
    WL="GEMM $d: tmatmul --time vs cblas (fresh process, 1 product)"
    for n in $GEMM_SIZES; do
        k=$((n <= 1024 ? 5 : n <= 2048 ? 2 : 1))
        case_ "$WL" $n s cblas flop${d#f} $((2 * n * n * n))
        ALT_SIZE=$n alternate "$WL" "ours=ntimes $k tmm $n $OUT/A_${d}_$n.npy $OUT/B_${d}_$n.npy" \
            "cblas=ntimes $k $B/bench_gemm cold $d $n"
    done
done
A=$OUT/A_f32_2048.npy Bm=$OUT/B_f32_2048.npy
WL="matmul .npy to .npy, float32 (whole process)"
case_ "$WL" 2048 s numpy,torch flop32 $((2 * 2048 * 2048 * 2048))
alternate "$WL" "ours=wall 2048 bin/tmatmul $A $Bm -o $OUT/C.npy" \
    "numpy=wall 2048 $PY bench/ref_numpy.py matmul-file $A $Bm $OUT/C_np.npy" \
    "torch=wall 2048 $PY bench/ref_torch.py matmul-file $A $Bm $OUT/C_pt.npy"
WL="JSON text to tensor: tg_json_parse vs json.loads+np.array"
case_ "$WL" 1000x1000 s numpy - 0
alternate "$WL" "ours=$B/bench_ops json $OUT/big.json 1000x1000" "numpy=$PY bench/ref_numpy.py json $OUT/big.json 1000x1000"

# ---- 5. tbroadcast ----
add_case() { # label A B bytes
    local WL="add, in process: tg_add vs a+b"
    case_ "$WL" "$1" s numpy,torch bytes "$4"
    ALT_SIZE=$1 alternate "$WL" "ours=$B/bench_ops add $2 $3 $1" "numpy=$PY bench/ref_numpy.py add $2 $3 $1" \
        "torch=$PY bench/ref_torch.py add $2 $3 $1"
    WL="add .npy to .npy: tbroadcast (whole process)"
    case_ "$WL" "$1" s numpy,torch - 0
    ALT_SIZE=$1 alternate "$WL" "ours=wall $1 bin/tbroadcast $2 $3 -o $OUT/c.npy" \
        "numpy=wall $1 $PY bench/ref_numpy.py add-file $2 $3 $OUT/c_np.npy" \
        "torch=wall $1 $PY bench/ref_torch.py add-file $2 $3 $OUT/c_pt.npy"
}
add_case 1e7+1e7 $OUT/vec_a.npy $OUT/vec_b.npy 120000000
add_case 4096x1+1x4096 $OUT/col.npy $OUT/row.npy $((4 * 4096 * 4096 + 8 * 4096))

# ---- 8. training: tgrad --train against torch.optim (bench/train.sh) ----
. bench/train.sh

# ---- the table and results.json ----
floors
rec M load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
rm -f $OUT/C.npy $OUT/C_np.npy $OUT/C_pt.npy $OUT/c.npy $OUT/c_np.npy $OUT/c_pt.npy # outputs, 250 MB
[ -f $OUT/results.json ] && mv $OUT/results.json $OUT/results.prev.json
{ grep -v '^T' "$RAW"; grep '^T' "$RAW" | sort -t$'\t' -k5,5g; } | awk -f bench/report.awk -v json=$OUT/results.json
if grep -q '^F' "$RAW"; then note "some commands failed (F lines in $RAW)"; exit 1; fi
