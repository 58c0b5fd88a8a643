#include "context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_dir.h"
#include "cl_error.h"
#include "disk_cache.h"
#include "message.h"
#include "program_cache.h"
#include "tuning.h"

/* A cache directory or tuning file that clattn refuses leaves the context working without it;
 * the note in clattn_message says so (include/clattn.h). */
static void note_refusals(clattn_context *ctx)
{
    char why[512];
    int dir = cache_dir_open(&ctx->cache, 0, why, sizeof why);
    if (dir >= 0)
        close(dir);
    else if (why[0])
        fail(ctx, CLATTN_SUCCESS,
             "kernel cache off: %s; kernels are compiled in every process and no tuning file "
             "is read",
             why);
    if (dir >= 0 && tuning_unread(ctx->tuning)[0])
        fail(ctx, CLATTN_SUCCESS,
             "tuning file not used: %s; tiles follow from the device's limits",
             tuning_unread(ctx->tuning));
}

static clattn_status finish_create(clattn_context *ctx, clattn_context **out)
{
    clattn_status st = device_limits_query(ctx->device, &ctx->limits);
    if (!st)
        st = device_limits_override(&ctx->limits, getenv("CLATTN_DEVICE_LIMITS"));
    if (!st && !ctx->limits.available)
        st = fail(NULL, CLATTN_ERROR_NO_DEVICE, "device '%s' reports that it is not available",
                  ctx->limits.name);
    const int store = !disk_cache_driver_keeps(&ctx->limits);
    if (!st && !(ctx->programs = program_cache_create(ctx->device, store)))
        st = fail(NULL, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    if (!st && !(ctx->tuning = tuning_load(&ctx->limits, &ctx->cache)))
        st = fail(NULL, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    if (st) {
        clattn_context_destroy(ctx);
        return st;
    }
    note_refusals(ctx);
    *out = ctx;
    return CLATTN_SUCCESS;
}

static clattn_status create_queue(clattn_context *ctx)
{
    cl_int err;
    /* Profiling is on so that attn-bench and clattn_plan_stage_time can read device times; on
     * the implementations measured it costs nothing visible per kernel. */
    ctx->queue = clCreateCommandQueue(ctx->cl, ctx->device, CL_QUEUE_PROFILING_ENABLE, &err);
    if (err != CL_SUCCESS)
        return cl_fail(NULL, "clCreateCommandQueue", err);
    return CLATTN_SUCCESS;
}

clattn_status clattn_context_create(int index, clattn_context **out)
{
    if (!out)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_context_create: ctx is NULL");
    *out = NULL;
    clattn_status st;
    if (index < 0 && (st = clattn_device_default(&index)))
        return st;
    cl_platform_id platform;
    cl_device_id device;
    if ((st = clattn_device_get(index, &platform, &device)))
        return st;
    cl_bool available = CL_FALSE;
    clGetDeviceInfo(device, CL_DEVICE_AVAILABLE, sizeof available, &available, NULL);
    if (!available)
        return fail(NULL, CLATTN_ERROR_NO_DEVICE, "OpenCL device %d is not available", index);

    clattn_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return fail(NULL, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    clRetainDevice(device);
    ctx->device = device;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
    cl_int err;
    ctx->cl = clCreateContext(props, 1, &device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        clattn_context_destroy(ctx);
        return cl_fail(NULL, "clCreateContext", err);
    }
    if ((st = create_queue(ctx))) {
        clattn_context_destroy(ctx);
        return st;
    }
    return finish_create(ctx, out);
}

static int context_has_device(cl_context context, cl_device_id device)
{
    size_t size = 0;
    if (clGetContextInfo(context, CL_CONTEXT_DEVICES, 0, NULL, &size) != CL_SUCCESS || !size)
        return 0;
    cl_device_id *devs = malloc(size);
    int found = 0;
    if (devs && clGetContextInfo(context, CL_CONTEXT_DEVICES, size, devs, NULL) == CL_SUCCESS)
        for (size_t i = 0; i < size / sizeof *devs; i++)
            found |= devs[i] == device;
    free(devs);
    return found;
}

clattn_status clattn_context_create_cl(cl_context context, cl_device_id device,
                                       cl_command_queue queue, clattn_context **out)
{
    if (!out)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_context_create_cl: ctx is NULL");
    *out = NULL;
    if (!context || !device)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "clattn_context_create_cl: context and device are required");
    if (!context_has_device(context, device))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "clattn_context_create_cl: the device is not part of the context");
    if (queue) {
        cl_context qctx = NULL;
        cl_device_id qdev = NULL;
        if (clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof qctx, &qctx, NULL) ||
            clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof qdev, &qdev, NULL) ||
            qctx != context || qdev != device)
            return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                        "clattn_context_create_cl: the queue is not on that context and device");
    }
    clattn_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return fail(NULL, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    clRetainContext(context);
    ctx->cl = context;
    clRetainDevice(device);
    ctx->device = device;
    if (queue) {
        clRetainCommandQueue(queue);
        ctx->queue = queue;
    } else {
        clattn_status st = create_queue(ctx);
        if (st) {
            clattn_context_destroy(ctx);
            return st;
        }
    }
    return finish_create(ctx, out);
}

