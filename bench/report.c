/* The reports: the table (on stdout, or stderr when a report takes stdout: a header block,
 * then one line per row as it is measured, decode mode's rows included), and the JSON and CSV
 * files written at the end, whose fields are named once (row_fields) so that the two cannot
 * drift apart. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ---- The table */

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
    if (opt->head_dim_v)
        fprintf(out, ", head_dim_v %lld", (long long)opt->head_dim_v);
    if (opt->window_left >= 0 || opt->window_right >= 0)
        fprintf(out, ", window (%lld, %lld)", (long long)opt->window_left,
                (long long)opt->window_right);
    if (opt->softcap > 0)
        fprintf(out, ", softcap %g", opt->softcap);
    if (opt->alibi_bias > 0)
        fprintf(out, ", ALiBi (ggml's slopes, max_bias %g)", opt->alibi_bias);
    if (opt->has_sinks)
        fprintf(out, ", sinks %g", opt->sink);
    if (opt->sink_tokens)
        fprintf(out, ", %lld sink tokens", (long long)opt->sink_tokens);
    if (opt->has_positions)
        fprintf(out, ", positions from %lld (rows) and %lld (keys)", (long long)opt->q_start,
                (long long)opt->k_start);
    if (opt->mask != BENCH_MASK_NONE)
        fprintf(out, ", additive mask (%s)", mask_name(opt->mask));
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
    if (s->peak.measured && s->peak.read_gbps > 0)
        fprintf(out, "peak:    %.1f GFLOP/s (f32 FMA), %.1f GB/s (copy), %.1f GB/s (read), "
                     "measured\n",
                s->peak.gflops, s->peak.gbps, s->peak.read_gbps);
    else if (s->peak.measured)
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

/* The row's --profile stages, one line each. */
static void table_print_stages(FILE *out, const struct bench_row *r)
{
    const double total = row_stages_ms(r);
    for (int i = 0; i < r->stage_count; i++)
        fprintf(out, "    %-12s %10.3f ms %5.1f%%\n", r->stages[i].name, r->stages[i].ms,
                total > 0 ? 100 * r->stages[i].ms / total : 0.0);
}

static void print_bandwidth_share(FILE *out, const struct bench_session *s,
                                  const struct bench_row *r)
{
    char share[16] = "-";
    if (r->decode.cache_resident)
        snprintf(share, sizeof share, "LLC");
    else if (s->peak.measured && s->peak.read_gbps > 0)
        snprintf(share, sizeof share, "%.1f%%", 100 * row_gbps(r) / s->peak.read_gbps);
    fprintf(out, " %6s", share);
}

