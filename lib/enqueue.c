/* clattn_enqueue and clattn_enqueue_kvcache: every argument checked against the problem and
 * the device before anything is enqueued, then the plan's algorithm runs as one launch
 * sequence (with the KV cache's append first, when asked). */
#include <stdio.h>

#include "call_args.h"
#include "checks.h"
#include "launch.h"
#include "message.h"
#include "plan.h"
#include "program_cache.h"

/* The arguments of a call, numbered as clattn_enqueue_args names them */
enum {
    T_Q = CLATTN_ARG_Q,
    T_K = CLATTN_ARG_K,
    T_V = CLATTN_ARG_V,
    T_O = CLATTN_ARG_O,
    T_LSE = CLATTN_ARG_LSE,
    T_LENS = CLATTN_ARG_CACHE_SEQLENS,
    T_PAGES = CLATTN_ARG_BLOCK_TABLE,
    T_K_NEW = CLATTN_ARG_K_NEW,
    T_V_NEW = CLATTN_ARG_V_NEW,
    T_SLOPES = CLATTN_ARG_ALIBI_SLOPES,
    T_SINKS = CLATTN_ARG_SINKS,
    T_MASK = CLATTN_ARG_MASK,
    T_Q_START = CLATTN_ARG_Q_START,
    T_K_START = CLATTN_ARG_K_START,
    T_CU_Q = CLATTN_ARG_CU_SEQLENS_Q,
    T_CU_K = CLATTN_ARG_CU_SEQLENS_K,
    T_COUNT
};
static const char *const names[T_COUNT] = {"Q", "K", "V", "O", "LSE", "cache_seqlens",
                                           "block_table", "k_new", "v_new", "alibi_slopes",
                                           "sinks", "mask", "q_start", "k_start",
                                           "cu_seqlens_q", "cu_seqlens_k"};

/* Bytes each argument must hold for the plan's problem. */
static void spans(const clattn_problem *p, uint64_t out[T_COUNT])
{
    const uint64_t esize = clattn_dtype_size((clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE));
    const uint64_t batch = (uint64_t)problem_get(p, CLATTN_PARAM_BATCH);
    for (int t = T_Q; t <= T_O; t++)
        out[t] = problem_tensor_span(p, (clattn_tensor)t);
    out[T_LSE] = batch * (uint64_t)problem_get(p, CLATTN_PARAM_HEADS) *
                 (uint64_t)problem_get(p, CLATTN_PARAM_SEQ_Q) * 4;
    out[T_LENS] = batch * 4;
    out[T_PAGES] = batch * (uint64_t)problem_pages_per_seq(p) * 4;
    const uint64_t new_rows = batch * (uint64_t)problem_get(p, CLATTN_PARAM_SEQ_Q) *
                              (uint64_t)problem_kv_heads(p);
    out[T_K_NEW] = new_rows * (uint64_t)problem_get(p, CLATTN_PARAM_HEAD_DIM) * esize;
    out[T_V_NEW] = new_rows * (uint64_t)problem_head_dim_v(p) * esize;
    const uint64_t heads = (uint64_t)problem_get(p, CLATTN_PARAM_HEADS);
    out[T_SLOPES] =
        (problem_get(p, CLATTN_PARAM_ALIBI) == CLATTN_ALIBI_PER_ENTRY ? batch : 1) * heads * 4;
    out[T_SINKS] = heads * 4;
    out[T_MASK] = problem_get(p, CLATTN_PARAM_MASK) ? problem_tensor_span(p, CLATTN_TENSOR_MASK)
                                                    : 0;
    out[T_Q_START] = out[T_K_START] = batch * 4;
    out[T_CU_Q] = out[T_CU_K] = (batch + 1) * 4;
}

