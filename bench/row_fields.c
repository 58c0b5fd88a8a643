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
    f[n++] = integer("cache_bytes", (long long)d->cache_bytes);
    f[n++] = boolean("cache_resident", d->cache_resident);
    /* a share of the copy bandwidth, which does not apply to keys read from the cache */
    f[n++] = d->cache_resident || !peak->measured || peak->gbps <= 0
                 ? (struct field){"bw_fraction", FIELD_NULL, NULL, 0, 0}
                 : number("bw_fraction", row_gbps(r) / peak->gbps);
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
