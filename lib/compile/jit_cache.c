/* jit_cache.c -- the folder compiled code is kept in (jit.c), used so that
 * no code but the user's own is ever loaded from it.
 *
 * Objects in the folder are loaded into the process, so whoever can change
 * a file in it, or rename the folder or any folder above it, could have
 * their code run by the user.  The folder is therefore found by walking
 * its path from "/" one component at a time, each opened relative to the
 * one before without following symbolic links, and checked on the open
 * handle, as OpenSSH's StrictModes checks a user's files:
 *   - every folder above it belongs to the user or root and is writable by
 *     no one else, unless sticky (as /tmp: there others cannot rename or
 *     remove what is not theirs);
 *   - a symbolic link on the way is followed only when it belongs to the
 *     user or root (it is then in a folder only they can write, or it is
 *     theirs in a sticky one), and its target is walked the same way;
 *   - the folder itself belongs to the user and is writable by no one else
 *     (it is made with mode 0700 where missing).
 * After that check nothing uses the folder's name again: files are opened,
 * made and renamed relative to its handle, so renaming a folder on the
 * path afterwards only moves the checked folder; nothing is read from or
 * written to whatever was put in its place.  A refused folder is said
 * once on stderr, and the caller runs without generated code. */
#define _GNU_SOURCE
#include "jit_cache.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_LINKS 40 /* symbolic links followed on one path, as the kernel's limit */

uint64_t tg_cache_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

/* ---- warnings ---- */

static bool warned[TG_WARN_COUNT];

void tg_cache_warn(int what, const char *fmt, ...)
{
    if (what < 0 || what >= TG_WARN_COUNT || warned[what])
        return;
    warned[what] = true;
    va_list ap;
    va_start(ap, fmt);
    tg_vwarn(fmt, ap);
    va_end(ap);
}

/* ---- the folder's path ---- */

/* a + b + c, tg_malloc'd (NULL when memory ran out) */
static char *join(const char *a, const char *b, const char *c)
{
    tg_buf t = {0};
    tg_buf_printf(&t, "%s%s%s", a, b, c);
    if (t.failed) {
        tg_free(t.data);
        return NULL;
    }
    return t.data;
}

