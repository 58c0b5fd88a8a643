/* The standard sweep (shape.h): seq 512..8192, naive up to 4096, batch 1, heads 8, head_dim 64,
 * f32, causal and not; naive, tiled and auto on the full mask, windowed with the window
 * (256, 0). With --full, naive at every length, and on (doubling) past 8192 while the naive
 * path fits in one pass. */
#ifndef ATTN_BENCH_SWEEP_H
#define ATTN_BENCH_SWEEP_H

#include "session.h"

/* Runs the sweep for the algorithms of --algo, adding rows to the session. Returns 0 or an
 * exit code after printing why. */
int sweep_run(struct bench_session *s);

#endif
