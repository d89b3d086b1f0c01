/* outfile.c -- output files written whole or not at all (tgrad(1), FILES).
 *
 * A tensor saved to a path goes first to a new temporary file beside the
 * target, ".NAME.tmp-XXXXXX" (created with O_CREAT|O_EXCL|O_NOFOLLOW, so
 * that nothing planted under that name is written through), is synced, and
 * only then renamed over the target.  Any failure before that -- a full
 * disk, a bad input found late, standard output failing -- removes the
 * temporary and leaves the old file as it was.  rename() replaces a
 * symbolic link at the target; it never writes into the file the link
 * points to.
 *
 * Several files (--out-dir) form a set: all are written and synced first,
 * then renamed one after another, so only a crash between two renames can
 * leave some files new and some old.  SIGINT, SIGTERM, SIGHUP and SIGPIPE
 * remove the temporaries before the process dies of the signal; after
 * SIGKILL a temporary may remain, never a half-written target.
 *
 * Where a path leads (resolve()):
 *  - nothing, or a regular file: replaced as above, the new file with the
 *    old one's permissions if it was yours, else 0666 less the umask;
 *  - a device, a pipe or a socket (/dev/null, /dev/full, a FIFO): written
 *    directly, there being no file to replace;
 *  - a symbolic link owned by you or by root (a link you made,
 *    /dev/stdout): followed, and the file it leads to replaced (or, for
 *    standard output or error, written directly); a link owned by anyone
 *    else is replaced, never followed (as the kernel's protected_symlinks
 *    reasons).
 * The folder a file goes into is refused when it is itself a symbolic link
 * owned by someone other than you or root, or when anyone may write to it
 * and it lacks the sticky bit (anyone could swap the files in it). */
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* one file of a set */
typedef struct outfile {
    char *shown;       /* the path as given: messages and the printed result */
    int dirfd;         /* the folder, held open; leaf and temp are in it (-1: direct) */
    char *leaf, *temp; /* the target's and the temporary's names in it */
    FILE *f;           /* open while being written */
    struct outfile *volatile next_pending; /* the temporaries a signal removes */
    bool pending;
} outfile;

typedef struct {
    outfile **files;
    int n, cap;
    char *made_dir; /* a folder this set created: removed again if it fails */
} outset;

/* ---- removing temporaries on a signal ---- */

/* The list the handler walks.  A process-directed signal goes to any
 * thread that does not block it -- a BLAS or pool worker while this
 * thread has the signals blocked -- so blocking them here keeps the
 * handler out of this thread only.  A change of the list (creating a
 * temporary and linking it in, or unlinking a node) is therefore also
 * marked by list_busy, and the handler, in whichever thread it runs,
 * first sets dying and waits until no change is under way: either it
 * sees the change and waits for its end, or the change sees dying and
 * never starts (the process is about to die of the signal anyway).
 * Without that, a temporary created just before a signal taken by another
 * thread was left behind (the handler walked a list that lacked it). */
static outfile *volatile pending_head;
static atomic_int list_busy, dying;
static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

static void remove_temps_and_die(int sig)
{
    atomic_store(&dying, 1);
    while (atomic_load(&list_busy)) /* in another thread: this one has no change under way */
        poll(NULL, 0, 1);
    for (outfile *o = pending_head; o; o = o->next_pending)
        unlinkat(o->dirfd, o->temp, 0);
    raise(sig); /* SA_RESETHAND restored the default action: die of it as before */
}

/* Starts a change of the list: the signals blocked in this thread (*old:
 * the mask to restore), the change marked busy.  If a handler already
 * runs in another thread, waits for the process to die. */
static void begin_list_change(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof cleanup_signals / sizeof *cleanup_signals; i++)
        sigaddset(&set, cleanup_signals[i]);
    pthread_sigmask(SIG_BLOCK, &set, old);
    atomic_fetch_add(&list_busy, 1);
    if (atomic_load(&dying)) {
        atomic_fetch_sub(&list_busy, 1);
        for (;;)
            pause();
    }
}

