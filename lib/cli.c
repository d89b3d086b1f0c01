/* cli.c -- what every tool does alike: report an error as SPEC section 3
 * says (one line "tool: message", and for an expression the line with a
 * caret under the position), parse numbers in options, write output. */
#include "internal.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *cli_src; /* the expression, for carets */

void tg_cli_set_source(const char *src) { cli_src = src; }

int tg_cli_fail(const char *tool)
{
    tg_status st = tg_errcode();
    if (st == TG_OK)
        st = tg_error(TG_EINPUT, "failed");
    int pos = tg_errpos();
    fflush(stdout);
    if (pos >= 0 && cli_src && pos <= (int)strlen(cli_src)) {
        /* the line that holds pos, and a caret under it */
        int start = pos, end = pos;
        while (start > 0 && cli_src[start - 1] != '\n')
            start--;
        while (cli_src[end] && cli_src[end] != '\n')
            end++;
        int col = pos - start;
        const char *line = cli_src + start;
        int len = end - start;
        /* keep long lines readable: show 60 columns around the caret */
        if (len > 72) {
            int from = col > 40 ? col - 40 : 0;
            line += from;
            col -= from;
            len = len - from > 72 ? 72 : len - from;
        }
        fprintf(stderr, "%s: %s (at position %d)\n  %.*s\n  %*s^\n", tool, tg_errmsg(), pos + 1, len,
                line, col, "");
    } else
        fprintf(stderr, "%s: %s\n", tool, tg_errmsg());
    return (int)st;
}

tg_status tg_cli_parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return tg_error(TG_EUSAGE, "%s expects an integer from %ld to %ld, not '%.40s'", opt, lo, hi, s);
    *out = v;
    return TG_OK;
}

tg_status tg_cli_finish_output(void)
{
    if (fflush(stdout) != 0 || ferror(stdout))
        return tg_error(TG_ERESOURCE, "cannot write the output: %s", strerror(errno ? errno : EIO));
    return TG_OK;
}
