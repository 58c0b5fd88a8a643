#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Repetition counts beyond this are typing mistakes, and each run keeps two doubles. */
#define MAX_REPEATS 1000000
/* cache_seqlens are int32 on the device: no cache length may exceed this. */
#define MAX_CACHE_LEN INT32_MAX

enum flag_id {
    FLAG_HELP,
    FLAG_VERSION,
    FLAG_LIST_DEVICES,
    FLAG_PEAK,
    FLAG_STARTUP,
    FLAG_TUNE,
    FLAG_STARTUP_CHILD,
    FLAG_NO_PEAK,
    FLAG_DEVICE,
    FLAG_BATCH,
    FLAG_HEADS,
    FLAG_KV_HEADS,
    FLAG_SEQ,
    FLAG_SEQ_Q,
    FLAG_SEQ_KV,
    FLAG_HEAD_DIM,
    FLAG_HEAD_DIM_V,
    FLAG_CAUSAL,
    FLAG_ALIGN,
    FLAG_WINDOW,
    FLAG_SOFTCAP,
    FLAG_ALIBI,
    FLAG_SINKS,
    FLAG_SINK_TOKENS,
    FLAG_POSITIONS,
    FLAG_MASK,
    FLAG_DTYPE,
    FLAG_KV_DTYPE,
    FLAG_ALGO,
    FLAG_ITERS,
    FLAG_WARMUP,
    FLAG_CHECK,
    FLAG_PROFILE,
    FLAG_SAVE,
    FLAG_JSON,
    FLAG_CSV,
    FLAG_PLOT,
    FLAG_DECODE,
    FLAG_DECODE_COMPARE,
    FLAG_TOKENS,
    FLAG_PROMPT,
    FLAG_KV_LENS,
    FLAG_PAGE_SIZE,
    FLAG_VARLEN,
    FLAG_FULL
};
enum { FLAG_COUNT = FLAG_FULL + 1 };

static const struct flag {
    const char *name;
    enum flag_id id;
    int takes_value;
    int is_shape; /* a shape flag selects a single problem instead of the sweep */
} flags[] = {
    {"--help", FLAG_HELP, 0, 0},
    {"-h", FLAG_HELP, 0, 0},
    {"--version", FLAG_VERSION, 0, 0},
    {"--list-devices", FLAG_LIST_DEVICES, 0, 0},
    {"--peak", FLAG_PEAK, 0, 0},
    {"--startup", FLAG_STARTUP, 0, 0},
    {"--tune", FLAG_TUNE, 0, 0},
    {"--startup-child", FLAG_STARTUP_CHILD, 0, 0}, /* internal: not in the help */
    {"--no-peak", FLAG_NO_PEAK, 0, 0},
    {"--device", FLAG_DEVICE, 1, 0},
    {"--batch", FLAG_BATCH, 1, 1},
    {"--heads", FLAG_HEADS, 1, 1},
    {"--kv-heads", FLAG_KV_HEADS, 1, 1},
    {"--seq", FLAG_SEQ, 1, 1},
    {"--seq-q", FLAG_SEQ_Q, 1, 1},
    {"--seq-kv", FLAG_SEQ_KV, 1, 1},
    {"--head-dim", FLAG_HEAD_DIM, 1, 1},
    {"--head-dim-v", FLAG_HEAD_DIM_V, 1, 1},
    {"--causal", FLAG_CAUSAL, 0, 1},
    {"--align", FLAG_ALIGN, 1, 1},
    {"--window", FLAG_WINDOW, 1, 1},
    {"--softcap", FLAG_SOFTCAP, 1, 1},
    {"--alibi", FLAG_ALIBI, 1, 1},
    {"--sinks", FLAG_SINKS, 1, 1},
    {"--sink-tokens", FLAG_SINK_TOKENS, 1, 1},
    {"--positions", FLAG_POSITIONS, 1, 1},
    {"--mask", FLAG_MASK, 1, 1},
    {"--dtype", FLAG_DTYPE, 1, 1},
    {"--kv-dtype", FLAG_KV_DTYPE, 1, 0},
    {"--algo", FLAG_ALGO, 1, 0},
    {"--iters", FLAG_ITERS, 1, 0},
    {"--warmup", FLAG_WARMUP, 1, 0},
    {"--check", FLAG_CHECK, 0, 0},
    {"--profile", FLAG_PROFILE, 0, 0},
    {"--save", FLAG_SAVE, 1, 0},
    {"--json", FLAG_JSON, 1, 0},
    {"--csv", FLAG_CSV, 1, 0},
    {"--plot", FLAG_PLOT, 1, 0},
    {"--decode", FLAG_DECODE, 0, 0},
    {"--decode-compare", FLAG_DECODE_COMPARE, 0, 0},
    {"--tokens", FLAG_TOKENS, 1, 0},
    {"--prompt", FLAG_PROMPT, 1, 0},
    {"--kv-lens", FLAG_KV_LENS, 1, 0},
    {"--page-size", FLAG_PAGE_SIZE, 1, 0},
    {"--varlen", FLAG_VARLEN, 1, 0},
    {"--full", FLAG_FULL, 0, 0},
};

