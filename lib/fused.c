/* The fused algorithms, tiled and windowed: one attention kernel with online softmax, in the
 * shape that suits the device (register blocks on CPU-like devices, __local tiles on GPUs).
 * Windowed is the same kernel family with blocks sized to the window; both launch only the
 * key blocks that some row of a tile can see. lib/dispatch.c chooses between the shapes. */
#include <stdio.h>
#include <stdlib.h>

#include "cl_error.h"
#include "dispatch.h"
#include "kernel_build.h"
#include "launch.h"
#include "mask_tiles.h"
#include "message.h"
#include "pack.h"
#include "program_cache.h"
#include "tuning.h"

typedef struct fused_impl {
    cl_kernel pack, attend; /* register blocks */
    kv_kernel local;        /* local tiles */
    cl_mem kt, vp;
    register_tiles rt;
    packed_layout layout;
    local_tiles lt;
    mask_tiles mt;
} fused_impl;

/* Register blocks; local tiles have STAGE_PACK's index for their attention, and classify the
 * mask (when there is one) as the stage after it. */
enum { STAGE_PACK = STAGE_APPEND + 1, STAGE_ATTEND, STAGE_MASK_REGISTERS };
#define STAGE_MASK_LOCAL (STAGE_APPEND + 2)

static void fused_release(clattn_plan *plan)
{
    fused_impl *f = plan->impl;
    if (!f)
        return;
    kv_kernel_release(&f->local);
    mask_tiles_release(&f->mt);
    const cl_kernel kernels[] = {f->pack, f->attend};
    const cl_mem mems[] = {f->kt, f->vp};
    plan_release_impl(plan, kernels, 2, mems, 2);
}

/* The plan's private state, with `ops` set before anything can fail, so that
 * clattn_plan_destroy frees it and what a failed setup had put in it. */
static fused_impl *impl_new(clattn_plan *plan, const struct plan_ops *ops)
{
    fused_impl *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    plan->impl = f;
    plan->ops = ops;
    return f;
}

clattn_status fused_check(const clattn_plan *plan)
{
    const clattn_problem *p = &plan->problem;
    if (problem_get(p, CLATTN_PARAM_BATCH) * problem_get(p, CLATTN_PARAM_HEADS) > 2147483647 ||
        rows_per_kv_head(p) > 2147483647)
        return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                    "batch * heads or seq_q * heads exceeds the kernels' 32-bit row index");
    return CLATTN_SUCCESS;
}

/* ---- register blocks ---------------------------------------------------------------------- */

static clattn_status registers_enqueue(clattn_plan *plan, struct launch_sequence *seq,
                                       const attn_buffers *b)
{
    fused_impl *f = plan->impl;
    const clattn_problem *p = &plan->problem;
    clattn_status st = pack_enqueue(plan, seq, STAGE_PACK, f->pack, b, f->kt, f->vp, &f->rt,
                                    &f->layout);
    if (!st)
        st = mask_tiles_enqueue(plan, seq, STAGE_MASK_REGISTERS, &f->mt, b);
    if (st)
        return st;
    kernel_args a;
    args_begin(&a, plan->ctx, f->attend);
    args_tensor(&a, p, CLATTN_TENSOR_Q, b->q, b->q_off);
    args_mem(&a, f->kt);
    args_mem(&a, f->vp);
    args_int(&a, (cl_int)f->layout.nk_pad); /* packed_fits: below 2^31 */
    args_tensor(&a, p, CLATTN_TENSOR_O, b->o, b->o_off);
    args_mem(&a, b->lse);
    args_ulong(&a, b->lse_off);
    args_int(&a, b->lse != NULL);
    args_mask(&a, p, b);
    args_kv_layout(&a, p, b);
    args_extras(&a, p, b);
    args_mask_tiles(&a, p, &f->mt);
    if ((st = args_end(&a, "attend_registers")))
        return st;
    size_t global = (size_t)(bkv(p) * row_blocks(p, f->rt.rows * f->rt.groups)), local = 1;
    return launch_kernel(seq, STAGE_ATTEND, f->attend, 1, &global, &local, "attend_registers");
}

