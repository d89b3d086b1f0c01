# mk/examples.mk -- the runnable examples of examples/ (included by the
# Makefile).
#
#   make examples          runs every examples/NN-*.sh (the lesson, section by
#                          section: each shows its commands and their real
#                          output) and the C example examples/c/grad.c, built
#                          against lib/libtg.a; fails when one of them does
#                          (a script fails when a command's exit status is
#                          not the one it shows).  EXAMPLES=examples/07-*.sh
#                          runs only those.
#   make examples-check    tests/bats/examples.bats: each output compared with
#                          examples/expected/, and the C example built from an
#                          installed copy through pkg-config.
#   make examples-update   rewrites examples/expected/*.out from the scripts'
#                          output, keeping the pattern lines ("~ ", see
#                          examples/mask.awk) that still match; review the
#                          change with git diff examples/expected.
#
# EXAMPLES_PYTHON (default /usr/bin/python3) is the interpreter that
# examples/02-numpy.sh tries for NumPy.

EXAMPLE_SCRIPTS := $(sort $(wildcard examples/[0-9][0-9]-*.sh))
EXAMPLES ?= $(EXAMPLE_SCRIPTS)
EXAMPLES_PYTHON ?= /usr/bin/python3
EXAMPLE_DIR := build/examples
EXAMPLE_C := $(EXAMPLE_DIR)/grad

$(EXAMPLE_C): examples/c/grad.c lib/tg.h lib/libtg.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< lib/libtg.a $(LDLIBS) -o $@

.PHONY: examples examples-check examples-update
examples: deps-check $(BINS) $(EXAMPLE_C)
	@st=0; for s in $(EXAMPLES); do \
	  echo "==> $$s"; EXAMPLES_PYTHON=$(EXAMPLES_PYTHON) sh $$s || { st=1; echo "==> $$s FAILED" >&2; }; echo; \
	done; \
	echo "==> examples/c/grad.c ($(EXAMPLE_C))"; ./$(EXAMPLE_C) || { st=1; echo "==> $(EXAMPLE_C) FAILED" >&2; }; \
	exit $$st

examples-check: deps-check $(BINS)
	bats tests/bats/examples.bats

# One expected file per script, plus 02-numpy.nonumpy.out: 02-numpy.sh where
# NumPy cannot be imported (its NumPy variant is left alone without NumPy).
examples-update: deps-check $(BINS)
	@mkdir -p $(EXAMPLE_DIR); st=0; \
	update() { name=$$1; shift; \
	  if ! env "$$@" sh examples/$${name%%.*}.sh > $(EXAMPLE_DIR)/$$name.out; then \
	    echo "$$name: the script failed, expected output not updated" >&2; st=1; return; fi; \
	  awk -v expected=examples/expected/$$name.out -f examples/mask.awk $(EXAMPLE_DIR)/$$name.out > $(EXAMPLE_DIR)/$$name.new; \
	  if cmp -s $(EXAMPLE_DIR)/$$name.new examples/expected/$$name.out; then echo "$$name.out: unchanged"; \
	  else mv $(EXAMPLE_DIR)/$$name.new examples/expected/$$name.out; echo "$$name.out: updated"; fi; }; \
	for s in $(EXAMPLE_SCRIPTS); do n=$$(basename $$s .sh); \
	  if [ $$n = 02-numpy ] && ! $(EXAMPLES_PYTHON) -c 'import numpy' >/dev/null 2>&1; then \
	    echo "$$n.out: left alone (NumPy cannot be imported by $(EXAMPLES_PYTHON))"; \
	  else update $$n EXAMPLES_PYTHON=$(EXAMPLES_PYTHON); fi; \
	done; \
	update 02-numpy.nonumpy EXAMPLES_PYTHON=/nonexistent/python3; \
	exit $$st
