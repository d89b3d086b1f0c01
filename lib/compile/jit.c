/* jit.c -- C source to a loaded function, through the system's C compiler,
 * with a cache on disk: what torch.compile's inductor does on the CPU.
 *
 * The object for a source is named by a 64-bit hash of the source, the
 * compiler and its flags, in a folder of the user's own (jit_cache.c:
 * $TG_CACHE_DIR, else $XDG_CACHE_HOME/tgrad, else ~/.cache/tgrad, checked
 * as OpenSSH checks a user's files, and used through its handle only), so
 * a program is compiled once per machine and later runs only load it.
 *
 * A new object is compiled in a private folder made in the cache folder
 * (mode 0700, a random name: processes of two containers sharing a cache
 * may have the same PID), checked and made the user's alone (mode 0600,
 * whatever the umask) through its descriptor, loaded from that descriptor,
 * and renamed into place.  Next to it goes its source, whose first line
 * records the object's size and hash: a later run loads an object only
 * when its kept source is the one asked for (no hash collision, no stale
 * pair) and its bytes are the recorded ones (a truncated or damaged object
 * is compiled again, not loaded), and loads what it checked, through the
 * open descriptor, never the name again.  On a noexec mount the checked
 * bytes are loaded from a copy in memory.
 *
 * A compiler runs for at most TG_JIT_TIMEOUT seconds, in a process group
 * of its own, and is stopped, its private folder removed, when the process
 * is interrupted (Ctrl-C) or terminated while it runs; then the signal
 * takes its course.
 *
 * TG_JIT=0 turns all of this off; TG_CC names the compiler (default cc).
 * Anything that fails -- no compiler, a folder that cannot be used, a
 * compiler error -- makes tg_jit return NULL, and the caller runs its
 * interpreted path instead. */
#define _GNU_SOURCE
#include "fused.h"
#include "jit_cache.h"
#include "core/progress.h"
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define OBJECT_MAX ((size_t)256 << 20) /* a kept object larger than this is not one of ours */
#define BLOB_MAX ((size_t)64 << 20)

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
    h = tg_cache_hash(h, s, strlen(s));
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
    info->cache[0] = info->cache_refused[0] = 0;
    info->cache_usable = false;
    char *path = tg_cache_path();
    tg_error_clear();
    if (path && strlen(path) < sizeof info->cache) {
        strcpy(info->cache, path);
        info->cache_usable = tg_cache_usable(path, info->cache_refused, sizeof info->cache_refused);
    }
    tg_free(path);
}

/* ---- loading what was checked ---- */

static char load_error[512]; /* dlopen's last complaint, for the warning */

/* The object open on fd, through /proc/self/fd/N: the file that was opened
 * and checked, whatever its name now leads to.  A descriptor whose name
 * dlopen has taken stays open for good: dlopen knows an object by its
 * name, and a later object on a reused descriptor would get this one. */
static void *dlopen_fd(int fd, const char *symbol)
{
    char name[64];
    snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(load_error, sizeof load_error, "%s", e ? e : "dlopen failed");
        close(fd);
        return NULL;
    }
    void *fn = dlsym(h, symbol);
    if (!fn) {
        snprintf(load_error, sizeof load_error, "%s: no function %s", name, symbol);
        dlclose(h);
    }
    return fn;
}

/* Loads `symbol` of the object open on fd whose bytes (len of them) were
 * checked; where its file cannot be mapped for execution (a noexec mount),
 * from a copy of those bytes in memory.  fd is taken. */