static const struct plan_ops registers_ops = {registers_enqueue, fused_release};

/* Whether packed K and V fit the device; when not, the caller falls back to local tiles. */
static int packed_fits(const device_limits *l, const packed_layout *k)
{
    return k->nk_pad <= 2147483647 && k->kt_bytes <= l->max_alloc_size &&
           k->vp_bytes <= l->max_alloc_size && k->kt_bytes + k->vp_bytes <= l->global_mem_size / 2;
}

/* The tiles from the device's limits, or those clattn_tune measured for this class of
 * problem; *tuned says which, and `why` why not the measured ones when there are some. */
static register_tiles register_tiles_for(const clattn_plan *plan, int *tuned, char *why,
                                         size_t why_size)
{
    const clattn_problem *p = &plan->problem;
    const int windowed = plan->algorithm == CLATTN_ALGO_WINDOWED;
    register_tiles t = select_register_tiles(&plan->ctx->limits, p, rows_per_kv_head(p), windowed);
    const char *text = tuning_lookup(plan->ctx->tuning, &plan->ctx->limits, p,
                                     CLATTN_SHAPE_REGISTER_BLOCKS, windowed, why, why_size);
    register_tiles measured = t;
    *tuned = text && register_tiles_parse(text, &measured);
    return *tuned ? measured : t;
}

int fused_registers_take(const clattn_plan *plan, char *why, size_t size)
{
    int tuned;
    char tuning_why[512];
    register_tiles rt = register_tiles_for(plan, &tuned, tuning_why, sizeof tuning_why);
    packed_layout layout = select_packed_layout(&rt, &plan->problem);
    if (packed_fits(&plan->ctx->limits, &layout))
        return 1;
    snprintf(why, size, "packed K and V (%.1f MiB) would not fit the device's allocation limit",
             (double)(layout.kt_bytes + layout.vp_bytes) / 1048576.0);
    return 0;
}

