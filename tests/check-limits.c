/* Tile selection under simulated devices (CLATTN_DEVICE_LIMITS): the same device presented as
 * a small embedded GPU, a desktop GPU and a CPU must choose different plans, and every plan
 * must agree with the reference. Also the limits that force fallbacks: an allocation cap that
 * splits the naive score matrix into chunks, and local memory too small for any tile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct profile {
    const char *name;
    const char *limits;
} profile;

static const profile profiles[] = {
    /* work-groups of 32: what rusticl's kernels take (docs/devices.md), so that it runs too */
    {"embedded-gpu", "local_mem_type=local,local_mem_size=16k,max_work_group_size=32"},
    {"desktop-gpu", "local_mem_type=local,local_mem_size=64k,max_work_group_size=1024"},
    {"cpu", "local_mem_type=global,vector_width=8"},
};

/* A context under `limits`, or NULL when the device is smaller than the profile. */
static clattn_context *context_with(const char *limits)
{
    clattn_context *real = test_context(), *ctx = NULL;
    cl_context cl;
    cl_device_id dev;
    clattn_context_get_cl(real, &cl, &dev, NULL);
    setenv("CLATTN_DEVICE_LIMITS", limits, 1);
    clattn_status st = clattn_context_create_cl(cl, dev, NULL, &ctx);
    unsetenv("CLATTN_DEVICE_LIMITS");
    if (st == CLATTN_ERROR_INVALID_ARGUMENT && strstr(clattn_message(NULL), "must be between"))
        return NULL; /* this device cannot pretend to be larger than it is */
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: %s", limits, clattn_message(NULL));
    return ctx;
}

/* The context of a profile for the test part `what` (counted as run), or NULL, counted and
 * printed as a skip (tests/harness.h), when the device is smaller than the profile. */
static clattn_context *profile_context(const profile *prof, const char *what)
{
    char part[96];
    snprintf(part, sizeof part, "%s profile, %s", prof->name, what);
    clattn_context *ctx = context_with(prof->limits);
    if (ctx)
        test_ran(part);
    else
        test_skipped(part, "the device is smaller than the profile");
    return ctx;
}

static void run_case(clattn_context *ctx, const attn_case *c, clattn_algorithm algo, int64_t plan_out[4])
{
    clattn_problem *p = case_problem(c, algo);
    size_t bytes[4];
    for (int t = 0; t < 4; t++)
        clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes[t]);
    size_t es = clattn_dtype_size(c->dtype);
    void *q = random_tensor(c->dtype, bytes[0] / es, 1.0f, 5);
    void *k = random_tensor(c->dtype, bytes[1] / es, 1.0f, 6);
    void *v = random_tensor(c->dtype, bytes[2] / es, 1.0f, 7);
    void *o = malloc(bytes[3]);
    float *o_ref = malloc(bytes[3] / es * 4);
    size_t rows = (size_t)c->batch * (size_t)c->heads * (size_t)c->seq_q;
    float *lse = malloc(rows * 4), *lse_ref = malloc(rows * 4);
    ck_assert_int_eq(clattn_reference(p, q, k, v, o_ref, lse_ref), CLATTN_SUCCESS);
    clattn_plan *plan;
    clattn_status st = clattn_plan_create(ctx, p, &plan);
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: %s", case_name(c), clattn_message(ctx));
    st = clattn_run_host(plan, q, k, v, o, lse);
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: %s", case_name(c), clattn_message(ctx));
    double err, lse_err;
    int passed;
    clattn_compare(p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed);
    ck_assert_msg(passed, "%s: error %g, LSE error %g\n%s", case_name(c), err, lse_err,
                  clattn_plan_describe(plan));
    const clattn_plan_info info[4] = {CLATTN_PLAN_KERNEL_SHAPE, CLATTN_PLAN_TILE_Q,
                                      CLATTN_PLAN_TILE_KV, CLATTN_PLAN_WORK_GROUP_SIZE};
    for (int i = 0; plan_out && i < 4; i++)
        clattn_plan_get(plan, info[i], &plan_out[i]);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
    free(q);
    free(k);
    free(v);
    free(o);
    free(o_ref);
    free(lse);
    free(lse_ref);
}

