/* clattn_plan_create and the plan's queries: which algorithm, and the bookkeeping shared by
 * all of them (description, stages, scratch allocation). lib/dispatch.c says which algorithm's
 * code sets the plan up. */
#include "plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_error.h"
#include "dispatch.h"
#include "message.h"
#include "tile_select.h"

void plan_describe(clattn_plan *plan, const char *fmt, ...)
{
    va_list ap, copy;
    va_start(ap, fmt);
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    size_t old = plan->description ? strlen(plan->description) : 0;
    char *grown = n < 0 ? NULL : realloc(plan->description, old + (size_t)n + 2);
    if (grown) {
        vsnprintf(grown + old, (size_t)n + 1, fmt, ap);
        grown[old + (size_t)n] = '\n';
        grown[old + (size_t)n + 1] = '\0';
        plan->description = grown;
    }
    va_end(ap);
}

void plan_set_stages(clattn_plan *plan, int count, const char *const *names)
{
    plan->stage_count = count;
    for (int i = 0; i < count; i++)
        plan->stages[i].name = names[i];
}

clattn_status plan_alloc(clattn_plan *plan, size_t bytes, const char *what, cl_mem *out)
{
    const device_limits *l = &plan->ctx->limits;
    if (bytes > l->max_alloc_size)
        return fail(plan->ctx, CLATTN_ERROR_DEVICE_OUT_OF_MEMORY,
                    "%s needs %.1f MiB, more than the device's largest allocation (%.1f MiB)",
                    what, bytes / 1048576.0, l->max_alloc_size / 1048576.0);
    cl_int err;
    *out = clCreateBuffer(plan->ctx->cl, CL_MEM_READ_WRITE, bytes ? bytes : 4, NULL, &err);
    if (err != CL_SUCCESS) {
        *out = NULL;
        clattn_status st = cl_fail(plan->ctx, "clCreateBuffer", err);
        message_append(plan->ctx, " allocating ");
        message_append(plan->ctx, what);
        return st;
    }
    plan->scratch_bytes += bytes;
    return CLATTN_SUCCESS;
}

/* Up to this many query rows per head, a tile of query rows leaves most of a device idle and
 * auto chooses split-KV decoding (FlashAttention's flash-decoding applies it to seq_q 1..16). */
#define DECODE_MAX_ROWS 16

static void choose_algorithm(clattn_plan *plan)
{
    const clattn_problem *p = &plan->problem;
    clattn_algorithm asked = (clattn_algorithm)problem_get(p, CLATTN_PARAM_ALGORITHM);
    if (asked != CLATTN_ALGO_AUTO) {
        plan->algorithm = asked;
        plan_describe(plan, "algorithm: %s (requested)", clattn_algorithm_name(asked));
        return;
    }
    if (problem_get(p, CLATTN_PARAM_SEQ_Q) <= DECODE_MAX_ROWS) {
        plan->algorithm = CLATTN_ALGO_DECODE;
        plan_describe(plan, "algorithm: decode (auto: %lld query rows against %lld keys: the "
                            "keys are split across work-groups and merged by LSE)",
                      (long long)problem_get(p, CLATTN_PARAM_SEQ_Q),
                      (long long)problem_get(p, CLATTN_PARAM_SEQ_KV));
    } else if (problem_window_bounds_work(p)) {
        plan->algorithm = CLATTN_ALGO_WINDOWED;
        plan_describe(plan, "algorithm: windowed (auto: the window (%lld, %lld) bounds each "
                            "row's keys, so only tiles inside it are launched: O(N * W))",
                      (long long)problem_get(p, CLATTN_PARAM_WINDOW_LEFT),
                      (long long)problem_get(p, CLATTN_PARAM_WINDOW_RIGHT));
    } else {
        plan->algorithm = CLATTN_ALGO_TILED;
        plan_describe(plan, "algorithm: tiled (auto: no window bounds the keys; the fused "
                            "kernel never writes the N x N scores to global memory)");
    }
}

static void describe_device(clattn_plan *plan)
{
    const device_limits *l = &plan->ctx->limits;
    plan_describe(plan,
                  "device: %s (%s, driver %s): %u compute units, local memory %s %llu KiB, "
                  "max work-group %zu, float vector width %u%s%s",
                  l->name, l->platform_name, l->driver_version, l->compute_units,
                  l->local_mem_is_dedicated ? "CL_LOCAL" : "CL_GLOBAL",
                  (unsigned long long)(l->local_mem_size / 1024), l->max_work_group_size,
                  l->vector_width, l->simulated[0] ? ", simulated by CLATTN_DEVICE_LIMITS=" : "",
                  l->simulated);
    char quirks[512];
    device_quirks_describe(&l->quirks, quirks, sizeof quirks);
    if (quirks[0])
        plan_describe(plan, "device quirks (lib/device_quirks.h): %s", quirks);
}

