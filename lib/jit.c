/* jit.c -- C source to a loaded function, through the system's C compiler,
 * with a cache on disk: what torch.compile's inductor does on the CPU.
 *
 * The object for a source is named by a 64-bit hash of the source, the
 * compiler and its flags, in a folder of the user's own
 * ($TG_CACHE_DIR, else $XDG_CACHE_HOME/tgrad, else ~/.cache/tgrad), so a
 * program is compiled once per machine and later runs only load it.  The
 * folder must belong to the user and be writable by no one else (the
 * objects in it are loaded into the process); it is made with mode 0700.
 * A new object is built under a temporary name and renamed into place, so
 * that processes building the same one at once do not see half of it.
 *
 * TG_JIT=0 turns all of this off; TG_CC names the compiler (default cc).
 * Anything that fails -- no compiler, a folder that cannot be used, a
 * compiler error -- makes tg_jit return NULL, and the caller runs its
 * interpreted path instead. */
#define _GNU_SOURCE
#include "fused.h"
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* seconds a compiler may take, TG_JIT_TIMEOUT or 60 */
static long jit_timeout(void)
{
    const char *e = getenv("TG_JIT_TIMEOUT");
    long t = e && *e ? strtol(e, NULL, 10) : 60;
    return t > 0 && t < 86400 ? t : 60;
}

/* the kernels' floating-point flags (Makefile): IEEE arithmetic, no
 * contraction into fused multiply-adds; and the widest vectors the
 * processor has (the ops that call functions run through the kernels
 * themselves, so the vector width changes no result).  -O2, not the
 * kernels' -O3: the loops are "omp simd", vectorised either way, and -O3
 * takes ten times as long on a large program. */
static const char *const base_flags[] = {"-O2", "-fopenmp-simd", "-fno-math-errno", "-ffp-contract=off",
                                         "-fPIC", "-shared", "-w"};

static const char *arch_flag(void)
{
#if defined(__x86_64__) && !defined(TG_NO_CLONES)
    if (__builtin_cpu_supports("avx512f"))
        return "-mavx512f";
    if (__builtin_cpu_supports("avx2"))
        return "-mavx2";
#endif
    return NULL;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (h ^ 0xff) * 0x100000001b3ULL; /* a separator between parts */
}

/* objects loaded in this process, by hash (and source: no collision) */
#define NLOADED 64
static struct {
    uint64_t key;
    char *symbol, *src;
    void *fn;
} loaded[NLOADED];
static int nloaded;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* The cache folder's path; false when there is none (no HOME) or it is
 * too long. */
static bool cache_path(char *dir, size_t cap)
{
    const char *env = getenv("TG_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (env && *env)
        n = snprintf(dir, cap, "%s", env);
    else if (xdg && *xdg == '/')
        n = snprintf(dir, cap, "%s/tgrad", xdg);
    else if (home && *home == '/')
        n = snprintf(dir, cap, "%s/.cache/tgrad", home);
    else
        return false;
    return n > 0 && (size_t)n < cap - 64;
}

/* The cache folder, made (and its parent) when missing; false when there
 * is none we may use: it must be the user's and writable by no one else. */
static bool cache_dir(char *dir, size_t cap)
{
    if (!cache_path(dir, cap))
        return false;
    if (mkdir(dir, 0700) != 0 && errno == ENOENT) { /* ~/.cache first */
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = 0;
            mkdir(dir, 0700);
            *slash = '/';
        }
        mkdir(dir, 0700);
    }
    struct stat st;
    return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 022);
}

/* the compiler TG_CC names, or cc */
static const char *compiler(void)
{
    const char *cc = getenv("TG_CC");
    return cc && *cc ? cc : "cc";
}

bool tg_jit_enabled(void)
{
    const char *onoff = getenv("TG_JIT");
    return !(onoff && !strcmp(onoff, "0"));
}

/* Is the program cc runnable: a path, or a name found on PATH? */
static bool on_path(const char *cc)
{
    if (strchr(cc, '/'))
        return access(cc, X_OK) == 0;
    const char *path = getenv("PATH");
    char buf[4200];
    for (const char *p = path ? path : ""; *p;) {
        size_t len = strcspn(p, ":");
        if (len && len < 4000) {
            snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, cc);
            if (access(buf, X_OK) == 0)
                return true;
        }
        p += len + (p[len] == ':');
    }
    return false;
}

