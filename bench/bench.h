/* attn-bench's internal interfaces, one section per file. The files form layers: each calls
 * only the files of the sections above its own (session.c calls none), so no two files call
 * each other; main.c, the flow, calls them all and has no section here. The command line
 * (args.h) is apart, with no call into any of them, so that a fuzz target can link it alone. */
#ifndef ATTN_BENCH_H
#define ATTN_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "args.h"
#include "clattn.h"

/* ==== session.c ==== */

/* attn-bench's exit codes and the one place that words a failure on stderr. Every helper
 * prints one line and returns the exit code, so callers write `return fail_cl(...)`. */

enum bench_exit {
    BENCH_EXIT_OK = 0,
    BENCH_EXIT_CHECK_FAILED = 1,
    BENCH_EXIT_USAGE = 2,
    BENCH_EXIT_RUNTIME = 3
};

/* A clattn call failed: "<what>: <status string>: <clattn_message(ctx)>". Pass the context
 * the call was made on, or NULL for context-less calls. Returns BENCH_EXIT_RUNTIME. */
int fail_clattn(const clattn_context *ctx, clattn_status status, const char *what);

/* An OpenCL call made by attn-bench itself failed. Returns BENCH_EXIT_RUNTIME. */
int fail_cl(cl_int err, const char *call);

/* A file could not be written (errno is read). Returns BENCH_EXIT_RUNTIME. */
int fail_file(const char *path, const char *what);

/* Host memory ran out. Returns BENCH_EXIT_RUNTIME. */
int fail_host_memory(void);

/* A usage error; prints the hint to --help too. Returns BENCH_EXIT_USAGE. */
int fail_usage(const char *message);

/* Which clock attn-bench's times are read from. The device's own time of the work (OpenCL
 * profiling events) is the better figure, with no host or driver overhead in it, but some
 * implementations return profiling timestamps that do not time the work (rusticl in Mesa 22
 * reports nanoseconds for runs that take milliseconds). There the wall clock around enqueue
 * and clFinish is the only honest figure, and every column reads it. */

enum bench_clock {
    BENCH_CLOCK_DEVICE = 0, /* OpenCL profiling events */
    BENCH_CLOCK_WALL        /* CLOCK_MONOTONIC around enqueue + clFinish */
};

/* Milliseconds of CLOCK_MONOTONIC since an arbitrary origin, the same in every process of the
 * machine (so that --startup's child's reading compares with its parent's). */
double clock_ms(void);

/* The median of `count` (at least 1) values, which it sorts in place. */
double median(double *values, int count);

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

/* Small text formatting shared by the reports. */

/* Enough for any 64-bit byte count with its unit. */
#define FORMAT_BYTES_LEN 32

/* "512 B", "2 KiB", "3.91 GiB": binary units, three significant digits. */
const char *format_bytes(char buf[FORMAT_BYTES_LEN], uint64_t bytes);

/* Enough for an ISO 8601 UTC timestamp. */
#define FORMAT_TIMESTAMP_LEN 32

/* "2026-11-23T14:05:09Z": `when` in UTC, ISO 8601, as the reports give a run's start. */
const char *format_timestamp(char buf[FORMAT_TIMESTAMP_LEN], time_t when);

/* What attn-bench reports about a device: the OpenCL queries behind --list-devices, the
 * table's header block and the JSON "device" object. These are the device's own figures;
 * CLATTN_DEVICE_LIMITS changes what the library plans for, not what the device reports. */

struct device_info {
    char *name, *platform, *driver; /* allocated: no length limit */
    cl_device_type type;
    cl_uint compute_units, clock_mhz;
    cl_ulong global_mem, max_alloc, local_mem;
    cl_ulong global_cache; /* CL_DEVICE_GLOBAL_MEM_CACHE_SIZE: the last-level cache; 0: none */
    int local_mem_dedicated; /* CL_LOCAL rather than CL_GLOBAL */
    int host_unified; /* CL_DEVICE_HOST_UNIFIED_MEMORY: device buffers take host memory */
    size_t max_work_group;
    int fp16, fp64, available;
};

/* Fills `info`; on failure prints why and returns BENCH_EXIT_RUNTIME (info then holds
 * nothing to free). */