static void end_list_change(const sigset_t *old)
{
    atomic_fetch_sub(&list_busy, 1);
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Installed once, where the signal still has its default action (an
 * ignored one stays ignored).  A file-size limit (ulimit -f) then makes
 * write() fail with EFBIG, reported like a full disk, instead of killing
 * the process with SIGXFSZ half way through. */
static void install_handlers(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    struct sigaction sa = {.sa_handler = remove_temps_and_die, .sa_flags = SA_RESETHAND | SA_NODEFER};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof cleanup_signals / sizeof *cleanup_signals; i++) {
        struct sigaction old;
        if (sigaction(cleanup_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
            !(old.sa_flags & SA_SIGINFO))
            sigaction(cleanup_signals[i], &sa, NULL);
    }
    struct sigaction old, ign = {.sa_handler = SIG_IGN};
    if (sigaction(SIGXFSZ, NULL, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO))
        sigaction(SIGXFSZ, &ign, NULL);
}

static void unlist_pending(outfile *o)
{
    if (!o->pending)
        return;
    sigset_t old;
    begin_list_change(&old);
    outfile *volatile *p = &pending_head;
    while (*p && *p != o)
        p = &(*p)->next_pending;
    if (*p)
        *p = o->next_pending;
    o->pending = false;
    end_list_change(&old);
}

/* ---- where a path leads ---- */

static tg_status cannot_write(const char *path, int err)
{
    return tg_error(TG_ERESOURCE, "cannot write '%s': %s", path, strerror(err));
}

static char *copy_string(const char *s, size_t n)
{
    char *c = tg_malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = 0;
    }
    return c;
}

/* a link or folder made by you or by root is trusted to lead where you meant */
static bool trusted_owner(uid_t uid)
{
    return uid == geteuid() || uid == 0;
}

/* /dev/stdout and /dev/stderr lead to the file the stream is open on:
 * the stream's descriptor (1 or 2), else -1 */
static int std_stream(const struct stat *st)
{
    struct stat fd;
    for (int i = STDOUT_FILENO; i <= STDERR_FILENO; i++)
        if (fstat(i, &fd) == 0 && fd.st_dev == st->st_dev && fd.st_ino == st->st_ino)
            return i;
    return -1;
}

/* Where writing path leads: *real (a new string) is the path to replace,
 * or, with *direct, the device or pipe to write as it is (*follow: through
 * a trusted link), or *stream, standard output or error (/dev/stdout), to
 * write at its place (-1: none). */
static tg_status resolve(const char *path, char **real, bool *direct, bool *follow, int *stream)
{
    struct stat st;
    *direct = *follow = false;
    *real = NULL;
    *stream = -1;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT)
            return cannot_write(path, errno);
    } else if (S_ISLNK(st.st_mode) && trusted_owner(st.st_uid)) {
        struct stat to;
        if (stat(path, &to) == 0) { /* a dangling link is replaced */
            if (S_ISDIR(to.st_mode))
                return cannot_write(path, EISDIR);
            if (S_ISREG(to.st_mode) && (*stream = std_stream(&to)) < 0) {
                char *r = realpath(path, NULL);
                if (r) { /* else a deleted file seen through /proc: written directly */
                    *real = copy_string(r, strlen(r));
                    free(r);
                    return *real ? TG_OK : TG_ERESOURCE;
                }
            }
            *direct = *follow = true;
        }
    } else if (S_ISDIR(st.st_mode))
        return cannot_write(path, EISDIR);
    else if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
        *direct = true;
    *real = copy_string(path, strlen(path));
    return *real ? TG_OK : TG_ERESOURCE;
}

/* The folder of a file to be written, open, checked against the rules at
 * the top of this file.  path (the file) is for messages. */