void tg_jit_describe(tg_jit_info *info)
{
    info->enabled = tg_jit_enabled();
    info->compiler = compiler();
    info->compiler_found = on_path(info->compiler);
    if (!cache_path(info->cache, sizeof info->cache))
        info->cache[0] = 0;
}

static void *load(const char *path, const char *symbol)
{
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
        return NULL;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    void *fn = h ? dlsym(h, symbol) : NULL;
    if (h && !fn)
        dlclose(h);
    return fn;
}

/* a new file of the user's alone holding len bytes of data */
static bool write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
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

/* runs the compiler on src_path to obj_path, its output discarded */
static bool run_compiler(const char *cc, const char *src_path, const char *obj_path, bool cxx)
{
    const char *argv[32];
    int argc = 0;
    argv[argc++] = cc;
    for (size_t i = 0; i < sizeof base_flags / sizeof *base_flags; i++)
        argv[argc++] = base_flags[i];
    if (arch_flag())
        argv[argc++] = arch_flag();
    argv[argc++] = "-o";
    argv[argc++] = obj_path;
    if (cxx) { /* the cuda kernels' host build: C++, whatever the file's name */
        argv[argc++] = "-x";
        argv[argc++] = "c++";
        argv[argc++] = "-std=gnu++17";
    }
    argv[argc++] = src_path;
    argv[argc++] = "-lm";
    argv[argc] = NULL;
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return false;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* in a process group of its own, so that a stopped compiler's children
     * (cc1, as) stop with it */
    posix_spawnattr_t sa;
    if (posix_spawnattr_init(&sa) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return false;
    }
    posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&sa, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, cc, &fa, &sa, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&sa);
    if (rc != 0)
        return false;
    /* a compiler that has not finished in time (a plan of the largest size
     * takes about a second) is stopped: nothing waits forever */
    int status = 0;
    long limit_ms = jit_timeout() * 1000L;
    for (long waited_ms = 0;; waited_ms += 5) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return false;
        if (waited_ms >= limit_ms) {
            kill(-pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return false;
        }
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Is the file at path exactly text?  (An object is loaded only when the
 * source kept next to it is the one asked for: no hash collision, no
 * half-written or stale pair, is ever run.) */
static bool same_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "rbe");
    if (!f)
        return false;
    size_t len = strlen(text), at = 0;
    char buf[4096];
    bool same = true;
    for (size_t got; same && (got = fread(buf, 1, sizeof buf, f)) > 0; at += got)
        same = at + got <= len && !memcmp(buf, text + at, got);
    fclose(f);
    return same && at == len;
}

static void *build(const char *dir, uint64_t key, const char *cc, const char *src, const char *symbol, bool cxx)
{
    char obj[4200], tmp_src[4200], tmp_obj[4200], kept_src[4200];
    snprintf(obj, sizeof obj, "%s/fused-%016" PRIx64 ".so", dir, key);
    snprintf(kept_src, sizeof kept_src, "%s/fused-%016" PRIx64 ".c", dir, key);
    void *fn = same_text(kept_src, src) ? load(obj, symbol) : NULL;
    if (fn)
        return fn;
    long pid = (long)getpid();
    snprintf(tmp_src, sizeof tmp_src, "%s/tmp-%ld-%016" PRIx64 ".c", dir, pid, key);
    snprintf(tmp_obj, sizeof tmp_obj, "%s/tmp-%ld-%016" PRIx64 ".so", dir, pid, key);
    unlink(tmp_src);
    unlink(tmp_obj);
    /* the object first, then its source: a reader checks the source, so it
     * never pairs a new source with an old object */
    if (write_file(tmp_src, src, strlen(src)) && run_compiler(cc, tmp_src, tmp_obj, cxx) && rename(tmp_obj, obj) == 0 &&
        rename(tmp_src, kept_src) == 0)
        fn = load(obj, symbol);
    unlink(tmp_src);
    unlink(tmp_obj);
    return fn;
}

