#include "launch.h"

#include <stdlib.h>

#include "cl_error.h"
#include "message.h"
#include "program_cache.h"

static void stage_clear(stage_record *s)
{
    for (size_t i = 0; i < s->count; i++)
        clReleaseEvent(s->events[i]);
    s->count = 0;
}

void launch_begin(struct launch_sequence *seq, clattn_plan *plan, cl_command_queue queue,
                  cl_uint num_wait, const cl_event *wait_list)
{
    seq->plan = plan;
    seq->queue = queue;
    seq->num_wait = num_wait;
    seq->wait_list = wait_list;
    seq->pending = NULL;
    seq->pending_count = seq->pending_capacity = 0;
    seq->external_run = 0;
    for (int i = 0; i < plan->stage_count; i++)
        stage_clear(&plan->stages[i]);
}

/* What the next step must wait for: the pending events, or before any step the caller's. */
static void wait_list(const struct launch_sequence *seq, cl_uint *count, const cl_event **list)
{
    *count = seq->pending ? seq->pending_count : seq->num_wait;
    *list = *count ? (seq->pending ? seq->pending : seq->wait_list) : NULL;
}

static void release_pending(struct launch_sequence *seq)
{
    for (cl_uint i = 0; i < seq->pending_count; i++)
        clReleaseEvent(seq->pending[i]);
    seq->pending_count = 0;
}

/* Takes over the reference of `event`: kept for stage timing (one more reference) and as a
 * pending event of this step. Fails only when the host is out of memory. */
