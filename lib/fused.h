/* Pieces of the fused algorithms (lib/fused.c) that the decode algorithm (lib/decode.c)
 * shares: the row order of the kernels and the build of the local-tiles kernel. */
#ifndef CLATTN_FUSED_H
#define CLATTN_FUSED_H

#include "kv_kernel.h"
#include "plan.h"
#include "tile_select.h"

/* Kernels cover the query rows of one (batch, kv head): every position of every query head
 * that reads it (cl/common.cl's row order). */
int64_t rows_per_kv_head(const clattn_problem *p);
/* Blocks of `rows` such rows per (batch, kv head), and (batch, kv head) pairs. */
int64_t row_blocks(const clattn_problem *p, int64_t rows);
int64_t bkv(const clattn_problem *p);

/* Chooses local tiles from the device's limits, builds attend_local for them, and shrinks
 * them until the compiled kernel accepts the work-group; fills the plan's tile figures and
 * description. */
clattn_status local_kernel_build(clattn_plan *plan, local_tiles *lt, kv_kernel *k);

/* Keys one work-group of the local-tiles kernel may visit, 0 for no limit. Mesa's llvmpipe
 * (rusticl, Mesa 22.3) ends the kernel's tile loop early once a work-group has visited about
 * 2600 keys (seen, not explained: a plain barrier loop runs to the end). On devices of its
 * kind (local memory in global memory, vectorising across work-items), longer key ranges are
 * split and merged (lib/decode.c). */
int64_t local_tiles_max_keys(const device_limits *limits);

/* Splits merge_splits may combine, 0 for no limit. On the same devices the merge of more
 * than about 16000 splits leaves rows empty, again without an error (seen: 8290 right, 16579
 * wrong); it loops over the splits a few times per split, so both quirks fit a cap of about
 * 65535 loop iterations per work-item, like gallivm's LP_MAX_TGSI_LOOP_ITERATIONS. Plans
 * that would need more are refused (lib/decode.c). */
int64_t merge_max_splits(const device_limits *limits);

#endif
