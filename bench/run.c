#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "diag.h"
#include "shape.h"

int run_plan_create(struct bench_session *s, const clattn_problem *problem,
                    clattn_algorithm algo, int allow_device_oom, clattn_plan **plan,
                    double *build_ms)
{
    clattn_problem *with_algo;
    int rc = shape_with_algorithm(problem, algo, &with_algo);
    if (rc)
        return rc;
    const double start = clock_ms();
    clattn_status st = clattn_plan_create(s->ctx, with_algo, plan);
    *build_ms = clock_ms() - start;
    clattn_problem_destroy(with_algo);
    if (st == CLATTN_ERROR_DEVICE_OUT_OF_MEMORY && allow_device_oom) {
        *plan = NULL;
        return 0;
    }
    if (st) {
        char what[64];
        snprintf(what, sizeof what, "planning %s", algo_name(algo));
        return fail_clattn(s->ctx, st, what);
    }
    return 0;
}

/* The device time of the plan's last run: the sum of its stages (profiling events). With
 * `stages`, each stage is kept as well. */
static int device_time(struct bench_session *s, const clattn_plan *plan,
                       struct bench_stage *stages, double *total)
{
    int count = 0;
    clattn_status st = clattn_plan_stage_count(plan, &count);
    if (st)
        return fail_clattn(s->ctx, st, "counting the plan's stages");
    *total = 0;
    for (int i = 0; i < count; i++) {
        const char *name;
        double ms;
        clattn_status st = clattn_plan_stage_time(plan, i, &name, &ms);
        if (st)
            return fail_clattn(s->ctx, st, "reading the stage times");
        if (stages) {
            stages[i].name = name;
            stages[i].ms = ms;
        }
        *total += ms;
    }
    return 0;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts `values` in place. */
static double median(double *values, int count)
{
    qsort(values, (size_t)count, sizeof *values, compare_doubles);
    return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

int run_once(struct bench_session *s, clattn_plan *plan, run_enqueue_fn enqueue, void *arg,
             double *device_ms, double *wall_ms, struct bench_stage *stages)
{
    const double start = clock_ms();
    int rc = enqueue(s, arg);
    if (rc)
        return rc;
    cl_int err = clFinish(s->queue);
    if (err != CL_SUCCESS)
        return fail_cl(err, "clFinish");
    *wall_ms = clock_ms() - start;
    return device_time(s, plan, stages, device_ms);
}

int run_timed(struct bench_session *s, clattn_plan *plan, run_enqueue_fn enqueue, void *arg,
              struct bench_row *row)
{
    const int iters = s->opt->iters;
    row->iters = iters;
    row->warmup = s->opt->warmup;
    row->stage_count = 0;
    int stage_count = 0;
    clattn_status st = clattn_plan_stage_count(plan, &stage_count);
    if (st)
        return fail_clattn(s->ctx, st, "counting the plan's stages");
    double *device = malloc((size_t)iters * sizeof *device);
    double *wall = malloc((size_t)iters * sizeof *wall);
    int rc = device && wall ? 0 : fail_host_memory();
    if (!rc && s->opt->profile && stage_count > 0 &&
        !(row->stages = calloc((size_t)stage_count, sizeof *row->stages)))
        rc = fail_host_memory();
    for (int i = 0; i < s->opt->warmup && !rc; i++)
        rc = run_once(s, plan, enqueue, arg, &device[0], &wall[0], NULL);
    /* the last run's stages are the ones --profile shows */
    for (int i = 0; i < iters && !rc; i++)
        rc = run_once(s, plan, enqueue, arg, &device[i], &wall[i],
                      i == iters - 1 ? row->stages : NULL);
    if (!rc && row->stages) {
        /* A stage that did not run in this enqueue (the append of a call that brings no new
         * keys) has no event, and the library gives it 0 ms: shown are the stages that ran. */
        for (int i = 0; i < stage_count; i++)
            if (row->stages[i].ms > 0)
                row->stages[row->stage_count++] = row->stages[i];
    }
    if (!rc) {
        row->ms_wall = median(wall, iters);             /* sorted from here */
        const double device_ms = median(device, iters); /* sorted from here */
        row->clock = s->clock;
        /* The session's probe trusted the timestamps; a row whose own device time is
         * implausible reads the wall clock all the same, and says so. */
        if (row->clock == BENCH_CLOCK_DEVICE &&
            !clock_device_plausible(device_ms, row->ms_wall)) {
            fprintf(stderr,
                    "attn-bench: warning: %s: device time %.3g ms against %.3g ms of wall "
                    "clock: the profiling timestamps look unreliable; this row reports the "
                    "wall clock\n",
                    algo_name(row->algo), device_ms, row->ms_wall);
            row->clock = BENCH_CLOCK_WALL;
        }
        const double *times = row->clock == BENCH_CLOCK_WALL ? wall : device;
        row->ms = row->clock == BENCH_CLOCK_WALL ? row->ms_wall : device_ms;
        row->ms_min = times[0];
        row->ms_max = times[iters - 1];
    }
    free(device);
    free(wall);
    /* stage times are profiling timestamps: not shown when those are not believed */
    if (rc || row->clock == BENCH_CLOCK_WALL) {
        free(row->stages);
        row->stages = NULL;
        row->stage_count = 0;
    }
    return rc;
}

/* clattn_enqueue of the inputs, as a run_enqueue_fn. */
struct plain_run {
    clattn_plan *plan;
    struct bench_inputs *in;
};

static int enqueue_plain(struct bench_session *s, void *arg)
{
    const struct plain_run *r = arg;
    struct bench_inputs *in = r->in;
    clattn_status st = clattn_enqueue(r->plan, NULL, in->mem[INPUT_Q], 0, in->mem[INPUT_K], 0,
                                      in->mem[INPUT_V], 0, in->mem[OUTPUT_O], 0,
                                      in->mem[OUTPUT_LSE], 0, 0, NULL, NULL);
    return st ? fail_clattn(s->ctx, st, "enqueueing the attention") : 0;
}

int run_timed_inputs(struct bench_session *s, clattn_plan *plan, struct bench_inputs *in,
                     struct bench_row *row)
{
    struct plain_run run = {plan, in};
    return run_timed(s, plan, enqueue_plain, &run, row);
}

static int check(struct bench_inputs *in, const clattn_problem *problem, struct bench_row *row)
{
    const float *o_ref, *lse_ref;
    int rc = inputs_reference(in, problem, &o_ref, &lse_ref);
    if (rc)
        return rc;
    clattn_status st = clattn_compare(problem, in->host[OUTPUT_O], o_ref, in->host[OUTPUT_LSE],
                                      lse_ref, &row->max_abs_err, &row->lse_err, &row->passed);
    if (st)
        return fail_clattn(NULL, st, "comparing with the reference");
    row->checked = 1;
    return 0;
}

int run_measure(struct bench_session *s, struct bench_inputs *in, const clattn_problem *problem,
                clattn_algorithm requested, clattn_plan *plan, double build_ms,
                struct bench_row *row)
{
    memset(row, 0, sizeof *row);
    row->requested = requested;
    row->build_ms = build_ms;
    int64_t algo = 0;
    clattn_status st = clattn_plan_get(plan, CLATTN_PLAN_ALGORITHM, &algo);
    if (!st)
        st = clattn_plan_get(plan, CLATTN_PLAN_SCRATCH_BYTES, &row->scratch_bytes);
    if (st)
        return fail_clattn(s->ctx, st, "reading the plan");
    row->algo = (clattn_algorithm)algo;
    /* the plan's scratch is allocated when the plan is made: checked before it runs */
    struct memory_need need = {.what = "the plan's scratch beside the inputs and outputs",
                               .device_held = (uint64_t)row->scratch_bytes};
    for (int b = 0; b < INPUT_BUFFERS; b++)
        need.device_held = memory_add(need.device_held, in->bytes[b]);
    int rc = session_check_memory(s, &need);
    if (!rc)
        rc = shape_to_row(problem, row);
    if (!rc && (st = traffic_model(problem, row)))
        rc = fail_clattn(NULL, st, "counting the visible pairs");

    const int read_outputs = s->opt->check || s->opt->save_dir;
    if (!rc && read_outputs)
        rc = inputs_poison_outputs(in, s->queue);
    if (!rc)
        rc = run_timed_inputs(s, plan, in, row);
    if (!rc && read_outputs)
        rc = inputs_read_outputs(in, s->queue);
    if (!rc && s->opt->check)
        rc = check(in, problem, row);
    if (rc) {
        free(row->stages);
        row->stages = NULL;
    }
    return rc;
}
