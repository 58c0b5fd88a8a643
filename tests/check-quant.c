/* The KV cache types of docs/semantics.md ("KV cache types"): blocks written byte by byte here
 * from hand-computed values, so that the layout itself is checked and not only agreement with
 * clattn's own quantizer; fp8 codes at their edges; and the reference over quantized caches.
 * Needs no device. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define REFUSED_WITH(call, status, text)                                                       \
    do {                                                                                       \
        ck_assert_int_eq((call), (status));                                                    \
        ck_assert_msg(strstr(clattn_message(NULL), text), "message '%s' lacks '%s'",           \
                      clattn_message(NULL), text);                                             \
    } while (0)

START_TEST(q8_0_block_by_hand)
{
    /* scale 0.5 is f16 0x3800, little-endian; code j is j - 16, except code 0 = 127 */
    uint8_t block[34] = {0x00, 0x38};
    float x[32];
    for (int j = 0; j < 32; j++) {
        const int code = j == 0 ? 127 : j - 16;
        block[2 + j] = (uint8_t)(int8_t)code;
        x[j] = 0.5f * (float)code;
    }
    float got[32];
    ck_assert_int_eq(clattn_to_float(CLATTN_DTYPE_Q8_0, block, got, 32), CLATTN_SUCCESS);
    ck_assert_mem_eq(got, x, sizeof x);
    /* max |x| = 63.5 gives scale 63.5 / 127 = 0.5 and the same codes back */
    uint8_t made[34];
    ck_assert_int_eq(clattn_from_float(CLATTN_DTYPE_Q8_0, x, made, 32), CLATTN_SUCCESS);
    ck_assert_mem_eq(made, block, sizeof block);
    /* rounding is to nearest, halves away from zero: 0.25 / 0.5 = 0.5 rounds to 1 */
    x[1] = 0.25f;
    x[2] = -0.25f;
    ck_assert_int_eq(clattn_from_float(CLATTN_DTYPE_Q8_0, x, made, 32), CLATTN_SUCCESS);
    ck_assert_int_eq((int8_t)made[3], 1);
    ck_assert_int_eq((int8_t)made[4], -1);
}
END_TEST

START_TEST(q4_0_block_by_hand)
{
    /* scale 2 is f16 0x4000; byte j holds code j % 16 low and 15 - j high, so value j is
     * 2 (j - 8) and value j + 16 is 2 (7 - j) */
    uint8_t block[18] = {0x00, 0x40};
    float x[32];
    for (int j = 0; j < 16; j++) {
        block[2 + j] = (uint8_t)(j | (15 - j) << 4);
        x[j] = 2.0f * (float)(j - 8);
        x[j + 16] = 2.0f * (float)(7 - j);
    }
    float got[32];
    ck_assert_int_eq(clattn_to_float(CLATTN_DTYPE_Q4_0, block, got, 32), CLATTN_SUCCESS);
    ck_assert_mem_eq(got, x, sizeof x);
    /* the value of largest magnitude is x[0] = -16: scale -16 / -8 = 2, the same codes */
    uint8_t made[18];
    ck_assert_int_eq(clattn_from_float(CLATTN_DTYPE_Q4_0, x, made, 32), CLATTN_SUCCESS);
    ck_assert_mem_eq(made, block, sizeof block);
    /* a positive extreme gives a negative scale: 16 / -8 = -2, f16 0xc000, code 0 */
    float pos[32] = {16.0f};
    ck_assert_int_eq(clattn_from_float(CLATTN_DTYPE_Q4_0, pos, made, 32), CLATTN_SUCCESS);
    ck_assert_int_eq(made[0], 0x00);
    ck_assert_int_eq(made[1], 0xc0);
    ck_assert_int_eq(made[2] & 15, 0);
    ck_assert_int_eq(made[3], 8 | 8 << 4); /* zeros are code 8 */
    /* all zeros: scale 0 / -8, which is -0 (f16 0x8000, as ggml writes it), every code 8 */
    float zero[32] = {0};
    ck_assert_int_eq(clattn_from_float(CLATTN_DTYPE_Q4_0, zero, made, 32), CLATTN_SUCCESS);
    ck_assert_int_eq(made[0], 0x00);
    ck_assert_int_eq(made[1], 0x80);
    for (int j = 0; j < 16; j++)
        ck_assert_int_eq(made[2 + j], 0x88);
}
END_TEST

static uint8_t fp8(clattn_dtype dtype, float x)
{
    uint8_t c;
    ck_assert_int_eq(clattn_from_float(dtype, &x, &c, 1), CLATTN_SUCCESS);
    return c;
}

