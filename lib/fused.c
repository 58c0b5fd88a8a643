/* The fused algorithms, tiled and windowed: one attention kernel with online softmax, in the
 * shape that suits the device (register blocks on CPU-like devices, __local tiles on GPUs).
 * Windowed is the same kernel family with blocks sized to the window; both launch only the
 * key blocks that some row of a tile can see. */
#include <stdio.h>
#include <stdlib.h>

#include "cl_error.h"
#include "launch.h"
#include "message.h"
#include "plan.h"
#include "pack.h"
#include "program_cache.h"
#include "tile_select.h"

typedef struct fused_impl {
    cl_kernel pack, attend;
    cl_mem kt, vp;
    register_tiles rt;
    packed_layout layout;
    local_tiles lt;
} fused_impl;

enum { STAGE_PACK, STAGE_ATTEND };

static void fused_release(clattn_plan *plan)
{
    fused_impl *f = plan->impl;
    if (!f)
        return;
    if (f->pack)
        clReleaseKernel(f->pack);
    if (f->attend)
        clReleaseKernel(f->attend);
    if (f->kt)
        clReleaseMemObject(f->kt);
    if (f->vp)
        clReleaseMemObject(f->vp);
    free(f);
    plan->impl = NULL;
}

/* Arguments every attention kernel takes after its tensors: the shape and the mask. */
static void mask_args(kernel_args *a, const clattn_problem *p)
{
    int64_t heads = problem_get(p, CLATTN_PARAM_HEADS);
    args_int(a, (cl_int)heads);
    args_int(a, (cl_int)(heads / problem_kv_heads(p)));
    args_int(a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_Q));
    args_int(a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_KV));
    args_long(a, problem_position_offset(p));
    args_int(a, (cl_int)problem_get(p, CLATTN_PARAM_CAUSAL));
    args_long(a, problem_get(p, CLATTN_PARAM_WINDOW_LEFT));
    args_long(a, problem_get(p, CLATTN_PARAM_WINDOW_RIGHT));
    args_float(a, (cl_float)(problem_scale(p) * 1.4426950408889634)); /* base 2: common.cl */
}

static int64_t row_blocks(const clattn_problem *p, int64_t rows)
{
    return (problem_get(p, CLATTN_PARAM_SEQ_Q) + rows - 1) / rows;
}

static int64_t bh(const clattn_problem *p)
{
    return problem_get(p, CLATTN_PARAM_BATCH) * problem_get(p, CLATTN_PARAM_HEADS);
}

/* ---- register blocks ---------------------------------------------------------------------- */

static clattn_status registers_enqueue(clattn_plan *plan, struct launch_sequence *seq,
                                       const attn_buffers *b)
{
    fused_impl *f = plan->impl;
    const clattn_problem *p = &plan->problem;
    clattn_status st = pack_enqueue(plan, seq, STAGE_PACK, f->pack, b, f->kt, f->vp, &f->rt,
                                    &f->layout);
    if (st)
        return st;
    kernel_args a;
    args_begin(&a, plan->ctx, f->attend);
    args_tensor(&a, p, CLATTN_TENSOR_Q, b->q, b->q_off);
    args_mem(&a, f->kt);
    args_mem(&a, f->vp);
    args_int(&a, f->layout.nk_pad);
    args_tensor(&a, p, CLATTN_TENSOR_O, b->o, b->o_off);
    args_mem(&a, b->lse);
    args_ulong(&a, b->lse_off);
    args_int(&a, b->lse != NULL);
    mask_args(&a, p);
    if ((st = args_end(&a, "attend_registers")))
        return st;
    size_t global = (size_t)(bh(p) * row_blocks(p, f->rt.rows * f->rt.groups)), local = 1;
    return launch_kernel(seq, STAGE_ATTEND, f->attend, 1, &global, &local, "attend_registers");
}

static const struct plan_ops registers_ops = {registers_enqueue, fused_release};

/* Whether packed K and V fit the device; when not, the caller falls back to local tiles. */
static int packed_fits(const device_limits *l, const packed_layout *k)
{
    return k->kt_bytes <= l->max_alloc_size && k->vp_bytes <= l->max_alloc_size &&
           k->kt_bytes + k->vp_bytes <= l->global_mem_size / 2;
}

