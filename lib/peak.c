/* clattn_measure_peak and clattn_measure: the device's own FMA throughput, copy bandwidth
 * and read bandwidth (cl/peak.cl), the denominators attn-bench divides by. Timed with profiling events; the best of a few runs,
 * since interference only ever makes a run slower. */
#include <stdio.h>
#include <time.h>

#include "cl_error.h"
#include "context.h"
#include "message.h"
#include "program_cache.h"
#include "tile_select.h"

#define PEAK_CHAINS 16

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* Device time from profiling events, unless they are implausible: rusticl 22.3 reports a few
 * nanoseconds for any kernel. The probes run for tens of milliseconds, so the wall clock
 * around them is a fair fallback. */
static clattn_status timed_run(clattn_context *ctx, cl_kernel kernel, size_t global,
                               const size_t *local, double *ms)
{
    cl_event ev;
    const double start_ms = now_ms();
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, kernel, 1, NULL, &global, local, 0, NULL, &ev);
    if (err)
        return cl_fail(ctx, "clEnqueueNDRangeKernel (peak probe)", err);
    program_used(ctx, kernel);
    err = clWaitForEvents(1, &ev);
    cl_ulong start = 0, end = 0;
    if (!err)
        err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof start, &start, NULL);
    if (!err)
        err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
    const double wall_ms = now_ms() - start_ms;
    clReleaseEvent(ev);
    if (err)
        return cl_fail(ctx, "profiling the peak probe", err);
    *ms = (double)(end - start) * 1e-6;
    if (*ms < 0.1 * wall_ms)
        *ms = wall_ms;
    return CLATTN_SUCCESS;
}

static clattn_status measure_fma(clattn_context *ctx, cl_program program, int vw, double *gflops)
{
    const device_limits *l = &ctx->limits;
    cl_kernel kernel;
    clattn_status st = program_kernel(ctx, program, "fma_peak", &kernel);
    if (st)
        return st;
    /* CPU-like devices: one work-item per group, a few per core; others: full groups. */
    int cpu_like = select_shape(l) == CLATTN_SHAPE_REGISTER_BLOCKS;
    size_t local = cpu_like ? 1 : (l->max_work_group_size < 256 ? l->max_work_group_size : 256);
    size_t global = (size_t)l->compute_units * (cpu_like ? 8 : local * 16);
    cl_mem out = clCreateBuffer(ctx->cl, CL_MEM_WRITE_ONLY, global * sizeof(float), NULL, NULL);
    if (!out) {
        clReleaseKernel(kernel);
        return fail(ctx, CLATTN_ERROR_DEVICE_OUT_OF_MEMORY, "peak probe: no memory for results");
    }
    int iterations = 256;
    double best = 0, ms = 0;
    for (int run = 0; run < 8 && !st; run++) {
        cl_float seed = 1.0f;
        cl_int err = clSetKernelArg(kernel, 0, sizeof out, &out);
        err |= clSetKernelArg(kernel, 1, sizeof iterations, &iterations);
        err |= clSetKernelArg(kernel, 2, sizeof seed, &seed);
        if (err) {
            st = fail(ctx, CLATTN_ERROR_OPENCL, "peak probe: clSetKernelArg failed");
            break;
        }
        st = timed_run(ctx, kernel, global, &local, &ms);
        if (st)
            break;
        double flops = 2.0 * PEAK_CHAINS * vw * (double)iterations * (double)global;
        if (ms < 20 && iterations < (1 << 24)) { /* too short to time: grow, not counted */
            iterations *= ms > 0.5 ? (int)(40 / ms) + 1 : 16;
            run--;
            continue;
        }
        if (flops / (ms * 1e6) > best)
            best = flops / (ms * 1e6);
    }
    clReleaseMemObject(out);
    clReleaseKernel(kernel);
    *gflops = best;
    return st;
}

