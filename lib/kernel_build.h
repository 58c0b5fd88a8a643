/* What the algorithms share about their kernels: the row order every kernel covers, and the
 * build of the local-tiles kernel (cl/tiled_local.cl), which the fused algorithms run over all
 * the keys and the decode algorithm over runs of them. Algorithms use this module; none uses
 * another algorithm's file (lib/dispatch.c says which algorithm sets a plan up). */
#ifndef CLATTN_KERNEL_BUILD_H
#define CLATTN_KERNEL_BUILD_H

#include "kv_kernel.h"
#include "plan.h"
#include "tile_select.h"

/* Kernels cover the query rows of one (batch, kv head): every position of every query head
 * that reads it (cl/common.cl's row order). */
int64_t rows_per_kv_head(const clattn_problem *p);
/* Blocks of `rows` such rows per (batch, kv head), and (batch, kv head) pairs. */
int64_t row_blocks(const clattn_problem *p, int64_t rows);
int64_t bkv(const clattn_problem *p);

/* Chooses local tiles from the device's limits (or those clattn_tune measured), builds
 * attend_local for them, and shrinks them until the compiled kernel accepts the work-group;
 * fills the plan's tile figures and description. With a mask the kernel takes a tile map of
 * BR x BC tiles, which the caller sets up (lib/mask_tiles.h). */
clattn_status local_kernel_build(clattn_plan *plan, local_tiles *lt, kv_kernel *k);

#endif
