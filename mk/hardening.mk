# mk/hardening.mk -- hostile input, sanitizers, valgrind, allocation-failure
# injection and fuzzing (included by the Makefile).  Everything is built
# under build/ (ignored by git; `make clean` removes it):
#
#   make check-sanitize   library, tools and unit tests built with clang
#                         -fsanitize=address,undefined (+ unsigned overflow on
#                         the size arithmetic) into build/san/; runs the unit
#                         tests and every Bats test against those tools, with
#                         the leak checker on.  Any sanitizer report fails it.
#   make check-valgrind   the Bats tool tests with each tool under valgrind
#                         memcheck (wrappers in build/vg/bin); any error or
#                         definite leak fails it.
#   make check-alloc      tests/alloc_fail.sh: fails the 1st, 2nd, ... tg_malloc
#                         of whole tool runs (TG_FAIL_ALLOC=N); each must exit
#                         4 with one line about memory, print nothing, and leak
#                         nothing (under valgrind when it is installed).
#   make fuzz             each libFuzzer target for FUZZ_SECONDS (default 60)
#                         seconds; FUZZ_TARGETS picks targets, FUZZ_JOBS runs
#                         them in parallel.  Seeds: tests/fuzz/corpus/TARGET/;
#                         what the fuzzer learns goes to build/fuzz/corpus/.
#   make fuzz-regress     every fuzz target over its seed corpus once (fast;
#                         the crashes found and fixed so far live there).
#   make fuzz-known       the reproducers of known, unfixed bugs found by
#                         fuzzing (tests/fuzz/known-bugs/), each: fixed or not.
#   make check-hardening  check-sanitize, check-alloc, fuzz-regress.
#
# clang is needed for the sanitizer and fuzz builds (Debian: clang-14 and
# libclang-rt-14-dev); SAN_CC / FUZZ_CC choose another.

SAN_CC ?= $(shell command -v clang 2>/dev/null || command -v clang-14 2>/dev/null)
FUZZ_CC ?= $(SAN_CC)
H_WARN := -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Ilib -Ibuild/gen -I/usr/include/cjson
H_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# ---- sanitizer build: build/san/{lib,cmd,bin,unit_tests} ----
SAN_DIR := build/san
SAN_OPT ?= -O1 -g
# -fopenmp as the Makefile has it (the OpenMP loops run under the sanitizers too)
SAN_CFLAGS := $(H_WARN) $(SAN_OPT) $(H_SAN) -MMD -MP $(filter -fopenmp,$(CFLAGS))
# -fsanitize=unsigned-integer-overflow (clang only) is not undefined behaviour
# but catches wrapped size arithmetic.  The int64 kernels (cpu_kernels.c,
# ops_*.c) and the random generator wrap on purpose, as PyTorch does, so it is
# enabled only in the files that compute sizes, offsets and parse numbers.
# Deliberate wraps there are listed in tests/ubsan.supp (suppressions need
# the check to be recoverable; halt_on_error=1 still stops at any other).
SAN_UINT_FILES ?= alloc tensor npy io json_read ops_view loop parse
SAN_LIB_OBJ := $(LIB_SRC:lib/%.c=$(SAN_DIR)/lib/%.o)
SAN_BINS := $(TOOLS:%=$(SAN_DIR)/bin/%)
SAN_UNIT := $(SAN_DIR)/unit_tests
SAN_LOG := $(CURDIR)/$(SAN_DIR)/log
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:exitcode=86:log_path=$(SAN_LOG)/asan:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:print_summary=1 \
	LSAN_OPTIONS=exitcode=86:print_suppressions=0:suppressions=$(CURDIR)/tests/lsan.supp \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87:log_path=$(SAN_LOG)/ubsan:suppressions=$(CURDIR)/tests/ubsan.supp

$(SAN_DIR)/lib/%.o: lib/%.c mk/hardening.mk
	@mkdir -p $(@D)
	$(SAN_CC) $(SAN_CFLAGS) $(if $(filter $(notdir $*),$(SAN_UINT_FILES)),-fsanitize=unsigned-integer-overflow -fsanitize-recover=unsigned-integer-overflow) -c $< -o $@

