/* Packing K and V for the register-block kernels (cl/pack.cl), shared by the fused and the
 * naive algorithms. */
#include "pack.h"

#include <stdio.h>

#include "program_cache.h"

clattn_status pack_build(clattn_plan *plan, const register_tiles *rt, cl_kernel *pack)
{
    const clattn_problem *p = &plan->problem;
    char options[256], kv_extras[96], dv[24];
    snprintf(options, sizeof options, "-DDTYPE=%d -DHEAD_DIM=%d%s -DVW=%d%s%s",
             (int)problem_get(p, CLATTN_PARAM_DTYPE), (int)problem_get(p, CLATTN_PARAM_HEAD_DIM),
             problem_dv_option(p, dv, sizeof dv), rt->vw,
             problem_kv_options(p, kv_extras, sizeof kv_extras), problem_varlen_options(p));
    cl_program program;
    clattn_status st = program_get(plan->ctx, "pack", options, &program);
    if (!st)
        st = program_kernel(plan->ctx, program, "pack_kv", pack);
    return st;
}

clattn_status pack_enqueue(clattn_plan *plan, struct launch_sequence *seq, int stage,
                           cl_kernel pack, const attn_buffers *b, cl_mem kt, cl_mem vp,
                           const register_tiles *rt, const packed_layout *layout)
{
    const clattn_problem *p = &plan->problem;
    kernel_args a;
    args_begin(&a, plan->ctx, pack);
    args_tensor(&a, p, CLATTN_TENSOR_K, b->k, b->k_off);
    args_tensor(&a, p, CLATTN_TENSOR_V, b->v, b->v_off);
    args_mem(&a, kt);
    args_mem(&a, vp);
    args_int(&a, (cl_int)problem_kv_heads(p));
    args_int(&a, (cl_int)problem_get(p, CLATTN_PARAM_SEQ_KV));
    args_int(&a, (cl_int)layout->nk_pad); /* callers keep it below 2^31 */
    args_int(&a, rt->kv_vecs * rt->vw);
    args_kv_layout(&a, p, b);
    args_varlen(&a, p, b);
    clattn_status st = args_end(&a, "pack_kv");
    if (st)
        return st;
    size_t global[2] = {(size_t)(layout->entry_keys / rt->vw),
                        (size_t)(problem_get(p, CLATTN_PARAM_BATCH) * problem_kv_heads(p))};
    return launch_kernel(seq, stage, pack, 2, global, NULL, "pack_kv");
}
