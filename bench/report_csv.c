/* The CSV report: a header line, then one line per row, with row_fields' names and order, and
 * then the run's own fields, the same on every line (a CSV has no header block): its start
 * and the peak measured in it. */
#include <math.h>
#include <string.h>

#include "format.h"
#include "report.h"
#include "row_fields.h"

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
