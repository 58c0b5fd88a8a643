/* attn-bench's exit codes and the one place that words a failure on stderr. Every helper
 * prints one line and returns the exit code, so callers write `return fail_cl(...)`. */
#ifndef ATTN_BENCH_DIAG_H
#define ATTN_BENCH_DIAG_H

#include "clattn.h"

enum bench_exit {
    BENCH_EXIT_OK = 0,
    BENCH_EXIT_CHECK_FAILED = 1,
    BENCH_EXIT_USAGE = 2,
    BENCH_EXIT_RUNTIME = 3
};

/* A clattn call failed: "<what>: <status string>: <clattn_message(ctx)>". Pass the context
 * the call was made on, or NULL for context-less calls. Returns BENCH_EXIT_RUNTIME. */
int fail_clattn(const clattn_context *ctx, clattn_status status, const char *what);

/* An OpenCL call made by attn-bench itself failed. Returns BENCH_EXIT_RUNTIME. */
int fail_cl(cl_int err, const char *call);

/* A file could not be written (errno is read). Returns BENCH_EXIT_RUNTIME. */
int fail_file(const char *path, const char *what);

/* Host memory ran out. Returns BENCH_EXIT_RUNTIME. */
int fail_host_memory(void);

/* A usage error; prints the hint to --help too. Returns BENCH_EXIT_USAGE. */
int fail_usage(const char *message);

#endif
