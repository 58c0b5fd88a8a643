/* The CPU reference against cases worked out by hand, so that it is not only checked against
 * itself; and the host storage conversions and comparison it relies on. Needs no device. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"

static clattn_problem *tiny(int heads, int kv_heads, int nq, int nk, int d)
{
    attn_case c = case_default();
    c.heads = heads;
    c.kv_heads = kv_heads;
    c.seq_q = nq;
    c.seq_kv = nk;
    c.head_dim = d;
    return case_problem(&c, CLATTN_ALGO_AUTO);
}

static void set(clattn_problem *p, clattn_param param, int64_t v)
{
    ck_assert_int_eq(clattn_problem_set(p, param, v), CLATTN_SUCCESS);
}

START_TEST(two_keys_by_hand)
{
    /* d = 1, scale 1: scores 0 and ln 3, so p = (1/4, 3/4); V = (2, 6) gives O = 5 */
    clattn_problem *p = tiny(1, 1, 1, 2, 1);
    float q[1] = {1}, k[2] = {0, (float)log(3.0)}, v[2] = {2, 6}, o[1], lse[1];
    ck_assert_int_eq(clattn_reference(p, q, k, v, o, lse), CLATTN_SUCCESS);
    ck_assert_float_eq_tol(o[0], 5.0f, 1e-6f);
    ck_assert_float_eq_tol(lse[0], (float)log(4.0), 1e-6f);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(default_scale_is_inverse_sqrt_d)
{
    /* d = 4, q = k = (1, 1, 1, 1): score = 4 / sqrt(4) = 2 for the one key */
    clattn_problem *p = tiny(1, 1, 1, 1, 4);
    float q[4] = {1, 1, 1, 1}, k[4] = {1, 1, 1, 1}, v[4] = {1, 2, 3, 4}, o[4], lse[1];
    double scale;
    ck_assert_int_eq(clattn_problem_get_scale(p, &scale), CLATTN_SUCCESS);
    ck_assert_double_eq_tol(scale, 0.5, 1e-15);
    ck_assert_int_eq(clattn_reference(p, q, k, v, o, lse), CLATTN_SUCCESS);
    ck_assert_float_eq_tol(lse[0], 2.0f, 1e-6f);
    for (int c = 0; c < 4; c++)
        ck_assert_float_eq_tol(o[c], (float)(c + 1), 1e-6f);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(scale_zero_is_a_scale)
{
    /* a case's scale 0 reaches the problem (it is not "the default"), and makes every score 0
     * however large Q.K: O is the mean of V, LSE ln(keys) */
    attn_case c = case_default();
    c.seq_kv = 3;
    c.head_dim = 2;
    c.scale = 0.0;
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_AUTO);
    double scale = -1;
    ck_assert_int_eq(clattn_problem_get_scale(p, &scale), CLATTN_SUCCESS);
    ck_assert(scale == 0.0);
    float q[2] = {100, -50}, k[6] = {30, 1, -20, 7, 0, 90}, v[6] = {1, 2, 4, 8, 16, 32};
    float o[2], lse[1];
    ck_assert_int_eq(clattn_reference(p, q, k, v, o, lse), CLATTN_SUCCESS);
    ck_assert_float_eq_tol(o[0], 7.0f, 1e-6f);
    ck_assert_float_eq_tol(o[1], 14.0f, 1e-6f);
    ck_assert_float_eq_tol(lse[0], (float)log(3.0), 1e-6f);
    clattn_problem_destroy(p);
}
END_TEST

/* With q = 0 every visible score is 0, so O is the mean of the visible V rows and LSE is
 * ln(count): the visibility rule can be read straight off the output. */
static void uniform_rows(clattn_problem *p, int nq, int nk, const int *first, const int *last)
{
    float q[16] = {0}, k[16], v[16], o[16], lse[16];
    for (int j = 0; j < nk; j++) {
        k[j] = (float)j;
        v[j] = (float)(1 << j); /* distinct powers of two: the mean names the keys */
    }
    ck_assert_int_eq(clattn_reference(p, q, k, v, o, lse), CLATTN_SUCCESS);
    for (int i = 0; i < nq; i++) {
        if (first[i] > last[i]) {
            ck_assert_msg(o[i] == 0.0f && isinf(lse[i]) && lse[i] < 0,
                          "row %d sees no key: O = %g, LSE = %g", i, (double)o[i], (double)lse[i]);
            continue;
        }
        double sum = 0;
        for (int j = first[i]; j <= last[i]; j++)
            sum += (double)(1 << j);
        int count = last[i] - first[i] + 1;
        ck_assert_msg(fabs(o[i] - sum / count) < 1e-5, "row %d: O = %g, want keys %d..%d (%g)", i,
                      (double)o[i], first[i], last[i], sum / count);
        ck_assert_float_eq_tol(lse[i], (float)log((double)count), 1e-6f);
    }
}

