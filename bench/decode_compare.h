/* --decode-compare: one decode step at --seq-kv keys, by the decode algorithm (split-KV) and by
 * tiled with seq_q = 1, on the same cache. */
#ifndef ATTN_BENCH_DECODE_COMPARE_H
#define ATTN_BENCH_DECODE_COMPARE_H

#include "decode.h"

/* Plans both, times the step with each (--warmup, --iters; checked with --check), adds a row
 * for each and prints the speed-up. Returns 0 or an exit code after printing why. */
int decode_compare_run(struct bench_session *s, const struct decode_job *job);

#endif
