/* Packing K (transposed) and V (padded) to f32 for the register-block kernels. */
#ifndef CLATTN_PACK_H
#define CLATTN_PACK_H

#include "launch.h"
#include "tile_select.h"

/* Builds (through the program cache) and creates the pack_kv kernel for the plan's dtype,
 * head_dim and vector width. */
clattn_status pack_build(clattn_plan *plan, const register_tiles *rt, cl_kernel *pack);

/* Enqueues pack_kv from the caller's K and V into `kt` and `vp` as stage `stage`. */
clattn_status pack_enqueue(clattn_plan *plan, struct launch_sequence *seq, int stage,
                           cl_kernel pack, const attn_buffers *b, cl_mem kt, cl_mem vp,
                           const register_tiles *rt, const packed_layout *layout);

#endif
