/* io.c -- tensors from command-line arguments, files and standard input
 * (tg-formats(5)); outfile.c writes them to files. */
#include "internal.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define EMPTY_INPUT "empty input: expected a JSON tensor or a .npy file"

/* ---- reading whole files ---- */

static tg_status too_big(const char *name)
{
    return tg_error(TG_EINPUT, "%s is larger than the limit of %lld bytes (16 GiB) for one input",
                    name, (long long)TG_MAX_INPUT_BYTES);
}

/* Reads fd to its end into a NUL-terminated buffer.  name is how messages
 * call the source ("'a.npy'" or "standard input"). */
static char *read_fd(int fd, const char *name, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        tg_error(TG_ERESOURCE, "cannot read %s: %s", name, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        tg_error(TG_ERESOURCE, "%s is a directory, not a tensor file", name);
        return NULL;
    }
    bool regular = S_ISREG(st.st_mode);
    if (regular && st.st_size > TG_MAX_INPUT_BYTES) {
        too_big(name);
        return NULL;
    }
    /* a regular file's size plus room to see the end and the NUL; pipes grow */
    size_t cap = regular ? (size_t)st.st_size + 2 : 1 << 16, n = 0;
    char *buf = tg_malloc(cap);
    while (buf) {
        if (n + 1 == cap) {
            char *nb = tg_realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            tg_error(TG_ERESOURCE, "cannot read %s: %s", name, strerror(errno));
            break;
        }
        if (r == 0) {
            buf[n] = 0;
            *len = n;
            return buf;
        }
        n += (size_t)r;
        if (n > (size_t)TG_MAX_INPUT_BYTES) {
            too_big(name);
            break;
        }
    }
    tg_free(buf);
    return NULL;
}

/* whether standard input was read already: a second "-" that finds it
 * empty is told why */
static bool stdin_was_read;

char *tg_read_file(const char *path, size_t *len)
{
    size_t dummy;
    if (!len)
        len = &dummy;
    if (!strcmp(path, "-")) {
        char *buf = read_fd(STDIN_FILENO, "standard input", len);
        if (buf && *len == 0 && stdin_was_read) {
            tg_free(buf);
            tg_error(TG_EINPUT, "standard input was already read for another argument: only one "
                     "argument can be -; give the others as files or inline JSON");
            return NULL;
        }
        stdin_was_read = true;
        return buf;
    }
    char name[512];
    snprintf(name, sizeof name, "'%s'", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tg_error(TG_ERESOURCE, "cannot open %s: %s", name, strerror(errno));
        return NULL;
    }
    char *buf = read_fd(fd, name, len);
    close(fd);
    return buf;
}

/* ---- loading tensor arguments ---- */

/* The error set so far, restated with where the input came from: the
 * first error wins, so the message is taken, cleared and set again.  Any
 * position is dropped: it was one in the file, not in an expression. */
static void error_source(const char *source)
{
    tg_status code = tg_errcode();
    if (code == TG_OK)
        return;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tg_errmsg());
    tg_error_clear();
    tg_error(code, "%s: %s", source, msg);
}

static bool only_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isspace((unsigned char)s[i]))
            return false;
    return true;
}

/* An argument "parses as JSON" (tg-formats(5)) when it starts as a JSON
 * value can, or with a non-finite number as the toolkit writes them. */
static bool looks_like_json(const char *s)
{
    static const char *const words[] = {"true", "false", "null", "NaN", "Infinity"};
    while (isspace((unsigned char)*s))
        s++;
    if (*s && strchr("[{\"-0123456789", *s))
        return true;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (!strncmp(s, words[i], strlen(words[i])))
            return true;
    return false;
}

static bool path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool tg_is_zip(const char *buf, size_t len)
{
    return len >= 4 && !memcmp(buf, "PK\x03\x04", 4);
}

/* The content of a file or of standard input: .npy by its magic, else JSON. */
static tg_tensor *load_bytes(const char *buf, size_t len, int dtype_hint, int *requires_grad,
                             const char *source)
{
    tg_tensor *t;
    if (only_space(buf, len)) {
        tg_error(TG_EINPUT, EMPTY_INPUT " (%s is empty)", source);
        return NULL;
    }
    if (tg_is_zip(buf, len)) {
        tg_error(TG_EINPUT, TG_NPZ_REFUSED);
        t = NULL;
    } else if (len >= 6 && !memcmp(buf, NPY_MAGIC, 6)) {
        t = tg_npy_read(buf, len);
        if (t && dtype_hint >= 0 && dtype_hint < TG_NDTYPES && (tg_dtype)dtype_hint != t->dtype)
            t = tg_cast(t, (tg_dtype)dtype_hint);
    } else {
        t = tg_json_parse(buf, len, dtype_hint, requires_grad);
    }
    if (!t)
        error_source(source);
    return t;
}

static tg_tensor *load_arg(const char *arg, int dtype_hint, int *requires_grad)
{
    if (requires_grad)
        *requires_grad = -1;
    if (!arg) {
        tg_error(TG_EINPUT, "no tensor given: expected JSON, a file name or -");
        return NULL;
    }
    bool is_stdin = !strcmp(arg, "-");
    if (!is_stdin && looks_like_json(arg)) {
        /* tg-formats(5): an argument that parses as JSON is inline JSON,
         * even when a file of that name exists; one that does not parse is
         * a path when such a file exists, else its JSON error stands */
        tg_tensor *t = tg_json_parse(arg, strlen(arg), dtype_hint, requires_grad);
        if (t || !path_exists(arg))
            return t;
        tg_error_clear();
    } else if (!is_stdin && !path_exists(arg) && only_space(arg, strlen(arg))) {
        tg_error(TG_EINPUT, EMPTY_INPUT " (the argument is empty)");
        return NULL;
    }
    if (!is_stdin) {
        /* a large regular file is mapped, not read into a buffer first: the
         * data is then copied once, from the page cache into the tensor */
        int fd = open(arg, O_RDONLY);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (1 << 20) &&
            st.st_size <= TG_MAX_INPUT_BYTES) {
            void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            close(fd);
            if (map != MAP_FAILED) {
                madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
                tg_tensor *t = load_bytes(map, (size_t)st.st_size, dtype_hint, requires_grad, arg);
                munmap(map, (size_t)st.st_size);
                return t;
            }
        } else if (fd >= 0)
            close(fd);
    }
    size_t len;
    char *buf = tg_read_file(arg, &len);
    if (!buf)
        return NULL;
    tg_tensor *t = load_bytes(buf, len, dtype_hint, requires_grad, is_stdin ? "standard input" : arg);
    tg_free(buf);
    return t;
}

/* On cuda, as PyTorch's x.to("cuda"): the data the host has just written
 * goes to the device now, in one transfer, not page by page under the
 * first kernel that reads it (small tensors: not worth a call). */
tg_tensor *tg_load_arg(const char *arg, int dtype_hint, int *requires_grad)
{
    tg_tensor *t = load_arg(arg, dtype_hint, requires_grad);
    if (t && t->storage->nbytes >= ((size_t)1 << 20) && tg_prefetch(t) != TG_OK) {
        tg_release(t);
        return NULL;
    }
    return t;
}

/* saving: tg_save is in outfile.c, which writes files whole or not at all */
