/* The additive mask (docs/semantics.md, "Extensions") on the device: every algorithm against
 * the reference, on odd shapes (GQA and MQA, f32, f16 and bf16 Q, f32 and f16 masks, both
 * alignments, causal masks and windows beside the mask), with the mask broadcast or full over
 * batch and heads, contiguous or with strides of its own (padding that holds NaN, which no
 * kernel may read) and at an offset in its buffer. The patterns:
 *   random   values and -inf mixed in every tile;
 *   blocks   a block-sparse mask whose blocks are larger than any kernel's tiles: whole tiles
 *            all -inf (skipped), all 0 (no mask read) and mixed, different per head where the
 *            mask has heads, so that a row block of several heads (GQA's row order) mixes them;
 *   causal   the causal rule given as a mask of 0 and -inf;
 *   rows     random, with whole rows -inf (O = 0, LSE = -inf, or the sink);
 *   nan      random, with a NaN here and there (its row NaN).
 * A kernel that skipped a mixed tile, or read no mask in one, loses or mis-scores pairs that
 * the reference counts, and fails. Decode runs with its keys split and over a ragged KV cache,
 * where the mask's key index is the key's index in the entry. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define OK(call) ck_assert_msg((call) == CLATTN_SUCCESS, "%s: %s", #call, clattn_message(NULL))

enum { RANDOM, BLOCKS, CAUSAL, ROWS_HIDDEN, SOME_NAN };
static const char *const pattern_names[] = {"random", "blocks", "causal", "rows", "nan"};

typedef struct mask_case {
    int batch, heads, kv_heads, seq_q, seq_kv, head_dim, causal, wl, wr;
    clattn_align align;
    clattn_dtype dtype;
    clattn_mask mask;
    int full_batch, full_heads; /* Bm = B, Hm = H; else 1 (broadcast) */
    int pattern;
    int strided; /* [Bm, Nq, Hm, Nk + 3] with NaN in the gaps, instead of [Bm, Hm, Nq, Nk] */
    int extras;  /* with ALiBi, sinks and a softcap: the mask comes last */
} mask_case;

#define BR CLATTN_ALIGN_BOTTOM_RIGHT
#define TL CLATTN_ALIGN_TOP_LEFT
#define F32 CLATTN_DTYPE_F32
#define F16 CLATTN_DTYPE_F16
#define BF16 CLATTN_DTYPE_BF16
#define M32 CLATTN_MASK_F32
#define M16 CLATTN_MASK_F16

static const mask_case cases[] = {
    /* each pattern, broadcast and full, both alignments, every dtype */
    {1, 4, 2, 37, 53, 40, 0, -1, -1, BR, F32, M32, 0, 0, RANDOM, 0, 0},
    {2, 6, 3, 29, 70, 64, 1, -1, -1, TL, F16, M16, 1, 1, RANDOM, 1, 0},
    {2, 3, 3, 50, 33, 24, 0, -1, -1, BR, BF16, M32, 1, 0, ROWS_HIDDEN, 0, 0},
    {1, 8, 2, 300, 333, 64, 0, -1, -1, BR, F32, M32, 0, 0, BLOCKS, 0, 0},
    {2, 4, 2, 257, 301, 32, 0, -1, -1, TL, F16, M16, 1, 1, BLOCKS, 1, 0},
    {1, 8, 1, 200, 450, 48, 0, -1, -1, BR, BF16, M16, 0, 1, BLOCKS, 0, 0},
    {1, 4, 4, 333, 333, 64, 0, -1, -1, BR, F32, M32, 0, 0, CAUSAL, 0, 0},
    {2, 6, 2, 130, 290, 40, 0, -1, -1, BR, F16, M16, 1, 0, CAUSAL, 1, 0},
    {1, 4, 2, 41, 66, 32, 1, -1, -1, BR, F32, M32, 0, 1, SOME_NAN, 0, 0},
    /* beside a causal rule and windows (rows outside every key), and with the extensions */
    {2, 4, 2, 29, 70, 64, 1, 9, 0, BR, F16, M32, 0, 1, RANDOM, 0, 0},
    {1, 3, 3, 150, 133, 24, 0, 40, 30, TL, BF16, M16, 0, 0, BLOCKS, 1, 0},
    {1, 8, 1, 300, 329, 64, 1, 100, 0, BR, F32, M32, 0, 0, BLOCKS, 0, 0},
    {2, 4, 2, 23, 57, 40, 1, 12, 3, TL, F32, M16, 1, 1, ROWS_HIDDEN, 0, 1},
    {1, 6, 2, 131, 244, 32, 0, -1, -1, BR, F16, M32, 0, 1, BLOCKS, 0, 1},
    /* few rows, many keys: decode splits them */
    {2, 4, 2, 3, 300, 32, 1, -1, -1, BR, F16, M16, 1, 1, RANDOM, 0, 0},
    {2, 8, 1, 2, 3001, 64, 0, -1, -1, BR, F32, M32, 0, 0, BLOCKS, 1, 0},
    {2, 4, 4, 1, 3333, 40, 0, -1, -1, TL, BF16, M16, 1, 1, BLOCKS, 0, 1},
    {1, 8, 2, 4, 4000, 64, 1, 700, 0, BR, F32, M32, 0, 1, ROWS_HIDDEN, 0, 0},
    /* 36 rows per kv head: on GPU-shaped devices decode runs attend_local over its splits */
    {1, 8, 2, 9, 2000, 32, 1, -1, -1, BR, F16, M32, 0, 1, BLOCKS, 0, 0},
};