static attn_case sample(int d, clattn_dtype dtype)
{
    attn_case c = case_default();
    c.batch = 2;
    c.heads = 4;
    c.kv_heads = 2;
    c.seq_q = 70;
    c.seq_kv = 45;
    c.head_dim = d;
    c.causal = 1;
    c.dtype = dtype;
    return c;
}

START_TEST(profiles_choose_different_plans)
{
    int64_t plans[3][4];
    int tried = 0;
    for (int i = 0; i < 3; i++) {
        clattn_context *ctx = profile_context(&profiles[i], "its plan");
        if (!ctx) {
            memset(plans[i], 0xff, sizeof plans[i]);
            continue;
        }
        tried++;
        attn_case c = sample(64, CLATTN_DTYPE_F32);
        run_case(ctx, &c, CLATTN_ALGO_TILED, plans[i]);
        printf("  %s: shape %lld, %lld rows x %lld keys, group %lld\n", profiles[i].name,
               (long long)plans[i][0], (long long)plans[i][1], (long long)plans[i][2],
               (long long)plans[i][3]);
        clattn_context_destroy(ctx);
    }
    ck_assert_int_ge(tried, 2);
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++)
            if (plans[a][0] != -1 && plans[b][0] != -1)
                ck_assert_msg(memcmp(plans[a], plans[b], sizeof plans[a]) != 0,
                              "%s and %s chose the same plan", profiles[a].name, profiles[b].name);
}
END_TEST

START_TEST(profiles_agree_with_reference)
{
    /* _i: profile * 4 + variant; variants cover algorithms, dtypes and awkward head dims */
    static const struct { int d; clattn_dtype dtype; clattn_algorithm algo; } variants[] = {
        {256, CLATTN_DTYPE_F32, CLATTN_ALGO_TILED},
        {40, CLATTN_DTYPE_F16, CLATTN_ALGO_TILED},
        {80, CLATTN_DTYPE_BF16, CLATTN_ALGO_NAIVE},
        {3, CLATTN_DTYPE_F32, CLATTN_ALGO_WINDOWED},
    };
    char what[64];
    snprintf(what, sizeof what, "variant %d against the reference", _i % 4);
    clattn_context *ctx = profile_context(&profiles[_i / 4], what);
    if (!ctx)
        return;
    attn_case c = sample(variants[_i % 4].d, variants[_i % 4].dtype);
    if (variants[_i % 4].algo == CLATTN_ALGO_WINDOWED) {
        c.window_left = 6;
        c.window_right = 0;
    }
    run_case(ctx, &c, variants[_i % 4].algo, NULL);
    clattn_context_destroy(ctx);
}
END_TEST

START_TEST(allocation_cap_splits_naive_into_chunks)
{
    /* 2 x 4 heads x 70 rows x 48 keys x 4 bytes = 105 KiB of scores, capped at 64 KiB (where
     * the tensors and the packed K and V still fit): chunks of whole heads */
    clattn_context *ctx = context_with("max_alloc_size=64k");
    ck_assert_ptr_nonnull(ctx);
    attn_case c = sample(16, CLATTN_DTYPE_F32);
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_NAIVE);
    clattn_plan *plan;
    ck_assert_msg(clattn_plan_create(ctx, p, &plan) == CLATTN_SUCCESS, "%s", clattn_message(ctx));
    int64_t chunks;
    clattn_plan_get(plan, CLATTN_PLAN_CHUNKS, &chunks);
    ck_assert_int_gt(chunks, 1);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
    run_case(ctx, &c, CLATTN_ALGO_NAIVE, NULL);
    /* one head of 300 x 208 scores (244 KiB) does not fit: chunks of query rows */
    attn_case tall = case_default();
    tall.heads = 2;
    tall.seq_q = 300;
    tall.seq_kv = 200;
    tall.head_dim = 8;
    tall.causal = 1;
    run_case(ctx, &tall, CLATTN_ALGO_NAIVE, NULL);
    clattn_context_destroy(ctx);
}
END_TEST

/* A naive plan under the 60 KiB cap of packed_kv_too_large, with CLATTN_NAIVE_GEMM set to
 * `gemm` (NULL: the device's rule). */
