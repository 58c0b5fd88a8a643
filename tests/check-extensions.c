/* The extensions of docs/semantics.md ("Extensions") in the CPU reference, against cases
 * worked out by hand with head_dim 1, and the checks on their parameters and arguments.
 * Needs no device. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"

/* `call` fails with `status`, and the thread's message says `text`. */
#define REFUSED_WITH(call, status, text)                                                       \
    do {                                                                                       \
        ck_assert_int_eq((call), (status));                                                    \
        ck_assert_msg(strstr(clattn_message(NULL), text), "message '%s' lacks '%s'",           \
                      clattn_message(NULL), text);                                             \
    } while (0)

static clattn_problem *problem(int batch, int heads, int nq, int nk)
{
    attn_case c = case_default();
    c.batch = batch;
    c.heads = heads;
    c.kv_heads = heads;
    c.seq_q = nq;
    c.seq_kv = nk;
    c.head_dim = 1; /* default scale 1 */
    return case_problem(&c, CLATTN_ALGO_AUTO);
}

static void set(clattn_problem *p, clattn_param param, int64_t v)
{
    ck_assert_int_eq(clattn_problem_set(p, param, v), CLATTN_SUCCESS);
}

/* Runs the reference with Q, K, V and the extension tensors given. */
static void run(const clattn_problem *p, const float *q, const float *k, const float *v,
                clattn_args *args, float *o, float *lse)
{
    clattn_args_set_host(args, CLATTN_ARG_Q, q);
    clattn_args_set_host(args, CLATTN_ARG_K, k);
    clattn_args_set_host(args, CLATTN_ARG_V, v);
    ck_assert_msg(clattn_reference_args(p, args, o, lse) == CLATTN_SUCCESS, "%s",
                  clattn_message(NULL));
}

/* softmax of the scores s[0..n) over the values v, and its LSE */
static double weighted(const double *s, const float *v, int n, double *lse)
{
    double m = -INFINITY, sum = 0, acc = 0;
    for (int j = 0; j < n; j++)
        m = fmax(m, s[j]);
    for (int j = 0; j < n; j++) {
        sum += exp(s[j] - m);
        acc += exp(s[j] - m) * v[j];
    }
    *lse = m + log(sum);
    return acc / sum;
}

