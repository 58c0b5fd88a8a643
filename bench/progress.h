/* A progress line on stderr such as "[7/30] tiled causal seq 4096...", rewritten in place and
 * shown only when stderr is a terminal, so that logs and pipes get none of it. */
#ifndef ATTN_BENCH_PROGRESS_H
#define ATTN_BENCH_PROGRESS_H

struct progress {
    int enabled, width;
};

/* Enabled when stderr is a terminal. */
void progress_init(struct progress *p);

/* Replaces the line with the printf-formatted text followed by "...". */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void progress_show(struct progress *p, const char *format, ...);

/* Erases the line, so that what stdout prints next starts clean. */
void progress_clear(struct progress *p);

#endif