/* The single problem's sizes when a shape flag is given but not every size is. */
#define DEFAULT_SEQ 1024

/* Decode mode's shape when not given: a model of the Llama-3-8B class (32 query heads sharing
 * 8 kv heads, head_dim 128), one sequence, 1024 tokens generated from an empty cache;
 * --decode-compare at 32768 keys, the length the KV-cache issue asks about. */
#define DECODE_HEADS 32
#define DECODE_KV_HEADS 8
#define DECODE_HEAD_DIM 128
#define DECODE_TOKENS 1024
#define DECODE_PROMPT 0
#define DECODE_COMPARE_SEQ_KV 32768

/* In two parts: C compilers need not take a string literal over 4095 bytes. */
static const char usage_runs[] =
    "Usage: attn-bench [OPTION]...\n"
    "Benchmark and validate clattn's attention algorithms on an OpenCL device.\n"
    "\n"
    "Without shape flags, runs the standard sweep: seq 512..8192, batch 1, heads 8,\n"
    "head_dim 64, f32, causal and not, for naive (up to seq 4096), tiled and windowed\n"
    "(window 256,0). Any shape flag runs that single problem instead.\n"
    "\n"
    "Actions:\n"
    "  --list-devices        list every OpenCL device clattn sees, then exit\n"
    "  --peak                measure the device's FMA throughput and bandwidth, then exit\n"
    "  --startup             time a new process to its first attention, with the kernel\n"
    "                        cache empty and filled (median of --iters of each), then exit\n"
    "  --tune                time the fused kernels' candidate tiles on the device (the\n"
    "                        sweep's classes, or the problem the shape flags give) and keep\n"
    "                        the fastest in the per-device tuning file, then exit\n"
    "  -h, --help            print this help, then exit\n"
    "      --version         print clattn's version, then exit\n"
    "\n"
    "Device and runs:\n"
    "  --device N            device N of --list-devices (default: the library's default)\n"
    "  --algo A              naive, tiled, windowed, decode, auto or all (default all:\n"
    "                        naive, tiled and windowed); with --decode: decode (the\n"
    "                        default there), tiled or auto\n"
    "  --iters N             timed runs per row, N >= 1 (default 5); the median is reported\n"
    "  --warmup N            untimed runs before them (default 2)\n"
    "  --no-peak             do not measure the device's peak (no \"% of peak\")\n"
    "  --full                the long sweep: naive past seq 4096, and on past 8192 while\n"
    "                        naive fits in one pass (minutes, and gigabytes of memory)\n"
    "\n";

