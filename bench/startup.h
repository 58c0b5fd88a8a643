/* attn-bench --startup: how long a new process takes to its first attention, with the disk
 * cache of compiled kernels empty (cold) and filled (warm). */
#ifndef ATTN_BENCH_STARTUP_H
#define ATTN_BENCH_STARTUP_H

#include "args.h"

/* --startup: runs this executable again as --startup-child, --iters times cold (a new, empty
 * CLATTN_CACHE_DIR and the drivers' own kernel caches off) and each time warm right after
 * (the same directory), and prints the medians and their ratio. Opens no device itself.
 * Returns 0 or an exit code after printing why. */
int startup_run(const struct bench_options *opt);

/* --startup-child: opens the device, plans and runs the default problem (tiled, seq 1024, 8
 * heads, head_dim 64, f32) once through clattn_run_host, and writes the CLOCK_MONOTONIC time
 * at which it completed, then the device's name, as one line on stdout. */
int startup_child(const struct bench_options *opt);

#endif
