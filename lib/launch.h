/* Enqueueing a plan's kernels as one ordered sequence on the caller's queue: the first waits
 * for the caller's wait list, each later one for everything of the step before it (so
 * out-of-order queues work too), every event is kept for stage timing, and the caller gets
 * one event that completes after all of them. */
#ifndef CLATTN_LAUNCH_H
#define CLATTN_LAUNCH_H

#include "plan.h"

struct launch_sequence {
    clattn_plan *plan;
    cl_command_queue queue;
    cl_uint num_wait;
    const cl_event *wait_list;
    /* The events the next step waits for: the caller's list at first, then the last kernel's
     * event, or every event of a run of external calls. Retained by the sequence. */
    cl_event *pending;
    cl_uint pending_count, pending_capacity;
    int external_run; /* inside launch_external_begin ... further external calls */
};

void launch_begin(struct launch_sequence *seq, clattn_plan *plan, cl_command_queue queue,
                  cl_uint num_wait, const cl_event *wait_list);

/* Enqueues `kernel` (arguments already set) as part of stage `stage`. `local` may be NULL. */
clattn_status launch_kernel(struct launch_sequence *seq, int stage, cl_kernel kernel,
                            cl_uint dims, const size_t *global, const size_t *local,
                            const char *name);

/* For work enqueued by another library (CLBlast) that takes no wait list: a barrier makes
 * the queue wait for the previous step; then each call's event is recorded with
 * launch_external_event, and the next kernel waits for all of them. */
clattn_status launch_external_begin(struct launch_sequence *seq);
clattn_status launch_external_event(struct launch_sequence *seq, int stage, cl_event event);

/* Ends the sequence. With `event`, the caller receives an event that completes after every
 * step (a marker when the last step had several events). Without, everything is released. */
clattn_status launch_end(struct launch_sequence *seq, cl_event *event);

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
/* Where the keys are (cl/common.cl's KV_LAYOUT_PARAMS): lengths and block table. */
void args_kv_layout(kernel_args *a, const clattn_problem *p, const attn_buffers *b);
/* The shape and mask arguments every attention kernel takes after its tensors: heads,
 * group, nq, nk, align_br, pos_shift, causal, window left/right, and the base-2 score scale. */
void args_mask(kernel_args *a, const clattn_problem *p, const attn_buffers *b);
/* The whole argument list of the kernels that read K and V in place (attend_local and
 * decode_registers, declared with cl/common.cl's IN_PLACE_PARAMS): the tensors, LSE, shape
 * and mask, KV layout, and the split of the keys with its partial outputs (one split:
 * split_len = seq_kv, no partial buffers). */
/* The slopes (with ALiBi), the sinks (with sinks), the end of the sink tokens (with sink
 * tokens), the starts (with positions per entry) and the additive mask (with a mask) as
 * cl/common.cl's ALIBI_PARAMS, SINK_PARAMS, SINK_TOKEN_PARAMS, POSITION_PARAMS and MASK_PARAMS
 * take them: nothing when the problem has none. args_extras sets them all, in EXTRA_PARAMS'
 * order, after the rest of an attention kernel's arguments; a kernel built with MASK_TILES
 * takes the tile map after them (lib/mask_tiles.h). */
void args_alibi(kernel_args *a, const clattn_problem *p, const attn_buffers *b);
void args_sinks(kernel_args *a, const clattn_problem *p, const attn_buffers *b);
void args_sink_tokens(kernel_args *a, const clattn_problem *p, const attn_buffers *b);
void args_positions(kernel_args *a, const clattn_problem *p, const attn_buffers *b);
void args_additive_mask(kernel_args *a, const clattn_problem *p, const attn_buffers *b);
void args_extras(kernel_args *a, const clattn_problem *p, const attn_buffers *b);
void args_in_place(kernel_args *a, const clattn_problem *p, const attn_buffers *b,
                   cl_int split_len, cl_int part_rows, cl_mem part_o, cl_mem part_lse);
clattn_status args_end(kernel_args *a, const char *kernel_name);

#endif