static void *load_checked(int fd, const char *bytes, size_t len, const char *symbol)
{
    void *fn = dlopen_fd(fd, symbol);
    if (fn)
        return fn;
    int copy = memfd_create("tgrad-jit", MFD_CLOEXEC);
    size_t done = 0;
    while (copy >= 0 && done < len) {
        ssize_t w = write(copy, bytes + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    if (copy >= 0 && done == len)
        return dlopen_fd(copy, symbol);
    if (copy >= 0)
        close(copy);
    return NULL;
}

/* ---- the record of an object: its size and hash, then its source ---- */

static void record_line(char *out, size_t cap, size_t size, uint64_t hash)
{
    snprintf(out, cap, "/* tgrad-jit object: %zu bytes, FNV-1a %016" PRIx64 " */\n", size, hash);
}

/* The size and hash of the object the record text (len bytes) is about,
 * when the rest of it is exactly body: *skip, where body starts. */
static bool read_record(const char *text, size_t len, const char *body, size_t *size, uint64_t *hash)
{
    char line[128];
    if (sscanf(text, "/* tgrad-jit object: %zu bytes, FNV-1a %" SCNx64, size, hash) != 2)
        return false;
    record_line(line, sizeof line, *size, *hash);
    size_t n = strlen(line), blen = strlen(body);
    return len == n + blen && !memcmp(text, line, n) && !memcmp(text + n, body, blen);
}

/* Loads the kept object obj whose record is rec when that is about src:
 * NULL when there is none, it is damaged, or it is sound but cannot be
 * loaded here. */
static void *load_kept(int dir, const char *obj, const char *rec, const char *src, const char *symbol)
{
    char *text = NULL, *bytes = NULL;
    size_t len, size, got;
    uint64_t hash;
    int fd = -1;
    void *fn = NULL;
    if (tg_cache_read(dir, rec, strlen(src) + 128, &text, &len, NULL) && read_record(text, len, src, &size, &hash) &&
        tg_cache_read(dir, obj, OBJECT_MAX, &bytes, &got, &fd)) {
        if (got == size && tg_cache_hash(TG_HASH_START, bytes, got) == hash)
            fn = load_checked(fd, bytes, got, symbol);
        else
            close(fd);
    }
    free(text);
    free(bytes);
    return fn;
}

/* ---- compiling ---- */

typedef enum { CC_DONE, CC_FAILED, CC_STOPPED } cc_result;

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits for the compiler pid; stops its whole process group when it takes
 * too long (a plan of the largest size takes about a second) or a signal
 * to end the process came (tg_cache_hold_signals). */
static cc_result wait_compiler(pid_t pid)
{
    int status = 0;
    long long deadline = now_ms() + jit_timeout() * 1000LL;
    tg_progress pr; /* a compilation over a second says so (core/progress.h) */
    tg_progress_begin(&pr, 1.0);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            if (pr.shown)
                tg_progress_show(&pr, "compiled in %.1fs (cached for the next runs)", tg_progress_elapsed(&pr));
            tg_progress_end(&pr);
            return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? CC_DONE : CC_FAILED;
        }
        if (tg_progress_due(&pr))
            tg_progress_show(&pr, "compiling... %.0fs (first run; cached afterwards)", tg_progress_elapsed(&pr));
        bool stop = tg_cache_stop_signal() != 0;
        if ((r < 0 && errno != EINTR) || stop || now_ms() >= deadline) {
            kill(-pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            tg_progress_end(&pr);
            return stop ? CC_STOPPED : CC_FAILED;
        }
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
}

/* Runs the compiler in the private folder tmp: src.c to out.so, its
 * output discarded. */
static cc_result run_compiler(const char *cc, int tmp, bool cxx)
{
    const char *argv[32];
    int argc = 0;
    argv[argc++] = cc;
    for (size_t i = 0; i < sizeof base_flags / sizeof *base_flags; i++)
        argv[argc++] = base_flags[i];
    if (arch_flag())
        argv[argc++] = arch_flag();
    argv[argc++] = "-o";
    argv[argc++] = "out.so";
    if (cxx) { /* the cuda kernels' host build: C++, whatever the file's name */
        argv[argc++] = "-x";
        argv[argc++] = "c++";
        argv[argc++] = "-std=gnu++17";
    }
    argv[argc++] = "src.c";
    argv[argc++] = "-lm";
    argv[argc] = NULL;
    /* a compiler named by a relative path: from here, not from the folder
     * it runs in */
    char *cwd = NULL, *abs_cc = NULL;
    if (cc[0] != '/' && strchr(cc, '/') && (cwd = getcwd(NULL, 0)) && (abs_cc = malloc(strlen(cwd) + strlen(cc) + 2)))
        sprintf(abs_cc, "%s/%s", cwd, cc);
    free(cwd);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t sa;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        free(abs_cc);
        return CC_FAILED;
    }
    if (posix_spawnattr_init(&sa) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        free(abs_cc);
        return CC_FAILED;
    }
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addfchdir_np(&fa, tmp); /* its files' names are relative to its folder */
    /* in a process group of its own, so that the whole of it (cc1, as, ld)
     * can be stopped */
    posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&sa, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, abs_cc ? abs_cc : cc, &fa, &sa, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&sa);
    free(abs_cc);
    return rc == 0 ? wait_compiler(pid) : CC_FAILED;
}