int device_info_query(cl_device_id device, struct device_info *info);
void device_info_free(struct device_info *info);

/* "CPU", "GPU", "accelerator", "custom" or "other". */
const char *device_type_name(cl_device_type type);

/* One measured row (one algorithm on one problem, or one step of decode mode) and the list
 * the reports read. */

struct bench_stage {
    const char *name; /* the library's static stage name */
    double ms;
};

/* What a row measured; each kind has its own fields in the reports. */
enum row_kind {
    ROW_ATTENTION = 0,  /* one problem: the sweep's, or the command line's */
    ROW_DECODE_STEP,    /* --decode: one sampled step of the loop */
    ROW_DECODE_COMPARE  /* --decode-compare: one step, by one algorithm */
};

/* A decode step. seq_q is 1 and seq_kv the longest sequence's keys after this step's append;
 * flops and bytes are decode.c's models, over the whole batch. Figures that were not measured
 * are NaN (null in the reports). */
struct bench_decode_fields {
    int64_t step;        /* ROW_DECODE_STEP: the token generated, 1..--tokens */
    int64_t capacity;    /* keys per sequence the cache was allocated (and planned) for */
    int64_t page_size;   /* 0: contiguous */
    clattn_dtype kv_dtype; /* the cache's type (--kv-dtype; else the row's dtype) */
    int64_t splits;      /* CLATTN_PLAN_SPLITS of the decode algorithm; 1 otherwise */
    uint64_t cache_bytes; /* K and V as allocated (the page pool when paged) */
    int cache_resident;   /* the bytes the step reads fit CL_DEVICE_GLOBAL_MEM_CACHE_SIZE */
    double tokens_per_s; /* batch / median wall clock of the step */
    /* ROW_DECODE_STEP: without a cache, this step's causal prefill of every sequence's prefix
     * (tiled), and both costs summed over steps 1..step (decode.c's models) */
    double off_ms;
    double off_flops;
    double cum_on_ms, cum_off_ms;
    double cum_flops_ratio; /* modelled cache-off / cache-on FLOPs over steps 1..step */
    /* ROW_DECODE_COMPARE: tiled's device time over this row's */
    double speedup_vs_tiled;
};

struct bench_row {
    enum row_kind kind;
    clattn_algorithm requested; /* what --algo asked for: auto stays auto */
    clattn_algorithm algo;      /* what the plan ran */
    int64_t batch, heads, kv_heads, seq_q, seq_kv, head_dim;
    int64_t head_dim_v; /* V's and O's (the problem's effective value, never 0) */
    int64_t window_left, window_right; /* -1: unbounded */
    int causal;
    clattn_align align;
    clattn_dtype dtype;
    int iters, warmup;
    enum bench_clock clock; /* what ms, ms_min and ms_max read: the device's (the sum of the
                             * plan's stages) or the wall clock */
    double ms;       /* median time */
    double ms_min;   /* fastest run */
    double ms_max;   /* slowest run */
    double ms_wall;  /* median wall clock of enqueue + clFinish */
    double build_ms; /* clattn_plan_create, kernel builds included */
    uint64_t flops, bytes; /* traffic_model's */
    int64_t scratch_bytes;
    /* --check */
    int checked, passed;
    double max_abs_err, lse_err;
    /* --profile: the stages of the last timed run; NULL otherwise */
    int stage_count;
    struct bench_stage *stages;
    struct bench_decode_fields decode; /* kind != ROW_ATTENTION */
};

struct bench_rows {
    struct bench_row *items;
    size_t count, capacity;
};

/* Appends a copy of `row`, taking over its stages. Returns 0, or -1 when out of memory (the
 * stages are then freed). */
int rows_append(struct bench_rows *rows, const struct bench_row *row);
void rows_free(struct bench_rows *rows);

/* The sum of the row's --profile stages. */
double row_stages_ms(const struct bench_row *row);

/* Whether two rows differ in their sequence lengths only: points of one curve. */
int rows_same_series(const struct bench_row *a, const struct bench_row *b);

/* Enough for any row_algo_label. */
#define ROW_LABEL_LEN 32

