#include "session.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "diag.h"
#include "format.h"
#include "report.h"

int session_add_row(struct bench_session *s, const struct bench_row *row)
{
    if (rows_append(&s->rows, row))
        return fail_host_memory();
    table_print_row(s->table, s, s->rows.count - 1);
    fflush(s->table);
    return 0;
}

int session_any_check_failed(const struct bench_session *s)
{
    if (s->other_check_failed)
        return 1;
    for (size_t i = 0; i < s->rows.count; i++)
        if (s->rows.items[i].checked && !s->rows.items[i].passed)
            return 1;
    return 0;
}

uint64_t memory_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t memory_mul(uint64_t a, uint64_t b)
{
    return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* The host memory a new allocation may take without pushing the machine into swap or the OOM
 * killer, and where the figure comes from; UINT64_MAX when the system does not say. Read at
 * each check: what the run holds already is no longer available. */
static uint64_t host_available(const char **source)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[128];
        unsigned long long kib;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
                fclose(f);
                *source = "MemAvailable in /proc/meminfo";
                return memory_mul(kib, 1024);
            }
        fclose(f);
    }
    const long pages = sysconf(_SC_AVPHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page_size > 0) {
        *source = "free pages, by sysconf";
        return memory_mul((uint64_t)pages, (uint64_t)page_size);
    }
    *source = "unknown";
    return UINT64_MAX;
}

/* "8 GiB (8589934592 bytes" without the closing parenthesis, so that a source can follow. */
static const char *figure(char buf[64], uint64_t bytes)
{
    char unit[FORMAT_BYTES_LEN];
    snprintf(buf, 64, "%s (%" PRIu64 " bytes", format_bytes(unit, bytes), bytes);
    return buf;
}

int session_memory_fits(const struct bench_session *s, const struct memory_need *need,
                        char *why, size_t why_len)
{
    const struct device_info *d = &s->device;
    char a[64], b[64], c[64];
    if (need->largest > d->max_alloc) {
        snprintf(why, why_len,
                 "cannot allocate %s: it needs a device buffer of %s), and the device's "
                 "largest allocation is %s, CL_DEVICE_MAX_MEM_ALLOC_SIZE)",
                 need->what, figure(a, need->largest), figure(b, d->max_alloc));
        return 0;
    }
    const uint64_t device = memory_add(need->device, need->device_held);
    if (device > d->global_mem) {
        char held[96] = "";
        if (need->device_held)
            snprintf(held, sizeof held, " (%s) of it held already)",
                     figure(b, need->device_held));
        snprintf(why, why_len,
                 "cannot allocate %s: it needs %s) of device memory%s, and the device has %s, "
                 "CL_DEVICE_GLOBAL_MEM_SIZE)",
                 need->what, figure(a, device), held, figure(c, d->global_mem));
        return 0;
    }
    const uint64_t host =
        d->host_unified ? memory_add(need->host, need->device) : need->host;
    const char *source;
    const uint64_t available = host_available(&source);
    if (host > available) {
        snprintf(why, why_len,
                 "cannot allocate %s: it needs %s) of host memory%s, and %s, %s) are "
                 "available",
                 need->what, figure(a, host),
                 d->host_unified ? " (its device buffers included: the device's memory is "
                                   "the host's)"
                                 : "",
                 figure(b, available), source);
        return 0;
    }
    return 1;
}

int session_check_memory(const struct bench_session *s, const struct memory_need *need)
{
    char why[512];
    if (session_memory_fits(s, need, why, sizeof why))
        return 0;
    fprintf(stderr, "attn-bench: %s\n", why);
    return BENCH_EXIT_RUNTIME;
}
