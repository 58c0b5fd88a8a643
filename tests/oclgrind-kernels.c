/* Every kernel variant once, on tiny shapes, through the public API, checked against the
 * reference: the program tests/oclgrind-kernels.sh runs under oclgrind, whose simulator
 * reports out-of-bounds accesses, data races, uninitialised reads and barrier divergence
 * that a real device would let pass silently. Not a meson test of its own: under an ordinary
 * device it proves little that tests/check-algorithm.c does not, and under oclgrind it takes
 * minutes.
 *
 * Usage: oclgrind-kernels [NAME...]   (no name: every variant; exit 0 when all agree)
 *        oclgrind-kernels --list      (the variants' names, one a line) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clattn.h"

typedef struct variant {
    const char *name;
    clattn_algorithm algo;
    clattn_dtype dtype;
    int heads, kv_heads, seq_q, seq_kv, head_dim;
    int causal, window_left, window_right;
    int flags; /* ODD_KV_OFFSETS, BIAS, SINK_TOKENS, PER_ENTRY, MASK, VARLEN, SHORT_ENTRIES */
    clattn_dtype cache; /* K and V's type (CLATTN_PARAM_KV_DTYPE); 0 (f32): Q's */
} variant;

/* K and V one element past an aligned offset (lib/kv_kernel.h) */
#define ODD_KV_OFFSETS 1
/* ALiBi slopes per head and sink logits, in buffers of clattn_enqueue_args */
#define BIAS 2
/* SINK_COUNT sink tokens beside the window */
#define SINK_TOKENS 4
#define SINK_COUNT 5
/* positions per entry: rows from seq_kv + 1, keys from 2 (int32 buffers); a varlen batch's
 * other entries from 7 and 0, and from 0 and 5 */
#define PER_ENTRY 8
/* An additive f32 mask with a head dimension (mask_value), in a buffer of clattn_enqueue_args */
#define MASK 16
/* A packed varlen batch of three entries of seq_q rows each, against seq_kv, 0 and 3 keys */
#define VARLEN 32
#define VARLEN_ENTRIES 3
/* ... of seq_q, 1 and 0 rows instead: work-groups past a short entry's rows (O and LSE start
 * as zeros on both sides, for the rows no entry writes) */
#define SHORT_ENTRIES 64

/* One line per variant. Head dims 20 and 24 are multiples of no tile and of no vector
 * wider than 4; 7 keys and 5 rows leave every tile part empty. */