static const char usage_problems[] =
    "Shape of a single problem:\n"
    "  --batch B             batch size (default 1)\n"
    "  --heads H             query heads (default 8)\n"
    "  --kv-heads H          key/value heads, dividing --heads (default: --heads)\n"
    "  --seq N               query and key length (default 1024)\n"
    "  --seq-q N             query length (default: --seq)\n"
    "  --seq-kv N            key length (default: --seq)\n"
    "  --head-dim D          head dimension of Q and K (default 64)\n"
    "  --head-dim-v D        head dimension of V and O (default: --head-dim), as MLA's\n"
    "                        192/128 or 576/512\n"
    "  --causal              causal mask\n"
    "  --align A             bottom-right (default) or top-left causal alignment\n"
    "  --window L,R          sliding window: L keys left, R right of the diagonal (-1: none)\n"
    "  --softcap C           logit softcap: scores become C tanh(score / C) (default 0: off)\n"
    "  --alibi B             ALiBi with ggml's slopes for max_bias B, one per head (0: off)\n"
    "  --sinks Z             a sink logit Z for every head (gpt-oss, ggml's sinks)\n"
    "  --sink-tokens S       the first S keys stay visible beside --window (StreamingLLM)\n"
    "  --positions Q,K       query rows at positions Q, Q+1, ... and keys at K, K+1, ...\n"
    "                        (positions per call: a chunk of a longer sequence; default:\n"
    "                        the --align of rows on keys)\n"
    "  --mask P              an additive f32 mask [1, 1, Nq, Nk] of pattern P: zero (all 0),\n"
    "                        causal (the causal rule as 0 and -inf, for --align) or blocks\n"
    "                        (128 x 128 blocks, a quarter 0 and the rest -inf)\n"
    "  --dtype T             f32 (default), f16 or bf16 storage\n"
    "\n"
    "Validation and output:\n"
    "  --check               compare every row with the CPU reference; exit 1 on a failure\n"
    "  --profile             print each row's device time per stage\n"
    "  --save DIR            write q, k, v, o, lse .npy files of the single problem to DIR\n"
    "  --json FILE           write every row as JSON\n"
    "  --csv FILE            write every row as CSV\n"
    "  --plot FILE.svg       plot latency and GFLOP/s against sequence length (SVG)\n"
    "                        For one of these FILE may be -, standard output: the table\n"
    "                        then goes to standard error, and no progress is shown.\n"
    "\n"
    "Decoding with a KV cache (defaults: batch 1, heads 32, kv-heads 8, head-dim 128, f32):\n"
    "  --decode              generate --tokens tokens, one query row per sequence and step,\n"
    "                        against a cache planned once for its final length; print the\n"
    "                        per-token latency at sampled steps, the cache's memory, and the\n"
    "                        cumulative cost of recomputing the prefix at every step instead\n"
    "                        (cache off: a causal tiled prefill per step), measured and modelled\n"
    "  --tokens T            tokens generated (default 1024)\n"
    "  --prompt P            keys in every sequence's cache before the first step (default 0)\n"
    "  --kv-lens A,B,...     a ragged batch: each sequence's keys before the first step\n"
    "                        (--batch, if given, must equal their count)\n"
    "  --page-size P         a paged cache: P tokens per page (a multiple of 16 up to 256),\n"
    "                        pages shuffled in a pool (default: contiguous)\n"
    "  --decode-compare      one step at --seq-kv keys (default 32768) with the decode\n"
    "                        algorithm and with tiled, and the speed-up\n"
    "  --kv-dtype T          the cache stored as T, one of f32, f16, bf16, q8_0, q4_0,\n"
    "                        fp8_e4m3, fp8_e5m2 (default: --dtype)\n"
    "\n"
    "Packed variable-length batches (prefill; --heads, --kv-heads, --head-dim, --causal,\n"
    "--align, --window, --dtype, --mask, --algo (all but naive), --check apply):\n"
    "  --varlen N1,N2,...    sequences of N1, N2, ... tokens (each its own queries and keys),\n"
    "                        packed: timed as one call over the whole batch and as one call\n"
    "                        per sequence, with the ratio\n"
    "\n"
    "Exit status: 0 success, 1 a check failed, 2 usage error, 3 device or runtime error.\n"
    "See attn-bench(1) for the FLOP and traffic models and the environment variables.\n";

const char *const *bench_usage(void)
{
    static const char *const parts[] = {usage_runs, usage_problems, NULL};
    return parts;
}

static int fail(char *err, size_t errlen, const char *flag, const char *value, const char *why)
{
    if (value)
        snprintf(err, errlen, "%s '%s': %s", flag, value, why);
    else
        snprintf(err, errlen, "%s: %s", flag, why);
    return -1;
}

/* A base-10 integer with nothing before or after it. */
static int parse_int64(const char *text, int64_t *out)
{
    const char *digits = text[0] == '-' ? text + 1 : text;
    if (digits[0] < '0' || digits[0] > '9')
        return 0;
    errno = 0;
    char *end;
    long long value = strtoll(text, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return 0;
    *out = value;
    return 1;
}

static int parse_size(const char *flag, const char *text, int64_t min, int64_t max,
                      int64_t *out, char *err, size_t errlen)
{
    int64_t value;
    if (!parse_int64(text, &value))
        return fail(err, errlen, flag, text, "not an integer");
    if (value < min || value > max) {
        char why[96];
        snprintf(why, sizeof why, "must be between %lld and %lld", (long long)min,
                 (long long)max);
        return fail(err, errlen, flag, text, why);
    }
    *out = value;
    return 0;
}

/* parse_size for flags whose bounds fit an int */
static int parse_count(const char *flag, const char *text, int64_t min, int64_t max, int *out,
                       char *err, size_t errlen)
{
    int64_t value = 0;
    if (parse_size(flag, text, min, max, &value, err, errlen))
        return -1;
    *out = (int)value;
    return 0;
}

/* A finite number; with `nonnegative`, also >= 0. (The library checks its own bounds.) */
static int parse_real(const char *text, int nonnegative, double *out)
{
    char *end;
    errno = 0;
    const double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || (nonnegative && !(v >= 0)))
        return 0;
    *out = v;
    return 1;
}

static int parse_window(const char *text, int64_t *left, int64_t *right)
{
    const char *comma = strchr(text, ',');
    if (!comma)
        return 0;
    size_t len = (size_t)(comma - text);
    char *first = malloc(len + 1);
    if (!first)
        return 0;
    memcpy(first, text, len);
    first[len] = '\0';
    int ok = parse_int64(first, left) && parse_int64(comma + 1, right);
    free(first);
    return ok;
}

