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

/* Walks from a (sub-)buffer up to the buffer that holds its memory, adding each origin. */
static clattn_status mem_root(clattn_context *ctx, const char *name, cl_mem mem,
                              uint64_t *offset, cl_mem *root)
{
    for (;;) {
        cl_mem parent = NULL;
        size_t origin = 0;
        cl_int err = clGetMemObjectInfo(mem, CL_MEM_ASSOCIATED_MEMOBJECT, sizeof parent, &parent,
                                        NULL);
        if (!err && parent)
            err = clGetMemObjectInfo(mem, CL_MEM_OFFSET, sizeof origin, &origin, NULL);
        if (err)
            return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s is not a valid buffer: %s",
                        name, cl_error_name(err));
        if (!parent) {
            *root = mem;
            return CLATTN_SUCCESS;
        }
        *offset += origin;
        mem = parent;
    }
}

clattn_status enqueue_check_buffer(clattn_plan *plan, const char *name, cl_mem mem,
                                   size_t offset, uint64_t span, size_t align, int writable,
                                   mem_range *range)
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
    range->begin = offset;
    clattn_status st = mem_root(ctx, name, mem, &range->begin, &range->root);
    range->end = range->begin + span;
    return st;
}

/* Whether b's bytes conflict with a's, which are written: any shared byte, except that
 * tensors of one alias class may coincide exactly. */
static int conflicts(const mem_range *a, const mem_range *b, int same_class)
{
    if (!a->root || a->root != b->root || a->begin >= b->end || b->begin >= a->end)
        return 0;
    return !(same_class && a->begin == b->begin && a->end == b->end);
}

clattn_status enqueue_check_overlaps(clattn_plan *plan, int n, const char *const names[],
                                     const mem_range ranges[], const int written[],
                                     const int alias[])
{
    for (int w = 0; w < n; w++) {
        if (!written[w])
            continue;
        for (int r = 0; r < n; r++)
            if (r != w && conflicts(&ranges[w], &ranges[r], alias && alias[w] &&
                                                                alias[w] == alias[r]))
                return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s overlaps %s: a tensor the call writes may share no bytes "
                            "with another of its tensors",
                            names[w], names[r]);
    }
    return CLATTN_SUCCESS;
}