static void naive_under_cap(clattn_context *ctx, const attn_case *c, const char *gemm)
{
    const char *env = getenv("CLATTN_NAIVE_GEMM");
    char *kept = env ? strdup(env) : NULL;
    if (gemm)
        setenv("CLATTN_NAIVE_GEMM", gemm, 1);
    else
        unsetenv("CLATTN_NAIVE_GEMM");
    clattn_problem *p = case_problem(c, CLATTN_ALGO_NAIVE);
    clattn_plan *naive = NULL;
    clattn_status st = clattn_plan_create(ctx, p, &naive);
    if (st == CLATTN_SUCCESS) {
        /* naive, on the products asked for, the scores in one pass, and right */
        int64_t v;
        clattn_plan_get(naive, CLATTN_PLAN_ALGORITHM, &v);
        ck_assert_int_eq(v, CLATTN_ALGO_NAIVE);
        clattn_plan_get(naive, CLATTN_PLAN_USES_CLBLAST, &v);
        if (gemm)
            ck_assert_msg(v == (strcmp(gemm, "clblast") == 0), "CLATTN_NAIVE_GEMM=%s:\n%s", gemm,
                          clattn_plan_describe(naive));
        clattn_plan_get(naive, CLATTN_PLAN_CHUNKS, &v);
        ck_assert_msg(v == 1, "%lld chunks:\n%s", (long long)v, clattn_plan_describe(naive));
        run_case(ctx, c, CLATTN_ALGO_NAIVE, NULL);
    } else {
#ifdef TEST_HAVE_CLBLAST
        ck_assert_msg(!gemm || strcmp(gemm, "clblast") != 0, "CLATTN_NAIVE_GEMM=clblast refused: %s",
                      clattn_message(ctx));
#endif
        ck_assert_int_eq(st, CLATTN_ERROR_DEVICE_OUT_OF_MEMORY);
        ck_assert_ptr_nonnull(strstr(clattn_message(ctx), "largest allocation"));
    }
    clattn_plan_destroy(naive);
    clattn_problem_destroy(p);
    if (kept)
        setenv("CLATTN_NAIVE_GEMM", kept, 1);
    else
        unsetenv("CLATTN_NAIVE_GEMM");
    free(kept);
}

START_TEST(packed_kv_too_large)
{
    /* K of 45 KiB fits a 60 KiB cap, but packed with its keys padded to whole blocks of 64
     * (64 KiB, PoCL's register blocks) it does not: tiled reads K and V in place instead.
     * Naive on its own products needs the packed copies: it runs where the device's blocks
     * are small enough (rusticl), and otherwise says why not; on CLBlast's (where built) it
     * needs no packing and runs */
    clattn_context *ctx = context_with("max_alloc_size=60k");
    ck_assert_ptr_nonnull(ctx);
    attn_case c = sample(64, CLATTN_DTYPE_F32);
    c.seq_q = 20;
    int64_t plan[4];
    run_case(ctx, &c, CLATTN_ALGO_TILED, plan);
    ck_assert_int_eq(plan[0], CLATTN_SHAPE_LOCAL_TILES);
    naive_under_cap(ctx, &c, NULL);
    naive_under_cap(ctx, &c, "own");
    naive_under_cap(ctx, &c, "clblast");
    clattn_context_destroy(ctx);
}
END_TEST

START_TEST(no_tile_fits_is_unsupported)
{
    clattn_context *ctx = context_with("local_mem_type=local,local_mem_size=1k");
    ck_assert_ptr_nonnull(ctx);
    attn_case c = sample(256, CLATTN_DTYPE_F32);
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_TILED);
    clattn_plan *plan = NULL;
    ck_assert_int_eq(clattn_plan_create(ctx, p, &plan), CLATTN_ERROR_UNSUPPORTED);
    ck_assert_ptr_null(plan);
    ck_assert_ptr_nonnull(strstr(clattn_message(ctx), "local memory"));
    clattn_problem_destroy(p);
    clattn_context_destroy(ctx);
}
END_TEST

/* Whether the context's real device is Mesa's llvmpipe (CLATTN_DEVICE_LIMITS leaves names). */
static int on_llvmpipe(clattn_context *ctx)
{
    cl_device_id dev;
    char name[256] = "";
    clattn_context_get_cl(ctx, NULL, &dev, NULL);
    clGetDeviceInfo(dev, CL_DEVICE_NAME, sizeof name - 1, name, NULL);
    return strstr(name, "llvmpipe") != NULL;
}

