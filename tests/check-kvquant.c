/* Quantized KV caches on the device (docs/semantics.md, "KV cache types"): q8_0, q4_0,
 * fp8 e4m3 and e5m2 caches, and an f16 cache under f32 queries, read by decode, tiled and
 * windowed against clattn_reference_kvcache on odd shapes (GQA and MQA, ragged lengths with
 * 0, shuffled pages, head_dim 32 to 256); appends quantized on the device byte for byte as
 * the host quantizes; blocks written by hand, read on the device; and the combinations that
 * are refused. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define OK(call)                                                                               \
    do {                                                                                       \
        clattn_status st_ = (call);                                                            \
        ck_assert_msg(st_ == CLATTN_SUCCESS, "%s: %s: %s | %s", #call, clattn_status_string(st_), \
                      clattn_message(NULL), clattn_message(test_context()));                  \
    } while (0)

typedef struct kv_case {
    int batch, heads, kv_heads, seq_q, capacity, head_dim;
    clattn_dtype dtype; /* Q's and O's */
    int page_size;      /* 0: contiguous */
    const int *lens;    /* per entry before the call, NULL: capacity each */
    int append;         /* k_new / v_new of seq_q rows */
    int window_left;    /* -1: none */
} kv_case;

static const int lens_4[] = {0, 1, 37, 100};
static const int lens_mixed[] = {5, 0, 130, 64};
static const int lens_append[] = {0, 15, 16, 17};

static const kv_case cases[] = {
    /* GQA 8:2, one step against 300 keys, d 128 */
    {2, 8, 2, 1, 300, 128, CLATTN_DTYPE_F32, 0, NULL, 0, -1},
    /* MQA 4:1, ragged with an empty entry, three rows, f16 queries, d 64 */
    {4, 4, 1, 3, 100, 64, CLATTN_DTYPE_F16, 0, lens_4, 0, -1},
    /* paged, pages shuffled, appends that cross a page boundary, d 32 */
    {4, 4, 2, 3, 40, 32, CLATTN_DTYPE_F32, 16, lens_append, 1, -1},
    /* paged and ragged, bf16 queries, d 256 */
    {4, 4, 2, 1, 130, 256, CLATTN_DTYPE_BF16, 64, lens_mixed, 0, -1},
    /* a sliding window over a paged cache, appending one row */
    {2, 4, 1, 1, 1000, 64, CLATTN_DTYPE_F32, 32, lens_mixed, 1, 63},
};

/* The cache types under test, with fp8 scales that are not powers of two, so that the
 * append's x / scale rounds. */
static const clattn_dtype types[] = {CLATTN_DTYPE_Q8_0, CLATTN_DTYPE_Q4_0, CLATTN_DTYPE_FP8_E4M3,
                                     CLATTN_DTYPE_FP8_E5M2, CLATTN_DTYPE_F16};
#define TYPES ((int)(sizeof types / sizeof types[0]))
static const clattn_algorithm algos[] = {CLATTN_ALGO_DECODE, CLATTN_ALGO_TILED,
                                         CLATTN_ALGO_WINDOWED};
#define K_SCALE 1.5
#define V_SCALE 0.375