/* The algorithm as the reports print it: the library's name for it (clattn_algorithm_name),
 * or "auto:tiled" in `buf` when auto chose it. */
const char *row_algo_label(const struct bench_row *row, char buf[ROW_LABEL_LEN]);

/* The FLOP and global-memory traffic models, and the rates derived from them (documented in
 * attn-bench.1, MODELS).
 *   FLOPs = 4 * d * visible (query, key) pairs: masked work is not credited.
 *   bytes (tiled, windowed) = Q + K + V read once + O written once + LSE (f32) written once.
 *   bytes (naive) = that + 6 * B * H * Nq * Nk * 4: the f32 score matrix written by QK^T,
 *   read and written by scale+mask, read and written by softmax, read by PV. */

/* The device's measured peak (clattn_measure_peak), or measured = 0 with --no-peak. The read
 * bandwidth (clattn_measure, CLATTN_PEAK_READ), decode's bar, is measured for --peak and for
 * decode mode only; 0 otherwise. */
struct bench_peak {
    int measured;
    double gflops, gbps, read_gbps;
};

/* Sets row->flops and row->bytes from `problem` and the row's shape, algo and dtype. */
clattn_status traffic_model(const clattn_problem *problem, const int64_t *starts,
                            struct bench_row *row);

double row_gflops(const struct bench_row *row);
double row_gbps(const struct bench_row *row);
double row_flop_per_byte(const struct bench_row *row);

/* GFLOP/s over the device's measured FMA peak: how much of what the device can compute the
 * row used. Negative when the peak was not measured. (Memory-bound rows are judged by their
 * GB/s against the measured bandwidth instead.) */
double row_peak_fraction(const struct bench_row *row, const struct bench_peak *peak);

/* What one attn-bench invocation holds while it runs: the options, the device, its peak, the
 * clock its times are read from and the rows measured so far; and the one check of every
 * allocation attn-bench makes against the memory the device and the host have. */

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

/* A progress line on stderr such as "[7/28] tiled causal seq 4096...": rewritten in place when
 * stderr is a terminal; otherwise (a log, a pipe) printed as lines of their own, at most one a
 * second, so that a long run shows it is alive without flooding the log. None at all when a
 * report goes to standard output (--json - and the like): that caller reads stdout alone. */

struct progress {
    int enabled, in_place, width;
    double last_ms; /* when the last line was printed (lines mode) */
};

void progress_init(struct progress *p, const struct bench_options *opt);

/* Shows the printf-formatted text followed by "...". */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void progress_show(struct progress *p, const char *format, ...);

/* Erases the line in place, so that what the table prints next starts clean. */
void progress_clear(struct progress *p);

/* ==== run.c ==== */

/* The problems attn-bench runs: the command line's single problem and the sweep's, and their
 * shape copied into a row. The library is the judge of what is valid. */

/* The sweep's lengths: SWEEP_FIRST_SEQ to SWEEP_LAST_SEQ, doubling; naive up to
 * SWEEP_NAIVE_LAST_SEQ, where its score matrix (512 MiB) has made the point of what tiling
 * saves. --full runs naive at every length and goes on past SWEEP_LAST_SEQ while naive fits. */
#define SWEEP_FIRST_SEQ 512
#define SWEEP_LAST_SEQ 8192
#define SWEEP_NAIVE_LAST_SEQ 4096

/* The sweep's fixed shape, and its windowed rows' window. */
#define SWEEP_BATCH 1
#define SWEEP_HEADS 8
#define SWEEP_HEAD_DIM 64
#define SWEEP_WINDOW_LEFT 256
#define SWEEP_WINDOW_RIGHT 0

/* The single problem of the command line. Returns 0; BENCH_EXIT_USAGE after naming the flag
 * and value the library rejects (head_dim 300, heads not a multiple of kv_heads, ...); or
 * BENCH_EXIT_RUNTIME. Needs no device. */
int shape_from_options(const struct bench_options *opt, clattn_problem **out);

/* One problem of the sweep: seq x seq, causal or not, with the sweep's window or none. */
int shape_for_sweep(int64_t seq, int causal, int windowed, clattn_problem **out);