static const variant variants[] = {
    {"naive-f32-causal", CLATTN_ALGO_NAIVE, CLATTN_DTYPE_F32, 2, 1, 5, 7, 20, 1, -1, -1, 0, 0},
    {"naive-f16-window", CLATTN_ALGO_NAIVE, CLATTN_DTYPE_F16, 2, 2, 7, 5, 24, 0, 2, 1, 0, 0},
    {"naive-bf16", CLATTN_ALGO_NAIVE, CLATTN_DTYPE_BF16, 2, 1, 5, 7, 20, 0, -1, -1, 0, 0},
    {"tiled-f32-causal", CLATTN_ALGO_TILED, CLATTN_DTYPE_F32, 2, 1, 5, 7, 20, 1, -1, -1, 0, 0},
    {"tiled-f16", CLATTN_ALGO_TILED, CLATTN_DTYPE_F16, 2, 2, 7, 5, 24, 0, -1, -1, 0, 0},
    {"tiled-bf16-causal", CLATTN_ALGO_TILED, CLATTN_DTYPE_BF16, 2, 1, 5, 7, 20, 1, -1, -1, 0, 0},
    {"windowed-f32-causal", CLATTN_ALGO_WINDOWED, CLATTN_DTYPE_F32, 2, 1, 7, 7, 20, 1, 2, 0, 0, 0},
    {"windowed-f16-two-sided", CLATTN_ALGO_WINDOWED, CLATTN_DTYPE_F16, 2, 2, 5, 7, 24, 0, 1, 2, 0, 0},
    {"windowed-bf16-empty-rows", CLATTN_ALGO_WINDOWED, CLATTN_DTYPE_BF16, 2, 1, 7, 3, 20, 1, 0, 0, 0, 0},
    /* 600 keys: two or more splits and their merge */
    {"decode-f32-causal", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F32, 4, 2, 1, 600, 20, 1, -1, -1, 0, 0},
    {"decode-f16-window", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F16, 2, 1, 3, 600, 24, 1, 16, 0, 0, 0},
    /* head_dim 13: the last float4 chunk of a row is partial */
    {"tiled-f32-odd-dim", CLATTN_ALGO_TILED, CLATTN_DTYPE_F32, 2, 1, 9, 11, 13, 0, -1, -1, 0, 0},
    {"decode-bf16-odd-dim", CLATTN_ALGO_DECODE, CLATTN_DTYPE_BF16, 4, 1, 1, 600, 13, 0, -1, -1, 0, 0},
    /* 24 rows per kv head: more than one decode work-group holds, so the tiled kernel splits */
    {"decode-f32-many-rows", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F32, 8, 1, 3, 600, 20, 1, -1, -1, 0, 0},
    /* the kernels built to read K and V as aligned vectors, called with offsets that are not */
    {"tiled-f32-odd-kv-offsets", CLATTN_ALGO_TILED, CLATTN_DTYPE_F32, 2, 1, 5, 7, 20, 1, -1, -1,
     ODD_KV_OFFSETS, 0},
    {"decode-f32-odd-kv-offsets", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F32, 2, 1, 1, 600, 20, 0, -1,
     -1, ODD_KV_OFFSETS, 0},
    /* the kernels with their ALiBi and sink parameters; decode's sink in one split of several */
    {"naive-f32-alibi-sinks", CLATTN_ALGO_NAIVE, CLATTN_DTYPE_F32, 4, 2, 5, 7, 20, 1, -1, -1,
     BIAS, 0},
    {"tiled-f16-alibi-sinks", CLATTN_ALGO_TILED, CLATTN_DTYPE_F16, 4, 2, 7, 5, 24, 1, -1, -1,
     BIAS, 0},
    {"decode-f32-alibi-sinks", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F32, 4, 2, 1, 600, 20, 1, -1, -1,
     BIAS, 0},
    /* the kernels with the additive mask and its tile map: hidden, zero and mixed tiles */
    {"naive-f32-mask", CLATTN_ALGO_NAIVE, CLATTN_DTYPE_F32, 4, 2, 5, 7, 20, 1, -1, -1, MASK, 0},
    {"tiled-f16-mask", CLATTN_ALGO_TILED, CLATTN_DTYPE_F16, 4, 2, 7, 45, 24, 0, -1, -1, MASK, 0},
    {"windowed-f32-mask", CLATTN_ALGO_WINDOWED, CLATTN_DTYPE_F32, 2, 1, 37, 40, 20, 1, 20, 0,
     MASK, 0},
    {"decode-f32-mask", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F32, 4, 2, 1, 600, 20, 1, -1, -1,
     MASK | BIAS, 0},
    {"decode-f32-many-rows-mask", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F32, 8, 1, 3, 600, 20, 1, -1,
     -1, MASK, 0},
    /* quantized caches (head_dim 32: one block a row); fp8 at head_dims of no block */
    {"decode-q8_0", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F32, 4, 2, 1, 600, 32, 1, -1, -1, 0,
     CLATTN_DTYPE_Q8_0},
    {"tiled-q4_0-causal", CLATTN_ALGO_TILED, CLATTN_DTYPE_F16, 2, 1, 5, 7, 32, 1, -1, -1, 0,
     CLATTN_DTYPE_Q4_0},
    {"windowed-fp8_e4m3", CLATTN_ALGO_WINDOWED, CLATTN_DTYPE_F32, 2, 2, 5, 7, 20, 0, 1, 2, 0,
     CLATTN_DTYPE_FP8_E4M3},
    {"decode-fp8_e5m2-odd-dim", CLATTN_ALGO_DECODE, CLATTN_DTYPE_BF16, 4, 1, 1, 600, 13, 0, -1,
     -1, 0, CLATTN_DTYPE_FP8_E5M2},
    /* V and O of a head size of their own, wider and narrower than Q's and K's, each with a
     * partial last chunk */
    {"naive-bf16-dv-narrower", CLATTN_ALGO_NAIVE, CLATTN_DTYPE_BF16, 2, 1, 5, 7, 20, 1, -1, -1, 0,
     0},
    {"tiled-f32-dv-wider", CLATTN_ALGO_TILED, CLATTN_DTYPE_F32, 2, 1, 5, 7, 13, 1, -1, -1, 0, 0},
    {"windowed-f16-dv-narrower", CLATTN_ALGO_WINDOWED, CLATTN_DTYPE_F16, 2, 2, 5, 7, 24, 0, 1, 2,
     0, 0},
    {"decode-f32-dv-wider", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F32, 4, 1, 1, 600, 13, 1, -1, -1, 0,
     0},
    /* sink tokens tiles away from the window, and positions per entry */
    {"tiled-f32-sink-tokens", CLATTN_ALGO_TILED, CLATTN_DTYPE_F32, 2, 1, 7, 40, 20, 1, 2, 0,
     SINK_TOKENS, 0},
    {"windowed-f16-sinks-per-entry", CLATTN_ALGO_WINDOWED, CLATTN_DTYPE_F16, 2, 2, 5, 40, 24, 0,
     3, 1, SINK_TOKENS | PER_ENTRY, 0},
    {"naive-f32-sinks-per-entry", CLATTN_ALGO_NAIVE, CLATTN_DTYPE_F32, 2, 1, 5, 7, 20, 1, 1, 0,
     SINK_TOKENS | PER_ENTRY, 0},
    {"decode-f32-sinks-per-entry", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F32, 4, 2, 1, 600, 20, 1, 16,
     0, SINK_TOKENS | PER_ENTRY | BIAS, 0},
    /* packed varlen batches: each work-group reads its entry's bounds */
    {"tiled-f32-varlen-causal", CLATTN_ALGO_TILED, CLATTN_DTYPE_F32, 2, 1, 5, 7, 20, 1, -1, -1,
     VARLEN, 0},
    {"windowed-bf16-varlen", CLATTN_ALGO_WINDOWED, CLATTN_DTYPE_BF16, 2, 2, 7, 7, 24, 1, 2, 0,
     VARLEN, 0},
    /* and each entry's sink tokens, tiles away from its window */
    {"windowed-f32-varlen-sinks", CLATTN_ALGO_WINDOWED, CLATTN_DTYPE_F32, 2, 1, 5, 40, 20,
     1, 2, 0, VARLEN | SINK_TOKENS, 0},
    /* decode's kernels and its merge (600 keys: splits) on each entry's rows; the second has
     * a row and no key, the third no row; 24 rows a kv head go to the tiled kernel's splits */
    {"decode-f32-varlen-causal", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F32, 4, 2, 3, 600, 20, 1, -1,
     -1, VARLEN | SHORT_ENTRIES, 0},
    {"decode-bf16-varlen-many-rows", CLATTN_ALGO_DECODE, CLATTN_DTYPE_BF16, 8, 1, 3, 600, 13, 1,
     -1, -1, VARLEN | SHORT_ENTRIES, 0},
    {"decode-f16-varlen-sinks", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F16, 2, 1, 2, 600, 24, 1, 16,
     0, VARLEN | SHORT_ENTRIES | SINK_TOKENS | BIAS, 0},
    /* ... with the mask on the [seq_q, seq_kv] grid: entries shorter than it read its corner */
    {"tiled-f16-varlen-mask", CLATTN_ALGO_TILED, CLATTN_DTYPE_F16, 4, 2, 7, 45, 24, 0, -1, -1,
     VARLEN | SHORT_ENTRIES | MASK, 0},
    {"windowed-f32-varlen-mask", CLATTN_ALGO_WINDOWED, CLATTN_DTYPE_F32, 2, 1, 37, 40, 20, 1,
     20, 0, VARLEN | MASK, 0},
    {"decode-f32-varlen-mask", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F32, 4, 2, 3, 600, 20, 1, -1,
     -1, VARLEN | SHORT_ENTRIES | MASK, 0},
    /* ... with each entry's own starts (the third's rows before its keys: none visible) */
    {"tiled-f32-varlen-per-entry", CLATTN_ALGO_TILED, CLATTN_DTYPE_F32, 2, 1, 5, 7, 20, 1, -1,
     -1, VARLEN | SHORT_ENTRIES | PER_ENTRY, 0},
    {"decode-f16-varlen-per-entry", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F16, 4, 2, 3, 600, 20, 1,
     16, 0, VARLEN | SHORT_ENTRIES | PER_ENTRY | SINK_TOKENS, 0},
    /* a head size of V's and O's own with the mask, sink tokens and positions per entry */
    {"tiled-f16-dv-mask-sink-tokens", CLATTN_ALGO_TILED, CLATTN_DTYPE_F16, 4, 2, 7, 45, 24, 1, 2,
     0, MASK | SINK_TOKENS, 0},
    {"decode-f32-dv-mask-sinks-per-entry", CLATTN_ALGO_DECODE, CLATTN_DTYPE_F32, 4, 2, 1, 600, 20,
     1, 16, 0, MASK | SINK_TOKENS | PER_ENTRY | BIAS, 0},
};