START_TEST(causal_bottom_right_aligns_last_rows)
{
    /* Nq 2, Nk 3: offset 1, row 0 sees keys 0..1, row 1 sees 0..2 */
    clattn_problem *p = tiny(1, 1, 2, 3, 1);
    set(p, CLATTN_PARAM_CAUSAL, 1);
    const int first[] = {0, 0}, last[] = {1, 2};
    uniform_rows(p, 2, 3, first, last);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(causal_top_left_aligns_first_rows)
{
    /* Nq 3, Nk 2: offset 0, row i sees keys 0..min(i, 1) */
    clattn_problem *p = tiny(1, 1, 3, 2, 1);
    set(p, CLATTN_PARAM_CAUSAL, 1);
    set(p, CLATTN_PARAM_ALIGN, CLATTN_ALIGN_TOP_LEFT);
    const int first[] = {0, 0, 0}, last[] = {0, 1, 1};
    uniform_rows(p, 3, 2, first, last);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(causal_rows_before_the_keys_are_empty)
{
    /* Nq 3, Nk 2 bottom-right: offset -1, row 0 sees nothing: zeros and LSE -inf */
    clattn_problem *p = tiny(1, 1, 3, 2, 1);
    set(p, CLATTN_PARAM_CAUSAL, 1);
    const int first[] = {0, 0, 0}, last[] = {-1, 0, 1};
    uniform_rows(p, 3, 2, first, last);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(windows_are_inclusive)
{
    clattn_problem *p = tiny(1, 1, 5, 5, 1);
    set(p, CLATTN_PARAM_WINDOW_LEFT, 1);
    set(p, CLATTN_PARAM_WINDOW_RIGHT, 0); /* sliding causal, 2 keys */
    const int first[] = {0, 0, 1, 2, 3}, last[] = {0, 1, 2, 3, 4};
    uniform_rows(p, 5, 5, first, last);
    set(p, CLATTN_PARAM_WINDOW_LEFT, 0);
    set(p, CLATTN_PARAM_WINDOW_RIGHT, 2); /* looking ahead: i..i+2 */
    const int first2[] = {0, 1, 2, 3, 4}, last2[] = {2, 3, 4, 4, 4};
    uniform_rows(p, 5, 5, first2, last2);
    set(p, CLATTN_PARAM_CAUSAL, 1); /* causal and window: both apply, so i..i */
    const int last3[] = {0, 1, 2, 3, 4};
    uniform_rows(p, 5, 5, first2, last3);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(window_past_the_keys_is_empty)
{
    /* top-left, Nq 4 > Nk 2, window (0, 0): row i sees key i, which rows 2 and 3 lack */
    clattn_problem *p = tiny(1, 1, 4, 2, 1);
    set(p, CLATTN_PARAM_ALIGN, CLATTN_ALIGN_TOP_LEFT);
    set(p, CLATTN_PARAM_WINDOW_LEFT, 0);
    set(p, CLATTN_PARAM_WINDOW_RIGHT, 0);
    const int first[] = {0, 1, 2, 3}, last[] = {0, 1, 1, 2};
    uniform_rows(p, 4, 2, first, last);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(query_heads_share_kv_heads)
{
    /* H 4, Hkv 2: heads 0,1 read kv head 0 and heads 2,3 read kv head 1. One key each, so
     * O is that kv head's V row. Layout [B=1, N=1, H, d=1]. */
    clattn_problem *p = tiny(4, 2, 1, 1, 1);
    float q[4] = {1, 1, 1, 1}, k[2] = {0, 0}, v[2] = {10, 20}, o[4], lse[4];
    ck_assert_int_eq(clattn_reference(p, q, k, v, o, lse), CLATTN_SUCCESS);
    ck_assert_float_eq(o[0], 10.0f);
    ck_assert_float_eq(o[1], 10.0f);
    ck_assert_float_eq(o[2], 20.0f);
    ck_assert_float_eq(o[3], 20.0f);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(large_logits_do_not_overflow)
{
    /* scores 1e4 and 1e4 - ln 3: exp(1e4) overflows any float, the max-shifted form not */
    clattn_problem *p = tiny(1, 1, 1, 2, 1);
    ck_assert_int_eq(clattn_problem_set_scale(p, 1.0), CLATTN_SUCCESS);
    float q[1] = {100}, k[2] = {100, 100 - (float)(log(3.0) / 100)}, v[2] = {4, 8}, o[1], lse[1];
    ck_assert_int_eq(clattn_reference(p, q, k, v, o, lse), CLATTN_SUCCESS);
    double s1 = 100.0 * (double)k[1]; /* the score actually stored, after rounding k */
    double w0 = 1 / (1 + exp(s1 - 1e4));
    ck_assert_double_eq_tol(o[0], 4 * w0 + 8 * (1 - w0), 1e-5);
    ck_assert_double_eq_tol(lse[0], 1e4 + log(1 + exp(s1 - 1e4)), 1e-3); /* f32 at 1e4 */
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(strides_give_the_same_answer)
{
    /* the same numbers laid out [B, N, H, d] and [B, H, N, d] */
    enum { B = 2, N = 3, H = 2, D = 2 };
    attn_case c = case_default();
    c.batch = B;
    c.heads = c.kv_heads = H;
    c.seq_q = c.seq_kv = N;
    c.head_dim = D;
    clattn_problem *bnhd = case_problem(&c, CLATTN_ALGO_AUTO);
    c.layout = LAYOUT_BHND;
    clattn_problem *bhnd = case_problem(&c, CLATTN_ALGO_AUTO);
    float x[B * N * H * D], y[B * N * H * D], o1[B * N * H * D], o2[B * N * H * D];
    for (int i = 0; i < B * N * H * D; i++)
        x[i] = (float)((i * 7) % 11) / 5.0f - 1.0f;
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++)
            for (int h = 0; h < H; h++)
                for (int d = 0; d < D; d++)
                    y[((b * H + h) * N + n) * D + d] = x[((b * N + n) * H + h) * D + d];
    ck_assert_int_eq(clattn_reference(bnhd, x, x, x, o1, NULL), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_reference(bhnd, y, y, y, o2, NULL), CLATTN_SUCCESS);
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++)
            for (int h = 0; h < H; h++)
                for (int d = 0; d < D; d++)
                    ck_assert_float_eq(o1[((b * N + n) * H + h) * D + d],
                                       o2[((b * H + h) * N + n) * D + d]);
    clattn_problem_destroy(bnhd);
    clattn_problem_destroy(bhnd);
}
END_TEST

static uint16_t to_half(float f)
{
    uint16_t h;
    ck_assert_int_eq(clattn_from_float(CLATTN_DTYPE_F16, &f, &h, 1), CLATTN_SUCCESS);
    return h;
}

static uint16_t to_bf16(float f)
{
    uint16_t h;
    ck_assert_int_eq(clattn_from_float(CLATTN_DTYPE_BF16, &f, &h, 1), CLATTN_SUCCESS);
    return h;
}

START_TEST(f16_rounds_to_nearest_even)
{
    ck_assert_uint_eq(to_half(1.0f), 0x3c00);
    ck_assert_uint_eq(to_half(-0.0f), 0x8000);
    ck_assert_uint_eq(to_half(65504.0f), 0x7bff);
    ck_assert_uint_eq(to_half(65519.0f), 0x7bff);
    ck_assert_uint_eq(to_half(65520.0f), 0x7c00); /* the tie rounds up to infinity */
    ck_assert_uint_eq(to_half(ldexpf(1, -24)), 0x0001); /* smallest subnormal */
    ck_assert_uint_eq(to_half(ldexpf(1, -25)), 0x0000); /* tie to even: zero */
    ck_assert_uint_eq(to_half(3 * ldexpf(1, -25)), 0x0002); /* 1.5 ulps: tie to even */
    ck_assert_uint_eq(to_half(1 + ldexpf(1, -11)), 0x3c00); /* tie, even mantissa stays */
    ck_assert_uint_eq(to_half(1 + 3 * ldexpf(1, -11)), 0x3c02); /* tie, odd rounds up */
    ck_assert_uint_eq(to_half(INFINITY), 0x7c00);
    ck_assert_uint_eq(to_half(NAN) & 0x7c00, 0x7c00);
    ck_assert_uint_ne(to_half(NAN) & 0x03ff, 0);
    uint16_t all[] = {0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0x8001, 0xfbff};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        float f;
        clattn_to_float(CLATTN_DTYPE_F16, &all[i], &f, 1);
        ck_assert_uint_eq(to_half(f), all[i]); /* every half survives the round trip */
    }
}
END_TEST

START_TEST(bf16_rounds_to_nearest_even)
{
    ck_assert_uint_eq(to_bf16(1.0f), 0x3f80);
    ck_assert_uint_eq(to_bf16(1 + ldexpf(1, -8)), 0x3f80);     /* tie, even stays */
    ck_assert_uint_eq(to_bf16(1 + 3 * ldexpf(1, -8)), 0x3f82); /* tie, odd rounds up */
    ck_assert_uint_eq(to_bf16(-2.0f), 0xc000);
    ck_assert_uint_eq(to_bf16(INFINITY), 0x7f80);
    float back;
    uint16_t nan = to_bf16(NAN);
    clattn_to_float(CLATTN_DTYPE_BF16, &nan, &back, 1);
    ck_assert(isnan(back));
}
END_TEST

START_TEST(compare_applies_the_tolerances)
{
    clattn_problem *p = tiny(1, 1, 1, 1, 2);
    float ref[2] = {1.0f, -1.0f}, lse_ref[1] = {0.5f};
    float good[2] = {1.0f + 3e-5f, -1.0f}, bad[2] = {1.0f + 5e-5f, -1.0f}; /* tol 2e-5 * 2 */
    float lse_good[1] = {0.5f + 9e-5f}, lse_bad[1] = {0.5f + 2e-4f};
    double err, lerr;
    int passed;
    clattn_compare(p, good, ref, lse_good, lse_ref, &err, &lerr, &passed);
    ck_assert_int_eq(passed, 1);
    clattn_compare(p, bad, ref, lse_good, lse_ref, &err, &lerr, &passed);
    ck_assert_int_eq(passed, 0);
    clattn_compare(p, good, ref, lse_bad, lse_ref, &err, &lerr, &passed);
    ck_assert_int_eq(passed, 0);
    float nan_out[2] = {NAN, -1.0f}, nan_ref[2] = {NAN, -1.0f};
    clattn_compare(p, nan_out, ref, NULL, NULL, &err, NULL, &passed);
    ck_assert_int_eq(passed, 0); /* NaN where a number is expected */
    clattn_compare(p, nan_out, nan_ref, NULL, NULL, &err, NULL, &passed);
    ck_assert_int_eq(passed, 1); /* NaN where NaN is expected */
    float minf[1] = {-INFINITY};
    clattn_compare(p, good, ref, minf, minf, &err, &lerr, &passed);
    ck_assert_int_eq(passed, 1);
    clattn_compare(p, good, ref, lse_ref, minf, &err, &lerr, &passed);
    ck_assert_int_eq(passed, 0);
    clattn_problem_destroy(p);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("reference");
    TCase *tc = tcase_create("by-hand");
    tcase_add_test(tc, two_keys_by_hand);
    tcase_add_test(tc, default_scale_is_inverse_sqrt_d);
    tcase_add_test(tc, scale_zero_is_a_scale);
    tcase_add_test(tc, causal_bottom_right_aligns_last_rows);
    tcase_add_test(tc, causal_top_left_aligns_first_rows);
    tcase_add_test(tc, causal_rows_before_the_keys_are_empty);
    tcase_add_test(tc, windows_are_inclusive);
    tcase_add_test(tc, window_past_the_keys_is_empty);
    tcase_add_test(tc, query_heads_share_kv_heads);
    tcase_add_test(tc, large_logits_do_not_overflow);
    tcase_add_test(tc, strides_give_the_same_answer);
    suite_add_tcase(s, tc);
    tc = tcase_create("host");
    tcase_add_test(tc, f16_rounds_to_nearest_even);
    tcase_add_test(tc, bf16_rounds_to_nearest_even);
    tcase_add_test(tc, compare_applies_the_tolerances);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 0);
}