static clattn_status record(struct launch_sequence *seq, int stage, cl_event event, int append)
{
    stage_record *s = &seq->plan->stages[stage];
    if (s->count == s->capacity) {
        size_t cap = s->capacity ? 2 * s->capacity : 4;
        cl_event *grown = realloc(s->events, cap * sizeof *grown);
        if (grown) {
            s->events = grown;
            s->capacity = cap;
        }
    }
    if (s->count < s->capacity) {
        clRetainEvent(event);
        s->events[s->count++] = event;
    } /* else: timing loses this event; the computation does not */
    if (!append)
        release_pending(seq);
    if (seq->pending_count == seq->pending_capacity) {
        cl_uint cap = seq->pending_capacity ? 2 * seq->pending_capacity : 4;
        cl_event *grown = realloc(seq->pending, cap * sizeof *grown);
        if (!grown) {
            clWaitForEvents(1, &event); /* keep the order without the list */
            clReleaseEvent(event);
            return fail(seq->plan->ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
        }
        seq->pending = grown;
        seq->pending_capacity = cap;
    }
    seq->pending[seq->pending_count++] = event;
    return CLATTN_SUCCESS;
}

clattn_status launch_kernel(struct launch_sequence *seq, int stage, cl_kernel kernel,
                            cl_uint dims, const size_t *global, const size_t *local,
                            const char *name)
{
    for (cl_uint d = 0; d < dims; d++)
        if (global[d] == 0)
            return CLATTN_SUCCESS; /* an empty launch is no work, not an error */
    cl_uint nwait;
    const cl_event *wait;
    wait_list(seq, &nwait, &wait);
    cl_event event;
    cl_int err = clEnqueueNDRangeKernel(seq->queue, kernel, dims, NULL, global, local, nwait,
                                        wait, &event);
    if (err != CL_SUCCESS) {
        clattn_status st = cl_fail(seq->plan->ctx, "clEnqueueNDRangeKernel", err);
        message_append(seq->plan->ctx, " (kernel ");
        message_append(seq->plan->ctx, name);
        message_append(seq->plan->ctx, ")");
        return st;
    }
    seq->external_run = 0;
    program_used(seq->plan->ctx, kernel);
    return record(seq, stage, event, 0);
}

clattn_status launch_external_begin(struct launch_sequence *seq)
{
    cl_uint nwait;
    const cl_event *wait;
    wait_list(seq, &nwait, &wait);
    seq->external_run = 1;
    if (!nwait)
        return CLATTN_SUCCESS;
    cl_int err = clEnqueueBarrierWithWaitList(seq->queue, nwait, wait, NULL);
    if (err != CL_SUCCESS)
        return cl_fail(seq->plan->ctx, "clEnqueueBarrierWithWaitList", err);
    release_pending(seq); /* the barrier now orders what follows */
    return CLATTN_SUCCESS;
}

clattn_status launch_external_event(struct launch_sequence *seq, int stage, cl_event event)
{
    if (!event)
        return CLATTN_SUCCESS;
    return record(seq, stage, event, seq->external_run);
}

clattn_status launch_end(struct launch_sequence *seq, cl_event *event)
{
    clattn_status st = CLATTN_SUCCESS;
    if (event) {
        *event = NULL;
        if (seq->pending_count == 1) {
            *event = seq->pending[0];
            seq->pending_count = 0;
        } else {
            cl_uint nwait;
            const cl_event *wait;
            wait_list(seq, &nwait, &wait);
            cl_int err = clEnqueueMarkerWithWaitList(seq->queue, nwait, wait, event);
            if (err != CL_SUCCESS)
                st = cl_fail(seq->plan->ctx, "clEnqueueMarkerWithWaitList", err);
        }
    }
    release_pending(seq);
    free(seq->pending);
    seq->pending = NULL;
    return st;
}

void args_begin(kernel_args *a, clattn_context *ctx, cl_kernel kernel)
{
    a->ctx = ctx;
    a->kernel = kernel;
    a->next = 0;
    a->err = CL_SUCCESS;
    a->failed_at = 0;
}

static void set(kernel_args *a, size_t size, const void *value)
{
    cl_int err = clSetKernelArg(a->kernel, a->next, size, value);
    if (err != CL_SUCCESS && a->err == CL_SUCCESS) {
        a->err = err;
        a->failed_at = a->next;
    }
    a->next++;
}

void args_mem(kernel_args *a, cl_mem m) { set(a, sizeof m, &m); }
void args_int(kernel_args *a, cl_int v) { set(a, sizeof v, &v); }
void args_long(kernel_args *a, cl_long v) { set(a, sizeof v, &v); }
void args_ulong(kernel_args *a, cl_ulong v) { set(a, sizeof v, &v); }
void args_float(kernel_args *a, cl_float v) { set(a, sizeof v, &v); }

void args_tensor(kernel_args *a, const clattn_problem *p, clattn_tensor t, cl_mem m,
                 cl_ulong offset)
{
    int64_t s[3];
    problem_strides(p, t, s);
    args_mem(a, m);
    args_ulong(a, offset);
    args_long(a, s[0]);
    args_long(a, s[1]);
    args_long(a, s[2]);
}

void args_kv_layout(kernel_args *a, const clattn_problem *p, const attn_buffers *b)
{
    args_mem(a, b->kv_lens);
    args_ulong(a, b->kv_lens_off);
    args_int(a, b->kv_lens != NULL);
    args_int(a, b->appended);
    args_int(a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_KV));
    args_mem(a, b->pages);
    args_ulong(a, b->pages_off);
    args_int(a, (cl_int)problem_pages_per_seq(p));
    args_int(a, (cl_int)problem_get(p, CLATTN_PARAM_PAGE_SIZE));
    args_int(a, (cl_int)problem_get(p, CLATTN_PARAM_NUM_PAGES));
}

void args_mask(kernel_args *a, const clattn_problem *p, const attn_buffers *b)
{
    int64_t heads = problem_get(p, CLATTN_PARAM_HEADS);
    args_int(a, (cl_int)heads);
    args_int(a, (cl_int)(heads / problem_kv_heads(p)));
    args_int(a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_Q));
    args_int(a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_KV));
    args_int(a, !b->positioned && problem_get(p, CLATTN_PARAM_ALIGN) == CLATTN_ALIGN_BOTTOM_RIGHT);
    args_long(a, b->positioned ? b->pos_shift : 0);
    args_int(a, (cl_int)problem_get(p, CLATTN_PARAM_CAUSAL));
    args_long(a, problem_get(p, CLATTN_PARAM_WINDOW_LEFT));
    args_long(a, problem_get(p, CLATTN_PARAM_WINDOW_RIGHT));
    args_float(a, (cl_float)problem_query_scale(p)); /* base 2: common.cl */
}

