/* Decode mode's models (attn-bench.1, DECODE MODE), per sequence, at L keys: this step's own
 * token included, every key visible to the step's one query row.
 *   decode step:  FLOPs = 4 * H * d * L         (QK^T and PV, one query row per head)
 *                 bytes = 2 * L * Hkv * d * size (K and V of every visible key read once)
 *   without a cache the step recomputes attention over its whole prefix, a causal prefill:
 *                 FLOPs = 4 * H * d * L (L + 1) / 2
 * and the sums over steps that compare the two ("cumulative work"). Figures are doubles:
 * the sums outgrow 64-bit integers long before the caches outgrow memory. */
#ifndef ATTN_BENCH_DECODE_MODEL_H
#define ATTN_BENCH_DECODE_MODEL_H

#include <stddef.h>
#include <stdint.h>

struct decode_dims {
    int64_t heads, kv_heads, head_dim;
    size_t elem_size; /* bytes of one element in the storage dtype */
};

double decode_step_flops(const struct decode_dims *m, int64_t keys);
double decode_step_bytes(const struct decode_dims *m, int64_t keys);
double prefill_flops(const struct decode_dims *m, int64_t keys);

/* The exact sums over steps 1..steps of a sequence that held `start` keys before step 1 (so
 * step t attends to start + t keys): of decode_step_flops, and of prefill_flops. */
double decode_sum_step_flops(const struct decode_dims *m, int64_t start, int64_t steps);
double decode_sum_prefill_flops(const struct decode_dims *m, int64_t start, int64_t steps);

/* The sum over steps steps[0]..steps[last] of a cost measured at those steps only (steps[0]
 * the first, increasing): the trapezoid rule between samples, plus half of the two ends, so
 * that it is exact for a cost linear in the step and when every step is sampled. */
double decode_sum_sampled(const int64_t *steps, const double *values, size_t last);

#endif