static int open_folder(const char *folder, const char *path)
{
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) && lstat(folder, &st) == 0 && S_ISLNK(st.st_mode)) {
        if (!trusted_owner(st.st_uid)) {
            tg_error(TG_ERESOURCE, "refusing to write '%s': the folder '%s' is a symbolic link owned by "
                     "another user (uid %ld), which could lead anywhere", path, folder, (long)st.st_uid);
            return -1;
        }
        fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0) {
        cannot_write(path, errno);
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        cannot_write(path, errno);
        close(fd);
        return -1;
    }
    if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
        tg_error(TG_ERESOURCE, "refusing to write '%s': anyone may write to the folder '%s' and it has "
                 "no sticky bit, so anyone could swap the files in it (chmod +t or o-w)", path, folder);
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- one file ---- */

/* six characters of [A-Za-z0-9] for a temporary's name */
static void random_suffix(char out[7])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static unsigned long counter;
    unsigned char r[6];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long x = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16) ^ (++counter * 2654435761u);
        for (int i = 0; i < 6; i++, x >>= 5)
            r[i] = (unsigned char)x;
    }
    for (int i = 0; i < 6; i++)
        out[i] = alphabet[r[i] % (sizeof alphabet - 1)];
    out[6] = 0;
}

/* ".LEAF.tmp-XXXXXX" made new in the folder, listed for the signals */
static int create_temp(outfile *o)
{
    enum { KEEP = 200 }; /* of the leaf, so that the name stays under NAME_MAX */
    size_t keep = strlen(o->leaf) < KEEP ? strlen(o->leaf) : KEEP;
    if (!(o->temp = tg_malloc(keep + 16)))
        return -1;
    for (int attempt = 0; attempt < 100; attempt++) {
        char suffix[7];
        random_suffix(suffix);
        snprintf(o->temp, keep + 16, ".%.*s.tmp-%s", (int)keep, o->leaf, suffix);
        sigset_t old;
        begin_list_change(&old);
        int fd = openat(o->dirfd, o->temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        int err = errno;
        if (fd >= 0) {
            o->next_pending = pending_head;
            pending_head = o;
            o->pending = true;
        }
        end_list_change(&old);
        if (fd >= 0 || err != EEXIST) {
            errno = err;
            return fd;
        }
    }
    errno = EEXIST;
    return -1;
}

/* The replaced file's permissions where it was yours: as a plain open()
 * of it would keep them. */
static void keep_mode(const outfile *o, int fd)
{
    struct stat st;
    if (fstatat(o->dirfd, o->leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
        st.st_uid == geteuid())
        fchmod(fd, st.st_mode & 0777);
}

/* The folder and the name in it of a path to replace; "" and "a/" have
 * no name. */
static tg_status split_path(outfile *o, const char *path, const char *real, char **folder)
{
    const char *slash = strrchr(real, '/'), *leaf = slash ? slash + 1 : real;
    if (!*leaf)
        return cannot_write(path, *real ? EISDIR : ENOENT);
    size_t flen = slash ? (size_t)(slash - real) : 0;
    while (flen > 1 && real[flen - 1] == '/') /* "a//b": the folder "a", never "a/" (which follows a link) */
        flen--;
    *folder = slash ? copy_string(flen ? real : "/", flen ? flen : 1) : copy_string(".", 1);
    o->leaf = copy_string(leaf, strlen(leaf));
    return *folder && o->leaf ? TG_OK : TG_ERESOURCE;
}

/* A file to write for path: o->f is open on a temporary, or on the device
 * itself for a direct one. */
static tg_status open_output(outfile *o, const char *path)
{
    install_handlers();
    o->dirfd = -1;
    if (!(o->shown = copy_string(path, strlen(path))))
        return TG_ERESOURCE;
    char *real, *folder = NULL;
    bool direct, follow;
    int stream;
    if (resolve(path, &real, &direct, &follow, &stream) != TG_OK)
        return tg_errcode();
    int fd = -1;
    tg_status st = TG_OK;
    if (stream >= 0) {
        fflush(stream == STDOUT_FILENO ? stdout : stderr); /* what was printed comes first */
        if ((fd = dup(stream)) < 0)
            st = cannot_write(path, errno);
    } else if (direct) {
        if ((fd = open(real, O_WRONLY | O_NOCTTY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW))) < 0)
            st = cannot_write(path, errno);
    } else if ((st = split_path(o, path, real, &folder)) == TG_OK &&
               (o->dirfd = open_folder(folder, path)) < 0) {
        st = tg_errcode();
    } else if (st == TG_OK) {
        if ((fd = create_temp(o)) < 0)
            st = o->temp ? cannot_write(path, errno) : TG_ERESOURCE;
        else
            keep_mode(o, fd);
    }
    tg_free(folder);
    tg_free(real);
    if (st != TG_OK)
        return st;
    if (!(o->f = fdopen(fd, "wb"))) {
        int err = errno;
        close(fd);
        return cannot_write(path, err);
    }
    return TG_OK;
}

/* The data flushed and synced, the stream closed: a full disk shows here
 * at the latest. */
static tg_status finish_output(outfile *o)
{
    FILE *f = o->f;
    o->f = NULL;
    int err = 0;
    if (fflush(f) != 0 || ferror(f))
        err = errno ? errno : EIO;
    /* a device may not sync (EINVAL): only a file that is kept must */
    if (!err && o->temp && fsync(fileno(f)) != 0)
        err = errno;
    if (fclose(f) != 0 && !err)
        err = errno;
    return err ? cannot_write(o->shown, err) : TG_OK;
}

/* Removes the temporary; the target is as it was. */
static void discard_output(outfile *o)
{
    if (!o)
        return;
    if (o->f)
        fclose(o->f);
    if (o->temp && o->pending)
        unlinkat(o->dirfd, o->temp, 0);
    unlist_pending(o);
    if (o->dirfd >= 0)
        close(o->dirfd);
    tg_free(o->shown);
    tg_free(o->leaf);
    tg_free(o->temp);
    tg_free(o);
}

/* ---- the tensor in a file ---- */

static bool is_npy_path(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && !strcasecmp(path + n - 4, ".npy");
}

/* An error from the writers, restated with the file's name. */
static tg_status in_file(const char *path)
{
    tg_status code = tg_errcode();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tg_errmsg());
    tg_error_clear();
    return tg_error(code, "%s: %s", path, msg);
}

