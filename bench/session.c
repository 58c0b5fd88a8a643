/* What every part of attn-bench uses: the one place that words a failure, the clock, byte
 * and time formatting, the device's figures, the rows and their models, the session and its
 * memory checks, and the progress line. It calls no other file of attn-bench. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CL/cl_ext.h> /* CL_DEVICE_HALF_FP_CONFIG */

#include "bench.h"

/* ---- Exit codes, and the one place that words a failure on stderr */

int fail_clattn(const clattn_context *ctx, clattn_status status, const char *what)
{
    const char *detail = clattn_message(ctx);
    fprintf(stderr, "attn-bench: %s: %s%s%s\n", what, clattn_status_string(status),
            detail[0] ? ": " : "", detail);
    return BENCH_EXIT_RUNTIME;
}

int fail_cl(cl_int err, const char *call)
{
    /* clattn does not export its table of OpenCL error names; the number is in cl.h. */
    fprintf(stderr, "attn-bench: %s failed with OpenCL error %d\n", call, (int)err);
    return BENCH_EXIT_RUNTIME;
}

int fail_file(const char *path, const char *what)
{
    fprintf(stderr, "attn-bench: cannot %s '%s': %s\n", what, path, strerror(errno));
    return BENCH_EXIT_RUNTIME;
}

int fail_host_memory(void)
{
    fprintf(stderr, "attn-bench: out of host memory\n");
    return BENCH_EXIT_RUNTIME;
}

int fail_usage(const char *message)
{
    fprintf(stderr, "attn-bench: %s\nTry 'attn-bench --help' for more information.\n", message);
    return BENCH_EXIT_USAGE;
}

/* ---- Which clock the times are read from, and the median of timed runs */

/* Fills timed by the probe: one plausible reading is enough to trust the timestamps. */
#define PROBE_FILLS 3

double clock_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median(double *values, int count)
{
    qsort(values, (size_t)count, sizeof *values, compare_doubles);
    return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

const char *clock_name(enum bench_clock clock)
{
    return clock == BENCH_CLOCK_WALL ? "wall" : "device";
}

int clock_device_plausible(double device_ms, double wall_ms)
{
    return device_ms >= 1e-3 || device_ms >= 1e-3 * wall_ms;
}

/* One fill of `mem`: its profiled time and the wall clock around it. */
static int timed_fill(cl_command_queue queue, cl_mem mem, size_t bytes, double *device_ms,
                      double *wall_ms)
{
    const cl_uchar pattern = 0;
    cl_event event;
    const double start = clock_ms();
    cl_int err = clEnqueueFillBuffer(queue, mem, &pattern, sizeof pattern, 0, bytes, 0, NULL,
                                     &event);
    if (err != CL_SUCCESS)
        return fail_cl(err, "clEnqueueFillBuffer (clock probe)");
    err = clWaitForEvents(1, &event);
    *wall_ms = clock_ms() - start;
    cl_ulong begin = 0, end = 0;
    if (err == CL_SUCCESS)
        err = clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_START, sizeof begin, &begin,
                                      NULL);
    if (err == CL_SUCCESS)
        err = clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
    clReleaseEvent(event);
    if (err != CL_SUCCESS)
        return fail_cl(err, "clGetEventProfilingInfo (clock probe)");
    *device_ms = end > begin ? (double)(end - begin) * 1e-6 : 0;
    return 0;
}

int clock_choose(cl_context context, cl_command_queue queue, size_t bytes,
                 enum bench_clock *clock, char *reason, size_t reason_len)
{
    cl_int err;
    cl_mem mem = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        return fail_cl(err, "clCreateBuffer (clock probe)");
    double device_ms = 0, wall_ms = 0;
    int rc = 0, plausible = 0;
    for (int i = 0; i < PROBE_FILLS && !rc && !plausible; i++) {
        rc = timed_fill(queue, mem, bytes, &device_ms, &wall_ms);
        plausible = !rc && clock_device_plausible(device_ms, wall_ms);
    }
    clReleaseMemObject(mem);
    if (rc)
        return rc;
    *clock = plausible ? BENCH_CLOCK_DEVICE : BENCH_CLOCK_WALL;
    char size[FORMAT_BYTES_LEN];
    snprintf(reason, reason_len,
             "a fill of %s took %.3g ms by its profiling event and %.3g ms by the wall clock",
             format_bytes(size, bytes), device_ms, wall_ms);
    return 0;
}

