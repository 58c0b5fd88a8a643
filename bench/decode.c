/* Decode mode: --decode, a model's generation loop against a growing KV cache and what the
 * same tokens would cost without the cache, and --decode-compare, one step by the decode
 * algorithm (split-KV) against tiled with seq_q = 1 on the same cache; and their tables. */
#include <math.h>
#include <stdlib.h>

#include "bench.h"

/* ---- The models (attn-bench.1, DECODE MODE), per sequence, at L keys: this step's own token
 * included, every key visible to the step's one query row.
 *   decode step:  FLOPs = 4 * H * d * L         (QK^T and PV, one query row per head)
 *                 bytes = 2 * L * Hkv * d * size (K and V of every visible key read once)
 *   without a cache the step recomputes attention over its whole prefix, a causal prefill:
 *                 FLOPs = 4 * H * d * L (L + 1) / 2
 * and the sums over steps that compare the two ("cumulative work"). Figures are doubles:
 * the sums outgrow 64-bit integers long before the caches outgrow memory. */

static double decode_step_flops(const struct decode_dims *m, int64_t keys)
{
    return 4.0 * (double)m->heads * (double)m->head_dim * (double)keys;
}

static double decode_step_bytes(const struct decode_dims *m, int64_t keys)
{
    return 2.0 * (double)keys * (double)m->kv_heads * (double)m->head_dim * (double)m->elem_size;
}

static double prefill_flops(const struct decode_dims *m, int64_t keys)
{
    const double n = (double)keys;
    return 4.0 * (double)m->heads * (double)m->head_dim * n * (n + 1) / 2;
}

/* The sum of L(L+1)/2 over L = 1..n: the tetrahedral number n(n+1)(n+2)/6. */
static double tetrahedral(double n)
{
    return n * (n + 1) * (n + 2) / 6;
}

/* The exact sums over steps 1..steps of a sequence that held `start` keys before step 1 (so
 * step t attends to start + t keys): of decode_step_flops, and of prefill_flops. */
static double decode_sum_step_flops(const struct decode_dims *m, int64_t start, int64_t steps)
{
    /* the sum of start + t over t = 1..steps */
    const double s = (double)start, n = (double)steps;
    return decode_step_flops(m, 1) * (n * s + n * (n + 1) / 2);
}

static double decode_sum_prefill_flops(const struct decode_dims *m, int64_t start, int64_t steps)
{
    const double pairs = tetrahedral((double)(start + steps)) - tetrahedral((double)start);
    return 4.0 * (double)m->heads * (double)m->head_dim * pairs;
}

/* The sum over steps steps[0]..steps[last] of a cost measured at those steps only (steps[0]
 * the first, increasing): the trapezoid rule between samples, plus half of the two ends, so
 * that it is exact for a cost linear in the step and when every step is sampled. */
static double decode_sum_sampled(const int64_t *steps, const double *values, size_t last)
{
    double sum = (values[0] + values[last]) / 2;
    for (size_t i = 0; i < last; i++)
        sum += (double)(steps[i + 1] - steps[i]) * (values[i] + values[i + 1]) / 2;
    return sum;
}

/* ---- The job, and its plan */

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
    int values, bytes;
    clattn_dtype_block(opt->kv_dtype < 0 ? opt->dtype : (clattn_dtype)opt->kv_dtype, &values,
                       &bytes);
    job->dims = (struct decode_dims){heads, kv_heads ? kv_heads : heads, head_dim,
                                     (double)bytes / values};
    job->kv_dtype = opt->kv_dtype < 0 ? opt->dtype : (clattn_dtype)opt->kv_dtype;
    return 0;
}

void decode_job_free(struct decode_job *job)
{
    clattn_problem_destroy(job->problem);
    job->problem = NULL;
}

/* A plan for the job's final capacity, made once: every step runs it, cache_seqlens telling
 * it how long each sequence is by then. */
struct decode_plan {
    clattn_plan *plan;
    clattn_algorithm requested, algo; /* as --algo asked; as the plan chose */
    int64_t splits, scratch_bytes;
    double build_ms; /* clattn_plan_create, kernel builds included */
};