static clattn_status append_enqueue(clattn_plan *plan, struct launch_sequence *seq,
                                    const attn_buffers *b, cl_mem k_new, cl_ulong k_new_off,
                                    cl_mem v_new, cl_ulong v_new_off)
{
    const clattn_problem *p = &plan->problem;
    clattn_status st = CLATTN_SUCCESS;
    if (!plan->append) {
        char options[192], kv_extras[96], dv[24];
        snprintf(options, sizeof options, "-DDTYPE=%d -DHEAD_DIM=%d%s%s",
                 (int)problem_get(p, CLATTN_PARAM_DTYPE),
                 (int)problem_get(p, CLATTN_PARAM_HEAD_DIM), problem_dv_option(p, dv, sizeof dv),
                 problem_kv_options(p, kv_extras, sizeof kv_extras));
        cl_program program;
        st = program_get(plan->ctx, "kvcache", options, &program);
        if (!st)
            st = program_kernel(plan->ctx, program, "append_kv", &plan->append);
        if (st)
            return st;
    }
    int64_t ks[3], vs[3];
    problem_strides(p, CLATTN_TENSOR_K, ks);
    problem_strides(p, CLATTN_TENSOR_V, vs);
    kernel_args a;
    args_begin(&a, plan->ctx, plan->append);
    args_mem(&a, k_new);
    args_ulong(&a, k_new_off);
    args_mem(&a, v_new);
    args_ulong(&a, v_new_off);
    args_int(&a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_Q));
    args_int(&a, (cl_int)problem_kv_heads(p));
    args_mem(&a, b->k);
    args_ulong(&a, b->k_off);
    args_long(&a, ks[0]);
    args_long(&a, ks[1]);
    args_long(&a, ks[2]);
    args_mem(&a, b->v);
    args_ulong(&a, b->v_off);
    args_long(&a, vs[0]);
    args_long(&a, vs[1]);
    args_long(&a, vs[2]);
    attn_buffers positions = *b;
    positions.appended = 0; /* the lengths before this call say where the rows go */
    args_kv_layout(&a, p, &positions);
    if ((st = args_end(&a, "append_kv")))
        return st;
    size_t global[3] = {(size_t)problem_get(p, CLATTN_PARAM_SEQ_Q), (size_t)problem_kv_heads(p),
                        (size_t)problem_get(p, CLATTN_PARAM_BATCH)};
    return launch_kernel(seq, STAGE_APPEND, plan->append, 3, global, NULL, "append_kv");
}

/* An append writes cache rows from many work-items at once: no two rows of K, or of V, may
 * share an element (for a paged cache, rows of the pool's pages: the page stride is the batch
 * stride). Which rows an append reaches is device data, so every row counts. */
static clattn_status check_cache_rows(clattn_plan *plan)
{
    const clattn_problem *p = &plan->problem;
    for (int t = T_K; t <= T_V; t++) {
        if (!problem_rows_overlap(p, (clattn_tensor)t))
            continue;
        int64_t s[3];
        problem_strides(p, (clattn_tensor)t, s);
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "%s strides (%s %lld, seq %lld, head %lld) make cache rows of %lld "
                    "elements overlap, and an append writes them",
                    names[t], problem_get(p, CLATTN_PARAM_PAGE_SIZE) ? "page" : "batch",
                    (long long)s[0], (long long)s[1], (long long)s[2],
                    (long long)(t == T_V ? problem_head_dim_v(p)
                                         : problem_get(p, CLATTN_PARAM_HEAD_DIM)));
    }
    return CLATTN_SUCCESS;
}

/* mems/offsets indexed by T_*; NULL entries are absent. `args` (may be NULL) carries the
 * per-call positions. */