void args_alibi(kernel_args *a, const clattn_problem *p, const attn_buffers *b)
{
    if (problem_get(p, CLATTN_PARAM_ALIBI) == CLATTN_ALIBI_NONE)
        return;
    args_mem(a, b->slopes);
    args_ulong(a, b->slopes_off);
}

void args_sinks(kernel_args *a, const clattn_problem *p, const attn_buffers *b)
{
    if (!problem_get(p, CLATTN_PARAM_SINKS))
        return;
    args_mem(a, b->sinks);
    args_ulong(a, b->sinks_off);
}

void args_sink_tokens(kernel_args *a, const clattn_problem *p, const attn_buffers *b)
{
    const int64_t s = problem_get(p, CLATTN_PARAM_SINK_TOKENS);
    if (!s)
        return;
    /* in the call's key indices: S - k_start with positions per call (cl/common.cl) */
    args_long(a, s - (b->positioned ? b->k_start : 0));
}

void args_positions(kernel_args *a, const clattn_problem *p, const attn_buffers *b)
{
    if (problem_get(p, CLATTN_PARAM_POSITIONS) != CLATTN_POSITIONS_PER_ENTRY)
        return;
    args_mem(a, b->q_starts);
    args_ulong(a, b->q_starts_off);
    args_mem(a, b->k_starts);
    args_ulong(a, b->k_starts_off);
}

void args_additive_mask(kernel_args *a, const clattn_problem *p, const attn_buffers *b)
{
    if (problem_get(p, CLATTN_PARAM_MASK) == CLATTN_MASK_NONE)
        return;
    int64_t s[3];
    problem_strides(p, CLATTN_TENSOR_MASK, s);
    args_mem(a, b->mask);
    args_ulong(a, b->mask_off);
    /* a broadcast dimension steps by 0: kernels index with their own entry and head */
    args_long(a, problem_get(p, CLATTN_PARAM_MASK_BATCH) == 1 ? 0 : s[0]);
    args_long(a, s[1]);
    args_long(a, problem_get(p, CLATTN_PARAM_MASK_HEADS) == 1 ? 0 : s[2]);
}

void args_extras(kernel_args *a, const clattn_problem *p, const attn_buffers *b)
{
    args_alibi(a, p, b);
    args_sinks(a, p, b);
    args_sink_tokens(a, p, b);
    args_positions(a, p, b);
    args_additive_mask(a, p, b);
}

void args_in_place(kernel_args *a, const clattn_problem *p, const attn_buffers *b,
                   cl_int split_len, cl_int part_rows, cl_mem part_o, cl_mem part_lse)
{
    args_tensor(a, p, CLATTN_TENSOR_Q, b->q, b->q_off);
    args_tensor(a, p, CLATTN_TENSOR_K, b->k, b->k_off);
    args_tensor(a, p, CLATTN_TENSOR_V, b->v, b->v_off);
    args_tensor(a, p, CLATTN_TENSOR_O, b->o, b->o_off);
    args_mem(a, b->lse);
    args_ulong(a, b->lse_off);
    args_int(a, b->lse != NULL);
    args_mask(a, p, b);
    args_kv_layout(a, p, b);
    args_int(a, split_len);
    args_int(a, part_rows);
    args_mem(a, part_o);
    args_mem(a, part_lse);
    args_extras(a, p, b);
}

clattn_status args_end(kernel_args *a, const char *kernel_name)
{
    if (a->err == CL_SUCCESS)
        return CLATTN_SUCCESS;
    return fail(a->ctx, CLATTN_ERROR_OPENCL, "clSetKernelArg(%s, %u) failed: %s (%d)",
                kernel_name, a->failed_at, cl_error_name(a->err), (int)a->err);
}
