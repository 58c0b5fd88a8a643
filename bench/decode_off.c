#include "decode_off.h"

#include <math.h>
#include <stdlib.h>

#include "diag.h"
#include "inputs.h"
#include "progress.h"
#include "run.h"
#include "shape.h"

/* Whether the prefill's inputs fit beside its plan's scratch. */
static int fits(struct bench_session *s, const clattn_problem *problem, const clattn_plan *plan,
                int *fit)
{
    int64_t scratch = 0;
    clattn_status st = clattn_plan_get(plan, CLATTN_PLAN_SCRATCH_BYTES, &scratch);
    if (st)
        return fail_clattn(s->ctx, st, "reading the plan");
    return inputs_fit(s, problem, scratch, fit);
}

/* One prefill of `seq` tokens; *ms is NaN when the device or the host cannot hold it. */
static int measure(struct bench_session *s, const clattn_problem *decode, int64_t seq,
                   double *ms)
{
    clattn_problem *problem = NULL;
    clattn_plan *plan = NULL;
    struct bench_inputs *in = NULL;
    struct bench_row row = {.algo = CLATTN_ALGO_TILED};
    double build_ms;
    int fit = 0;
    *ms = NAN;
    int rc = shape_for_prefill(decode, seq, &problem);
    if (!rc)
        rc = run_plan_create(s, problem, CLATTN_ALGO_TILED, 1, &plan, &build_ms);
    if (!rc && plan)
        rc = fits(s, problem, plan, &fit);
    if (!rc && fit)
        rc = inputs_create(s, problem, &in);
    if (!rc && fit)
        rc = run_timed_inputs(s, plan, in, &row);
    if (!rc && fit)
        *ms = row.ms;
    free(row.stages); /* --profile's, which the cache-off figures do not show */
    inputs_destroy(in);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(problem);
    return rc;
}

int decode_off_measure(struct bench_session *s, const clattn_problem *decode,
                       const int64_t *lengths, size_t count, double *ms)
{
    struct progress progress;
    progress_init(&progress, s->opt);
    int rc = 0;
    size_t i = 0;
    for (; i < count && !rc; i++) {
        if (i > 0) {
            const double growth = (double)lengths[i] / (double)lengths[i - 1];
            if (isnan(ms[i - 1]) || ms[i - 1] * growth * growth > DECODE_OFF_BUDGET_MS)
                break;
        }
        progress_show(&progress, "cache off: prefill at %lld keys [%zu/%zu]",
                      (long long)lengths[i], i + 1, count);
        rc = measure(s, decode, lengths[i], &ms[i]);
    }
    progress_clear(&progress);
    for (; i < count; i++)
        ms[i] = NAN;
    return rc;
}
