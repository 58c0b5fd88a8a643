/* The OpenCL C sources: embedded at build time (tools/embed-kernels.py), or read from
 * $CLATTN_KERNEL_DIR while developing kernels. */
#ifndef CLATTN_KERNEL_SOURCE_H
#define CLATTN_KERNEL_SOURCE_H

#include "clattn.h"

struct embedded_kernel {
    const char *name;
    const char *source;
};

/* Terminated by {NULL, NULL}. */
extern const struct embedded_kernel embedded_kernels[];

/* The text of one program: cl/common.cl followed by cl/<family>.cl, malloc'ed. */
clattn_status kernel_source_get(const clattn_context *ctx, const char *family, char **text);

#endif
