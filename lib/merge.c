#include "merge.h"

#include <stdio.h>

#include "checks.h"
#include "cl_error.h"
#include "message.h"
#include "program_cache.h"
#include "tile_select.h"

/* Columns per work-item of merge_splits: whole rows on CPU-like devices, where each
 * work-item is a loop iteration and recomputing a row's weights per column is pure waste;
 * single elements where work-items are threads of a wide machine. */
static int merge_columns(const clattn_plan *plan)
{
    return select_shape(&plan->ctx->limits) == CLATTN_SHAPE_REGISTER_BLOCKS
               ? (int)problem_head_dim_v(&plan->problem)
               : 1;
}

clattn_status merge_build(clattn_plan *plan, const char *name, cl_kernel *kernel)
{
    const clattn_problem *p = &plan->problem;
    char options[128], dv[24];
    /* a packed batch's merge_splits writes each entry's rows at its packed rows (VARLEN) */
    snprintf(options, sizeof options, "-DDTYPE=%d -DHEAD_DIM=%d%s -DMERGE_COLS=%d%s",
             (int)problem_get(p, CLATTN_PARAM_DTYPE), (int)problem_get(p, CLATTN_PARAM_HEAD_DIM),
             problem_dv_option(p, dv, sizeof dv), merge_columns(plan), problem_varlen_options(p));
    cl_program program;
    clattn_status st = program_get(plan->ctx, "merge", options, &program);
    if (!st)
        st = program_kernel(plan->ctx, program, name, kernel);
    return st;
}

static int64_t lse_rows(const clattn_problem *p)
{
    return problem_get(p, CLATTN_PARAM_BATCH) * problem_get(p, CLATTN_PARAM_HEADS) *
           problem_get(p, CLATTN_PARAM_SEQ_Q);
}

clattn_status merge_splits_enqueue(clattn_plan *plan, struct launch_sequence *seq, int stage,
                                   cl_kernel merge, cl_mem part_o, cl_mem part_lse,
                                   const attn_buffers *b)
{
    const clattn_problem *p = &plan->problem;
    int64_t os[3];
    problem_strides(p, CLATTN_TENSOR_O, os);
    kernel_args a;
    args_begin(&a, plan->ctx, merge);
    args_mem(&a, part_o);
    args_mem(&a, part_lse);
    args_int(&a, (cl_int)plan->splits);
    args_int(&a, (cl_int)lse_rows(p));
    args_mem(&a, b->o);
    args_ulong(&a, b->o_off);
    args_long(&a, os[0]);
    args_long(&a, os[1]);
    args_long(&a, os[2]);
    args_mem(&a, b->lse);
    args_ulong(&a, b->lse_off);
    args_int(&a, b->lse != NULL);
    args_int(&a, (cl_int)problem_get(p, CLATTN_PARAM_HEADS));
    args_int(&a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_Q));
    args_varlen(&a, p, b);
    clattn_status st = args_end(&a, "merge_splits");
    if (st)
        return st;
    const int cols = merge_columns(plan);
    size_t global[2] = {(size_t)((problem_head_dim_v(p) + cols - 1) / cols),
                        (size_t)lse_rows(p)};
    return launch_kernel(seq, stage, merge, 2, global, NULL, "merge_splits");
}

clattn_status clattn_enqueue_merge(clattn_plan *plan, cl_command_queue queue, cl_mem o_a,
                                   size_t o_a_offset, cl_mem lse_a, size_t lse_a_offset,
                                   cl_mem o_b, size_t o_b_offset, cl_mem lse_b,
                                   size_t lse_b_offset, cl_mem o, size_t o_offset, cl_mem lse,
                                   size_t lse_offset, cl_uint num_events,
                                   const cl_event *wait_list, cl_event *event)
{
    if (!plan)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_enqueue_merge: plan is NULL");
    clattn_context *ctx = plan->ctx;
    const clattn_problem *p = &plan->problem;
    if (problem_varlen(p)) /* merge_pair walks B x seq_q rows of O by its batch stride */
        return fail(ctx, CLATTN_ERROR_UNSUPPORTED,
                    "clattn_enqueue_merge does not take the results of packed variable-length "
                    "batches");
    if (!queue)
        queue = ctx->queue;
    clattn_status st = enqueue_check_common(plan, queue, num_events, wait_list);
    const size_t esize = clattn_dtype_size((clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE));
    const uint64_t o_span = problem_tensor_span(p, CLATTN_TENSOR_O);
    const uint64_t lse_span = (uint64_t)lse_rows(p) * 4;
    static const char *const names[] = {"O_a", "LSE_a", "O_b", "LSE_b", "O", "LSE"};
    cl_mem mems[6] = {o_a, lse_a, o_b, lse_b, o, lse};
    size_t offs[6] = {o_a_offset, lse_a_offset, o_b_offset, lse_b_offset, o_offset, lse_offset};
    /* O and LSE are written; each may be an input exactly, since merge_pair reads and writes
     * each row in one work-item, but may not overlap anything partly */
    static const int written[6] = {0, 0, 0, 0, 1, 1}, alias[6] = {1, 2, 1, 2, 1, 2};
    mem_range ranges[6];
    for (int t = 0; t < 6 && !st; t++)
        st = enqueue_check_buffer(plan, names[t], mems[t], offs[t], t % 2 ? lse_span : o_span,
                                  t % 2 ? 4 : esize, written[t], &ranges[t]);
    if (!st)
        st = enqueue_check_overlaps(plan, 6, names, ranges, written, alias);
    if (!st && !plan->merge_pair)
        st = merge_build(plan, "merge_pair", &plan->merge_pair);
    if (st)
        return st;
    int64_t os[3];
    problem_strides(p, CLATTN_TENSOR_O, os);
    kernel_args a;
    args_begin(&a, ctx, plan->merge_pair);
    args_mem(&a, o_a);
    args_ulong(&a, o_a_offset / esize);
    args_mem(&a, lse_a);
    args_ulong(&a, lse_a_offset / 4);
    args_mem(&a, o_b);
    args_ulong(&a, o_b_offset / esize);
    args_mem(&a, lse_b);
    args_ulong(&a, lse_b_offset / 4);
    args_mem(&a, o);
    args_ulong(&a, o_offset / esize);
    args_mem(&a, lse);
    args_ulong(&a, lse_offset / 4);
    args_int(&a, 1);
    args_long(&a, os[0]);
    args_long(&a, os[1]);
    args_long(&a, os[2]);
    args_int(&a, (cl_int)problem_get(p, CLATTN_PARAM_HEADS));
    args_int(&a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_Q));
    args_int(&a, (cl_int)lse_rows(p));
    if ((st = args_end(&a, "merge_pair")))
        return st;
    size_t global = (size_t)lse_rows(p);
    cl_int err = clEnqueueNDRangeKernel(queue, plan->merge_pair, 1, NULL, &global, NULL,
                                        num_events, wait_list, event);
    if (err != CL_SUCCESS)
        return cl_fail(ctx, "clEnqueueNDRangeKernel (merge_pair)", err);
    program_used(ctx, plan->merge_pair);
    return CLATTN_SUCCESS;
}