/* An algorithm by the library's name for it, or "all". */
static int parse_algo(const char *text, struct bench_options *opt)
{
    if (strcmp(text, "all") == 0) {
        opt->algos[0] = CLATTN_ALGO_NAIVE;
        opt->algos[1] = CLATTN_ALGO_TILED;
        opt->algos[2] = CLATTN_ALGO_WINDOWED;
        opt->algo_count = 3;
        return 1;
    }
    for (int a = CLATTN_ALGO_AUTO; a <= CLATTN_ALGO_DECODE; a++)
        if (strcmp(text, clattn_algorithm_name((clattn_algorithm)a)) == 0) {
            opt->algos[0] = (clattn_algorithm)a;
            opt->algo_count = 1;
            return 1;
        }
    return 0;
}

const char *dtype_name(clattn_dtype dtype)
{
    switch (dtype) {
    case CLATTN_DTYPE_F32: return "f32";
    case CLATTN_DTYPE_F16: return "f16";
    case CLATTN_DTYPE_BF16: return "bf16";
    case CLATTN_DTYPE_Q8_0: return "q8_0";
    case CLATTN_DTYPE_Q4_0: return "q4_0";
    case CLATTN_DTYPE_FP8_E4M3: return "fp8_e4m3";
    case CLATTN_DTYPE_FP8_E5M2: return "fp8_e5m2";
    }
    return "?";
}

const char *align_name(clattn_align align)
{
    return align == CLATTN_ALIGN_TOP_LEFT ? "top-left" : "bottom-right";
}

const char *mask_name(enum bench_mask mask)
{
    static const char *const names[] = {"", "zero", "causal", "blocks"};
    return names[mask];
}

static int parse_dtype(const char *text, clattn_dtype *out)
{
    for (int d = CLATTN_DTYPE_F32; d <= CLATTN_DTYPE_BF16; d++)
        if (strcmp(text, dtype_name((clattn_dtype)d)) == 0) {
            *out = (clattn_dtype)d;
            return 1;
        }
    return 0;
}

/* Any clattn_dtype, the KV cache types included. */
static int parse_kv_dtype(const char *text, int *out)
{
    for (int d = CLATTN_DTYPE_F32; d <= CLATTN_DTYPE_FP8_E5M2; d++)
        if (strcmp(text, dtype_name((clattn_dtype)d)) == 0) {
            *out = d;
            return 1;
        }
    return 0;
}

static int parse_mask(const char *text, enum bench_mask *out)
{
    for (int m = BENCH_MASK_ZERO; m <= BENCH_MASK_BLOCKS; m++)
        if (strcmp(text, mask_name((enum bench_mask)m)) == 0) {
            *out = (enum bench_mask)m;
            return 1;
        }
    return 0;
}

static int parse_align(const char *text, clattn_align *out)
{
    for (int a = CLATTN_ALIGN_BOTTOM_RIGHT; a <= CLATTN_ALIGN_TOP_LEFT; a++)
        if (strcmp(text, align_name((clattn_align)a)) == 0) {
            *out = (clattn_align)a;
            return 1;
        }
    return 0;
}


/* --kv-lens and --varlen: comma-separated lengths, each `min` or more; no empty items. */
static int parse_lengths(const char *flag, const char *text, int64_t min, int64_t *lens,
                         int *count, char *err, size_t errlen)
{
    *count = 0;
    for (const char *item = text;;) {
        const char *comma = strchr(item, ',');
        const size_t len = comma ? (size_t)(comma - item) : strlen(item);
        char digits[32]; /* any longer is no int64 */
        int64_t value;
        if (len == 0 || len >= sizeof digits)
            return fail(err, errlen, flag, text, "expected comma-separated integers");
        memcpy(digits, item, len);
        digits[len] = '\0';
        if (!parse_int64(digits, &value))
            return fail(err, errlen, flag, text, "expected comma-separated integers");
        if (value < min || value > MAX_CACHE_LEN) {
            char why[64];
            snprintf(why, sizeof why, "lengths must be between %lld and 2147483647",
                     (long long)min);
            return fail(err, errlen, flag, text, why);
        }
        if (*count == BENCH_MAX_KV_LENS) {
            char why[64];
            snprintf(why, sizeof why, "at most %d lengths", BENCH_MAX_KV_LENS);
            return fail(err, errlen, flag, text, why);
        }
        lens[(*count)++] = value;
        if (!comma)
            return 0;
        item = comma + 1;
    }
}

static void set_defaults(struct bench_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->action = BENCH_ACTION_RUN;
    opt->device = -1;
    opt->batch = 1;
    opt->heads = 8;
    opt->kv_heads = 0; /* the library's "same as heads" */
    opt->head_dim = 64;
    opt->window_left = -1;
    opt->window_right = -1;
    opt->align = CLATTN_ALIGN_BOTTOM_RIGHT;
    opt->dtype = CLATTN_DTYPE_F32;
    opt->kv_dtype = -1;
    parse_algo("all", opt);
    opt->tokens = DECODE_TOKENS;
    opt->prompt = DECODE_PROMPT;
    opt->iters = 5;
    opt->warmup = 2;
}