static const char *mask_name(const mask_case *mc, const attn_case *c)
{
    static char name[512];
    snprintf(name, sizeof name, "%s, mask %s %s [%s, %s]%s%s", case_name(c),
             mc->mask == M16 ? "f16" : "f32", pattern_names[mc->pattern],
             mc->full_batch ? "B" : "1", mc->full_heads ? "H" : "1",
             mc->strided ? " strided" : "", mc->extras ? " with ALiBi, sinks, softcap" : "");
    return name;
}

/* A random value, or -inf a third of the time. */
static float random_value(unsigned b, unsigned h, unsigned i, unsigned j)
{
    const double u = hash01(b, h, i, j);
    return u < 1.0 / 3 ? -INFINITY : (float)(6.0 * u - 4.0);
}

/* Blocks of 64 positions x 96 keys, larger than any kernel's tile: hidden, zero or random. */
static float block_value(unsigned b, unsigned h, unsigned i, unsigned j)
{
    const double u = hash01(b + 11, h + 5, i / 64, j / 96);
    return u < 0.45 ? -INFINITY : u < 0.75 ? 0.0f : random_value(b, h, i, j);
}

/* Mask value (b, h, i, j) of the case's pattern (b and h are the mask's own indices). */
static float mask_value(const mask_case *mc, int b, int h, int i, int j)
{
    const unsigned ub = (unsigned)b, uh = (unsigned)h, ui = (unsigned)i, uj = (unsigned)j;
    switch (mc->pattern) {
    case BLOCKS:
        return block_value(ub, uh, ui, uj);
    case CAUSAL: { /* bottom-right: row i sits at key i + seq_kv - seq_q */
        const long pos = (long)i + (mc->align == BR ? mc->seq_kv - mc->seq_q : 0);
        return j <= pos ? 0.0f : -INFINITY;
    }
    case ROWS_HIDDEN:
        return hash01(ub, uh, ui, 99) < 0.25 ? -INFINITY : random_value(ub, uh, ui, uj);
    case SOME_NAN:
        return hash01(ub, uh, ui, uj + 7) < 0.004 ? NAN : random_value(ub, uh, ui, uj);
    default:
        return random_value(ub, uh, ui, uj);
    }
}

/* The mask in the problem's layout, NaN in every element no (b, h, i, j) names; f32 or f16. */
static void *make_mask(const mask_case *mc, const clattn_problem *p, size_t bytes)
{
    const size_t esize = mc->mask == M16 ? 2 : 4, count = bytes / esize;
    float *f = malloc(count * sizeof *f);
    for (size_t e = 0; e < count; e++)
        f[e] = NAN;
    int64_t s[3];
    OK(clattn_problem_get_strides(p, CLATTN_TENSOR_MASK, &s[0], &s[1], &s[2]));
    const int bm = mc->full_batch ? mc->batch : 1, hm = mc->full_heads ? mc->heads : 1;
    for (int b = 0; b < bm; b++)
        for (int h = 0; h < hm; h++)
            for (int i = 0; i < mc->seq_q; i++)
                for (int j = 0; j < mc->seq_kv; j++)
                    f[b * s[0] + i * s[1] + h * s[2] + j] = mask_value(mc, b, h, i, j);
    if (esize == 4)
        return f;
    void *half = malloc(count * 2);
    OK(clattn_from_float(CLATTN_DTYPE_F16, f, half, count));
    free(f);
    return half;
}

