/* progress.h -- progress on standard error for long work (tgrad(1) and
 * tmatmul(1), PROGRESS): --train's steps, --lines's lines, a product or a
 * compilation that takes more than a second.  The library shows nothing
 * until a tool has called tg_progress_setup. */
#ifndef TG_CORE_PROGRESS_H
#define TG_CORE_PROGRESS_H
#include <stdbool.h>
#include <stdio.h>

/* The tool's choice, once, before any work: progress goes to stream
 * (standard error) when it is a terminal, or whatever it is with forced
 * (--progress); each line starts "TOOL: ".  On a terminal the line is
 * rewritten in place ten times a second at most, elsewhere a line a
 * second is written.  TG_PROGRESS_INTERVAL_MS, when set, replaces both
 * pauses (the quiet time before the first line and the time between
 * lines): the tests set 0, a line at every chance. */
void tg_progress_setup(FILE *stream, const char *tool, bool forced);

typedef struct tg_progress {
    FILE *out;          /* NULL: nothing is shown */
    bool tty;           /* a terminal: one line rewritten in place */
    bool open;          /* a line is on the terminal, not ended yet */
    long shown;         /* lines shown */
    double start, next; /* when the work began; when the next line is due */
    double every;       /* seconds between lines */
} tg_progress;

/* A piece of work begins; its first line is due after quiet seconds, so
 * that short work prints nothing. */
void tg_progress_begin(tg_progress *p, double quiet);
/* Is a line due now?  A clock read, cheap enough for the work's loop. */
bool tg_progress_due(const tg_progress *p);
/* Shows "TOOL: TEXT" now (on a terminal in place of the line before);
 * nothing when p->out is NULL. */
void tg_progress_show(tg_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The work ends: a line left open on a terminal is ended, so that what
 * comes next (the result, an error) starts a line of its own. */
void tg_progress_end(tg_progress *p);
/* Seconds since tg_progress_begin. */
double tg_progress_elapsed(const tg_progress *p);

/* One long call that cannot report from inside (a BLAS product): a thread
 * shows "TOOL: WHAT... Ns" after a quiet second, then again every
 * interval, until tg_progress_ticker_stop, which ends with "TOOL: WHAT:
 * done in Ns" when anything was shown.  NULL when progress is not shown
 * (or no thread could be made: the work goes on without). */
typedef struct tg_progress_ticker tg_progress_ticker;
tg_progress_ticker *tg_progress_ticker_start(const char *what);
void tg_progress_ticker_stop(tg_progress_ticker *t); /* NULL is fine */
#endif
