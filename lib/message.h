/* Per-context and per-thread failure messages behind clattn_message(). */
#ifndef CLATTN_MESSAGE_H
#define CLATTN_MESSAGE_H

#include "clattn.h"

#if defined(__GNUC__)
#define CLATTN_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLATTN_PRINTF(fmt, args)
#endif

/* Records the message for `ctx` (NULL: this thread's context-less slot) and returns `status`,
 * so that failing paths read `return fail(ctx, CLATTN_ERROR_..., "...", ...);`. */
clattn_status fail(const clattn_context *ctx, clattn_status status, const char *fmt, ...)
    CLATTN_PRINTF(3, 4);

/* Appends to the current message of `ctx` (used to attach a build log of any length). */
void message_append(const clattn_context *ctx, const char *text);

/* Frees a context's message storage (called by clattn_context_destroy). */
void message_release(clattn_context *ctx);

#endif