void clattn_context_destroy(clattn_context *ctx)
{
    if (!ctx)
        return;
    program_cache_destroy(ctx->programs, &ctx->cache);
    tuning_free(ctx->tuning);
    free(ctx->cache.dir);
    if (ctx->queue)
        clReleaseCommandQueue(ctx->queue);
    if (ctx->cl)
        clReleaseContext(ctx->cl);
    /* A no-op for root devices, but it keeps the count honest for a caller's sub-device. */
    if (ctx->device)
        clReleaseDevice(ctx->device);
    message_release(ctx);
    free(ctx);
}

clattn_status clattn_context_set_cache(clattn_context *ctx, const char *dir,
                                       clattn_cache_mode mode, uint64_t max_bytes)
{
    if (!ctx)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_context_set_cache: ctx is NULL");
    if (mode != CLATTN_CACHE_READ_WRITE && mode != CLATTN_CACHE_READ_ONLY &&
        mode != CLATTN_CACHE_OFF)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "clattn_context_set_cache: mode %d is no clattn_cache_mode", (int)mode);
    if (mode != CLATTN_CACHE_OFF && dir && dir[0] != '/')
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "clattn_context_set_cache: the directory '%s' is not an absolute path", dir);
    if (program_cache_count(ctx->programs) > 0)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "clattn_context_set_cache: kernels were already built on this context; "
                    "choose the cache before the first plan, tuning or peak measurement");
    struct cache_config config = {NULL, mode, max_bytes};
    if (mode != CLATTN_CACHE_OFF && dir && !(config.dir = strdup(dir)))
        return fail(ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    /* The directory is opened now as it will be (created, when it will be written), so that
     * one clattn would not use is an error here rather than a cache silently off. */
    char why[512];
    int fd = cache_dir_open(&config, mode == CLATTN_CACHE_READ_WRITE, why, sizeof why);
    if (fd >= 0)
        close(fd);
    else if (mode == CLATTN_CACHE_READ_ONLY && config.dir && !why[0])
        snprintf(why, sizeof why, "%s does not exist (read-only, it is not created)", dir);
    struct tuning_table *tuning = why[0] ? NULL : tuning_load(&ctx->limits, &config);
    if (why[0] || !tuning) {
        free(config.dir);
        return why[0] ? fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                             "clattn_context_set_cache: %s", why)
                      : fail(ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    }
    tuning_free(ctx->tuning);
    ctx->tuning = tuning;
    free(ctx->cache.dir);
    ctx->cache = config;
    return CLATTN_SUCCESS;
}

clattn_status clattn_context_get_cl(const clattn_context *ctx, cl_context *context,
                                    cl_device_id *device, cl_command_queue *queue)
{
    if (!ctx)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_context_get_cl: ctx is NULL");
    if (context)
        *context = ctx->cl;
    if (device)
        *device = ctx->device;
    if (queue)
        *queue = ctx->queue;
    return CLATTN_SUCCESS;
}
