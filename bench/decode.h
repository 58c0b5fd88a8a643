/* Decode mode: --decode (a generation loop against a growing KV cache, and what the same
 * tokens would cost without the cache) and --decode-compare (one step, decode against
 * tiled). */
#ifndef ATTN_BENCH_DECODE_H
#define ATTN_BENCH_DECODE_H

#include "decode_layout.h"
#include "decode_model.h"
#include "session.h"

/* What both variants run: the sequences and their cache, and the problem planned for it. */
struct decode_job {
    struct decode_layout layout;
    clattn_problem *problem; /* shape_for_decode's */
    struct decode_dims dims;
    clattn_dtype dtype;
};

/* Builds the job from the options, before any device is opened: a shape the library rejects
 * is a usage error. Returns 0 or an exit code after printing why. */
int decode_prepare(const struct bench_options *opt, struct decode_job *job);
void decode_job_free(struct decode_job *job);

/* Runs the variant the options select, adding its rows to the session and printing its
 * tables. Returns 0 or an exit code after printing why. */
int decode_run(struct bench_session *s, const struct decode_job *job);

/* A plan for the job's final capacity, made once: every step runs it, cache_seqlens telling
 * it how long each sequence is by then. */
struct decode_plan {
    clattn_plan *plan;
    clattn_algorithm requested, algo; /* as --algo asked; as the plan chose */
    int64_t splits, scratch_bytes;
    double build_ms; /* clattn_plan_create, kernel builds included */
};

/* Plans the job with `requested`. Returns 0 or an exit code after printing why. */
int decode_plan_create(struct bench_session *s, const struct decode_job *job,
                       clattn_algorithm requested, struct decode_plan *out);

/* Sets a decode row's shape, models and plan fields for step `step`, and whether what the step
 * reads fits the session's device's last-level cache (kind and the measurements are the
 * caller's). */
void decode_row_fill(const struct bench_session *s, const struct decode_job *job,
                     const struct decode_plan *plan, uint64_t cache_bytes, int64_t step,
                     struct bench_row *row);

#endif