static unsigned next_random(unsigned *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void read_back(cl_mem m, size_t bytes, void *host)
{
    cl_command_queue queue;
    clattn_context_get_cl(test_context(), NULL, NULL, &queue);
    ck_assert_int_eq(clEnqueueReadBuffer(queue, m, CL_TRUE, 0, bytes, host, 0, NULL, NULL),
                     CL_SUCCESS);
}

static int is_fp8(clattn_dtype t)
{
    return t == CLATTN_DTYPE_FP8_E4M3 || t == CLATTN_DTYPE_FP8_E5M2;
}

/* `values` values of x / scale (f32) in type t at dst, as an engine would store them. */
static void quantize(clattn_dtype t, const float *x, double scale, size_t values, void *dst)
{
    float *y = malloc(values * sizeof *y);
    for (size_t i = 0; i < values; i++)
        y[i] = is_fp8(t) ? (float)(x[i] / scale) : x[i];
    OK(clattn_from_float(t, y, dst, values));
    free(y);
}

/* Byte of value e in a cache of type t. */
static size_t value_byte(clattn_dtype t, int64_t e)
{
    int values, bytes;
    clattn_dtype_block(t, &values, &bytes);
    return (size_t)(e / values * bytes);
}

/* The cache bytes after appending: `before` with each appended row (Q's dtype, in `rows`)
 * converted by the host's quantizer where the row goes. */
static void expected_cache(const kv_case *c, const clattn_problem *p, clattn_dtype t,
                           double scale, const int32_t *lens, const int32_t *table,
                           int pages_per_seq, const void *rows, unsigned char *cache)
{
    int64_t s[3];
    clattn_problem_get_strides(p, CLATTN_TENSOR_K, &s[0], &s[1], &s[2]);
    const size_t esize = clattn_dtype_size(c->dtype);
    float *x = malloc((size_t)c->head_dim * sizeof *x);
    for (int b = 0; b < c->batch; b++)
        for (int i = 0; i < c->seq_q; i++)
            for (int g = 0; g < c->kv_heads; g++) {
                const int j = lens[b] + i;
                int64_t base = c->page_size ? table[b * pages_per_seq + j / c->page_size] * s[0] +
                                                  (j % c->page_size) * s[1]
                                            : b * s[0] + j * s[1];
                base += g * s[2];
                const size_t src = (size_t)((b * c->seq_q + i) * c->kv_heads + g) * c->head_dim;
                OK(clattn_to_float(c->dtype, (const char *)rows + src * esize, x,
                                   (size_t)c->head_dim));
                quantize(t, x, scale, (size_t)c->head_dim, cache + value_byte(t, base));
            }
    free(x);
}

static void run_case(const kv_case *c, clattn_dtype t, clattn_algorithm algo)
{
    attn_case ac = case_default();
    ac.batch = c->batch;
    ac.heads = c->heads;
    ac.kv_heads = c->kv_heads;
    ac.seq_q = c->seq_q;
    ac.seq_kv = c->capacity;
    ac.head_dim = c->head_dim;
    ac.dtype = c->dtype;
    ac.causal = 1;
    ac.window_left = c->window_left;
    clattn_problem *p = case_problem(&ac, algo);
    OK(clattn_problem_set(p, CLATTN_PARAM_KV_DTYPE, t));
    OK(clattn_problem_set_kv_scales(p, K_SCALE, V_SCALE));
    int pages_per_seq = 0, num_pages = 0;
    if (c->page_size) {
        pages_per_seq = (c->capacity + c->page_size - 1) / c->page_size;
        num_pages = c->batch * pages_per_seq + 3; /* a few the table never names */
        OK(clattn_problem_set(p, CLATTN_PARAM_PAGE_SIZE, c->page_size));
        OK(clattn_problem_set(p, CLATTN_PARAM_NUM_PAGES, num_pages));
    }
    const size_t esize = clattn_dtype_size(c->dtype);
    size_t q_bytes, cache_bytes;
    OK(clattn_problem_tensor_bytes(p, CLATTN_TENSOR_Q, &q_bytes));
    OK(clattn_problem_tensor_bytes(p, CLATTN_TENSOR_K, &cache_bytes));
    int block;
    clattn_dtype_block(t, &block, NULL);
    const size_t q_elems = q_bytes / esize, rows = (size_t)c->batch * c->heads * c->seq_q;
    const size_t cache_values = cache_bytes / value_byte(t, block) * (size_t)block;
    const size_t new_elems = (size_t)c->batch * c->seq_q * c->kv_heads * c->head_dim;

    void *q = random_tensor(c->dtype, q_elems, 1.0f, 21);
    unsigned char *k = malloc(cache_bytes), *v = malloc(cache_bytes);
    float *x = random_tensor(CLATTN_DTYPE_F32, cache_values, 2.0f, 22);
    quantize(t, x, K_SCALE, cache_values, k);
    free(x);
    x = random_tensor(CLATTN_DTYPE_F32, cache_values, 2.0f, 23);
    quantize(t, x, V_SCALE, cache_values, v);
    free(x);
    void *k_new = NULL, *v_new = NULL;
    if (c->append) {
        k_new = random_tensor(c->dtype, new_elems, 2.0f, 24);
        v_new = random_tensor(c->dtype, new_elems, 2.0f, 25);
    }
    int32_t *lens = NULL, *table = NULL;
    if (c->lens) {
        lens = malloc((size_t)c->batch * sizeof *lens);
        for (int b = 0; b < c->batch; b++)
            lens[b] = c->lens[b] < c->capacity - (c->append ? c->seq_q : 0)
                          ? c->lens[b]
                          : c->capacity - (c->append ? c->seq_q : 0);
    }
    if (c->page_size) { /* shuffled pages; those an entry does not reach are -1 */
        int *perm = malloc((size_t)num_pages * sizeof *perm);
        unsigned r = 77;
        for (int i = 0; i < num_pages; i++)
            perm[i] = i;
        for (int i = num_pages - 1; i > 0; i--) {
            const int j = (int)(next_random(&r) % (unsigned)(i + 1)), tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        table = malloc((size_t)c->batch * pages_per_seq * sizeof *table);
        for (int b = 0; b < c->batch; b++) {
            const int64_t used = lens ? (int64_t)lens[b] + (c->append ? c->seq_q : 0) : c->capacity;
            for (int n = 0; n < pages_per_seq; n++)
                table[b * pages_per_seq + n] =
                    (int64_t)n * c->page_size < used ? perm[b * pages_per_seq + n] : -1;
        }
        free(perm);
    }

    float *o_ref = malloc(q_elems * sizeof *o_ref), *lse_ref = malloc(rows * 4);
    OK(clattn_reference_kvcache(p, q, k, v, lens, table, k_new, v_new, o_ref, lse_ref));
    cl_mem mq = device_copy(q_bytes, q), mk = device_copy(cache_bytes, k),
           mv = device_copy(cache_bytes, v), mo = device_copy(q_bytes, NULL),
           mlse = device_copy(rows * 4, NULL);
    cl_mem mlens = lens ? device_copy((size_t)c->batch * 4, lens) : NULL;
    cl_mem mtable = table ? device_copy((size_t)c->batch * pages_per_seq * 4, table) : NULL;
    cl_mem mk_new = k_new ? device_copy(new_elems * esize, k_new) : NULL;
    cl_mem mv_new = v_new ? device_copy(new_elems * esize, v_new) : NULL;

    clattn_plan *plan;
    clattn_status st = clattn_plan_create(test_context(), p, &plan);
    ck_assert_msg(st == CLATTN_SUCCESS, "plan: %s", clattn_message(test_context()));
    st = clattn_enqueue_kvcache(plan, NULL, mq, 0, mk, 0, mv, 0, mlens, 0, mtable, 0, mk_new, 0,
                                mv_new, 0, mo, 0, mlse, 0, 0, NULL, NULL);
    ck_assert_msg(st == CLATTN_SUCCESS, "enqueue: %s", clattn_message(test_context()));
    void *o = malloc(q_bytes);
    float *lse = malloc(rows * 4);
    read_back(mo, q_bytes, o);
    read_back(mlse, rows * 4, lse);
    double err, lse_err;
    int passed;
    OK(clattn_compare(p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed));
    ck_assert_msg(passed, "kv dtype %d, B%d H%d:%d Nq%d cap%d d%d dtype%d page%d append%d: "
                          "error %g, LSE error %g\n%s",
                  (int)t, c->batch, c->heads, c->kv_heads, c->seq_q, c->capacity, c->head_dim,
                  (int)c->dtype, c->page_size, c->append, err, lse_err,
                  clattn_plan_describe(plan));
    if (c->append) {
        unsigned char *got = malloc(cache_bytes);
        for (int which = 0; which < 2; which++) {
            expected_cache(c, p, t, which ? V_SCALE : K_SCALE, lens, table, pages_per_seq,
                           which ? v_new : k_new, which ? v : k);
            read_back(which ? mv : mk, cache_bytes, got);
            size_t at = 0;
            while (at < cache_bytes && got[at] == (which ? v : k)[at])
                at++;
            ck_assert_msg(at == cache_bytes,
                          "kv dtype %d: the %s cache after appending differs from the host's "
                          "quantization at byte %zu: 0x%02x, not 0x%02x",
                          (int)t, which ? "V" : "K", at, got[at], (which ? v : k)[at]);
        }
        free(got);
    }
    clattn_plan_destroy(plan);
    cl_mem mems[] = {mq, mk, mv, mo, mlse, mlens, mtable, mk_new, mv_new};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        if (mems[i])
            clReleaseMemObject(mems[i]);
    void *host[] = {q, k, v, k_new, v_new, lens, table, o_ref, lse_ref, o, lse};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++)
        free(host[i]);
    clattn_problem_destroy(p);
}

/* _i: algorithm * TYPES + cache type; every case of the table. */
START_TEST(caches_match_reference)
{
    const clattn_algorithm algo = algos[_i / TYPES];
    const clattn_dtype t = types[_i % TYPES];
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++)
        run_case(&cases[n], t, algo);
}
END_TEST