/* Decode mode's problem: one query row per sequence (causal, so the newest token sees every
 * key) against a cache of `capacity` keys per sequence, paged with --page-size when given
 * (a pool of `num_pages`), in the shape and dtype of the options. Like shape_from_options,
 * a rejection by the library is a usage error naming the flag. */
int shape_for_decode(const struct bench_options *opt, int64_t capacity, int64_t num_pages,
                     clattn_problem **out);

/* Decode mode's cache-off step: the causal prefill of one sequence of `seq` tokens, with the
 * heads, head_dim and dtype of `decode`. */
int shape_for_prefill(const clattn_problem *decode, int64_t seq, clattn_problem **out);

/* A copy of `problem` that runs `algo`. */
int shape_with_algorithm(const clattn_problem *problem, clattn_algorithm algo,
                         clattn_problem **out);

/* The data of one problem shape: deterministic Q, K, V on the host and on the device, the O
 * and LSE buffers every algorithm writes, and the CPU reference, computed at most once per
 * mask since it is slow (scalar f64, one thread). */

/* The slopes (--alibi) and sinks (--sinks), f32 [H], and the mask (--mask), f32 [Nq, Nk], are
 * empty (0 bytes, no buffer) when the problem does not ask for them. */
enum {
    INPUT_Q,
    INPUT_K,
    INPUT_V,
    OUTPUT_O,
    OUTPUT_LSE,
    INPUT_SLOPES,
    INPUT_SINKS,
    INPUT_MASK,
    INPUT_BUFFERS
};

struct bench_inputs {
    size_t bytes[INPUT_BUFFERS];
    void *host[INPUT_BUFFERS]; /* Q, K, V as uploaded; O, LSE as last read back */
    cl_mem mem[INPUT_BUFFERS];
    int positions; /* positions per call (--positions): the starts each call passes */
    int64_t q_start, k_start;
    /* The reference of `ref_problem` (same shape, some mask), NULL until asked for. */
    clattn_problem *ref_problem;
    float *ref_o, *ref_lse;
};

/* The next value of a splitmix64 stream: fixed and portable, so that a run's data is the same
 * on every machine. */
uint64_t inputs_next_random(uint64_t *state);

/* `count` values uniform in [-1, 1] from the stream `seed`, in `dtype`. Returns 0 or an exit
 * code after printing why. */
int inputs_fill_uniform(clattn_dtype dtype, void *dst, size_t count, uint64_t seed);
/* --mask's pattern into the [Nq, Nk] f32 mask of `shape` (its seq_q and seq_kv, its
 * alignment): 0 where it shows a pair, -inf elsewhere. */
int inputs_fill_mask(enum bench_mask pattern, const clattn_problem *shape, float *mask);

/* The memory inputs_create and the run's use of them take, at most: the tensors on the host and
 * on the device and, with the session's --check, the reference (its output and the rows the
 * library's reference keeps), with --save the widening of bf16. */
int inputs_need(const struct bench_session *s, const clattn_problem *shape,
                struct memory_need *need);

/* Whether inputs_need of `shape` fits beside `scratch_bytes` of a plan's scratch, without a
 * word: for the runs that skip a problem too big rather than fail. */
int inputs_fit(const struct bench_session *s, const clattn_problem *shape, int64_t scratch_bytes,
               int *fit);

/* Makes and uploads inputs for `shape`: values uniform in [-1, 1] from a fixed seed per tensor,
 * converted to the storage dtype, after checking inputs_need against the memory there is.
 * Returns 0 or an exit code after printing why. */
int inputs_create(struct bench_session *s, const clattn_problem *shape,
                  struct bench_inputs **out);
void inputs_destroy(struct bench_inputs *in);

/* One algorithm on one problem: the plan (its creation timed), warm-up runs, timed runs,
 * per-stage device times and the check against the reference. */

/* Creates the plan of `problem` run by `algo` and times its creation (kernel builds
 * included) into *build_ms. With `allow_device_oom`, a problem the device cannot hold is no
 * error: *plan is then NULL. Returns 0 or an exit code after printing why. */
int run_plan_create(struct bench_session *s, const clattn_problem *problem,
                    clattn_algorithm algo, int allow_device_oom, clattn_plan **plan,
                    double *build_ms);