/* A GPU whose local memory is carved from global memory and that vectorises across
 * work-items (an Arm Mali's class of limits, and llvmpipe's) gets llvmpipe's key-run cap only
 * where the kernels really run on llvmpipe (lib/device_quirks.h): elsewhere a tiled plan over
 * 4097 keys is one pass of the local-tiles kernel. */
START_TEST(llvmpipe_caps_follow_the_driver)
{
    clattn_context *ctx = context_with("type=gpu,local_mem_type=global,vector_width=1");
    ck_assert_ptr_nonnull(ctx);
    attn_case c = sample(16, CLATTN_DTYPE_F32);
    c.seq_q = 16;
    c.seq_kv = 4097;
    c.causal = 0;
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_TILED);
    clattn_plan *plan;
    ck_assert_msg(clattn_plan_create(ctx, p, &plan) == CLATTN_SUCCESS, "%s", clattn_message(ctx));
    int64_t shape, splits;
    clattn_plan_get(plan, CLATTN_PLAN_KERNEL_SHAPE, &shape);
    clattn_plan_get(plan, CLATTN_PLAN_SPLITS, &splits);
    ck_assert_int_eq(shape, CLATTN_SHAPE_LOCAL_TILES);
    if (on_llvmpipe(ctx))
        ck_assert_msg(splits >= 3, "%s", clattn_plan_describe(plan));
    else
        ck_assert_msg(splits == 1, "%s", clattn_plan_describe(plan));
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
    run_case(ctx, &c, CLATTN_ALGO_TILED, NULL);
    clattn_context_destroy(ctx);
}
END_TEST

/* naive's own kernels walk every key in one loop (f16: CLBlast takes f32 only). Where loops end
 * early (llvmpipe), a problem past the budget is refused by name, and one within it is right;
 * elsewhere both are right. Without the refusal llvmpipe left O unwritten past ~1000 keys. */
START_TEST(naive_keys_fit_the_loop_budget)
{
    attn_case c = sample(64, CLATTN_DTYPE_F16);
    c.seq_q = 3;
    c.causal = 0;
    c.seq_kv = 800;
    check_case(&c, CLATTN_ALGO_NAIVE);
    c.seq_kv = 1100;
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_NAIVE);
    clattn_plan *plan = NULL;
    const clattn_status st = clattn_plan_create(test_context(), p, &plan);
    if (on_llvmpipe(test_context())) {
        ck_assert_int_eq(st, CLATTN_ERROR_UNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(clattn_message(test_context()), "loops after 65535"));
    } else {
        ck_assert_msg(st == CLATTN_SUCCESS, "%s", clattn_message(test_context()));
        clattn_plan_destroy(plan);
        check_case(&c, CLATTN_ALGO_NAIVE);
    }
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(malformed_limits_are_refused)
{
    static const char *const bad[] = {"local_mem_size", "local_mem_size=abc", "bogus=1",
                                      "local_mem_type=fast", "vector_width=3",
                                      "max_work_group_size=0", "fp64=0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv("CLATTN_DEVICE_LIMITS", bad[i], 1);
        clattn_context *ctx = NULL;
        clattn_status st = clattn_context_create_cl(NULL, NULL, NULL, &ctx);
        ck_assert_int_eq(st, CLATTN_ERROR_INVALID_ARGUMENT); /* arguments first */
        cl_context cl;
        cl_device_id dev;
        clattn_context_get_cl(test_context(), &cl, &dev, NULL);
        st = clattn_context_create_cl(cl, dev, NULL, &ctx);
        unsetenv("CLATTN_DEVICE_LIMITS");
        ck_assert_msg(st == CLATTN_ERROR_INVALID_ARGUMENT, "'%s' accepted", bad[i]);
        ck_assert_ptr_null(ctx);
        ck_assert_ptr_nonnull(strstr(clattn_message(NULL), "CLATTN_DEVICE_LIMITS"));
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("profiles");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, profiles_choose_different_plans);
    tcase_add_loop_test(tc, profiles_agree_with_reference, 0, 12);
    tcase_add_test(tc, allocation_cap_splits_naive_into_chunks);
    tcase_add_test(tc, packed_kv_too_large);
    tcase_add_test(tc, no_tile_fits_is_unsupported);
    tcase_add_test(tc, llvmpipe_caps_follow_the_driver);
    tcase_add_test(tc, naive_keys_fit_the_loop_budget);
    tcase_add_test(tc, malformed_limits_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 1);
}