/* Sequence lengths: --seq-q and --seq-kv win over --seq whatever their order. */
struct seq_flags {
    int64_t seq, seq_q, seq_kv;
    int has_seq, has_seq_q, has_seq_kv;
};

static const char *const action_names[] = {
    [BENCH_ACTION_VERSION] = "--version",
    [BENCH_ACTION_LIST_DEVICES] = "--list-devices",
    [BENCH_ACTION_PEAK] = "--peak",
    [BENCH_ACTION_STARTUP] = "--startup",
    [BENCH_ACTION_TUNE] = "--tune",
    [BENCH_ACTION_STARTUP_CHILD] = "--startup-child",
};

static int set_action(struct bench_options *opt, enum bench_action action, const char *flag,
                      char *err, size_t errlen)
{
    if (opt->action == BENCH_ACTION_HELP) /* --help wins over everything */
        return 0;
    if (opt->action != BENCH_ACTION_RUN && opt->action != action) {
        char why[64];
        snprintf(why, sizeof why, "cannot be combined with %s", action_names[opt->action]);
        return fail(err, errlen, flag, NULL, why);
    }
    opt->action = action;
    return 0;
}

static int apply_flag(const struct flag *f, const char *value, struct bench_options *opt,
                      struct seq_flags *seq, char *err, size_t errlen)
{
    int64_t *size = NULL;
    switch (f->id) {
    case FLAG_HELP: opt->action = BENCH_ACTION_HELP; return 0;
    case FLAG_VERSION: return set_action(opt, BENCH_ACTION_VERSION, f->name, err, errlen);
    case FLAG_LIST_DEVICES:
        return set_action(opt, BENCH_ACTION_LIST_DEVICES, f->name, err, errlen);
    case FLAG_PEAK: return set_action(opt, BENCH_ACTION_PEAK, f->name, err, errlen);
    case FLAG_STARTUP: return set_action(opt, BENCH_ACTION_STARTUP, f->name, err, errlen);
    case FLAG_TUNE: return set_action(opt, BENCH_ACTION_TUNE, f->name, err, errlen);
    case FLAG_STARTUP_CHILD:
        return set_action(opt, BENCH_ACTION_STARTUP_CHILD, f->name, err, errlen);
    case FLAG_NO_PEAK: opt->no_peak = 1; return 0;
    case FLAG_FULL: opt->full = 1; return 0;
    case FLAG_CAUSAL: opt->causal = 1; return 0;
    case FLAG_CHECK: opt->check = 1; return 0;
    case FLAG_PROFILE: opt->profile = 1; return 0;
    case FLAG_SAVE: opt->save_dir = value; return 0;
    case FLAG_JSON: opt->json_path = value; return 0;
    case FLAG_CSV: opt->csv_path = value; return 0;
    case FLAG_PLOT: opt->plot_path = value; return 0;
    case FLAG_DECODE:
        if (opt->decode == BENCH_DECODE_NONE)
            opt->decode = BENCH_DECODE_LOOP;
        return 0;
    case FLAG_DECODE_COMPARE: opt->decode = BENCH_DECODE_COMPARE; return 0;
    case FLAG_TOKENS:
        return parse_size(f->name, value, 1, MAX_CACHE_LEN, &opt->tokens, err, errlen);
    case FLAG_PROMPT:
        return parse_size(f->name, value, 0, MAX_CACHE_LEN, &opt->prompt, err, errlen);
    case FLAG_PAGE_SIZE: /* the library judges the size itself (run.c) */
        if (parse_size(f->name, value, 1, INT64_MAX, &opt->page_size, err, errlen))
            return fail(err, errlen, f->name, value,
                        "a positive integer (leave --page-size out for a contiguous cache)");
        return 0;
    case FLAG_KV_LENS:
        return parse_lengths(f->name, value, 0, opt->kv_lens, &opt->kv_len_count, err, errlen);
    case FLAG_VARLEN: /* a sequence of 0 tokens has no call of its own to compare with */
        return parse_lengths(f->name, value, 1, opt->varlen_lens, &opt->varlen_count, err,
                             errlen);
    case FLAG_DEVICE: return parse_count(f->name, value, 0, 1000000, &opt->device, err, errlen);
    case FLAG_ITERS: return parse_count(f->name, value, 1, MAX_REPEATS, &opt->iters, err, errlen);
    case FLAG_WARMUP:
        return parse_count(f->name, value, 0, MAX_REPEATS, &opt->warmup, err, errlen);
    case FLAG_ALGO:
        if (!parse_algo(value, opt))
            return fail(err, errlen, f->name, value,
                        "expected naive, tiled, windowed, decode, auto or all");
        return 0;
    case FLAG_DTYPE:
        if (!parse_dtype(value, &opt->dtype))
            return fail(err, errlen, f->name, value, "expected f32, f16 or bf16");
        return 0;
    case FLAG_KV_DTYPE:
        if (!parse_kv_dtype(value, &opt->kv_dtype))
            return fail(err, errlen, f->name, value,
                        "expected f32, f16, bf16, q8_0, q4_0, fp8_e4m3 or fp8_e5m2");
        return 0;
    case FLAG_ALIGN:
        if (!parse_align(value, &opt->align))
            return fail(err, errlen, f->name, value, "expected bottom-right or top-left");
        return 0;
    case FLAG_WINDOW:
        if (!parse_window(value, &opt->window_left, &opt->window_right))
            return fail(err, errlen, f->name, value,
                        "expected two integers L,R (-1 for no bound on that side)");
        return 0;
    case FLAG_SOFTCAP:
    case FLAG_ALIBI:
        if (!parse_real(value, 1, f->id == FLAG_SOFTCAP ? &opt->softcap : &opt->alibi_bias))
            return fail(err, errlen, f->name, value, "expected 0 (off) or a positive number");
        return 0;
    case FLAG_POSITIONS:
        if (!parse_window(value, &opt->q_start, &opt->k_start) || opt->q_start < 0 ||
            opt->k_start < 0 || opt->q_start > INT32_MAX || opt->k_start > INT32_MAX)
            return fail(err, errlen, f->name, value,
                        "expected two integers Q,K, each in [0, 2147483647]");
        opt->has_positions = 1;
        return 0;
    case FLAG_MASK:
        if (!parse_mask(value, &opt->mask))
            return fail(err, errlen, f->name, value, "expected zero, causal or blocks");
        return 0;
    case FLAG_SINKS:
        if (!parse_real(value, 0, &opt->sink))
            return fail(err, errlen, f->name, value, "expected a finite number");
        opt->has_sinks = 1;
        return 0;
    case FLAG_SEQ:
        size = &seq->seq;
        seq->has_seq = 1;
        break;
    case FLAG_SEQ_Q:
        size = &seq->seq_q;
        seq->has_seq_q = 1;
        break;
    case FLAG_SEQ_KV:
        size = &seq->seq_kv;
        seq->has_seq_kv = 1;
        break;
    case FLAG_BATCH: size = &opt->batch; break;
    case FLAG_HEADS: size = &opt->heads; break;
    case FLAG_KV_HEADS: size = &opt->kv_heads; break;
    case FLAG_HEAD_DIM: size = &opt->head_dim; break;
    case FLAG_HEAD_DIM_V: size = &opt->head_dim_v; break;
    case FLAG_SINK_TOKENS: size = &opt->sink_tokens; break;
    }
    if (!parse_int64(value, size))
        return fail(err, errlen, f->name, value, "not an integer");
    return 0;
}