/* Plans the job with `requested`. Returns 0 or an exit code after printing why. */
static int decode_plan_create(struct bench_session *s, const struct decode_job *job,
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

/* Sets a decode row's shape, models and plan fields for step `step`, and whether what the step
 * reads fits the session's device's last-level cache (kind and the measurements are the
 * caller's). */
static void decode_row_fill(const struct bench_session *s, const struct decode_job *job,
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
    row->head_dim = row->head_dim_v = job->dims.head_dim;
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
    row->decode.kv_dtype = job->kv_dtype;
    row->decode.splits = plan->splits;
    row->decode.cache_bytes = cache_bytes;
    /* Timed runs of a step read the same keys again: when they fit the last-level cache, they
     * come from there, not from the memory whose bandwidth the peak's copy measures. */
    row->decode.cache_resident =
        s->device.global_cache > 0 && row->bytes <= s->device.global_cache;
}

/* ---- The tables (the session's table stream): a header block, the rows as they are measured
 * (report.c prints them), and the summaries. */

/* The longest prefill run measured, in device milliseconds: the prefill is quadratic, and
 * timing it at every length a long --decode reaches would take far longer than the loop. */
#define DECODE_OFF_BUDGET_MS 1000.0
/* A first length longer than this is predicted from a prefill timed at this length (not
 * reported): a --prompt of 32768 keys would otherwise run minutes of prefills unpredicted. */
#define DECODE_OFF_PROBE_KEYS 1024

/* The --kv-lens shown in the header; a longer list ends in "...". */
#define SHOWN_LENS 16

static void print_shape(FILE *out, const struct decode_job *job)
{
    fprintf(out, "batch %lld, heads %lld (kv heads %lld), head_dim %lld, %s",
            (long long)job->layout.batch, (long long)job->dims.heads,
            (long long)job->dims.kv_heads, (long long)job->dims.head_dim, dtype_name(job->dtype));
    if (job->kv_dtype != job->dtype)
        fprintf(out, ", KV cache %s", dtype_name(job->kv_dtype));
}

static void print_cache(FILE *out, const struct decode_job *job, uint64_t cache_bytes)
{
    const struct decode_layout *l = &job->layout;
    char bytes[FORMAT_BYTES_LEN], contiguous[FORMAT_BYTES_LEN];
    format_bytes(bytes, cache_bytes);
    if (!l->page_size) {
        fprintf(out, "cache:   contiguous, %lld keys per sequence: K + V = %s\n",
                (long long)l->capacity, bytes);
        return;
    }
    const uint64_t flat = (uint64_t)(2.0 * (double)l->batch * (double)l->capacity *
                                     (double)job->dims.kv_heads * (double)job->dims.head_dim *
                                     job->dims.elem_size);
    fprintf(out,
            "cache:   paged, %lld tokens a page: a shuffled pool of %lld pages, each sequence "
            "holding the pages it reaches: K + V = %s (contiguous for %lld keys per sequence: "
            "%s)\n",
            (long long)l->page_size, (long long)l->num_pages, bytes, (long long)l->capacity,
            format_bytes(contiguous, flat));
}

static void print_columns(FILE *out, const struct bench_session *s, int compare)
{
    if (compare)
        fprintf(out, "%-13s %6s ", "algo", "splits");
    else
        fprintf(out, "%7s ", "step");
    fprintf(out, "%10s %10s %10s %10s %9s %9s %6s", "kv len", "ms", "wall ms", "tok/s",
            "GFLOP/s", "GB/s", "%bw");
    if (compare)
        fprintf(out, " %10s", "build ms");
    if (s->opt->check)
        fprintf(out, " %9s %9s %5s", "max err", "lse err", "check");
    fputc('\n', out);
}

static void print_timing(FILE *out, const struct bench_session *s)
{
    const struct bench_options *opt = s->opt;
    fputs("timing:  a step = cache_seqlens written (clEnqueueWriteBuffer, non-blocking) + "
          "clattn_enqueue_kvcache (append the step's K and V rows, then attend) + clFinish;\n"
          "         ",
          out);
    table_print_clock(out, s);
    fprintf(out,
            ", wall = the whole step; median of %d timed run%s after %d warm-up run%s (a step "
            "run again rewrites the same rows)\n"
            "columns: kv len = the longest sequence's keys at the step, its own included; "
            "tok/s = batch / wall;\n"
            "         GB/s = K and V of every visible key / ms; %%bw = GB/s over the measured read "
            "bandwidth (decode reads and writes little)",
            opt->iters, opt->iters == 1 ? "" : "s", opt->warmup, opt->warmup == 1 ? "" : "s");
    if (s->device.global_cache > 0) {
        char cache[FORMAT_BYTES_LEN];
        fprintf(out,
                ",\n         or LLC when those keys fit the device's %s last-level cache "
                "(CL_DEVICE_GLOBAL_MEM_CACHE_SIZE):\n"
                "         the timed runs then read them from that cache, whose bandwidth the "
                "read probe does not measure",
                format_bytes(cache, s->device.global_cache));
    }
    fputs("\n\n", out);
}

/* --decode: the device, the sequences, the cache, the plan, how a step is timed, and the
 * column titles of the steps' table. */
static void decode_print_loop_header(FILE *out, const struct bench_session *s,
                                     const struct decode_job *job, const struct decode_plan *plan,
                                     uint64_t cache_bytes)
{
    const struct decode_layout *l = &job->layout;
    table_print_device(out, s);
    fputs("decode:  ", out);
    print_shape(out, job);
    fprintf(out, "; %lld tokens generated per sequence, ", (long long)l->tokens);
    if (l->ragged) {
        fputs("the caches growing from", out);
        for (int64_t b = 0; b < l->batch && b < SHOWN_LENS; b++)
            fprintf(out, "%s%lld", b ? ", " : " ", (long long)l->ragged[b]);
        fprintf(out, "%s keys (ragged)\n", l->batch > SHOWN_LENS ? ", ..." : "");
    } else {
        fprintf(out, "each cache growing from %lld to %lld keys\n", (long long)l->prompt,
                (long long)l->capacity);
    }
    print_cache(out, job, cache_bytes);
    fprintf(out, "plan:    %s", clattn_algorithm_name(plan->algo));
    if (plan->requested == CLATTN_ALGO_AUTO)
        fputs(" (chosen by auto)", out);
    if (plan->algo == CLATTN_ALGO_DECODE)
        fprintf(out, ", %lld split%s of the keys", (long long)plan->splits,
                plan->splits == 1 ? "" : "s");
    fprintf(out,
            ", made once for %lld keys per sequence (%.1f ms, kernel builds included); "
            "cache_seqlens tells each step the lengths\n",
            (long long)l->capacity, plan->build_ms);
    print_timing(out, s);
    fprintf(out, "Steps (sampled: 1, the powers of two and every eighth of the way; the other "
                 "steps run once, untabulated)\n");
    print_columns(out, s, 0);
    fflush(out); /* before the first step, which may take long */
}

/* The whole loop: every step once (sampled steps by their median). */
static void decode_print_loop_total(FILE *out, const struct bench_session *s,
                                    const struct decode_layout *l, double ms, double wall_ms)
{
    fprintf(out, "\nloop:    %lld steps, %lld tokens: ", (long long)l->tokens,
            (long long)(l->tokens * l->batch));
    if (s->clock == BENCH_CLOCK_DEVICE)
        fprintf(out, "%.3f ms of device time, ", ms);
    fprintf(out,
            "%.3f ms of wall clock (%.1f tokens/s), every step counted once (a sampled one by "
            "its median)\n",
            wall_ms, (double)(l->tokens * l->batch) / (wall_ms * 1e-3));
}

/* --check: whether the device's cache equals the host's copy after the last step. */
static void decode_print_contents_check(FILE *out, int same)
{
    fprintf(out,
            "check:   K and V on the device after the last step equal the host's copy (every "
            "step's rows where they belong, nothing else changed): %s\n",
            same ? "PASS" : "FAIL");
}

static void print_ratio(FILE *out, double ratio)
{
    if (isfinite(ratio))
        fprintf(out, " %8.1fx", ratio);
    else
        fprintf(out, " %9s", "-");
}

static void print_ms(FILE *out, double ms)
{
    if (isfinite(ms))
        fprintf(out, " %11.3f", ms);
    else
        fprintf(out, " %11s", "-");
}

/* The cache-off table of rows[first..first+count) and the cumulative ratios. */
static void decode_print_off(FILE *out, const struct bench_session *s, const struct decode_job *job,
                             size_t first, size_t count)
{
    const struct bench_row *rows = &s->rows.items[first];
    fprintf(out,
            "\ncache off: with no KV cache, step t recomputes attention over each sequence's "
            "whole prefix: a\n"
            "          causal prefill (seq_q = seq_kv = L, tiled) of its L keys at step t. "
            "Attention only: the\n"
            "          K and V projections a model would recompute too are not counted.\n"
            "measured: each prefill timed like the steps (median of %d after %d warm-up), "
            "shortest first, up to\n"
            "          the first length predicted (L^2 growth from the last timed, or from %d "
            "keys) to run over\n"
            "          %.0f ms; summed over steps 1..step by the trapezoid rule between the "
            "sampled steps\n"
            "          (exact for a cost linear in the step)\n"
            "modelled: FLOPs, 4*H*d*L for a step with the cache and 4*H*d*L(L+1)/2 without, "
            "summed exactly\n\n",
            s->opt->iters, s->opt->warmup, DECODE_OFF_PROBE_KEYS, DECODE_OFF_BUDGET_MS);
    fprintf(out, "%7s %10s %11s %11s %11s %9s %9s\n", "", "", "prefill", "sum on", "sum off",
            "measured", "modelled");
    fprintf(out, "%7s %10s %11s %11s %11s %9s %9s\n", "step", "kv len", "ms", "ms", "ms",
            "off/on", "off/on");
    size_t measured = count; /* the last row whose sum is measured, or count for none */
    for (size_t k = 0; k < count; k++) {
        const struct bench_decode_fields *d = &rows[k].decode;
        fprintf(out, "%7lld %10lld", (long long)d->step, (long long)rows[k].seq_kv);
        print_ms(out, d->off_ms);
        print_ms(out, d->cum_on_ms);
        print_ms(out, d->cum_off_ms);
        print_ratio(out, d->cum_off_ms / d->cum_on_ms);
        print_ratio(out, d->cum_flops_ratio);
        fputc('\n', out);
        if (isfinite(d->cum_off_ms))
            measured = k;
    }
    const struct bench_decode_fields *last = &rows[count - 1].decode;
    fprintf(out, "\ncumulative work over steps 1..%lld, cache off / cache on:\n",
            (long long)job->layout.tokens);
    fprintf(out, "  modelled %9.2fx  (FLOPs)\n", last->cum_flops_ratio);
    if (measured == count) {
        fprintf(out, "  measured %10s  (no prefill was timed)\n", "-");
        return;
    }
    const struct bench_decode_fields *m = &rows[measured].decode;
    fprintf(out, "  measured %9.2fx  (%s)", m->cum_off_ms / m->cum_on_ms,
            s->clock == BENCH_CLOCK_DEVICE ? "device time" : "wall clock");
    if (measured + 1 < count)
        fprintf(out, " over steps 1..%lld only, where the model says %.2fx: longer prefills were "
                     "not timed",
                (long long)m->step, m->cum_flops_ratio);
    fputc('\n', out);
}

/* --decode-compare: the device, the step, the cache, how it is timed, the column titles. */
static void decode_print_compare_header(FILE *out, const struct bench_session *s,
                                        const struct decode_job *job, uint64_t cache_bytes)
{
    const struct decode_layout *l = &job->layout;
    table_print_device(out, s);
    fprintf(out,
            "compare: one decode step at %lld keys per sequence (%lld cached, 1 appended), by "
            "the decode algorithm (split-KV) and by tiled with seq_q = 1; ",
            (long long)l->capacity, (long long)l->prompt);
    print_shape(out, job);
    fputc('\n', out);
    print_cache(out, job, cache_bytes);
    print_timing(out, s);
    print_columns(out, s, 1);
    fflush(out); /* the rows come when both algorithms have run */
}

/* The speed-up of decode over tiled. */
static void decode_print_compare_result(FILE *out, const struct bench_session *s,
                                        const struct bench_row *decode,
                                        const struct bench_row *tiled)
{
    fprintf(out, "\nspeed-up: decode is %.2fx as fast as tiled with seq_q = 1 on this step (",
            tiled->ms / decode->ms);
    if (s->clock == BENCH_CLOCK_DEVICE)
        fprintf(out, "device time; %.2fx by wall clock)\n", tiled->ms_wall / decode->ms_wall);
    else
        fputs("wall clock)\n", out);
}

/* ---- Cache off: without a KV cache, every step recomputes attention over each sequence's
 * whole prefix, which is a causal prefill of its L tokens (seq_q = seq_kv = L, the tiled
 * algorithm). */

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
static int measure_prefill(struct bench_session *s, const clattn_problem *decode, int64_t seq,
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

/* Times the prefill of one sequence of each of `lengths` tokens (distinct, increasing), with
 * the heads, head_dim and dtype of `decode`: ms[i] is the median device time of --iters runs
 * after --warmup. Stops before a length whose run is predicted, by L^2 growth from the last
 * one timed (or from a probe at DECODE_OFF_PROBE_KEYS keys when the first is longer), to take
 * more than DECODE_OFF_BUDGET_MS, or that the device or the host memory cannot hold: ms[i] is
 * NaN from there on. Returns 0 or an exit code after printing why. */
static int decode_off_measure(struct bench_session *s, const clattn_problem *decode,
                              const int64_t *lengths, size_t count, double *ms)
{
    struct progress progress;
    progress_init(&progress, s->opt);
    int rc = 0;
    int64_t last_len = 0; /* the last length timed, and its time */
    double last_ms = NAN;
    if (count > 0 && lengths[0] > DECODE_OFF_PROBE_KEYS) {
        progress_show(&progress, "cache off: prefill at %d keys, to predict longer ones",
                      DECODE_OFF_PROBE_KEYS);
        last_len = DECODE_OFF_PROBE_KEYS;
        rc = measure_prefill(s, decode, last_len, &last_ms);
    }
    size_t i = 0;
    for (; i < count && !rc; i++) {
        if (last_len > 0) {
            const double growth = (double)lengths[i] / (double)last_len;
            if (isnan(last_ms) || last_ms * growth * growth > DECODE_OFF_BUDGET_MS)
                break;
        }
        progress_show(&progress, "cache off: prefill at %lld keys [%zu/%zu]",
                      (long long)lengths[i], i + 1, count);
        rc = measure_prefill(s, decode, lengths[i], &ms[i]);
        last_len = lengths[i];
        last_ms = ms[i];
    }
    progress_clear(&progress);
    for (; i < count; i++)
        ms[i] = NAN;
    return rc;
}

/* ---- --decode */

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

/* Plans once for the final capacity, then runs steps 1..--tokens, each appending one token
 * per sequence and attending to the whole cache. Sampled steps (1, the powers of two and
 * every eighth of the way) are repeated and reported as rows (checked with --check); then
 * the cache-off prefills are timed at the same steps and the rows get the cumulative
 * comparison. Returns 0 or an exit code after printing why. */
static int decode_loop_run(struct bench_session *s, const struct decode_job *job)
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

/* ---- --decode-compare */

static const clattn_algorithm compared[] = {CLATTN_ALGO_DECODE, CLATTN_ALGO_TILED};
enum { COMPARED = sizeof compared / sizeof *compared };

/* One algorithm's row: the step by a plan of its own, on the shared cache. */
static int measure_compared(struct bench_session *s, const struct decode_job *job,
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

/* Plans both, times the step with each (--warmup, --iters; checked with --check), adds a row
 * for each and prints the speed-up. Returns 0 or an exit code after printing why. */
static int decode_compare_run(struct bench_session *s, const struct decode_job *job)
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
        progress_show(&progress, "compare: %s at %lld keys",
                      clattn_algorithm_name(compared[measured]), (long long)job->layout.capacity);
        rc = measure_compared(s, job, compared[measured], cache, &rows[measured]);
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

int decode_run(struct bench_session *s, const struct decode_job *job)
{
    return s->opt->decode == BENCH_DECODE_COMPARE ? decode_compare_run(s, job)
                                                  : decode_loop_run(s, job);
}