static void *jit(const char *src, const char *symbol, bool cxx)
{
    const char *cc = compiler();
    if (!tg_jit_enabled())
        return NULL;
    uint64_t key = fnv1a(0xcbf29ce484222325ULL, "tgrad-jit-1");
    key = fnv1a(key, cc);
    for (size_t i = 0; i < sizeof base_flags / sizeof *base_flags; i++)
        key = fnv1a(key, base_flags[i]);
    key = fnv1a(key, arch_flag() ? arch_flag() : "");
    key = fnv1a(key, cxx ? "c++" : "c");
    key = fnv1a(key, symbol);
    key = fnv1a(key, src);

    void *fn = NULL;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nloaded && !fn; i++)
        if (loaded[i].key == key && !strcmp(loaded[i].symbol, symbol) && !strcmp(loaded[i].src, src))
            fn = loaded[i].fn;
    char dir[4096];
    bool known = fn != NULL;
    if (!fn && cache_dir(dir, sizeof dir))
        fn = build(dir, key, cc, src, symbol, cxx);
    if (fn && !known && nloaded < NLOADED) {
        char *sym = strdup(symbol), *text = strdup(src);
        if (sym && text)
            loaded[nloaded++] = (typeof(loaded[0])){key, sym, text, fn};
        else {
            free(sym);
            free(text);
        }
    }
    pthread_mutex_unlock(&lock);
    return fn;
}

void *tg_jit(const char *src, const char *symbol) { return jit(src, symbol, false); }

void *tg_jit_cxx(const char *src, const char *symbol) { return jit(src, symbol, true); }

/* ---- machine code made elsewhere (NVRTC's, fused_cuda.c), kept the same way ---- */

/* the hash of a blob's key text, and the two files: KIND-HASH.key, the key
 * text itself (checked before the blob is used), and KIND-HASH.bin */
static bool blob_paths(const char *kind, const char *key, char *keyp, char *binp, size_t cap)
{
    char dir[4096];
    if (!tg_jit_enabled() || !cache_dir(dir, sizeof dir))
        return false;
    uint64_t h = fnv1a(fnv1a(0xcbf29ce484222325ULL, kind), key);
    return snprintf(keyp, cap, "%s/%s-%016" PRIx64 ".key", dir, kind, h) < (int)cap &&
           snprintf(binp, cap, "%s/%s-%016" PRIx64 ".bin", dir, kind, h) < (int)cap;
}

#define BLOB_MAX ((size_t)64 << 20)

bool tg_cache_get(const char *kind, const char *key, void **data, size_t *len)
{
    char keyp[4200], binp[4200];
    *data = NULL;
    *len = 0;
    if (!blob_paths(kind, key, keyp, binp, sizeof keyp) || !same_text(keyp, key))
        return false;
    int fd = open(binp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0)
        return false;
    /* as load(): the user's own file, writable by no one else */
    char *buf = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 022) &&
        st.st_size > 0 && (size_t)st.st_size <= BLOB_MAX && (buf = malloc((size_t)st.st_size))) {
        size_t got = 0;
        while (got < (size_t)st.st_size) {
            ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        if (got == (size_t)st.st_size) {
            *data = buf;
            *len = got;
        } else
            free(buf);
    }
    close(fd);
    return *data != NULL;
}

void tg_cache_put(const char *kind, const char *key, const void *data, size_t len)
{
    char keyp[4200], binp[4200], tkey[4300], tbin[4300];
    if (!blob_paths(kind, key, keyp, binp, sizeof keyp) || len == 0 || len > BLOB_MAX)
        return;
    snprintf(tkey, sizeof tkey, "%s.tmp-%ld", keyp, (long)getpid());
    snprintf(tbin, sizeof tbin, "%s.tmp-%ld", binp, (long)getpid());
    unlink(tkey);
    unlink(tbin);
    /* the blob first, then its key: a reader checks the key, so it never
     * pairs a new key with an old blob */
    if (write_file(tbin, data, len) && write_file(tkey, key, strlen(key)))
        if (rename(tbin, binp) == 0)
            rename(tkey, keyp);
    unlink(tkey);
    unlink(tbin);
}
