/* A progress line on stderr such as "[7/28] tiled causal seq 4096...": rewritten in place when
 * stderr is a terminal; otherwise (a log, a pipe) printed as lines of their own, at most one a
 * second, so that a long run shows it is alive without flooding the log. None at all when a
 * report goes to standard output (--json - and the like): that caller reads stdout alone. */
#ifndef ATTN_BENCH_PROGRESS_H
#define ATTN_BENCH_PROGRESS_H

#include "args.h"

struct progress {
    int enabled, in_place, width;
    double last_ms; /* when the last line was printed (lines mode) */
};

void progress_init(struct progress *p, const struct bench_options *opt);

/* Shows the printf-formatted text followed by "...". */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void progress_show(struct progress *p, const char *format, ...);

/* Erases the line in place, so that what the table prints next starts clean. */
void progress_clear(struct progress *p);

#endif
