/* The decode algorithm: few query rows against many keys. The keys are split across
 * work-groups (split-KV) so that the device has enough of them to fill its compute units;
 * each split writes a partial output and LSE, and cl/merge.cl's merge_splits combines them.
 * K and V are read in place, by one of three kernels:
 *   cl/decode.cl         on CPU-like devices (register blocks);
 *   cl/decode_local.cl   on GPUs, when a kv head's query rows fit one work-group's
 *                        registers (every step of generation);
 *   cl/tiled_local.cl    on GPUs for more rows, and for the fused algorithms' long prefills on
 *                        devices whose loops end early (lib/dispatch.c, local_tiles_max_keys in
 *                        lib/device_quirks.h).
 * A packed varlen batch is launched and split for its longest entry (seq_q rows, seq_kv keys):
 * each work-item or group takes its entry's rows and keys, a split past an entry's keys sees
 * none, and merge_splits writes each entry's rows at its packed rows. */
#include <stdio.h>
#include <stdlib.h>

#include "cl_error.h"
#include "dispatch.h"
#include "kernel_build.h"
#include "launch.h"
#include "mask_tiles.h"
#include "merge.h"
#include "message.h"
#include "program_cache.h"

typedef enum decode_kernel { DECODE_REGISTERS, DECODE_LOCAL, DECODE_TILES } decode_kernel;
static const char *const kernel_names[] = {"decode_registers", "decode_local", "attend_local"};

typedef struct decode_impl {
    cl_kernel attend, merge; /* attend: decode_registers */
    kv_kernel local;         /* decode_local or attend_local */
    cl_mem part_o, part_lse;
    decode_kernel kind;
    int kvh, rpk; /* registers: kv heads per work-item, query rows of each */
    int vw;
    int rows, group, split_max; /* decode_local: rows and work-items per group, keys per split */
    local_tiles lt;             /* attend_local */
    mask_tiles mt;              /* attend_local with a mask */
    int split_len;
} decode_impl;

/* STAGE_MASK follows the merge when there is one, else the attention. */
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
/* ... and at most this many bytes of them (the work-item's private memory, as
 * lib/tile_select.c's PRIVATE_BUDGET): fewer rows for large head sizes (MLA's 576 / 512). */
#define DECODE_PRIVATE_BUDGET (128 * 1024)
/* decode_local: query rows per work-group, each a float4 of scores and then of output per
 * work-item in registers (a kv head's rows at one step: up to 16 heads share a kv head in
 * today's models); more rows go to attend_local, which tiles them. */
#define MAX_LOCAL_ROWS 16
/* decode_local: work-items per group, four 32-wide warps, at least one per float4 of a row. */
#define LOCAL_GROUP 128
/* decode_local: most keys per split, which keeps the split's scores in __local; also below
 * the key runs llvmpipe completes (local_tiles_max_keys). */
#define MAX_SPLIT_KEYS 2048