/* .npy or JSON (and a newline) by path's extension */
static tg_status write_tensor(FILE *f, const char *path, const tg_tensor *t)
{
    if (is_npy_path(path))
        return tg_npy_write(f, t) == TG_OK ? TG_OK : in_file(path);
    if (tg_json_write(f, t) != TG_OK)
        return in_file(path);
    if (fputc('\n', f) == EOF)
        return cannot_write(path, errno ? errno : EIO);
    return TG_OK;
}

/* ---- a set of files ---- */

static outset *outset_new(void)
{
    return tg_calloc(1, sizeof(outset));
}

/* a new file of s, not open yet; NULL when out of memory */
static outfile *outset_add(outset *s)
{
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 4;
        outfile **files = tg_realloc(s->files, (size_t)cap * sizeof *files);
        if (!files)
            return NULL;
        s->files = files;
        s->cap = cap;
    }
    outfile *o = tg_calloc(1, sizeof *o);
    if (o)
        s->files[s->n++] = o;
    return o;
}

/* Writes t to a temporary for path, whole and synced; it replaces path at
 * outset_commit. */
static tg_status outset_save(outset *s, const char *path, const tg_tensor *t)
{
    if (!t)
        return tg_errcode() ? tg_errcode() : tg_error(TG_EINPUT, "no tensor to save");
    outfile *o = outset_add(s);
    if (!o)
        return TG_ERESOURCE;
    if (open_output(o, path) != TG_OK)
        return tg_errcode();
    tg_status st = write_tensor(o->f, path, t);
    tg_status fin = finish_output(o);
    return st != TG_OK ? st : fin;
}

static void outset_abort(outset *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        discard_output(s->files[i]);
    if (s->made_dir)
        rmdir(s->made_dir); /* only if it is still empty */
    tg_free(s->made_dir);
    tg_free(s->files);
    tg_free(s);
}

/* Whether rename() can replace o's target: not a folder, and in a folder
 * with the sticky bit (/tmp) only a file of yours or in a folder of yours. */
