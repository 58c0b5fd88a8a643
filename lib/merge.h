/* Merging attention results by their LSEs (cl/merge.cl): the decode algorithm's splits, and
 * clattn_enqueue_merge. */
#ifndef CLATTN_MERGE_H
#define CLATTN_MERGE_H

#include "launch.h"

/* Builds (through the program cache) kernel `name` of cl/merge.cl for the plan's dtype and
 * head_dim, with merge_splits taking merge_columns(plan) columns per work-item. */
clattn_status merge_build(clattn_plan *plan, const char *name, cl_kernel *kernel);

/* Combines part_o / part_lse ([plan->splits][B * H * seq_q][d], f32) into the caller's O and
 * LSE as stage `stage`. */
clattn_status merge_splits_enqueue(clattn_plan *plan, struct launch_sequence *seq, int stage,
                                   cl_kernel merge, cl_mem part_o, cl_mem part_lse,
                                   const attn_buffers *b);

#endif
