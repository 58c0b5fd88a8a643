#include "decode_loop.h"

#include <math.h>
#include <stdlib.h>

#include "decode_off.h"
#include "decode_report.h"
#include "diag.h"
#include "kv_cache.h"
#include "progress.h"
#include "run.h"

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts and removes duplicates; returns the new count. */
static size_t sort_unique(int64_t *values, size_t count)
{
    qsort(values, count, sizeof *values, compare_int64);
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        if (n == 0 || values[i] != values[n - 1])
            values[n++] = values[i];
    return n;
}

/* The steps reported: 1, the powers of two, and every eighth of the way (ceil(k T / 8)).
 * The powers show the latency from an almost empty cache on; the eighths space the samples
 * evenly enough for the trapezoid rule over a quadratic cost to be within 1%. */
static int sample_steps(int64_t tokens, int64_t **out, size_t *count)
{
    int64_t *steps = malloc((32 + 8) * sizeof *steps); /* tokens < 2^31: 31 powers at most */
    if (!steps)
        return fail_host_memory();
    size_t n = 0;
    for (int64_t p = 1; p <= tokens; p *= 2)
        steps[n++] = p;
    for (int64_t k = 1; k <= 8; k++)
        steps[n++] = (k * tokens + 7) / 8;
    *count = sort_unique(steps, n);
    *out = steps;
    return 0;
}

/* A sampled step: --warmup and --iters runs of it, and the check. */
static int sample(struct bench_session *s, const struct decode_job *job,
                  const struct decode_plan *plan, struct kv_cache *cache, struct kv_step *step,
                  int64_t t, struct bench_row *row)
{
    *row = (struct bench_row){.kind = ROW_DECODE_STEP};
    decode_row_fill(s, job, plan, kv_cache_bytes(cache), t, row);
    row->decode.off_ms = row->decode.cum_on_ms = row->decode.cum_off_ms = NAN;
    row->decode.cum_flops_ratio = NAN;
    int rc = s->opt->check ? kv_cache_poison_outputs(cache, s->queue) : 0;
    if (!rc)
        rc = run_timed(s, plan->plan, kv_cache_enqueue_step, step, row);
    if (!rc)
        row->decode.tokens_per_s = (double)job->layout.batch / (row->ms_wall * 1e-3);
    if (!rc && s->opt->check)
        rc = kv_cache_check_step(cache, s->queue, row);
    if (rc) {
        free(row->stages);
        row->stages = NULL;
    }
    return rc;
}

/* Steps 1..T; the sampled ones become rows. *ms (by the session's clock) and *wall_ms sum every
 * step once (the median of a sampled one). */
static int run_steps(struct bench_session *s, const struct decode_job *job,
                     const struct decode_plan *plan, struct kv_cache *cache,
                     const int64_t *steps, size_t count, double *ms, double *wall_ms)
{
    const int64_t tokens = job->layout.tokens;
    const int64_t every = tokens / 100 > 1 ? tokens / 100 : 1; /* progress updates */
    struct kv_step step = {plan->plan, cache};
    struct progress progress;
    progress_init(&progress, s->opt);
    *ms = *wall_ms = 0;
    size_t next = 0;
    int rc = 0;
    for (int64_t t = 1; t <= tokens && !rc; t++) {
        kv_cache_set_step(cache, t);
        if (t % every == 0 || t == 1)
            progress_show(&progress, "decode: step %lld of %lld", (long long)t,
                          (long long)tokens);
        if (next < count && steps[next] == t) {
            struct bench_row row;
            rc = sample(s, job, plan, cache, &step, t, &row);
            if (!rc) {
                *ms += row.ms;
                *wall_ms += row.ms_wall;
                progress_clear(&progress);
                rc = session_add_row(s, &row); /* the session owns the row's stages now */
            }
            next++;
        } else {
            double device, wall;
            rc = run_once(s, plan->plan, kv_cache_enqueue_step, &step, &device, &wall, NULL);
            if (!rc) {
                *ms += s->clock == BENCH_CLOCK_WALL ? wall : device;
                *wall_ms += wall;
            }
        }
        if (!rc && s->opt->check)
            kv_cache_mirror_step(cache);
    }
    progress_clear(&progress);
    return rc;
}