static clattn_status registers_setup(clattn_plan *plan, fused_impl *f)
{
    const clattn_problem *p = &plan->problem;
    f->rt = select_register_tiles(&plan->ctx->limits, p, plan->algorithm == CLATTN_ALGO_WINDOWED);
    f->layout = select_packed_layout(&f->rt, p);
    char options[256];
    snprintf(options, sizeof options,
             "-DDTYPE=%d -DHEAD_DIM=%d -DVW=%d -DROWS=%d -DGROUPS=%d -DKV_VECS=%d -DDV_CHUNK=%d",
             (int)problem_get(p, CLATTN_PARAM_DTYPE), (int)problem_get(p, CLATTN_PARAM_HEAD_DIM),
             f->rt.vw, f->rt.rows, f->rt.groups, f->rt.kv_vecs, f->rt.dv_chunk);
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
    if (st)
        return st;
    plan->tile_q = f->rt.rows * f->rt.groups;
    plan->tile_kv = f->rt.kv_vecs * f->rt.vw;
    plan->work_group_size = 1;
    plan->ops = &registers_ops;
    static const char *const stages[] = {"pack K,V", "attention"};
    plan_set_stages(plan, 2, stages);
    plan_describe(plan,
                  "kernel shape: register blocks (local memory is ordinary memory here, so no "
                  "__local and no barriers: one work-item per work-group)");
    plan_describe(plan,
                  "tiles: %d x %d query rows per work-item against blocks of %d keys (%d x %d "
                  "independent FMA chains of float%d), output updated %d vectors at a time; "
                  "each block is reused by the %d groups while it is in L1",
                  f->rt.groups, f->rt.rows, f->rt.kv_vecs * f->rt.vw, f->rt.rows,
                  f->rt.kv_vecs, f->rt.vw, f->rt.dv_chunk, f->rt.groups);
    plan_describe(plan,
                  "scratch: %.2f MiB: K transposed to f32 in blocks of %d keys, V padded to %d "
                  "columns",
                  (double)plan->scratch_bytes / 1048576.0, f->rt.kv_vecs * f->rt.vw,
                  f->layout.d_pad);
    plan_describe(plan, "launch: pack_kv, then attend_registers over %lld work-groups of 1",
                  (long long)(bh(p) * row_blocks(p, f->rt.rows * f->rt.groups)));
    return CLATTN_SUCCESS;
}

/* ---- local tiles -------------------------------------------------------------------------- */

static clattn_status local_enqueue(clattn_plan *plan, struct launch_sequence *seq,
                                   const attn_buffers *b)
{
    fused_impl *f = plan->impl;
    const clattn_problem *p = &plan->problem;
    kernel_args a;
    args_begin(&a, plan->ctx, f->attend);
    args_tensor(&a, p, CLATTN_TENSOR_Q, b->q, b->q_off);
    args_tensor(&a, p, CLATTN_TENSOR_K, b->k, b->k_off);
    args_tensor(&a, p, CLATTN_TENSOR_V, b->v, b->v_off);
    args_tensor(&a, p, CLATTN_TENSOR_O, b->o, b->o_off);
    args_mem(&a, b->lse);
    args_ulong(&a, b->lse_off);
    args_int(&a, b->lse != NULL);
    mask_args(&a, p);
    clattn_status st = args_end(&a, "attend_local");
    if (st)
        return st;
    size_t local = (size_t)(f->lt.br * f->lt.tpr);
    size_t global = (size_t)(bh(p) * row_blocks(p, f->lt.br)) * local;
    return launch_kernel(seq, 0, f->attend, 1, &global, &local, "attend_local");
}

static const struct plan_ops local_ops = {local_enqueue, fused_release};

