/* The decode algorithm: few query rows against many keys. The keys are split across
 * work-groups (split-KV) so that the device has enough of them to fill its compute units;
 * each split writes a partial output and LSE, and cl/merge.cl's merge_splits combines them.
 * K and V are read in place: on CPU-like devices by cl/decode.cl, elsewhere by the local-tiles
 * kernel of cl/tiled_local.cl. */
#include <stdio.h>
#include <stdlib.h>

#include "fused.h"
#include "launch.h"
#include "merge.h"
#include "message.h"
#include "program_cache.h"

typedef struct decode_impl {
    cl_kernel attend, merge;
    cl_mem part_o, part_lse;
    int registers; /* cl/decode.cl; otherwise attend_local */
    int kvh, rpk;  /* register shape: kv heads per work-item, query rows of each */
    int vw;
    local_tiles lt;
    int split_len;
} decode_impl;

enum { STAGE_ATTEND = STAGE_APPEND + 1, STAGE_MERGE };

/* Work-groups per compute unit worth launching: a few, so that splits of uneven length
 * balance out and a unit waiting on memory has another group to run. */
#define GROUPS_PER_UNIT 4
/* Fewest keys worth a split of their own: below this the partial rows written and merged
 * cost about what splitting saves. */
#define MIN_SPLIT_KEYS 256
/* Register shape: query rows per work-item. Each is a row of q and of the output, kept in L1
 * beside the K and V rows in flight (2 x 32 rows x 128 floats = 32 KiB at head_dim 128). */
#define MAX_DECODE_ROWS 32

static void decode_release(clattn_plan *plan)
{
    decode_impl *d = plan->impl;
    if (!d)
        return;
    const cl_kernel kernels[] = {d->attend, d->merge};
    const cl_mem mems[] = {d->part_o, d->part_lse};
    plan_release_impl(plan, kernels, 2, mems, 2);
}

static int64_t pow2_ceil(int64_t v)
{
    int64_t p = 1;
    while (p < v)
        p *= 2;
    return p;
}

/* Work-items of the register kernel: batch entries x kv-head blocks x row blocks. */
static int64_t register_items(const clattn_problem *p, const decode_impl *d)
{
    const int64_t kv_heads = problem_kv_heads(p);
    return problem_get(p, CLATTN_PARAM_BATCH) * ((kv_heads + d->kvh - 1) / d->kvh) *
           row_blocks(p, d->rpk);
}

static clattn_status decode_enqueue(clattn_plan *plan, struct launch_sequence *seq,
                                    const attn_buffers *b)
{
    decode_impl *d = plan->impl;
    const clattn_problem *p = &plan->problem;
    const int64_t part_rows = problem_get(p, CLATTN_PARAM_BATCH) *
                              problem_get(p, CLATTN_PARAM_HEADS) *
                              problem_get(p, CLATTN_PARAM_SEQ_Q);
    kernel_args a;
    args_begin(&a, plan->ctx, d->attend);
    args_in_place(&a, p, b, d->split_len, (cl_int)part_rows, d->part_o, d->part_lse);
    clattn_status st = args_end(&a, d->registers ? "decode_registers" : "attend_local");
    if (st)
        return st;
    if (d->registers) {
        size_t global[2] = {(size_t)register_items(p, d), (size_t)plan->splits};
        size_t local[2] = {1, 1};
        st = launch_kernel(seq, STAGE_ATTEND, d->attend, 2, global, local, "decode_registers");
    } else {
        size_t local[2] = {(size_t)(d->lt.br * d->lt.tpr), 1};
        size_t global[2] = {(size_t)(bkv(p) * row_blocks(p, d->lt.br)) * local[0],
                            (size_t)plan->splits};
        st = launch_kernel(seq, STAGE_ATTEND, d->attend, 2, global, local, "attend_local");
    }
    if (st || plan->splits == 1)
        return st;
    return merge_splits_enqueue(plan, seq, STAGE_MERGE, d->merge, d->part_o, d->part_lse, b);
}

static const struct plan_ops decode_ops = {decode_enqueue, decode_release};

/* Splits per (batch, kv head, row block): enough work-groups for the device, never so many
 * that a split holds fewer than MIN_SPLIT_KEYS keys, and at least as many as keep each
 * work-group within local_tiles_max_keys. */
static int choose_splits(const clattn_plan *plan, int64_t items, int registers)
{
    const int64_t nk = problem_get(&plan->problem, CLATTN_PARAM_SEQ_KV);
    const int64_t target = (int64_t)plan->ctx->limits.compute_units * GROUPS_PER_UNIT;
    int64_t splits = (target + items - 1) / items;
    if (splits > nk / MIN_SPLIT_KEYS)
        splits = nk / MIN_SPLIT_KEYS;
    const int64_t max_keys = registers ? 0 : local_tiles_max_keys(&plan->ctx->limits);
    if (max_keys && splits < (nk + max_keys - 1) / max_keys)
        splits = (nk + max_keys - 1) / max_keys;
    return splits < 1 ? 1 : (int)splits;
}

