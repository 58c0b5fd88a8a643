/* The problems attn-bench runs: the command line's single problem and the sweep's, and their
 * shape copied into a row. The library is the judge of what is valid. */
#ifndef ATTN_BENCH_SHAPE_H
#define ATTN_BENCH_SHAPE_H

#include "args.h"
#include "row.h"

/* The sweep's lengths: SWEEP_FIRST_SEQ to SWEEP_LAST_SEQ, doubling; naive up to
 * SWEEP_NAIVE_LAST_SEQ, where its score matrix (512 MiB) has made the point of what tiling
 * saves. --full runs naive at every length and goes on past SWEEP_LAST_SEQ while naive fits. */
#define SWEEP_FIRST_SEQ 512
#define SWEEP_LAST_SEQ 8192
#define SWEEP_NAIVE_LAST_SEQ 4096

/* The sweep's fixed shape, and its windowed rows' window. */
#define SWEEP_BATCH 1
#define SWEEP_HEADS 8
#define SWEEP_HEAD_DIM 64
#define SWEEP_WINDOW_LEFT 256
#define SWEEP_WINDOW_RIGHT 0

/* The single problem of the command line. Returns 0; BENCH_EXIT_USAGE after naming the flag
 * and value the library rejects (head_dim 300, heads not a multiple of kv_heads, ...); or
 * BENCH_EXIT_RUNTIME. Needs no device. */
int shape_from_options(const struct bench_options *opt, clattn_problem **out);

/* One problem of the sweep: seq x seq, causal or not, with the sweep's window or none. */
int shape_for_sweep(int64_t seq, int causal, int windowed, clattn_problem **out);

/* Decode mode's problem: one query row per sequence (causal, so the newest token sees every
 * key) against a cache of `capacity` keys per sequence, paged with --page-size when given
 * (a pool of `num_pages`), in the shape and dtype of the options. Like shape_from_options,
 * a rejection by the library is a usage error naming the flag. */
int shape_for_decode(const struct bench_options *opt, int64_t capacity, int64_t num_pages,
                     clattn_problem **out);

/* Decode mode's cache-off step: the causal prefill of one sequence of `seq` tokens, with the
 * heads, head_dim and dtype of `decode`. */
int shape_for_prefill(const clattn_problem *decode, int64_t seq, clattn_problem **out);

/* A copy of `problem` that runs `algo`. */
int shape_with_algorithm(const clattn_problem *problem, clattn_algorithm algo,
                         clattn_problem **out);

/* Copies the problem's shape, mask and dtype into the row. */
int shape_to_row(const clattn_problem *problem, struct bench_row *row);

#endif
