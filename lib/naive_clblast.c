#include "naive_clblast.h"

#include <clblast_c.h>

#include "message.h"

clattn_status clblast_product(clattn_plan *plan, struct launch_sequence *seq, int stage,
                              int scores, const attn_buffers *b, cl_mem s, int s_stride,
                              int64_t z0, int64_t zc, int64_t i0, int64_t rows, size_t *offsets,
                              float *scalars)
{
    const clattn_problem *p = &plan->problem;
    const int64_t heads = problem_get(p, CLATTN_PARAM_HEADS);
    const int64_t group = heads / problem_kv_heads(p);
    const int64_t d = problem_get(p, CLATTN_PARAM_HEAD_DIM), nk = problem_get(p, CLATTN_PARAM_SEQ_KV);
    int64_t qs[3], ks[3], vs[3], os[3];
    problem_strides(p, CLATTN_TENSOR_Q, qs);
    problem_strides(p, CLATTN_TENSOR_K, ks);
    problem_strides(p, CLATTN_TENSOR_V, vs);
    problem_strides(p, CLATTN_TENSOR_O, os);
    size_t *a_off = offsets, *b_off = offsets + zc, *c_off = offsets + 2 * zc;
    float *alphas = scalars, *betas = scalars + zc;
    for (int64_t n = 0; n < zc; n++) {
        const int64_t z = z0 + n, bi = z / heads, h = z % heads, g = h / group;
        const size_t s_off = (size_t)(n * rows * s_stride);
        if (scores) {
            a_off[n] = (size_t)(b->q_off + (cl_ulong)(bi * qs[0] + i0 * qs[1] + h * qs[2]));
            b_off[n] = (size_t)(b->k_off + (cl_ulong)(bi * ks[0] + g * ks[2]));
            c_off[n] = s_off;
        } else {
            a_off[n] = s_off;
            b_off[n] = (size_t)(b->v_off + (cl_ulong)(bi * vs[0] + g * vs[2]));
            c_off[n] = (size_t)(b->o_off + (cl_ulong)(bi * os[0] + i0 * os[1] + h * os[2]));
        }
        alphas[n] = 1.0f;
        betas[n] = 0.0f;
    }
    clattn_status st = launch_external_begin(seq);
    if (st)
        return st;
    cl_event event = NULL;
    CLBlastStatusCode code;
    if (scores)
        code = CLBlastSgemmBatched(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes,
                                   (size_t)rows, (size_t)nk, (size_t)d, alphas, b->q, a_off,
                                   (size_t)qs[1], b->k, b_off, (size_t)ks[1], betas, s, c_off,
                                   (size_t)s_stride, (size_t)zc, &seq->queue, &event);
    else
        code = CLBlastSgemmBatched(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo,
                                   (size_t)rows, (size_t)d, (size_t)nk, alphas, s, a_off,
                                   (size_t)s_stride, b->v, b_off, (size_t)vs[1], betas, b->o,
                                   c_off, (size_t)os[1], (size_t)zc, &seq->queue, &event);
    if (code != CLBlastSuccess)
        return fail(plan->ctx, CLATTN_ERROR_OPENCL, "CLBlastSgemmBatched (%s) failed with code %d",
                    scores ? "Q K^T" : "P V", (int)code);
    launch_external_end(seq, stage, event);
    return CLATTN_SUCCESS;
}