static float fp8_value(clattn_dtype dtype, uint8_t c)
{
    float x;
    ck_assert_int_eq(clattn_to_float(dtype, &c, &x, 1), CLATTN_SUCCESS);
    return x;
}

START_TEST(fp8_codes_at_their_edges)
{
    const clattn_dtype e4m3 = CLATTN_DTYPE_FP8_E4M3, e5m2 = CLATTN_DTYPE_FP8_E5M2;
    ck_assert_int_eq(fp8(e4m3, 1.0f), 0x38); /* 0.0111.000 */
    ck_assert_int_eq(fp8(e4m3, -1.0f), 0xb8);
    ck_assert_int_eq(fp8(e4m3, 448.0f), 0x7e);
    ck_assert_int_eq(fp8(e4m3, 1e6f), 0x7e); /* saturates */
    ck_assert_int_eq(fp8(e4m3, INFINITY), 0x7e);
    ck_assert_int_eq(fp8(e4m3, ldexpf(1.0f, -9)), 0x01); /* the smallest subnormal */
    ck_assert_int_eq(fp8(e4m3, 1.0625f), 0x38);           /* a tie goes to the even code */
    ck_assert_int_eq(fp8(e4m3, 1.1875f), 0x3a);
    ck_assert_int_eq(fp8(e4m3, 1.07f), 0x39);
    ck_assert(isnan(fp8_value(e4m3, 0x7f)));
    ck_assert(isnan(fp8_value(e4m3, fp8(e4m3, NAN))));
    ck_assert_float_eq(fp8_value(e4m3, 0x7e), 448.0f);
    ck_assert_float_eq(fp8_value(e4m3, 0x01), ldexpf(1.0f, -9));

    ck_assert_int_eq(fp8(e5m2, 1.0f), 0x3c); /* 0.01111.00 */
    ck_assert_int_eq(fp8(e5m2, 57344.0f), 0x7b);
    ck_assert_int_eq(fp8(e5m2, 60000.0f), 0x7b);
    ck_assert_int_eq(fp8(e5m2, 61440.0f), 0x7c); /* the tie past the largest: infinity */
    ck_assert_int_eq(fp8(e5m2, -INFINITY), 0xfc);
    ck_assert_int_eq(fp8(e5m2, ldexpf(1.0f, -16)), 0x01);
    ck_assert(isinf(fp8_value(e5m2, 0x7c)));
    ck_assert(isnan(fp8_value(e5m2, 0x7d)));
    /* every finite code survives a round trip */
    for (int c = 0; c < 256; c++) {
        const clattn_dtype types[2] = {e4m3, e5m2};
        for (int t = 0; t < 2; t++) {
            const float v = fp8_value(types[t], (uint8_t)c);
            if (isfinite(v) && !(v == 0 && c == 0x80))
                ck_assert_int_eq(fp8(types[t], v), c);
        }
    }
}
END_TEST

START_TEST(block_sizes_and_bad_counts)
{
    int values, bytes;
    ck_assert_int_eq(clattn_dtype_block(CLATTN_DTYPE_Q8_0, &values, &bytes), CLATTN_SUCCESS);
    ck_assert(values == 32 && bytes == 34);
    ck_assert_int_eq(clattn_dtype_block(CLATTN_DTYPE_Q4_0, &values, &bytes), CLATTN_SUCCESS);
    ck_assert(values == 32 && bytes == 18);
    ck_assert_int_eq(clattn_dtype_block(CLATTN_DTYPE_FP8_E5M2, &values, &bytes), CLATTN_SUCCESS);
    ck_assert(values == 1 && bytes == 1);
    ck_assert_uint_eq(clattn_dtype_size(CLATTN_DTYPE_Q8_0), 0);
    REFUSED_WITH(clattn_dtype_block((clattn_dtype)7, &values, &bytes),
                 CLATTN_ERROR_INVALID_ARGUMENT, "unknown dtype");
    float x[33] = {0};
    uint8_t out[68];
    REFUSED_WITH(clattn_from_float(CLATTN_DTYPE_Q8_0, x, out, 33), CLATTN_ERROR_INVALID_ARGUMENT,
                 "whole blocks");
}
END_TEST

static clattn_problem *cache_problem(int d, clattn_dtype kv_dtype)
{
    attn_case c = case_default();
    c.batch = 2;
    c.heads = 4;
    c.kv_heads = 2;
    c.seq_q = 3;
    c.seq_kv = 37;
    c.head_dim = d;
    c.causal = 1;
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_AUTO);
    ck_assert_int_eq(clattn_problem_set(p, CLATTN_PARAM_KV_DTYPE, kv_dtype), CLATTN_SUCCESS);
    return p;
}

