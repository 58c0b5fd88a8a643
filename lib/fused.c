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
#include "fused.h"
#include "kv_kernel.h"
#include "tuning.h"
#include "pack.h"
#include "program_cache.h"
#include "tile_select.h"

typedef struct fused_impl {
    cl_kernel pack, attend; /* register blocks */
    kv_kernel local;        /* local tiles */
    cl_mem kt, vp;
    register_tiles rt;
    packed_layout layout;
    local_tiles lt;
} fused_impl;

enum { STAGE_PACK = STAGE_APPEND + 1, STAGE_ATTEND }; /* register blocks */

static void fused_release(clattn_plan *plan)
{
    fused_impl *f = plan->impl;
    if (!f)
        return;
    kv_kernel_release(&f->local);
    const cl_kernel kernels[] = {f->pack, f->attend};
    const cl_mem mems[] = {f->kt, f->vp};
    plan_release_impl(plan, kernels, 2, mems, 2);
}

int64_t rows_per_kv_head(const clattn_problem *p)
{
    return problem_get(p, CLATTN_PARAM_SEQ_Q) *
           (problem_get(p, CLATTN_PARAM_HEADS) / problem_kv_heads(p));
}

int64_t row_blocks(const clattn_problem *p, int64_t rows)
{
    return (rows_per_kv_head(p) + rows - 1) / rows;
}

int64_t bkv(const clattn_problem *p)
{
    return problem_get(p, CLATTN_PARAM_BATCH) * problem_kv_heads(p);
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
    args_int(&a, (cl_int)f->layout.nk_pad); /* packed_fits: below 2^31 */
    args_tensor(&a, p, CLATTN_TENSOR_O, b->o, b->o_off);
    args_mem(&a, b->lse);
    args_ulong(&a, b->lse_off);
    args_int(&a, b->lse != NULL);
    args_mask(&a, p);
    args_kv_layout(&a, p, b);
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

static clattn_status registers_setup(clattn_plan *plan, fused_impl *f)
{
    const clattn_problem *p = &plan->problem;
    int tuned;
    char why[512];
    f->rt = register_tiles_for(plan, &tuned, why, sizeof why);
    plan->tiles_tuned = tuned;
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
    static const char *const stages[] = {"append", "pack K,V", "attention"};
    plan_set_stages(plan, 3, stages);
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
                  f->layout.d_pad);
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
    kernel_args a;
    args_begin(&a, plan->ctx, kernel);
    /* one split: every key, no partial outputs */
    args_in_place(&a, p, b, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_KV), 0, NULL, NULL);
    if ((st = args_end(&a, "attend_local")))
        return st;
    size_t local[2] = {(size_t)local_tiles_group(&f->lt), 1};
    size_t global[2] = {(size_t)(bkv(p) * row_blocks(p, f->lt.br)) * local[0], 1};
    return launch_kernel(seq, STAGE_APPEND + 1, kernel, 2, global, local, "attend_local");
}

static const struct plan_ops local_ops = {local_enqueue, fused_release};

/* Says which tiles won and why: the model's factors for them and for the best candidate
 * with another row count. */
static void describe_local_tiles(clattn_plan *plan, const device_limits *l, const local_tiles *lt,
                                 const local_tiles *runner_up, int tuned, const char *why,
                                 size_t kernel_limit, size_t multiple)
{
    const clattn_problem *p = &plan->problem;
    const int64_t d = problem_get(p, CLATTN_PARAM_HEAD_DIM);
    const int64_t key_groups = lt->bc / lt->tn;
    plan_describe(plan,
                  "kernel shape: local tiles (%s: a work-group shares Q, K and V tiles in "
                  "__local memory; each work-item computes a block of scores and of the output "
                  "in registers)",
                  l->local_mem_is_dedicated ? "the device has dedicated local memory"
                                            : "the device vectorises across work-items");
    plan_describe(plan,
                  "tiles: %d query rows x %d keys per work-group of %d; a work-item holds %d "
                  "rows x %d keys of scores and %d rows x %lld output columns (%s%s%s); %llu "
                  "bytes of __local; the kernel allows groups of %zu and prefers multiples of %zu",
                  lt->br, lt->bc, local_tiles_group(lt), lt->tm, lt->tn, lt->tm,
                  (long long)(((d + 3) / 4 + key_groups - 1) / key_groups * 4),
                  tuned ? "measured by clattn_tune on this device"
                        : "from the device's limits, by the tile model's search",
                  why[0] ? "; " : "", why, (unsigned long long)plan->local_mem_bytes,
                  kernel_limit, multiple);
    char line[512];
    local_tiles_explain(l, p, rows_per_kv_head(p), lt, line, sizeof line);
    plan_describe(plan, "tile model, chosen: %s", line);
    if (runner_up && runner_up->br) {
        local_tiles_explain(l, p, rows_per_kv_head(p), runner_up, line, sizeof line);
        plan_describe(plan, "tile model, best with another row count: %s", line);
    }
}