/* One key, d 32, one head: O is the V row and LSE the score, whatever the algorithm. The
 * cache blocks are written here byte by byte (tests/check-quant.c's blocks), so the device
 * reads ggml's layout itself, not only what clattn's quantizer writes. */
static void hand_block(clattn_dtype t, unsigned char *block, float *value)
{
    if (t == CLATTN_DTYPE_Q8_0) { /* scale 0.5 (f16 0x3800), code j - 16, code 0 = 127 */
        block[0] = 0x00;
        block[1] = 0x38;
        for (int j = 0; j < 32; j++) {
            const int code = j == 0 ? 127 : j - 16;
            block[2 + j] = (unsigned char)(int8_t)code;
            value[j] = 0.5f * (float)code;
        }
    } else { /* q4_0: scale 2 (f16 0x4000), byte j holds j low and 15 - j high */
        block[0] = 0x00;
        block[1] = 0x40;
        for (int j = 0; j < 16; j++) {
            block[2 + j] = (unsigned char)(j | (15 - j) << 4);
            value[j] = 2.0f * (float)(j - 8);
            value[j + 16] = 2.0f * (float)(7 - j);
        }
    }
}

START_TEST(hand_written_blocks_are_read)
{
    const clattn_dtype t = _i % 2 ? CLATTN_DTYPE_Q4_0 : CLATTN_DTYPE_Q8_0;
    const clattn_algorithm algo = algos[_i / 2];
    attn_case ac = case_default();
    ac.seq_q = 1;
    ac.seq_kv = 1;
    ac.head_dim = 32;
    ac.scale = 0.125;
    clattn_problem *p = case_problem(&ac, algo);
    OK(clattn_problem_set(p, CLATTN_PARAM_KV_DTYPE, t));
    unsigned char k[34] = {0}, v[34] = {0};
    float kval[32], vval[32], q[32];
    hand_block(t, k, kval);
    hand_block(t, v, vval);
    /* V's block reversed by value: the first and second halves of q4_0 swap nibbles */
    if (t == CLATTN_DTYPE_Q8_0)
        for (int j = 0; j < 16; j++) {
            const unsigned char b = v[2 + j];
            v[2 + j] = v[33 - j];
            v[33 - j] = b;
            const float f = vval[j];
            vval[j] = vval[31 - j];
            vval[31 - j] = f;
        }
    else
        for (int j = 0; j < 16; j++) {
            v[2 + j] = (unsigned char)(v[2 + j] >> 4 | (v[2 + j] & 15) << 4);
            const float f = vval[j];
            vval[j] = vval[j + 16];
            vval[j + 16] = f;
        }
    double score = 0;
    for (int j = 0; j < 32; j++) {
        q[j] = (float)(j % 5) - 2.0f;
        score += 0.125 * q[j] * kval[j];
    }
    const int bytes = t == CLATTN_DTYPE_Q8_0 ? 34 : 18;
    cl_mem mq = device_copy(sizeof q, q), mk = device_copy((size_t)bytes, k),
           mv = device_copy((size_t)bytes, v), mo = device_copy(sizeof q, NULL),
           mlse = device_copy(4, NULL);
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), p, &plan));
    OK(clattn_enqueue(plan, NULL, mq, 0, mk, 0, mv, 0, mo, 0, mlse, 0, 0, NULL, NULL));
    float o[32], lse;
    read_back(mo, sizeof o, o);
    read_back(mlse, 4, &lse);
    for (int j = 0; j < 32; j++)
        ck_assert_msg(o[j] == vval[j], "dtype %d: O[%d] = %g, the hand-written V has %g", (int)t,
                      j, (double)o[j], (double)vval[j]);
    ck_assert_msg(fabs(lse - score) < 1e-4, "dtype %d: LSE %g, the hand-written K gives %g",
                  (int)t, (double)lse, score);
    clattn_plan_destroy(plan);
    cl_mem mems[] = {mq, mk, mv, mo, mlse};
    for (size_t i = 0; i < 5; i++)
        clReleaseMemObject(mems[i]);
    clattn_problem_destroy(p);
}
END_TEST

