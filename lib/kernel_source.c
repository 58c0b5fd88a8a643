#include "kernel_source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"

static const char *embedded(const char *name)
{
    for (const struct embedded_kernel *k = embedded_kernels; k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k->source;
    return NULL;
}

static clattn_status read_file(const clattn_context *ctx, const char *dir, const char *name,
                               char **out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.cl", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(ctx, CLATTN_ERROR_BUILD_FAILED,
                    "CLATTN_KERNEL_DIR: cannot open %s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0;
    clattn_status st = CLATTN_SUCCESS;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1))) {
            len = fread(text, 1, (size_t)size, f);
            text[len] = '\0';
        }
    }
    if (!text)
        st = fail(ctx, CLATTN_ERROR_BUILD_FAILED, "CLATTN_KERNEL_DIR: cannot read %s", path);
    fclose(f);
    *out = text;
    return st;
}

static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *text = malloc(la + lb + 2);
    if (text) {
        memcpy(text, a, la);
        text[la] = '\n';
        memcpy(text + la + 1, b, lb + 1);
    }
    return text;
}

clattn_status kernel_source_get(const clattn_context *ctx, const char *family, char **text)
{
    *text = NULL;
    const char *dir = getenv("CLATTN_KERNEL_DIR");
    if (dir && *dir) {
        char *common = NULL, *body = NULL;
        clattn_status st = read_file(ctx, dir, "common", &common);
        if (!st)
            st = read_file(ctx, dir, family, &body);
        if (!st && !(*text = concat(common, body)))
            st = fail(ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
        free(common);
        free(body);
        return st;
    }
    const char *common = embedded("common"), *body = embedded(family);
    if (!common || !body)
        return fail(ctx, CLATTN_ERROR_BUILD_FAILED, "no embedded kernel source '%s'", family);
    if (!(*text = concat(common, body)))
        return fail(ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    return CLATTN_SUCCESS;
}
