/* io.h -- what the library shares about reading and writing (internal). */
#ifndef TG_IO_IO_H
#define TG_IO_IO_H
#include "core/core.h"

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

/* TG_OK, or an error when writing t would go over that limit (an
 * expand()ed result larger than memory) */
tg_status tg_check_write_size(const tg_tensor *t);

/* .npz (numpy.savez: a zip archive of .npy files) is not read; its bytes
 * start with a zip file's first local header (io.c) */
bool tg_is_zip(const char *buf, size_t len);
#define TG_NPZ_REFUSED "npz archives are not supported; unzip it and pass the .npy files"
#endif
