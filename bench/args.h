/* attn-bench's command line: a pure parser (no printing, no exit, no globals) so that a fuzz
 * target can link args.c alone. Only syntax and the tool's own limits are checked here; the
 * library's bounds on the shape (head_dim <= 576, heads % kv_heads, ...) are applied when the
 * problem is built (run.c), so they are never restated. */
#ifndef ATTN_BENCH_ARGS_H
#define ATTN_BENCH_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "clattn.h"

enum bench_action {
    BENCH_ACTION_RUN = 0,      /* the sweep, or one problem when a shape flag was given */
    BENCH_ACTION_HELP,         /* --help */
    BENCH_ACTION_VERSION,      /* --version */
    BENCH_ACTION_LIST_DEVICES, /* --list-devices */
    BENCH_ACTION_PEAK,         /* --peak */
    BENCH_ACTION_STARTUP,      /* --startup */
    BENCH_ACTION_TUNE,         /* --tune */
    BENCH_ACTION_STARTUP_CHILD /* --startup-child: one timed start, run by --startup */
};

/* The most algorithms one run selects: --algo all is naive, tiled and windowed. */
#define BENCH_MAX_ALGOS 3

/* The longest --kv-lens list: one length per batch entry. */
#define BENCH_MAX_KV_LENS 256

/* The decode benchmark (decode.c). */
enum bench_decode {
    BENCH_DECODE_NONE = 0,
    BENCH_DECODE_LOOP,   /* --decode: generate --tokens tokens against a growing cache */
    BENCH_DECODE_COMPARE /* --decode-compare: one step at --seq-kv keys, decode and tiled */
};

/* --mask: the pattern of an additive f32 mask shared by every batch entry and head. */
enum bench_mask {
    BENCH_MASK_NONE = 0,
    BENCH_MASK_ZERO,   /* all 0: the mask's own cost */
    BENCH_MASK_CAUSAL, /* 0 where the causal rule (with --align) shows a key, -inf elsewhere */
    BENCH_MASK_BLOCKS  /* 128 x 128 blocks, a quarter 0 and the rest -inf: block sparsity */
};
#define BENCH_MASK_BLOCK 128

struct bench_options {
    enum bench_action action;
    int device; /* -1: the library's default device */

    /* The single problem; meaningful when `single` is set (any shape flag was given). */
    int single;
    int64_t batch, heads, kv_heads, seq_q, seq_kv, head_dim;
    int64_t head_dim_v; /* --head-dim-v: V's and O's; 0: head_dim */
    int64_t window_left, window_right;
    int causal;
    clattn_align align;
    clattn_dtype dtype;
    int kv_dtype;      /* --kv-dtype: the KV cache's clattn_dtype; -1: dtype's */
    double softcap;    /* 0: off */
    double alibi_bias; /* ggml's max_bias for per-head ALiBi slopes; 0: off */
    int has_sinks;     /* a sink logit of `sink` for every head */
    double sink;
    int64_t sink_tokens; /* keys visible beside the window (CLATTN_PARAM_SINK_TOKENS); 0 */
    int has_positions;   /* --positions: rows from q_start, keys from k_start, per call */
    int64_t q_start, k_start;
    enum bench_mask mask; /* --mask: an additive mask of this pattern, [1, 1, Nq, Nk] f32 */

    clattn_algorithm algos[BENCH_MAX_ALGOS];
    int algo_count;

    /* Decode mode. Its shape defaults differ from the single problem's (32 heads, 8 kv heads,
     * head_dim 128): the parser applies them to the sizes not given. `seq_kv` is
     * --decode-compare's cache length; the loop's cache grows from `kv_lens` (or `prompt` in
     * every entry) by `tokens`. `algos` holds decode unless --algo said otherwise. */
    enum bench_decode decode;
    int64_t tokens, prompt, page_size; /* page_size 0: contiguous cache */
    int64_t kv_lens[BENCH_MAX_KV_LENS];
    int kv_len_count; /* 0: no --kv-lens */

    /* --varlen (varlen.c): the sequences of a packed batch, each its own query and key
     * length, run in one call and as separate calls. 0: not this mode. */
    int64_t varlen_lens[BENCH_MAX_KV_LENS];
    int varlen_count;

    int iters, warmup;
    int check, profile, no_peak;
    int full; /* --full: the sweep's long lengths too (naive past 4096, lengths past 8192) */
    /* Paths are argv's own strings, not copies. NULL when not given. A report's path "-" is
     * standard output (at most one report's), and the table then goes to standard error. */
    const char *save_dir, *json_path, *csv_path, *plot_path;
};

/* The report path that means standard output. */
#define BENCH_STDOUT_PATH "-"

/* Whether a report (--json, --csv or --plot) is written to standard output. */
int bench_report_to_stdout(const struct bench_options *opt);

/* Parses argv[1..argc-1] into `opt` (every field set, defaults included). Returns 0, or -1
 * with a one-line reason naming the flag and value in `err` (truncated to `errlen`). */
int bench_parse_args(int argc, char **argv, struct bench_options *opt, char *err, size_t errlen);

/* The names --dtype, --align and --mask take, which the reports print too: "f32", "f16",
 * "bf16"; "bottom-right", "top-left"; "zero", "causal", "blocks" ("" for no mask). */
const char *dtype_name(clattn_dtype dtype);
const char *align_name(clattn_align align);
const char *mask_name(enum bench_mask mask);

/* The --help text, in parts to print in order, NULL-terminated. */
const char *const *bench_usage(void);

#endif
