/* What one attn-bench invocation holds while it runs: the options, the device, its peak and
 * the rows measured so far. */
#ifndef ATTN_BENCH_SESSION_H
#define ATTN_BENCH_SESSION_H

#include "args.h"
#include "device_info.h"
#include "row.h"
#include "traffic.h"

struct bench_session {
    const struct bench_options *opt;
    const char *command; /* argv joined by spaces */
    clattn_context *ctx;
    cl_command_queue queue; /* the context's own, with profiling enabled */
    struct device_info device;
    struct bench_peak peak;
    struct bench_rows rows;
    int other_check_failed; /* a --check outside the rows failed (decode's cache contents) */
};

/* Appends a measured row and prints it in the table on stdout. Returns 0 or an exit code. */
int session_add_row(struct bench_session *s, const struct bench_row *row);

/* Whether any row ran --check and failed it, or another check did. */
int session_any_check_failed(const struct bench_session *s);

#endif
