# mk/bench.mk -- benchmarks against NumPy, PyTorch and direct BLAS calls
# (included by the Makefile).  See bench/README.md.
#
#   make bench           builds the tools (the normal -O2 build) and the C
#                        harnesses in build/bench/ with the same flags, runs
#                        bench/bench.sh: a table on standard output and
#                        bench/out/results.json (the previous one is kept as
#                        bench/out/results.prev.json)
#   make bench-startup   the start-up workload alone (tgrad against the
#                        PyTorch one-liner): a table on standard output
#                        and bench/out/startup.json
#   make bench-training  the training rows alone (tgrad --train against
#                        torch.optim): a table on standard output and
#                        bench/out/training.json
#   make bench-fused     the default path's fusion rows alone (ours, without
#                        --compile, against --compile, TG_FUSE=0 and PyTorch):
#                        a table on standard output and bench/out/fused.json
#   make bench-compare   ours-column changes between results.prev.json and
#                        results.json (or BENCH_OLD=... BENCH_NEW=...)
#
# Knobs (environment): BENCH_THREADS (2), BENCH_ROUNDS (3), BENCH_MIN_TIME,
# BENCH_MAX_GEMM (4096), BENCH_PYTHON (/usr/bin/python3).

BENCH_DIR := build/bench
BENCH_BINS := $(BENCH_DIR)/bench_autograd $(BENCH_DIR)/bench_gemm $(BENCH_DIR)/bench_ops

$(BENCH_DIR)/%: bench/%.c bench/bench.h lib/libtg.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -pthread $< lib/libtg.a $(LDLIBS) -o $@

# bench_gemm calls cblas itself (the library opens OpenBLAS at run time)
$(BENCH_DIR)/bench_gemm: LDLIBS += -lopenblas

.PHONY: bench-build bench-compare bench-startup bench-training bench-fused
bench-build: deps-check $(BINS) $(BENCH_BINS)

bench: bench-build
	bench/bench.sh

bench-startup: deps-check $(BINS)
	BENCH_ONLY=startup bench/bench.sh

bench-fused: bench-build
	BENCH_ONLY=fused bench/bench.sh

bench-training: deps-check $(BINS)
	BENCH_ONLY=training bench/bench.sh

BENCH_OLD ?= bench/out/results.prev.json
BENCH_NEW ?= bench/out/results.json
bench-compare:
	@awk -f bench/compare.awk $(BENCH_OLD) $(BENCH_NEW)