/* The case through clattn_enqueue_args against clattn_reference_args; with `lens`, K and V
 * are a cache of seq_kv rows of which entry b holds lens[b]. */
static void check_mask(const mask_case *mc, clattn_algorithm algo, const int32_t *lens)
{
    attn_case c = case_default();
    c.batch = mc->batch;
    c.heads = mc->heads;
    c.kv_heads = mc->kv_heads;
    c.seq_q = mc->seq_q;
    c.seq_kv = mc->seq_kv;
    c.head_dim = mc->head_dim;
    c.causal = mc->causal;
    c.window_left = mc->wl;
    c.window_right = mc->wr;
    c.align = mc->align;
    c.dtype = mc->dtype;
    c.softcap = mc->extras ? 20 : 0;
    c.magnitude = 2.0f;
    clattn_context *ctx = test_context();
    clattn_problem *p = case_problem(&c, algo);
    OK(clattn_problem_set(p, CLATTN_PARAM_MASK, mc->mask));
    OK(clattn_problem_set(p, CLATTN_PARAM_MASK_BATCH, mc->full_batch ? mc->batch : 1));
    OK(clattn_problem_set(p, CLATTN_PARAM_MASK_HEADS, mc->full_heads ? mc->heads : 1));
    if (mc->strided) {
        const int64_t hm = mc->full_heads ? mc->heads : 1, row = mc->seq_kv + 3;
        OK(clattn_problem_set_strides(p, CLATTN_TENSOR_MASK, mc->seq_q * hm * row + 5, hm * row,
                                      row));
    }
    if (mc->extras) {
        OK(clattn_problem_set(p, CLATTN_PARAM_ALIBI, CLATTN_ALIBI_PER_HEAD));
        OK(clattn_problem_set(p, CLATTN_PARAM_SINKS, 1));
    }
    const size_t esize = clattn_dtype_size(c.dtype);
    size_t bytes[5];
    for (int t = 0; t < 5; t++)
        OK(clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes[t]));
    void *host[3];
    for (int t = 0; t < 3; t++)
        host[t] = random_tensor(c.dtype, bytes[t] / esize, c.magnitude, (unsigned)(t + 7));
    void *mask = make_mask(mc, p, bytes[4]);
    float *slopes = malloc((size_t)c.heads * 4), *sinks = malloc((size_t)c.heads * 4);
    OK(clattn_alibi_slopes(c.heads, 8.0, slopes));
    for (int h = 0; h < c.heads; h++)
        sinks[h] = (float)h - 2.0f;
    const size_t rows = (size_t)c.batch * (size_t)c.heads * (size_t)c.seq_q;
    float *o_ref = calloc(bytes[3] / esize, sizeof(float)), *lse_ref = malloc(rows * 4);

    clattn_args *args;
    OK(clattn_args_create(&args));
    const clattn_arg names[3] = {CLATTN_ARG_Q, CLATTN_ARG_K, CLATTN_ARG_V};
    for (int t = 0; t < 3; t++)
        OK(clattn_args_set_host(args, names[t], host[t]));
    OK(clattn_args_set_host(args, CLATTN_ARG_MASK, mask));
    if (mc->extras) {
        OK(clattn_args_set_host(args, CLATTN_ARG_ALIBI_SLOPES, slopes));
        OK(clattn_args_set_host(args, CLATTN_ARG_SINKS, sinks));
    }
    OK(clattn_args_set_host(args, CLATTN_ARG_CACHE_SEQLENS, lens));
    OK(clattn_reference_args(p, args, o_ref, lse_ref));

    cl_command_queue queue;
    clattn_context_get_cl(ctx, NULL, NULL, &queue);
    /* the mask at an offset of 64 bytes in a larger buffer */
    cl_mem mem[8] = {NULL};
    for (int t = 0; t < 3; t++)
        mem[t] = device_copy(bytes[t], host[t]);
    mem[3] = device_copy(bytes[3], NULL);
    mem[4] = device_copy(rows * 4, NULL);
    mem[5] = device_copy(64 + bytes[4], NULL);
    ck_assert_int_eq(
        clEnqueueWriteBuffer(queue, mem[5], CL_TRUE, 64, bytes[4], mask, 0, NULL, NULL),
        CL_SUCCESS);
    const clattn_arg all[5] = {CLATTN_ARG_Q, CLATTN_ARG_K, CLATTN_ARG_V, CLATTN_ARG_O,
                               CLATTN_ARG_LSE};
    for (int t = 0; t < 5; t++)
        OK(clattn_args_set_buffer(args, all[t], mem[t], 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_MASK, mem[5], 64));
    if (mc->extras) {
        mem[6] = device_copy((size_t)c.heads * 8, NULL);
        ck_assert_int_eq(clEnqueueWriteBuffer(queue, mem[6], CL_TRUE, 0, (size_t)c.heads * 4,
                                              slopes, 0, NULL, NULL),
                         CL_SUCCESS);
        ck_assert_int_eq(clEnqueueWriteBuffer(queue, mem[6], CL_TRUE, (size_t)c.heads * 4,
                                              (size_t)c.heads * 4, sinks, 0, NULL, NULL),
                         CL_SUCCESS);
        OK(clattn_args_set_buffer(args, CLATTN_ARG_ALIBI_SLOPES, mem[6], 0));
        OK(clattn_args_set_buffer(args, CLATTN_ARG_SINKS, mem[6], (size_t)c.heads * 4));
    }
    if (lens) {
        mem[7] = device_copy((size_t)c.batch * sizeof *lens, lens);
        OK(clattn_args_set_buffer(args, CLATTN_ARG_CACHE_SEQLENS, mem[7], 0));
    }
    check_args_on_device(p, algo, args, mem[3], bytes[3], mem[4], rows, o_ref, lse_ref,
                         mask_name(mc, &c));
    for (int t = 0; t < 8; t++)
        if (mem[t])
            clReleaseMemObject(mem[t]);
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
    for (int t = 0; t < 3; t++)
        free(host[t]);
    free(mask);
    free(slopes);
    free(sinks);
    free(o_ref);
    free(lse_ref);
}

