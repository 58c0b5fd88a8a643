/* ALiBi slopes and sink logits (docs/semantics.md, "Extensions") on the device: every
 * algorithm against the reference, on odd shapes (GQA and MQA, f32, f16 and bf16, causal
 * masks and windows in both alignments, rows that see no key), with ggml's slopes and larger
 * random ones, per head and per entry, sinks finite, -inf and large, alone and together with
 * positions per call and the softcap. Decode runs with its keys split, where only one split
 * may count a row's sink. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define OK(call) ck_assert_msg((call) == CLATTN_SUCCESS, "%s: %s", #call, clattn_message(NULL))

enum { SLOPES_NONE, SLOPES_GGML, SLOPES_RANDOM };
enum { SINKS_NONE, SINKS_FINITE, SINKS_SOME_INF, SINKS_LARGE };

typedef struct bias_case {
    int batch, heads, kv_heads, seq_q, seq_kv, head_dim, causal, wl, wr;
    clattn_align align;
    clattn_dtype dtype;
    clattn_alibi alibi;
    int slopes, sinks;
    int64_t q_start, k_start; /* -1: the alignment's positions */
    double softcap;
} bias_case;

#define BR CLATTN_ALIGN_BOTTOM_RIGHT
#define TL CLATTN_ALIGN_TOP_LEFT
#define F32 CLATTN_DTYPE_F32
#define F16 CLATTN_DTYPE_F16
#define BF16 CLATTN_DTYPE_BF16
#define HEAD CLATTN_ALIBI_PER_HEAD
#define ENTRY CLATTN_ALIBI_PER_ENTRY

static const bias_case cases[] = {
    /* ALiBi alone: GQA, per head and per entry, causal in both alignments */
    {1, 4, 2, 37, 53, 40, 1, -1, -1, BR, F32, HEAD, SLOPES_GGML, SINKS_NONE, -1, -1, 0},
    {2, 6, 3, 29, 70, 64, 1, -1, -1, TL, F16, ENTRY, SLOPES_RANDOM, SINKS_NONE, -1, -1, 0},
    {2, 3, 3, 50, 33, 24, 0, -1, -1, BR, BF16, HEAD, SLOPES_RANDOM, SINKS_NONE, -1, -1, 0},
    /* sinks alone: rows without keys (causal, Nq > Nk, bottom-right) get LSE = z */
    {1, 4, 2, 40, 25, 32, 1, -1, -1, BR, F32, CLATTN_ALIBI_NONE, 0, SINKS_FINITE, -1, -1, 0},
    {2, 4, 4, 33, 61, 48, 0, -1, -1, TL, F16, CLATTN_ALIBI_NONE, 0, SINKS_SOME_INF, -1, -1, 0},
    {1, 8, 1, 19, 45, 64, 1, -1, -1, TL, BF16, CLATTN_ALIBI_NONE, 0, SINKS_LARGE, -1, -1, 0},
    /* both, with windows (rows outside every key), softcap and positions per call */
    {2, 4, 2, 29, 70, 64, 1, 9, 0, BR, F16, HEAD, SLOPES_GGML, SINKS_FINITE, -1, -1, 0},
    {1, 3, 3, 50, 33, 24, 0, 5, 7, TL, BF16, ENTRY, SLOPES_RANDOM, SINKS_SOME_INF, -1, -1, 0},
    {1, 8, 1, 30, 129, 64, 1, 40, 0, BR, F32, HEAD, SLOPES_RANDOM, SINKS_LARGE, -1, -1, 30},
    {2, 4, 2, 23, 57, 40, 1, 12, 3, TL, F32, ENTRY, SLOPES_GGML, SINKS_FINITE, 700, 690, 20},
    {1, 6, 2, 31, 44, 32, 1, -1, -1, BR, F16, HEAD, SLOPES_RANDOM, SINKS_FINITE, 10, 50, 0},
    /* few rows, many keys: decode splits them (the sink in one split only) */
    {2, 4, 2, 3, 300, 32, 1, -1, -1, BR, F16, HEAD, SLOPES_GGML, SINKS_FINITE, -1, -1, 0},
    {2, 8, 1, 2, 3001, 64, 1, -1, -1, BR, F32, ENTRY, SLOPES_GGML, SINKS_FINITE, -1, -1, 0},
    {2, 4, 4, 1, 3333, 40, 0, -1, -1, TL, BF16, HEAD, SLOPES_RANDOM, SINKS_LARGE, -1, -1, 0},
    {1, 8, 2, 4, 4000, 64, 1, 700, 0, BR, F32, CLATTN_ALIBI_NONE, 0, SINKS_SOME_INF, 3000, 0,
     50},
};

static const char *bias_name(const bias_case *bc, const attn_case *c)
{
    static char name[512];
    snprintf(name, sizeof name, "%s, ALiBi %d (slopes %d), sinks %d, starts %lld/%lld",
             case_name(c), (int)bc->alibi, bc->slopes, bc->sinks, (long long)bc->q_start,
             (long long)bc->k_start);
    return name;
}