static clattn_status build_registers(clattn_plan *plan, decode_impl *d)
{
    const clattn_problem *p = &plan->problem;
    const device_limits *l = &plan->ctx->limits;
    d->vw = l->vector_width > 16 ? 16 : (int)l->vector_width;
    while (d->vw & (d->vw - 1))
        d->vw &= d->vw - 1;
    const int64_t rows = rows_per_kv_head(p), kv_heads = problem_kv_heads(p);
    d->rpk = (int)(rows > MAX_DECODE_ROWS ? MAX_DECODE_ROWS : pow2_ceil(rows));
    /* Keys outermost (the [B, N, Hkv, d] default, where a position's kv heads are adjacent):
     * a work-item takes as many kv heads as its rows allow, so it reads the cache in order. */
    int64_t ks[3];
    problem_strides(p, CLATTN_TENSOR_K, ks);
    d->kvh = 1;
    if (ks[2] < ks[1])
        while (d->kvh * 2 <= kv_heads && d->kvh * 2 * d->rpk <= MAX_DECODE_ROWS)
            d->kvh *= 2;
    char options[256];
    snprintf(options, sizeof options, "-DDTYPE=%d -DHEAD_DIM=%d -DVW=%d -DKVH=%d -DRPK=%d",
             (int)problem_get(p, CLATTN_PARAM_DTYPE), (int)problem_get(p, CLATTN_PARAM_HEAD_DIM),
             d->vw, d->kvh, d->rpk);
    cl_program program;
    clattn_status st = program_get(plan->ctx, "decode", options, &program);
    if (!st)
        st = program_kernel(plan->ctx, program, "decode_registers", &d->attend);
    if (st)
        return st;
    plan->tile_q = d->kvh * d->rpk;
    plan->tile_kv = d->vw;
    plan->work_group_size = 1;
    plan_describe(plan,
                  "kernel shape: register rows (explicit float%d vectors over head_dim; K and V "
                  "read in place, in order: a work-item takes %d kv head%s and %d query rows of "
                  "each)",
                  d->vw, d->kvh, d->kvh == 1 ? "" : "s", d->rpk);
    return CLATTN_SUCCESS;
}

clattn_status decode_setup(clattn_plan *plan)
{
    const clattn_problem *p = &plan->problem;
    decode_impl *d = calloc(1, sizeof *d);
    if (!d)
        return fail(plan->ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    plan->impl = d;
    plan->ops = &decode_ops;
    plan->shape = select_shape(&plan->ctx->limits);
    d->registers = plan->shape == CLATTN_SHAPE_REGISTER_BLOCKS;
    clattn_status st = d->registers ? build_registers(plan, d)
                                    : local_kernel_build(plan, &d->lt, &d->attend);
    if (st)
        return st;
    const int64_t items = d->registers ? register_items(p, d) : bkv(p) * row_blocks(p, d->lt.br);
    plan->splits = choose_splits(plan, items, d->registers);
    const int64_t nk = problem_get(p, CLATTN_PARAM_SEQ_KV);
    d->split_len = (int)((nk + plan->splits - 1) / plan->splits);
    if (plan->splits > 1) {
        const uint64_t rows = (uint64_t)problem_get(p, CLATTN_PARAM_BATCH) *
                              (uint64_t)problem_get(p, CLATTN_PARAM_HEADS) *
                              (uint64_t)problem_get(p, CLATTN_PARAM_SEQ_Q);
        const uint64_t d_dim = (uint64_t)problem_get(p, CLATTN_PARAM_HEAD_DIM);
        st = plan_alloc(plan, (size_t)((uint64_t)plan->splits * rows * d_dim * 4),
                        "the splits' partial outputs", &d->part_o);
        if (!st)
            st = plan_alloc(plan, (size_t)((uint64_t)plan->splits * rows * 4),
                            "the splits' partial LSEs", &d->part_lse);
        if (!st)
            st = merge_build(plan, "merge_splits", &d->merge);
        if (st)
            return st;
    }
    static const char *const stages[] = {"append", "attention", "merge"};
    plan_set_stages(plan, plan->splits > 1 ? 3 : 2, stages);
    plan_describe(plan,
                  "splits: %lld work-items or groups of rows x %d splits of %d keys (aiming at "
                  "%d work-groups per compute unit, at least %d keys per split)%s",
                  (long long)items, (int)plan->splits, d->split_len, GROUPS_PER_UNIT, MIN_SPLIT_KEYS,
                  plan->splits > 1 ? "; partial results merged by LSE" : "");
    return CLATTN_SUCCESS;
}