/* Compiles src in a private folder of dir, loads the object made, and
 * keeps it as obj with its record rec; *unloadable when it was made but
 * cannot be loaded here (then it is not kept). */
static void *compile_and_keep(int dir, const char *obj, const char *rec, const char *cc, const char *src,
                              const char *symbol, bool cxx, bool *unloadable)
{
    char tmpname[32];
    void *fn = NULL;
    tg_cache_hold_signals();
    int tmp = tg_cache_tmp_make(dir, tmpname, sizeof tmpname);
    char *bytes = NULL;
    size_t len;
    int fd = -1;
    if (tmp >= 0 && tg_cache_write(tmp, "src.c", src, strlen(src)) && run_compiler(cc, tmp, cxx) == CC_DONE &&
        tg_cache_seal(tmp, "out.so") && tg_cache_read(tmp, "out.so", OBJECT_MAX, &bytes, &len, &fd) && len > 0) {
        char line[128];
        record_line(line, sizeof line, len, tg_cache_hash(TG_HASH_START, bytes, len));
        tg_buf text = {0};
        tg_buf_printf(&text, "%s%s", line, src);
        bool recorded = !text.failed && tg_cache_write(tmp, "record.c", text.data, text.len);
        tg_free(text.data);
        tg_error_clear();
        fn = load_checked(fd, bytes, len, symbol);
        fd = -1;
        *unloadable = !fn;
        /* the object first, then its record (were they paired wrongly, the
         * record's hash would say so) */
        if (fn && recorded && renameat(tmp, "out.so", dir, obj) == 0)
            renameat(tmp, "record.c", dir, rec);
    }
    if (fd >= 0)
        close(fd);
    free(bytes);
    if (tmp >= 0)
        tg_cache_tmp_remove(dir, tmpname, tmp);
    tg_cache_release_signals(); /* a Ctrl-C that came meanwhile takes its course now */
    return fn;
}

static void *build(int dir, uint64_t key, const char *cc, const char *src, const char *symbol, bool cxx,
                   bool may_compile)
{
    char obj[64], rec[64];
    snprintf(obj, sizeof obj, "fused-%016" PRIx64 ".so", key);
    snprintf(rec, sizeof rec, "fused-%016" PRIx64 ".c", key);
    bool unloadable = false;
    void *fn = load_kept(dir, obj, rec, src, symbol);
    /* compiled again also when the kept object is sound but cannot be
     * loaded: another system sharing the cache may have made it */
    if (!fn && may_compile)
        fn = compile_and_keep(dir, obj, rec, cc, src, symbol, cxx, &unloadable);
    if (!fn && unloadable)
        tg_cache_warn(TG_WARN_LOAD, "compiled code in the compile cache cannot be loaded (%s); running without "
                      "generated code", load_error);
    return fn;
}

/* may_compile false: only what is loaded already or kept in an existing
 * cache folder, silently (the default path, tg_jit_lookup) */
