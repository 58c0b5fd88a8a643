/* The problem descriptor and what is derived from it: effective strides, the alignment
 * offset, each query row's visible key range. */
#ifndef CLATTN_PROBLEM_H
#define CLATTN_PROBLEM_H

#include "clattn.h"

#define PARAM_LAST CLATTN_PARAM_TOTAL_KV
#define TENSOR_LAST CLATTN_TENSOR_MASK

struct clattn_problem {
    int64_t value[PARAM_LAST + 1]; /* indexed by clattn_param */
    double scale;
    int scale_set;
    double softcap; /* 0: off */
    double k_scale, v_scale; /* of an fp8 cache */
    int64_t strides[TENSOR_LAST + 1][3]; /* [tensor][batch, seq, head], in elements */
    int strides_set[TENSOR_LAST + 1];
};

static inline int64_t problem_get(const clattn_problem *p, clattn_param param)
{
    return p->value[param];
}

int64_t problem_kv_heads(const clattn_problem *p);
/* dv, the head size of V and O (CLATTN_PARAM_HEAD_DIM_V, or head_dim when 0). */
int64_t problem_head_dim_v(const clattn_problem *p);
/* The build option that gives kernels dv (cl/common.cl's HEAD_DIM_V): "" when dv = d, so
 * that a plan with equal head sizes builds the same source as before, else
 * " -DHEAD_DIM_V=dv". At most 24 bytes. */
const char *problem_dv_option(const clattn_problem *p, char *out, size_t size);
/* The dtype K and V are stored in (CLATTN_PARAM_KV_DTYPE, or Q's when -1). */
clattn_dtype problem_kv_dtype(const clattn_problem *p);
double problem_scale(const clattn_problem *p);
void problem_strides(const clattn_problem *p, clattn_tensor t, int64_t out[3]);

/* Query row i sits at key position i + offset: Nk - Nq bottom-right, 0 top-left. */
int64_t problem_position_offset(const clattn_problem *p);

/* Keys visible to query row i are [*lo, *hi); empty when *lo >= *hi. This is the host's
 * restatement of docs/semantics.md used for planning; the reference checks it pair by pair. */
void problem_row_range(const clattn_problem *p, int64_t i, int64_t *lo, int64_t *hi);

/* The build options that carry the problem's score extensions into a kernel (cl/common.cl's
 * SCORE_CAP, ALiBi, sinks, sink tokens, positions per entry and the mask): "" when it has
 * none, else " -DSOFTCAP=..." in the kernel's units (base 2 for the fused kernels, natural for
 * naive's), " -DALIBI=1|2", " -DSINKS", " -DSINK_TOKENS", " -DPOSITIONS_PER_ENTRY",
 * " -DMASK=1|2" and the units' SCORE_UNIT. At most 128 bytes. */
const char *problem_score_options(const clattn_problem *p, int base2, char *out, size_t size);

/* The build options that carry the KV cache's type into a kernel (cl/common.cl's KV_DTYPE):
 * "" when K and V are stored in Q's dtype, else " -DKV_DTYPE=n", and for fp8 the scales as
 * KV_K_SCALE and KV_V_SCALE (f32). Attention kernels take k_scale in the queries' scale
 * (problem_query_scale) and apply KV_V_SCALE to their output; the append applies both. */
const char *problem_kv_options(const clattn_problem *p, char *out, size_t size);

/* " -DVARLEN" for a packed varlen batch (cl/common.cl's VARLEN_PARAMS), else "". */
const char *problem_varlen_options(const clattn_problem *p);

/* The factor the fused kernels multiply q by: scale * log2(e), times an fp8 K cache's
 * k_scale (a factor of every score). */
double problem_query_scale(const clattn_problem *p);

/* Whether the problem is a packed variable-length batch (CLATTN_PARAM_VARLEN). */
static inline int problem_varlen(const clattn_problem *p)
{
    return p->value[CLATTN_PARAM_VARLEN] != 0;
}

/* A paged KV cache: its block table's width (pages per entry), 0 when contiguous. */
int64_t problem_pages_per_seq(const clattn_problem *p);

/* Whether a window bounds the work: every row sees a fixed number of keys however long the
 * sequence (a left bound, and a right bound or the causal edge). */
int problem_window_bounds_work(const clattn_problem *p);

/* Bytes from the buffer offset that a tensor spans (0 on overflow, which check rejects). */
uint64_t problem_tensor_span(const clattn_problem *p, clattn_tensor t);

/* Whether two of a tensor's rows (its d (dv for V and O) contiguous elements at one (batch, seq, head), or
 * for a paged cache (page, token, head)) share an element: a tensor written by many
 * work-items at once (O; K and V when appending) must have none. */
int problem_rows_overlap(const clattn_problem *p, clattn_tensor t);

/* The element count of a tensor's rows that exist (B * N * heads * d, dv for V and O). */
uint64_t problem_tensor_elements(const clattn_problem *p, clattn_tensor t);

#endif