static clattn_status enqueue_attention(clattn_plan *plan, cl_command_queue queue,
                                       cl_mem mems[T_COUNT], size_t offs[T_COUNT],
                                       const clattn_args *args, cl_uint num_events,
                                       const cl_event *wait_list, cl_event *event)
{
    clattn_context *ctx = plan->ctx;
    const clattn_problem *p = &plan->problem;
    if (!queue)
        queue = ctx->queue;
    clattn_status st = enqueue_check_common(plan, queue, num_events, wait_list);
    if (st)
        return st;
    /* clattn_enqueue_args checks its extension tensors against the problem; the other calls
     * have no place for them */
    if (!args && (problem_get(p, CLATTN_PARAM_ALIBI) != CLATTN_ALIBI_NONE ||
                  problem_get(p, CLATTN_PARAM_SINKS) ||
                  problem_get(p, CLATTN_PARAM_MASK) != CLATTN_MASK_NONE || problem_varlen(p)))
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "the problem takes ALiBi slopes, sinks, a mask or cu_seqlens (a packed "
                    "varlen batch): use clattn_enqueue_args");
    const size_t esize = clattn_dtype_size((clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE));
    /* K and V offsets are whole elements of the cache's type: `kv_values` values in `kv_bytes`
     * bytes (a q8_0 block: 32 in 34) */
    int kv_values, kv_bytes;
    clattn_dtype_block(problem_kv_dtype(p), &kv_values, &kv_bytes);
    uint64_t span[T_COUNT];
    spans(p, span);
    const size_t mask_bytes = problem_get(p, CLATTN_PARAM_MASK) == CLATTN_MASK_F16 ? 2 : 4;
    /* O and LSE are written while the rest is read; an append writes the caches too */
    const int append = mems[T_K_NEW] != NULL;
    const int written[T_COUNT] = {[T_O] = 1, [T_LSE] = 1, [T_K] = append, [T_V] = append};
    mem_range ranges[T_COUNT] = {{0}};
    for (int t = 0; t < T_COUNT; t++) {
        const int optional = t >= T_LSE;
        if (optional && !mems[t])
            continue;
        const size_t align = t == T_MASK                                    ? mask_bytes
                             : (t >= T_LSE && t <= T_PAGES) || t >= T_SLOPES ? 4
                             : t == T_K || t == T_V                      ? (size_t)kv_bytes
                                                                         : esize;
        if ((st = enqueue_check_buffer(plan, names[t], mems[t], offs[t], span[t], align,
                                       written[t], &ranges[t])))
            return st;
    }
    if ((st = enqueue_check_overlaps(plan, T_COUNT, names, ranges, written, NULL)))
        return st;
    if (append && (st = check_cache_rows(plan)))
        return st;

    attn_buffers b = {.q = mems[T_Q], .k = mems[T_K], .v = mems[T_V], .o = mems[T_O],
                      .lse = mems[T_LSE], .q_off = offs[T_Q] / esize,
                      .k_off = offs[T_K] / kv_bytes * kv_values,
                      .v_off = offs[T_V] / kv_bytes * kv_values, .o_off = offs[T_O] / esize,
                      .lse_off = offs[T_LSE] / 4, .kv_lens = mems[T_LENS],
                      .kv_lens_off = offs[T_LENS] / 4, .pages = mems[T_PAGES],
                      .pages_off = offs[T_PAGES] / 4,
                      .appended = mems[T_K_NEW] ? (int)problem_get(p, CLATTN_PARAM_SEQ_Q) : 0,
                      .positioned = problem_get(p, CLATTN_PARAM_POSITIONS) !=
                                    CLATTN_POSITIONS_ALIGNED,
                      .pos_shift = args ? args->q_start - args->k_start : 0,
                      .slopes = mems[T_SLOPES], .slopes_off = offs[T_SLOPES] / 4,
                      .sinks = mems[T_SINKS], .sinks_off = offs[T_SINKS] / 4,
                      .q_starts = mems[T_Q_START], .q_starts_off = offs[T_Q_START] / 4,
                      .k_starts = mems[T_K_START], .k_starts_off = offs[T_K_START] / 4,
                      .k_start = args ? args->k_start : 0, .mask = mems[T_MASK],
                      .mask_off = offs[T_MASK] / mask_bytes, .cu_q = mems[T_CU_Q],
                      .cu_q_off = offs[T_CU_Q] / 4, .cu_k = mems[T_CU_K],
                      .cu_k_off = offs[T_CU_K] / 4};
    struct launch_sequence seq;
    launch_begin(&seq, plan, queue, num_events, wait_list);
    if (mems[T_K_NEW])
        st = append_enqueue(plan, &seq, &b, mems[T_K_NEW], offs[T_K_NEW] / esize, mems[T_V_NEW],
                            offs[T_V_NEW] / esize);
    if (!st)
        st = plan->ops->enqueue(plan, &seq, &b);
    /* On failure some kernels may already be enqueued; the caller gets no event for them,
     * but they complete in queue order and touch only the checked buffers. */
    clattn_status end = launch_end(&seq, st ? NULL : event);
    return st ? st : end;
}

clattn_status clattn_enqueue(clattn_plan *plan, cl_command_queue queue, cl_mem q,
                             size_t q_offset, cl_mem k, size_t k_offset, cl_mem v,
                             size_t v_offset, cl_mem o, size_t o_offset, cl_mem lse,
                             size_t lse_offset, cl_uint num_events, const cl_event *wait_list,
                             cl_event *event)
{
    if (!plan)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_enqueue: plan is NULL");
    if (problem_get(&plan->problem, CLATTN_PARAM_PAGE_SIZE))
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "a paged problem (page_size > 0) needs clattn_enqueue_kvcache and a block "
                    "table");
    if (problem_get(&plan->problem, CLATTN_PARAM_POSITIONS) != CLATTN_POSITIONS_ALIGNED)
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "the problem takes positions with the call: use clattn_enqueue_args");
    cl_mem mems[T_COUNT] = {q, k, v, o, lse};
    size_t offs[T_COUNT] = {q_offset, k_offset, v_offset, o_offset, lse_offset};
    return enqueue_attention(plan, queue, mems, offs, NULL, num_events, wait_list, event);
}

