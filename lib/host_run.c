/* clattn_run_host: the blocking convenience around clattn_enqueue, with device buffers kept
 * by the plan across calls (allocating per call costs more than small problems do). */
#include <string.h>

#include "cl_error.h"
#include "message.h"
#include "plan.h"

enum { BUF_Q, BUF_K, BUF_V, BUF_O, BUF_LSE };

static clattn_status ensure(clattn_plan *plan, int which, size_t bytes)
{
    if (plan->host_buffers[which] && plan->host_buffer_bytes[which] >= bytes)
        return CLATTN_SUCCESS;
    if (plan->host_buffers[which])
        clReleaseMemObject(plan->host_buffers[which]);
    plan->host_buffers[which] = NULL;
    plan->host_buffer_bytes[which] = 0;
    if (bytes > plan->ctx->limits.max_alloc_size)
        return fail(plan->ctx, CLATTN_ERROR_DEVICE_OUT_OF_MEMORY,
                    "a %.1f MiB tensor exceeds the device's largest allocation (%.1f MiB)",
                    bytes / 1048576.0, plan->ctx->limits.max_alloc_size / 1048576.0);
    cl_int err;
    plan->host_buffers[which] = clCreateBuffer(plan->ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        plan->host_buffers[which] = NULL;
        return cl_fail(plan->ctx, "clCreateBuffer", err);
    }
    plan->host_buffer_bytes[which] = bytes;
    return CLATTN_SUCCESS;
}

/* True when O's rows tile its span without gaps: then nothing of the caller's array outside
 * O's elements is read back over. */
static int dense(const clattn_problem *p, uint64_t span)
{
    size_t esize = clattn_dtype_size((clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE));
    return span == problem_tensor_elements(p, CLATTN_TENSOR_O) * esize;
}

clattn_status clattn_run_host(clattn_plan *plan, const void *q, const void *k, const void *v,
                              void *o, float *lse)
{
    if (!plan)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_run_host: plan is NULL");
    clattn_context *ctx = plan->ctx;
    const clattn_problem *p = &plan->problem;
    if (!q || !k || !v || !o)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_run_host: NULL tensor");
    const void *inputs[3] = {q, k, v};
    size_t bytes[5];
    for (int t = 0; t < 4; t++)
        bytes[t] = (size_t)problem_tensor_span(p, (clattn_tensor)t);
    bytes[BUF_LSE] = (size_t)(problem_get(p, CLATTN_PARAM_BATCH) * problem_get(p, CLATTN_PARAM_HEADS) *
                              problem_get(p, CLATTN_PARAM_SEQ_Q)) * 4;
    clattn_status st;
    for (int t = 0; t < 5; t++)
        if ((t < 4 || lse) && (st = ensure(plan, t, bytes[t])))
            return st;

    cl_command_queue queue = ctx->queue;
    cl_int err = CL_SUCCESS;
    for (int t = 0; t < 3 && !err; t++)
        err = clEnqueueWriteBuffer(queue, plan->host_buffers[t], CL_FALSE, 0, bytes[t], inputs[t],
                                   0, NULL, NULL);
    /* A strided O has gaps the kernels never write: upload the caller's array so that the
     * read-back returns the gaps unchanged. */
    if (!err && !dense(p, bytes[BUF_O]))
        err = clEnqueueWriteBuffer(queue, plan->host_buffers[BUF_O], CL_FALSE, 0, bytes[BUF_O], o,
                                   0, NULL, NULL);
    if (err)
        return cl_fail(ctx, "clEnqueueWriteBuffer", err);
    st = clattn_enqueue(plan, queue, plan->host_buffers[BUF_Q], 0, plan->host_buffers[BUF_K], 0,
                        plan->host_buffers[BUF_V], 0, plan->host_buffers[BUF_O], 0,
                        lse ? plan->host_buffers[BUF_LSE] : NULL, 0, 0, NULL, NULL);
    if (st) {
        clFinish(queue); /* the uploads read the caller's arrays: finish before returning */
        return st;
    }
    err = clEnqueueReadBuffer(queue, plan->host_buffers[BUF_O], CL_TRUE, 0, bytes[BUF_O], o, 0,
                              NULL, NULL);
    if (!err && lse)
        err = clEnqueueReadBuffer(queue, plan->host_buffers[BUF_LSE], CL_TRUE, 0, bytes[BUF_LSE],
                                  lse, 0, NULL, NULL);
    if (err)
        return cl_fail(ctx, "clEnqueueReadBuffer", err);
    return CLATTN_SUCCESS;
}