static clattn_status local_setup(clattn_plan *plan, fused_impl *f)
{
    const clattn_problem *p = &plan->problem;
    const device_limits *l = &plan->ctx->limits;
    size_t max_group = l->max_work_group_size;
    size_t kernel_limit = 0, multiple = 1;
    /* The kernel is compiled for the tiles chosen; what the compiled kernel reports (its
     * register use limits the group size) decides whether they stand. */
    for (int attempt = 0; attempt < 12; attempt++) {
        if (!select_local_tiles(l, p, max_group, &f->lt))
            return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                        "head_dim %lld does not fit: even one query row and one key need more "
                        "than the %llu bytes of local memory '%s' has",
                        (long long)problem_get(p, CLATTN_PARAM_HEAD_DIM),
                        (unsigned long long)l->local_mem_size, l->name);
        char options[256];
        snprintf(options, sizeof options,
                 "-DDTYPE=%d -DHEAD_DIM=%d -DBR=%d -DBC=%d -DTPR=%d -DLDS_STRIDE=%d",
                 (int)problem_get(p, CLATTN_PARAM_DTYPE),
                 (int)problem_get(p, CLATTN_PARAM_HEAD_DIM), f->lt.br, f->lt.bc, f->lt.tpr,
                 f->lt.lds_stride);
        cl_program program;
        clattn_status st = program_get(plan->ctx, "tiled_local", options, &program);
        if (!st)
            st = program_kernel(plan->ctx, program, "attend_local", &f->attend);
        if (st)
            return st;
        cl_ulong kernel_local = 0;
        cl_int err = clGetKernelWorkGroupInfo(f->attend, plan->ctx->device,
                                              CL_KERNEL_WORK_GROUP_SIZE, sizeof kernel_limit,
                                              &kernel_limit, NULL);
        if (!err)
            err = clGetKernelWorkGroupInfo(f->attend, plan->ctx->device, CL_KERNEL_LOCAL_MEM_SIZE,
                                           sizeof kernel_local, &kernel_local, NULL);
        if (!err)
            err = clGetKernelWorkGroupInfo(f->attend, plan->ctx->device,
                                           CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                                           sizeof multiple, &multiple, NULL);
        if (err)
            return cl_fail(plan->ctx, "clGetKernelWorkGroupInfo", err);
        size_t group = (size_t)(f->lt.br * f->lt.tpr);
        if (group <= kernel_limit && kernel_local <= l->local_mem_size) {
            plan->local_mem_bytes = kernel_local ? kernel_local : f->lt.local_bytes;
            break;
        }
        clReleaseKernel(f->attend);
        f->attend = NULL;
        if (group <= 1)
            return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                        "attend_local compiled for '%s' supports no work-group of %zu",
                        l->name, group);
        max_group = group / 2 < kernel_limit ? group / 2 : kernel_limit;
    }
    if (!f->attend)
        return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                    "no tile size for attend_local fits '%s'", l->name);
    plan->tile_q = f->lt.br;
    plan->tile_kv = f->lt.bc;
    plan->work_group_size = f->lt.br * f->lt.tpr;
    plan->ops = &local_ops;
    static const char *const stages[] = {"attention"};
    plan_set_stages(plan, 1, stages);
    plan_describe(plan,
                  "kernel shape: local tiles (%s: a work-group shares Q, K and V tiles in "
                  "__local memory)",
                  l->local_mem_is_dedicated ? "the device has dedicated local memory"
                                            : "the device vectorises across work-items");
    plan_describe(plan,
                  "tiles: %d query rows x %d keys per work-group of %d (%d work-items per row, "
                  "%d output columns each); %llu bytes of __local; kernel allows groups of %zu, "
                  "prefers multiples of %zu",
                  f->lt.br, f->lt.bc, f->lt.br * f->lt.tpr, f->lt.tpr,
                  (int)((problem_get(p, CLATTN_PARAM_HEAD_DIM) + f->lt.tpr - 1) / f->lt.tpr),
                  (unsigned long long)plan->local_mem_bytes, kernel_limit, multiple);
    plan_describe(plan, "launch: attend_local over %lld work-groups; no scratch memory",
                  (long long)(bh(p) * row_blocks(p, f->lt.br)));
    return CLATTN_SUCCESS;
}

clattn_status fused_setup(clattn_plan *plan)
{
    const clattn_problem *p = &plan->problem;
    if (bh(p) > 2147483647)
        return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                    "batch * heads = %lld exceeds the kernels' 32-bit head index",
                    (long long)bh(p));
    fused_impl *f = calloc(1, sizeof *f);
    if (!f)
        return fail(plan->ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    plan->impl = f;
    /* Set before anything can fail, so that clattn_plan_destroy frees f and what a failed
     * setup had put in it; registers_setup replaces it (both release with fused_release). */
    plan->ops = &local_ops;
    plan->shape = select_shape(&plan->ctx->limits);
    if (plan->shape == CLATTN_SHAPE_REGISTER_BLOCKS) {
        register_tiles rt = select_register_tiles(&plan->ctx->limits, p,
                                                  plan->algorithm == CLATTN_ALGO_WINDOWED);
        packed_layout layout = select_packed_layout(&rt, p);
        if (packed_fits(&plan->ctx->limits, &layout))
            return registers_setup(plan, f);
        plan->shape = CLATTN_SHAPE_LOCAL_TILES;
        plan_describe(plan,
                      "packed K and V (%.1f MiB) would not fit the device's allocation limit: "
                      "using local tiles, which read K and V in place",
                      (double)(layout.kt_bytes + layout.vp_bytes) / 1048576.0);
    }
    return local_setup(plan, f);
}
