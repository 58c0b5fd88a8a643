/* Faults: a kernel that fails to build, an allocation the device refuses, a naive score
 * matrix beyond the device's largest allocation. Each returns its status with a message,
 * leaves the context usable for the next call, and leaks nothing (the sanitizer and valgrind
 * runs of .ci/trust check that part). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_alloc.h"
#include "harness.h"
#include "temp_dir.h"

/* A small case of head_dim `d`. A head_dim that no earlier test of this process used has
 * no program in the context's cache yet, so planning it builds kernels. */
static attn_case small_case(int d)
{
    attn_case c = case_default();
    c.heads = 2;
    c.seq_q = 19;
    c.seq_kv = 23;
    c.head_dim = d;
    c.causal = 1;
    return c;
}

static void copy_file(const char *from, const char *to, const char *extra)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    ck_assert_msg(in && out, "copying %s to %s", from, to);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    if (extra)
        fputs(extra, out);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

/* The kernel sources (meson passes their folder as CLATTN_SOURCE_CL) copied to a new
 * folder, with an #error at the end of common.cl, which every program includes. */
static char *broken_kernel_dir(void)
{
    const char *src = getenv("CLATTN_SOURCE_CL");
    ck_assert_msg(src && *src, "CLATTN_SOURCE_CL must name the source tree's cl/ (meson sets it)");
    char *dir = temp_dir_create();
    DIR *d = opendir(src);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".cl") != 0)
            continue;
        char from[4096], to[4096];
        snprintf(from, sizeof from, "%s/%s", src, e->d_name);
        snprintf(to, sizeof to, "%s/%s", dir, e->d_name);
        copy_file(from, to,
                  strcmp(e->d_name, "common.cl") == 0
                      ? "\n#error clattn-test: a deliberately broken kernel\n"
                      : NULL);
    }
    closedir(d);
    return dir;
}

static void assert_contains(const char *text, const char *part)
{
    /* at most the start of the message: Check refuses failure texts of a few KiB */
    ck_assert_msg(strstr(text, part), "message lacks '%s':\n%.1500s", part, text);
}

START_TEST(build_failure_reports_and_recovers)
{
    clattn_context *ctx = test_context();
    attn_case c = small_case(12 + _i); /* 13, 14, 15: new to this process */
    clattn_problem *p = case_problem(&c, (clattn_algorithm)_i);
    char *dir = broken_kernel_dir();
    setenv("CLATTN_KERNEL_DIR", dir, 1);
    clattn_plan *plan = (clattn_plan *)1;
    clattn_status st = clattn_plan_create(ctx, p, &plan);
    unsetenv("CLATTN_KERNEL_DIR");
    temp_dir_remove(dir);
    ck_assert_int_eq(st, CLATTN_ERROR_BUILD_FAILED);
    ck_assert_ptr_null(plan);
    const char *msg = clattn_message(ctx);
    assert_contains(msg, "with options '"); /* the options, */
    char head_dim[32];
    snprintf(head_dim, sizeof head_dim, "-DHEAD_DIM=%d", c.head_dim);
    assert_contains(msg, head_dim);
    assert_contains(msg, "build log:");     /* and the compiler's own words */
    assert_contains(msg, "deliberately broken");
    /* nothing of the failed build was kept: the embedded kernels build and run */
    check_case(&c, (clattn_algorithm)_i);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(missing_kernel_dir_is_a_build_failure)
{
    attn_case c = small_case(11);
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_TILED);
    setenv("CLATTN_KERNEL_DIR", "/nonexistent/clattn-kernels", 1);
    clattn_plan *plan = NULL;
    clattn_status st = clattn_plan_create(test_context(), p, &plan);
    unsetenv("CLATTN_KERNEL_DIR");
    ck_assert_int_eq(st, CLATTN_ERROR_BUILD_FAILED);
    ck_assert_ptr_null(plan);
    assert_contains(clattn_message(test_context()), "/nonexistent/clattn-kernels/common.cl");
    check_case(&c, CLATTN_ALGO_TILED);
    clattn_problem_destroy(p);
}
END_TEST

/* Refuses the first, then the second, ... allocation of a plan and its first run, until one
 * pass needs no refusal: every allocation site of the algorithm fails once. */
