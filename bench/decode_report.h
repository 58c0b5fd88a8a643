/* Decode mode's tables (the session's table stream): a header block, the rows as they are measured
 * (decode_table_print_row in report.h), and the summaries. */
#ifndef ATTN_BENCH_DECODE_REPORT_H
#define ATTN_BENCH_DECODE_REPORT_H

#include <stdio.h>

#include "decode.h"

/* --decode: the device, the sequences, the cache, the plan, how a step is timed, and the
 * column titles of the steps' table. */
void decode_print_loop_header(FILE *out, const struct bench_session *s,
                              const struct decode_job *job, const struct decode_plan *plan,
                              uint64_t cache_bytes);

/* The whole loop: every step once (sampled steps by their median). */
void decode_print_loop_total(FILE *out, const struct bench_session *s,
                             const struct decode_layout *layout, double ms, double wall_ms);

/* --check: whether the device's cache equals the host's copy after the last step. */
void decode_print_contents_check(FILE *out, int same);

/* The cache-off table of rows[first..first+count) and the cumulative ratios. */
void decode_print_off(FILE *out, const struct bench_session *s, const struct decode_job *job,
                      size_t first, size_t count);

/* --decode-compare: the device, the step, the cache, how it is timed, the column titles. */
void decode_print_compare_header(FILE *out, const struct bench_session *s,
                                 const struct decode_job *job, uint64_t cache_bytes);

/* The speed-up of decode over tiled. */
void decode_print_compare_result(FILE *out, const struct bench_session *s,
                                 const struct bench_row *decode, const struct bench_row *tiled);

#endif