static void decode_release(clattn_plan *plan)
{
    decode_impl *d = plan->impl;
    if (!d)
        return;
    kv_kernel_release(&d->local);
    mask_tiles_release(&d->mt);
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

/* Work-groups (or work-items of the register kernel) per split. */
static int64_t decode_items(const clattn_problem *p, const decode_impl *d)
{
    switch (d->kind) {
    case DECODE_REGISTERS:
        return register_items(p, d);
    case DECODE_LOCAL:
        return bkv(p) * row_blocks(p, d->rows);
    default:
        return bkv(p) * row_blocks(p, d->lt.br);
    }
}

static clattn_status decode_enqueue(clattn_plan *plan, struct launch_sequence *seq,
                                    const attn_buffers *b)
{
    decode_impl *d = plan->impl;
    const clattn_problem *p = &plan->problem;
    const int64_t part_rows = problem_get(p, CLATTN_PARAM_BATCH) *
                              problem_get(p, CLATTN_PARAM_HEADS) *
                              problem_get(p, CLATTN_PARAM_SEQ_Q);
    const char *name = kernel_names[d->kind];
    cl_kernel kernel = d->attend;
    clattn_status st = d->kind == DECODE_REGISTERS
                           ? CLATTN_SUCCESS
                           : kv_kernel_for_call(plan, &d->local, b, &kernel);
    if (!st)
        st = mask_tiles_enqueue(plan, seq, plan->splits > 1 ? STAGE_MERGE + 1 : STAGE_MERGE,
                                &d->mt, b);
    if (st)
        return st;
    kernel_args a;
    args_begin(&a, plan->ctx, kernel);
    args_in_place(&a, p, b, d->split_len, (cl_int)part_rows, d->part_o, d->part_lse);
    if (d->kind == DECODE_TILES)
        args_mask_tiles(&a, p, &d->mt);
    if ((st = args_end(&a, name)))
        return st;
    const size_t group = d->kind == DECODE_REGISTERS ? 1
                         : d->kind == DECODE_LOCAL  ? (size_t)d->group
                                                    : (size_t)local_tiles_group(&d->lt);
    size_t local[2] = {group, 1};
    size_t global[2] = {(size_t)decode_items(p, d) * group, (size_t)plan->splits};
    st = launch_kernel(seq, STAGE_ATTEND, kernel, 2, global, local, name);
    if (st || plan->splits == 1)
        return st;
    return merge_splits_enqueue(plan, seq, STAGE_MERGE, d->merge, d->part_o, d->part_lse, b);
}

static const struct plan_ops decode_ops = {decode_enqueue, decode_release};

/* Splits per (batch, kv head, row block): enough work-groups for the device, never so many
 * that a split holds fewer than MIN_SPLIT_KEYS keys, and at least as many as keep each
 * work-group within what its kernel holds (decode_local) or completes (local_tiles_max_keys). */
static int choose_splits(const clattn_plan *plan, const decode_impl *d)
{
    const int64_t nk = problem_get(&plan->problem, CLATTN_PARAM_SEQ_KV);
    const int64_t items = decode_items(&plan->problem, d);
    const int64_t target = (int64_t)plan->ctx->limits.compute_units * GROUPS_PER_UNIT;
    int64_t splits = (target + items - 1) / items;
    if (splits > nk / MIN_SPLIT_KEYS)
        splits = nk / MIN_SPLIT_KEYS;
    int64_t max_keys = d->kind == DECODE_LOCAL ? d->split_max : 0;
    if (d->kind == DECODE_TILES)
        max_keys = local_tiles_max_keys(&plan->ctx->limits, &plan->problem);
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
    const int64_t row_bytes = ((problem_get(p, CLATTN_PARAM_HEAD_DIM) + d->vw - 1) / d->vw +
                               (problem_head_dim_v(p) + d->vw - 1) / d->vw) * d->vw * 4;
    int max_rows = MAX_DECODE_ROWS;
    while (max_rows > 1 && max_rows * row_bytes > DECODE_PRIVATE_BUDGET)
        max_rows /= 2;
    d->rpk = (int)(rows > max_rows ? max_rows : pow2_ceil(rows));
    /* Keys outermost (the [B, N, Hkv, d] default, where a position's kv heads are adjacent):
     * a work-item takes as many kv heads as its rows allow, so it reads the cache in order. */
    int64_t ks[3];
    problem_strides(p, CLATTN_TENSOR_K, ks);
    d->kvh = 1;
    if (ks[2] < ks[1])
        while (d->kvh * 2 <= kv_heads && d->kvh * 2 * d->rpk <= max_rows)
            d->kvh *= 2;
    char options[384];
    char extras[128], kv_extras[96], dv[24], line[24] = "";
    /* the kernel asks for K and V rows ahead of use in lines of this size (cl/decode.cl) */
    if (l->cache_line >= 16 && l->cache_line <= 4096)
        snprintf(line, sizeof line, " -DCACHE_LINE=%u", (unsigned)l->cache_line);
    snprintf(options, sizeof options,
             "-DDTYPE=%d -DHEAD_DIM=%d%s -DVW=%d -DKVH=%d -DRPK=%d%s%s%s%s",
             (int)problem_get(p, CLATTN_PARAM_DTYPE), (int)problem_get(p, CLATTN_PARAM_HEAD_DIM),
             problem_dv_option(p, dv, sizeof dv), d->vw, d->kvh, d->rpk,
             problem_score_options(p, 1, extras, sizeof extras),
             problem_kv_options(p, kv_extras, sizeof kv_extras), problem_varlen_options(p), line);
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

/* decode_local's shape from the device's limits: every query row of a kv head in one
 * work-group of LOCAL_GROUP work-items (more when a row has more float4 chunks), and the
 * longest split whose scores and V row offsets fit __local beside q and the reductions.
 * Returns 0 when the problem or the device does not suit it. */
static int local_shape(const device_limits *l, const clattn_problem *p, size_t max_group,
                       cl_ulong local_budget, decode_impl *d)
{
    const int64_t d4 = (problem_get(p, CLATTN_PARAM_HEAD_DIM) + 3) / 4;
    const int64_t dv4 = (problem_head_dim_v(p) + 3) / 4; /* the output pass's lanes */
    const int64_t rows = rows_per_kv_head(p);
    if (rows > MAX_LOCAL_ROWS)
        return 0;
    int64_t group = LOCAL_GROUP;
    while (group < dv4)
        group *= 2;
    while (group > 1 && ((size_t)group > max_group || (size_t)group > l->max_work_item_size0))
        group /= 2;
    if (group < dv4 || (l->simd_width && group % l->simd_width && (size_t)group >= l->simd_width))
        return 0;
    const cl_ulong fixed = (cl_ulong)(rows * d4 * 16 + rows * group * 4);
    if (local_budget <= fixed)
        return 0;
    int64_t split_max = (int64_t)((local_budget - fixed) / (cl_ulong)(rows * 4 + 8)) / 4 * 4;
    if (split_max > MAX_SPLIT_KEYS)
        split_max = MAX_SPLIT_KEYS;
    /* the slots' output sums reuse the scores' space (cl/decode_local.cl) */
    if (split_max < 4 * group)
        return 0;
    d->rows = (int)rows;
    d->group = (int)group;
    d->split_max = (int)split_max;
    return 1;
}

/* Builds decode_local, shrinking its group or split until the compiled kernel takes them.
 * Returns 0 with *kernel NULL when no shape fits (the caller uses attend_local). */
static clattn_status build_local(clattn_plan *plan, decode_impl *d, int *built)
{
    const clattn_problem *p = &plan->problem;
    const device_limits *l = &plan->ctx->limits;
    size_t max_group = l->max_work_group_size;
    cl_ulong budget = l->local_mem_size;
    *built = 0;
    for (int attempt = 0; attempt < 6 && local_shape(l, p, max_group, budget, d); attempt++) {
        char options[384];
        char extras[128], kv_extras[96], dv[24];
        snprintf(options, sizeof options,
                 "-DDTYPE=%d -DHEAD_DIM=%d%s -DROWS=%d -DWG=%d -DSPLIT_MAX=%d%s%s%s",
                 (int)problem_get(p, CLATTN_PARAM_DTYPE),
                 (int)problem_get(p, CLATTN_PARAM_HEAD_DIM), problem_dv_option(p, dv, sizeof dv),
                 d->rows, d->group, d->split_max,
                 problem_score_options(p, 1, extras, sizeof extras),
                 problem_kv_options(p, kv_extras, sizeof kv_extras), problem_varlen_options(p));
        clattn_status st = kv_kernel_build(plan, "decode_local", "decode_local", options,
                                           &d->local);
        if (st)
            return st;
        size_t kernel_limit = 0;
        cl_int err;
        const cl_ulong kernel_local = kernel_local_mem(l, plan->ctx->device, d->local.kernel, &err);
        if (!err)
            err = clGetKernelWorkGroupInfo(d->local.kernel, plan->ctx->device,
                                           CL_KERNEL_WORK_GROUP_SIZE, sizeof kernel_limit,
                                           &kernel_limit, NULL);
        if (err)
            return cl_fail(plan->ctx, "clGetKernelWorkGroupInfo", err);
        if ((size_t)d->group <= kernel_limit && kernel_local <= l->local_mem_size) {
            plan->tile_q = d->rows;
            plan->tile_kv = d->split_max;
            plan->work_group_size = d->group;
            plan->local_mem_bytes = kernel_local;
            int values, bytes; /* a load is 4 values of the cache's type */
            clattn_dtype_block(problem_kv_dtype(p), &values, &bytes);
            plan_describe(plan,
                          "kernel shape: decode rows (the %d query rows of a kv head in one "
                          "work-group of %d, so each K and V element is read once for all of "
                          "them, %d bytes a load; a split's scores, up to %d keys, stay in "
                          "__local); %llu bytes of __local",
                          d->rows, d->group, 4 * bytes / values, d->split_max,
                          (unsigned long long)kernel_local);
            *built = 1;
            return CLATTN_SUCCESS;
        }
        kv_kernel_release(&d->local);
        if ((size_t)d->group > kernel_limit)
            max_group = (size_t)d->group / 2;
        if (kernel_local > l->local_mem_size) /* it lays out more than counted */
            budget = budget * l->local_mem_size / kernel_local;
    }
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
    clattn_status st;
    if (plan->shape == CLATTN_SHAPE_REGISTER_BLOCKS) {
        d->kind = DECODE_REGISTERS;
        st = build_registers(plan, d);
    } else {
        int built;
        d->kind = DECODE_LOCAL;
        st = build_local(plan, d, &built);
        if (!st && !built) {
            d->kind = DECODE_TILES;
            st = local_kernel_build(plan, &d->lt, &d->local);
            if (!st)
                st = mask_tiles_setup(plan, d->lt.br, d->lt.bc, &d->mt);
        }
    }
    if (st)
        return st;
    plan->splits = choose_splits(plan, d);
    const int64_t nk = problem_get(p, CLATTN_PARAM_SEQ_KV);
    d->split_len = (int)((nk + plan->splits - 1) / plan->splits);
    const int64_t max_splits = plan->ctx->limits.quirks.merge_max_splits;
    if (max_splits && plan->splits > max_splits)
        return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                    "seq_kv = %lld needs %lld splits of %d keys on this device, which merges at "
                    "most %lld correctly (its kernels' loops end early: merge_max_splits in "
                    "lib/device_quirks.h): at most %lld keys",
                    (long long)nk, (long long)plan->splits, d->split_len, (long long)max_splits,
                    (long long)(max_splits * d->split_len));
    if (plan->splits > 1) {
        const uint64_t rows = (uint64_t)problem_get(p, CLATTN_PARAM_BATCH) *
                              (uint64_t)problem_get(p, CLATTN_PARAM_HEADS) *
                              (uint64_t)problem_get(p, CLATTN_PARAM_SEQ_Q);
        const uint64_t d_dim = (uint64_t)problem_head_dim_v(p); /* partial output rows */
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
    static const char *const stages[] = {"append", "attention", "merge", "mask tiles"};
    static const char *const unsplit[] = {"append", "attention", "mask tiles"};
    const int with_mask = d->mt.classify != NULL;
    plan_set_stages(plan, (plan->splits > 1 ? 3 : 2) + with_mask,
                    plan->splits > 1 ? stages : unsplit);
    plan_describe(plan,
                  "splits: %lld work-items or groups of rows x %d splits of %d keys (aiming at "
                  "%d work-groups per compute unit, at least %d keys per split)%s",
                  (long long)decode_items(p, d), (int)plan->splits, d->split_len,
                  GROUPS_PER_UNIT, MIN_SPLIT_KEYS,
                  plan->splits > 1 ? "; partial results merged by LSE" : "");
    return CLATTN_SUCCESS;
}
