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

/* Runs `plan` (made from `problem`, with `requested` as --algo asked) on `in`: --warmup
 * untimed runs, then --iters timed ones, then --check. Fills `row`, which owns its stages.
 * Returns 0 or an exit code after printing why. */
int run_measure(struct bench_session *s, struct bench_inputs *in, const clattn_problem *problem,
                clattn_algorithm requested, clattn_plan *plan, double build_ms,
                struct bench_row *row);

#endif
