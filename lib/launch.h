/* Enqueueing a plan's kernels as one ordered sequence on the caller's queue: the first waits
 * for the caller's wait list, each later one for its predecessor (so out-of-order queues work
 * too), every event is kept for stage timing, and the last one is handed to the caller. */
#ifndef CLATTN_LAUNCH_H
#define CLATTN_LAUNCH_H

#include "plan.h"

struct launch_sequence {
    clattn_plan *plan;
    cl_command_queue queue;
    cl_uint num_wait;
    const cl_event *wait_list;
    cl_event last; /* retained by the sequence */
};

void launch_begin(struct launch_sequence *seq, clattn_plan *plan, cl_command_queue queue,
                  cl_uint num_wait, const cl_event *wait_list);

/* Enqueues `kernel` (arguments already set) as part of stage `stage`. `local` may be NULL. */
clattn_status launch_kernel(struct launch_sequence *seq, int stage, cl_kernel kernel,
                            cl_uint dims, const size_t *global, const size_t *local,
                            const char *name);

/* For work enqueued by another library (CLBlast) that takes no wait list: makes the queue
 * wait for everything before it, then records the event the library returned. */
clattn_status launch_external_begin(struct launch_sequence *seq);
void launch_external_end(struct launch_sequence *seq, int stage, cl_event event);

/* Hands the last event to the caller (or releases it) and ends the sequence. */
void launch_end(struct launch_sequence *seq, cl_event *event);

/* Sets kernel arguments in order; the first failure is reported with the argument index. */
typedef struct kernel_args {
    clattn_context *ctx;
    cl_kernel kernel;
    cl_uint next;
    cl_int err;
    cl_uint failed_at;
} kernel_args;

void args_begin(kernel_args *a, clattn_context *ctx, cl_kernel kernel);
void args_mem(kernel_args *a, cl_mem m);
void args_int(kernel_args *a, cl_int v);
void args_long(kernel_args *a, cl_long v);
void args_ulong(kernel_args *a, cl_ulong v);
void args_float(kernel_args *a, cl_float v);
/* A tensor as the kernels take it: buffer, element offset, batch/seq/head strides. */
void args_tensor(kernel_args *a, const clattn_problem *p, clattn_tensor t, cl_mem m,
                 cl_ulong offset);
clattn_status args_end(kernel_args *a, const char *kernel_name);

#endif