/* Appended rows whose values fall exactly halfway between two codes: q8_0 rounds halves away
 * from zero, q4_0 takes floor(x / d + 8.5), fp8 rounds to the even code (after x / scale, which
 * is exact here), so the device must write what the host quantizer writes, byte for byte. */
START_TEST(appended_ties_round_as_the_host)
{
    const clattn_dtype t = types[_i];
    static const float fp8_ties[] = {1.0625f, 1.1875f, -2.125f, 0.0029296875f, 1.125f,
                                     1.375f,  -0.75f,  464.0f,  3.0517578125e-05f, 0.0f};
    static const float q8_ties[] = {127.0f, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, -3.5f, 126.5f};
    static const float q4_ties[] = {-8.0f, 0.5f, -0.5f, 1.5f, 2.5f, -7.5f, 6.5f, 7.5f};
    float k_new[32] = {0}, v_new[32] = {0};
    for (int j = 0; j < 32; j++) {
        const float x = t == CLATTN_DTYPE_Q8_0   ? q8_ties[j % 8] * (j < 8 ? 1.0f : 0.0f)
                        : t == CLATTN_DTYPE_Q4_0 ? q4_ties[j % 8] * (j < 8 ? 1.0f : 0.0f)
                                                 : fp8_ties[j % 10];
        k_new[j] = x * (float)(is_fp8(t) ? K_SCALE : 1.0);
        v_new[j] = -x * (float)(is_fp8(t) ? V_SCALE : 1.0);
    }
    attn_case ac = case_default();
    ac.seq_q = 1;
    ac.seq_kv = 2;
    ac.head_dim = 32;
    ac.causal = 1;
    clattn_problem *p = case_problem(&ac, CLATTN_ALGO_DECODE);
    OK(clattn_problem_set(p, CLATTN_PARAM_KV_DTYPE, t));
    OK(clattn_problem_set_kv_scales(p, K_SCALE, V_SCALE));
    size_t cache_bytes;
    OK(clattn_problem_tensor_bytes(p, CLATTN_TENSOR_K, &cache_bytes));
    unsigned char *cache = calloc(1, cache_bytes), *want = calloc(1, cache_bytes),
                  *got = malloc(cache_bytes);
    const int32_t lens = 1;
    float q[32] = {0};
    cl_mem mq = device_copy(sizeof q, q), mk = device_copy(cache_bytes, cache),
           mv = device_copy(cache_bytes, cache), mo = device_copy(sizeof q, NULL),
           mlens = device_copy(4, &lens), mk_new = device_copy(sizeof k_new, k_new),
           mv_new = device_copy(sizeof v_new, v_new);
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), p, &plan));
    OK(clattn_enqueue_kvcache(plan, NULL, mq, 0, mk, 0, mv, 0, mlens, 0, NULL, 0, mk_new, 0,
                              mv_new, 0, mo, 0, NULL, 0, 0, NULL, NULL));
    for (int which = 0; which < 2; which++) {
        memcpy(want, cache, cache_bytes);
        quantize(t, which ? v_new : k_new, which ? V_SCALE : K_SCALE, 32,
                 want + value_byte(t, 32)); /* row 1: key 1 of the one head */
        read_back(which ? mv : mk, cache_bytes, got);
        for (size_t at = 0; at < cache_bytes; at++)
            ck_assert_msg(got[at] == want[at],
                          "kv dtype %d, %s: byte %zu is 0x%02x, the host writes 0x%02x", (int)t,
                          which ? "V" : "K", at, got[at], want[at]);
    }
    clattn_plan_destroy(plan);
    cl_mem mems[] = {mq, mk, mv, mo, mlens, mk_new, mv_new};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        clReleaseMemObject(mems[i]);
    free(cache);
    free(want);
    free(got);
    clattn_problem_destroy(p);
}
END_TEST

