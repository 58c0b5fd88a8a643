/* The problem descriptor, statuses, messages and version: host-only API. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

START_TEST(defaults)
{
    clattn_problem *p;
    ck_assert_int_eq(clattn_problem_create(&p), CLATTN_SUCCESS);
    int64_t v;
    const struct { clattn_param param; int64_t value; } expected[] = {
        {CLATTN_PARAM_BATCH, 1}, {CLATTN_PARAM_HEADS, 1}, {CLATTN_PARAM_KV_HEADS, 0},
        {CLATTN_PARAM_SEQ_Q, 1}, {CLATTN_PARAM_SEQ_KV, 1}, {CLATTN_PARAM_HEAD_DIM, 64},
        {CLATTN_PARAM_CAUSAL, 0}, {CLATTN_PARAM_ALIGN, CLATTN_ALIGN_BOTTOM_RIGHT},
        {CLATTN_PARAM_WINDOW_LEFT, -1}, {CLATTN_PARAM_WINDOW_RIGHT, -1},
        {CLATTN_PARAM_DTYPE, CLATTN_DTYPE_F32}, {CLATTN_PARAM_ALGORITHM, CLATTN_ALGO_AUTO}};
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) {
        ck_assert_int_eq(clattn_problem_get(p, expected[i].param, &v), CLATTN_SUCCESS);
        ck_assert_int_eq(v, expected[i].value);
    }
    ck_assert_int_eq(clattn_problem_check(p), CLATTN_SUCCESS);
    clattn_problem_destroy(p);
    clattn_problem_destroy(NULL);
}
END_TEST

START_TEST(out_of_range_changes_nothing)
{
    clattn_problem *p;
    clattn_problem_create(&p);
    for (int param = CLATTN_PARAM_BATCH; param <= CLATTN_PARAM_ALGORITHM; param++) {
        int64_t lo, hi, before, after;
        ck_assert_int_eq(clattn_param_bounds((clattn_param)param, &lo, &hi), CLATTN_SUCCESS);
        ck_assert_int_le(lo, hi);
        clattn_problem_get(p, (clattn_param)param, &before);
        ck_assert_int_eq(clattn_problem_set(p, (clattn_param)param, lo - 1),
                         CLATTN_ERROR_INVALID_ARGUMENT);
        ck_assert_ptr_nonnull(strstr(clattn_message(NULL), "out of range"));
        ck_assert_int_eq(clattn_problem_set(p, (clattn_param)param, hi + 1),
                         CLATTN_ERROR_INVALID_ARGUMENT);
        clattn_problem_get(p, (clattn_param)param, &after);
        ck_assert_int_eq(before, after);
        ck_assert_int_eq(clattn_problem_set(p, (clattn_param)param, hi), CLATTN_SUCCESS);
        ck_assert_int_eq(clattn_problem_set(p, (clattn_param)param, before), CLATTN_SUCCESS);
    }
    ck_assert_int_eq(clattn_problem_set(p, (clattn_param)999, 1), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(clattn_problem_set(NULL, CLATTN_PARAM_BATCH, 1), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(clattn_param_bounds((clattn_param)0, NULL, NULL), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(clattn_problem_set(p, CLATTN_PARAM_HEAD_DIM, 577), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, -5), CLATTN_ERROR_INVALID_ARGUMENT);
    /* not finite: refused, and the scale (here the default, 1/sqrt(64)) is unchanged */
    double scale;
    ck_assert_int_eq(clattn_problem_set_scale(p, NAN), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(clattn_problem_set_scale(p, INFINITY), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(clattn_problem_set_scale(p, -INFINITY), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(clattn_problem_get_scale(p, &scale), CLATTN_SUCCESS);
    ck_assert(scale == 0.125);
    /* 0 is a scale like any other (uniform weights over the visible keys) */
    ck_assert_int_eq(clattn_problem_set_scale(p, 0.0), CLATTN_SUCCESS);
    clattn_problem_get_scale(p, &scale);
    ck_assert(scale == 0.0);
    ck_assert_int_eq(clattn_problem_set_scale(p, NAN), CLATTN_ERROR_INVALID_ARGUMENT);
    clattn_problem_get_scale(p, &scale);
    ck_assert(scale == 0.0);
    /* finite as a double, but not once the kernels take scale * log2(e) in f32 */
    ck_assert_int_eq(clattn_problem_set_scale(p, 0.5), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_problem_set_scale(p, 1e300), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clattn_message(NULL), "scale = 1e+300"));
    ck_assert_int_eq(clattn_problem_set_scale(p, -FLT_MAX), CLATTN_ERROR_INVALID_ARGUMENT);
    clattn_problem_get_scale(p, &scale);
    ck_assert(scale == 0.5);
    ck_assert_int_eq(clattn_problem_set_scale(p, -1e30), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_problem_set_scale(p, FLT_MAX / 1.4427), CLATTN_SUCCESS);
    clattn_problem_destroy(p);
}
END_TEST

/* Every parameter number the library knows is a whole parameter with a name, and a number
 * it does not (a gap in the numbering kept for a later parameter, or past the last) is
 * refused alike by bounds, get and set. */
START_TEST(parameter_numbers_are_known_or_refused)
{
    clattn_problem *p;
    clattn_problem_create(&p);
    for (int param = 0; param < 64; param++) {
        int64_t lo, hi, v;
        const clattn_status bounds = clattn_param_bounds((clattn_param)param, &lo, &hi);
        const clattn_status get = clattn_problem_get(p, (clattn_param)param, &v);
        if (bounds != CLATTN_SUCCESS) {
            ck_assert_int_eq(bounds, CLATTN_ERROR_INVALID_ARGUMENT);
            ck_assert_int_eq(get, CLATTN_ERROR_INVALID_ARGUMENT);
            ck_assert_int_eq(clattn_problem_set(p, (clattn_param)param, 0),
                             CLATTN_ERROR_INVALID_ARGUMENT);
            ck_assert_ptr_nonnull(strstr(clattn_message(NULL), "unknown parameter"));
            continue;
        }
        ck_assert_int_eq(get, CLATTN_SUCCESS);
        ck_assert_int_eq(clattn_problem_set(p, (clattn_param)param, hi + 1),
                         CLATTN_ERROR_INVALID_ARGUMENT);
        ck_assert_msg(!strstr(clattn_message(NULL), "(null)"), "parameter %d: %s", param,
                      clattn_message(NULL));
    }
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(heads_must_divide)
{
    clattn_problem *p;
    clattn_problem_create(&p);
    clattn_problem_set(p, CLATTN_PARAM_HEADS, 8);
    clattn_problem_set(p, CLATTN_PARAM_KV_HEADS, 3);
    ck_assert_int_eq(clattn_problem_check(p), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clattn_message(NULL), "kv_heads"));
    clattn_problem_set(p, CLATTN_PARAM_KV_HEADS, 16);
    ck_assert_int_eq(clattn_problem_check(p), CLATTN_ERROR_INVALID_ARGUMENT);
    clattn_problem_set(p, CLATTN_PARAM_KV_HEADS, 2);
    ck_assert_int_eq(clattn_problem_check(p), CLATTN_SUCCESS);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(strides)
{
    clattn_problem *p;
    clattn_problem_create(&p);
    clattn_problem_set(p, CLATTN_PARAM_BATCH, 2);
    clattn_problem_set(p, CLATTN_PARAM_HEADS, 4);
    clattn_problem_set(p, CLATTN_PARAM_KV_HEADS, 2);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, 5);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_KV, 7);
    clattn_problem_set(p, CLATTN_PARAM_HEAD_DIM, 3);
    int64_t b, s, h;
    clattn_problem_get_strides(p, CLATTN_TENSOR_K, &b, &s, &h);
    ck_assert_int_eq(b, 7 * 2 * 3); /* default [B, N, Hkv, d] */
    ck_assert_int_eq(s, 2 * 3);
    ck_assert_int_eq(h, 3);
    size_t bytes;
    clattn_problem_tensor_bytes(p, CLATTN_TENSOR_Q, &bytes);
    ck_assert_uint_eq(bytes, 2 * 5 * 4 * 3 * 4);
    clattn_problem_set(p, CLATTN_PARAM_DTYPE, CLATTN_DTYPE_F16);
    clattn_problem_tensor_bytes(p, CLATTN_TENSOR_K, &bytes);
    ck_assert_uint_eq(bytes, 2 * 7 * 2 * 3 * 2);

    ck_assert_int_eq(clattn_problem_set_strides(p, CLATTN_TENSOR_Q, -1, 12, 3),
                     CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(clattn_problem_set_strides(p, (clattn_tensor)7, 1, 1, 1),
                     CLATTN_ERROR_INVALID_ARGUMENT);
    /* PyTorch's [B, H, N, d] for Q */
    ck_assert_int_eq(clattn_problem_set_strides(p, CLATTN_TENSOR_Q, 60, 3, 15), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_problem_check(p), CLATTN_SUCCESS);
    /* K shared by both batches (stride 0) is a valid input */
    ck_assert_int_eq(clattn_problem_set_strides(p, CLATTN_TENSOR_K, 0, 6, 3), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_problem_check(p), CLATTN_SUCCESS);
    /* but an output whose rows overlap is not: heads 2 elements apart with d = 3 */
    ck_assert_int_eq(clattn_problem_set_strides(p, CLATTN_TENSOR_O, 60, 12, 2), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_problem_check(p), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clattn_message(NULL), "overlap"));
    ck_assert_int_eq(clattn_problem_set_strides(p, CLATTN_TENSOR_O, 0, 12, 3), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_problem_check(p), CLATTN_ERROR_INVALID_ARGUMENT); /* batches collide */
    ck_assert_int_eq(clattn_problem_set_strides(p, CLATTN_TENSOR_O, 0, 0, 0), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_problem_check(p), CLATTN_SUCCESS); /* back to the default */
    clattn_problem_get_strides(p, CLATTN_TENSOR_O, &b, &s, &h);
    ck_assert_int_eq(b, 5 * 4 * 3);
    /* 65536 f16 rows 2^47 elements apart: the tensor spans under 2^64 bytes, but the rows'
     * stride times their count is 2^63, past INT64_MAX (the overlap check once overflowed
     * there; a fuzzer found it, and UBSan sees it) */
    clattn_problem_set(p, CLATTN_PARAM_BATCH, 1);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, 65536);
    ck_assert_int_eq(clattn_problem_set_strides(p, CLATTN_TENSOR_O, 0, (int64_t)1 << 47, 3),
                     CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_problem_check(p), CLATTN_SUCCESS);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(visible_pairs)
{
    clattn_problem *p;
    clattn_problem_create(&p);
    clattn_problem_set(p, CLATTN_PARAM_BATCH, 2);
    clattn_problem_set(p, CLATTN_PARAM_HEADS, 3);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, 10);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_KV, 10);
    uint64_t pairs;
    clattn_problem_visible_pairs(p, &pairs);
    ck_assert_uint_eq(pairs, 6 * 100);
    clattn_problem_set(p, CLATTN_PARAM_CAUSAL, 1);
    clattn_problem_visible_pairs(p, &pairs);
    ck_assert_uint_eq(pairs, 6 * 55);
    clattn_problem_set(p, CLATTN_PARAM_WINDOW_LEFT, 2); /* 1, 2, then 3 keys per row */
    clattn_problem_visible_pairs(p, &pairs);
    ck_assert_uint_eq(pairs, 6 * (1 + 2 + 8 * 3));
    clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, 14); /* 4 rows before the keys: none */
    clattn_problem_visible_pairs(p, &pairs);
    ck_assert_uint_eq(pairs, 6 * (1 + 2 + 8 * 3));
    clattn_problem_destroy(p);
}
END_TEST