/* Enqueues one run of what is being timed on the session's queue, without waiting for it.
 * Returns 0 or an exit code after printing why. */
typedef int (*run_enqueue_fn)(struct bench_session *s, void *arg);

/* The device time of `plan`'s last run: the sum of its stages' profiling events. Returns 0 or
 * an exit code after printing why. */
int run_device_time(struct bench_session *s, const clattn_plan *plan, double *ms);

/* One run: `enqueue`, then clFinish. *wall_ms spans both; *device_ms is the sum of `plan`'s
 * stages (profiling events), each kept in `stages` as well when it is not NULL. Returns 0 or
 * an exit code after printing why. */
int run_once(struct bench_session *s, clattn_plan *plan, run_enqueue_fn enqueue, void *arg,
             double *device_ms, double *wall_ms, struct bench_stage *stages);

/* --warmup untimed runs, then --iters timed ones: sets row->clock (the session's, or the
 * wall clock, with a warning naming row->algo, when this row's device time is implausible),
 * ms, ms_min and ms_max (median, fastest and slowest by that clock), ms_wall (median wall
 * clock), iters, warmup and, with --profile on the device clock, the stages of the last run
 * (which the row then owns). Returns 0 or an exit code after printing why. */
int run_timed(struct bench_session *s, clattn_plan *plan, run_enqueue_fn enqueue, void *arg,
              struct bench_row *row);

/* run_timed of clattn_enqueue on `in`'s buffers (no check). */
int run_timed_inputs(struct bench_session *s, clattn_plan *plan, struct bench_inputs *in,
                     struct bench_row *row);

/* Runs `plan` (made from `problem`, with `requested` as --algo asked) on `in`: --warmup
 * untimed runs, then --iters timed ones, then --check. Fills `row`, which owns its stages.
 * Returns 0 or an exit code after printing why. */
int run_measure(struct bench_session *s, struct bench_inputs *in, const clattn_problem *problem,
                clattn_algorithm requested, clattn_plan *plan, double build_ms,
                struct bench_row *row);

/* --save DIR: the single problem's inputs and the first algorithm's outputs as .npy files. */

/* Creates DIR when missing. Returns 0 or an exit code after printing why. */
int save_prepare(const char *dir);

/* Writes q.npy, k.npy, v.npy, o.npy ([B, N, H, d] in the storage dtype; bf16 as float32
 * values) and lse.npy (float32 [B, H, Nq]) from `in`, whose outputs were read back after the
 * run described by `row`. Returns 0 or an exit code after printing why. */
int save_npy_files(const char *dir, const struct bench_inputs *in, const struct bench_row *row);

/* ==== report.c ==== */

/* The reports: the table on stdout (row by row as they are measured), and the JSON and CSV
 * files written at the end. */

/* The header block (device, peak, problem, timing settings) and the column titles. */
void table_print_header(FILE *out, const struct bench_session *s);
/* The header block's first lines: the tool's version, the device and its peak. */
void table_print_device(FILE *out, const struct bench_session *s);
/* For the header's timing line: "ms = device time (...)", or the wall clock and why. */
void table_print_clock(FILE *out, const struct bench_session *s);
/* Appends a measured row to the session and prints it in the table, with its --profile
 * stages under it. Returns 0 or an exit code. */
int session_add_row(struct bench_session *s, const struct bench_row *row);
/* A line about a row that was not measured. */
void table_print_note(FILE *out, const char *text);

/* Each returns 0, or -1 when writing failed (errno set). */
int json_write(FILE *out, const struct bench_session *s);
int csv_write(FILE *out, const struct bench_session *s);

/* ==== plot.c ==== */

/* --plot: the latency and throughput of every row over the sequence length, as a standalone
 * SVG. Returns 0, or -1 when writing failed (errno set). */
int plot_svg_write(FILE *out, const struct bench_session *s);

/* ==== kv_cache.c ==== */

/* Where decode mode's sequences start and end, and the cache that holds them: computed from
 * the options alone, before any device is opened. */