# the generated header lib/compile/fused_cuda.c includes (Makefile)
$(SAN_DIR)/lib/compile/fused_cuda.o: build/gen/tg_cuda_text.h

$(SAN_DIR)/cmd/%.o: cmd/%.c mk/hardening.mk
	@mkdir -p $(@D)
	$(SAN_CC) $(SAN_CFLAGS) -c $< -o $@

$(SAN_DIR)/libtg.a: $(SAN_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SAN_DIR)/bin/%: $(SAN_DIR)/cmd/%.o $(SAN_DIR)/libtg.a
	@mkdir -p $(@D)
	$(SAN_CC) $(SAN_CFLAGS) $(filter %.o,$^) $(SAN_DIR)/libtg.a $(LDLIBS) -o $@
$(SAN_DIR)/bin/tgrad: $(TGRAD_EXTRA:%=$(SAN_DIR)/cmd/%.o)
.SECONDARY: $(TOOLS:%=$(SAN_DIR)/cmd/%.o) $(TGRAD_EXTRA:%=$(SAN_DIR)/cmd/%.o)

$(SAN_UNIT): $(UNIT_SRC) $(SAN_DIR)/libtg.a
	@mkdir -p $(@D)
	$(SAN_CC) $(SAN_CFLAGS) -Itests/unit $^ $(LDLIBS) -o $@

.PHONY: san-build check-sanitize check-valgrind check-alloc fuzz fuzz-build fuzz-regress fuzz-known check-hardening
san-build: $(SAN_BINS) $(SAN_UNIT)