START_TEST(mask_matches_the_reference)
{
    const clattn_algorithm algo = (clattn_algorithm)_i;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const mask_case *mc = &cases[k];
        if (!algorithm_takes_shape(algo, mc->seq_q, mc->causal, mc->wl, mc->wr))
            continue;
        check_mask(mc, algo, NULL);
    }
}
END_TEST

/* A ragged cache: key j of entry b is column j of the mask, whatever the entry's length. */
START_TEST(mask_over_a_ragged_cache)
{
    const mask_case cache[] = {
        {2, 4, 2, 3, 700, 32, 1, -1, -1, BR, F16, M16, 1, 1, BLOCKS, 0, 0},
        {2, 8, 1, 1, 3100, 64, 0, -1, -1, BR, F32, M32, 0, 0, RANDOM, 1, 1},
    };
    const int32_t lens[2][2] = {{417, 698}, {3099, 1500}};
    for (int k = 0; k < 2; k++) {
        check_mask(&cache[k], CLATTN_ALGO_TILED, lens[k]);
        check_mask(&cache[k], CLATTN_ALGO_DECODE, lens[k]);
    }
}
END_TEST

/* The fused kernels skip a tile whose mask is all -inf: they read neither its K nor its V.
 * Keys 128 .. 255 (whole tiles of any power-of-two width up to 128) are hidden from every row,
 * and their K and V rows are NaN: a kernel that multiplied their zero probabilities by V
 * would make every row NaN (which docs/semantics.md allows of V in general, but a skipped
 * tile cannot do), while the reference never reads them. */