/* The index of `value` in the sorted `values`, which hold it. */
static size_t find(const int64_t *values, size_t count, int64_t value)
{
    const int64_t *at = bsearch(&value, values, count, sizeof *values, compare_int64);
    return (size_t)(at - values);
}

/* Times the cache-off prefills every sampled step needs and completes the rows
 * rows[first..first+count) with them and with the cumulative sums. */
static int cache_off(struct bench_session *s, const struct decode_job *job,
                     const int64_t *steps, size_t count, size_t first)
{
    const struct decode_layout *l = &job->layout;
    const size_t needed = count * (size_t)l->batch;
    int64_t *lengths = malloc(needed * sizeof *lengths);
    double *prefill_ms = malloc(needed * sizeof *prefill_ms);
    double *on = malloc(count * sizeof *on), *off = malloc(count * sizeof *off);
    int rc = lengths && prefill_ms && on && off ? 0 : fail_host_memory();
    size_t distinct = 0;
    if (!rc) {
        for (size_t k = 0; k < count; k++)
            for (int64_t b = 0; b < l->batch; b++)
                lengths[k * (size_t)l->batch + (size_t)b] = decode_layout_start(l, b) + steps[k];
        distinct = sort_unique(lengths, needed);
        rc = decode_off_measure(s, job->problem, lengths, distinct, prefill_ms);
    }
    for (size_t k = 0; k < count && !rc; k++) {
        struct bench_decode_fields *d = &s->rows.items[first + k].decode;
        double off_flops = 0, sum_off = 0, sum_on = 0;
        off[k] = 0;
        for (int64_t b = 0; b < l->batch; b++) {
            const int64_t start = decode_layout_start(l, b);
            off[k] += prefill_ms[find(lengths, distinct, start + steps[k])]; /* NaN if not timed */
            off_flops += prefill_flops(&job->dims, start + steps[k]);
            sum_off += decode_sum_prefill_flops(&job->dims, start, steps[k]);
            sum_on += decode_sum_step_flops(&job->dims, start, steps[k]);
        }
        on[k] = s->rows.items[first + k].ms;
        d->off_ms = off[k];
        d->off_flops = off_flops;
        d->cum_on_ms = decode_sum_sampled(steps, on, k);
        d->cum_off_ms = decode_sum_sampled(steps, off, k); /* NaN from the first untimed one */
        d->cum_flops_ratio = sum_off / sum_on;
    }
    free(lengths);
    free(prefill_ms);
    free(on);
    free(off);
    return rc;
}

int decode_loop_run(struct bench_session *s, const struct decode_job *job)
{
    const struct bench_options *opt = s->opt;
    struct decode_plan plan = {0};
    struct kv_cache *cache = NULL;
    int64_t *steps = NULL;
    size_t count = 0;
    int rc = sample_steps(job->layout.tokens, &steps, &count);
    if (!rc)
        rc = decode_plan_create(s, job, opt->algos[0], &plan);
    if (!rc)
        rc = kv_cache_create(s, job->problem, &job->layout, opt->check,
                             (uint64_t)plan.scratch_bytes, &cache);
    const size_t first = s->rows.count;
    double ms = 0, wall_ms = 0;
    if (!rc) {
        decode_print_loop_header(s->table, s, job, &plan, kv_cache_bytes(cache));
        rc = run_steps(s, job, &plan, cache, steps, count, &ms, &wall_ms);
    }
    if (!rc)
        decode_print_loop_total(s->table, s, &job->layout, ms, wall_ms);
    if (!rc && opt->check) {
        int same = 0;
        rc = kv_cache_check_contents(cache, s->queue, &same);
        if (!rc) {
            decode_print_contents_check(s->table, same);
            s->other_check_failed |= !same;
        }
    }
    /* the cache's memory is the prefills' from here */
    kv_cache_destroy(cache);
    clattn_plan_destroy(plan.plan);
    if (!rc)
        rc = cache_off(s, job, steps, count, first);
    if (!rc)
        decode_print_off(s->table, s, job, first, count);
    free(steps);
    return rc;
}