/* The reference over a quantized cache is the reference over its dequantized values (times
 * the fp8 scales): both run here on the same inputs and must agree to the last bit. */
START_TEST(reference_reads_the_dequantized_cache)
{
    const clattn_dtype types[4] = {CLATTN_DTYPE_Q8_0, CLATTN_DTYPE_Q4_0, CLATTN_DTYPE_FP8_E4M3,
                                   CLATTN_DTYPE_FP8_E5M2};
    const clattn_dtype type = types[_i];
    const int d = 64, fp8 = type >= CLATTN_DTYPE_FP8_E4M3;
    clattn_problem *p = cache_problem(d, type), *plain = cache_problem(d, CLATTN_DTYPE_F32);
    if (fp8)
        ck_assert_int_eq(clattn_problem_set_kv_scales(p, 0.5, 4.0), CLATTN_SUCCESS);
    size_t q_bytes, kv_bytes, kv_plain;
    clattn_problem_tensor_bytes(p, CLATTN_TENSOR_Q, &q_bytes);
    clattn_problem_tensor_bytes(p, CLATTN_TENSOR_K, &kv_bytes);
    clattn_problem_tensor_bytes(plain, CLATTN_TENSOR_K, &kv_plain);
    const size_t values = kv_plain / 4;
    int block_values, block_bytes;
    clattn_dtype_block(type, &block_values, &block_bytes);
    ck_assert_uint_eq(kv_bytes, values / (size_t)block_values * (size_t)block_bytes);
    float *q = random_tensor(CLATTN_DTYPE_F32, q_bytes / 4, 1.0f, 1);
    float *kf = random_tensor(CLATTN_DTYPE_F32, values, 1.0f, 2);
    float *vf = random_tensor(CLATTN_DTYPE_F32, values, 1.0f, 3);
    void *k = malloc(kv_bytes), *v = malloc(kv_bytes);
    ck_assert_int_eq(clattn_from_float(type, kf, k, values), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_from_float(type, vf, v, values), CLATTN_SUCCESS);
    clattn_to_float(type, k, kf, values);
    clattn_to_float(type, v, vf, values);
    for (size_t e = 0; fp8 && e < values; e++) {
        kf[e] *= 0.5f;
        vf[e] *= 4.0f;
    }
    const size_t rows = 2 * 3 * 4;
    float *o = malloc(rows * (size_t)d * 4), *o_plain = malloc(rows * (size_t)d * 4);
    float lse[24], lse_plain[24];
    ck_assert_int_eq(clattn_reference(p, q, k, v, o, lse), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_reference(plain, q, kf, vf, o_plain, lse_plain), CLATTN_SUCCESS);
    ck_assert_mem_eq(o, o_plain, rows * (size_t)d * 4);
    ck_assert_mem_eq(lse, lse_plain, sizeof lse);
    free(q);
    free(kf);
    free(vf);
    free(k);
    free(v);
    free(o);
    free(o_plain);
    clattn_problem_destroy(p);
    clattn_problem_destroy(plain);
}
END_TEST

