/* The plan: what will run for one problem on one context, decided and compiled before any
 * call. Each algorithm fills in its ops and private state (lib/dispatch.c says which). */
#ifndef CLATTN_PLAN_H
#define CLATTN_PLAN_H

#include "clattn.h"
#include "context.h"
#include "problem.h"

#define PLAN_MAX_STAGES 6
/* Every plan that takes a KV cache times its append (clattn_enqueue_kvcache) as stage 0. */
#define STAGE_APPEND 0

struct launch_sequence;

/* The caller's buffers for one call, offsets converted to elements. */
typedef struct attn_buffers {
    cl_mem q, k, v, o, lse;
    cl_ulong q_off, k_off, v_off, o_off, lse_off;
    cl_mem kv_lens; /* int32 [B] keys per entry, or NULL: every entry has seq_kv */
    cl_mem pages;   /* int32 block table of a paged cache, or NULL: contiguous */
    cl_ulong kv_lens_off, pages_off;
    int appended;   /* rows this call appends to each entry (counted in its length) */
    /* Positions given with the call (CLATTN_POSITIONS_PER_CALL): row i sits at key position
     * i + pos_shift, pos_shift = q_start - k_start; per entry (CLATTN_POSITIONS_PER_ENTRY)
     * the kernels find each entry's shift; otherwise the problem's alignment. */
    int positioned;
    cl_long pos_shift;
    /* f32 ALiBi slopes and sink logits (CLATTN_ARG_ALIBI_SLOPES, _SINKS), exactly when the
     * problem has them; element offsets. */
    cl_mem slopes, sinks;
    cl_ulong slopes_off, sinks_off;
    /* int32 [B] starts (CLATTN_ARG_Q_START, _K_START) of positions per entry, exactly when
     * the problem takes them; element offsets. */
    cl_mem q_starts, k_starts;
    cl_ulong q_starts_off, k_starts_off;
    cl_long k_start; /* positions per call: the first key's position (for sink tokens) */
    /* The additive mask (CLATTN_ARG_MASK), exactly when the problem has one; element offset. */
    cl_mem mask;
    cl_ulong mask_off;
} attn_buffers;

/* The events of the last enqueue, per stage, for clattn_plan_stage_time. */
typedef struct stage_record {
    const char *name;
    cl_event *events;
    size_t count, capacity;
} stage_record;

struct plan_ops {
    /* Enqueues the work; every kernel goes through launch_sequence (lib/launch.h). */
    clattn_status (*enqueue)(clattn_plan *plan, struct launch_sequence *seq,
                             const attn_buffers *buffers);
    /* Frees the algorithm's private state (kernels, scratch). */
    void (*release)(clattn_plan *plan);
};

struct clattn_plan {
    clattn_context *ctx;
    clattn_problem problem;
    clattn_algorithm algorithm;
    clattn_kernel_shape shape;
    int64_t tile_q, tile_kv, work_group_size, chunks, uses_clblast, splits;
    int tiles_tuned; /* the fused kernel runs tiles clattn_tune measured */
    cl_ulong local_mem_bytes, scratch_bytes;
    const struct plan_ops *ops;
    void *impl;
    char *description;

    stage_record stages[PLAN_MAX_STAGES];
    int stage_count;

    /* Kernels built on first use: appending to a KV cache, merging two results. */
    cl_kernel append, merge_pair;

    /* Device copies for clattn_run_host, allocated on first use and reused. */
    cl_mem host_buffers[5];
    size_t host_buffer_bytes[5];
};

/* Appends a formatted line to the plan's description. */
void plan_describe(clattn_plan *plan, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Names the stages an algorithm enqueues, in order. */
void plan_set_stages(clattn_plan *plan, int count, const char *const *names);

/* Allocates a device buffer of `bytes` for the plan's scratch, checking the device's
 * maximum allocation first so that a too-large problem gets a status, not a driver error. */
clattn_status plan_alloc(clattn_plan *plan, size_t bytes, const char *what, cl_mem *out);

/* Releases an algorithm's private state: its kernels and buffers (NULL entries skipped), then
 * plan->impl itself. For the algorithms' plan_ops.release. */
void plan_release_impl(clattn_plan *plan, const cl_kernel *kernels, size_t kernel_count,
                       const cl_mem *mems, size_t mem_count);

#endif