/* The closed-form count against the definition, pair by pair, over every mask on small
 * shapes; and a causal problem of 2^31 - 1 rows, n (n + 1) / 2 pairs, counted at once. */
START_TEST(visible_pairs_match_the_definition)
{
    static const int lefts[] = {-1, 0, 1, 3, 20}, rights[] = {-1, 0, 2, 20};
    static const int sinks[] = {0, 1, 3, 7, 20}; /* sink tokens */
    clattn_problem *p;
    clattn_problem_create(&p);
    for (int sk = 0; sk < 5; sk++)
        for (int nq = 1; nq <= 12; nq++)
            for (int nk = 1; nk <= 12; nk++)
                for (int wl = 0; wl < 5; wl++)
                    for (int wr = 0; wr < 4; wr++)
                        for (int causal = 0; causal <= 1; causal++)
                            for (int align = 0; align <= 1; align++) {
                                const clattn_align al =
                                    align ? CLATTN_ALIGN_TOP_LEFT : CLATTN_ALIGN_BOTTOM_RIGHT;
                                clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, nq);
                                clattn_problem_set(p, CLATTN_PARAM_SEQ_KV, nk);
                                clattn_problem_set(p, CLATTN_PARAM_WINDOW_LEFT, lefts[wl]);
                                clattn_problem_set(p, CLATTN_PARAM_WINDOW_RIGHT, rights[wr]);
                                clattn_problem_set(p, CLATTN_PARAM_CAUSAL, causal);
                                clattn_problem_set(p, CLATTN_PARAM_ALIGN, al);
                                clattn_problem_set(p, CLATTN_PARAM_SINK_TOKENS, sinks[sk]);
                                const int off = al == CLATTN_ALIGN_TOP_LEFT ? 0 : nk - nq;
                                uint64_t want = 0, pairs = 0;
                                for (int i = 0; i < nq; i++)
                                    for (int j = 0; j < nk; j++) {
                                        const int pos = i + off;
                                        want += (!causal || j <= pos) &&
                                                (j < sinks[sk] ||
                                                 ((lefts[wl] < 0 || j >= pos - lefts[wl]) &&
                                                  (rights[wr] < 0 || j <= pos + rights[wr])));
                                    }
                                clattn_problem_visible_pairs(p, &pairs);
                                ck_assert_msg(pairs == want,
                                              "Nq %d Nk %d window (%d, %d) causal %d align %d "
                                              "sink tokens %d: %llu, not %llu",
                                              nq, nk, lefts[wl], rights[wr], causal, (int)al,
                                              sinks[sk],
                                              (unsigned long long)pairs, (unsigned long long)want);
                            }
    const uint64_t n = 2147483647;
    clattn_problem_set(p, CLATTN_PARAM_SINK_TOKENS, 0);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, (int64_t)n);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_KV, (int64_t)n);
    clattn_problem_set(p, CLATTN_PARAM_WINDOW_LEFT, -1);
    clattn_problem_set(p, CLATTN_PARAM_WINDOW_RIGHT, -1);
    clattn_problem_set(p, CLATTN_PARAM_CAUSAL, 1);
    uint64_t pairs;
    clattn_problem_visible_pairs(p, &pairs);
    ck_assert_uint_eq(pairs, n * (n + 1) / 2);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(clone_is_independent)
{
    clattn_problem *p, *q;
    clattn_problem_create(&p);
    clattn_problem_set(p, CLATTN_PARAM_HEADS, 4);
    ck_assert_int_eq(clattn_problem_clone(p, &q), CLATTN_SUCCESS);
    clattn_problem_set(p, CLATTN_PARAM_HEADS, 8);
    int64_t v;
    clattn_problem_get(q, CLATTN_PARAM_HEADS, &v);
    ck_assert_int_eq(v, 4);
    clattn_problem_destroy(p);
    clattn_problem_destroy(q);
}
END_TEST

