#include "decode_compare.h"

#include <stdlib.h>

#include "decode_report.h"
#include "kv_cache.h"
#include "progress.h"
#include "run.h"

static const clattn_algorithm compared[] = {CLATTN_ALGO_DECODE, CLATTN_ALGO_TILED};
enum { COMPARED = sizeof compared / sizeof *compared };

/* One algorithm's row: the step by a plan of its own, on the shared cache. */
static int measure(struct bench_session *s, const struct decode_job *job,
                   clattn_algorithm algo, struct kv_cache *cache, struct bench_row *row)
{
    struct decode_plan plan;
    int rc = decode_plan_create(s, job, algo, &plan);
    if (rc)
        return rc;
    /* the plan's scratch is allocated when the plan is made: checked before it runs */
    const struct memory_need need = {
        .what = "the plan's scratch beside the KV cache",
        .device_held = memory_add((uint64_t)plan.scratch_bytes, kv_cache_device_bytes(cache))};
    if ((rc = session_check_memory(s, &need))) {
        clattn_plan_destroy(plan.plan);
        return rc;
    }
    *row = (struct bench_row){.kind = ROW_DECODE_COMPARE};
    decode_row_fill(s, job, &plan, kv_cache_bytes(cache), 1, row);
    struct kv_step step = {plan.plan, cache};
    if (s->opt->check)
        rc = kv_cache_poison_outputs(cache, s->queue);
    if (!rc)
        rc = run_timed(s, plan.plan, kv_cache_enqueue_step, &step, row);
    if (!rc)
        row->decode.tokens_per_s = (double)job->layout.batch / (row->ms_wall * 1e-3);
    if (!rc && s->opt->check)
        rc = kv_cache_check_step(cache, s->queue, row);
    clattn_plan_destroy(plan.plan);
    if (rc) {
        free(row->stages);
        row->stages = NULL;
    }
    return rc;
}

int decode_compare_run(struct bench_session *s, const struct decode_job *job)
{
    struct kv_cache *cache = NULL;
    int rc = kv_cache_create(s, job->problem, &job->layout, s->opt->check, 0, &cache);
    if (!rc)
        decode_print_compare_header(s->table, s, job, kv_cache_bytes(cache));
    struct bench_row rows[COMPARED];
    struct progress progress;
    progress_init(&progress, s->opt);
    int measured = 0;
    for (; measured < COMPARED && !rc; measured++) {
        progress_show(&progress, "compare: %s at %lld keys", algo_name(compared[measured]),
                      (long long)job->layout.capacity);
        rc = measure(s, job, compared[measured], cache, &rows[measured]);
    }
    progress_clear(&progress);
    kv_cache_destroy(cache);
    if (rc) {
        for (int i = 0; i < measured - 1; i++) /* the failed one freed its own */
            free(rows[i].stages);
        return rc;
    }
    const double tiled_ms = rows[COMPARED - 1].ms;
    for (int i = 0; i < COMPARED && !rc; i++) {
        rows[i].decode.speedup_vs_tiled = tiled_ms / rows[i].ms;
        rc = session_add_row(s, &rows[i]); /* the session owns the stages from here */
        if (rc)
            for (int j = i + 1; j < COMPARED; j++)
                free(rows[j].stages);
    }
    if (!rc)
        decode_print_compare_result(s->table, s, &rows[0], &rows[COMPARED - 1]);
    return rc;
}
