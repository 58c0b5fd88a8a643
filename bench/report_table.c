/* The table (on stdout, or stderr when a report takes stdout): a header block, then one line
 * per row as it is measured. */
#include <stdlib.h>

#include "format.h"
#include "report.h"
#include "shape.h"

static void print_problem(FILE *out, const struct bench_options *opt)
{
    if (!opt->single) {
        fprintf(out,
                "problem: sweep over seq (= seq_q = seq_kv) from %d to %d, naive to %d%s, "
                "batch %d, heads %d, head_dim %d, f32; windowed rows use window (%d, %d)\n",
                SWEEP_FIRST_SEQ, SWEEP_LAST_SEQ, SWEEP_NAIVE_LAST_SEQ,
                opt->full ? " (--full: naive on, and the sweep past it while naive fits in one "
                            "pass)"
                          : "",
                SWEEP_BATCH, SWEEP_HEADS, SWEEP_HEAD_DIM, SWEEP_WINDOW_LEFT,
                SWEEP_WINDOW_RIGHT);
        return;
    }
    fprintf(out, "problem: batch %lld, heads %lld (kv heads %lld), seq_q %lld, seq_kv %lld, "
                 "head_dim %lld, %s, %s, %s",
            (long long)opt->batch, (long long)opt->heads,
            (long long)(opt->kv_heads ? opt->kv_heads : opt->heads), (long long)opt->seq_q,
            (long long)opt->seq_kv, (long long)opt->head_dim, dtype_name(opt->dtype),
            opt->causal ? "causal" : "not causal", align_name(opt->align));
    if (opt->window_left >= 0 || opt->window_right >= 0)
        fprintf(out, ", window (%lld, %lld)", (long long)opt->window_left,
                (long long)opt->window_right);
    fputc('\n', out);
}

void table_print_device(FILE *out, const struct bench_session *s)
{
    const struct device_info *d = &s->device;
    fprintf(out, "attn-bench (clattn %s)\n", clattn_version_string());
    fprintf(out, "device:  %s (%s, driver %s), %s, %u compute units\n", d->name, d->platform,
            d->driver, device_type_name(d->type), d->compute_units);
    const char *simulated = getenv("CLATTN_DEVICE_LIMITS");
    if (simulated && *simulated)
        fprintf(out, "limits:  simulated by CLATTN_DEVICE_LIMITS=%s\n", simulated);
    if (s->peak.measured)
        fprintf(out, "peak:    %.1f GFLOP/s (f32 FMA), %.1f GB/s (copy), measured\n",
                s->peak.gflops, s->peak.gbps);
    else
        fprintf(out, "peak:    not measured (--no-peak)\n");
}

void table_print_clock(FILE *out, const struct bench_session *s)
{
    if (s->clock == BENCH_CLOCK_DEVICE) {
        fputs("ms = device time (OpenCL profiling events)", out);
        return;
    }
    fprintf(out,
            "ms = wall clock (enqueue + clFinish) in every column, not device time: this "
            "OpenCL implementation's profiling timestamps are implausible (%s%s)",
            s->clock_reason,
            s->opt->profile ? "; --profile's stage times, profiling timestamps too, are not shown"
                            : "");
}

void table_print_header(FILE *out, const struct bench_session *s)
{
    const struct bench_options *opt = s->opt;
    table_print_device(out, s);
    print_problem(out, opt);
    fputs("timing:  ", out);
    table_print_clock(out, s);
    fprintf(out,
            ", median of %d timed run%s after %d warm-up run%s; wall = enqueue + clFinish; "
            "build = plan creation, kernel builds included\n\n",
            opt->iters, opt->iters == 1 ? "" : "s", opt->warmup, opt->warmup == 1 ? "" : "s");
    fprintf(out, "%-13s %-6s %-7s %11s %10s %10s %10s %9s %8s %7s %6s %10s %7s", "algo", "causal",
            "window", "seq", "ms", "wall ms", "build ms", "GFLOP/s", "GB/s", "FLOP/B", "%peak",
            "scratch", "x prev");
    if (opt->check)
        fprintf(out, " %9s %9s %5s", "max err", "lse err", "check");
    fputc('\n', out);
}

/* ms over the ms of the same curve's previous length: ~2 for linear growth per doubling,
 * ~4 for quadratic. 0 when there is none. */
static double ratio_to_previous(const struct bench_rows *rows, size_t index)
{
    const struct bench_row *row = &rows->items[index];
    for (size_t i = index; i-- > 0;) {
        const struct bench_row *prev = &rows->items[i];
        if (rows_same_series(prev, row) && prev->seq_kv < row->seq_kv && prev->ms > 0)
            return row->ms / prev->ms;
    }
    return 0;
}

void table_print_stages(FILE *out, const struct bench_row *r)
{
    const double total = row_stages_ms(r);
    for (int i = 0; i < r->stage_count; i++)
        fprintf(out, "    %-12s %10.3f ms %5.1f%%\n", r->stages[i].name, r->stages[i].ms,
                total > 0 ? 100 * r->stages[i].ms / total : 0.0);
}

void table_print_row(FILE *out, const struct bench_session *s, size_t index)
{
    const struct bench_row *r = &s->rows.items[index];
    if (r->kind != ROW_ATTENTION) {
        decode_table_print_row(out, s, index);
        return;
    }
    char window[48], seq[48], scratch[FORMAT_BYTES_LEN], fraction[16], ratio[16];
    if (r->window_left >= 0 || r->window_right >= 0)
        snprintf(window, sizeof window, "%lld,%lld", (long long)r->window_left,
                 (long long)r->window_right);
    else
        snprintf(window, sizeof window, "-");
    if (r->seq_q == r->seq_kv)
        snprintf(seq, sizeof seq, "%lld", (long long)r->seq_kv);
    else
        snprintf(seq, sizeof seq, "%lld/%lld", (long long)r->seq_q, (long long)r->seq_kv);
    double peak = row_peak_fraction(r, &s->peak);
    if (peak >= 0)
        snprintf(fraction, sizeof fraction, "%.1f%%", 100 * peak);
    else
        snprintf(fraction, sizeof fraction, "-");
    double growth = ratio_to_previous(&s->rows, index);
    if (growth > 0)
        snprintf(ratio, sizeof ratio, "x%.2f", growth);
    else
        snprintf(ratio, sizeof ratio, "-");
    fprintf(out, "%-13s %-6s %-7s %11s %10.3f %10.3f %10.1f %9.2f %8.2f %7.1f %6s %10s %7s",
            row_algo_label(r), r->causal ? "yes" : "no", window, seq, r->ms, r->ms_wall,
            r->build_ms, row_gflops(r), row_gbps(r), row_flop_per_byte(r), fraction,
            format_bytes(scratch, (uint64_t)r->scratch_bytes), ratio);
    if (r->checked)
        fprintf(out, " %9.2e %9.2e %5s", r->max_abs_err, r->lse_err, r->passed ? "PASS" : "FAIL");
    fputc('\n', out);
    table_print_stages(out, r);
}

void table_print_note(FILE *out, const char *text)
{
    fprintf(out, "-- %s\n", text);
}
