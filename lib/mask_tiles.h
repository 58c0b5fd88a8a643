/* The tile map of an additive mask (cl/mask_tiles.cl): before a fused kernel runs, one pass
 * over the mask marks each of the kernel's tiles hidden (all -inf), zero or mixed, so that the
 * kernel skips hidden tiles - a block-sparse mask costs its visible blocks - and reads the mask
 * only in mixed ones. The mask is read once per call for every head it serves, where reading
 * it inside the fused kernel would read it once per head. The map is the plan's scratch. */
#ifndef CLATTN_MASK_TILES_H
#define CLATTN_MASK_TILES_H

#include "launch.h"
#include "plan.h"

typedef struct mask_tiles {
    cl_kernel classify; /* NULL: the problem has no mask, and nothing here does anything */
    cl_mem map;
    int row_block, key_block;
    int64_t row_blocks, key_blocks, heads; /* heads: Gm, 1 or the kv heads */
} mask_tiles;

/* " -DMASK_TILES" for a kernel that reads the map when the problem has a mask, else "". */
const char *mask_tiles_option(const clattn_problem *p);

/* At plan time, with a mask: the map of tiles of row_block query rows (common.cl's row order)
 * by key_block keys, and its kernel; a line of the plan's description. */
clattn_status mask_tiles_setup(clattn_plan *plan, int row_block, int key_block, mask_tiles *t);

/* Classifies the call's mask into the map, as stage `stage`. */
clattn_status mask_tiles_enqueue(clattn_plan *plan, struct launch_sequence *seq, int stage,
                                 const mask_tiles *t, const attn_buffers *b);

/* The map as cl/common.cl's MASK_TILE_PARAMS take it, after args_extras; nothing without a
 * mask. */
void args_mask_tiles(kernel_args *a, const clattn_problem *p, const mask_tiles *t);

void mask_tiles_release(mask_tiles *t);

#endif