static const struct flag *find_flag(const char *arg, size_t name_len)
{
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if (strlen(flags[i].name) == name_len && strncmp(arg, flags[i].name, name_len) == 0)
            return &flags[i];
    return NULL;
}

static const char *flag_name(enum flag_id id)
{
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if (flags[i].id == id)
            return flags[i].name;
    return "?";
}

/* Flags that make no sense with another, and why. */
struct refusal {
    enum flag_id id;
    const char *why;
};

static int refuse_seen(const struct refusal *list, size_t count, const unsigned char *seen,
                       char *err, size_t errlen)
{
    for (size_t i = 0; i < count; i++)
        if (seen[list[i].id])
            return fail(err, errlen, flag_name(list[i].id), NULL, list[i].why);
    return 0;
}

static const struct refusal need_decode[] = {
    {FLAG_TOKENS, "needs --decode"},
    {FLAG_PROMPT, "needs --decode"},
    {FLAG_KV_LENS, "needs --decode"},
    {FLAG_PAGE_SIZE, "needs --decode or --decode-compare"},
    {FLAG_KV_DTYPE, "needs --decode or --decode-compare"},
};

static const struct refusal not_in_decode[] = {
    {FLAG_SEQ, "does not apply to decode mode: the cache grows from --prompt or --kv-lens by "
               "--tokens (--decode-compare: --seq-kv)"},
    {FLAG_SEQ_Q, "does not apply to decode mode: a step has one query row per sequence"},
    {FLAG_CAUSAL, "does not apply to decode mode: a step's query row is the newest token, "
                  "which sees every cached key"},
    {FLAG_ALIGN, "does not apply to decode mode: a step's query row is the newest token, "
                 "which sees every cached key"},
    {FLAG_WINDOW, "does not apply to decode mode"},
    {FLAG_SOFTCAP, "times the single problem: not decode mode yet"},
    {FLAG_HEAD_DIM_V, "times the single problem: not decode mode yet"},
    {FLAG_ALIBI, "times the single problem: not decode mode yet"},
    {FLAG_SINKS, "times the single problem: not decode mode yet"},
    {FLAG_SINK_TOKENS, "times the single problem: not decode mode yet"},
    {FLAG_POSITIONS, "times the single problem: not decode mode yet"},
    {FLAG_MASK, "times the single problem: not decode mode yet"},
    {FLAG_SAVE, "saves a single problem's tensors: not in decode mode"},
    {FLAG_PLOT, "plots the sweep and single problems: not in decode mode (use --json or --csv)"},
    {FLAG_FULL, "lengthens the sweep: not in decode mode"},
};