clattn_status fused_registers_setup(clattn_plan *plan)
{
    fused_impl *f = impl_new(plan, &registers_ops);
    if (!f)
        return fail(plan->ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    const clattn_problem *p = &plan->problem;
    int tuned;
    char why[512];
    f->rt = register_tiles_for(plan, &tuned, why, sizeof why);
    plan->tiles_tuned = tuned;
    f->layout = select_packed_layout(&f->rt, p);
    char options[384], extras[128], kv_extras[96], dv[24];
    snprintf(options, sizeof options,
             "-DDTYPE=%d -DHEAD_DIM=%d%s -DVW=%d -DROWS=%d -DGROUPS=%d -DKV_VECS=%d -DDV_CHUNK=%d"
             "%s%s%s%s",
             (int)problem_get(p, CLATTN_PARAM_DTYPE), (int)problem_get(p, CLATTN_PARAM_HEAD_DIM),
             problem_dv_option(p, dv, sizeof dv), f->rt.vw, f->rt.rows, f->rt.groups, f->rt.kv_vecs, f->rt.dv_chunk,
             problem_score_options(p, 1, extras, sizeof extras),
             problem_kv_options(p, kv_extras, sizeof kv_extras), problem_varlen_options(p),
             mask_tiles_option(p));
    cl_program program;
    clattn_status st = program_get(plan->ctx, "tiled_registers", options, &program);
    if (!st)
        st = program_kernel(plan->ctx, program, "attend_registers", &f->attend);
    if (!st)
        st = pack_build(plan, &f->rt, &f->pack);
    if (!st)
        st = plan_alloc(plan, (size_t)f->layout.kt_bytes, "transposed K", &f->kt);
    if (!st)
        st = plan_alloc(plan, (size_t)f->layout.vp_bytes, "packed V", &f->vp);
    if (!st) /* a group of rows against a block of keys: the kernel's unit of skipping */
        st = mask_tiles_setup(plan, f->rt.rows, f->rt.kv_vecs * f->rt.vw, &f->mt);
    if (st)
        return st;
    plan->tile_q = f->rt.rows * f->rt.groups;
    plan->tile_kv = f->rt.kv_vecs * f->rt.vw;
    plan->work_group_size = 1;
    static const char *const stages[] = {"append", "pack K,V", "attention", "mask tiles"};
    plan_set_stages(plan, f->mt.classify ? 4 : 3, stages);
    plan_describe(plan,
                  "kernel shape: register blocks (local memory is ordinary memory here, so no "
                  "__local and no barriers: one work-item per work-group)");
    plan_describe(plan,
                  "tiles: %d x %d query rows per work-item against blocks of %d keys (%d x %d "
                  "independent FMA chains of float%d), output updated %d vectors at a time; "
                  "each block is reused by the %d groups while it is in L1 (%s%s%s)",
                  f->rt.groups, f->rt.rows, f->rt.kv_vecs * f->rt.vw, f->rt.rows,
                  f->rt.kv_vecs, f->rt.vw, f->rt.dv_chunk, f->rt.groups,
                  tuned ? "measured by clattn_tune on this device" : "from the device's limits",
                  why[0] ? "; " : "", why);
    plan_describe(plan,
                  "scratch: %.2f MiB: K transposed to f32 in blocks of %d keys, V padded to %d "
                  "columns",
                  (double)plan->scratch_bytes / 1048576.0, f->rt.kv_vecs * f->rt.vw,
                  f->layout.dv_pad);
    plan_describe(plan, "launch: pack_kv, then attend_registers over %lld work-groups of 1",
                  (long long)(bkv(p) * row_blocks(p, f->rt.rows * f->rt.groups)));
    return CLATTN_SUCCESS;
}

/* ---- local tiles -------------------------------------------------------------------------- */

static clattn_status local_enqueue(clattn_plan *plan, struct launch_sequence *seq,
                                   const attn_buffers *b)
{
    fused_impl *f = plan->impl;
    const clattn_problem *p = &plan->problem;
    cl_kernel kernel;
    clattn_status st = kv_kernel_for_call(plan, &f->local, b, &kernel);
    if (st)
        return st;
    if ((st = mask_tiles_enqueue(plan, seq, STAGE_MASK_LOCAL, &f->mt, b)))
        return st;
    kernel_args a;
    args_begin(&a, plan->ctx, kernel);
    /* one split: every key, no partial outputs */
    args_in_place(&a, p, b, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_KV), 0, NULL, NULL);
    args_mask_tiles(&a, p, &f->mt);
    if ((st = args_end(&a, "attend_local")))
        return st;
    size_t local[2] = {(size_t)local_tiles_group(&f->lt), 1};
    size_t global[2] = {(size_t)(bkv(p) * row_blocks(p, f->lt.br)) * local[0], 1};
    return launch_kernel(seq, STAGE_APPEND + 1, kernel, 2, global, local, "attend_local");
}

static const struct plan_ops local_ops = {local_enqueue, fused_release};

clattn_status fused_local_setup(clattn_plan *plan)
{
    fused_impl *f = impl_new(plan, &local_ops);
    if (!f)
        return fail(plan->ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    clattn_status st = local_kernel_build(plan, &f->lt, &f->local);
    if (!st)
        st = mask_tiles_setup(plan, f->lt.br, f->lt.bc, &f->mt);
    if (st)
        return st;
    static const char *const stages[] = {"append", "attention", "mask tiles"};
    plan_set_stages(plan, f->mt.classify ? 3 : 2, stages);
    plan_describe(plan, "launch: attend_local over %lld work-groups; no scratch memory",
                  (long long)(bkv(&plan->problem) * row_blocks(&plan->problem, f->lt.br)));
    return CLATTN_SUCCESS;
}
