/* One measured row (one algorithm on one problem) and the list the reports read. */
#ifndef ATTN_BENCH_ROW_H
#define ATTN_BENCH_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "clattn.h"

struct bench_stage {
    const char *name; /* the library's static stage name */
    double ms;
};

struct bench_row {
    clattn_algorithm requested; /* what --algo asked for: auto stays auto */
    clattn_algorithm algo;      /* what the plan ran */
    int64_t batch, heads, kv_heads, seq_q, seq_kv, head_dim;
    int64_t window_left, window_right; /* -1: unbounded */
    int causal;
    clattn_align align;
    clattn_dtype dtype;
    int iters, warmup;
    double ms;       /* median device time (sum of the plan's stages) */
    double ms_min;   /* fastest device time */
    double ms_wall;  /* median wall clock of enqueue + clFinish */
    double build_ms; /* clattn_plan_create, kernel builds included */
    uint64_t flops, bytes; /* traffic.c's models */
    int64_t scratch_bytes;
    /* --check */
    int checked, passed;
    double max_abs_err, lse_err;
    /* --profile: the stages of the last timed run; NULL otherwise */
    int stage_count;
    struct bench_stage *stages;
};

struct bench_rows {
    struct bench_row *items;
    size_t count, capacity;
};

/* Appends a copy of `row`, taking over its stages. Returns 0, or -1 when out of memory (the
 * stages are then freed). */
int rows_append(struct bench_rows *rows, const struct bench_row *row);
void rows_free(struct bench_rows *rows);

/* The sum of the row's --profile stages. */
double row_stages_ms(const struct bench_row *row);

/* Whether two rows differ in their sequence lengths only: points of one curve. */
int rows_same_series(const struct bench_row *a, const struct bench_row *b);

/* The algorithm as the reports print it: "tiled", or "auto:tiled" when auto chose it. Static
 * strings. */
const char *row_algo_label(const struct bench_row *row);
const char *algo_name(clattn_algorithm algo);
const char *dtype_name(clattn_dtype dtype);
const char *align_name(clattn_align align);

#endif