static const struct refusal not_in_loop[] = {
    {FLAG_SEQ_KV, "applies to --decode-compare only: --decode's cache grows from --prompt or "
                  "--kv-lens by --tokens"},
};

static const struct refusal not_in_compare[] = {
    {FLAG_TOKENS, "does not apply to --decode-compare, which times one step at --seq-kv keys"},
    {FLAG_PROMPT, "does not apply to --decode-compare, which times one step at --seq-kv keys"},
    {FLAG_KV_LENS, "does not apply to --decode-compare, which times one step at --seq-kv keys"},
    {FLAG_ALGO, "does not apply to --decode-compare, which runs decode and tiled"},
};

static const struct refusal not_in_varlen[] = {
    {FLAG_BATCH, "does not apply to --varlen: the batch is its lengths"},
    {FLAG_SEQ, "does not apply to --varlen: each sequence has its own length"},
    {FLAG_SEQ_Q, "does not apply to --varlen: each sequence has its own length"},
    {FLAG_SEQ_KV, "does not apply to --varlen: each sequence has its own length"},
    {FLAG_SOFTCAP, "times the single problem: not --varlen yet"},
    {FLAG_ALIBI, "times the single problem: not --varlen yet"},
    {FLAG_SINKS, "times the single problem: not --varlen yet"},
    {FLAG_SINK_TOKENS, "times the single problem: not --varlen yet"},
    {FLAG_POSITIONS, "times the single problem: not --varlen yet"},
    {FLAG_DECODE, "cannot be combined with --varlen"},
    {FLAG_DECODE_COMPARE, "cannot be combined with --varlen"},
    {FLAG_SAVE, "saves a single problem's tensors: not --varlen"},
    {FLAG_JSON, "writes the sweep's and single problems' rows: not --varlen (its table is "
                "on standard output)"},
    {FLAG_CSV, "writes the sweep's and single problems' rows: not --varlen (its table is on "
               "standard output)"},
    {FLAG_PLOT, "plots the sweep and single problems: not --varlen"},
    {FLAG_PROFILE, "shows one plan's stages: not --varlen, which runs several plans"},
    {FLAG_FULL, "lengthens the sweep: not --varlen"},
};

#define REFUSE(list, seen, err, errlen) \
    refuse_seen(list, sizeof list / sizeof *list, seen, err, errlen)

/* How many of the reports go to standard output. */
static int stdout_reports(const struct bench_options *opt)
{
    const char *const reports[] = {opt->json_path, opt->csv_path, opt->plot_path};
    int count = 0;
    for (size_t i = 0; i < sizeof reports / sizeof *reports; i++)
        count += reports[i] && strcmp(reports[i], BENCH_STDOUT_PATH) == 0;
    return count;
}

/* Decode mode: the refusals, then its defaults for the sizes not given. */
static int finish_decode(struct bench_options *opt, const unsigned char *seen,
                         const struct seq_flags *seq, char *err, size_t errlen)
{
    const char *mode = flag_name(opt->decode == BENCH_DECODE_LOOP ? FLAG_DECODE
                                                                  : FLAG_DECODE_COMPARE);
    if (opt->action != BENCH_ACTION_RUN) {
        char why[64];
        snprintf(why, sizeof why, "cannot be combined with %s", action_names[opt->action]);
        return fail(err, errlen, mode, NULL, why);
    }
    if (REFUSE(not_in_decode, seen, err, errlen))
        return -1;
    if (opt->decode == BENCH_DECODE_COMPARE) {
        if (REFUSE(not_in_compare, seen, err, errlen))
            return -1;
        opt->seq_kv = seq->has_seq_kv ? seq->seq_kv : DECODE_COMPARE_SEQ_KV;
    } else if (REFUSE(not_in_loop, seen, err, errlen)) {
        return -1;
    }
    if (!seen[FLAG_ALGO]) {
        opt->algos[0] = CLATTN_ALGO_DECODE;
        opt->algo_count = 1;
    } else if (opt->algo_count != 1 || (opt->algos[0] != CLATTN_ALGO_DECODE &&
                                        opt->algos[0] != CLATTN_ALGO_TILED &&
                                        opt->algos[0] != CLATTN_ALGO_AUTO)) {
        return fail(err, errlen, "--algo", NULL, "--decode runs decode, tiled or auto");
    }
    if (opt->kv_len_count) {
        if (seen[FLAG_PROMPT])
            return fail(err, errlen, "--kv-lens", NULL,
                        "cannot be combined with --prompt: the lengths are each sequence's "
                        "prompt");
        if (seen[FLAG_BATCH] && opt->batch != opt->kv_len_count)
            return fail(err, errlen, "--batch", NULL,
                        "must equal the number of --kv-lens lengths");
        opt->batch = opt->kv_len_count;
    }
    int64_t longest = opt->prompt; /* 0 when --kv-lens are given */
    for (int i = 0; i < opt->kv_len_count; i++)
        if (opt->kv_lens[i] > longest)
            longest = opt->kv_lens[i];
    if (longest > MAX_CACHE_LEN - opt->tokens)
        return fail(err, errlen, "--tokens", NULL,
                    "the cache would exceed 2147483647 keys (cache_seqlens are int32)");
    if (!seen[FLAG_HEADS])
        opt->heads = DECODE_HEADS;
    if (!seen[FLAG_KV_HEADS]) /* 8, or as many as the query heads when 8 does not divide them */
        opt->kv_heads = opt->heads % DECODE_KV_HEADS == 0 ? DECODE_KV_HEADS : 0;
    if (!seen[FLAG_HEAD_DIM])
        opt->head_dim = DECODE_HEAD_DIM;
    return 0;
}

