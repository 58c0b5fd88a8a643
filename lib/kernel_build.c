#include "kernel_build.h"

#include <stdio.h>

#include "cl_error.h"
#include "mask_tiles.h"
#include "message.h"
#include "tuning.h"

int64_t rows_per_kv_head(const clattn_problem *p)
{
    return problem_get(p, CLATTN_PARAM_SEQ_Q) *
           (problem_get(p, CLATTN_PARAM_HEADS) / problem_kv_heads(p));
}

int64_t row_blocks(const clattn_problem *p, int64_t rows)
{
    return (rows_per_kv_head(p) + rows - 1) / rows;
}

int64_t bkv(const clattn_problem *p)
{
    return problem_get(p, CLATTN_PARAM_BATCH) * problem_kv_heads(p);
}

/* Says which tiles won and why: the model's factors for them and for the best candidate
 * with another row count. */
static void describe_local_tiles(clattn_plan *plan, const device_limits *l, const local_tiles *lt,
                                 const local_tiles *runner_up, int tuned, const char *why,
                                 size_t kernel_limit, size_t multiple)
{
    const clattn_problem *p = &plan->problem;
    const int64_t d = problem_head_dim_v(p); /* the output's columns */
    const int64_t key_groups = lt->bc / lt->tn;
    plan_describe(plan,
                  "kernel shape: local tiles (%s: a work-group shares Q, K and V tiles in "
                  "__local memory; each work-item computes a block of scores and of the output "
                  "in registers)",
                  l->local_mem_is_dedicated ? "the device has dedicated local memory"
                                            : "the device vectorises across work-items");
    plan_describe(plan,
                  "tiles: %d query rows x %d keys per work-group of %d; a work-item holds %d "
                  "rows x %d keys of scores and %d rows x %lld output columns (%s%s%s); %llu "
                  "bytes of __local; the kernel allows groups of %zu and prefers multiples of %zu",
                  lt->br, lt->bc, local_tiles_group(lt), lt->tm, lt->tn, lt->tm,
                  (long long)(((d + 3) / 4 + key_groups - 1) / key_groups * 4),
                  tuned ? "measured by clattn_tune on this device"
                        : "from the device's limits, by the tile model's search",
                  why[0] ? "; " : "", why, (unsigned long long)plan->local_mem_bytes,
                  kernel_limit, multiple);
    char line[512];
    local_tiles_explain(l, p, rows_per_kv_head(p), lt, line, sizeof line);
    plan_describe(plan, "tile model, chosen: %s", line);
    if (runner_up && runner_up->br) {
        local_tiles_explain(l, p, rows_per_kv_head(p), runner_up, line, sizeof line);
        plan_describe(plan, "tile model, best with another row count: %s", line);
    }
}

