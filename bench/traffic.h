/* The FLOP and global-memory traffic models, and the rates derived from them (documented in
 * attn-bench.1, MODELS).
 *   FLOPs = 4 * d * visible (query, key) pairs: masked work is not credited.
 *   bytes (tiled, windowed) = Q + K + V read once + O written once + LSE (f32) written once.
 *   bytes (naive) = that + 6 * B * H * Nq * Nk * 4: the f32 score matrix written by QK^T,
 *   read and written by scale+mask, read and written by softmax, read by PV. */
#ifndef ATTN_BENCH_TRAFFIC_H
#define ATTN_BENCH_TRAFFIC_H

#include "clattn.h"
#include "row.h"

/* The device's measured peak (clattn_measure_peak), or measured = 0 with --no-peak. */
struct bench_peak {
    int measured;
    double gflops, gbps;
};

/* Sets row->flops and row->bytes from `problem` and the row's shape, algo and dtype. */
clattn_status traffic_model(const clattn_problem *problem, struct bench_row *row);

double row_gflops(const struct bench_row *row);
double row_gbps(const struct bench_row *row);
double row_flop_per_byte(const struct bench_row *row);

/* GFLOP/s over the device's measured FMA peak: how much of what the device can compute the
 * row used. Negative when the peak was not measured. (Memory-bound rows are judged by their
 * GB/s against the measured bandwidth instead.) */
double row_peak_fraction(const struct bench_row *row, const struct bench_peak *peak);

#endif