static tg_status check_replaceable(const outfile *o)
{
    struct stat st, dir;
    if (fstatat(o->dirfd, o->leaf, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return TG_OK; /* nothing there yet */
    if (S_ISDIR(st.st_mode))
        return cannot_write(o->shown, EISDIR);
    uid_t me = geteuid();
    if (fstat(o->dirfd, &dir) == 0 && (dir.st_mode & S_ISVTX) && me != 0 && st.st_uid != me && dir.st_uid != me)
        return tg_error(TG_ERESOURCE, "cannot replace '%s': it belongs to another user (uid %ld) in a "
                        "folder with the sticky bit", o->shown, (long)st.st_uid);
    return TG_OK;
}

/* Renames every temporary over its target, after checking that each can
 * be, then syncs the folders.  Frees s, and on failure removes what was
 * not yet renamed. */
static tg_status outset_commit(outset *s)
{
    tg_status st = TG_OK;
    for (int i = 0; i < s->n && st == TG_OK; i++)
        if (s->files[i]->temp)
            st = check_replaceable(s->files[i]);
    for (int i = 0; i < s->n && st == TG_OK; i++) {
        outfile *o = s->files[i];
        if (!o->temp)
            continue;
        if (renameat(o->dirfd, o->temp, o->dirfd, o->leaf) != 0) {
            st = cannot_write(o->shown, errno);
            break;
        }
        unlist_pending(o); /* renamed: no longer a temporary to remove */
        fsync(o->dirfd);   /* the rename itself on disk; a failure changes nothing now */
    }
    if (st == TG_OK) {
        tg_free(s->made_dir); /* kept */
        s->made_dir = NULL;
    }
    outset_abort(s);
    return st;
}

/* DIR made if missing (and remembered, to be removed again on failure) */
static tg_status outset_make_dir(outset *s, const char *dir)
{
    if (mkdir(dir, 0777) == 0) {
        if ((s->made_dir = copy_string(dir, strlen(dir))))
            return TG_OK;
        rmdir(dir); /* not remembered: outset_abort could not remove it */
        return TG_ERESOURCE;
    }
    if (errno != EEXIST)
        return tg_error(TG_ERESOURCE, "cannot create the directory '%s': %s", dir, strerror(errno));
    return TG_OK;
}

/* ---- the public functions ---- */

tg_status tg_save(const char *path, const tg_tensor *t)
{
    if (!t)
        return tg_errcode() ? tg_errcode() : tg_error(TG_EINPUT, "no tensor to save");
    if (!strcmp(path, "-")) {
        if (tg_json_write(stdout, t) != TG_OK)
            return tg_errcode();
        return putchar('\n') == EOF ? tg_error(TG_ERESOURCE, "cannot write the output: %s", strerror(errno))
                                    : TG_OK;
    }
    outset *s = outset_new();
    if (!s)
        return TG_ERESOURCE;
    if (outset_save(s, path, t) != TG_OK) {
        tg_status st = tg_errcode();
        outset_abort(s);
        return st;
    }
    return outset_commit(s);
}

/* "DIR/LEAF", DIR without its trailing slashes ("/" stays) */
static char *join(const char *dir, const char *leaf)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t len = n + 1 + strlen(leaf) + 1;
    char *p = tg_malloc(len);
    if (p)
        snprintf(p, len, "%.*s%s%s", (int)n, dir, n && dir[n - 1] == '/' ? "" : "/", leaf);
    return p;
}

/* where tg_write_result_files puts the tensors */
typedef struct {
    outset *s;
    const char *value_file, *dir; /* either may be NULL */
} result_files;

/* The path of a tensor of the result (name: NULL for the value), or NULL
 * with *inline_ for one written inline. */
static char *entry_path(const result_files *r, const char *name, bool *inline_)
{
    *inline_ = false;
    if (!name)
        return r->value_file ? copy_string(r->value_file, strlen(r->value_file)) : join(r->dir, "value.npy");
    if (!r->dir) {
        *inline_ = true;
        return NULL;
    }
    size_t len = strlen(name) + 10;
    char *leaf = tg_malloc(len), *path = NULL;
    if (leaf) {
        snprintf(leaf, len, "grad_%s.npy", name);
        path = join(r->dir, leaf);
        tg_free(leaf);
    }
    return path;
}

/* result.c's entry: the tensor saved to its file and named in b, or
 * written inline */
static tg_status file_entry(tg_buf *b, const char *name, const tg_tensor *t, void *ctx)
{
    bool inline_;
    char *path = entry_path(ctx, name, &inline_);
    if (inline_)
        return tg_json_write_buf(b, t);
    if (!path)
        return TG_ERESOURCE;
    tg_status st = outset_save(((result_files *)ctx)->s, path, t);
    if (st == TG_OK)
        tg_buf_json_string(b, path);
    tg_free(path);
    return st;
}

tg_status tg_write_result_files(FILE *f, const char *value_file, const char *dir, const tg_tensor *value,
                                const char *const *names, tg_tensor *const *grads, int n, bool pretty)
{
    if (value_file && !strcmp(value_file, "-"))
        value_file = NULL;
    if (!value_file && !dir)
        return tg_write_result(f, value, names, grads, n, pretty);
    if (!value)
        return tg_errcode() ? tg_errcode() : tg_error(TG_EINPUT, "no tensor to save");
    result_files r = {.s = outset_new(), .value_file = value_file, .dir = dir};
    if (!r.s)
        return TG_ERESOURCE;
    tg_buf b = {0};
    tg_status st = dir ? outset_make_dir(r.s, dir) : TG_OK;
    if (st == TG_OK)
        st = tg_result_grad_with(&b, value, names, grads, n, pretty, NULL, file_entry, &r);
    /* the object out and flushed before any file is renamed into place:
     * if standard output fails, no file has changed */
    if (st == TG_OK)
        st = tg_buf_write(&b, f);
    if (st == TG_OK && (fflush(f) != 0 || ferror(f)))
        st = tg_error(TG_ERESOURCE, "cannot write the output: %s", strerror(errno ? errno : EIO));
    tg_buf_free(&b);
    if (st != TG_OK) {
        outset_abort(r.s);
        return st;
    }
    return outset_commit(r.s);
}

/* ---- sets of files for the other modules (train.c: --save, --log) ---- */

struct tg_fileset {
    outset *s;
};

tg_fileset *tg_fileset_new(const char *dir)
{
    tg_fileset *f = tg_calloc(1, sizeof *f);
    if (f && !(f->s = outset_new())) {
        tg_free(f);
        return NULL;
    }
    if (f && dir && outset_make_dir(f->s, dir) != TG_OK) {
        tg_fileset_abort(f);
        return NULL;
    }
    return f;
}

tg_status tg_fileset_save(tg_fileset *f, const char *path, const tg_tensor *t)
{
    return outset_save(f->s, path, t);
}

FILE *tg_fileset_stream(tg_fileset *f, const char *path)
{
    outset *s = f->s;
    outfile *o = outset_add(s);
    if (!o)
        return NULL;
    return open_output(o, path) == TG_OK ? o->f : NULL;
}

tg_status tg_fileset_text(tg_fileset *f, const char *path, const char *text, size_t len)
{
    FILE *out = tg_fileset_stream(f, path);
    if (!out)
        return tg_errcode();
    if (len && fwrite(text, 1, len, out) != len)
        return cannot_write(path, errno ? errno : EIO);
    return TG_OK;
}

tg_status tg_fileset_commit(tg_fileset *f)
{
    tg_status st = TG_OK;
    for (int i = 0; i < f->s->n; i++) /* the streams still open: flushed, synced, closed */
        if (f->s->files[i]->f) {
            tg_status fin = finish_output(f->s->files[i]);
            st = st != TG_OK ? st : fin;
        }
    if (st != TG_OK) {
        outset_abort(f->s);
        tg_free(f);
        return st;
    }
    st = outset_commit(f->s);
    tg_free(f);
    return st;
}

void tg_fileset_abort(tg_fileset *f)
{
    if (!f)
        return;
    outset_abort(f->s);
    tg_free(f);
}
