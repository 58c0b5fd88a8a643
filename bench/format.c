#include "format.h"

#include <stdio.h>

const char *format_bytes(char buf[FORMAT_BYTES_LEN], uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = (double)bytes;
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < sizeof units / sizeof *units) {
        value /= 1024;
        unit++;
    }
    snprintf(buf, FORMAT_BYTES_LEN, "%.3g %s", value, units[unit]);
    return buf;
}

const char *format_timestamp(char buf[FORMAT_TIMESTAMP_LEN], time_t when)
{
    struct tm utc;
    if (!gmtime_r(&when, &utc) || !strftime(buf, FORMAT_TIMESTAMP_LEN, "%Y-%m-%dT%H:%M:%SZ", &utc))
        snprintf(buf, FORMAT_TIMESTAMP_LEN, "unknown");
    return buf;
}
