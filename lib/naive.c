/* The naive algorithm: the unfused pipeline of cl/naive.cl with the score matrix in global
 * memory, split into chunks of heads and query rows when it does not fit one allocation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "launch.h"
#include "message.h"
#include "pack.h"
#include "plan.h"
#include "program_cache.h"
#include "tile_select.h"
#ifdef CLATTN_HAVE_CLBLAST
#include "naive_clblast.h"
#endif

typedef struct naive_impl {
    cl_kernel pack, scores, scale_mask, softmax, pv;
    cl_mem kt, vp, s;
    register_tiles rt;
    packed_layout layout;
    int s_stride;
    int64_t z_chunk, row_chunk;
    int clblast;
} naive_impl;

/* Stage indices; with CLBlast there is no packing, and the others move up by one. */
enum { STAGE_PACK, STAGE_QK, STAGE_SCALE_MASK, STAGE_SOFTMAX, STAGE_PV };
#define STAGE(n, s) ((s) - (n)->clblast)

static void naive_release(clattn_plan *plan)
{
    naive_impl *n = plan->impl;
    if (!n)
        return;
    const cl_kernel kernels[] = {n->pack, n->scores, n->scale_mask, n->softmax, n->pv};
    const cl_mem mems[] = {n->kt, n->vp, n->s};
    plan_release_impl(plan, kernels, 5, mems, 3);
}

