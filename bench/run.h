/* One algorithm on one problem: the plan (its creation timed), warm-up runs, timed runs,
 * per-stage device times and the check against the reference. */
#ifndef ATTN_BENCH_RUN_H
#define ATTN_BENCH_RUN_H

#include "inputs.h"
#include "session.h"

/* Creates the plan of `problem` run by `algo` and times its creation (kernel builds
 * included) into *build_ms. With `allow_device_oom`, a problem the device cannot hold is no
 * error: *plan is then NULL. Returns 0 or an exit code after printing why. */
int run_plan_create(struct bench_session *s, const clattn_problem *problem,
                    clattn_algorithm algo, int allow_device_oom, clattn_plan **plan,
                    double *build_ms);

/* Enqueues one run of what is being timed on the session's queue, without waiting for it.
 * Returns 0 or an exit code after printing why. */
typedef int (*run_enqueue_fn)(struct bench_session *s, void *arg);

/* One run: `enqueue`, then clFinish. *wall_ms spans both; *device_ms is the sum of `plan`'s
 * stages (profiling events), each kept in `stages` as well when it is not NULL. Returns 0 or
 * an exit code after printing why. */
int run_once(struct bench_session *s, clattn_plan *plan, run_enqueue_fn enqueue, void *arg,
             double *device_ms, double *wall_ms, struct bench_stage *stages);

/* --warmup untimed runs, then --iters timed ones: sets row->clock (the session's, or the
 * wall clock, with a warning naming row->algo, when this row's device time is implausible),
 * ms, ms_min and ms_max (median, fastest and slowest by that clock), ms_wall (median wall
 * clock), iters, warmup and, with --profile on the device clock, the stages of the last run
 * (which the row then owns). Returns 0 or an exit code after printing why. */
int run_timed(struct bench_session *s, clattn_plan *plan, run_enqueue_fn enqueue, void *arg,
              struct bench_row *row);

/* run_timed of clattn_enqueue on `in`'s buffers (no check). */
int run_timed_inputs(struct bench_session *s, clattn_plan *plan, struct bench_inputs *in,
                     struct bench_row *row);

/* Runs `plan` (made from `problem`, with `requested` as --algo asked) on `in`: --warmup
 * untimed runs, then --iters timed ones, then --check. Fills `row`, which owns its stages.
 * Returns 0 or an exit code after printing why. */
int run_measure(struct bench_session *s, struct bench_inputs *in, const clattn_problem *problem,
                clattn_algorithm requested, clattn_plan *plan, double build_ms,
                struct bench_row *row);

#endif