static void *jit(const char *src, const char *symbol, bool cxx, bool may_compile)
{
    const char *cc = compiler();
    if (!tg_jit_enabled())
        return NULL;
    uint64_t key = fnv1a(TG_HASH_START, "tgrad-jit-2"); /* 2: objects are recorded with their size and hash */
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
    bool known = fn != NULL;
    int dir = fn ? -1 : may_compile ? tg_cache_open() : tg_cache_open_existing();
    if (dir >= 0) {
        fn = build(dir, key, cc, src, symbol, cxx, may_compile);
        close(dir);
    }
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

void *tg_jit(const char *src, const char *symbol) { return jit(src, symbol, false, true); }

void *tg_jit_lookup(const char *src, const char *symbol) { return jit(src, symbol, false, false); }

void *tg_jit_cxx(const char *src, const char *symbol) { return jit(src, symbol, true, true); }

/* ---- machine code made elsewhere (NVRTC's, fused_cuda.c), kept the same way ---- */

/* A blob is two files: KIND-HASH.key, the key text itself (what the blob
 * was made from and for), and KIND-HASH.bin, a line recording the key's
 * hash and the blob's size and hash, then the blob.  A blob is given back
 * only when both agree with the key asked for and with its bytes. */
static bool blob_names(const char *kind, const char *key, char *keyname, char *binname, size_t cap)
{
    if (!*kind || strspn(kind, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(kind) || strlen(kind) > 32)
        return false;
    uint64_t h = fnv1a(fnv1a(TG_HASH_START, kind), key);
    snprintf(keyname, cap, "%s-%016" PRIx64 ".key", kind, h);
    snprintf(binname, cap, "%s-%016" PRIx64 ".bin", kind, h);
    return true;
}

static void blob_line(char *out, size_t cap, const char *key, size_t size, uint64_t hash)
{
    uint64_t kh = tg_cache_hash(TG_HASH_START, key, strlen(key));
    snprintf(out, cap, "tgrad-cache blob: key FNV-1a %016" PRIx64 ", %zu bytes, FNV-1a %016" PRIx64 "\n", kh, size,
             hash);
}

/* the blob in bin (len bytes), when its line says it is key's and its bytes are those recorded: where it starts */
static const char *blob_check(const char *bin, size_t len, const char *key, size_t *size)
{
    const char *nl = memchr(bin, '\n', len < 256 ? len : 256);
    uint64_t kh, hash;
    char line[256];
    if (!nl || sscanf(bin, "tgrad-cache blob: key FNV-1a %" SCNx64 ", %zu bytes, FNV-1a %" SCNx64, &kh, size, &hash) != 3)
        return NULL;
    blob_line(line, sizeof line, key, *size, hash);
    size_t n = strlen(line);
    if (n != (size_t)(nl - bin) + 1 || memcmp(bin, line, n) || len - n != *size ||
        tg_cache_hash(TG_HASH_START, bin + n, *size) != hash)
        return NULL;
    return bin + n;
}

bool tg_cache_get(const char *kind, const char *key, void **data, size_t *len)
{
    char keyname[64], binname[64];
    *data = NULL;
    *len = 0;
    if (!tg_jit_enabled() || !blob_names(kind, key, keyname, binname, sizeof keyname))
        return false;
    pthread_mutex_lock(&lock);
    int dir = tg_cache_open();
    char *kept = NULL, *bin = NULL;
    size_t klen, blen, size;
    const char *blob;
    if (dir >= 0 && tg_cache_read(dir, keyname, strlen(key) + 1, &kept, &klen, NULL) && klen == strlen(key) &&
        !memcmp(kept, key, klen) && tg_cache_read(dir, binname, BLOB_MAX + 256, &bin, &blen, NULL) &&
        (blob = blob_check(bin, blen, key, &size)) && size > 0 && (*data = malloc(size))) {
        memcpy(*data, blob, size);
        *len = size;
    }
    if (dir >= 0)
        close(dir);
    free(kept);
    free(bin);
    pthread_mutex_unlock(&lock);
    return *data != NULL;
}

void tg_cache_put(const char *kind, const char *key, const void *data, size_t len)
{
    char keyname[64], binname[64], line[256], tmpname[32];
    if (!tg_jit_enabled() || !blob_names(kind, key, keyname, binname, sizeof keyname) || len == 0 || len > BLOB_MAX)
        return;
    blob_line(line, sizeof line, key, len, tg_cache_hash(TG_HASH_START, data, len));
    tg_buf bin = {0};
    tg_buf_add(&bin, line, strlen(line));
    tg_buf_add(&bin, data, len);
    pthread_mutex_lock(&lock);
    int dir = bin.failed ? -1 : tg_cache_open();
    int tmp = dir >= 0 ? tg_cache_tmp_make(dir, tmpname, sizeof tmpname) : -1;
    /* the blob first, then its key (were they paired wrongly, the blob's
     * line would say so) */
    if (tmp >= 0 && tg_cache_write(tmp, "bin", bin.data, bin.len) && tg_cache_write(tmp, "key", key, strlen(key)) &&
        renameat(tmp, "bin", dir, binname) == 0)
        renameat(tmp, "key", dir, keyname);
    if (tmp >= 0)
        tg_cache_tmp_remove(dir, tmpname, tmp);
    if (dir >= 0)
        close(dir);
    pthread_mutex_unlock(&lock);
    tg_free(bin.data);
    tg_error_clear();
}
