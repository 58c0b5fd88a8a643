/* attn-bench --tune: measures the fused kernels' candidate tiles on the device
 * (clattn_tune) and saves the winners in the per-device tuning file that later runs read. */
#ifndef ATTN_BENCH_TUNE_H
#define ATTN_BENCH_TUNE_H

#include "session.h"

/* Tunes `problem` (a single problem from shape flags), or, when it is NULL, the classes of the
 * standard sweep: head_dim 64 and 128 tiled, and head_dim 64 windowed (256,0). Prints each
 * report. Returns 0 or an exit code after printing why. */
int tune_run(struct bench_session *s, const clattn_problem *problem);

#endif