char *tg_cache_path(void)
{
    const char *env = getenv("TG_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (env && *env == '/')
        return join(env, "", "");
    if (env && *env) { /* relative: to the current folder, as the shell would take it */
        char *cwd = getcwd(NULL, 0);
        char *p = cwd ? join(cwd, "/", env) : NULL;
        free(cwd);
        return p;
    }
    if (xdg && *xdg == '/')
        return join(xdg, "/", "tgrad");
    if (home && *home == '/')
        return join(home, "/", ".cache/tgrad");
    return NULL;
}

/* ---- walking it ---- */

/* why a folder is refused (tg_malloc'd; NULL until then) */
typedef struct {
    char *text;
} reason;

static bool refuse(reason *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool refuse(reason *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = n >= 0 ? tg_malloc((size_t)n + 1) : NULL;
    if (text) {
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
        tg_free(r->text);
        r->text = text;
    }
    tg_error_clear();
    return false;
}

/* May the folder st be trusted: the cache folder itself (last) the user's
 * and writable by no one else; a folder above it the user's or root's and
 * writable by no one else unless sticky?  shown: its path, for the reason. */
static bool trusted(const struct stat *st, bool last, const char *shown, reason *r)
{
    uid_t me = geteuid();
    if (!S_ISDIR(st->st_mode))
        return refuse(r, "%s is not a folder", shown);
    if (st->st_uid != me && (last || st->st_uid != 0))
        return refuse(r, "%s belongs to uid %ld, not to you (uid %ld)%s", shown, (long)st->st_uid, (long)me,
                      last ? "" : " or root");
    if ((st->st_mode & 022) && (last || !(st->st_mode & S_ISVTX)))
        return refuse(r, "%s is writable by %s (mode %04o)", shown, st->st_mode & 020 ? "its group" : "others",
                      (unsigned)(st->st_mode & 07777));
    return true;
}

/* the walk's state: the folder reached (fd) and its path (shown) */
typedef struct {
    int fd;
    tg_buf shown;
} place;

static bool enter(place *p, int fd, const char *name, bool last, reason *r)
{
    struct stat st;
    if (*name)
        tg_buf_printf(&p->shown, "%s%s", p->shown.len > 1 ? "/" : "", name);
    const char *shown = p->shown.failed ? "(a folder)" : p->shown.data;
    if (fstat(fd, &st) != 0) {
        refuse(r, "%s: %s", shown, strerror(errno));
        close(fd);
        return false;
    }
    if (p->fd >= 0)
        close(p->fd);
    p->fd = fd;
    return last || trusted(&st, false, shown, r);
}

static bool enter_root(place *p, bool last, reason *r)
{
    int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return refuse(r, "/: %s", strerror(errno));
    p->shown.len = 0;
    tg_buf_printf(&p->shown, "/");
    return enter(p, fd, "", last, r);
}

/* Follows the symbolic link name in the folder p (trusted): its target
 * replaces it at the front of what is left of the path, *rest. */
static bool follow(place *p, const char *name, const struct stat *ls, char **rest, int *links, reason *r)
{
    const char *shown = p->shown.failed ? "" : p->shown.data;
    if (ls->st_uid != geteuid() && ls->st_uid != 0)
        return refuse(r, "%s%s%s is a symbolic link that belongs to uid %ld, not to you or root", shown,
                      p->shown.len > 1 ? "/" : "", name, (long)ls->st_uid);
    if (++*links > MAX_LINKS)
        return refuse(r, "%s: too many symbolic links", shown);
    /* its size as lstat says, or more where that is short (some file
     * systems say 0) */
    char *target = NULL;
    ssize_t n;
    for (size_t cap = (size_t)ls->st_size + 2;; cap *= 2) {
        tg_free(target);
        target = cap <= ((size_t)1 << 20) ? tg_malloc(cap) : NULL;
        n = target ? readlinkat(p->fd, name, target, cap) : -1;
        if (n < 0 || (size_t)n < cap)
            break;
    }
    if (n <= 0) {
        tg_free(target);
        tg_error_clear();
        return refuse(r, "%s%s%s: the symbolic link cannot be read", shown, p->shown.len > 1 ? "/" : "", name);
    }
    target[n] = 0;
    char *next = join(target, "/", *rest);
    tg_free(target);
    if (!next) {
        tg_error_clear();
        return refuse(r, "out of memory");
    }
    tg_free(*rest);
    *rest = next;
    return true;
}

/* Walks path from "/" (see the top of the file), making missing folders
 * (mode 0700) when make.  Returns the cache folder's descriptor; -1 with
 * the reason; or, without make, -2 where a folder is missing below folders
 * that pass (it would be made, and used). */
static int walk(const char *path, bool make, reason *r)
{
    place p = {-1, {0}};
    char *rest = join(path, "", "");
    int links = 0, result = -1;
    bool ok = rest && enter_root(&p, false, r);
    size_t at = 0;
    while (ok) {
        at += strspn(rest + at, "/");
        if (!rest[at]) { /* the folder itself */
            struct stat st;
            ok = fstat(p.fd, &st) == 0 && trusted(&st, true, p.shown.failed ? path : p.shown.data, r);
            if (ok) {
                result = p.fd;
                p.fd = -1;
            }
            break;
        }
        size_t len = strcspn(rest + at, "/");
        char *name = tg_malloc(len + 1);
        if (!name) {
            ok = refuse(r, "out of memory");
            break;
        }
        memcpy(name, rest + at, len);
        name[len] = 0;
        at += len;
        bool last = !rest[at + strspn(rest + at, "/")];
        if (!strcmp(name, ".")) {
            tg_free(name);
            continue;
        }
        int fd = openat(p.fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && make && (mkdirat(p.fd, name, 0700) == 0 || errno == EEXIST))
            fd = openat(p.fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat ls;
        if (fd >= 0)
            ok = enter(&p, fd, name, last, r);
        else if (errno == ENOENT && !make) {
            result = -2;
            ok = false;
        } else if ((errno == ENOTDIR || errno == ELOOP) && fstatat(p.fd, name, &ls, AT_SYMLINK_NOFOLLOW) == 0 &&
                   S_ISLNK(ls.st_mode)) {
            char *left = join(rest + at, "", "");
            ok = left && follow(&p, name, &ls, &left, &links, r);
            if (ok) {
                tg_free(rest);
                rest = left;
                at = 0;
                if (rest[0] == '/')
                    ok = enter_root(&p, false, r);
            } else
                tg_free(left);
        } else {
            int e = errno;
            const char *shown = p.shown.failed ? "" : p.shown.data;
            ok = refuse(r, "%s%s%s%s%s", shown, p.shown.len > 1 ? "/" : "", name, e == ENOTDIR ? "" : ": ",
                        e == ENOTDIR ? " is not a folder" : strerror(e));
        }
        tg_free(name);
    }
    if (!rest)
        refuse(r, "out of memory");
    tg_error_clear();
    if (p.fd >= 0)
        close(p.fd);
    tg_free(p.shown.data);
    tg_free(rest);
    return result;
}

bool tg_cache_usable(const char *path, char *why, size_t cap)
{
    reason r = {NULL};
    int fd = walk(path, false, &r);
    if (fd >= 0)
        close(fd);
    snprintf(why, cap, "%s", r.text ? r.text : "it cannot be used");
    tg_free(r.text);
    return fd != -1;
}

/* TG_TEST_CACHE_HOOK, a test hook: a shell command run after the folder
 * has been checked and before anything in it is used, which may rename or
 * replace it there (what another user could do at that moment, were a
 * folder above it theirs): the tests show that nothing then goes to, or
 * comes from, whatever took its place. */
static void test_hook(void)
{
    const char *cmd = getenv("TG_TEST_CACHE_HOOK");
    if (!cmd || !*cmd)
        return;
    const char *argv[] = {"sh", "-c", cmd, NULL};
    pid_t pid;
    if (posix_spawn(&pid, "/bin/sh", NULL, NULL, (char *const *)argv, environ) == 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
}

/* the cache folder's handle after walk()'s checks, or -1: make says
 * whether a missing folder is made, warn whether a refusal is said */
static int cache_open(bool make, bool warn)
{
    char *path = tg_cache_path();
    if (!path) {
        tg_error_clear();
        return -1;
    }
    reason r = {NULL};
    int fd = walk(path, make, &r);
    if (fd < 0 && warn)
        tg_cache_warn(TG_WARN_FOLDER, "the compile cache %s is not used: %s (see FILES in tgrad(1)); running "
                      "without generated code", path, r.text ? r.text : "it cannot be used");
    else if (fd >= 0)
        test_hook();
    tg_free(r.text);
    tg_free(path);
    return fd;
}

int tg_cache_open(void) { return cache_open(true, true); }

/* The cache folder when it exists and passes the checks, else -1, with
 * nothing made and nothing said: the default path's look-up of code that
 * --compile made (jit.c's tg_jit_lookup). */
int tg_cache_open_existing(void) { return cache_open(false, false); }

/* ---- files in it ---- */

int tg_cache_tmp_make(int dir, char *name, size_t cap)
{
    for (int tries = 0; tries < 8; tries++) {
        uint64_t rnd;
        if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
            return -1;
        snprintf(name, cap, "tmp-%016" PRIx64, rnd);
        if (mkdirat(dir, name, 0700) != 0) {
            if (errno == EEXIST)
                continue;
            return -1;
        }
        int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == geteuid() && !(st.st_mode & 077))
            return fd;
        if (fd >= 0)
            close(fd);
        unlinkat(dir, name, AT_REMOVEDIR);
        return -1;
    }
    return -1;
}

void tg_cache_tmp_remove(int dir, const char *name, int fd)
{
    int copy = dup(fd);
    DIR *d = copy >= 0 ? fdopendir(copy) : NULL;
    if (!d && copy >= 0)
        close(copy);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            if (unlinkat(fd, e->d_name, 0) != 0 && errno == EISDIR)
                unlinkat(fd, e->d_name, AT_REMOVEDIR);
    if (d)
        closedir(d);
    close(fd);
    unlinkat(dir, name, AT_REMOVEDIR);
}

static bool ours(const struct stat *st)
{
    return S_ISREG(st->st_mode) && st->st_uid == geteuid() && !(st->st_mode & 022);
}

bool tg_cache_read(int dir, const char *name, size_t max, char **data, size_t *len, int *keep)
{
    *data = NULL;
    *len = 0;
    int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return false;
    char *buf = NULL;
    size_t got = 0;
    if (fstat(fd, &st) == 0 && ours(&st) && (uint64_t)st.st_size <= max && (buf = malloc((size_t)st.st_size + 1)))
        while (got < (size_t)st.st_size) {
            ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
    if (!buf || got != (size_t)st.st_size) { /* refused, or changed while read */
        free(buf);
        close(fd);
        return false;
    }
    buf[got] = 0;
    *data = buf;
    *len = got;
    if (keep)
        *keep = fd;
    else
        close(fd);
    return true;
}

bool tg_cache_write(int dir, const char *name, const void *data, size_t len)
{
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, (const char *)data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    return close(fd) == 0 && done == len;
}

bool tg_cache_seal(int dir, const char *name)
{
    int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    bool ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && fchmod(fd, 0600) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* ---- the signals that end a process, held while a compiler runs ---- */

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NSTOP (int)(sizeof stop_signals / sizeof *stop_signals)
static struct sigaction saved[NSTOP];
static bool held[NSTOP];
static volatile sig_atomic_t stop_signal;

static void note_signal(int sig) { stop_signal = sig; }

void tg_cache_hold_signals(void)
{
    stop_signal = 0;
    for (int i = 0; i < NSTOP; i++) {
        struct sigaction sa = {.sa_handler = note_signal};
        sigemptyset(&sa.sa_mask);
        held[i] = sigaction(stop_signals[i], NULL, &saved[i]) == 0 && saved[i].sa_handler != SIG_IGN &&
                  sigaction(stop_signals[i], &sa, NULL) == 0;
    }
}

int tg_cache_stop_signal(void) { return stop_signal; }

void tg_cache_release_signals(void)
{
    for (int i = 0; i < NSTOP; i++)
        if (held[i])
            sigaction(stop_signals[i], &saved[i], NULL);
    int sig = stop_signal;
    stop_signal = 0;
    if (sig)
        raise(sig);
}