/* A varlen variant's bounds: entries of seq_q rows each (every row and LSE written), or of
 * seq_q, 1 and 0 (SHORT_ENTRIES), of seq_kv, 0 and 3 keys. */
static void varlen_bounds(const variant *v, int32_t cu_q[VARLEN_ENTRIES + 1],
                          int32_t cu_k[VARLEN_ENTRIES + 1])
{
    const int short_entries = v->flags & SHORT_ENTRIES;
    const int32_t keys[VARLEN_ENTRIES] = {v->seq_kv, 0, 3};
    const int32_t rows[VARLEN_ENTRIES] = {v->seq_q, short_entries ? 1 : v->seq_q,
                                          short_entries ? 0 : v->seq_q};
    cu_q[0] = cu_k[0] = 0;
    for (int b = 0; b < VARLEN_ENTRIES; b++) {
        cu_q[b + 1] = cu_q[b] + rows[b];
        cu_k[b + 1] = cu_k[b] + keys[b];
    }
}

static int set_varlen(clattn_problem *p, const variant *v)
{
    int32_t cu_q[VARLEN_ENTRIES + 1], cu_k[VARLEN_ENTRIES + 1];
    varlen_bounds(v, cu_q, cu_k);
    return !clattn_problem_set(p, CLATTN_PARAM_VARLEN, 1) &&
           !clattn_problem_set(p, CLATTN_PARAM_BATCH, VARLEN_ENTRIES) &&
           !clattn_problem_set(p, CLATTN_PARAM_TOTAL_Q, cu_q[VARLEN_ENTRIES]) &&
           !clattn_problem_set(p, CLATTN_PARAM_TOTAL_KV, cu_k[VARLEN_ENTRIES]);
}

