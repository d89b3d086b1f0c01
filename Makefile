# tgrad toolkit -- GNU Make only.  `make help` lists the targets.
PREFIX ?= /usr/local
DESTDIR ?=
# where make install puts things (Debian's rules set LIBDIR to the multiarch
# folder); CPPFLAGS and LDFLAGS (dpkg-buildflags' hardening) are honoured
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
# the library's version; the shared library's soname is libtg.so.$(SOVERSION)
VERSION := 0.1.0
SOVERSION := 0
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

.PHONY: all deps deps-check test demo install uninstall clean bench help unit bats check-cuda-emulated
CUDA_LIB := $(if $(NVCC),lib/libtg_cuda.so)
SHARED_LIB := lib/libtg.so
all: deps-check $(BINS) $(SHARED_LIB) $(CUDA_LIB)
	@echo "built: $(BINS) lib/libtg.a $(SHARED_LIB) $(CUDA_LIB) (nvcc: $(if $(NVCC),yes,no))"

lib/libtg.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# the shared library: the same sources compiled position-independent into
# build/pic/ (the tools stay linked statically to libtg.a)
PIC_OBJ := $(LIB_SRC:lib/%.c=build/pic/lib/%.o)
$(SHARED_LIB): $(PIC_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libtg.so.$(SOVERSION) $^ $(LDLIBS) -o $@

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

# (deps-check first: a missing package is named before any compiler error)
build/lib/%.o: lib/%.c | deps-check
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

build/pic/lib/%.o: lib/%.c | deps-check
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -c $< -o $@

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
build/lib/compile/fused_cuda.o build/pic/lib/compile/fused_cuda.o: build/gen/tg_cuda_text.h
build/lib/compile/fused_cuda.o build/pic/lib/compile/fused_cuda.o: CFLAGS += -Ibuild/gen

# the hot loops: vectorised, with libmvec's vector math (see cpu_kernels.c);
# no FMA contraction, so that every operation rounds once, as in PyTorch's
# kernels and in the unfused formulas
HOT_OBJ := build/lib/backend/cpu_kernels.o build/lib/core/loop.o build/lib/ops/ops_reduce.o build/lib/train/optim.o \
           build/lib/compile/fused_vm.o
$(HOT_OBJ) $(HOT_OBJ:build/%=build/pic/%): CFLAGS += -O3 -fopenmp-simd -fno-math-errno -ffp-contract=off

build/cmd/%.o: cmd/%.c | deps-check
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# a tool is cmd/TOOL.c, and its other files where it has them
TGRAD_EXTRA := tgrad_args
bin/%: build/cmd/%.o lib/libtg.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $(filter %.o,$^) lib/libtg.a $(LDLIBS) -o $@
bin/tgrad: $(TGRAD_EXTRA:%=build/cmd/%.o)
# kept (not intermediate): a later make, or one a test runs while other
# tests use bin/, must find the tools up to date rather than relink them
.SECONDARY: $(TOOLS:%=build/cmd/%.o) $(TGRAD_EXTRA:%=build/cmd/%.o)

$(UNIT_BIN): $(UNIT_SRC) lib/libtg.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -Itests/unit $(UNIT_SRC) lib/libtg.a $(LDLIBS) -o $@

# Dependencies: Debian packages.  Building needs BUILD_PKGS only, and a
# plain make or make install never installs anything: a missing package
# stops it with the exact apt-get command.  make deps, make demo and make
# test install what is missing with apt-get when run as root (the test
# packages too: bats, and the tools the packaging tests use, which skip
# where they are missing; gnuplot-nox: tgrad --plot's PNG; parallel: the
# sharding recipe's test).
BUILD_PKGS := libcjson-dev libopenblas-dev
TEST_PKGS := bats pkg-config bash-completion zsh debhelper gnuplot-nox parallel
deps:
	@./tests/deps.sh $(BUILD_PKGS) $(TEST_PKGS)
# (one target for all goals, so that with -j it runs once, before any
# compiler: make test installs, make alone only checks)
DEPS_INSTALL := $(filter deps demo test,$(MAKECMDGOALS))
deps-check:
	@[ -n "$(TG_DEPS_PREFIX)" ] || ./tests/deps.sh --quiet $(if $(DEPS_INSTALL),,--check) \
	    $(BUILD_PKGS) $(if $(filter deps test,$(MAKECMDGOALS)),$(TEST_PKGS))

unit: deps-check $(UNIT_BIN)
	./$(UNIT_BIN)

bats: deps-check $(BINS) $(SHARED_LIB) $(CUDA_LIB)
	tests/run_bats.sh

# the Bats files run side by side, one per processor (tests/run_bats.sh;
# TG_BATS_JOBS=1: one at a time), the unit tests as one more job beside
# them; everything make install installs is built first, as several of
# them run make install at once
test: deps-check $(BINS) $(SHARED_LIB) $(CUDA_LIB) $(UNIT_BIN)
	tests/run_bats.sh ./$(UNIT_BIN) tests/bats/*.bats

# the whole Bats suite with cuda as the default device, emulated on the host
# (TG_CUDA_EMULATE: the backend's kernels and the generated ones run there;
# =ulp: every transcendental result one ulp off the CPU's, as the device's
# math functions may be): what tests/gpu/run.sh does on a GPU, as near as a
# machine without one gets
# (files whose setup pins the cpu, export TG_DEVICE=cpu, would only run
# again as in make test: left out)
# (and files marked "# not under check-cuda-emulated: WHY", whose work does
# not depend on the device: CI runs the suite three times in ten minutes)
EMULATED_BATS = $(filter-out $(shell grep -l -e '^ *export TG_DEVICE=cpu' -e '^\# not under check-cuda-emulated' \
	tests/bats/*.bats),$(wildcard tests/bats/*.bats))
check-cuda-emulated: deps-check $(BINS) $(SHARED_LIB) $(CUDA_LIB)
ifneq ($(CUDA_LIB),)
	TG_DEVICE=cuda TG_CUDA_EMULATE=ulp TG_CUDA_LIBRARY=$(CURDIR)/$(CUDA_LIB) tests/run_bats.sh $(EMULATED_BATS)
else
	@echo "check-cuda-emulated: the CUDA backend is not built here (no nvcc): nothing to run"
endif

demo: deps-check $(BINS)
	@./examples/demo.sh

# the shared library as libtg.so.VERSION, with the soname's link and the
# development link beside it; bash completion as one file per tool (the
# loader of bash-completion looks for the command's name)
SO_REAL := libtg.so.$(VERSION)
MAN_PAGES := $(wildcard man/man1/*.1 man/man5/*.5)
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 644 lib/libtg.a $(DESTDIR)$(LIBDIR)/
	install -m 644 $(SHARED_LIB) $(DESTDIR)$(LIBDIR)/$(SO_REAL)
	ln -sf $(SO_REAL) $(DESTDIR)$(LIBDIR)/libtg.so.$(SOVERSION)
	ln -sf libtg.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libtg.so
	$(if $(CUDA_LIB),install -m 644 $(CUDA_LIB) $(DESTDIR)$(LIBDIR)/)
	install -m 644 lib/tg.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    lib/tg.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/tg.pc
	install -m 644 man/man1/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/man5/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 completions/tgrad.bash $(DESTDIR)$(BASHCOMPDIR)/tgrad
	for t in $(filter-out tgrad,$(TOOLS)); do ln -sf tgrad $(DESTDIR)$(BASHCOMPDIR)/$$t; done
	install -m 644 completions/_tgrad $(DESTDIR)$(ZSHCOMPDIR)/_tgrad

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(BINDIR)/%) \
	    $(addprefix $(DESTDIR)$(LIBDIR)/,libtg.a $(SO_REAL) libtg.so.$(SOVERSION) libtg.so libtg_cuda.so pkgconfig/tg.pc) \
	    $(DESTDIR)$(INCLUDEDIR)/tg.h $(MAN_PAGES:man/%=$(DESTDIR)$(MANDIR)/%) \
	    $(TOOLS:%=$(DESTDIR)$(BASHCOMPDIR)/%) $(DESTDIR)$(ZSHCOMPDIR)/_tgrad

clean:
	rm -rf build bin lib/libtg.a lib/libtg.so lib/libtg_cuda.so

help:
	@echo "make [all|test|demo|deps|install|uninstall|deb|bench|clean]"
	@echo "     install/uninstall: PREFIX (/usr/local), DESTDIR, BINDIR, LIBDIR, INCLUDEDIR, MANDIR,"
	@echo "     BASHCOMPDIR, ZSHCOMPDIR; CPPFLAGS, CFLAGS and LDFLAGS are honoured"
	@echo "     check-cuda-emulated: the Bats suite with cuda as the default device, emulated"

-include $(LIB_OBJ:.o=.d) $(PIC_OBJ:.o=.d) $(wildcard build/cmd/*.d)

# further targets (benchmarks, sanitizers, fuzzing), one file each
include $(wildcard mk/*.mk)