/* Slopes for every (entry,) head: ggml's geometric series, or random ones up to 2. */
static float *make_slopes(const bias_case *bc)
{
    const int entries = bc->alibi == CLATTN_ALIBI_PER_ENTRY ? bc->batch : 1;
    float *s = malloc((size_t)entries * (size_t)bc->heads * sizeof *s);
    for (int e = 0; e < entries; e++) {
        if (bc->slopes == SLOPES_GGML)
            OK(clattn_alibi_slopes(bc->heads, 8.0 / (e + 1), s + e * bc->heads));
        else
            for (int h = 0; h < bc->heads; h++)
                s[e * bc->heads + h] = 2.0f * (float)rand() / (float)RAND_MAX;
    }
    return s;
}

static float *make_sinks(const bias_case *bc)
{
    float *z = malloc((size_t)bc->heads * sizeof *z);
    for (int h = 0; h < bc->heads; h++) {
        const float r = 6.0f * (float)rand() / (float)RAND_MAX - 3.0f;
        switch (bc->sinks) {
        case SINKS_SOME_INF:
            z[h] = h % 2 ? -INFINITY : r;
            break;
        case SINKS_LARGE: /* the sink outweighs every key: O near 0, LSE near z */
            z[h] = h % 2 ? 40.0f + r : 80.0f;
            break;
        default:
            z[h] = r;
        }
    }
    return z;
}

/* The case through clattn_enqueue_args against clattn_reference_args; with `lens`, K and V
 * are a cache of seq_kv rows of which entry b holds lens[b] (CLATTN_ARG_CACHE_SEQLENS). */
static void check_bias(const bias_case *bc, clattn_algorithm algo, const int32_t *lens)
{
    attn_case c = case_default();
    c.batch = bc->batch;
    c.heads = bc->heads;
    c.kv_heads = bc->kv_heads;
    c.seq_q = bc->seq_q;
    c.seq_kv = bc->seq_kv;
    c.head_dim = bc->head_dim;
    c.causal = bc->causal;
    c.window_left = bc->wl;
    c.window_right = bc->wr;
    c.align = bc->align;
    c.dtype = bc->dtype;
    c.softcap = bc->softcap;
    c.magnitude = 2.0f;
    clattn_context *ctx = test_context();
    clattn_problem *p = case_problem(&c, algo);
    OK(clattn_problem_set(p, CLATTN_PARAM_ALIBI, bc->alibi));
    OK(clattn_problem_set(p, CLATTN_PARAM_SINKS, bc->sinks != SINKS_NONE));
    if (bc->q_start >= 0)
        OK(clattn_problem_set(p, CLATTN_PARAM_POSITIONS, CLATTN_POSITIONS_PER_CALL));
    const size_t esize = clattn_dtype_size(c.dtype);
    size_t bytes[4];
    for (int t = 0; t < 4; t++)
        OK(clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes[t]));
    void *host[3];
    for (int t = 0; t < 3; t++)
        host[t] = random_tensor(c.dtype, bytes[t] / esize, c.magnitude, (unsigned)(t + 7));
    srand(11);
    float *slopes = bc->alibi ? make_slopes(bc) : NULL;
    float *sinks = bc->sinks ? make_sinks(bc) : NULL;
    const size_t slope_bytes =
        (bc->alibi == CLATTN_ALIBI_PER_ENTRY ? (size_t)bc->batch : 1) * (size_t)bc->heads * 4;
    const size_t rows = (size_t)c.batch * (size_t)c.heads * (size_t)c.seq_q;
    float *o_ref = calloc(bytes[3] / esize, sizeof(float)), *lse_ref = malloc(rows * 4);

    clattn_args *args;
    OK(clattn_args_create(&args));
    if (bc->q_start >= 0)
        OK(clattn_args_set_positions(args, bc->q_start, bc->k_start));
    const clattn_arg names[3] = {CLATTN_ARG_Q, CLATTN_ARG_K, CLATTN_ARG_V};
    for (int t = 0; t < 3; t++)
        OK(clattn_args_set_host(args, names[t], host[t]));
    OK(clattn_args_set_host(args, CLATTN_ARG_ALIBI_SLOPES, slopes));
    OK(clattn_args_set_host(args, CLATTN_ARG_SINKS, sinks));
    OK(clattn_args_set_host(args, CLATTN_ARG_CACHE_SEQLENS, lens));
    OK(clattn_reference_args(p, args, o_ref, lse_ref));

    cl_command_queue queue;
    clattn_context_get_cl(ctx, NULL, NULL, &queue);
    /* the slopes and sinks at an offset in a larger buffer */
    cl_mem mem[7] = {NULL};
    for (int t = 0; t < 3; t++)
        mem[t] = device_copy(bytes[t], host[t]);
    mem[3] = device_copy(bytes[3], NULL);
    mem[4] = device_copy(rows * 4, NULL);
    mem[5] = device_copy(64 + slope_bytes + (size_t)c.heads * 4, NULL);
    if (slopes)
        ck_assert_int_eq(clEnqueueWriteBuffer(queue, mem[5], CL_TRUE, 16, slope_bytes, slopes, 0,
                                              NULL, NULL),
                         CL_SUCCESS);
    if (sinks)
        ck_assert_int_eq(clEnqueueWriteBuffer(queue, mem[5], CL_TRUE, 32 + slope_bytes,
                                              (size_t)c.heads * 4, sinks, 0, NULL, NULL),
                         CL_SUCCESS);
    const clattn_arg all[5] = {CLATTN_ARG_Q, CLATTN_ARG_K, CLATTN_ARG_V, CLATTN_ARG_O,
                               CLATTN_ARG_LSE};
    for (int t = 0; t < 5; t++)
        OK(clattn_args_set_buffer(args, all[t], mem[t], 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_ALIBI_SLOPES, slopes ? mem[5] : NULL, 16));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_SINKS, sinks ? mem[5] : NULL, 32 + slope_bytes));
    if (lens) {
        mem[6] = device_copy((size_t)c.batch * sizeof *lens, lens);
        OK(clattn_args_set_buffer(args, CLATTN_ARG_CACHE_SEQLENS, mem[6], 0));
    }
    check_args_on_device(p, algo, args, mem[3], bytes[3], mem[4], rows, o_ref, lse_ref,
                         bias_name(bc, &c));
    for (int t = 0; t < 7; t++)
        if (mem[t])
            clReleaseMemObject(mem[t]);
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
    for (int t = 0; t < 3; t++)
        free(host[t]);
    free(slopes);
    free(sinks);
    free(o_ref);
    free(lse_ref);
}

