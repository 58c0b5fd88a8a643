#include "message.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

/* Context-less failures (device listing, context creation, problem setters) have nowhere else
 * to go; a fixed per-thread buffer is enough because they never carry a build log. */
static _Thread_local char thread_message[1024];

static char *vformat(const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return NULL;
    char *text = malloc((size_t)n + 1);
    if (text)
        vsnprintf(text, (size_t)n + 1, fmt, ap);
    return text;
}

static void set_context_message(clattn_context *ctx, char *text)
{
    free(ctx->message);
    ctx->message = text;
}

clattn_status fail(const clattn_context *cctx, clattn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (cctx) {
        /* The message is bookkeeping, not state a caller reasons about: writing it through
         * a const handle keeps "query" functions const for the caller. */
        clattn_context *ctx = (clattn_context *)cctx;
        char *text = vformat(fmt, ap);
        set_context_message(ctx, text);
    } else {
        vsnprintf(thread_message, sizeof thread_message, fmt, ap);
    }
    va_end(ap);
    return status;
}

void message_append(const clattn_context *cctx, const char *text)
{
    if (!cctx) {
        size_t used = strlen(thread_message);
        snprintf(thread_message + used, sizeof thread_message - used, "%s", text);
        return;
    }
    clattn_context *ctx = (clattn_context *)cctx;
    size_t old = ctx->message ? strlen(ctx->message) : 0;
    char *grown = realloc(ctx->message, old + strlen(text) + 1);
    if (!grown)
        return; /* keep the shorter message rather than none */
    memcpy(grown + old, text, strlen(text) + 1);
    ctx->message = grown;
}

void message_release(clattn_context *ctx)
{
    free(ctx->message);
    ctx->message = NULL;
}

const char *clattn_message(const clattn_context *ctx)
{
    if (!ctx)
        return thread_message;
    return ctx->message ? ctx->message : "";
}