struct decode_layout {
    int64_t batch;
    int64_t tokens;        /* steps, one token per sequence each */
    int64_t prompt;        /* every sequence's keys before step 1, unless ragged */
    const int64_t *ragged; /* --kv-lens: each sequence's keys before step 1; NULL if uniform */
    int64_t capacity;      /* keys per sequence after the last step: the plan's seq_kv */
    int64_t page_size;     /* 0: contiguous */
    int64_t pages_per_seq; /* a block table row: ceil(capacity / page_size) */
    int64_t num_pages;     /* the pool: the pages each sequence reaches, summed */
};

/* --decode: the sequences start at --prompt (or --kv-lens) and grow by --tokens. */
void decode_layout_for_loop(const struct bench_options *opt, struct decode_layout *layout);

/* --decode-compare: one step that brings every sequence to --seq-kv keys. */
void decode_layout_for_compare(const struct bench_options *opt, struct decode_layout *layout);

/* Keys sequence `b` holds before step 1. */
int64_t decode_layout_start(const struct decode_layout *layout, int64_t b);

/* The longest sequence's keys after step `step`'s append (steps count from 1). */
int64_t decode_layout_longest(const struct decode_layout *layout, int64_t step);

/* Decode mode's KV cache on the device, as an inference engine keeps it: K and V allocated
 * once for every sequence's last step (contiguous [B, capacity, Hkv, d], or a pool of pages
 * named by a shuffled block table), cache_seqlens, and each step's Q, k_new and v_new. Those
 * come from a ring of KV_RING_STEPS random sets, so that consecutive steps append different
 * rows. With a mirror (--check), a host copy of K and V follows every append, and a step's
 * output can be compared with clattn_reference_kvcache. */

struct kv_cache;

/* The memory kv_cache_create and the checks of the cache's steps take, at most. Returns 0 or
 * an exit code after printing why. */
int kv_cache_need(const clattn_problem *problem, const struct decode_layout *layout, int mirror,
                  struct memory_need *need);

/* Allocates and fills the cache for `problem` (shape_for_decode) laid out by `layout`, which
 * must outlive it, after checking kv_cache_need, beside the `device_held` bytes of a plan's
 * scratch, against the memory there is: K and V hold random values everywhere, as a cache
 * after a prefill of every sequence's prompt would (keys past a length are never attended
 * to). The host keeps a copy of K and V only with `mirror`. Returns 0 or an exit code after
 * printing why. */
int kv_cache_create(struct bench_session *s, const clattn_problem *problem,
                    const struct decode_layout *layout, int mirror, uint64_t device_held,
                    struct kv_cache **out);
void kv_cache_destroy(struct kv_cache *cache);

/* Bytes of K and V together, as allocated. */
uint64_t kv_cache_bytes(const struct kv_cache *cache);

/* Bytes of every device buffer the cache holds: K, V, the ring, the lengths, the table. */
uint64_t kv_cache_device_bytes(const struct kv_cache *cache);

/* Makes `step` (1..tokens) the one kv_cache_enqueue_step runs: sequence b then holds
 * start_b + step - 1 keys before it, and the step appends one. */
void kv_cache_set_step(struct kv_cache *cache, int64_t step);

/* A step, as run_enqueue_fn's `arg`. */
struct kv_step {
    clattn_plan *plan;
    struct kv_cache *cache;
};

/* run_enqueue_fn: uploads cache_seqlens (non-blocking, as an engine would) and enqueues
 * clattn_enqueue_kvcache with this step's Q and new rows. Running a step again rewrites the
 * same rows at the same positions and reads the same keys: repeating it is harmless. */
int kv_cache_enqueue_step(struct bench_session *s, void *step);

/* Fills O and LSE with NaN and waits, so that a step that fails to write them fails the
 * check. Returns 0 or an exit code after printing why. */
int kv_cache_poison_outputs(struct kv_cache *cache, cl_command_queue queue);

/* Mirror only: compares the step just run (its O and LSE, read back) with the reference on
 * the host copy, and sets row->checked, passed, max_abs_err and lse_err. Call it before
 * kv_cache_mirror_step. Returns 0 or an exit code after printing why. */
int kv_cache_check_step(struct kv_cache *cache, cl_command_queue queue, struct bench_row *row);

