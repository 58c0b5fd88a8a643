/* The naive path's two products on CLBlast (f32 only). Built only when meson finds CLBlast
 * (-Dclblast). */
#ifndef CLATTN_NAIVE_CLBLAST_H
#define CLATTN_NAIVE_CLBLAST_H

#include "launch.h"

/* One product over the heads [z0, z0 + zc) and query rows [i0, i0 + rows) of a chunk:
 * S = Q K^T (scores = 1) or O = P V (scores = 0), S with row stride s_stride. */
clattn_status clblast_product(clattn_plan *plan, struct launch_sequence *seq, int stage,
                              int scores, const attn_buffers *b, cl_mem s, int s_stride,
                              int64_t z0, int64_t zc, int64_t i0, int64_t rows);

#endif