clattn_status local_kernel_build(clattn_plan *plan, local_tiles *lt, kv_kernel *k)
{
    const clattn_problem *p = &plan->problem;
    /* A copy: a device that does not report its SIMD width learns it from the first build. */
    device_limits l = plan->ctx->limits;
    size_t max_group = l.max_work_group_size;
    size_t kernel_limit = 0, multiple = 1;
    /* tiles clattn_tune measured for this class, when they still fit */
    char why[512];
    const char *text = tuning_lookup(plan->ctx->tuning, &l, p, CLATTN_SHAPE_LOCAL_TILES,
                                     plan->algorithm == CLATTN_ALGO_WINDOWED, why, sizeof why);
    local_tiles measured, runner_up = {0, 0, 0, 0, 0};
    int tuned = text && local_tiles_parse(text, &measured) &&
                local_tiles_complete(&l, p, max_group, &measured);
    /* The kernel is compiled for the tiles chosen; what the compiled kernel reports (its
     * register use limits the group size, its preferred multiple is the SIMD width) decides
     * whether they stand. */
    /* A SIMD width learnt from a build (the device did not report one) is a preference: when
     * no tiles of whole widths fit, the search goes on without it. */
    int learned_simd = 0, simd_optional = 0;
    for (int attempt = 0; attempt < 12; attempt++) {
        int found = tuned && attempt == 0;
        if (found)
            *lt = measured;
        else
            found = select_local_tiles(&l, p, rows_per_kv_head(p), max_group, lt, &runner_up);
        if (!found && learned_simd) {
            l.simd_width = 0;
            learned_simd = 0;
            simd_optional = 1;
            found = select_local_tiles(&l, p, rows_per_kv_head(p), max_group, lt, &runner_up);
        }
        if (!found) {
            const cl_ulong need = local_tiles_min_bytes(&l, p, max_group);
            if (!need)
                return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                            "head_dim %lld and head_dim_v %lld do not fit: no tiles of the "
                            "local-tiles kernel fit the %zu work-items and the registers of '%s'",
                            (long long)problem_get(p, CLATTN_PARAM_HEAD_DIM),
                            (long long)problem_head_dim_v(p), max_group, l.name);
            return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                        "head_dim %lld and head_dim_v %lld do not fit: the smallest tiles of "
                        "the local-tiles kernel that '%s' can run (%zu work-items, SIMD width "
                        "%u) need %llu bytes of local memory, and it offers %llu bytes",
                        (long long)problem_get(p, CLATTN_PARAM_HEAD_DIM),
                        (long long)problem_head_dim_v(p), l.name, max_group, l.simd_width,
                        (unsigned long long)need, (unsigned long long)l.local_mem_size);
        }
        char options[384];
        char extras[128], kv_extras[96], dv[24];
        snprintf(options, sizeof options,
                 "-DDTYPE=%d -DHEAD_DIM=%d%s -DBR=%d -DBC=%d -DTM=%d -DTN=%d%s%s%s%s",
                 (int)problem_get(p, CLATTN_PARAM_DTYPE),
                 (int)problem_get(p, CLATTN_PARAM_HEAD_DIM), problem_dv_option(p, dv, sizeof dv),
                 lt->br, lt->bc, lt->tm, lt->tn,
                 problem_score_options(p, 1, extras, sizeof extras),
                 problem_kv_options(p, kv_extras, sizeof kv_extras), problem_varlen_options(p),
                 mask_tiles_option(p));
        clattn_status st = kv_kernel_build(plan, "tiled_local", "attend_local", options, k);
        if (st)
            return st;
        const cl_kernel kernel = k->kernel;
        cl_int err;
        const cl_ulong kernel_local = kernel_local_mem(&l, plan->ctx->device, kernel, &err);
        if (!err)
            err = clGetKernelWorkGroupInfo(kernel, plan->ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                           sizeof kernel_limit, &kernel_limit, NULL);
        if (!err)
            err = clGetKernelWorkGroupInfo(kernel, plan->ctx->device,
                                           CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                                           sizeof multiple, &multiple, NULL);
        cl_ulong kernel_private = 0;
        if (!err)
            err = clGetKernelWorkGroupInfo(kernel, plan->ctx->device, CL_KERNEL_PRIVATE_MEM_SIZE,
                                           sizeof kernel_private, &kernel_private, NULL);
        if (err)
            return cl_fail(plan->ctx, "clGetKernelWorkGroupInfo", err);
        const size_t group = (size_t)local_tiles_group(lt);
        const cl_ulong device_local = plan->ctx->limits.local_mem_size;
        const int whole_simd = l.simd_width || simd_optional || multiple <= 1 ||
                               group % multiple == 0 || multiple > l.max_work_group_size;
        if (group <= kernel_limit && kernel_local <= device_local && whole_simd) {
            plan->local_mem_bytes = kernel_local ? kernel_local : lt->local_bytes;
            plan->tile_q = lt->br;
            plan->tile_kv = lt->bc;
            plan->work_group_size = (int64_t)group;
            plan->tiles_tuned = tuned && attempt == 0;
            describe_local_tiles(plan, &l, lt, plan->tiles_tuned ? NULL : &runner_up,
                                 plan->tiles_tuned, why, kernel_limit, multiple);
            /* On GPUs private memory is what did not fit the registers: the tile model's
             * register estimate was too low for this compiler (clattn_tune can do better). */
            if (kernel_private && l.local_mem_is_dedicated)
                plan_describe(plan, "the compiled kernel uses %llu bytes of private memory per "
                                    "work-item (on a GPU: registers spilled to memory)",
                              (unsigned long long)kernel_private);
            return CLATTN_SUCCESS;
        }
        kv_kernel_release(k);
        /* search again within what the compiled kernel said */
        if (!whole_simd) {
            l.simd_width = (cl_uint)multiple;
            learned_simd = 1;
        }
        if (group > kernel_limit)
            max_group = kernel_limit < group - 1 ? kernel_limit : group - 1;
        if (kernel_local > device_local) /* it lays out more than the model counts */
            l.local_mem_size = device_local * lt->local_bytes / kernel_local;
    }
    return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED, "no tile size for attend_local fits '%s'",
                l.name);
}
