# tgrad toolkit -- GNU Make only.  `make help` lists the targets.
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
OPT ?= -O2
CFLAGS ?= $(OPT) -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -MMD -MP -Ilib -I/usr/include/cjson -pthread
# TG_DEPS_PREFIX: the Debian packages unpacked under a folder instead of /
# (the offline GPU machine: tests/gpu/run.sh)
ifneq ($(TG_DEPS_PREFIX),)
TG_DEPS_LIB := $(TG_DEPS_PREFIX)/usr/lib/x86_64-linux-gnu
CFLAGS += -I$(TG_DEPS_PREFIX)/usr/include/cjson -I$(TG_DEPS_PREFIX)/usr/include/x86_64-linux-gnu/openblas-pthread \
	-L$(TG_DEPS_LIB) -L$(TG_DEPS_LIB)/openblas-pthread
endif
# OpenBLAS is not linked: lib/backend/cpu_blas.c opens it on the first product
LDLIBS += -lcjson -lmvec -lm -ldl -pthread
SHELL := /bin/bash
# what tgrad --compile builds (lib/compile/jit.c) goes under build/ when the tests,
# the demo, the benchmarks and the checks run it, not to the user's ~/.cache
export TG_CACHE_DIR ?= $(CURDIR)/build/jit-cache

# CUDA is optional: found through $(shell command -v), never $(which ...)
NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)

LIB_SRC := $(wildcard lib/*/*.c)
LIB_OBJ := $(LIB_SRC:lib/%.c=build/lib/%.o)
TOOLS := tgrad tmatmul tbroadcast tdevice
BINS := $(TOOLS:%=bin/%)
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := build/tests/unit_tests

.PHONY: all deps test demo install clean bench help unit bats check-cuda-emulated
CUDA_LIB := $(if $(NVCC),lib/libtg_cuda.so)
all: deps-check $(BINS) $(CUDA_LIB)
	@echo "built: $(BINS) lib/libtg.a $(CUDA_LIB) (nvcc: $(if $(NVCC),yes,no))"

lib/libtg.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# the CUDA backend, loaded at run time by lib/backend/cuda.c; it opens cuBLAS and
# NVRTC itself when first needed, so nothing links against them
# (-fmad=false: no contraction into FMA, each operation rounds as on the CPU)
# Machine code for Turing (sm_75), Ampere (sm_80) and Hopper (sm_90) where
# this nvcc knows them, and sm_75's PTX, which the driver compiles for any
# later card (an old nvcc: its own default)
NVCC_SM := $(if $(NVCC),$(shell $(NVCC) --list-gpu-code 2>/dev/null | sed -n 's/^sm_\(75\|80\|90\)$$/\1/p'))
comma := ,
NVCC_GENCODE := $(foreach a,$(NVCC_SM),-gencode arch=compute_$a$(comma)code=sm_$a) \
	$(if $(filter 75,$(NVCC_SM)),-gencode arch=compute_75$(comma)code=compute_75)
lib/libtg_cuda.so: $(wildcard kernels/*.cu kernels/*.cuh kernels/*.h) lib/ops/ops.def
	$(NVCC) -O2 -fmad=false $(NVCC_GENCODE) -Xcompiler -fPIC -shared -o $@ $(filter %.cu,$^)

build/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# the text of the CUDA sources that compiled evaluation's generated kernels
# start with (lib/compile/fused_cuda.c), as C strings: NAME_src for kernels/NAME.EXT,
# each #include "FILE" line replaced by FILE's text (lib/ops/ops.def's formulas,
# kernels/tg_formulas.h), as NVRTC has no files to include
CUDA_TEXT := kernels/tg_fused_prelude.cuh kernels/tg_cuda_attrs.h kernels/tg_cuda_elem.cuh
build/gen/tg_cuda_text.h: $(CUDA_TEXT) kernels/tg_formulas.h lib/ops/ops.def
	@mkdir -p $(@D)
	for f in $(CUDA_TEXT); do n=$${f##*/}; echo "static const char $${n%%.*}_src[] ="; \
	    awk '/^#include "[^"]*"/ { split($$0, q, "\""); g = "kernels/" q[2]; \
	                                while ((getline l < g) > 0) print l; close(g); next } { print }' $$f | \
	    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/'; echo ";"; done > $@.tmp
	mv $@.tmp $@
