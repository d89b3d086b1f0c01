/* fuzz_common.h -- what the libFuzzer harnesses share (tests/fuzz/).
 *
 * The harnesses are built with clang -fsanitize=fuzzer,address,undefined
 * from the library's sources (mk/hardening.mk, `make fuzz`), linked with
 * -Wl,--wrap for tg_malloc, tg_calloc and tg_realloc (fuzz_common.c caps one
 * allocation at FUZZ_MAX_ALLOC bytes, as a machine with little memory
 * would, so that inputs such as zeros(100000,10000) fail quickly with the
 * library's own out-of-memory error instead of tripping libFuzzer's
 * malloc limit). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H
#include "tg.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FUZZ_MAX_ALLOC ((size_t)256 << 10) /* bytes in one allocation */
#define FUZZ_MAX_WORK ((int64_t)1 << 22)   /* elements one op may touch (tg_set_max_work) */

/* Once per process: standard output to /dev/null, one BLAS thread, the
 * work limit;
 * sanitizer reports to a copy of standard error (see fuzz_quiet). */
void fuzz_init(void);
/* Standard error to /dev/null (on) or back (off), around a tool's main:
 * the tools' messages would flood the log.  Sanitizer reports and
 * fuzz_fail still reach the real standard error. */
void fuzz_quiet(bool on);
/* Prints "fuzz: MESSAGE" to the real standard error and aborts, so that
 * libFuzzer saves the input. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Before each input: clear the error, grad mode on, default dtype. */
void fuzz_reset(void);
/* After a call that failed (returned NULL or a status): the error must be
 * set, with a status of tg-formats(5) EXIT STATUS (2, 3 or 4) and a
 * one-line message; anything else aborts, so libFuzzer records the input. */
void fuzz_check_failed(const char *what);
/* A FILE that discards what is written (opened once). */
FILE *fuzz_devnull(void);
/* A NUL-terminated copy of the input (free() it). */
char *fuzz_strndup(const uint8_t *data, size_t size);
#endif