/* A row of decode mode's tables. */
static void decode_table_print_row(FILE *out, const struct bench_session *s, size_t index)
{
    const struct bench_row *r = &s->rows.items[index];
    char label[ROW_LABEL_LEN];
    if (r->kind == ROW_DECODE_COMPARE)
        fprintf(out, "%-13s %6lld ", row_algo_label(r, label), (long long)r->decode.splits);
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

/* Row `index` of the session, with its stages under it when --profile. */
static void table_print_row(FILE *out, const struct bench_session *s, size_t index)
{
    const struct bench_row *r = &s->rows.items[index];
    if (r->kind != ROW_ATTENTION) {
        decode_table_print_row(out, s, index);
        return;
    }
    char window[48], seq[48], scratch[FORMAT_BYTES_LEN], fraction[16], ratio[16];
    char label[ROW_LABEL_LEN];
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
            row_algo_label(r, label), r->causal ? "yes" : "no", window, seq, r->ms, r->ms_wall,
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

int session_add_row(struct bench_session *s, const struct bench_row *row)
{
    if (rows_append(&s->rows, row))
        return fail_host_memory();
    table_print_row(s->table, s, s->rows.count - 1);
    fflush(s->table);
    return 0;
}

/* ---- The fields of a row as the machine-readable reports name them, in one order, so that
 * the JSON and the CSV cannot drift apart. */

enum field_kind { FIELD_TEXT, FIELD_INTEGER, FIELD_NUMBER, FIELD_BOOL, FIELD_NULL };

struct field {
    const char *name;
    enum field_kind kind;
    const char *text;
    long long integer; /* also the value of a FIELD_BOOL */
    double number;     /* may be non-finite: the writers print it as null / empty */
};

#define ROW_FIELDS_MAX 56

static struct field text(const char *name, const char *value)
{
    return (struct field){name, FIELD_TEXT, value, 0, 0};
}

static struct field integer(const char *name, long long value)
{
    return (struct field){name, FIELD_INTEGER, NULL, value, 0};
}

static struct field number(const char *name, double value)
{
    return (struct field){name, FIELD_NUMBER, NULL, 0, value};
}

static struct field boolean(const char *name, int value)
{
    return (struct field){name, FIELD_BOOL, NULL, value != 0, 0};
}

/* Fills `fields` with the row's fields and returns how many; the check fields are there only
 * when the row was checked, the decode fields only in the rows of decode mode. */
static size_t row_fields(const struct bench_row *r, const struct bench_peak *peak,
                         struct field f[ROW_FIELDS_MAX])
{
    size_t n = 0;
    f[n++] = text("algo", clattn_algorithm_name(r->algo));
    f[n++] = text("requested_algo", clattn_algorithm_name(r->requested));
    f[n++] = integer("batch", r->batch);
    f[n++] = integer("heads", r->heads);
    f[n++] = integer("kv_heads", r->kv_heads);
    f[n++] = integer("seq_q", r->seq_q);
    f[n++] = integer("seq_kv", r->seq_kv);
    f[n++] = integer("head_dim", r->head_dim);
    f[n++] = integer("head_dim_v", r->head_dim_v);
    f[n++] = text("dtype", dtype_name(r->dtype));
    f[n++] = boolean("causal", r->causal);
    f[n++] = text("align", align_name(r->align));
    f[n++] = integer("window_left", r->window_left);
    f[n++] = integer("window_right", r->window_right);
    f[n++] = text("clock", clock_name(r->clock));
    f[n++] = number("ms", r->ms);
    f[n++] = number("ms_min", r->ms_min);
    f[n++] = number("ms_max", r->ms_max);
    f[n++] = number("ms_wall", r->ms_wall);
    f[n++] = number("build_ms", r->build_ms);
    f[n++] = integer("flops", (long long)r->flops);
    f[n++] = number("gflops", row_gflops(r));
    f[n++] = number("gbps", row_gbps(r));
    f[n++] = integer("bytes", (long long)r->bytes);
    f[n++] = number("flop_per_byte", row_flop_per_byte(r));
    double fraction = row_peak_fraction(r, peak);
    f[n++] = fraction < 0 ? (struct field){"peak_fraction", FIELD_NULL, NULL, 0, 0}
                          : number("peak_fraction", fraction);
    f[n++] = integer("scratch_bytes", r->scratch_bytes);
    f[n++] = integer("iters", r->iters);
    f[n++] = integer("warmup", r->warmup);
    if (r->checked) {
        f[n++] = number("max_abs_err", r->max_abs_err);
        f[n++] = number("lse_err", r->lse_err);
        f[n++] = boolean("passed", r->passed);
    }
    if (r->kind == ROW_ATTENTION)
        return n;
    const struct bench_decode_fields *d = &r->decode;
    if (r->kind == ROW_DECODE_STEP)
        f[n++] = integer("step", d->step);
    f[n++] = integer("capacity", d->capacity);
    f[n++] = integer("splits", d->splits);
    f[n++] = boolean("paged", d->page_size > 0);
    f[n++] = integer("page_size", d->page_size);
    f[n++] = text("kv_dtype", dtype_name(d->kv_dtype));
    f[n++] = integer("cache_bytes", (long long)d->cache_bytes);
    f[n++] = boolean("cache_resident", d->cache_resident);
    /* shares of the copy and the read bandwidth, which do not apply to keys read from the
     * cache */
    f[n++] = d->cache_resident || !peak->measured || peak->gbps <= 0
                 ? (struct field){"bw_fraction", FIELD_NULL, NULL, 0, 0}
                 : number("bw_fraction", row_gbps(r) / peak->gbps);
    f[n++] = d->cache_resident || !peak->measured || peak->read_gbps <= 0
                 ? (struct field){"read_bw_fraction", FIELD_NULL, NULL, 0, 0}
                 : number("read_bw_fraction", row_gbps(r) / peak->read_gbps);
    f[n++] = number("tokens_per_s", d->tokens_per_s);
    if (r->kind == ROW_DECODE_COMPARE) {
        f[n++] = number("speedup_vs_tiled", d->speedup_vs_tiled);
        return n;
    }
    f[n++] = number("off_ms", d->off_ms);
    f[n++] = number("off_flops", d->off_flops);
    f[n++] = number("cum_on_ms", d->cum_on_ms);
    f[n++] = number("cum_off_ms", d->cum_off_ms);
    f[n++] = number("cum_ratio", d->cum_off_ms / d->cum_on_ms);
    f[n++] = number("cum_flops_ratio", d->cum_flops_ratio);
    return n;
}

/* ---- The CSV report: a header line, then one line per row, with row_fields' names and order,
 * and then the run's own fields, the same on every line (a CSV has no header block): its start
 * and the peak measured in it. */

/* RFC 4180: quote a field holding a comma, a quote or a line break, doubling its quotes. */
static void write_text(FILE *out, const char *text)
{
    if (!strpbrk(text, ",\"\r\n")) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

static void write_value(FILE *out, const struct field *f)
{
    switch (f->kind) {
    case FIELD_TEXT: write_text(out, f->text); break;
    case FIELD_INTEGER: fprintf(out, "%lld", f->integer); break;
    case FIELD_NUMBER:
        if (isfinite(f->number))
            fprintf(out, "%.9g", f->number);
        break;
    case FIELD_BOOL: fputs(f->integer ? "true" : "false", out); break;
    case FIELD_NULL: break;
    }
}

/* The kind of every row this run reports. */
static enum row_kind run_row_kind(const struct bench_options *opt)
{
    switch (opt->decode) {
    case BENCH_DECODE_LOOP: return ROW_DECODE_STEP;
    case BENCH_DECODE_COMPARE: return ROW_DECODE_COMPARE;
    case BENCH_DECODE_NONE: break;
    }
    return ROW_ATTENTION;
}

int csv_write(FILE *out, const struct bench_session *s)
{
    /* The names do not depend on the values: any row of the run's kind with its --check gives
     * them, so the header is there even when no row is. (Decode mode checks every row it
     * reports, like the others.) */
    char timestamp[FORMAT_TIMESTAMP_LEN];
    format_timestamp(timestamp, s->started);
    const struct field run[] = {
        {"timestamp", FIELD_TEXT, timestamp, 0, 0},
        {"peak_gflops", s->peak.measured ? FIELD_NUMBER : FIELD_NULL, NULL, 0, s->peak.gflops},
        {"peak_gbps", s->peak.measured ? FIELD_NUMBER : FIELD_NULL, NULL, 0, s->peak.gbps},
    };
    const size_t run_count = sizeof run / sizeof *run;
    struct field fields[ROW_FIELDS_MAX];
    const struct bench_row any = {.kind = run_row_kind(s->opt), .checked = s->opt->check};
    size_t count = row_fields(&any, &s->peak, fields);
    for (size_t i = 0; i < count; i++)
        fprintf(out, "%s,", fields[i].name);
    for (size_t i = 0; i < run_count; i++)
        fprintf(out, "%s%c", run[i].name, i + 1 < run_count ? ',' : '\n');
    for (size_t r = 0; r < s->rows.count; r++) {
        count = row_fields(&s->rows.items[r], &s->peak, fields);
        for (size_t i = 0; i < count; i++) {
            write_value(out, &fields[i]);
            fputc(',', out);
        }
        for (size_t i = 0; i < run_count; i++) {
            write_value(out, &run[i]);
            fputc(i + 1 < run_count ? ',' : '\n', out);
        }
    }
    return ferror(out) ? -1 : 0;
}

/* ---- The JSON report: one object with the run's time, the device, its measured peak, the
 * clock, the command and the rows. */

static void write_string(FILE *out, const char *text)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

/* JSON has no infinity or NaN. */
static void write_number(FILE *out, double value)
{
    if (isfinite(value))
        fprintf(out, "%.9g", value);
    else
        fputs("null", out);
}

static void write_field(FILE *out, const struct field *f)
{
    write_string(out, f->name);
    fputs(": ", out);
    switch (f->kind) {
    case FIELD_TEXT: write_string(out, f->text); break;
    case FIELD_INTEGER: fprintf(out, "%lld", f->integer); break;
    case FIELD_NUMBER: write_number(out, f->number); break;
    case FIELD_BOOL: fputs(f->integer ? "true" : "false", out); break;
    case FIELD_NULL: fputs("null", out); break;
    }
}

static void write_device(FILE *out, const struct device_info *d)
{
    fputs("  \"device\": {\"name\": ", out);
    write_string(out, d->name);
    fputs(", \"platform\": ", out);
    write_string(out, d->platform);
    fputs(", \"driver\": ", out);
    write_string(out, d->driver);
    fprintf(out,
            ", \"type\": \"%s\", \"compute_units\": %u, \"clock_mhz\": %u, "
            "\"global_mem_bytes\": %llu, \"max_alloc_bytes\": %llu, \"local_mem_bytes\": %llu, "
            "\"local_mem_type\": \"%s\", \"max_work_group_size\": %zu, "
            "\"global_mem_cache_bytes\": %llu, \"host_unified_memory\": %s, "
            "\"simulated_limits\": ",
            device_type_name(d->type), d->compute_units, d->clock_mhz,
            (unsigned long long)d->global_mem, (unsigned long long)d->max_alloc,
            (unsigned long long)d->local_mem, d->local_mem_dedicated ? "CL_LOCAL" : "CL_GLOBAL",
            d->max_work_group, (unsigned long long)d->global_cache,
            d->host_unified ? "true" : "false");
    const char *simulated = getenv("CLATTN_DEVICE_LIMITS");
    if (simulated && *simulated)
        write_string(out, simulated);
    else
        fputs("null", out);
    fputs("},\n", out);
}

static void write_row(FILE *out, const struct bench_row *row, const struct bench_session *s)
{
    struct field fields[ROW_FIELDS_MAX];
    size_t count = row_fields(row, &s->peak, fields);
    fputs("    {", out);
    for (size_t i = 0; i < count; i++) {
        if (i)
            fputs(", ", out);
        write_field(out, &fields[i]);
    }
    if (s->opt->profile) {
        const double total = row_stages_ms(row);
        fputs(", \"stages\": [", out);
        for (int i = 0; i < row->stage_count; i++) {
            fputs(i ? ", {\"name\": " : "{\"name\": ", out);
            write_string(out, row->stages[i].name);
            fputs(", \"ms\": ", out);
            write_number(out, row->stages[i].ms);
            fputs(", \"share\": ", out);
            write_number(out, total > 0 ? row->stages[i].ms / total : 0);
            fputc('}', out);
        }
        fputc(']', out);
    }
    fputc('}', out);
}

int json_write(FILE *out, const struct bench_session *s)
{
    char timestamp[FORMAT_TIMESTAMP_LEN];
    fprintf(out, "{\n  \"tool\": \"attn-bench\",\n  \"clattn_version\": ");
    write_string(out, clattn_version_string());
    fputs(",\n  \"timestamp\": ", out);
    write_string(out, format_timestamp(timestamp, s->started));
    fputs(",\n  \"command\": ", out);
    write_string(out, s->command);
    fputs(",\n  \"clock\": ", out);
    write_string(out, clock_name(s->clock));
    fputs(",\n  \"clock_probe\": ", out);
    write_string(out, s->clock_reason);
    fputs(",\n", out);
    write_device(out, &s->device);
    if (s->peak.measured) {
        fputs("  \"peak\": {\"gflops\": ", out);
        write_number(out, s->peak.gflops);
        fputs(", \"gbps\": ", out);
        write_number(out, s->peak.gbps);
        fputs(", \"read_gbps\": ", out);
        if (s->peak.read_gbps > 0)
            write_number(out, s->peak.read_gbps);
        else
            fputs("null", out);
        fputs("},\n", out);
    } else {
        fputs("  \"peak\": null,\n", out);
    }
    fputs("  \"rows\": [", out);
    for (size_t i = 0; i < s->rows.count; i++) {
        fputs(i ? ",\n" : "\n", out);
        write_row(out, &s->rows.items[i], s);
    }
    fputs(s->rows.count ? "\n  ]\n}\n" : "]\n}\n", out);
    return ferror(out) ? -1 : 0;
}