clattn_status local_kernel_build(clattn_plan *plan, local_tiles *lt, kv_kernel *k)
{
    const clattn_problem *p = &plan->problem;
    /* A copy: a device that does not report its SIMD width learns it from the first build. */
    device_limits l = plan->ctx->limits;
    size_t max_group = l.max_work_group_size;
    size_t kernel_limit = 0, multiple = 1;
    /* tiles clattn_tune measured for this class, when they still fit */
    char why[512];
    const char *text = tuning_lookup(plan->ctx->tuning, &l, p, CLATTN_SHAPE_LOCAL_TILES,
                                     plan->algorithm == CLATTN_ALGO_WINDOWED, why, sizeof why);
    local_tiles measured, runner_up = {0, 0, 0, 0, 0};
    int tuned = text && local_tiles_parse(text, &measured) &&
                local_tiles_complete(&l, p, max_group, &measured);
    /* The kernel is compiled for the tiles chosen; what the compiled kernel reports (its
     * register use limits the group size, its preferred multiple is the SIMD width) decides
     * whether they stand. */
    /* A SIMD width learnt from a build (the device did not report one) is a preference: when
     * no tiles of whole widths fit, the search goes on without it. */
    int learned_simd = 0, simd_optional = 0;
    for (int attempt = 0; attempt < 12; attempt++) {
        int found = tuned && attempt == 0;
        if (found)
            *lt = measured;
        else
            found = select_local_tiles(&l, p, rows_per_kv_head(p), max_group, lt, &runner_up);
        if (!found && learned_simd) {
            l.simd_width = 0;
            learned_simd = 0;
            simd_optional = 1;
            found = select_local_tiles(&l, p, rows_per_kv_head(p), max_group, lt, &runner_up);
        }
        if (!found)
            return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                        "head_dim %lld does not fit: no tiles of the local-tiles kernel fit the "
                        "%llu bytes of local memory and %zu work-items '%s' offers",
                        (long long)problem_get(p, CLATTN_PARAM_HEAD_DIM),
                        (unsigned long long)l.local_mem_size, max_group, l.name);
        char options[256];
        snprintf(options, sizeof options, "-DDTYPE=%d -DHEAD_DIM=%d -DBR=%d -DBC=%d -DTM=%d -DTN=%d",
                 (int)problem_get(p, CLATTN_PARAM_DTYPE),
                 (int)problem_get(p, CLATTN_PARAM_HEAD_DIM), lt->br, lt->bc, lt->tm, lt->tn);
        clattn_status st = kv_kernel_build(plan, "tiled_local", "attend_local", options, k);
        if (st)
            return st;
        const cl_kernel kernel = k->kernel;
        cl_int err;
        const cl_ulong kernel_local = kernel_local_mem(&l, plan->ctx->device, kernel, &err);
        if (!err)
            err = clGetKernelWorkGroupInfo(kernel, plan->ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                           sizeof kernel_limit, &kernel_limit, NULL);
        if (!err)
            err = clGetKernelWorkGroupInfo(kernel, plan->ctx->device,
                                           CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                                           sizeof multiple, &multiple, NULL);
        cl_ulong kernel_private = 0;
        if (!err)
            err = clGetKernelWorkGroupInfo(kernel, plan->ctx->device, CL_KERNEL_PRIVATE_MEM_SIZE,
                                           sizeof kernel_private, &kernel_private, NULL);
        if (err)
            return cl_fail(plan->ctx, "clGetKernelWorkGroupInfo", err);
        const size_t group = (size_t)local_tiles_group(lt);
        const cl_ulong device_local = plan->ctx->limits.local_mem_size;
        const int whole_simd = l.simd_width || simd_optional || multiple <= 1 ||
                               group % multiple == 0 || multiple > l.max_work_group_size;
        if (group <= kernel_limit && kernel_local <= device_local && whole_simd) {
            plan->local_mem_bytes = kernel_local ? kernel_local : lt->local_bytes;
            plan->tile_q = lt->br;
            plan->tile_kv = lt->bc;
            plan->work_group_size = (int64_t)group;
            plan->tiles_tuned = tuned && attempt == 0;
            describe_local_tiles(plan, &l, lt, plan->tiles_tuned ? NULL : &runner_up,
                                 plan->tiles_tuned, why, kernel_limit, multiple);
            /* On GPUs private memory is what did not fit the registers: the tile model's
             * register estimate was too low for this compiler (clattn_tune can do better). */
            if (kernel_private && l.local_mem_is_dedicated)
                plan_describe(plan, "the compiled kernel uses %llu bytes of private memory per "
                                    "work-item (on a GPU: registers spilled to memory)",
                              (unsigned long long)kernel_private);
            return CLATTN_SUCCESS;
        }
        kv_kernel_release(k);
        /* search again within what the compiled kernel said */
        if (!whole_simd) {
            l.simd_width = (cl_uint)multiple;
            learned_simd = 1;
        }
        if (group > kernel_limit)
            max_group = kernel_limit < group - 1 ? kernel_limit : group - 1;
        if (kernel_local > device_local) /* it lays out more than the model counts */
            l.local_mem_size = device_local * lt->local_bytes / kernel_local;
    }
    return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED, "no tile size for attend_local fits '%s'",
                l.name);
}