static clattn_status measure_copy(clattn_context *ctx, cl_program program, int vw, double *gbps)
{
    const device_limits *l = &ctx->limits;
    /* Large enough to leave every cache behind, small enough for any device. */
    size_t bytes = (size_t)64 << 20;
    if (bytes > l->max_alloc_size / 2)
        bytes = (size_t)(l->max_alloc_size / 2);
    bytes -= bytes % ((size_t)vw * 4 * 256);
    cl_kernel kernel;
    clattn_status st = program_kernel(ctx, program, "copy_bandwidth", &kernel);
    if (st)
        return st;
    cl_int err;
    cl_mem src = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &err);
    cl_mem dst = err ? NULL : clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (!err) {
        cl_float zero = 0;
        err = clEnqueueFillBuffer(ctx->queue, src, &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
        if (!err)
            err = clEnqueueFillBuffer(ctx->queue, dst, &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
    }
    if (!err)
        err = clSetKernelArg(kernel, 0, sizeof src, &src);
    if (!err)
        err = clSetKernelArg(kernel, 1, sizeof dst, &dst);
    double best = 0;
    if (err)
        st = cl_fail(ctx, "peak probe: preparing the copy", err);
    for (int run = 0; run < 5 && !st; run++) {
        double ms;
        st = timed_run(ctx, kernel, bytes / (4 * (size_t)vw), NULL, &ms);
        if (!st && ms > 0 && run > 0 && 2.0 * (double)bytes / (ms * 1e6) > best) /* run 0 warms */
            best = 2.0 * (double)bytes / (ms * 1e6);
    }
    if (src)
        clReleaseMemObject(src);
    if (dst)
        clReleaseMemObject(dst);
    clReleaseKernel(kernel);
    *gbps = best;
    return st;
}

#define READ_PER_ITEM 64

static clattn_status measure_read(clattn_context *ctx, cl_program program, int vw, double *gbps)
{
    const device_limits *l = &ctx->limits;
    /* four times the copy probe's buffer: past the largest last-level caches of today */
    size_t bytes = (size_t)256 << 20;
    if (bytes > l->max_alloc_size / 2)
        bytes = (size_t)(l->max_alloc_size / 2);
    const size_t per_item_bytes = (size_t)vw * 4 * READ_PER_ITEM;
    bytes -= bytes % (per_item_bytes * 256);
    const size_t items = bytes / per_item_bytes;
    cl_kernel kernel;
    clattn_status st = program_kernel(ctx, program, "read_bandwidth", &kernel);
    if (st)
        return st;
    cl_int err;
    cl_mem src = clCreateBuffer(ctx->cl, CL_MEM_READ_ONLY, bytes, NULL, &err);
    cl_mem out = err ? NULL : clCreateBuffer(ctx->cl, CL_MEM_WRITE_ONLY, items * 4, NULL, &err);
    if (!err) {
        cl_float zero = 0;
        err = clEnqueueFillBuffer(ctx->queue, src, &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
    }
    const cl_int per_item = READ_PER_ITEM;
    if (!err)
        err = clSetKernelArg(kernel, 0, sizeof src, &src);
    if (!err)
        err = clSetKernelArg(kernel, 1, sizeof out, &out);
    /* CPU-like devices stream a run per work-item; GPUs interleave for coalescing */
    const int cpu_like = select_shape(l) == CLATTN_SHAPE_REGISTER_BLOCKS;
    const cl_ulong item_step = cpu_like ? READ_PER_ITEM : 1, read_step = cpu_like ? 1 : items;
    if (!err)
        err = clSetKernelArg(kernel, 2, sizeof per_item, &per_item);
    if (!err)
        err = clSetKernelArg(kernel, 3, sizeof item_step, &item_step);
    if (!err)
        err = clSetKernelArg(kernel, 4, sizeof read_step, &read_step);
    double best = 0;
    if (err)
        st = cl_fail(ctx, "peak probe: preparing the read", err);
    for (int run = 0; run < 5 && !st; run++) {
        double ms;
        st = timed_run(ctx, kernel, items, NULL, &ms);
        if (!st && ms > 0 && run > 0 && (double)bytes / (ms * 1e6) > best) /* run 0 warms */
            best = (double)bytes / (ms * 1e6);
    }
    if (src)
        clReleaseMemObject(src);
    if (out)
        clReleaseMemObject(out);
    clReleaseKernel(kernel);
    *gbps = best;
    return st;
}

/* The probes' program, built for the device's float vector width. */
static clattn_status peak_program(clattn_context *ctx, int *vw, cl_program *program)
{
    int w = (int)(ctx->limits.vector_width > 16 ? 16 : ctx->limits.vector_width);
    while (w & (w - 1))
        w &= w - 1;
    char options[128];
    snprintf(options, sizeof options, "-DDTYPE=0 -DHEAD_DIM=1 -DVW=%d -DPEAK_CHAINS=%d", w,
             PEAK_CHAINS);
    *vw = w;
    return program_get(ctx, "peak", options, program);
}

clattn_status clattn_measure(clattn_context *ctx, clattn_peak what, double *value)
{
    if (!ctx)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_measure: ctx is NULL");
    if (!value)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_measure: value is NULL");
    switch (what) {
    case CLATTN_PEAK_FMA: return clattn_measure_peak(ctx, value, NULL);
    case CLATTN_PEAK_COPY: return clattn_measure_peak(ctx, NULL, value);
    case CLATTN_PEAK_READ: break;
    default: return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_measure: unknown limit %d",
                         (int)what);
    }
    if (ctx->peak_read_gbps == 0) {
        int vw;
        cl_program program;
        double gbps = 0;
        clattn_status st = peak_program(ctx, &vw, &program);
        if (!st)
            st = measure_read(ctx, program, vw, &gbps);
        if (st)
            return st;
        ctx->peak_read_gbps = gbps;
    }
    *value = ctx->peak_read_gbps;
    return CLATTN_SUCCESS;
}

clattn_status clattn_measure_peak(clattn_context *ctx, double *gflops, double *gbps)
{
    if (!ctx)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_measure_peak: ctx is NULL");
    if (ctx->peak_gflops == 0) {
        int vw;
        cl_program program;
        double f = 0, b = 0;
        clattn_status st = peak_program(ctx, &vw, &program);
        if (!st)
            st = measure_fma(ctx, program, vw, &f);
        if (!st)
            st = measure_copy(ctx, program, vw, &b);
        if (st)
            return st;
        ctx->peak_gflops = f;
        ctx->peak_gbps = b;
    }
    if (gflops)
        *gflops = ctx->peak_gflops;
    if (gbps)
        *gbps = ctx->peak_gbps;
    return CLATTN_SUCCESS;
}