/* The variants above whose V and O have a head size of their own (CLATTN_PARAM_HEAD_DIM_V). */
static const struct {
    const char *name;
    int head_dim_v;
} head_dims_v[] = {{"naive-bf16-dv-narrower", 13},
                   {"tiled-f32-dv-wider", 22},
                   {"windowed-f16-dv-narrower", 9},
                   {"decode-f32-dv-wider", 30},
                   {"tiled-f16-dv-mask-sink-tokens", 13},
                   {"decode-f32-dv-mask-sinks-per-entry", 30}};

static int head_dim_v_of(const variant *v)
{
    for (size_t i = 0; i < sizeof head_dims_v / sizeof *head_dims_v; i++)
        if (strcmp(head_dims_v[i].name, v->name) == 0)
            return head_dims_v[i].head_dim_v;
    return 0; /* head_dim */
}

static int set_all(clattn_problem *p, const variant *v)
{
    const struct {
        clattn_param param;
        int64_t value;
    } values[] = {{CLATTN_PARAM_HEADS, v->heads},        {CLATTN_PARAM_KV_HEADS, v->kv_heads},
                  {CLATTN_PARAM_SEQ_Q, v->seq_q},        {CLATTN_PARAM_SEQ_KV, v->seq_kv},
                  {CLATTN_PARAM_HEAD_DIM, v->head_dim},  {CLATTN_PARAM_CAUSAL, v->causal},
                  {CLATTN_PARAM_WINDOW_LEFT, v->window_left},
                  {CLATTN_PARAM_WINDOW_RIGHT, v->window_right},
                  {CLATTN_PARAM_DTYPE, v->dtype},        {CLATTN_PARAM_ALGORITHM, v->algo}};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++)
        if (clattn_problem_set(p, values[i].param, values[i].value))
            return 0;
    if (clattn_problem_set(p, CLATTN_PARAM_HEAD_DIM_V, head_dim_v_of(v)))
        return 0;
    if ((v->flags & SINK_TOKENS) && clattn_problem_set(p, CLATTN_PARAM_SINK_TOKENS, SINK_COUNT))
        return 0;
    if ((v->flags & PER_ENTRY) &&
        clattn_problem_set(p, CLATTN_PARAM_POSITIONS, CLATTN_POSITIONS_PER_ENTRY))
        return 0;
    return !v->cache || !clattn_problem_set(p, CLATTN_PARAM_KV_DTYPE, v->cache);
}

