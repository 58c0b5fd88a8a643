/* What one attn-bench invocation holds while it runs: the options, the device, its peak, the
 * clock its times are read from and the rows measured so far; and the one check of every
 * allocation attn-bench makes against the memory the device and the host have. */
#ifndef ATTN_BENCH_SESSION_H
#define ATTN_BENCH_SESSION_H

#include <stdio.h>
#include <time.h>

#include "args.h"
#include "clock.h"
#include "device_info.h"
#include "row.h"
#include "traffic.h"

struct bench_session {
    const struct bench_options *opt;
    const char *command; /* argv joined by spaces */
    time_t started;      /* the reports' timestamp */
    FILE *table;         /* stdout, or stderr when a report goes to stdout */
    clattn_context *ctx;
    cl_command_queue queue; /* the context's own, with profiling enabled */
    struct device_info device;
    struct bench_peak peak;
    enum bench_clock clock; /* what every row's times are read from (clock_choose) */
    char clock_reason[160]; /* the probe's two readings */
    struct bench_rows rows;
    int other_check_failed; /* a --check outside the rows failed (decode's cache contents) */
};

/* Appends a measured row and prints it in the table. Returns 0 or an exit code. */
int session_add_row(struct bench_session *s, const struct bench_row *row);

/* Whether any row ran --check and failed it, or another check did. */
int session_any_check_failed(const struct bench_session *s);

/* Memory that a step of attn-bench is about to allocate, sized before any of it is: by
 * attn-bench itself and by the library calls the step makes (the reference's rows, ...). */
struct memory_need {
    const char *what;     /* "the inputs (Q, K, V, O, LSE)", for the refusal */
    uint64_t host;        /* host bytes, at most, held at once */
    uint64_t device;      /* device bytes, all of them held at once */
    uint64_t device_held; /* device bytes already allocated that stay (a plan's scratch) */
    uint64_t largest;     /* the largest single device buffer */
};

/* a + b, and a * b, saturated: the sizes of absurd shapes must not wrap to small ones. */
uint64_t memory_add(uint64_t a, uint64_t b);
uint64_t memory_mul(uint64_t a, uint64_t b);

/* Whether `need` fits: its largest buffer within the device's largest allocation
 * (CL_DEVICE_MAX_MEM_ALLOC_SIZE), its device bytes and those held within the device's memory
 * (CL_DEVICE_GLOBAL_MEM_SIZE), and its host bytes within the host's available memory
 * (MemAvailable in /proc/meminfo, else sysconf's free pages), its device bytes counted there
 * too when the device's memory is the host's (CL_DEVICE_HOST_UNIFIED_MEMORY). When it does
 * not fit, `why` says what needs how many bytes and how many there are. */
int session_memory_fits(const struct bench_session *s, const struct memory_need *need,
                        char *why, size_t why_len);

/* session_memory_fits, refusing with the reason on stderr. Returns 0 or BENCH_EXIT_RUNTIME. */
int session_check_memory(const struct bench_session *s, const struct memory_need *need);

#endif
