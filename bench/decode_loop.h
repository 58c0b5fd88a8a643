/* --decode: a model's generation loop against a growing KV cache, and the same tokens without
 * one. */
#ifndef ATTN_BENCH_DECODE_LOOP_H
#define ATTN_BENCH_DECODE_LOOP_H

#include "decode.h"

/* Plans once for the final capacity, then runs steps 1..--tokens, each appending one token
 * per sequence and attending to the whole cache. Sampled steps (1, the powers of two and
 * every eighth of the way) are repeated and reported as rows (checked with --check); then
 * the cache-off prefills are timed at the same steps and the rows get the cumulative
 * comparison. Returns 0 or an exit code after printing why. */
int decode_loop_run(struct bench_session *s, const struct decode_job *job);

#endif
