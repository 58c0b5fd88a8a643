/* The JSON report: one object with the run's time, the device, its measured peak, the clock,
 * the command and the rows. */
#include <math.h>
#include <stdlib.h>

#include "format.h"
#include "report.h"
#include "row_fields.h"

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
