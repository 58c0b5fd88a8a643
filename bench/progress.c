#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void progress_init(struct progress *p)
{
    p->enabled = isatty(STDERR_FILENO);
    p->width = 0;
}

void progress_show(struct progress *p, const char *format, ...)
{
    if (!p->enabled)
        return;
    char text[160];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
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
    if (p->enabled && p->width > 0)
        fprintf(stderr, "\r%*s\r", p->width, "");
    p->width = 0;
}