/* Mask value (h, i, j): keys 16 .. 31 and 256 .. 511 hidden from every row (whole tiles and
 * runs to skip), keys 8 .. 15 zero, row 1 of head 1 hidden entirely, the rest a mix of values
 * and -inf. */
static float mask_value(int h, int i, int j)
{
    if ((j >= 16 && j < 32) || (j >= 256 && j < 512) || (h == 1 && i == 1))
        return -INFINITY;
    if (j >= 8 && j < 16)
        return 0.0f;
    return (i + 2 * j + h) % 5 == 0 ? -INFINITY : 0.25f * (float)((i + j + h) % 7 - 3);
}

/* Inputs in [-1, 1], the same on every run, in any clattn_dtype (whole blocks). */
static void *inputs(clattn_dtype dtype, size_t bytes, unsigned seed)
{
    int block_values, block_bytes;
    clattn_dtype_block(dtype, &block_values, &block_bytes);
    const size_t count = bytes / (size_t)block_bytes * (size_t)block_values;
    float *f = malloc(count * sizeof *f);
    void *out = malloc(bytes);
    if (!f || !out) {
        free(f);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        seed = seed * 1103515245u + 12345u;
        f[i] = (float)(seed >> 8) / 8388608.0f - 1.0f;
    }
    clattn_from_float(dtype, f, out, count);
    free(f);
    return out;
}

/* clattn_enqueue_args in device buffers: with odd offsets, K one element and V three elements
 * past an aligned offset; slopes and sinks ([heads] f32 each), the starts (int32 [entries]
 * each),
 * the mask and a varlen batch's bounds (int32 [VARLEN_ENTRIES + 1] each) when not NULL. O and
 * LSE start as what o and lse hold. */
