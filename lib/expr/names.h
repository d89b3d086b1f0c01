/* names.h -- names: identifiers and the hash index over them (internal). */
#ifndef TG_EXPR_NAMES_H
#define TG_EXPR_NAMES_H
#include "core/core.h"

/* letters, digits and _, not starting with a digit: a variable's name (bind.c) */
bool tg_is_identifier(const char *s, size_t n);

/* A hash index over an array of names (env.c): slots hold a position + 1
 * in keys (0: empty), open addressing, at most half full.  Start it as {0},
 * free slots with tg_free.  Lookups and additions take constant time. */
typedef struct {
    int *slots;
    size_t cap; /* a power of two, or 0 */
} tg_name_index;
/* the position of name in keys, or -1 */
int tg_name_index_find(const tg_name_index *ix, const char *const *keys, const char *name);
/* adds keys[pos], pos < n (keys[0..n) are what the index holds once the
 * call returns: growing rehashes them); TG_ERESOURCE when out of memory */
tg_status tg_name_index_add(tg_name_index *ix, const char *const *keys, int n, int pos);
#endif
