/* Small text formatting shared by the reports. */
#ifndef ATTN_BENCH_FORMAT_H
#define ATTN_BENCH_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Enough for any 64-bit byte count with its unit. */
#define FORMAT_BYTES_LEN 32

/* "512 B", "2 KiB", "3.91 GiB": binary units, three significant digits. */
const char *format_bytes(char buf[FORMAT_BYTES_LEN], uint64_t bytes);

/* Enough for an ISO 8601 UTC timestamp. */
#define FORMAT_TIMESTAMP_LEN 32

/* "2026-11-23T14:05:09Z": `when` in UTC, ISO 8601, as the reports give a run's start. */
const char *format_timestamp(char buf[FORMAT_TIMESTAMP_LEN], time_t when);

#endif
