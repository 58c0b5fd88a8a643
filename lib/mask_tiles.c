#include "mask_tiles.h"

#include <stdio.h>

#include "kernel_build.h"
#include "program_cache.h"

static int has_mask(const clattn_problem *p)
{
    return problem_get(p, CLATTN_PARAM_MASK) != CLATTN_MASK_NONE;
}

const char *mask_tiles_option(const clattn_problem *p)
{
    return has_mask(p) ? " -DMASK_TILES" : "";
}

/* Elements of the map: Bm x Gm x row blocks x key blocks. */
static int64_t map_batch(const clattn_problem *p)
{
    return problem_get(p, CLATTN_PARAM_MASK_BATCH);
}

clattn_status mask_tiles_setup(clattn_plan *plan, int row_block, int key_block, mask_tiles *t)
{
    const clattn_problem *p = &plan->problem;
    if (!has_mask(p))
        return CLATTN_SUCCESS;
    t->row_block = row_block;
    t->key_block = key_block;
    t->row_blocks = row_blocks(p, row_block);
    t->key_blocks = (problem_get(p, CLATTN_PARAM_SEQ_KV) + key_block - 1) / key_block;
    t->heads = problem_get(p, CLATTN_PARAM_MASK_HEADS) == 1 ? 1 : problem_kv_heads(p);
    const uint64_t bytes = (uint64_t)map_batch(p) * (uint64_t)t->heads *
                           (uint64_t)t->row_blocks * (uint64_t)t->key_blocks;
    char options[96];
    snprintf(options, sizeof options, "-DDTYPE=0 -DHEAD_DIM=4 -DMASK=%d",
             (int)problem_get(p, CLATTN_PARAM_MASK));
    cl_program program;
    clattn_status st = program_get(plan->ctx, "mask_tiles", options, &program);
    if (!st)
        st = program_kernel(plan->ctx, program, "classify_mask_tiles", &t->classify);
    if (!st)
        st = plan_alloc(plan, (size_t)bytes, "the mask's tile map", &t->map);
    if (st)
        return st;
    plan_describe(plan,
                  "mask: classified per call into tiles of %d rows x %d keys (%llu bytes): "
                  "tiles all -inf are skipped, tiles all 0 read no mask",
                  row_block, key_block, (unsigned long long)bytes);
    return CLATTN_SUCCESS;
}

clattn_status mask_tiles_enqueue(clattn_plan *plan, struct launch_sequence *seq, int stage,
                                 const mask_tiles *t, const attn_buffers *b)
{
    const clattn_problem *p = &plan->problem;
    if (!t->classify)
        return CLATTN_SUCCESS;
    kernel_args a;
    args_begin(&a, plan->ctx, t->classify);
    args_additive_mask(&a, p, b);
    args_int(&a, (cl_int)(problem_get(p, CLATTN_PARAM_HEADS) / problem_kv_heads(p)));
    args_int(&a, (cl_int)t->heads);
    args_int(&a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_Q));
    args_int(&a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_KV));
    args_int(&a, t->row_block);
    args_int(&a, t->key_block);
    args_mem(&a, t->map);
    clattn_status st = args_end(&a, "classify_mask_tiles");
    if (st)
        return st;
    size_t global[3] = {(size_t)t->key_blocks, (size_t)t->row_blocks,
                        (size_t)(map_batch(p) * t->heads)};
    return launch_kernel(seq, stage, t->classify, 3, global, NULL, "classify_mask_tiles");
}

void args_mask_tiles(kernel_args *a, const clattn_problem *p, const mask_tiles *t)
{
    if (!has_mask(p))
        return;
    const int64_t per_head = t->row_blocks * t->key_blocks;
    args_mem(a, t->map);
    args_long(a, map_batch(p) == 1 ? 0 : t->heads * per_head);
    args_long(a, t->heads == 1 ? 0 : per_head);
    args_int(a, (cl_int)t->key_blocks);
}

void mask_tiles_release(mask_tiles *t)
{
    if (t->classify)
        clReleaseKernel(t->classify);
    if (t->map)
        clReleaseMemObject(t->map);
    t->classify = NULL;
    t->map = NULL;
}