/* clattn_enqueue_kvcache's rules on the cache arguments, then the call. */
static clattn_status enqueue_cache(clattn_plan *plan, cl_command_queue queue,
                                   cl_mem mems[T_COUNT], size_t offs[T_COUNT],
                                   const clattn_args *args, cl_uint num_events,
                                   const cl_event *wait_list, cl_event *event)
{
    const cl_mem cache_seqlens = mems[T_LENS], block_table = mems[T_PAGES];
    const cl_mem k_new = mems[T_K_NEW], v_new = mems[T_V_NEW];
    const int paged = problem_get(&plan->problem, CLATTN_PARAM_PAGE_SIZE) > 0;
    if (plan->algorithm == CLATTN_ALGO_NAIVE && (paged || cache_seqlens || k_new))
        return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                    "the naive algorithm takes contiguous K and V of seq_kv keys only; plan "
                    "tiled, windowed or decode for a KV cache");
    if (paged != (block_table != NULL))
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    paged ? "a paged problem needs a block_table"
                          : "block_table given, but the problem's page_size is 0 (contiguous)");
    if ((k_new == NULL) != (v_new == NULL))
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "k_new and v_new go together: both or neither");
    if (k_new && !cache_seqlens)
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "appending k_new/v_new needs cache_seqlens: the position to write at");
    return enqueue_attention(plan, queue, mems, offs, args, num_events, wait_list, event);
}

clattn_status clattn_enqueue_kvcache(clattn_plan *plan, cl_command_queue queue, cl_mem q,
                                     size_t q_offset, cl_mem k_cache, size_t k_offset,
                                     cl_mem v_cache, size_t v_offset, cl_mem cache_seqlens,
                                     size_t seqlens_offset, cl_mem block_table,
                                     size_t block_table_offset, cl_mem k_new,
                                     size_t k_new_offset, cl_mem v_new, size_t v_new_offset,
                                     cl_mem o, size_t o_offset, cl_mem lse, size_t lse_offset,
                                     cl_uint num_events, const cl_event *wait_list,
                                     cl_event *event)
{
    if (!plan)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_enqueue_kvcache: plan is NULL");
    if (problem_get(&plan->problem, CLATTN_PARAM_POSITIONS) != CLATTN_POSITIONS_ALIGNED)
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                    "the problem takes positions with the call: use clattn_enqueue_args");
    cl_mem mems[T_COUNT] = {q, k_cache, v_cache, o, lse, cache_seqlens, block_table, k_new,
                            v_new};
    size_t offs[T_COUNT] = {q_offset, k_offset, v_offset, o_offset, lse_offset,
                            seqlens_offset, block_table_offset, k_new_offset, v_new_offset};
    return enqueue_cache(plan, queue, mems, offs, NULL, num_events, wait_list, event);
}

clattn_status clattn_enqueue_args(clattn_plan *plan, cl_command_queue queue,
                                  const clattn_args *args, cl_uint num_events,
                                  const cl_event *wait_list, cl_event *event)
{
    if (!plan)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_enqueue_args: plan is NULL");
    if (!args)
        return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_enqueue_args: args is NULL");
    clattn_status st = call_args_check_extensions(&plan->problem, args, 0, "clattn_enqueue_args");
    if (st)
        return fail(plan->ctx, st, "%s", clattn_message(NULL));
    cl_mem mems[T_COUNT];
    size_t offs[T_COUNT];
    for (int t = 0; t < T_COUNT; t++) {
        mems[t] = args->slot[t].buffer;
        offs[t] = args->slot[t].offset;
    }
    const int cache = problem_get(&plan->problem, CLATTN_PARAM_PAGE_SIZE) > 0 ||
                      mems[T_LENS] || mems[T_PAGES] || mems[T_K_NEW] || mems[T_V_NEW];
    if (cache)
        return enqueue_cache(plan, queue, mems, offs, args, num_events, wait_list, event);
    return enqueue_attention(plan, queue, mems, offs, args, num_events, wait_list, event);
}
