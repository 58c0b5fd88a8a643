#include "diag.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int fail_clattn(const clattn_context *ctx, clattn_status status, const char *what)
{
    const char *detail = clattn_message(ctx);
    fprintf(stderr, "attn-bench: %s: %s%s%s\n", what, clattn_status_string(status),
            detail[0] ? ": " : "", detail);
    return BENCH_EXIT_RUNTIME;
}

int fail_cl(cl_int err, const char *call)
{
    /* clattn does not export its table of OpenCL error names; the number is in cl.h. */
    fprintf(stderr, "attn-bench: %s failed with OpenCL error %d\n", call, (int)err);
    return BENCH_EXIT_RUNTIME;
}

int fail_file(const char *path, const char *what)
{
    fprintf(stderr, "attn-bench: cannot %s '%s': %s\n", what, path, strerror(errno));
    return BENCH_EXIT_RUNTIME;
}

int fail_host_memory(void)
{
    fprintf(stderr, "attn-bench: out of host memory\n");
    return BENCH_EXIT_RUNTIME;
}

int fail_usage(const char *message)
{
    fprintf(stderr, "attn-bench: %s\nTry 'attn-bench --help' for more information.\n", message);
    return BENCH_EXIT_USAGE;
}