void plan_release_impl(clattn_plan *plan, const cl_kernel *kernels, size_t kernel_count,
                       const cl_mem *mems, size_t mem_count)
{
    for (size_t i = 0; i < kernel_count; i++)
        if (kernels[i])
            clReleaseKernel(kernels[i]);
    for (size_t i = 0; i < mem_count; i++)
        if (mems[i])
            clReleaseMemObject(mems[i]);
    free(plan->impl);
    plan->impl = NULL;
}

static void release_stages(clattn_plan *plan)
{
    for (int i = 0; i < PLAN_MAX_STAGES; i++) {
        for (size_t e = 0; e < plan->stages[i].count; e++)
            clReleaseEvent(plan->stages[i].events[e]);
        free(plan->stages[i].events);
    }
}

void clattn_plan_destroy(clattn_plan *plan)
{
    if (!plan)
        return;
    if (plan->ops)
        plan->ops->release(plan);
    if (plan->append)
        clReleaseKernel(plan->append);
    if (plan->merge_pair)
        clReleaseKernel(plan->merge_pair);
    release_stages(plan);
    for (int i = 0; i < 5; i++)
        if (plan->host_buffers[i])
            clReleaseMemObject(plan->host_buffers[i]);
    free(plan->description);
    free(plan);
}

clattn_status clattn_plan_create(clattn_context *ctx, const clattn_problem *problem,
                                 clattn_plan **out)
{
    if (!ctx)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_plan_create: ctx is NULL");
    if (!problem || !out)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_plan_create: NULL argument");
    *out = NULL;
    clattn_status checked = clattn_problem_check(problem);
    if (checked) /* UNSUPPORTED stays UNSUPPORTED: a q4_0 cache with head_dim 40 */
        return fail(ctx, checked, "%s", clattn_message(NULL));
    clattn_plan *plan = calloc(1, sizeof *plan);
    if (!plan)
        return fail(ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    plan->ctx = ctx;
    plan->problem = *problem;
    plan->splits = 1;
    choose_algorithm(plan);
    describe_device(plan);
    clattn_status st = dispatch_setup(plan);
    if (!st && !plan->description)
        st = fail(ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    if (st) {
        clattn_plan_destroy(plan);
        return st;
    }
    *out = plan;
    return CLATTN_SUCCESS;
}

clattn_status clattn_plan_get(const clattn_plan *plan, clattn_plan_info info, int64_t *value)
{
    if (!plan)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_plan_get: plan is NULL");
    if (!value)
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_plan_get: value is NULL");
    switch (info) {
    case CLATTN_PLAN_ALGORITHM: *value = plan->algorithm; break;
    case CLATTN_PLAN_KERNEL_SHAPE: *value = plan->shape; break;
    case CLATTN_PLAN_TILE_Q: *value = plan->tile_q; break;
    case CLATTN_PLAN_TILE_KV: *value = plan->tile_kv; break;
    case CLATTN_PLAN_WORK_GROUP_SIZE: *value = plan->work_group_size; break;
    case CLATTN_PLAN_LOCAL_MEM_BYTES: *value = (int64_t)plan->local_mem_bytes; break;
    case CLATTN_PLAN_SCRATCH_BYTES: *value = (int64_t)plan->scratch_bytes; break;
    case CLATTN_PLAN_CHUNKS: *value = plan->chunks; break;
    case CLATTN_PLAN_USES_CLBLAST: *value = plan->uses_clblast; break;
    case CLATTN_PLAN_SPLITS: *value = plan->splits; break;
    default:
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT, "unknown plan info %d", (int)info);
    }
    return CLATTN_SUCCESS;
}

const char *clattn_plan_describe(const clattn_plan *plan)
{
    return plan && plan->description ? plan->description : "";
}

clattn_status clattn_plan_stage_count(const clattn_plan *plan, int *count)
{
    if (!plan)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_plan_stage_count: plan is NULL");
    if (!count)
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "clattn_plan_stage_count: count is NULL");
    *count = plan->stage_count;
    return CLATTN_SUCCESS;
}

clattn_status clattn_plan_stage_time(const clattn_plan *plan, int stage, const char **name,
                                     double *ms)
{
    if (!plan)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_plan_stage_time: plan is NULL");
    if (stage < 0 || stage >= plan->stage_count)
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "stage %d does not exist: the plan has %d", stage, plan->stage_count);
    const stage_record *s = &plan->stages[stage];
    double total = 0;
    for (size_t i = 0; i < s->count; i++) {
        cl_ulong start = 0, end = 0;
        cl_int err = clGetEventProfilingInfo(s->events[i], CL_PROFILING_COMMAND_START,
                                             sizeof start, &start, NULL);
        if (err == CL_SUCCESS)
            err = clGetEventProfilingInfo(s->events[i], CL_PROFILING_COMMAND_END, sizeof end,
                                          &end, NULL);
        if (err != CL_SUCCESS)
            return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                        "no profiling information for stage '%s': %s (does the queue have "
                        "CL_QUEUE_PROFILING_ENABLE, and has the work completed?)",
                        s->name, cl_error_name(err));
        total += (double)(end - start) * 1e-6;
    }
    if (name)
        *name = s->name;
    if (ms)
        *ms = total;
    return CLATTN_SUCCESS;
}
