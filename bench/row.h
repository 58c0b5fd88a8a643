/* One measured row (one algorithm on one problem, or one step of decode mode) and the list
 * the reports read. */
#ifndef ATTN_BENCH_ROW_H
#define ATTN_BENCH_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "clattn.h"
#include "clock.h"

struct bench_stage {
    const char *name; /* the library's static stage name */
    double ms;
};

/* What a row measured; each kind has its own fields in the reports. */
enum row_kind {
    ROW_ATTENTION = 0,  /* one problem: the sweep's, or the command line's */
    ROW_DECODE_STEP,    /* --decode: one sampled step of the loop */
    ROW_DECODE_COMPARE  /* --decode-compare: one step, by one algorithm */
};

/* A decode step. seq_q is 1 and seq_kv the longest sequence's keys after this step's append;
 * flops and bytes are decode_model.h's, over the whole batch. Figures that were not measured
 * are NaN (null in the reports). */
struct bench_decode_fields {
    int64_t step;        /* ROW_DECODE_STEP: the token generated, 1..--tokens */
    int64_t capacity;    /* keys per sequence the cache was allocated (and planned) for */
    int64_t page_size;   /* 0: contiguous */
    int64_t splits;      /* CLATTN_PLAN_SPLITS of the decode algorithm; 1 otherwise */
    uint64_t cache_bytes; /* K and V as allocated (the page pool when paged) */
    int cache_resident;   /* the bytes the step reads fit CL_DEVICE_GLOBAL_MEM_CACHE_SIZE */
    double tokens_per_s; /* batch / median wall clock of the step */
    /* ROW_DECODE_STEP: without a cache, this step's causal prefill of every sequence's prefix
     * (tiled), and both costs summed over steps 1..step (decode_model.h) */
    double off_ms;
    double off_flops;
    double cum_on_ms, cum_off_ms;
    double cum_flops_ratio; /* modelled cache-off / cache-on FLOPs over steps 1..step */
    /* ROW_DECODE_COMPARE: tiled's device time over this row's */
    double speedup_vs_tiled;
};

struct bench_row {
    enum row_kind kind;
    clattn_algorithm requested; /* what --algo asked for: auto stays auto */
    clattn_algorithm algo;      /* what the plan ran */
    int64_t batch, heads, kv_heads, seq_q, seq_kv, head_dim;
    int64_t window_left, window_right; /* -1: unbounded */
    int causal;
    clattn_align align;
    clattn_dtype dtype;
    int iters, warmup;
    enum bench_clock clock; /* what ms, ms_min and ms_max read: the device's (the sum of the
                             * plan's stages) or the wall clock */
    double ms;       /* median time */
    double ms_min;   /* fastest run */
    double ms_max;   /* slowest run */
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
    struct bench_decode_fields decode; /* kind != ROW_ATTENTION */
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