/* --varlen: the refusals, and the algorithm (tiled unless --algo says windowed, decode or
 * auto). */
static int finish_varlen(struct bench_options *opt, const unsigned char *seen, char *err,
                         size_t errlen)
{
    if (opt->action != BENCH_ACTION_RUN) {
        char why[64];
        snprintf(why, sizeof why, "cannot be combined with %s", action_names[opt->action]);
        return fail(err, errlen, "--varlen", NULL, why);
    }
    if (REFUSE(not_in_varlen, seen, err, errlen) || REFUSE(need_decode, seen, err, errlen))
        return -1;
    if (!seen[FLAG_ALGO]) {
        opt->algos[0] = CLATTN_ALGO_TILED;
        opt->algo_count = 1;
    } else if (opt->algo_count != 1 || opt->algos[0] == CLATTN_ALGO_NAIVE) {
        return fail(err, errlen, "--algo", NULL,
                    "--varlen runs tiled, windowed, decode or auto (naive does not take packed "
                    "batches)");
    }
    opt->batch = opt->varlen_count;
    opt->single = 0;
    return 0;
}

int bench_parse_args(int argc, char **argv, struct bench_options *opt, char *err, size_t errlen)
{
    set_defaults(opt);
    if (errlen)
        err[0] = '\0';
    struct seq_flags seq = {DEFAULT_SEQ, 0, 0, 0, 0, 0};
    unsigned char seen[FLAG_COUNT] = {0};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        /* --flag=value as well as --flag value */
        const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const struct flag *f = find_flag(arg, name_len);
        if (!f) {
            if (arg[0] == '-')
                return fail(err, errlen, arg, NULL, "unknown option");
            return fail(err, errlen, arg, NULL, "unexpected argument");
        }
        const char *value = NULL;
        if (f->takes_value) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return fail(err, errlen, f->name, NULL, "missing value");
        } else if (eq) {
            return fail(err, errlen, f->name, NULL, "takes no value");
        }
        if (apply_flag(f, value, opt, &seq, err, errlen))
            return -1;
        opt->single |= f->is_shape;
        seen[f->id] = 1;
    }
    opt->seq_q = seq.has_seq_q ? seq.seq_q : seq.seq;
    opt->seq_kv = seq.has_seq_kv ? seq.seq_kv : seq.seq;
    if (opt->action == BENCH_ACTION_HELP)
        return 0;
    if (stdout_reports(opt) > 1)
        return fail(err, errlen, "--json, --csv, --plot", BENCH_STDOUT_PATH,
                    "standard output takes one report at most");
    if (opt->varlen_count)
        return finish_varlen(opt, seen, err, errlen);
    if (opt->decode)
        return finish_decode(opt, seen, &seq, err, errlen);
    if (REFUSE(need_decode, seen, err, errlen))
        return -1;
    if (opt->no_peak && opt->action == BENCH_ACTION_PEAK)
        return fail(err, errlen, "--no-peak", NULL, "cannot be combined with --peak");
    if (opt->single && opt->action == BENCH_ACTION_STARTUP)
        return fail(err, errlen, "--startup", NULL,
                    "times the default problem: shape flags do not apply");
    if (opt->save_dir && opt->action == BENCH_ACTION_RUN && !opt->single)
        return fail(err, errlen, "--save", opt->save_dir,
                    "needs a single problem: add a shape flag such as --seq");
    if (opt->full && (opt->action != BENCH_ACTION_RUN || opt->single))
        return fail(err, errlen, "--full", NULL,
                    "lengthens the standard sweep: not with shape flags or other actions");
    return 0;
}

int bench_report_to_stdout(const struct bench_options *opt)
{
    return stdout_reports(opt) > 0;
}