static clattn_status enqueue_chunk(clattn_plan *plan, struct launch_sequence *seq,
                                   const attn_buffers *b, int64_t z0, int64_t zc, int64_t i0,
                                   int64_t rows)
{
    naive_impl *n = plan->impl;
    const clattn_problem *p = &plan->problem;
    const int64_t heads = problem_get(p, CLATTN_PARAM_HEADS);
    const int vw = n->rt.vw, bc = n->rt.kv_vecs * n->rt.vw, R = n->rt.rows;
    kernel_args a;
    clattn_status st;

    if (n->clblast) {
#ifdef CLATTN_HAVE_CLBLAST
        st = clblast_product(plan, seq, STAGE(n, STAGE_QK), 1, b, n->s, n->s_stride, z0, zc, i0,
                             rows);
        if (st)
            return st;
#endif
    } else {
        args_begin(&a, plan->ctx, n->scores);
        args_tensor(&a, p, CLATTN_TENSOR_Q, b->q, b->q_off);
        args_mem(&a, n->kt);
        args_int(&a, n->s_stride);
        args_int(&a, (cl_int)heads);
        args_int(&a, (cl_int)(heads / problem_kv_heads(p)));
        args_int(&a, (cl_int)z0);
        args_int(&a, (cl_int)i0);
        args_int(&a, (cl_int)rows);
        args_mem(&a, n->s);
        args_int(&a, n->s_stride);
        if ((st = args_end(&a, "naive_scores")))
            return st;
        size_t g[3] = {(size_t)(n->s_stride / bc), (size_t)((rows + R - 1) / R), (size_t)zc};
        if ((st = launch_kernel(seq, STAGE(n, STAGE_QK), n->scores, 3, g, NULL, "naive_scores")))
            return st;
    }

    args_begin(&a, plan->ctx, n->scale_mask);
    args_mem(&a, n->s);
    args_int(&a, n->s_stride);
    args_int(&a, (cl_int)i0);
    args_int(&a, (cl_int)rows);
    args_int(&a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_KV));
    args_long(&a, b->positioned ? b->pos_shift : problem_position_offset(p));
    args_int(&a, (cl_int)problem_get(p, CLATTN_PARAM_CAUSAL));
    args_long(&a, problem_get(p, CLATTN_PARAM_WINDOW_LEFT));
    args_long(&a, problem_get(p, CLATTN_PARAM_WINDOW_RIGHT));
    args_float(&a, (cl_float)problem_scale(p));
    /* cl/naive.cl: the chunk's entries for their slopes, starts and mask rows */
    if (problem_get(p, CLATTN_PARAM_ALIBI) != CLATTN_ALIBI_NONE ||
        problem_get(p, CLATTN_PARAM_POSITIONS) == CLATTN_POSITIONS_PER_ENTRY ||
        problem_get(p, CLATTN_PARAM_MASK) != CLATTN_MASK_NONE) {
        args_int(&a, (cl_int)z0);
        args_int(&a, (cl_int)heads);
        args_int(&a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_Q));
    }
    args_alibi(&a, p, b);
    args_sink_tokens(&a, p, b);
    args_positions(&a, p, b);
    args_additive_mask(&a, p, b);
    if ((st = args_end(&a, "naive_scale_mask")))
        return st;
    size_t gm[3] = {(size_t)(n->s_stride / vw), (size_t)rows, (size_t)zc};
    if ((st = launch_kernel(seq, STAGE(n, STAGE_SCALE_MASK), n->scale_mask, 3, gm, NULL,
                            "naive_scale_mask")))
        return st;

    args_begin(&a, plan->ctx, n->softmax);
    args_mem(&a, n->s);
    args_int(&a, n->s_stride);
    args_int(&a, (cl_int)z0);
    args_int(&a, (cl_int)i0);
    args_int(&a, (cl_int)rows);
    args_int(&a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_Q));
    args_mem(&a, b->lse);
    args_ulong(&a, b->lse_off);
    args_int(&a, b->lse != NULL);
    if (problem_get(p, CLATTN_PARAM_SINKS)) { /* cl/naive.cl */
        args_int(&a, (cl_int)heads);
        args_sinks(&a, p, b);
    }
    if ((st = args_end(&a, "naive_softmax")))
        return st;
    size_t gs[2] = {(size_t)rows, (size_t)zc};
    if ((st = launch_kernel(seq, STAGE(n, STAGE_SOFTMAX), n->softmax, 2, gs, NULL, "naive_softmax")))
        return st;

    if (n->clblast) {
#ifdef CLATTN_HAVE_CLBLAST
        return clblast_product(plan, seq, STAGE(n, STAGE_PV), 0, b, n->s, n->s_stride, z0, zc, i0,
                               rows);
#endif
    }
    args_begin(&a, plan->ctx, n->pv);
    args_mem(&a, n->s);
    args_int(&a, n->s_stride);
    args_mem(&a, n->vp);
    args_int(&a, n->s_stride);
    args_int(&a, (cl_int)heads);
    args_int(&a, (cl_int)(heads / problem_kv_heads(p)));
    args_int(&a, (cl_int)z0);
    args_int(&a, (cl_int)i0);
    args_int(&a, (cl_int)rows);
    args_tensor(&a, p, CLATTN_TENSOR_O, b->o, b->o_off);
    if ((st = args_end(&a, "naive_pv")))
        return st;
    size_t gp[2] = {(size_t)((rows + R - 1) / R), (size_t)zc};
    return launch_kernel(seq, STAGE(n, STAGE_PV), n->pv, 2, gp, NULL, "naive_pv");
}

static clattn_status naive_enqueue(clattn_plan *plan, struct launch_sequence *seq,
                                   const attn_buffers *b)
{
    naive_impl *n = plan->impl;
    const clattn_problem *p = &plan->problem;
    clattn_status st;
    if (!n->clblast &&
        (st = pack_enqueue(plan, seq, STAGE_PACK, n->pack, b, n->kt, n->vp, &n->rt, &n->layout)))
        return st;
    const int64_t z_total = problem_get(p, CLATTN_PARAM_BATCH) * problem_get(p, CLATTN_PARAM_HEADS);
    const int64_t nq = problem_get(p, CLATTN_PARAM_SEQ_Q);
    for (int64_t z0 = 0; z0 < z_total; z0 += n->z_chunk)
        for (int64_t i0 = 0; i0 < nq; i0 += n->row_chunk) {
            int64_t zc = z_total - z0 < n->z_chunk ? z_total - z0 : n->z_chunk;
            int64_t rows = nq - i0 < n->row_chunk ? nq - i0 : n->row_chunk;
            if ((st = enqueue_chunk(plan, seq, b, z0, zc, i0, rows)))
                return st;
        }
    return CLATTN_SUCCESS;
}