# Runs everything even when a step fails, then reports sanitizer logs; the
# unit tests run as one more job of tests/run_bats.sh, beside the Bats files.
# every Bats file but those marked "# not under check-sanitize: WHY" (they
# run no library code of their own under the sanitized tools)
SANITIZE_BATS = $(filter-out $(shell grep -l '^\# not under check-sanitize' tests/bats/*.bats),$(wildcard tests/bats/*.bats))
check-sanitize: deps-check san-build $(BINS) $(SHARED_LIB)
	@rm -rf $(SAN_LOG) && mkdir -p $(SAN_LOG)
	@st=0; \
	echo "== unit tests (ASan+UBSan), beside the bats files (tools from $(SAN_DIR)/bin)"; \
	$(SAN_ENV) TG_SANITIZE=1 TG_BIN=$(CURDIR)/$(SAN_DIR)/bin tests/run_bats.sh ./$(SAN_UNIT) $(SANITIZE_BATS) || st=1; \
	tests/report_logs.sh "sanitizer" $(SAN_LOG)/asan.* $(SAN_LOG)/ubsan.* || st=1; \
	exit $$st

# ---- valgrind: build/vg/bin/TOOL wrappers around a copy of bin/TOOL (a
# concurrent `make` must not swap it mid-run) ----
VG_DIR := build/vg
VG_LOG := $(CURDIR)/$(VG_DIR)/log
VALGRIND ?= valgrind
# the Bats files to run (all: about 20 minutes on 2 cores; VG_BATS=tests/bats/hostile.bats: 8)
VG_BATS ?= tests/bats
VG_FLAGS ?= -q --suppressions=$(CURDIR)/tests/valgrind.supp --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-origins=yes

check-valgrind: deps-check $(BINS)
	@command -v $(VALGRIND) >/dev/null || { echo "check-valgrind: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
	@rm -rf $(VG_DIR) && mkdir -p $(VG_DIR)/bin $(VG_DIR)/real $(VG_LOG)
	@for t in $(TOOLS); do \
	  cp bin/$$t $(VG_DIR)/real/$$t; \
	  printf '#!/bin/sh\nexec %s %s --log-file=%s/%s.%%p "%s/$(VG_DIR)/real/%s" "$$@"\n' \
	    "$(VALGRIND)" "$(VG_FLAGS)" "$(VG_LOG)" $$t "$(CURDIR)" $$t > $(VG_DIR)/bin/$$t; \
	  chmod +x $(VG_DIR)/bin/$$t; done
	@st=0; TG_BIN=$(CURDIR)/$(VG_DIR)/bin TG_UNDER_VALGRIND=1 bats $(VG_BATS) || st=1; \
	tests/report_logs.sh "valgrind" $(VG_LOG)/* || st=1; exit $$st

# ---- allocation failure injection ----
check-alloc: deps-check $(BINS)
	TG_BIN=$(CURDIR)/bin tests/alloc_fail.sh

# ---- libFuzzer targets: build/fuzz/fuzz_TARGET ----
FUZZ_DIR := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= expr json npy cli
FUZZ_JOBS ?= 1
# UB checks are recoverable here only so that tests/fuzz/known-bugs.supp can
# silence bugs already reported (halt_on_error=1 stops at any other).
FUZZ_CFLAGS := $(H_WARN) -O1 -g $(H_SAN) -fsanitize-recover=undefined -fsanitize=fuzzer-no-link -DTG_FUZZ -MMD -MP
# The harnesses cap allocations (a small machine) by wrapping the allocator.
FUZZ_WRAP := -Wl,--wrap=tg_malloc,--wrap=tg_calloc,--wrap=tg_realloc
FUZZ_LIB_OBJ := $(LIB_SRC:lib/%.c=$(FUZZ_DIR)/lib/%.o)
FUZZ_CMD_OBJ := $(FUZZ_DIR)/cmd/tgrad.o $(TGRAD_EXTRA:%=$(FUZZ_DIR)/cmd/%.o) $(FUZZ_DIR)/cmd/tmatmul.o \
	$(FUZZ_DIR)/cmd/tbroadcast.o
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_HDR := tests/fuzz/fuzz_common.h lib/tg.h
# per target: the longest input
FUZZ_MAXLEN_expr := 256
FUZZ_MAXLEN_json := 4096
FUZZ_MAXLEN_npy := 4096
# (cli: room for 40 --at NAME=V and a long expression; 512 was too short
# to reach the Hessian's overflow with 33 variables)
FUZZ_MAXLEN_cli := 4096
# -timeout: some legitimate runs take ~20 s under ASan (tgrad --order stopping
# at its node limit takes 1 s natively)
FUZZ_OPTS ?= -timeout=30 -rss_limit_mb=2048 -print_final_stats=1
# Arguments fuzz_cli refuses until a known bug is fixed (prefixes, comma-
# separated, e.g. --e for --explain; the reproducers go to
# tests/fuzz/known-bugs/).  Empty: --explain, --lines, --order,
# --jacobian and --hessian were refused here until their bugs were fixed.
FUZZ_CLI_REFUSE ?=
FUZZ_ENV := FUZZ_CLI_REFUSE=$(FUZZ_CLI_REFUSE) ASAN_OPTIONS=detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/tests/fuzz/known-bugs.supp

$(FUZZ_DIR)/lib/compile/fused_cuda.o: build/gen/tg_cuda_text.h
$(FUZZ_DIR)/lib/%.o: lib/%.c mk/hardening.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

# each tool's main becomes TOOL_main (the tools leave main only by return)
$(FUZZ_DIR)/cmd/%.o: cmd/%.c mk/hardening.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Dmain=$*_main -c $< -o $@

$(FUZZ_DIR)/common.o: tests/fuzz/fuzz_common.c $(FUZZ_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/fuzz_cli: tests/fuzz/fuzz_cli.c lib/cli/cli.h $(FUZZ_DIR)/common.o $(FUZZ_CMD_OBJ) $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(filter %.c %.o,$^) $(FUZZ_WRAP) $(LDLIBS) -o $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/common.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(filter %.c %.o,$^) $(FUZZ_WRAP) $(LDLIBS) -o $@

fuzz-build: $(FUZZ_BINS)

# fuzz: a working corpus in build/fuzz/corpus/T (the first directory: new
# inputs go there), the seeds read from tests/fuzz/corpus/T; a crash is
# written to build/fuzz/artifacts/ and fails the target.  Paths are absolute
# (fuzz_cli runs in a scratch directory).  The last line of each log has the
# executions and the coverage (cov:).
fuzz: fuzz-build
	@mkdir -p $(FUZZ_DIR)/artifacts
	@printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(FUZZ_JOBS) -I{} sh -c '\
	  mkdir -p $(FUZZ_DIR)/corpus/{}; \
	  dict=; [ -f tests/fuzz/{}.dict ] && dict=-dict=$(CURDIR)/tests/fuzz/{}.dict; \
	  case {} in expr) len=$(FUZZ_MAXLEN_expr);; json) len=$(FUZZ_MAXLEN_json);; npy) len=$(FUZZ_MAXLEN_npy);; *) len=$(FUZZ_MAXLEN_cli);; esac; \
	  $(FUZZ_ENV) ./$(FUZZ_DIR)/fuzz_{} $(CURDIR)/$(FUZZ_DIR)/corpus/{} $(CURDIR)/tests/fuzz/corpus/{} $$dict \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=$$len $(FUZZ_OPTS) \
	    -artifact_prefix=$(CURDIR)/$(FUZZ_DIR)/artifacts/{}- </dev/null >$(FUZZ_DIR)/{}.log 2>&1; st=$$?; \
	  printf "fuzz_%-5s exit %s  %s\n" {} $$st "$$(grep -E "^#[0-9]+" $(FUZZ_DIR)/{}.log | tail -1)"; \
	  [ $$st = 0 ] || grep -E "^(fuzz:|SUMMARY|==[0-9]+==ERROR)|runtime error" $(FUZZ_DIR)/{}.log | head -5; \
	  exit $$st'

# the seed corpora (and the regression inputs kept in them), once each
fuzz-regress: fuzz-build
	@st=0; for t in $(FUZZ_TARGETS); do \
	  $(FUZZ_ENV) ./$(FUZZ_DIR)/fuzz_$$t -runs=0 $(CURDIR)/tests/fuzz/corpus/$$t </dev/null >$(FUZZ_DIR)/$$t-regress.log 2>&1 \
	    && echo "fuzz_$$t: $$(ls tests/fuzz/corpus/$$t | wc -l) seeds ok" \
	    || { echo "fuzz_$$t: FAILED (see $(FUZZ_DIR)/$$t-regress.log)"; \
	         grep -E "^(fuzz:|SUMMARY|==[0-9]+==ERROR)|runtime error" $(FUZZ_DIR)/$$t-regress.log | head -5; st=1; }; done; exit $$st

# the reproducers of known bugs (tests/fuzz/known-bugs/TARGET/), each run
# without the workarounds: "fixed" means its input can join the corpus
fuzz-known: fuzz-build
	@st=0; for t in $(FUZZ_TARGETS); do for f in tests/fuzz/known-bugs/$$t/*; do [ -f "$$f" ] || continue; \
	  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	     timeout 60 ./$(FUZZ_DIR)/fuzz_$$t -timeout=20 $(CURDIR)/$$f </dev/null >$(FUZZ_DIR)/known.log 2>&1; \
	  then echo "fixed:   $$f (move it to tests/fuzz/corpus/$$t/)"; \
	  else st=1; echo "failing: $$f: $$(grep -Eo 'fuzz: .*|ERROR: LeakSanitizer: [a-z ]+|SUMMARY: [A-Za-z]+: [a-z-]+( on)?|ERROR: libFuzzer: [a-z-]+|runtime error: .*' $(FUZZ_DIR)/known.log | head -1 | cut -c1-110)"; fi; \
	done; done; exit $$st

check-hardening: check-sanitize check-alloc fuzz-regress

-include $(SAN_LIB_OBJ:.o=.d) $(wildcard $(SAN_DIR)/cmd/*.d)
-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_CMD_OBJ:.o=.d) $(FUZZ_DIR)/common.d