START_TEST(refused_allocation_at_every_site)
{
    clattn_context *ctx = test_context();
    attn_case c = small_case(24);
    clattn_problem *p = case_problem(&c, (clattn_algorithm)_i);
    void *in[3];
    size_t bytes[4];
    for (int t = 0; t < 4; t++) {
        clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes[t]);
        if (t < 3)
            in[t] = random_tensor(CLATTN_DTYPE_F32, bytes[t] / 4, 1.0f, 31 + (unsigned)t);
    }
    void *o = malloc(bytes[3]);
    float *lse = malloc((size_t)c.heads * (size_t)c.seq_q * sizeof *lse);
    int sites = 0;
    for (int allowed = 0;; allowed++) {
        fault_alloc_after(allowed);
        clattn_plan *plan = NULL;
        clattn_status st = clattn_plan_create(ctx, p, &plan);
        if (!st)
            st = clattn_run_host(plan, in[0], in[1], in[2], o, lse);
        fault_alloc_off();
        if (!fault_alloc_refused()) {
            ck_assert_msg(st == CLATTN_SUCCESS, "%s", clattn_message(ctx));
            clattn_plan_destroy(plan);
            break;
        }
        sites++;
        ck_assert_msg(st == CLATTN_ERROR_DEVICE_OUT_OF_MEMORY,
                      "allocation %d refused: %s: %s", allowed, clattn_status_string(st),
                      clattn_message(ctx));
        assert_contains(clattn_message(ctx), "CL_MEM_OBJECT_ALLOCATION_FAILURE");
        clattn_plan_destroy(plan);
        check_case(&c, (clattn_algorithm)_i); /* the context works as before */
    }
    printf("  algorithm %d: %d allocation sites refused in turn\n", _i, sites);
    ck_assert_int_ge(sites, 4); /* at least the run's Q, K, V and O buffers */
    clattn_problem_destroy(p);
    for (int t = 0; t < 3; t++)
        free(in[t]);
    free(o);
    free(lse);
}
END_TEST

/* A context on the test device with `extra` added to whatever limits the run simulates. */
static clattn_context *limited_context(const char *extra)
{
    const char *outer = getenv("CLATTN_DEVICE_LIMITS");
    char limits[512];
    snprintf(limits, sizeof limits, "%s%s%s", outer ? outer : "", outer && *outer ? "," : "",
             extra);
    cl_context cl;
    cl_device_id dev;
    clattn_context_get_cl(test_context(), &cl, &dev, NULL);
    char *saved = outer ? strdup(outer) : NULL;
    setenv("CLATTN_DEVICE_LIMITS", limits, 1);
    clattn_context *ctx = NULL;
    clattn_status st = clattn_context_create_cl(cl, dev, NULL, &ctx);
    if (saved)
        setenv("CLATTN_DEVICE_LIMITS", saved, 1);
    else
        unsetenv("CLATTN_DEVICE_LIMITS");
    free(saved);
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: %s", limits, clattn_message(NULL));
    return ctx;
}

START_TEST(naive_scores_beyond_largest_allocation)
{
    /* one block of query rows of 8192 scores is 128 KiB or more, past a 64 KiB allocation
     * limit; tests/check-limits.c covers the sizes that still split into chunks */
    clattn_context *ctx = limited_context("max_alloc_size=64k");
    attn_case c = case_default();
    c.seq_q = 8;
    c.seq_kv = 8192;
    c.head_dim = 1;
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_NAIVE);
    clattn_plan *plan = (clattn_plan *)1;
    ck_assert_int_eq(clattn_plan_create(ctx, p, &plan), CLATTN_ERROR_DEVICE_OUT_OF_MEMORY);
    ck_assert_ptr_null(plan);
    assert_contains(clattn_message(ctx), "score matrix");
    attn_case small = small_case(24);
    check_case_on(ctx, &small, CLATTN_ALGO_NAIVE);
    clattn_problem_destroy(p);
    clattn_context_destroy(ctx);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 600);
    /* each algorithm: naive, tiled, windowed, decode */
    tcase_add_loop_test(tc, build_failure_reports_and_recovers, CLATTN_ALGO_NAIVE,
                        CLATTN_ALGO_DECODE + 1);
    tcase_add_test(tc, missing_kernel_dir_is_a_build_failure);
    tcase_add_loop_test(tc, refused_allocation_at_every_site, CLATTN_ALGO_NAIVE,
                        CLATTN_ALGO_DECODE + 1);
    tcase_add_test(tc, naive_scores_beyond_largest_allocation);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 1);
}
