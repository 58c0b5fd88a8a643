#include "naive_clblast.h"

#include <clblast_c.h>
#include <pthread.h>

#include "message.h"

/* CLBlastSgemmStridedBatched, not SgemmBatched: the latter copies its offset arrays to the
 * device with blocking writes, which deadlocks when the queue is waiting on an event the
 * caller has yet to signal. Strided batches need uniform steps, so the heads of a chunk are
 * taken in runs: with one query head per kv head, a whole batch entry at once (K steps by
 * its head stride); with groups, the query heads of one kv head (K does not step). */
/* CLBlast before 1.6.1 races when two threads compile the same routine at once: both miss its
 * program cache, and the second store fails inside CLBlast (seen as "std::bad_alloc", status
 * -2039; CLBlast issue #486, fixed by #495 in 1.6.1). Debian 12 ships 1.5.3, so every call is
 * made under one process-wide lock. The calls only enqueue, apart from a routine's first
 * compilation, so the lock is held briefly. */
static pthread_mutex_t clblast_lock = PTHREAD_MUTEX_INITIALIZER;

clattn_status clblast_product(clattn_plan *plan, struct launch_sequence *seq, int stage,
                              int scores, const attn_buffers *b, cl_mem s, int s_stride,
                              int64_t z0, int64_t zc, int64_t i0, int64_t rows)
{
    const clattn_problem *p = &plan->problem;
    const int64_t heads = problem_get(p, CLATTN_PARAM_HEADS);
    const int64_t group = heads / problem_kv_heads(p);
    const int64_t d = problem_get(p, CLATTN_PARAM_HEAD_DIM), nk = problem_get(p, CLATTN_PARAM_SEQ_KV);
    const int64_t dv = problem_head_dim_v(p); /* P V's columns */
    int64_t qs[3], ks[3], vs[3], os[3];
    problem_strides(p, CLATTN_TENSOR_Q, qs);
    problem_strides(p, CLATTN_TENSOR_K, ks);
    problem_strides(p, CLATTN_TENSOR_V, vs);
    problem_strides(p, CLATTN_TENSOR_O, os);
    const size_t s_head = (size_t)(rows * s_stride);
    clattn_status st = launch_external_begin(seq);
    for (int64_t z = z0; !st && z < z0 + zc;) {
        const int64_t bi = z / heads, h = z % heads, g = h / group;
        const int64_t run_end = group == 1 ? heads : (g + 1) * group;
        const int64_t count = run_end - h < z0 + zc - z ? run_end - h : z0 + zc - z;
        const size_t s_off = (size_t)(z - z0) * s_head;
        const size_t kv_step = group == 1 ? (size_t)ks[2] : 0, v_step = group == 1 ? (size_t)vs[2] : 0;
        cl_event event = NULL;
        CLBlastStatusCode code;
        pthread_mutex_lock(&clblast_lock);
        if (scores)
            code = CLBlastSgemmStridedBatched(
                CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes, (size_t)rows,
                (size_t)nk, (size_t)d, 1.0f, b->q,
                (size_t)(b->q_off + (cl_ulong)(bi * qs[0] + i0 * qs[1] + h * qs[2])),
                (size_t)qs[1], (size_t)qs[2], b->k,
                (size_t)(b->k_off + (cl_ulong)(bi * ks[0] + g * ks[2])), (size_t)ks[1], kv_step,
                0.0f, s, s_off, (size_t)s_stride, s_head, (size_t)count, &seq->queue, &event);
        else
            code = CLBlastSgemmStridedBatched(
                CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, (size_t)rows,
                (size_t)dv, (size_t)nk, 1.0f, s, s_off, (size_t)s_stride, s_head, b->v,
                (size_t)(b->v_off + (cl_ulong)(bi * vs[0] + g * vs[2])), (size_t)vs[1], v_step,
                0.0f, b->o, (size_t)(b->o_off + (cl_ulong)(bi * os[0] + i0 * os[1] + h * os[2])),
                (size_t)os[1], (size_t)os[2], (size_t)count, &seq->queue, &event);
        pthread_mutex_unlock(&clblast_lock);
        if (code != CLBlastSuccess)
            return fail(plan->ctx, CLATTN_ERROR_OPENCL,
                        "CLBlastSgemmStridedBatched (%s) failed with CLBlast status %d",
                        scores ? "Q K^T" : "P V", (int)code);
        st = launch_external_event(seq, stage, event);
        z += count;
    }
    return st;
}