/* ---- Text formatting shared by the reports */

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

/* ---- The device's own figures, as it reports them, for display and for the memory checks.
 * They are OpenCL queries of the device the library opened (clattn_context_get_cl,
 * clattn_device_get), not a copy of the library's view: CLATTN_DEVICE_LIMITS changes what the
 * library plans for, not these, and nothing here derives what the library decides from them. */

/* A string property of `device`, or of `platform` when that is not NULL, of any length. */
static int query_text(cl_device_id device, cl_platform_id platform, cl_uint what,
                      const char *name, char **out)
{
    size_t size = 0;
    cl_int err = platform ? clGetPlatformInfo(platform, what, 0, NULL, &size)
                          : clGetDeviceInfo(device, what, 0, NULL, &size);
    char *text = err == CL_SUCCESS ? malloc(size + 1) : NULL;
    if (err == CL_SUCCESS && !text)
        return fail_host_memory();
    if (err == CL_SUCCESS)
        err = platform ? clGetPlatformInfo(platform, what, size, text, NULL)
                       : clGetDeviceInfo(device, what, size, text, NULL);
    if (err != CL_SUCCESS) {
        free(text);
        return fail_cl(err, name);
    }
    text[size] = '\0';
    *out = text;
    return 0;
}

/* A floating-point configuration (CL_DEVICE_HALF_FP_CONFIG, CL_DEVICE_DOUBLE_FP_CONFIG): 0
 * when the device has no such arithmetic, which a driver may also say by refusing the query. */
static cl_device_fp_config fp_config(cl_device_id device, cl_device_info what)
{
    cl_device_fp_config config = 0;
    return clGetDeviceInfo(device, what, sizeof config, &config, NULL) == CL_SUCCESS ? config
                                                                                     : 0;
}

int device_info_query(cl_device_id device, struct device_info *info)
{
    memset(info, 0, sizeof *info);
    cl_platform_id platform = NULL;
    cl_device_local_mem_type local_type = CL_GLOBAL;
    cl_bool available = CL_FALSE, unified = CL_FALSE;
#define NUMBER(what, var) {what, sizeof(var), &(var), "clGetDeviceInfo(" #what ")"}
    const struct {
        cl_device_info what;
        size_t size;
        void *out;
        const char *name;
    } numbers[] = {
        NUMBER(CL_DEVICE_PLATFORM, platform),
        NUMBER(CL_DEVICE_TYPE, info->type),
        NUMBER(CL_DEVICE_MAX_COMPUTE_UNITS, info->compute_units),
        NUMBER(CL_DEVICE_MAX_CLOCK_FREQUENCY, info->clock_mhz),
        NUMBER(CL_DEVICE_GLOBAL_MEM_SIZE, info->global_mem),
        NUMBER(CL_DEVICE_MAX_MEM_ALLOC_SIZE, info->max_alloc),
        NUMBER(CL_DEVICE_GLOBAL_MEM_CACHE_SIZE, info->global_cache),
        NUMBER(CL_DEVICE_LOCAL_MEM_SIZE, info->local_mem),
        NUMBER(CL_DEVICE_LOCAL_MEM_TYPE, local_type),
        NUMBER(CL_DEVICE_MAX_WORK_GROUP_SIZE, info->max_work_group),
        NUMBER(CL_DEVICE_AVAILABLE, available),
    };
#undef NUMBER
    int rc = 0;
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers && !rc; i++) {
        cl_int err = clGetDeviceInfo(device, numbers[i].what, numbers[i].size, numbers[i].out,
                                     NULL);
        if (err != CL_SUCCESS)
            rc = fail_cl(err, numbers[i].name);
    }
    if (!rc)
        rc = query_text(device, NULL, CL_DEVICE_NAME, "clGetDeviceInfo(CL_DEVICE_NAME)",
                        &info->name);
    if (!rc)
        rc = query_text(device, NULL, CL_DRIVER_VERSION, "clGetDeviceInfo(CL_DRIVER_VERSION)",
                        &info->driver);
    if (!rc)
        rc = query_text(device, platform, CL_PLATFORM_NAME,
                        "clGetPlatformInfo(CL_PLATFORM_NAME)", &info->platform);
    if (rc) {
        device_info_free(info);
        return rc;
    }
    info->local_mem_dedicated = local_type == CL_LOCAL;
    info->available = available == CL_TRUE;
    /* Deprecated by OpenCL 2.0, so a driver may refuse the query: a CPU device's memory is
     * the host's whatever it says. */
    if (clGetDeviceInfo(device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL) !=
        CL_SUCCESS)
        unified = CL_FALSE;
    info->host_unified = unified == CL_TRUE || (info->type & CL_DEVICE_TYPE_CPU) != 0;
    info->fp16 = fp_config(device, CL_DEVICE_HALF_FP_CONFIG) != 0;
    info->fp64 = fp_config(device, CL_DEVICE_DOUBLE_FP_CONFIG) != 0;
    return 0;
}