START_TEST(softcap_bends_the_scaled_score)
{
    /* scores 0 and 4 under cap 2 become 0 and 2 tanh 2 */
    clattn_problem *p = problem(1, 1, 1, 2);
    ck_assert_int_eq(clattn_problem_set_softcap(p, 2.0), CLATTN_SUCCESS);
    clattn_args *args;
    ck_assert_int_eq(clattn_args_create(&args), CLATTN_SUCCESS);
    float q[1] = {1}, k[2] = {0, 4}, v[2] = {2, 6}, o[1], lse[1];
    run(p, q, k, v, args, o, lse);
    const double s[2] = {0, 2 * tanh(2.0)};
    double want_lse, want = weighted(s, v, 2, &want_lse);
    ck_assert_double_eq_tol(o[0], want, 1e-6);
    ck_assert_double_eq_tol(lse[0], want_lse, 1e-6);
    /* the cap applies after the scale: scale 2, cap 2 on dot 2 gives 2 tanh 2 too */
    ck_assert_int_eq(clattn_problem_set_scale(p, 2.0), CLATTN_SUCCESS);
    k[1] = 2;
    run(p, q, k, v, args, o, lse);
    ck_assert_double_eq_tol(o[0], want, 1e-6);
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(alibi_subtracts_slope_times_distance)
{
    /* q = 0: the scores are the biases alone. Bottom-right, the row sits at position 2, so
     * keys 0, 1, 2 get -2m, -m, 0. Entry 1 has its own slope with CLATTN_ALIBI_PER_ENTRY. */
    clattn_problem *p = problem(2, 1, 1, 3);
    set(p, CLATTN_PARAM_ALIBI, CLATTN_ALIBI_PER_ENTRY);
    clattn_args *args;
    ck_assert_int_eq(clattn_args_create(&args), CLATTN_SUCCESS);
    const float slopes[2] = {0.5f, 2.0f};
    clattn_args_set_host(args, CLATTN_ARG_ALIBI_SLOPES, slopes);
    float q[2] = {0, 0}, k[6] = {0}, v[6] = {1, 2, 4, 1, 2, 4}, o[2], lse[2];
    run(p, q, k, v, args, o, lse);
    for (int b = 0; b < 2; b++) {
        const double m = slopes[b], s[3] = {-2 * m, -m, 0};
        double want_lse, want = weighted(s, v, 3, &want_lse);
        ck_assert_double_eq_tol(o[b], want, 1e-6);
        ck_assert_double_eq_tol(lse[b], want_lse, 1e-6);
    }
    /* per head: both entries take slope[0]; the bias is |distance| also without causal, so
     * with top-left (row at 0) the keys get 0, -m, -2m */
    set(p, CLATTN_PARAM_ALIBI, CLATTN_ALIBI_PER_HEAD);
    set(p, CLATTN_PARAM_ALIGN, CLATTN_ALIGN_TOP_LEFT);
    run(p, q, k, v, args, o, lse);
    const double s[3] = {0, -0.5, -1};
    double want_lse, want = weighted(s, v, 3, &want_lse);
    ck_assert_double_eq_tol(o[0], want, 1e-6);
    ck_assert_double_eq_tol(o[1], want, 1e-6);
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(alibi_slopes_follow_ggml)
{
    float s[12];
    ck_assert_int_eq(clattn_alibi_slopes(8, 8.0, s), CLATTN_SUCCESS);
    for (int h = 0; h < 8; h++) /* n = 8, m0 = 2^-1: 1/2, 1/4, ... */
        ck_assert_float_eq_tol(s[h], ldexpf(1.0f, -(h + 1)), 1e-9f);
    ck_assert_int_eq(clattn_alibi_slopes(12, 8.0, s), CLATTN_SUCCESS);
    ck_assert_float_eq_tol(s[7], ldexpf(1.0f, -8), 1e-9f);
    ck_assert_float_eq_tol(s[8], (float)pow(2.0, -0.5), 1e-7f); /* m1 = 2^-0.5, odd powers */
    ck_assert_float_eq_tol(s[9], (float)pow(2.0, -1.5), 1e-7f);
    ck_assert_float_eq_tol(s[11], (float)pow(2.0, -3.5), 1e-7f);
    REFUSED_WITH(clattn_alibi_slopes(8, 0.0, s), CLATTN_ERROR_INVALID_ARGUMENT, "max_bias");
    REFUSED_WITH(clattn_alibi_slopes(0, 8.0, s), CLATTN_ERROR_INVALID_ARGUMENT, "heads");
}
END_TEST

START_TEST(sinks_join_the_denominator)
{
    /* one key of score 0 and a sink z = ln 3: O = v / 4, LSE = ln 4. Row 0 of a causal
     * bottom-right problem with 2 rows and 1 key sees nothing: O = 0 and LSE = z. */
    clattn_problem *p = problem(1, 2, 2, 1);
    set(p, CLATTN_PARAM_SINKS, 1);
    set(p, CLATTN_PARAM_CAUSAL, 1);
    clattn_args *args;
    ck_assert_int_eq(clattn_args_create(&args), CLATTN_SUCCESS);
    const float sinks[2] = {(float)log(3.0), -INFINITY}; /* head 1: no sink at all */
    clattn_args_set_host(args, CLATTN_ARG_SINKS, sinks);
    float q[4] = {0}, k[2] = {0}, v[2] = {8, 8}, o[4], lse[4];
    run(p, q, k, v, args, o, lse);
    /* O is [B, Nq, H, 1]: o[i * 2 + h]; LSE is [B, H, Nq]: lse[h * 2 + i] */
    ck_assert_float_eq(o[0], 0.0f);
    ck_assert_float_eq_tol(lse[0], sinks[0], 1e-6f);
    ck_assert_float_eq_tol(o[2], 2.0f, 1e-6f);
    ck_assert_float_eq_tol(lse[1], (float)log(4.0), 1e-6f);
    ck_assert_float_eq(o[1], 0.0f);
    ck_assert(isinf(lse[2]) && lse[2] < 0);
    ck_assert_float_eq_tol(o[3], 8.0f, 1e-6f);
    ck_assert_float_eq_tol(lse[3], 0.0f, 1e-6f);
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
}
END_TEST

/* q = 0 and V = 2^j: each row's O is the mean of the powers of the keys it sees, which
 * names them. `want[i]` is the bit set of row i's visible keys. */
static void assert_rows_see(const clattn_problem *p, clattn_args *args, int nq, int nk,
                            const unsigned *want)
{
    float q[16] = {0}, k[16] = {0}, v[16], o[16], lse[16];
    for (int j = 0; j < nk; j++)
        v[j] = (float)(1u << j);
    run(p, q, k, v, args, o, lse);
    for (int i = 0; i < nq; i++) {
        const int count = __builtin_popcount(want[i]);
        const float mean = count ? (float)want[i] / (float)count : 0.0f;
        ck_assert_msg(fabsf(o[i] - mean) <= 1e-5f * (1 + mean), "row %d: O %g, want %g", i,
                      o[i], mean);
        ck_assert_msg(count ? fabsf(lse[i] - logf((float)count)) < 1e-6f
                            : isinf(lse[i]) && lse[i] < 0,
                      "row %d: LSE %g with %d keys", i, lse[i], count);
    }
}

START_TEST(sink_tokens_stay_beside_the_window)
{
    /* 6 x 6 top-left, causal, window (1, 0), 2 sink tokens: row i sees {0, 1} and {i-1, i} */
    clattn_problem *p = problem(1, 1, 6, 6);
    set(p, CLATTN_PARAM_ALIGN, CLATTN_ALIGN_TOP_LEFT);
    set(p, CLATTN_PARAM_CAUSAL, 1);
    set(p, CLATTN_PARAM_WINDOW_LEFT, 1);
    set(p, CLATTN_PARAM_SINK_TOKENS, 2);
    clattn_args *args;
    ck_assert_int_eq(clattn_args_create(&args), CLATTN_SUCCESS);
    const unsigned want[6] = {0x1, 0x3, 0x7, 0xf, 0x1b, 0x33};
    assert_rows_see(p, args, 6, 6, want);
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(mask_adds_and_minus_infinity_hides)
{
    /* a 3 x 3 mask: row 0 hides key 2 and adds 1 to key 1; row 1 hides everything; row 2
     * hides key 2. f32 and f16 masks give the same result. Key 2 is NaN, and a pair that
     * -inf hides never reads it. */
    clattn_problem *p = problem(1, 1, 3, 3);
    set(p, CLATTN_PARAM_MASK, CLATTN_MASK_F32);
    clattn_args *args;
    ck_assert_int_eq(clattn_args_create(&args), CLATTN_SUCCESS);
    const float mask[9] = {0, 1, -INFINITY, -INFINITY, -INFINITY, -INFINITY, 0, 0, -INFINITY};
    clattn_args_set_host(args, CLATTN_ARG_MASK, mask);
    float q[3] = {0}, k[3] = {0, 0, NAN}, v[3] = {1, 2, 4}, o[3], lse[3];
    run(p, q, k, v, args, o, lse);
    const double s0[2] = {0, 1};
    double want_lse, want = weighted(s0, v, 2, &want_lse);
    ck_assert_double_eq_tol(o[0], want, 1e-6);
    ck_assert_double_eq_tol(lse[0], want_lse, 1e-6);
    ck_assert_float_eq(o[1], 0.0f);
    ck_assert(isinf(lse[1]) && lse[1] < 0);
    ck_assert_float_eq_tol(o[2], 1.5f, 1e-6f);

    uint16_t half[9];
    ck_assert_int_eq(clattn_from_float(CLATTN_DTYPE_F16, mask, half, 9), CLATTN_SUCCESS);
    set(p, CLATTN_PARAM_MASK, CLATTN_MASK_F16);
    clattn_args_set_host(args, CLATTN_ARG_MASK, half);
    float o16[3], lse16[3];
    run(p, q, k, v, args, o16, lse16);
    ck_assert_mem_eq(o16, o, sizeof o);
    ck_assert_mem_eq(lse16, lse, sizeof lse);
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(mask_broadcasts_and_takes_strides)
{
    /* B = 2, H = 2 with a mask of one batch and two heads, laid out [Hm, Nq, Nk] through
     * strides with a gap: head 0 hides key 0, head 1 hides key 1, in both entries. */
    clattn_problem *p = problem(2, 2, 1, 2);
    set(p, CLATTN_PARAM_MASK, CLATTN_MASK_F32);
    set(p, CLATTN_PARAM_MASK_HEADS, 2);
    ck_assert_int_eq(clattn_problem_set_strides(p, CLATTN_TENSOR_MASK, 0, 2, 3), CLATTN_SUCCESS);
    clattn_args *args;
    ck_assert_int_eq(clattn_args_create(&args), CLATTN_SUCCESS);
    const float mask[5] = {-INFINITY, 0, NAN, 0, -INFINITY};
    clattn_args_set_host(args, CLATTN_ARG_MASK, mask);
    float q[4] = {0}, k[8] = {0}, v[8] = {1, 1, 2, 2, 1, 1, 2, 2}, o[4], lse[4];
    run(p, q, k, v, args, o, lse); /* K/V are [B, Nk, Hkv = 2, 1]: v[(b*2 + j)*2 + h] */
    for (int b = 0; b < 2; b++) {
        ck_assert_float_eq_tol(o[b * 2 + 0], 2.0f, 1e-6f);
        ck_assert_float_eq_tol(o[b * 2 + 1], 1.0f, 1e-6f);
    }
    size_t bytes;
    ck_assert_int_eq(clattn_problem_tensor_bytes(p, CLATTN_TENSOR_MASK, &bytes), CLATTN_SUCCESS);
    ck_assert_uint_eq(bytes, sizeof mask);
    /* Hm must be 1 or H, Bm 1 or B */
    set(p, CLATTN_PARAM_MASK_BATCH, 3);
    REFUSED_WITH(clattn_problem_check(p), CLATTN_ERROR_INVALID_ARGUMENT, "mask_batch");
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(positions_per_call_generalise_the_alignments)
{
    /* causal 2 rows x 4 keys: bottom-right is q_start 2, k_start 0; shifting both starts
     * by the same amount changes nothing; q_start 0 is top-left */
    clattn_problem *p = problem(1, 1, 2, 4);
    set(p, CLATTN_PARAM_CAUSAL, 1);
    set(p, CLATTN_PARAM_POSITIONS, CLATTN_POSITIONS_PER_CALL);
    clattn_args *args;
    ck_assert_int_eq(clattn_args_create(&args), CLATTN_SUCCESS);
    const unsigned bottom_right[2] = {0x7, 0xf}, top_left[2] = {0x1, 0x3};
    ck_assert_int_eq(clattn_args_set_positions(args, 2, 0), CLATTN_SUCCESS);
    assert_rows_see(p, args, 2, 4, bottom_right);
    ck_assert_int_eq(clattn_args_set_positions(args, 1002, 1000), CLATTN_SUCCESS);
    assert_rows_see(p, args, 2, 4, bottom_right);
    ck_assert_int_eq(clattn_args_set_positions(args, 0, 0), CLATTN_SUCCESS);
    assert_rows_see(p, args, 2, 4, top_left);
    /* keys after the rows: a shard entirely in the future sees nothing */
    ck_assert_int_eq(clattn_args_set_positions(args, 10, 20), CLATTN_SUCCESS);
    const unsigned none[2] = {0, 0};
    assert_rows_see(p, args, 2, 4, none);
    /* the last positions must fit in int32 */
    ck_assert_int_eq(clattn_args_set_positions(args, 2147483647, 0), CLATTN_SUCCESS);
    float q[2] = {0}, kv[4] = {0}, o[2];
    clattn_args_set_host(args, CLATTN_ARG_Q, q);
    clattn_args_set_host(args, CLATTN_ARG_K, kv);
    clattn_args_set_host(args, CLATTN_ARG_V, kv);
    REFUSED_WITH(clattn_reference_args(p, args, o, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "pass 2^31 - 1");
    REFUSED_WITH(clattn_args_set_positions(args, -1, 0), CLATTN_ERROR_INVALID_ARGUMENT,
                 "[0, 2^31 - 1]");
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(positions_per_entry_and_bad_starts)
{
    /* entry 0 starts its rows at 0 (sees key 0 only, causal), entry 1 at 3 (sees all 2);
     * ALiBi reads the same positions. Entry 1 then gets a negative start: NaN rows, and
     * entry 0 is untouched. */
    clattn_problem *p = problem(2, 1, 1, 2);
    set(p, CLATTN_PARAM_CAUSAL, 1);
    set(p, CLATTN_PARAM_POSITIONS, CLATTN_POSITIONS_PER_ENTRY);
    clattn_args *args;
    ck_assert_int_eq(clattn_args_create(&args), CLATTN_SUCCESS);
    int32_t q_start[2] = {0, 3}, k_start[2] = {0, 0};
    clattn_args_set_host(args, CLATTN_ARG_Q_START, q_start);
    clattn_args_set_host(args, CLATTN_ARG_K_START, k_start);
    float q[2] = {0}, k[4] = {0}, v[4] = {1, 2, 1, 2}, o[2], lse[2];
    run(p, q, k, v, args, o, lse);
    ck_assert_float_eq_tol(o[0], 1.0f, 1e-6f);
    ck_assert_float_eq_tol(o[1], 1.5f, 1e-6f);
    q_start[1] = -1;
    run(p, q, k, v, args, o, lse);
    ck_assert_float_eq_tol(o[0], 1.0f, 1e-6f);
    ck_assert(isnan(o[1]) && isnan(lse[1]));
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(parameters_and_arguments_are_checked)
{
    clattn_problem *p = problem(1, 1, 1, 1);
    const double bad_caps[] = {-1.0, NAN, INFINITY, 1e39};
    for (size_t i = 0; i < sizeof bad_caps / sizeof bad_caps[0]; i++)
        REFUSED_WITH(clattn_problem_set_softcap(p, bad_caps[i]), CLATTN_ERROR_INVALID_ARGUMENT,
                     "softcap");
    double cap = -1;
    ck_assert_int_eq(clattn_problem_get_softcap(p, &cap), CLATTN_SUCCESS);
    ck_assert_double_eq(cap, 0.0); /* unchanged: still off */
    float q[1] = {0}, k[1] = {0}, v[1] = {0}, o[1];
    /* a tensor the problem asks for, and one it does not */
    set(p, CLATTN_PARAM_SINKS, 1);
    REFUSED_WITH(clattn_reference(p, q, k, v, o, NULL), CLATTN_ERROR_INVALID_ARGUMENT, "sinks");
    clattn_args *args;
    ck_assert_int_eq(clattn_args_create(&args), CLATTN_SUCCESS);
    clattn_args_set_host(args, CLATTN_ARG_Q, q);
    clattn_args_set_host(args, CLATTN_ARG_K, k);
    clattn_args_set_host(args, CLATTN_ARG_V, v);
    REFUSED_WITH(clattn_reference_args(p, args, o, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "asks for sinks");
    set(p, CLATTN_PARAM_SINKS, 0);
    clattn_args_set_host(args, CLATTN_ARG_MASK, q);
    REFUSED_WITH(clattn_reference_args(p, args, o, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "mask is given");
    clattn_args_set_host(args, CLATTN_ARG_MASK, NULL);
    ck_assert_int_eq(clattn_args_set_positions(args, 0, 0), CLATTN_SUCCESS);
    REFUSED_WITH(clattn_reference_args(p, args, o, NULL), CLATTN_ERROR_INVALID_ARGUMENT,
                 "positions are given");
    REFUSED_WITH(clattn_args_set_host(args, (clattn_arg)99, q), CLATTN_ERROR_INVALID_ARGUMENT,
                 "unknown argument");
    /* out-of-range enum values are refused by the setter */
    REFUSED_WITH(clattn_problem_set(p, CLATTN_PARAM_MASK, 3), CLATTN_ERROR_INVALID_ARGUMENT,
                 "mask");
    REFUSED_WITH(clattn_problem_set(p, CLATTN_PARAM_POSITIONS, -1),
                 CLATTN_ERROR_INVALID_ARGUMENT, "positions");
    /* pairs are not counted where positions come per call */
    set(p, CLATTN_PARAM_POSITIONS, CLATTN_POSITIONS_PER_CALL);
    uint64_t pairs;
    REFUSED_WITH(clattn_problem_visible_pairs(p, &pairs), CLATTN_ERROR_UNSUPPORTED, "positions");
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("extensions");
    TCase *tc = tcase_create("reference");
    tcase_add_test(tc, softcap_bends_the_scaled_score);
    tcase_add_test(tc, alibi_subtracts_slope_times_distance);
    tcase_add_test(tc, alibi_slopes_follow_ggml);
    tcase_add_test(tc, sinks_join_the_denominator);
    tcase_add_test(tc, sink_tokens_stay_beside_the_window);
    tcase_add_test(tc, mask_adds_and_minus_infinity_hides);
    tcase_add_test(tc, mask_broadcasts_and_takes_strides);
    tcase_add_test(tc, positions_per_call_generalise_the_alignments);
    tcase_add_test(tc, positions_per_entry_and_bad_starts);
    tcase_add_test(tc, parameters_and_arguments_are_checked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 0);
}
