#include "decode_report.h"

#include <math.h>

#include "decode_off.h"
#include "format.h"
#include "report.h"

/* The --kv-lens shown in the header; a longer list ends in "...". */
#define SHOWN_LENS 16

static void print_shape(FILE *out, const struct decode_job *job)
{
    fprintf(out, "batch %lld, heads %lld (kv heads %lld), head_dim %lld, %s",
            (long long)job->layout.batch, (long long)job->dims.heads,
            (long long)job->dims.kv_heads, (long long)job->dims.head_dim, dtype_name(job->dtype));
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
    const uint64_t flat = 2 * (uint64_t)l->batch * (uint64_t)l->capacity *
                          (uint64_t)job->dims.kv_heads * (uint64_t)job->dims.head_dim *
                          job->dims.elem_size;
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
            "         GB/s = K and V of every visible key / ms; %%bw = GB/s over the measured copy "
            "bandwidth",
            opt->iters, opt->iters == 1 ? "" : "s", opt->warmup, opt->warmup == 1 ? "" : "s");
    if (s->device.global_cache > 0) {
        char cache[FORMAT_BYTES_LEN];
        fprintf(out,
                ",\n         or LLC when those keys fit the device's %s last-level cache "
                "(CL_DEVICE_GLOBAL_MEM_CACHE_SIZE):\n"
                "         the timed runs then read them from that cache, whose bandwidth the "
                "copy does not measure",
                format_bytes(cache, s->device.global_cache));
    }
    fputs("\n\n", out);
}

void decode_print_loop_header(FILE *out, const struct bench_session *s,
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
    fprintf(out, "plan:    %s", algo_name(plan->algo));
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

static void print_bandwidth_share(FILE *out, const struct bench_session *s,
                                  const struct bench_row *r)
{
    char share[16] = "-";
    if (r->decode.cache_resident)
        snprintf(share, sizeof share, "LLC");
    else if (s->peak.measured && s->peak.gbps > 0)
        snprintf(share, sizeof share, "%.1f%%", 100 * row_gbps(r) / s->peak.gbps);
    fprintf(out, " %6s", share);
}

void decode_table_print_row(FILE *out, const struct bench_session *s, size_t index)
{
    const struct bench_row *r = &s->rows.items[index];
    if (r->kind == ROW_DECODE_COMPARE)
        fprintf(out, "%-13s %6lld ", row_algo_label(r), (long long)r->decode.splits);
    else
        fprintf(out, "%7lld ", (long long)r->decode.step);
    fprintf(out, "%10lld %10.3f %10.3f %10.1f %9.2f %9.2f", (long long)r->seq_kv, r->ms,
            r->ms_wall, r->decode.tokens_per_s, row_gflops(r), row_gbps(r));
    print_bandwidth_share(out, s, r);
    if (r->kind == ROW_DECODE_COMPARE)
        fprintf(out, " %10.1f", r->build_ms);
    if (r->checked)
        fprintf(out, " %9.2e %9.2e %5s", r->max_abs_err, r->lse_err, r->passed ? "PASS" : "FAIL");
    fputc('\n', out);
    table_print_stages(out, r);
}

void decode_print_loop_total(FILE *out, const struct bench_session *s,
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

void decode_print_contents_check(FILE *out, int same)
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

void decode_print_off(FILE *out, const struct bench_session *s, const struct decode_job *job,
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
            "          the first length predicted (L^2 growth) to run over %.0f ms; summed over "
            "steps 1..step by\n"
            "          the trapezoid rule between the sampled steps (exact for a cost linear in "
            "the step)\n"
            "modelled: FLOPs, 4*H*d*L for a step with the cache and 4*H*d*L(L+1)/2 without, "
            "summed exactly\n\n",
            s->opt->iters, s->opt->warmup, DECODE_OFF_BUDGET_MS);
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

void decode_print_compare_header(FILE *out, const struct bench_session *s,
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

void decode_print_compare_result(FILE *out, const struct bench_session *s,
                                 const struct bench_row *decode, const struct bench_row *tiled)
{
    fprintf(out, "\nspeed-up: decode is %.2fx as fast as tiled with seq_q = 1 on this step (",
            tiled->ms / decode->ms);
    if (s->clock == BENCH_CLOCK_DEVICE)
        fprintf(out, "device time; %.2fx by wall clock)\n", tiled->ms_wall / decode->ms_wall);
    else
        fputs("wall clock)\n", out);
}