void device_info_free(struct device_info *info)
{
    free(info->name);
    free(info->platform);
    free(info->driver);
    memset(info, 0, sizeof *info);
}

const char *device_type_name(cl_device_type type)
{
    if (type & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (type & CL_DEVICE_TYPE_CPU)
        return "CPU";
    if (type & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    if (type & CL_DEVICE_TYPE_CUSTOM)
        return "custom";
    return "other";
}

/* ---- The rows */

int rows_append(struct bench_rows *rows, const struct bench_row *row)
{
    if (rows->count == rows->capacity) {
        size_t capacity = rows->capacity ? 2 * rows->capacity : 32;
        struct bench_row *grown = realloc(rows->items, capacity * sizeof *grown);
        if (!grown) {
            free(row->stages);
            return -1;
        }
        rows->items = grown;
        rows->capacity = capacity;
    }
    rows->items[rows->count++] = *row;
    return 0;
}

void rows_free(struct bench_rows *rows)
{
    for (size_t i = 0; i < rows->count; i++)
        free(rows->items[i].stages);
    free(rows->items);
    rows->items = NULL;
    rows->count = rows->capacity = 0;
}

double row_stages_ms(const struct bench_row *row)
{
    double total = 0;
    for (int i = 0; i < row->stage_count; i++)
        total += row->stages[i].ms;
    return total;
}

int rows_same_series(const struct bench_row *a, const struct bench_row *b)
{
    return a->requested == b->requested && a->algo == b->algo && a->batch == b->batch &&
           a->heads == b->heads && a->kv_heads == b->kv_heads && a->head_dim == b->head_dim &&
           a->head_dim_v == b->head_dim_v &&
           a->window_left == b->window_left && a->window_right == b->window_right &&
           a->causal == b->causal && a->align == b->align && a->dtype == b->dtype;
}

const char *row_algo_label(const struct bench_row *row, char buf[ROW_LABEL_LEN])
{
    const char *name = clattn_algorithm_name(row->algo);
    if (row->requested != CLATTN_ALGO_AUTO)
        return name;
    snprintf(buf, ROW_LABEL_LEN, "auto:%s", name);
    return buf;
}

/* ---- The FLOP and traffic models, and the rates derived from them */

/* The keys row i sees with positions per call (docs/semantics.md, "Which keys a row sees"),
 * row by row: clattn_problem_visible_pairs, which has no call's starts, does not count them. */
static uint64_t pairs_at_starts(const clattn_problem *problem, int64_t q_start, int64_t k_start)
{
    int64_t v[7] = {0};
    static const clattn_param params[7] = {
        CLATTN_PARAM_BATCH,       CLATTN_PARAM_HEADS,        CLATTN_PARAM_SEQ_Q,
        CLATTN_PARAM_SEQ_KV,      CLATTN_PARAM_CAUSAL,       CLATTN_PARAM_WINDOW_LEFT,
        CLATTN_PARAM_WINDOW_RIGHT};
    for (int p = 0; p < 7; p++)
        clattn_problem_get(problem, params[p], &v[p]);
    int64_t sink = 0;
    clattn_problem_get(problem, CLATTN_PARAM_SINK_TOKENS, &sink);
    const int64_t nq = v[2], k_end = k_start + v[3]; /* keys at positions [k_start, k_end) */
    uint64_t pairs = 0;
    for (int64_t i = 0; i < nq; i++) {
        const int64_t pos = q_start + i;
        int64_t lo = v[5] >= 0 ? pos - v[5] : k_start, hi = k_end; /* [lo, hi) */
        if (v[4] && pos + 1 < hi)
            hi = pos + 1;
        if (v[6] >= 0 && pos + v[6] + 1 < hi)
            hi = pos + v[6] + 1;
        lo = lo > k_start ? lo : k_start;
        const int64_t window = hi > lo ? hi - lo : 0;
        /* and the sink tokens [k_start, s) the causal rule lets it see, less those in [lo, hi) */
        int64_t s = sink < k_end ? sink : k_end;
        if (v[4] && pos + 1 < s)
            s = pos + 1;
        const int64_t shared = window && s > lo ? (s < hi ? s : hi) - lo : 0;
        pairs += (uint64_t)(window + (s > k_start ? s - k_start : 0) - shared);
    }
    return pairs * (uint64_t)v[0] * (uint64_t)v[1];
}

clattn_status traffic_model(const clattn_problem *problem, const int64_t *starts,
                            struct bench_row *row)
{
    uint64_t pairs = 0;
    clattn_status st = starts ? CLATTN_SUCCESS : clattn_problem_visible_pairs(problem, &pairs);
    if (st)
        return st;
    if (starts)
        pairs = pairs_at_starts(problem, starts[0], starts[1]);
    /* a multiply-add per element of Q K^T (d) and of P V (dv) */
    const uint64_t d = (uint64_t)row->head_dim, dv = (uint64_t)row->head_dim_v;
    row->flops = 2 * (d + dv) * pairs;

    const uint64_t esize = clattn_dtype_size(row->dtype);
    const uint64_t b = (uint64_t)row->batch;
    const uint64_t q_rows = b * (uint64_t)row->seq_q * (uint64_t)row->heads;
    const uint64_t kv_rows = b * (uint64_t)row->seq_kv * (uint64_t)row->kv_heads;
    /* Q and O, K and V, LSE */
    row->bytes = q_rows * (d + dv) * esize + kv_rows * (d + dv) * esize + q_rows * 4;
    if (row->algo == CLATTN_ALGO_NAIVE)
        row->bytes += 6 * q_rows * (uint64_t)row->seq_kv * 4;
    return CLATTN_SUCCESS;
}

double row_gflops(const struct bench_row *row)
{
    return row->ms > 0 ? (double)row->flops / (row->ms * 1e6) : 0;
}

double row_gbps(const struct bench_row *row)
{
    return row->ms > 0 ? (double)row->bytes / (row->ms * 1e6) : 0;
}

double row_flop_per_byte(const struct bench_row *row)
{
    return row->bytes ? (double)row->flops / (double)row->bytes : 0;
}

double row_peak_fraction(const struct bench_row *row, const struct bench_peak *peak)
{
    if (!peak->measured)
        return -1;
    return peak->gflops > 0 ? row_gflops(row) / peak->gflops : 0;
}

/* ---- The session's checks: --check's outcome, and the memory every allocation needs */

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

/* ---- The progress line */

/* Lines mode: the least time between two lines. */
#define LINE_INTERVAL_MS 1000.0

void progress_init(struct progress *p, const struct bench_options *opt)
{
    p->enabled = !bench_report_to_stdout(opt);
    p->in_place = isatty(STDERR_FILENO);
    p->width = 0;
    p->last_ms = -LINE_INTERVAL_MS;
}

void progress_show(struct progress *p, const char *format, ...)
{
    if (!p->enabled)
        return;
    const double now = clock_ms();
    if (!p->in_place && now - p->last_ms < LINE_INTERVAL_MS)
        return;
    char text[160];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    if (!p->in_place) {
        fprintf(stderr, "attn-bench: %s...\n", text);
        p->last_ms = now;
        return;
    }
    /* the old line may be longer: pad over it */
    const int width = fprintf(stderr, "\r%s...", text);
    if (width < p->width)
        fprintf(stderr, "%*s", p->width - width, "");
    if (width > p->width)
        p->width = width;
    fflush(stderr);
}

void progress_clear(struct progress *p)
{
    if (p->enabled && p->in_place && p->width > 0)
        fprintf(stderr, "\r%*s\r", p->width, "");
    p->width = 0;
}