/* Mirror only: writes the current step's new rows into the host copy. */
void kv_cache_mirror_step(struct kv_cache *cache);

/* Mirror only: whether the device's K and V equal the host copy, byte for byte (every row
 * appended where it belongs, nothing else touched). Returns 0 or an exit code. */
int kv_cache_check_contents(struct kv_cache *cache, cl_command_queue queue, int *same);

/* ==== sweep.c ==== */

/* The standard sweep (SWEEP_* above): seq 512..8192, naive up to 4096, batch 1, heads 8,
 * head_dim 64, f32, causal and not; naive, tiled and auto on the full mask, windowed with the
 * window (256, 0). With --full, naive at every length, and on (doubling) past 8192 while the
 * naive path fits in one pass. */

/* Runs the sweep for the algorithms of --algo, adding rows to the session. Returns 0 or an
 * exit code after printing why. */
int sweep_run(struct bench_session *s);

/* The single problem given by shape flags, run by each algorithm of --algo. */

/* Runs `problem` (from shape_from_options) and, with --save, writes the .npy files. Returns 0
 * or an exit code after printing why. */
int single_run(struct bench_session *s, const clattn_problem *problem);

/* ==== decode.c ==== */

/* Decode mode: --decode (a generation loop against a growing KV cache, and what the same
 * tokens would cost without the cache) and --decode-compare (one step, decode against
 * tiled). */

/* The per-sequence sizes decode mode's models count in. */
struct decode_dims {
    int64_t heads, kv_heads, head_dim;
    double elem_size; /* bytes of one K or V value in the cache's type (18 / 32 for q4_0) */
};

/* What both variants run: the sequences and their cache, and the problem planned for it. */
struct decode_job {
    struct decode_layout layout;
    clattn_problem *problem; /* shape_for_decode's */
    struct decode_dims dims;
    clattn_dtype dtype, kv_dtype; /* Q's and O's; the cache's */
};

/* Builds the job from the options, before any device is opened: a shape the library rejects
 * is a usage error. Returns 0 or an exit code after printing why. */
int decode_prepare(const struct bench_options *opt, struct decode_job *job);
void decode_job_free(struct decode_job *job);

/* Runs the variant the options select, adding its rows to the session and printing its
 * tables. Returns 0 or an exit code after printing why. */
int decode_run(struct bench_session *s, const struct decode_job *job);

/* ==== varlen.c ==== */

/* attn-bench --varlen: the packed batch of the options' lengths as one call and as one call
 * per sequence, printed with their ratio; with --check, the packed call against the
 * reference. Returns 0 or an exit code after printing why. */
int varlen_run(struct bench_session *s);

/* ==== startup.c ==== */

/* attn-bench --startup: how long a new process takes to its first attention, with the disk
 * cache of compiled kernels empty (cold) and filled (warm). */

/* --startup: runs this executable again as --startup-child, --iters times cold (a new, empty
 * CLATTN_CACHE_DIR and the drivers' own kernel caches off) and each time warm right after
 * (the same directory), and prints the medians and their ratio, and the median times of the
 * cold and warm children's clattn_context_destroy (where the cold one stores its kernels).
 * With CLATTN_CACHE_DIR=off in the environment, clattn's cache stays off in both runs. Opens
 * no device itself. Returns 0 or an exit code after printing why. */
int startup_run(const struct bench_options *opt);

/* --startup-child: opens the device, plans and runs the default problem (tiled, seq 1024, 8
 * heads, head_dim 64, f32) once through clattn_run_host, and writes the time (clock_ms)
 * at which it completed, then the device's name, as one line on stdout; then, on a second
 * line, the seconds clattn_context_destroy took. */
int startup_child(const struct bench_options *opt);

/* ==== parallel.c ==== */

/* attn-bench --parallel ring|ulysses: attention spread over the ranks of mpirun
 * (libclattn-mpi), with its own options; built only with libclattn-mpi (ATTN_BENCH_MPI). */

/* Whether the command line asks for --parallel. */
int parallel_wanted(int argc, char **argv);
/* The whole run: MPI_Init to MPI_Finalize. Returns attn-bench's exit code. */
int parallel_main(int argc, char **argv);

#endif