START_TEST(bias_and_sinks_match_the_reference)
{
    const clattn_algorithm algo = (clattn_algorithm)_i;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const bias_case *bc = &cases[k];
        if (!algorithm_takes_shape(algo, bc->seq_q, bc->causal, bc->wl, bc->wr))
            continue;
        check_bias(bc, algo, NULL);
    }
}
END_TEST

/* A ragged cache: each entry's rows sit at the end of its own keys (bottom-right), so the
 * bias of a row depends on its entry's length. */
START_TEST(bias_and_sinks_over_a_ragged_cache)
{
    const bias_case cache[] = {
        {2, 4, 2, 3, 700, 32, 1, -1, -1, BR, F16, ENTRY, SLOPES_GGML, SINKS_FINITE, -1, -1, 0},
        {2, 8, 1, 1, 3100, 64, 0, -1, -1, BR, F32, HEAD, SLOPES_RANDOM, SINKS_SOME_INF, -1, -1,
         0},
    };
    const int32_t lens[2][2] = {{417, 698}, {3099, 1500}};
    for (int k = 0; k < 2; k++) {
        check_bias(&cache[k], CLATTN_ALGO_TILED, lens[k]);
        check_bias(&cache[k], CLATTN_ALGO_DECODE, lens[k]);
    }
}
END_TEST

/* The slopes and sinks are inputs of clattn_enqueue_args alone, checked like every buffer:
 * the plain call refuses the problem, a buffer too small or misaligned is named, and one that
 * shares bytes with O is refused. */
START_TEST(bias_buffers_are_checked)
{
    attn_case c = case_default();
    c.seq_q = 4;
    c.seq_kv = 8;
    c.head_dim = 16;
    c.heads = 4;
    c.kv_heads = 2;
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_TILED);
    OK(clattn_problem_set(p, CLATTN_PARAM_ALIBI, CLATTN_ALIBI_PER_ENTRY));
    OK(clattn_problem_set(p, CLATTN_PARAM_SINKS, 1));
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), p, &plan));
    cl_mem m = device_copy(8192, NULL), small = device_copy(12, NULL);
    REFUSED(clattn_enqueue(plan, NULL, m, 0, m, 0, m, 0, m, 4096, NULL, 0, 0, NULL, NULL),
            "clattn_enqueue_args");
    clattn_args *args;
    OK(clattn_args_create(&args));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_Q, m, 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_K, m, 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_V, m, 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_O, m, 4096));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_SINKS, m, 2048));
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "alibi_slopes");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_ALIBI_SLOPES, small, 0)); /* [B, H]: 16 bytes */
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "alibi_slopes");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_ALIBI_SLOPES, m, 2002)); /* not 4-aligned */
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "alibi_slopes");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_ALIBI_SLOPES, m, 2000));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_SINKS, m, 4100)); /* inside O */
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "sinks");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_SINKS, m, 2048));
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
    Suite *s = suite_create("bias");
    TCase *tc = tcase_create("alibi-sinks");
    tcase_set_timeout(tc, 900);
    tcase_add_loop_test(tc, bias_and_sinks_match_the_reference, CLATTN_ALGO_NAIVE,
                        CLATTN_ALGO_DECODE + 1);
    tcase_add_test(tc, bias_and_sinks_over_a_ragged_cache);
    tcase_add_test(tc, bias_buffers_are_checked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 1);
}
