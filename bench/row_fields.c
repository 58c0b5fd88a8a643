#include "row_fields.h"

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

size_t row_fields(const struct bench_row *r, const struct bench_peak *peak,
                  struct field f[ROW_FIELDS_MAX])
{
    size_t n = 0;
    f[n++] = text("algo", algo_name(r->algo));
    f[n++] = text("requested_algo", algo_name(r->requested));
    f[n++] = integer("batch", r->batch);
    f[n++] = integer("heads", r->heads);
    f[n++] = integer("kv_heads", r->kv_heads);
    f[n++] = integer("seq_q", r->seq_q);
    f[n++] = integer("seq_kv", r->seq_kv);
    f[n++] = integer("head_dim", r->head_dim);
    f[n++] = text("dtype", dtype_name(r->dtype));
    f[n++] = boolean("causal", r->causal);
    f[n++] = text("align", align_name(r->align));
    f[n++] = integer("window_left", r->window_left);
    f[n++] = integer("window_right", r->window_right);
    f[n++] = number("ms", r->ms);
    f[n++] = number("ms_min", r->ms_min);
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
    return n;
}
