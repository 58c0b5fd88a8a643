/* Which clock attn-bench's times are read from. The device's own time of the work (OpenCL
 * profiling events) is the better figure, with no host or driver overhead in it, but some
 * implementations return profiling timestamps that do not time the work (rusticl in Mesa 22
 * reports nanoseconds for runs that take milliseconds). There the wall clock around enqueue
 * and clFinish is the only honest figure, and every column reads it. */
#ifndef ATTN_BENCH_CLOCK_H
#define ATTN_BENCH_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "clattn.h"

enum bench_clock {
    BENCH_CLOCK_DEVICE = 0, /* OpenCL profiling events */
    BENCH_CLOCK_WALL        /* CLOCK_MONOTONIC around enqueue + clFinish */
};

/* Milliseconds of CLOCK_MONOTONIC since an arbitrary origin. */
double clock_ms(void);

/* "device" or "wall", as the reports name the clock. */
const char *clock_name(enum bench_clock clock);

/* Whether `device_ms`, the profiled time of some work, is believable against `wall_ms`, the
 * wall clock around the same work: no run of a plan or of a fill of megabytes takes under a
 * microsecond, nor under a thousandth of its wall clock. (A small device time against a large
 * wall clock alone is no sign: without warm-up, the first run's wall clock holds the kernel's
 * code generation on PoCL.) */
int clock_device_plausible(double device_ms, double wall_ms);

/* Chooses the clock for the session: fills a buffer of `bytes` on `queue` (which must have
 * profiling enabled) a few times, and takes the device clock when any fill's profiled time is
 * plausible, the wall clock otherwise, with why in `reason` (both times). Returns 0 or an exit
 * code after printing why. */
int clock_choose(cl_context context, cl_command_queue queue, size_t bytes,
                 enum bench_clock *clock, char *reason, size_t reason_len);

#endif
