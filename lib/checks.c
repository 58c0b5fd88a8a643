#include "checks.h"

#include "cl_error.h"
#include "message.h"

clattn_status enqueue_check_common(clattn_plan *plan, cl_command_queue queue,
                                   cl_uint num_events, const cl_event *wait_list)
{
    if ((num_events == 0) != (wait_list == NULL))
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "wait list: num_events is %u but wait_list is %s", num_events,
                    wait_list ? "not NULL" : "NULL");
    if (queue == plan->ctx->queue)
        return CLATTN_SUCCESS;
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

clattn_status enqueue_check_buffer(clattn_plan *plan, const char *name, cl_mem mem,
                                   size_t offset, uint64_t span, size_t align, int writable)
{
    clattn_context *ctx = plan->ctx;
    if (!mem)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s buffer is NULL", name);
    if (offset % align)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "%s offset %zu is not a multiple of the element size %zu", name, offset,
                    align);
    size_t size = 0;
    cl_context owner = NULL;
    cl_mem_flags flags = 0;
    cl_int err = clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof size, &size, NULL);
    if (!err)
        err = clGetMemObjectInfo(mem, CL_MEM_CONTEXT, sizeof owner, &owner, NULL);
    if (!err)
        err = clGetMemObjectInfo(mem, CL_MEM_FLAGS, sizeof flags, &flags, NULL);
    if (err)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s is not a valid buffer: %s", name,
                    cl_error_name(err));
    if (owner != ctx->cl)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "%s belongs to another OpenCL context than the clattn context's", name);
    if (offset > size || span > size - offset)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "%s buffer too small: the problem's shape and strides reach %llu bytes past "
                    "offset %zu, the buffer holds %zu",
                    name, (unsigned long long)span, offset, size);
    if (writable && (flags & CL_MEM_READ_ONLY))
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s buffer is CL_MEM_READ_ONLY", name);
    return CLATTN_SUCCESS;
}

int ranges_overlap(cl_mem a, size_t a_off, uint64_t a_len, cl_mem b, size_t b_off,
                   uint64_t b_len)
{
    return a && a == b && a_off < b_off + b_len && b_off < a_off + a_len;
}