static clattn_status run_in_buffers(clattn_context *ctx, clattn_plan *plan, size_t esize,
                                    int odd, const size_t bytes[4], size_t rows,
                                    void *const in[3], const float *slopes, const float *sinks,
                                    size_t heads, const int32_t *const starts[2], const float *mask,
                                    size_t mask_bytes, const int32_t *const cu[2], void *o,
                                    float *lse)
{
    cl_context cl;
    cl_command_queue queue;
    clattn_context_get_cl(ctx, &cl, NULL, &queue);
    const size_t off[5] = {0, odd ? esize : 0, odd ? 3 * esize : 0, 0, 0};
    const size_t size[5] = {bytes[0], bytes[1], bytes[2], bytes[3], rows * sizeof *lse};
    cl_mem mem[12] = {NULL};
    clattn_args *args = NULL;
    clattn_status st = clattn_args_create(&args);
    const clattn_arg names[12] = {CLATTN_ARG_Q,       CLATTN_ARG_K,       CLATTN_ARG_V,
                                  CLATTN_ARG_O,       CLATTN_ARG_LSE,     CLATTN_ARG_ALIBI_SLOPES,
                                  CLATTN_ARG_SINKS,   CLATTN_ARG_Q_START, CLATTN_ARG_K_START,
                                  CLATTN_ARG_MASK,    CLATTN_ARG_CU_SEQLENS_Q,
                                  CLATTN_ARG_CU_SEQLENS_K};
    const void *extra[7] = {slopes, sinks, starts ? starts[0] : NULL, starts ? starts[1] : NULL,
                            mask, cu ? cu[0] : NULL, cu ? cu[1] : NULL};
    const size_t entries = cu ? VARLEN_ENTRIES : 1;
    const size_t extra_bytes[7] = {heads * sizeof(float), heads * sizeof(float),
                                   entries * sizeof(int32_t), entries * sizeof(int32_t), mask_bytes,
                                   (VARLEN_ENTRIES + 1) * sizeof(int32_t),
                                   (VARLEN_ENTRIES + 1) * sizeof(int32_t)};
    for (int t = 5; t < 12 && !st; t++) {
        cl_int err = CL_SUCCESS;
        if (extra[t - 5])
            mem[t] = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                                    extra_bytes[t - 5], (void *)extra[t - 5], &err);
        if (err)
            st = CLATTN_ERROR_OPENCL;
    }
    /* Each input is written whole from byte 0, with NaN bytes before the tensor (a kernel that
     * read them would show it): oclgrind 21.10's --uninitialized takes bytes written by
     * clEnqueueWriteBuffer at a nonzero offset for uninitialised when a kernel reads them. */
    for (int t = 0; t < 5 && !st; t++) {
        cl_int err;
        mem[t] = clCreateBuffer(cl, CL_MEM_READ_WRITE, size[t] + off[t], NULL, &err);
        unsigned char *whole = !err ? malloc(size[t] + off[t]) : NULL;
        if (whole) {
            memset(whole, 0xff, off[t]);
            memcpy(whole + off[t], t < 3 ? in[t] : t == 3 ? o : (void *)lse, size[t]);
            err = clEnqueueWriteBuffer(queue, mem[t], CL_TRUE, 0, size[t] + off[t], whole, 0,
                                       NULL, NULL);
            free(whole);
        }
        if (err || !whole)
            st = CLATTN_ERROR_OPENCL;
    }
    for (int t = 0; t < 12 && !st; t++)
        st = clattn_args_set_buffer(args, names[t], mem[t], t < 5 ? off[t] : 0);
    if (!st)
        st = clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL);
    if (!st && (clEnqueueReadBuffer(queue, mem[3], CL_TRUE, 0, size[3], o, 0, NULL, NULL) ||
                clEnqueueReadBuffer(queue, mem[4], CL_TRUE, 0, size[4], lse, 0, NULL, NULL)))
        st = CLATTN_ERROR_OPENCL;
    for (int t = 0; t < 12; t++)
        if (mem[t])
            clReleaseMemObject(mem[t]);
    clattn_args_destroy(args);
    return st;
}

