/* The monotonic clock the wall-clock figures are read from. */
#ifndef ATTN_BENCH_CLOCK_H
#define ATTN_BENCH_CLOCK_H

/* Milliseconds of CLOCK_MONOTONIC since an arbitrary origin. */
double clock_ms(void);

#endif
