/* io.h -- what the library shares about reading and writing (internal). */
#ifndef TG_IO_IO_H
#define TG_IO_IO_H
#include "core/core.h"
#include <stdio.h>

/* tg_buf, the growing byte buffer, is public: see tg.h */

/* The result builder (result.c) with each tensor put by entry: appended to
 * b as it likes (inline JSON, or a file's name); name is NULL for the
 * value, else the gradient's variable.  tg_result_grad is this with the
 * tensors inline; tg_write_result_files puts them in files. */
typedef tg_status (*tg_result_entry)(tg_buf *b, const char *name, const tg_tensor *t, void *ctx);
tg_status tg_result_grad_with(tg_buf *b, const tg_tensor *value, const char *const *names,
                              tg_tensor *const *grads, int n, bool pretty, const char *extra,
                              tg_result_entry entry, void *ctx);
/* s as a JSON string, quotes and escapes (\", \\, \u00XX) included */
void tg_buf_json_string(tg_buf *b, const char *s);

/* Files written whole or not at all, as a set (outfile.c's rules, as
 * tg_save): each goes to a temporary beside its path; commit renames them
 * all into place (and frees the set), abort removes them.  dir (NULL:
 * none) is made if missing, and removed again on abort if it was made.
 * A stream stays open for writing until the commit. */
typedef struct tg_fileset tg_fileset;
tg_fileset *tg_fileset_new(const char *dir);
tg_status tg_fileset_save(tg_fileset *f, const char *path, const tg_tensor *t); /* borrows t */
tg_status tg_fileset_text(tg_fileset *f, const char *path, const char *text, size_t len);
FILE *tg_fileset_stream(tg_fileset *f, const char *path); /* NULL: the error set */
tg_status tg_fileset_commit(tg_fileset *f);
void tg_fileset_abort(tg_fileset *f);

/* .npy in parts (npy.c), for a file written piece by piece: the header
 * of an array of that dtype and shape; then elements [start, start+count)
 * of a contiguous t, in order */
tg_status tg_npy_write_header(FILE *f, tg_dtype dtype, int ndim, const int64_t *shape);
tg_status tg_npy_write_range(FILE *f, const tg_tensor *t, int64_t start, int64_t count);
/* The dtype and shape that the .npy header at the start of bytes[0..len)
 * gives, the data neither read nor checked (tg_npy_read does that); an
 * error when the header is malformed or longer than len. */
tg_status tg_npy_peek(const void *bytes, size_t len, tg_dtype *dtype, int *ndim, int64_t *shape);

/* TG_OK, or an error when writing t would go over that limit (an
 * expand()ed result larger than memory) */
tg_status tg_check_write_size(const tg_tensor *t);

/* .npz (numpy.savez: a zip archive of .npy files) is not read; its bytes
 * start with a zip file's first local header (io.c) */
bool tg_is_zip(const char *buf, size_t len);
#define TG_NPZ_REFUSED "npz archives are not supported; unzip it and pass the .npy files"
#endif
