/* clattn_args: one call's tensors by name, device buffers or host arrays, and the per-call
 * positions. The enqueue and the reference both read it. */
#ifndef CLATTN_CALL_ARGS_H
#define CLATTN_CALL_ARGS_H

#include "clattn.h"

#define ARG_LAST CLATTN_ARG_CU_SEQLENS_K

struct clattn_args {
    struct {
        cl_mem buffer;
        size_t offset;
        const void *host;
    } slot[ARG_LAST + 1];
    int64_t q_start, k_start;
    int positions_set;
};

/* Checks that exactly the extension tensors the problem calls for are present (as buffers or
 * as host arrays, as `host` says), and the per-call positions against the problem's lengths.
 * `who` prefixes the message. */
clattn_status call_args_check_extensions(const clattn_problem *p, const clattn_args *args,
                                         int host, const char *who);

#endif
