/* Small text formatting shared by the reports. */
#ifndef ATTN_BENCH_FORMAT_H
#define ATTN_BENCH_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Enough for any 64-bit byte count with its unit. */
#define FORMAT_BYTES_LEN 32

/* "512 B", "2 KiB", "3.91 GiB": binary units, three significant digits. */
const char *format_bytes(char buf[FORMAT_BYTES_LEN], uint64_t bytes);

#endif
