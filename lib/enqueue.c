/* clattn_enqueue: every argument checked against the problem and the device before anything
 * is enqueued, then the plan's algorithm runs as one launch sequence. */
#include "cl_error.h"
#include "launch.h"
#include "message.h"
#include "plan.h"

static const char *const tensor_names[] = {"Q", "K", "V", "O", "LSE"};

static clattn_status check_buffer(clattn_plan *plan, int which, cl_mem mem, size_t offset,
                                  uint64_t span, size_t align, cl_mem_flags *flags)
{
    clattn_context *ctx = plan->ctx;
    if (!mem)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s buffer is NULL", tensor_names[which]);
    if (offset % align)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "%s offset %zu is not a multiple of the element size %zu",
                    tensor_names[which], offset, align);
    size_t size = 0;
    cl_context owner = NULL;
    cl_int err = clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof size, &size, NULL);
    if (!err)
        err = clGetMemObjectInfo(mem, CL_MEM_CONTEXT, sizeof owner, &owner, NULL);
    if (!err)
        err = clGetMemObjectInfo(mem, CL_MEM_FLAGS, sizeof *flags, flags, NULL);
    if (err)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s is not a valid buffer: %s",
                    tensor_names[which], cl_error_name(err));
    if (owner != ctx->cl)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "%s belongs to another OpenCL context than the clattn context's",
                    tensor_names[which]);
    if (offset > size || span > size - offset)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "%s buffer too small: the problem's shape and strides reach %llu bytes past "
                    "offset %zu, the buffer holds %zu",
                    tensor_names[which], (unsigned long long)span, offset, size);
    return CLATTN_SUCCESS;
}

/* O (and LSE) are written while Q, K and V are read: sharing bytes would race. */
static int ranges_overlap(cl_mem a, size_t a_off, uint64_t a_len, cl_mem b, size_t b_off,
                          uint64_t b_len)
{
    return a == b && a_off < b_off + b_len && b_off < a_off + a_len;
}

static clattn_status check_queue(clattn_plan *plan, cl_command_queue queue)
{
    cl_context qctx = NULL;
    cl_device_id qdev = NULL;
    cl_int err = clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof qctx, &qctx, NULL);
    if (!err)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof qdev, &qdev, NULL);
    if (err)
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT, "queue is not valid: %s",
                    cl_error_name(err));
    if (qctx != plan->ctx->cl || qdev != plan->ctx->device)
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "queue is not on the clattn context's OpenCL context and device");
    return CLATTN_SUCCESS;
}

clattn_status clattn_enqueue(clattn_plan *plan, cl_command_queue queue, cl_mem q,
                             size_t q_offset, cl_mem k, size_t k_offset, cl_mem v,
                             size_t v_offset, cl_mem o, size_t o_offset, cl_mem lse,
                             size_t lse_offset, cl_uint num_events, const cl_event *wait_list,
                             cl_event *event)
{
    if (!plan)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_enqueue: plan is NULL");
    clattn_context *ctx = plan->ctx;
    const clattn_problem *p = &plan->problem;
    if ((num_events == 0) != (wait_list == NULL))
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "wait list: num_events is %u but wait_list is %s", num_events,
                    wait_list ? "not NULL" : "NULL");
    clattn_status st;
    if (!queue)
        queue = ctx->queue;
    else if ((st = check_queue(plan, queue)))
        return st;

    const size_t esize = clattn_dtype_size((clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE));
    cl_mem mems[5] = {q, k, v, o, lse};
    size_t offs[5] = {q_offset, k_offset, v_offset, o_offset, lse_offset};
    uint64_t spans[5];
    cl_mem_flags flags[5] = {0, 0, 0, 0, 0};
    for (int t = 0; t < 4; t++)
        spans[t] = problem_tensor_span(p, (clattn_tensor)t);
    spans[4] = (uint64_t)problem_get(p, CLATTN_PARAM_BATCH) *
               (uint64_t)problem_get(p, CLATTN_PARAM_HEADS) *
               (uint64_t)problem_get(p, CLATTN_PARAM_SEQ_Q) * 4;
    for (int t = 0; t < 5; t++) {
        if (t == 4 && !lse)
            continue;
        if ((st = check_buffer(plan, t, mems[t], offs[t], spans[t], t == 4 ? 4 : esize,
                               &flags[t])))
            return st;
    }
    for (int w = 3; w < 5; w++) {
        if (!mems[w])
            continue;
        if (flags[w] & CL_MEM_READ_ONLY)
            return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s buffer is CL_MEM_READ_ONLY",
                        tensor_names[w]);
        for (int r = 0; r < 5; r++)
            if (r != w && mems[r] &&
                ranges_overlap(mems[w], offs[w], spans[w], mems[r], offs[r], spans[r]))
                return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s overlaps %s in the same buffer",
                            tensor_names[w], tensor_names[r]);
    }

    attn_buffers b = {q, k, v, o, lse, q_offset / esize, k_offset / esize, v_offset / esize,
                      o_offset / esize, lse_offset / 4};
    struct launch_sequence seq;
    launch_begin(&seq, plan, queue, num_events, wait_list);
    st = plan->ops->enqueue(plan, &seq, &b);
    /* On failure some kernels may already be enqueued; the caller gets no event for them,
     * but they complete in queue order and touch only the checked buffers. */
    clattn_status end = launch_end(&seq, st ? NULL : event);
    return st ? st : end;
}