static const struct plan_ops naive_ops = {naive_enqueue, naive_release};

/* CLBlast is tuned for GPUs and slow where it is untuned (about 20 GFLOP/s on PoCL against
 * 80+ for the register-blocked products), so it takes the products on devices that get local
 * tiles, in f32, when the strides are ones a BLAS accepts. CLATTN_NAIVE_GEMM=clblast|own
 * (`forced`, NULL when unset) overrides the device rule (tests run both). */
static int want_clblast(clattn_plan *plan, const char *forced, const char **why)
{
    const clattn_problem *p = &plan->problem;
#ifndef CLATTN_HAVE_CLBLAST
    (void)p;
    (void)forced;
    *why = "clattn was built without CLBlast";
    return 0;
#else
    if (problem_get(p, CLATTN_PARAM_DTYPE) != CLATTN_DTYPE_F32) {
        *why = "CLBlast takes f32 storage only";
        return 0;
    }
    for (int t = CLATTN_TENSOR_Q; t <= CLATTN_TENSOR_O; t++) {
        int64_t s[3];
        problem_strides(p, (clattn_tensor)t, s);
        const int64_t row = t == CLATTN_TENSOR_V || t == CLATTN_TENSOR_O
                                ? problem_head_dim_v(p)
                                : problem_get(p, CLATTN_PARAM_HEAD_DIM);
        if (s[1] < row) {
            *why = "a sequence stride below its row's length is no BLAS leading dimension";
            return 0;
        }
    }
    /* CLBlast passes offsets and strides to its kernels as int */
    for (int t = CLATTN_TENSOR_Q; t <= CLATTN_TENSOR_O; t++)
        if (problem_tensor_span(p, (clattn_tensor)t) / 4 > 2147483647u) {
            *why = "a tensor beyond 2^31 elements, which CLBlast indexes with int";
            return 0;
        }
    if (forced && strcmp(forced, "clblast") == 0) {
        *why = "CLATTN_NAIVE_GEMM=clblast";
        return 1;
    }
    if (forced) {
        *why = "CLATTN_NAIVE_GEMM=own";
        return 0;
    }
    if (select_shape(&plan->ctx->limits) == CLATTN_SHAPE_LOCAL_TILES) {
        *why = "CLBlast's kernels are tuned for devices like this one";
        return 1;
    }
    *why = "on CPU-like devices clattn's register-blocked products outrun untuned CLBlast";
    return 0;
#endif
}

/* Splits the B*H x Nq x Nk score matrix into chunks that each fit one allocation and half
 * the global memory: whole heads when a head fits, else blocks of query rows. */
static clattn_status choose_chunks(clattn_plan *plan, naive_impl *n, uint64_t other_bytes)
{
    const clattn_problem *p = &plan->problem;
    const device_limits *l = &plan->ctx->limits;
    const int64_t z_total = problem_get(p, CLATTN_PARAM_BATCH) * problem_get(p, CLATTN_PARAM_HEADS);
    const int64_t nq = problem_get(p, CLATTN_PARAM_SEQ_Q);
    uint64_t budget = l->global_mem_size / 2 > other_bytes ? l->global_mem_size / 2 - other_bytes : 0;
    if (budget > l->max_alloc_size)
        budget = l->max_alloc_size;
    if (n->clblast && budget > ((uint64_t)1 << 33)) /* CLBlast indexes S with int */
        budget = (uint64_t)1 << 33;
    const uint64_t row_bytes = (uint64_t)n->s_stride * 4, head_bytes = row_bytes * (uint64_t)nq;
    if (head_bytes <= budget) {
        n->row_chunk = nq;
        n->z_chunk = (int64_t)(budget / head_bytes) < z_total ? (int64_t)(budget / head_bytes) : z_total;
    } else {
        n->z_chunk = 1;
        n->row_chunk = (int64_t)(budget / row_bytes) / n->rt.rows * n->rt.rows;
        if (n->row_chunk < n->rt.rows)
            return fail(plan->ctx, CLATTN_ERROR_DEVICE_OUT_OF_MEMORY,
                        "naive: %d query rows of %lld scores (%.1f MiB) exceed the device's "
                        "memory budget for the score matrix (%.1f MiB)",
                        n->rt.rows, (long long)problem_get(p, CLATTN_PARAM_SEQ_KV),
                        (double)(row_bytes * (uint64_t)n->rt.rows) / 1048576.0,
                        (double)budget / 1048576.0);
    }
    plan->chunks = (z_total + n->z_chunk - 1) / n->z_chunk * ((nq + n->row_chunk - 1) / n->row_chunk);
    return CLATTN_SUCCESS;
}