build/lib/compile/fused_cuda.o: build/gen/tg_cuda_text.h
build/lib/compile/fused_cuda.o: CFLAGS += -Ibuild/gen

# the hot loops: vectorised, with libmvec's vector math (see cpu_kernels.c);
# no FMA contraction, so that every operation rounds once, as in PyTorch's
# kernels and in the unfused formulas
build/lib/backend/cpu_kernels.o build/lib/core/loop.o build/lib/ops/ops_reduce.o build/lib/train/optim.o: CFLAGS += -O3 -fopenmp-simd -fno-math-errno -ffp-contract=off

build/cmd/%.o: cmd/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

bin/%: build/cmd/%.o lib/libtg.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< lib/libtg.a $(LDLIBS) -o $@

$(UNIT_BIN): $(UNIT_SRC) lib/libtg.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $(UNIT_SRC) lib/libtg.a $(LDLIBS) -o $@

# Dependencies: Debian packages.  Installed with apt-get as root; otherwise
# the exact command is printed and the build stops.
DEB_PKGS := libcjson-dev libopenblas-dev bats
deps:
	@./tests/deps.sh $(DEB_PKGS)
deps-check:
	@[ -n "$(TG_DEPS_PREFIX)" ] || ./tests/deps.sh --quiet $(DEB_PKGS)

unit: deps-check $(UNIT_BIN)
	./$(UNIT_BIN)

bats: deps-check $(BINS)
	tests/run_bats.sh

# the Bats files run side by side, one per processor (tests/run_bats.sh;
# TG_BATS_JOBS=1: one at a time)
test: deps-check $(BINS) $(UNIT_BIN)
	./$(UNIT_BIN)
	tests/run_bats.sh

# the whole Bats suite with cuda as the default device, emulated on the host
# (TG_CUDA_EMULATE: the backend's kernels and the generated ones run there;
# =ulp: every transcendental result one ulp off the CPU's, as the device's
# math functions may be): what tests/gpu/run.sh does on a GPU, as near as a
# machine without one gets
# (files whose setup pins the cpu, export TG_DEVICE=cpu, would only run
# again as in make test: left out)
EMULATED_BATS = $(filter-out $(shell grep -l '^ *export TG_DEVICE=cpu' tests/bats/*.bats),$(wildcard tests/bats/*.bats))
check-cuda-emulated: deps-check $(BINS) $(CUDA_LIB)
ifneq ($(CUDA_LIB),)
	TG_DEVICE=cuda TG_CUDA_EMULATE=ulp TG_CUDA_LIBRARY=$(CURDIR)/$(CUDA_LIB) tests/run_bats.sh $(EMULATED_BATS)
else
	@echo "check-cuda-emulated: the CUDA backend is not built here (no nvcc): nothing to run"
endif

demo: deps-check $(BINS)
	@./examples/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 lib/libtg.a $(DESTDIR)$(PREFIX)/lib/
	$(if $(CUDA_LIB),install -m 755 $(CUDA_LIB) $(DESTDIR)$(PREFIX)/lib/)
	install -m 644 lib/tg.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' lib/tg.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tg.pc
	install -m 644 man/man1/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/man5/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/

clean:
	rm -rf build bin lib/libtg.a lib/libtg_cuda.so

help:
	@echo "make [all|test|demo|deps|install PREFIX=... DESTDIR=...|bench|clean]"
	@echo "     check-cuda-emulated: the Bats suite with cuda as the default device, emulated"

-include $(LIB_OBJ:.o=.d) $(BINS:bin/%=build/cmd/%.d)

# further targets (benchmarks, sanitizers, fuzzing), one file each
include $(wildcard mk/*.mk)