/* Runs one variant; returns 0 when it agrees with the reference, 1 otherwise. */
static int run(clattn_context *ctx, const variant *v)
{
    clattn_problem *p = NULL;
    clattn_plan *plan = NULL;
    void *in[3] = {NULL, NULL, NULL}, *o = NULL;
    float *o_ref = NULL, *lse = NULL, *lse_ref = NULL;
    size_t bytes[4] = {0, 0, 0, 0};
    const int bias = v->flags & BIAS, varlen = v->flags & VARLEN;
    const size_t rows = (size_t)(varlen ? VARLEN_ENTRIES : 1) * (size_t)v->heads * (size_t)v->seq_q;
    int failed = 1;
    const int per_entry = v->flags & PER_ENTRY;
    const int32_t q_starts[VARLEN_ENTRIES] = {v->seq_kv + 1, 7, 0};
    const int32_t k_starts[VARLEN_ENTRIES] = {2, 0, 5};
    const int32_t *const starts[2] = {q_starts, k_starts};
    float *mask = NULL;
    size_t mask_bytes = 0;
    int32_t cu_q[VARLEN_ENTRIES + 1], cu_k[VARLEN_ENTRIES + 1];
    varlen_bounds(v, cu_q, cu_k);
    const int32_t *const cu[2] = {cu_q, cu_k};
    /* ggml's slopes; sinks finite, -inf (none) and above every score */
    float slopes[8], sinks[8] = {0.5f, -INFINITY, 3.0f, -1.0f, 0.5f, -INFINITY, 3.0f, -1.0f};
    clattn_args *host = NULL;
    if (v->heads > 8 || clattn_alibi_slopes(v->heads, 8.0, slopes) ||
        clattn_args_create(&host)) {
        fprintf(stderr, "%s: bad variant: %s\n", v->name, clattn_message(NULL));
        goto out;
    }
    if (clattn_problem_create(&p) || !set_all(p, v) ||
        (bias && (clattn_problem_set(p, CLATTN_PARAM_ALIBI, CLATTN_ALIBI_PER_HEAD) ||
                  clattn_problem_set(p, CLATTN_PARAM_SINKS, 1))) ||
        ((v->flags & MASK) && (clattn_problem_set(p, CLATTN_PARAM_MASK, CLATTN_MASK_F32) ||
                               clattn_problem_set(p, CLATTN_PARAM_MASK_HEADS, v->heads))) ||
        (varlen && !set_varlen(p, v)) || clattn_problem_check(p)) {
        fprintf(stderr, "%s: bad variant: %s\n", v->name, clattn_message(NULL));
        goto out;
    }
    for (int t = 0; t < 4; t++)
        clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes[t]);
    for (int t = 0; t < 3; t++)
        in[t] = inputs(t && v->cache ? v->cache : v->dtype, bytes[t], 7u + (unsigned)t);
    if (v->flags & MASK) { /* [1, H, Nq, Nk] */
        mask_bytes = (size_t)v->heads * (size_t)v->seq_q * (size_t)v->seq_kv * sizeof *mask;
        mask = malloc(mask_bytes);
        for (int h = 0; mask && h < v->heads; h++)
            for (int i = 0; i < v->seq_q; i++)
                for (int j = 0; j < v->seq_kv; j++)
                    mask[((size_t)h * (size_t)v->seq_q + (size_t)i) * (size_t)v->seq_kv +
                         (size_t)j] = mask_value(h, i, j);
    }
    /* zeros on both sides: the rows a short entry does not own are compared as such */
    o = calloc(1, bytes[3]);
    o_ref = calloc(bytes[3] / clattn_dtype_size(v->dtype), sizeof *o_ref);
    lse = calloc(rows, sizeof *lse);
    lse_ref = calloc(rows, sizeof *lse_ref);
    if (!in[0] || !in[1] || !in[2] || !o || !o_ref || !lse || !lse_ref ||
        ((v->flags & MASK) && !mask)) {
        fprintf(stderr, "%s: out of memory\n", v->name);
        goto out;
    }
    const clattn_arg names[8] = {CLATTN_ARG_Q,           CLATTN_ARG_K,       CLATTN_ARG_V,
                                 CLATTN_ARG_ALIBI_SLOPES, CLATTN_ARG_SINKS,   CLATTN_ARG_Q_START,
                                 CLATTN_ARG_K_START,      CLATTN_ARG_MASK};
    const void *host_data[8] = {in[0], in[1], in[2], bias ? slopes : NULL, bias ? sinks : NULL,
                                per_entry ? q_starts : NULL, per_entry ? k_starts : NULL, mask};
    for (int t = 0; t < 8; t++)
        clattn_args_set_host(host, names[t], host_data[t]);
    clattn_args_set_host(host, CLATTN_ARG_CU_SEQLENS_Q, varlen ? cu_q : NULL);
    clattn_args_set_host(host, CLATTN_ARG_CU_SEQLENS_K, varlen ? cu_k : NULL);
    if (clattn_reference_args(p, host, o_ref, lse_ref)) {
        fprintf(stderr, "%s: %s\n", v->name, clattn_message(NULL));
        goto out;
    }
    clattn_status st = clattn_plan_create(ctx, p, &plan);
    /* a block cache needs head_dim 32 or more, which the smallest simulated device may not
     * hold: said, and not a failure */
    if (st == CLATTN_ERROR_UNSUPPORTED &&
        (v->cache == CLATTN_DTYPE_Q8_0 || v->cache == CLATTN_DTYPE_Q4_0)) {
        printf("%-28s skip  (%s)\n", v->name, clattn_message(ctx));
        failed = 0;
        goto out;
    }
    if (st ||
        (v->flags
             ? run_in_buffers(ctx, plan, clattn_dtype_size(v->dtype), v->flags & ODD_KV_OFFSETS,
                              bytes, rows, in, bias ? slopes : NULL, bias ? sinks : NULL,
                              (size_t)v->heads, per_entry ? starts : NULL, mask, mask_bytes,
                              varlen ? cu : NULL, o, lse)
             : clattn_run_host(plan, in[0], in[1], in[2], o, lse))) {
        fprintf(stderr, "%s: %s%s\n", v->name, clattn_message(NULL), clattn_message(ctx));
        goto out;
    }
    double err = 0, lse_err = 0;
    int passed = 0;
    clattn_compare(p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed);
    printf("%-28s %s  (error %.2g, LSE error %.2g)\n", v->name, passed ? "ok  " : "FAIL", err,
           lse_err);
    if (!passed)
        printf("%s", clattn_plan_describe(plan));
    failed = !passed;
out:
    clattn_args_destroy(host);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
    for (int t = 0; t < 3; t++)
        free(in[t]);
    free(mask);
    free(o);
    free(o_ref);
    free(lse);
    free(lse_ref);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < sizeof variants / sizeof *variants; i++)
            printf("%s\n", variants[i].name);
        return 0;
    }
    clattn_context *ctx;
    if (clattn_context_create(-1, &ctx)) {
        fprintf(stderr, "oclgrind-kernels: %s\n", clattn_message(NULL));
        return 1;
    }
    int failed = 0, ran = 0;
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        int wanted = argc == 1;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], variants[i].name) == 0;
        if (wanted) {
            failed += run(ctx, &variants[i]);
            ran++;
        }
    }
    clattn_context_destroy(ctx);
    if (!ran) {
        fprintf(stderr, "oclgrind-kernels: no variant of that name\n");
        return 2;
    }
    return failed ? 1 : 0;
}