/* An appended row is attended as the cache stores it: quantized from Q's dtype. */
START_TEST(appended_rows_are_quantized_on_write)
{
    const int d = 32, nk = 37, nq = 3, kv_heads = 2, batch = 2;
    clattn_problem *p = cache_problem(d, CLATTN_DTYPE_Q4_0);
    clattn_problem *plain = cache_problem(d, CLATTN_DTYPE_F32);
    const size_t cache_values = (size_t)batch * nk * kv_heads * d;
    const size_t new_values = (size_t)batch * nq * kv_heads * d;
    float *q = random_tensor(CLATTN_DTYPE_F32, (size_t)batch * nq * 4 * d, 1.0f, 4);
    float *kf = random_tensor(CLATTN_DTYPE_F32, cache_values, 1.0f, 5);
    float *vf = random_tensor(CLATTN_DTYPE_F32, cache_values, 1.0f, 6);
    float *k_new = random_tensor(CLATTN_DTYPE_F32, new_values, 1.0f, 7);
    float *v_new = random_tensor(CLATTN_DTYPE_F32, new_values, 1.0f, 8);
    uint8_t *k = malloc(cache_values), *v = malloc(cache_values); /* q4_0 is < 1 byte a value */
    clattn_from_float(CLATTN_DTYPE_Q4_0, kf, k, cache_values);
    clattn_from_float(CLATTN_DTYPE_Q4_0, vf, v, cache_values);
    clattn_to_float(CLATTN_DTYPE_Q4_0, k, kf, cache_values);
    clattn_to_float(CLATTN_DTYPE_Q4_0, v, vf, cache_values);
    /* the plain problem sees the appended rows already quantized */
    const int32_t lens[2] = {20, 34};
    float *kq = malloc(new_values * 4), *vq = malloc(new_values * 4);
    uint8_t *tmp = malloc(new_values);
    clattn_from_float(CLATTN_DTYPE_Q4_0, k_new, tmp, new_values);
    clattn_to_float(CLATTN_DTYPE_Q4_0, tmp, kq, new_values);
    clattn_from_float(CLATTN_DTYPE_Q4_0, v_new, tmp, new_values);
    clattn_to_float(CLATTN_DTYPE_Q4_0, tmp, vq, new_values);
    const size_t rows = (size_t)batch * nq * 4;
    float *o = malloc(rows * d * 4), *o_plain = malloc(rows * d * 4);
    ck_assert_int_eq(clattn_reference_kvcache(p, q, k, v, lens, NULL, k_new, v_new, o, NULL),
                     CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_reference_kvcache(plain, q, kf, vf, lens, NULL, kq, vq, o_plain, NULL),
                     CLATTN_SUCCESS);
    ck_assert_mem_eq(o, o_plain, rows * d * 4);
    /* and they differ from attending the unquantized new rows: the rounding is real */
    ck_assert_int_eq(
        clattn_reference_kvcache(plain, q, kf, vf, lens, NULL, k_new, v_new, o_plain, NULL),
        CLATTN_SUCCESS);
    ck_assert(memcmp(o, o_plain, rows * d * 4) != 0);
    free(q);
    free(kf);
    free(vf);
    free(k_new);
    free(v_new);
    free(k);
    free(v);
    free(kq);
    free(vq);
    free(tmp);
    free(o);
    free(o_plain);
    clattn_problem_destroy(p);
    clattn_problem_destroy(plain);
}
END_TEST

START_TEST(bad_combinations_are_refused)
{
    clattn_problem *p = cache_problem(40, CLATTN_DTYPE_Q4_0);
    REFUSED_WITH(clattn_problem_check(p), CLATTN_ERROR_UNSUPPORTED, "head_dim a multiple of 32");
    ck_assert_int_eq(clattn_problem_set(p, CLATTN_PARAM_HEAD_DIM, 64), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_problem_check(p), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_problem_set_strides(p, CLATTN_TENSOR_K, 37 * 2 * 64, 2 * 64, 80),
                     CLATTN_SUCCESS);
    REFUSED_WITH(clattn_problem_check(p), CLATTN_ERROR_INVALID_ARGUMENT, "whole blocks");
    clattn_problem_destroy(p);
    p = cache_problem(64, CLATTN_DTYPE_F32);
    /* Q and O take f32, f16 and bf16 only */
    REFUSED_WITH(clattn_problem_set(p, CLATTN_PARAM_DTYPE, CLATTN_DTYPE_Q8_0),
                 CLATTN_ERROR_INVALID_ARGUMENT, "dtype");
    const double bad[] = {0.0, -1.0, NAN, INFINITY, 1e39};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        REFUSED_WITH(clattn_problem_set_kv_scales(p, bad[i], 1.0), CLATTN_ERROR_INVALID_ARGUMENT,
                     "kv scales");
        REFUSED_WITH(clattn_problem_set_kv_scales(p, 1.0, bad[i]), CLATTN_ERROR_INVALID_ARGUMENT,
                     "kv scales");
    }
    double ks, vs;
    ck_assert_int_eq(clattn_problem_get_kv_scales(p, &ks, &vs), CLATTN_SUCCESS);
    ck_assert(ks == 1.0 && vs == 1.0);
    REFUSED_WITH(clattn_problem_set(p, CLATTN_PARAM_KV_DTYPE, 7), CLATTN_ERROR_INVALID_ARGUMENT,
                 "kv_dtype");
    clattn_problem_destroy(p);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("formats");
    tcase_add_test(tc, q8_0_block_by_hand);
    tcase_add_test(tc, q4_0_block_by_hand);
    tcase_add_test(tc, fp8_codes_at_their_edges);
    tcase_add_test(tc, block_sizes_and_bad_counts);
    suite_add_tcase(s, tc);
    tc = tcase_create("reference");
    tcase_add_loop_test(tc, reference_reads_the_dequantized_cache, 0, 4);
    tcase_add_test(tc, appended_rows_are_quantized_on_write);
    tcase_add_test(tc, bad_combinations_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 0);
}