START_TEST(version_agrees)
{
    ck_assert_uint_eq(clattn_version_number(), CLATTN_VERSION_NUMBER);
    ck_assert_str_eq(clattn_version_string(), CLATTN_VERSION_STRING);
    char text[32];
    snprintf(text, sizeof text, "%d.%d.%d", CLATTN_VERSION_MAJOR, CLATTN_VERSION_MINOR,
             CLATTN_VERSION_PATCH);
    ck_assert_str_eq(text, CLATTN_VERSION_STRING);
}
END_TEST

START_TEST(status_strings)
{
    for (int s = CLATTN_ERROR_OPENCL; s <= CLATTN_SUCCESS; s++) {
        const char *text = clattn_status_string((clattn_status)s);
        ck_assert_ptr_nonnull(text);
        ck_assert_str_ne(text, "unknown status");
    }
    ck_assert_str_eq(clattn_status_string((clattn_status)-100), "unknown status");
}
END_TEST

START_TEST(dtype_sizes)
{
    ck_assert_uint_eq(clattn_dtype_size(CLATTN_DTYPE_F32), 4);
    ck_assert_uint_eq(clattn_dtype_size(CLATTN_DTYPE_F16), 2);
    ck_assert_uint_eq(clattn_dtype_size(CLATTN_DTYPE_BF16), 2);
    ck_assert_uint_eq(clattn_dtype_size((clattn_dtype)9), 0); /* no dtype, no size */
    ck_assert_uint_eq(clattn_dtype_size((clattn_dtype)-1), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("problem");
    TCase *tc = tcase_create("problem");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, out_of_range_changes_nothing);
    tcase_add_test(tc, parameter_numbers_are_known_or_refused);
    tcase_add_test(tc, heads_must_divide);
    tcase_add_test(tc, strides);
    tcase_add_test(tc, visible_pairs);
    tcase_add_test(tc, visible_pairs_match_the_definition);
    tcase_add_test(tc, clone_is_independent);
    tcase_add_test(tc, version_agrees);
    tcase_add_test(tc, status_strings);
    tcase_add_test(tc, dtype_sizes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 0);
}