START_TEST(hidden_tiles_are_not_read)
{
    const clattn_algorithm algo = (clattn_algorithm)_i;
    attn_case c = case_default();
    c.heads = 4;
    c.kv_heads = 2;
    c.seq_q = 200;
    c.seq_kv = 400;
    c.head_dim = 64;
    c.causal = 1;
    c.window_left = 350;
    c.magnitude = 2.0f;
    clattn_problem *p = case_problem(&c, algo);
    OK(clattn_problem_set(p, CLATTN_PARAM_MASK, CLATTN_MASK_F32));
    size_t bytes[5];
    for (int t = 0; t < 5; t++)
        OK(clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes[t]));
    float *host[3];
    for (int t = 0; t < 3; t++)
        host[t] = random_tensor(c.dtype, bytes[t] / 4, c.magnitude, (unsigned)(t + 3));
    const size_t kv_row = (size_t)c.kv_heads * (size_t)c.head_dim; /* [B, N, Hkv, d] */
    for (size_t e = 128 * kv_row; e < 256 * kv_row; e++)
        host[1][e] = host[2][e] = NAN;
    float *mask = malloc(bytes[4]);
    for (int i = 0; i < c.seq_q; i++)
        for (int j = 0; j < c.seq_kv; j++)
            mask[i * c.seq_kv + j] = j >= 128 && j < 256 ? -INFINITY
                                                         : (float)hash01(1, 2, (unsigned)i, (unsigned)j);
    const size_t rows = (size_t)c.heads * (size_t)c.seq_q;
    float *o_ref = malloc(bytes[3]), *lse_ref = malloc(rows * 4);
    clattn_args *args;
    OK(clattn_args_create(&args));
    const clattn_arg names[4] = {CLATTN_ARG_Q, CLATTN_ARG_K, CLATTN_ARG_V, CLATTN_ARG_MASK};
    for (int t = 0; t < 4; t++)
        OK(clattn_args_set_host(args, names[t], t < 3 ? (void *)host[t] : mask));
    OK(clattn_reference_args(p, args, o_ref, lse_ref));
    cl_mem mem[6];
    for (int t = 0; t < 3; t++)
        mem[t] = device_copy(bytes[t], host[t]);
    mem[3] = device_copy(bytes[3], NULL);
    mem[4] = device_copy(rows * 4, NULL);
    mem[5] = device_copy(bytes[4], mask);
    const clattn_arg all[6] = {CLATTN_ARG_Q, CLATTN_ARG_K,   CLATTN_ARG_V,
                               CLATTN_ARG_O, CLATTN_ARG_LSE, CLATTN_ARG_MASK};
    for (int t = 0; t < 6; t++)
        OK(clattn_args_set_buffer(args, all[t], mem[t], 0));
    char name[160];
    snprintf(name, sizeof name, "%s: hidden tiles were read?", case_name(&c));
    check_args_on_device(p, algo, args, mem[3], bytes[3], mem[4], rows, o_ref, lse_ref, name);
    for (int t = 0; t < 6; t++)
        clReleaseMemObject(mem[t]);
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
    for (int t = 0; t < 3; t++)
        free(host[t]);
    free(mask);
    free(o_ref);
    free(lse_ref);
}
END_TEST

/* The mask is an input of clattn_enqueue_args alone, checked like every buffer: the plain
 * call refuses the problem, a buffer too small or misaligned is named, and one that shares
 * bytes with O is refused. */
START_TEST(mask_buffer_is_checked)
{
    attn_case c = case_default();
    c.seq_q = 4;
    c.seq_kv = 8;
    c.head_dim = 16;
    c.heads = 4;
    c.kv_heads = 2;
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_TILED);
    OK(clattn_problem_set(p, CLATTN_PARAM_MASK, CLATTN_MASK_F16));
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), p, &plan));
    cl_mem m = device_copy(8192, NULL), small = device_copy(32, NULL);
    REFUSED(clattn_enqueue(plan, NULL, m, 0, m, 0, m, 0, m, 4096, NULL, 0, 0, NULL, NULL),
            "clattn_enqueue_args");
    clattn_args *args;
    OK(clattn_args_create(&args));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_Q, m, 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_K, m, 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_V, m, 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_O, m, 4096));
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "mask");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_MASK, small, 0)); /* [1, 1, 4, 8] f16: 64 bytes */
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "mask");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_MASK, m, 2001)); /* not 2-aligned */
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "mask");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_MASK, m, 4100)); /* inside O */
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "mask");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_MASK, m, 2002));
    OK(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL));
    clReleaseMemObject(m);
    clReleaseMemObject(small);
    clattn_args_destroy(args);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("mask");
    TCase *tc = tcase_create("additive-mask");
    tcase_set_timeout(tc, 900);
    tcase_add_loop_test(tc, mask_matches_the_reference, CLATTN_ALGO_NAIVE,
                        CLATTN_ALGO_DECODE + 1);
    tcase_add_test(tc, mask_over_a_ragged_cache);
    tcase_add_loop_test(tc, hidden_tiles_are_not_read, CLATTN_ALGO_TILED, CLATTN_ALGO_WINDOWED + 1);
    tcase_add_test(tc, mask_buffer_is_checked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 1);
}