/* q4_0 and q8_0 need head_dim a multiple of 32; naive reads no quantized cache; a K offset
 * that is not a whole block is refused. Each with a clear status and message. */
START_TEST(bad_combinations_are_refused)
{
    attn_case ac = case_default();
    ac.head_dim = 40;
    clattn_problem *p = case_problem(&ac, CLATTN_ALGO_DECODE);
    OK(clattn_problem_set(p, CLATTN_PARAM_KV_DTYPE, CLATTN_DTYPE_Q4_0));
    ck_assert_int_eq(clattn_problem_check(p), CLATTN_ERROR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(clattn_message(NULL), "q4_0"));
    clattn_plan *plan = (clattn_plan *)1;
    ck_assert_int_eq(clattn_plan_create(test_context(), p, &plan), CLATTN_ERROR_UNSUPPORTED);
    ck_assert_ptr_null(plan);
    clattn_problem_destroy(p);

    ac.head_dim = 64;
    for (clattn_dtype t = CLATTN_DTYPE_Q8_0; t <= CLATTN_DTYPE_FP8_E5M2; t++) {
        static const char *const names[] = {"q8_0", "q4_0", "fp8_e4m3", "fp8_e5m2"};
        p = case_problem(&ac, CLATTN_ALGO_NAIVE);
        OK(clattn_problem_set(p, CLATTN_PARAM_KV_DTYPE, t));
        plan = (clattn_plan *)1;
        ck_assert_int_eq(clattn_plan_create(test_context(), p, &plan), CLATTN_ERROR_UNSUPPORTED);
        ck_assert_ptr_null(plan);
        ck_assert_msg(strstr(clattn_message(test_context()), names[t - CLATTN_DTYPE_Q8_0]),
                      "message '%s' lacks '%s'", clattn_message(test_context()),
                      names[t - CLATTN_DTYPE_Q8_0]);
        clattn_problem_destroy(p);
    }

    p = case_problem(&ac, CLATTN_ALGO_DECODE);
    OK(clattn_problem_set(p, CLATTN_PARAM_KV_DTYPE, CLATTN_DTYPE_Q8_0));
    OK(clattn_plan_create(test_context(), p, &plan));
    cl_mem m = device_copy(4096, NULL);
    REFUSED(clattn_enqueue(plan, NULL, m, 0, m, 32, m, 1024, m, 2048, NULL, 0, 0, NULL, NULL),
            "K");
    clReleaseMemObject(m);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("kvquant");
    TCase *tc = tcase_create("kvquant");
    tcase_set_timeout(tc, 1800);
    tcase_add_loop_test(tc, caches_match_reference, 0,
                        (int)(sizeof algos / sizeof algos[0]) * TYPES);
    tcase_add_loop_test(tc, hand_written_blocks_are_read, 0,
                        2 * (int)(sizeof algos / sizeof algos[0]));
    tcase_add_loop_test(tc, appended_ties_round_as_the_host, 0, TYPES);
    tcase_add_test(tc, bad_combinations_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 1);
}
