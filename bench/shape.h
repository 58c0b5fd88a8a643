/* The problems attn-bench runs: the command line's single problem and the sweep's, and their
 * shape copied into a row. The library is the judge of what is valid. */
#ifndef ATTN_BENCH_SHAPE_H
#define ATTN_BENCH_SHAPE_H

#include "args.h"
#include "row.h"

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

/* A copy of `problem` that runs `algo`. */
int shape_with_algorithm(const clattn_problem *problem, clattn_algorithm algo,
                         clattn_problem **out);

/* Copies the problem's shape, mask and dtype into the row. */
int shape_to_row(const clattn_problem *problem, struct bench_row *row);

#endif
