#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "clock.h"

/* Lines mode: the least time between two lines. */
#define LINE_INTERVAL_MS 1000.0

void progress_init(struct progress *p, const struct bench_options *opt)
{
    p->enabled = !bench_report_to_stdout(opt);
    p->in_place = isatty(STDERR_FILENO);
    p->width = 0;
    p->last_ms = -LINE_INTERVAL_MS;
}

void progress_show(struct progress *p, const char *format, ...)
{
    if (!p->enabled)
        return;
    const double now = clock_ms();
    if (!p->in_place && now - p->last_ms < LINE_INTERVAL_MS)
        return;
    char text[160];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    if (!p->in_place) {
        fprintf(stderr, "attn-bench: %s...\n", text);
        p->last_ms = now;
        return;
    }
    /* the old line may be longer: pad over it */
    const int width = fprintf(stderr, "\r%s...", text);
    if (width < p->width)
        fprintf(stderr, "%*s", p->width - width, "");
    if (width > p->width)
        p->width = width;
    fflush(stderr);
}

void progress_clear(struct progress *p)
{
    if (p->enabled && p->in_place && p->width > 0)
        fprintf(stderr, "\r%*s\r", p->width, "");
    p->width = 0;
}
