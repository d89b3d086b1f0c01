/* test_outfile.c -- the temporaries of lib/io/outfile.c under a signal that
 * another thread takes. */
#include "test.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Set in a child: the openat() below sends the process SIGTERM right after
 * creating a temporary, and waits a little, inside the window where
 * outfile.c has the signals blocked in this thread and has not yet listed
 * the temporary.  The kernel then gives the signal to another thread. */
static volatile int term_after_temp;

/* This definition takes the place of the C library's for the unit tests;
 * it does what the library's does. */
int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    int fd = (int)syscall(SYS_openat, dirfd, path, flags, mode);
    if (fd >= 0 && term_after_temp && strstr(path, ".tmp-")) {
        kill(getpid(), SIGTERM);
        nanosleep(&(struct timespec){.tv_nsec = 200 * 1000 * 1000}, NULL);
    }
    return fd;
}

static void *idle_thread(void *arg)
{
    for (;;)
        pause();
    return arg;
}

/* the names in folder dir other than . and .., "|"-separated */
static void folder_entries(const char *dir, char *out, size_t size)
{
    DIR *d = opendir(dir);
    size_t used = 0;
    out[0] = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            used += (size_t)snprintf(out + used, used < size ? size - used : 0, "%s|", e->d_name);
    if (d)
        closedir(d);
}

TEST(outfile_signal_to_another_thread_while_creating_leaves_no_temporary)
{
    char dir[] = "/tmp/tg_outfile_XXXXXX", path[64], entries[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/keep.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f && fputs("old\n", f) >= 0 && fclose(f) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* as a tool starts, if the runner inherited SIGTERM ignored (an
         * earlier test's tg_save may have installed outfile.c's handler:
         * that one stays) */
        struct sigaction was;
        if (sigaction(SIGTERM, NULL, &was) == 0 && was.sa_handler == SIG_IGN)
            signal(SIGTERM, SIG_DFL);
        sigset_t term;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        pthread_sigmask(SIG_UNBLOCK, &term, NULL);
        pthread_t th; /* takes the signal while the main thread blocks it */
        if (pthread_create(&th, NULL, idle_thread, NULL) != 0)
            _exit(1);
        tg_tensor *t = tg_scalar(1.0, TG_FLOAT32);
        term_after_temp = 1;
        tg_save(path, t);
        _exit(2); /* not reached: the signal kills the process */
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    folder_entries(dir, entries, sizeof entries);
    CHECK(!strcmp(entries, "keep.json|"));
    if (strcmp(entries, "keep.json|"))
        fprintf(stderr, "  left in %s: %s\n", dir, entries);
    /* the file is whole, old or new: the signal is handled in the other
     * thread, which a loaded machine may run only after the main thread's
     * rename */
    f = fopen(path, "r");
    char old[8] = "";
    CHECK(f && fgets(old, sizeof old, f) && (!strcmp(old, "old\n") || !strcmp(old, "1\n")));
    if (f)
        fclose(f);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* --out-dir's object names the files as JSON strings, escaped */
TEST(outfile_result_files_names_escaped)
{
    char dir[] = "/tmp/tg_outfile_XXXXXX", out[64], expect[512], *text = NULL;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(out, sizeof out, "%s/a\"b\\c\td", dir);
    tg_tensor *v = tg_scalar(6, TG_FLOAT32), *g[2] = {tg_scalar(3, TG_FLOAT32), NULL};
    const char *names[2] = {"x", "y"};
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    CHECK(m && tg_write_result_files(m, NULL, out, v, names, g, 2, false) == TG_OK);
    if (m)
        fclose(m);
    snprintf(expect, sizeof expect, "{\"value\":\"%s/a\\\"b\\\\c\\u0009d/value.npy\",\"grad\":{\"x\":"
             "\"%s/a\\\"b\\\\c\\u0009d/grad_x.npy\"}}\n", dir, dir);
    CHECK(text && !strcmp(text, expect));
    if (text && strcmp(text, expect))
        fprintf(stderr, "  got %s  expected %s", text, expect);
    free(text);
    tg_release(v);
    tg_release(g[0]);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}