static clattn_status build_kernels(clattn_plan *plan, naive_impl *n)
{
    const clattn_problem *p = &plan->problem;
    char options[256];
    char extras[128], dv[24];
    snprintf(options, sizeof options, "-DDTYPE=%d -DHEAD_DIM=%d%s -DVW=%d -DROWS=%d -DKV_VECS=%d%s",
             (int)problem_get(p, CLATTN_PARAM_DTYPE), (int)problem_get(p, CLATTN_PARAM_HEAD_DIM),
             problem_dv_option(p, dv, sizeof dv), n->rt.vw, n->rt.rows, n->rt.kv_vecs,
             problem_score_options(p, 0, extras, sizeof extras));
    cl_program program;
    clattn_status st = program_get(plan->ctx, "naive", options, &program);
    if (!st)
        st = program_kernel(plan->ctx, program, "naive_scale_mask", &n->scale_mask);
    if (!st)
        st = program_kernel(plan->ctx, program, "naive_softmax", &n->softmax);
    if (!st && !n->clblast)
        st = program_kernel(plan->ctx, program, "naive_scores", &n->scores);
    if (!st && !n->clblast)
        st = program_kernel(plan->ctx, program, "naive_pv", &n->pv);
    if (!st && !n->clblast)
        st = pack_build(plan, &n->rt, &n->pack);
    return st;
}

/* The override is checked on every naive plan, so that a misspelt value is an error and not a
 * silent fall-back to the device rule. */
static clattn_status naive_gemm_override(const clattn_context *ctx, const char **forced)
{
    *forced = getenv("CLATTN_NAIVE_GEMM");
    if (!*forced || strcmp(*forced, "clblast") == 0 || strcmp(*forced, "own") == 0)
        return CLATTN_SUCCESS;
    return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT,
                "CLATTN_NAIVE_GEMM='%.64s' is neither 'clblast' nor 'own'", *forced);
}

/* Where a kernel's loops end early after a budget of iterations (llvmpipe, lib/device_quirks.h),
 * naive's own kernels must fit it: naive_pv walks every key and, per key, the vectors of a V row
 * (a loop the compiler may keep), and naive_softmax walks the row of scores three times. A
 * problem past that is refused, never computed short. */
static clattn_status check_loop_budget(clattn_plan *plan, const naive_impl *n)
{
    const int64_t budget = plan->ctx->limits.quirks.loop_budget;
    if (!budget)
        return CLATTN_SUCCESS;
    const int64_t d = problem_head_dim_v(&plan->problem), vw = n->rt.vw; /* PV's rows */
    const int64_t d_vecs = (d + vw - 1) / vw, rows = n->rt.rows;
    const int64_t usable = budget - budget / 5; /* a fifth kept for the loops not counted */
    const int64_t pv = (int64_t)n->s_stride * (d_vecs + 1) + rows * (d + 1);
    const int64_t softmax = 3 * ((int64_t)n->s_stride / vw + 1);
    if (pv <= usable && softmax <= usable)
        return CLATTN_SUCCESS;
    const int64_t keys = (usable - rows * (d + 1)) / (d_vecs + 1);
    return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                "naive: this device ends a kernel's loops after %lld iterations "
                "(lib/device_quirks.h), and its PV over %d keys of head_dim_v %lld would take "
                "about %lld: at most %lld keys here; plan tiled, which splits the keys",
                (long long)budget, n->s_stride, (long long)d, (long long)(pv > softmax ? pv : softmax),
                (long long)(keys > 0 ? keys : 0));
}

