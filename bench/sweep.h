/* The standard sweep: seq 512..8192, and on (doubling) while the naive path fits in one pass,
 * batch 1, heads 8, head_dim 64, f32, causal and not; naive, tiled and auto on the full mask,
 * windowed with the window (256, 0). */
#ifndef ATTN_BENCH_SWEEP_H
#define ATTN_BENCH_SWEEP_H

#include "session.h"

/* Runs the sweep for the algorithms of --algo, adding rows to the session. Returns 0 or an
 * exit code after printing why. */
int sweep_run(struct bench_session *s);

#endif
