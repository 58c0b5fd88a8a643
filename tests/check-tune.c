/* Tuning: what clattn_tune measures reaches later contexts through the per-device tuning file,
 * plans built from tuned tiles still agree with the reference, and a damaged file is ignored.
 * Linked with the library's internal archive to write tuning files directly. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "fused.h"
#include "tile_select.h"
#include "tuning.h"

static char cache[] = "/tmp/clattn-tune-XXXXXX";

static clattn_problem *problem(void)
{
    clattn_problem *p;
    clattn_problem_create(&p);
    clattn_problem_set(p, CLATTN_PARAM_HEADS, 2);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, 200);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_KV, 200);
    clattn_problem_set(p, CLATTN_PARAM_HEAD_DIM, 32);
    clattn_problem_set(p, CLATTN_PARAM_CAUSAL, 1);
    clattn_problem_set(p, CLATTN_PARAM_ALGORITHM, CLATTN_ALGO_TILED);
    return p;
}

static clattn_context *context(void)
{
    clattn_context *ctx;
    const char *dev = getenv("CLATTN_TEST_DEVICE");
    ck_assert_int_eq(clattn_context_create(dev ? atoi(dev) : -1, &ctx), CLATTN_SUCCESS);
    return ctx;
}

/* Runs the problem with host buffers and checks it against the reference; returns the plan's
 * description. */
static char *run_and_check(clattn_context *ctx, clattn_problem *p)
{
    size_t qb;
    clattn_problem_tensor_bytes(p, CLATTN_TENSOR_Q, &qb);
    float *q = malloc(qb), *k = malloc(qb), *v = malloc(qb), *o = malloc(qb), *ref = malloc(qb);
    for (size_t i = 0; i < qb / 4; i++) {
        q[i] = (float)((i * 7) % 13) / 6.5f - 1.0f;
        k[i] = (float)((i * 5) % 11) / 5.5f - 1.0f;
        v[i] = (float)((i * 3) % 17) / 8.5f - 1.0f;
    }
    clattn_plan *plan;
    ck_assert_msg(clattn_plan_create(ctx, p, &plan) == CLATTN_SUCCESS, "%s", clattn_message(ctx));
    ck_assert_int_eq(clattn_run_host(plan, q, k, v, o, NULL), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_reference(p, q, k, v, ref, NULL), CLATTN_SUCCESS);
    double err;
    int passed;
    clattn_compare(p, o, ref, NULL, NULL, &err, NULL, &passed);
    ck_assert_msg(passed, "error %g\n%s", err, clattn_plan_describe(plan));
    char *text = strdup(clattn_plan_describe(plan));
    clattn_plan_destroy(plan);
    free(q);
    free(k);
    free(v);
    free(o);
    free(ref);
    return text;
}

/* The tiles another candidate would have: different from the rules' in every field that
 * varies for this shape. */
static void other_tiles(clattn_context *ctx, clattn_problem *p, char *class_key, char *tiles)
{
    const clattn_kernel_shape shape = select_shape(&ctx->limits);
    if (shape == CLATTN_SHAPE_REGISTER_BLOCKS) {
        register_tiles t = select_register_tiles(&ctx->limits, p, 400, 0);
        tuning_class(p, shape, 0, t.vw, class_key, 96);
        t.rows = t.rows == 2 ? 4 : 2;
        t.groups = 1;
        register_tiles_format(&t, tiles, 96);
    } else {
        tuning_class(p, shape, 0, 1, class_key, 96);
        /* the tile model's second choice: one the tuner itself would time */
        local_tiles t[2];
        ck_assert_int_eq(local_tiles_candidates(&ctx->limits, p, 400,
                                                ctx->limits.max_work_group_size, t, 2),
                         2);
        local_tiles_format(&t[1], tiles, 96);
    }
}

/* Stores other_tiles for p in this device's tuning file, as clattn_tune would, through a
 * context that is then destroyed; class_key gets the problem's class. */
static void store_other_tiles(clattn_problem *p, char class_key[96])
{
    clattn_context *ctx = context();
    char tiles[96];
    other_tiles(ctx, p, class_key, tiles);
    ck_assert_int_eq(tuning_set(ctx->tuning, class_key, tiles), 0);
    ck_assert_int_eq(tuning_save(ctx->tuning, &ctx->limits), 0);
    clattn_context_destroy(ctx);
}

START_TEST(tuned_tiles_reach_later_contexts)
{
    clattn_problem *p = problem();
    char class_key[96];
    store_other_tiles(p, class_key);

    clattn_context *ctx = context(); /* reads the file */
    char *text = run_and_check(ctx, p);
    ck_assert_msg(strstr(text, "measured by clattn_tune"),
                  "the plan did not use the tuned tiles:\n%s", text);
    free(text);
    clattn_context_destroy(ctx);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(damaged_tuning_file_is_ignored)
{
    clattn_problem *p = problem();
    char class_key[96];
    store_other_tiles(p, class_key);
    /* overwrite every tuning file with lines of impossible tiles and plain garbage */
    DIR *dir = opendir(cache);
    ck_assert_ptr_nonnull(dir);
    for (struct dirent *e; (e = readdir(dir));) {
        if (strncmp(e->d_name, "tuning-", 7) != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", cache, e->d_name);
        FILE *f = fopen(path, "w");
        fprintf(f, "%s: rows=0 groups=-3 kv_vecs=99999 dv_chunk=x\n\x01\x02 garbage\n::\n",
                class_key);
        fclose(f);
    }
    closedir(dir);
    clattn_context *ctx = context();
    char *text = run_and_check(ctx, p);
    ck_assert_msg(!strstr(text, "measured by clattn_tune"), "damaged tiles were used:\n%s", text);
    free(text);
    clattn_context_destroy(ctx);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(tune_measures_and_reports)
{
    clattn_context *ctx = context();
    clattn_problem *p = problem();
    static char report[32768];
    ck_assert_msg(clattn_tune(ctx, p, report, sizeof report) == CLATTN_SUCCESS, "%s",
                  clattn_message(ctx));
    ck_assert_ptr_nonnull(strstr(report, "rules"));
    ck_assert_ptr_nonnull(strstr(report, "chosen:"));
    free(run_and_check(ctx, p)); /* whatever was chosen is still right */
    clattn_problem_set(p, CLATTN_PARAM_ALGORITHM, CLATTN_ALGO_NAIVE);
    ck_assert_int_eq(clattn_tune(ctx, p, NULL, 0), CLATTN_ERROR_UNSUPPORTED);
    clattn_context_destroy(ctx);
    clattn_problem_destroy(p);
}
END_TEST

int main(void)
{
    int count = 0;
    if (clattn_device_count(&count) || count == 0) {
        const char *require = getenv("CLATTN_TEST_REQUIRE_DEVICE");
        return require && strcmp(require, "1") == 0 ? EXIT_FAILURE : 77;
    }
    if (!mkdtemp(cache)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    setenv("CLATTN_CACHE_DIR", cache, 1);
    Suite *s = suite_create("tune");
    TCase *tc = tcase_create("tune");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, tuned_tiles_reach_later_contexts);
    tcase_add_test(tc, damaged_tuning_file_is_ignored);
    tcase_add_test(tc, tune_measures_and_reports);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    char command[512];
    snprintf(command, sizeof command, "rm -rf '%s'", cache);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", cache);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
