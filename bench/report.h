/* The reports: the table on stdout (row by row as they are measured), and the JSON, CSV and
 * SVG files written at the end. */
#ifndef ATTN_BENCH_REPORT_H
#define ATTN_BENCH_REPORT_H

#include <stdio.h>

#include "session.h"

/* The header block (device, peak, problem, timing settings) and the column titles. */
void table_print_header(FILE *out, const struct bench_session *s);
/* The header block's first lines: the tool's version, the device and its peak. */
void table_print_device(FILE *out, const struct bench_session *s);
/* For the header's timing line: "ms = device time (...)", or the wall clock and why. */
void table_print_clock(FILE *out, const struct bench_session *s);
/* Row `index` of the session, with its stages under it when --profile; decode mode's rows
 * are decode_table_print_row's. */
void table_print_row(FILE *out, const struct bench_session *s, size_t index);
/* The row's --profile stages, one line each. */
void table_print_stages(FILE *out, const struct bench_row *row);
/* A row of decode mode's tables (decode_report.c). */
void decode_table_print_row(FILE *out, const struct bench_session *s, size_t index);
/* A line about a row that was not measured. */
void table_print_note(FILE *out, const char *text);

/* Each returns 0, or -1 when writing failed (errno set). */
int json_write(FILE *out, const struct bench_session *s);
int csv_write(FILE *out, const struct bench_session *s);
int plot_svg_write(FILE *out, const struct bench_session *s);

#endif
