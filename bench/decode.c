#include "decode.h"

#include "decode_compare.h"
#include "decode_loop.h"
#include "diag.h"
#include "run.h"
#include "shape.h"

int decode_prepare(const struct bench_options *opt, struct decode_job *job)
{
    *job = (struct decode_job){.dtype = opt->dtype};
    if (opt->decode == BENCH_DECODE_COMPARE)
        decode_layout_for_compare(opt, &job->layout);
    else
        decode_layout_for_loop(opt, &job->layout);
    int rc = shape_for_decode(opt, job->layout.capacity, job->layout.num_pages, &job->problem);
    if (rc)
        return rc;
    int64_t heads, kv_heads, head_dim;
    clattn_status st = clattn_problem_get(job->problem, CLATTN_PARAM_HEADS, &heads);
    if (!st)
        st = clattn_problem_get(job->problem, CLATTN_PARAM_KV_HEADS, &kv_heads);
    if (!st)
        st = clattn_problem_get(job->problem, CLATTN_PARAM_HEAD_DIM, &head_dim);
    if (st)
        return fail_clattn(NULL, st, "reading a problem");
    job->dims = (struct decode_dims){heads, kv_heads ? kv_heads : heads, head_dim,
                                     clattn_dtype_size(opt->dtype)};
    return 0;
}

void decode_job_free(struct decode_job *job)
{
    clattn_problem_destroy(job->problem);
    job->problem = NULL;
}

int decode_run(struct bench_session *s, const struct decode_job *job)
{
    return s->opt->decode == BENCH_DECODE_COMPARE ? decode_compare_run(s, job)
                                                  : decode_loop_run(s, job);
}

int decode_plan_create(struct bench_session *s, const struct decode_job *job,
                       clattn_algorithm requested, struct decode_plan *out)
{
    *out = (struct decode_plan){.requested = requested, .splits = 1};
    int rc = run_plan_create(s, job->problem, requested, 0, &out->plan, &out->build_ms);
    if (rc)
        return rc;
    int64_t algo = 0;
    clattn_status st = clattn_plan_get(out->plan, CLATTN_PLAN_ALGORITHM, &algo);
    if (!st)
        st = clattn_plan_get(out->plan, CLATTN_PLAN_SCRATCH_BYTES, &out->scratch_bytes);
    if (!st && algo == CLATTN_ALGO_DECODE)
        st = clattn_plan_get(out->plan, CLATTN_PLAN_SPLITS, &out->splits);
    if (st) {
        clattn_plan_destroy(out->plan);
        out->plan = NULL;
        return fail_clattn(s->ctx, st, "reading the plan");
    }
    out->algo = (clattn_algorithm)algo;
    return 0;
}

void decode_row_fill(const struct bench_session *s, const struct decode_job *job,
                     const struct decode_plan *plan, uint64_t cache_bytes, int64_t step,
                     struct bench_row *row)
{
    const struct decode_layout *l = &job->layout;
    double flops = 0, bytes = 0;
    for (int64_t b = 0; b < l->batch; b++) {
        const int64_t keys = decode_layout_start(l, b) + step;
        flops += decode_step_flops(&job->dims, keys);
        bytes += decode_step_bytes(&job->dims, keys);
    }
    row->requested = plan->requested;
    row->algo = plan->algo;
    row->batch = l->batch;
    row->heads = job->dims.heads;
    row->kv_heads = job->dims.kv_heads;
    row->seq_q = 1;
    row->seq_kv = decode_layout_longest(l, step);
    row->head_dim = job->dims.head_dim;
    row->window_left = row->window_right = -1;
    row->causal = 1;
    row->align = CLATTN_ALIGN_BOTTOM_RIGHT;
    row->dtype = job->dtype;
    row->build_ms = plan->build_ms;
    row->flops = (uint64_t)flops;
    row->bytes = (uint64_t)bytes;
    row->scratch_bytes = plan->scratch_bytes;
    row->decode.step = step;
    row->decode.capacity = l->capacity;
    row->decode.page_size = l->page_size;
    row->decode.splits = plan->splits;
    row->decode.cache_bytes = cache_bytes;
    /* Timed runs of a step read the same keys again: when they fit the last-level cache, they
     * come from there, not from the memory whose bandwidth the peak's copy measures. */
    row->decode.cache_resident =
        s->device.global_cache > 0 && row->bytes <= s->device.global_cache;
}