clattn_status naive_setup(clattn_plan *plan)
{
    const clattn_problem *p = &plan->problem;
    if (problem_varlen(p))
        return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                    "naive does not take packed variable-length batches; plan tiled or "
                    "windowed");
    if (problem_kv_dtype(p) != (clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE)) {
        static const char *const types[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "fp8_e4m3",
                                            "fp8_e5m2"};
        return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                    "naive reads K and V in Q's dtype only, not a %s KV cache; plan decode, "
                    "tiled or windowed",
                    types[problem_kv_dtype(p)]);
    }
    const char *forced;
    clattn_status st = naive_gemm_override(plan->ctx, &forced);
    if (st)
        return st;
    naive_impl *n = calloc(1, sizeof *n);
    if (!n)
        return fail(plan->ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    plan->impl = n;
    plan->ops = &naive_ops;
    plan->shape = CLATTN_SHAPE_NONE;
    const char *why;
    n->clblast = want_clblast(plan, forced, &why);
    n->rt = select_register_tiles(&plan->ctx->limits, p, problem_get(p, CLATTN_PARAM_SEQ_Q), 0);
    n->layout = select_packed_layout(&n->rt, p);
    if (n->layout.nk_pad > 2147483647)
        return fail(plan->ctx, CLATTN_ERROR_UNSUPPORTED,
                    "naive: %lld keys exceed the kernels' 32-bit row of scores",
                    (long long)problem_get(p, CLATTN_PARAM_SEQ_KV));
    n->s_stride = (int)n->layout.nk_pad;
    if (!n->clblast && (st = check_loop_budget(plan, n)))
        return st;
    uint64_t packed = n->clblast ? 0 : n->layout.kt_bytes + n->layout.vp_bytes;
    st = choose_chunks(plan, n, packed);
    if (!st)
        st = build_kernels(plan, n);
    if (!st && !n->clblast)
        st = plan_alloc(plan, (size_t)n->layout.kt_bytes, "transposed K", &n->kt);
    if (!st && !n->clblast)
        st = plan_alloc(plan, (size_t)n->layout.vp_bytes, "packed V", &n->vp);
    if (!st)
        st = plan_alloc(plan, (size_t)((uint64_t)n->z_chunk * (uint64_t)n->row_chunk *
                                       (uint64_t)n->s_stride * 4),
                        "the score matrix", &n->s);
    if (st)
        return st;
    plan->uses_clblast = n->clblast;
    plan->tile_q = n->row_chunk;
    plan->tile_kv = n->s_stride;
    plan->work_group_size = 0; /* the implementation's choice */
    static const char *const stages[] = {"pack K,V", "QK^T", "scale+mask", "softmax", "PV"};
    plan_set_stages(plan, 5 - n->clblast, stages + n->clblast);
    plan_describe(plan, "products: %s (%s)", n->clblast ? "CLBlast SGEMM, strided batches over heads"
                                                        : "clattn's register-blocked kernels",
                  why);
    plan_describe(plan,
                  "score matrix: %lld heads x %lld rows x %d keys per chunk, %lld chunk%s, "
                  "%.1f MiB of scratch in all",
                  (long long)n->z_chunk, (long long)n->row_chunk, n->s_stride,
                  (long long)plan->chunks, plan->chunks == 1 ? "" : "s",
                  (double)plan->scratch_bytes / 1048576.0);
    return CLATTN_SUCCESS;
}