static clattn_status local_setup(clattn_plan *plan, fused_impl *f)
{
    clattn_status st = local_kernel_build(plan, &f->lt, &f->local);
    if (st)
        return st;
    plan->ops = &local_ops;
    static const char *const stages[] = {"append", "attention"};
    plan_set_stages(plan, 2, stages);
    plan_describe(plan, "launch: attend_local over %lld work-groups; no scratch memory",
                  (long long)(bkv(&plan->problem) * row_blocks(&plan->problem, f->lt.br)));
    return CLATTN_SUCCESS;
}

int64_t local_tiles_max_keys(const device_limits *limits)
{
    return !limits->local_mem_is_dedicated && limits->vector_width <= 1 ? 2048 : 0;
}

int64_t merge_max_splits(const device_limits *limits)
{
    return local_tiles_max_keys(limits) ? 8192 : 0;
}

clattn_status fused_setup(clattn_plan *plan)
{
    const clattn_problem *p = &plan->problem;
    if (problem_get(p, CLATTN_PARAM_BATCH) * problem_get(p, CLATTN_PARAM_HEADS) > 2147483647 ||
        rows_per_kv_head(p) > 2147483647)
        return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                    "batch * heads or seq_q * heads exceeds the kernels' 32-bit row index");
    fused_impl *f = calloc(1, sizeof *f);
    if (!f)
        return fail(plan->ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    plan->impl = f;
    /* Set before anything can fail, so that clattn_plan_destroy frees f and what a failed
     * setup had put in it; registers_setup replaces it (both release with fused_release). */
    plan->ops = &local_ops;
    plan->shape = select_shape(&plan->ctx->limits);
    if (plan->shape == CLATTN_SHAPE_REGISTER_BLOCKS) {
        int tuned;
        char why[512];
        register_tiles rt = register_tiles_for(plan, &tuned, why, sizeof why);
        packed_layout layout = select_packed_layout(&rt, p);
        if (packed_fits(&plan->ctx->limits, &layout))
            return registers_setup(plan, f);
        plan->shape = CLATTN_SHAPE_LOCAL_TILES;
        plan_describe(plan,
                      "packed K and V (%.1f MiB) would not fit the device's allocation limit: "
                      "using local tiles, which read K and V in place",
                      (double)(layout.kt_bytes + layout.vp_bytes) / 1048576.0);
    }
    const int64_t max_keys = local_tiles_max_keys(&plan->ctx->limits);
    if (max_keys && problem_get(p, CLATTN_PARAM_SEQ_KV) > max_keys) {
        plan_describe(plan, "keys split into runs of at most %lld per work-group and merged by "
                            "LSE (see local_tiles_max_keys in lib/fused.h)",
                      (long long)max_keys);
        free(f);
        plan->impl = NULL;
        return decode_setup(plan);
    }
    return local_setup(plan, f);
}
