/* Decode mode's "cache off": without a KV cache, every step recomputes attention over each
 * sequence's whole prefix, which is a causal prefill of its L tokens (seq_q = seq_kv = L, the
 * tiled algorithm). */
#ifndef ATTN_BENCH_DECODE_OFF_H
#define ATTN_BENCH_DECODE_OFF_H

#include "session.h"

/* The longest prefill run measured, in device milliseconds: the prefill is quadratic, and
 * timing it at every length a long --decode reaches would take far longer than the loop. */
#define DECODE_OFF_BUDGET_MS 1000.0

/* Times the prefill of one sequence of each of `lengths` tokens (distinct, increasing), with
 * the heads, head_dim and dtype of `decode`: ms[i] is the median device time of --iters runs
 * after --warmup. Stops before a length whose run is predicted, from the last one measured by
 * L^2 growth, to take more than DECODE_OFF_BUDGET_MS, or that the device or the host memory
 * cannot hold: ms[i] is NaN from there on. Returns 0 or an exit code after printing why. */
int decode_off_measure(struct bench_session *s, const clattn_problem *decode,
                       const int64_t *lengths, size_t count, double *ms);

#endif
