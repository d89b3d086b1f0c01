/* jit_cache.h -- the folder compiled code is kept in (jit_cache.c), for
 * jit.c: found and checked once, then used through its directory handle
 * only, and the files in it read and written through descriptors. */
#ifndef TG_JIT_CACHE_H
#define TG_JIT_CACHE_H
#include "internal.h"
#include <stddef.h>
#include <stdint.h>

/* The cache folder's path ($TG_CACHE_DIR, else $XDG_CACHE_HOME/tgrad,
 * else $HOME/.cache/tgrad; made absolute), tg_malloc'd; NULL when there is
 * none (no HOME) or memory ran out. */
char *tg_cache_path(void);

/* The cache folder opened for use, made (mode 0700) where missing: a
 * directory descriptor (O_PATH) to pass to the functions below, closed by
 * the caller; -1 when there is none, or when it is refused (then a
 * warning on stderr says why, once per process). */
int tg_cache_open(void);
/* The same without making it or saying why it is refused: -1 then. */
int tg_cache_open_existing(void);

/* Would the folder at path be used (it may not exist yet)?  Makes
 * nothing; false with the reason in why. */
bool tg_cache_usable(const char *path, char *why, size_t cap);

/* A new private folder in dir, mode 0700, of a random name
 * ("tmp-" and 16 hex digits) in name[cap]: its descriptor (O_RDONLY), or
 * -1.  tg_cache_tmp_remove removes it and all in it, and closes fd. */
int tg_cache_tmp_make(int dir, char *name, size_t cap);
void tg_cache_tmp_remove(int dir, const char *name, int fd);

/* The file name in dir, when it is a regular file of the user's that no
 * one else can write, of at most max bytes: its bytes in *data (malloc'd,
 * one zero byte after them; free()), their count in *len, and, when keep
 * is not NULL, its open descriptor in *keep.  false when it is missing,
 * refused or unreadable. */
bool tg_cache_read(int dir, const char *name, size_t max, char **data, size_t *len, int *keep);

/* A new file name in dir (none may exist), mode 0600, of len bytes. */
bool tg_cache_write(int dir, const char *name, const void *data, size_t len);

/* Makes the file a program (the compiler) wrote in a private folder the
 * user's alone (mode 0600: under umask 002 it is group-writable), after
 * checking it is a regular file of the user's; false if it is not. */
bool tg_cache_seal(int dir, const char *name);

/* 64-bit FNV-1a of n bytes, continued from h (start: TG_HASH_START) */
#define TG_HASH_START 0xcbf29ce484222325ULL
uint64_t tg_cache_hash(uint64_t h, const void *p, size_t n);

/* What may go wrong once per process, each said once on stderr as
 * "TOOL: warning: ..." (a fallback, not an error: the result is the same,
 * computed without generated code). */
enum { TG_WARN_FOLDER, TG_WARN_LOAD, TG_WARN_COUNT };
void tg_cache_warn(int what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Stops, until tg_cache_release, the signals that end a process
 * (SIGINT, SIGTERM, SIGHUP, SIGQUIT) where they are not ignored: they are
 * noted instead, so that a compiler can be stopped and its files removed
 * first.  tg_cache_stop_signal: the one that came, or 0.
 * tg_cache_release puts the handlers back and raises the signal noted. */
void tg_cache_hold_signals(void);
int tg_cache_stop_signal(void);
void tg_cache_release_signals(void);
#endif
