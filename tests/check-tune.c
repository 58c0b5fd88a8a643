/* Tuning: what clattn_tune measures reaches later contexts through the per-device tuning file,
 * plans built from tuned tiles still agree with the reference, and a damaged file is ignored.
 * Linked with the library's internal archive to write tuning files directly. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "context.h"
#include "kernel_build.h"
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

/* Tiles that clattn_tune tries for p other than the rules' own (the first such candidate),
 * and p's class. */
static void other_tiles(clattn_context *ctx, clattn_problem *p, char *class_key, char *tiles)
{
    const device_limits *l = &ctx->limits;
    const clattn_kernel_shape shape = select_shape(l);
    char rules[TUNING_FIELD] = "";
    int vw = 1;
    if (shape == CLATTN_SHAPE_REGISTER_BLOCKS) {
        register_tiles t = select_register_tiles(l, p, rows_per_kv_head(p), 0);
        register_tiles_format(&t, rules, sizeof rules);
        vw = t.vw;
    } else {
        local_tiles t;
        ck_assert(select_local_tiles(l, p, rows_per_kv_head(p), l->max_work_group_size, &t,
                                     NULL));
        local_tiles_format(&t, rules, sizeof rules);
    }
    tuning_class(p, shape, 0, vw, class_key, TUNING_FIELD);
    char candidates[TUNING_MAX_CANDIDATES][TUNING_FIELD];
    const int n = tune_candidates(l, p, shape, 0, candidates);
    int i = 0;
    while (i < n && strcmp(candidates[i], rules) == 0)
        i++;
    ck_assert_msg(i < n, "clattn_tune tries nothing but the rules' %s", rules);
    snprintf(tiles, TUNING_FIELD, "%s", candidates[i]);
}

/* Stores other_tiles for p in this device's tuning file, as clattn_tune would, through a
 * context that is then destroyed; class_key gets the problem's class. */
static void store_other_tiles(clattn_problem *p, char class_key[96])
{
    clattn_context *ctx = context();
    char tiles[96];
    other_tiles(ctx, p, class_key, tiles);
    ck_assert_int_eq(tuning_set(ctx->tuning, class_key, tiles), 0);
    ck_assert_int_eq(tuning_save(ctx->tuning, &ctx->limits, &ctx->cache), 0);
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

/* The path of this device's tuning file (store_other_tiles made it). */
static void tuning_path(char path[512])
{
    DIR *dir = opendir(cache);
    ck_assert_ptr_nonnull(dir);
    int found = 0;
    for (struct dirent *e; (e = readdir(dir));)
        if (strncmp(e->d_name, "tuning-", 7) == 0) {
            snprintf(path, 512, "%s/%s", cache, e->d_name);
            found++;
        }
    closedir(dir);
    ck_assert_int_eq(found, 1);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(damaged_tuning_file_is_ignored)
{
    clattn_problem *p = problem();
    char class_key[96], path[512], text[512];
    store_other_tiles(p, class_key);
    /* lines of impossible tiles and plain garbage */
    tuning_path(path);
    snprintf(text, sizeof text,
             "%s: rows=0 groups=-3 kv_vecs=99999 dv_chunk=x\n\x01\x02 garbage\n::\n", class_key);
    write_text(path, text);
    clattn_context *ctx = context();
    char *described = run_and_check(ctx, p);
    ck_assert_msg(!strstr(described, "measured by clattn_tune"), "damaged tiles were used:\n%s",
                  described);
    free(described);
    clattn_context_destroy(ctx);
    clattn_problem_destroy(p);
}
END_TEST

/* Hostile tuning files: each must leave context creation quick and plans on the rules' tiles,
 * saying why the file's were not used. A hang (a read that never ends, a kernel build of
 * absurd tiles that runs for minutes) is caught by an alarm. */
enum hostile {
    HOSTILE_DEV_ZERO,  /* a symlink to /dev/zero: endless bytes */
    HOSTILE_FIFO,      /* a FIFO nobody writes: an open or read that blocks forever */
    HOSTILE_OVERSIZED, /* good tiles followed by a megabyte of comments */
    HOSTILE_FOREIGN,   /* good tiles in a file of another user (needs root to make) */
    HOSTILE_WRITABLE,  /* good tiles in a file that others may write */
    HOSTILE_ABSURD_ROWS,
    HOSTILE_ABSURD_BLOCKS,
    HOSTILES
};

static int skipped; /* cases that cannot be made here, reported at the end */

static void hang(int sig)
{
    (void)sig;
    static const char text[] = "check-tune: a hostile tuning file hung the library (alarm)\n";
    const ssize_t written = write(2, text, sizeof text - 1);
    (void)written; /* failing either way */
    _exit(EXIT_FAILURE);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Tiles in range for the parser (1 to 1024) but far outside what clattn_tune tries: the
 * register blocks take minutes in LLVM; the local tiles are groups of a work-item or two. */
static const char *absurd_tiles(clattn_context *ctx, int which)
{
    if (select_shape(&ctx->limits) == CLATTN_SHAPE_REGISTER_BLOCKS)
        return which ? "rows=1 groups=1 kv_vecs=1024 dv_chunk=1024"
                     : "rows=1024 groups=1 kv_vecs=1 dv_chunk=1";
    return which ? "br=2 bc=1 tpr=1" : "br=1 bc=1 tpr=1";
}

START_TEST(hostile_tuning_file)
{
    static const char *const names[] = {"a symlink to /dev/zero", "a FIFO", "an oversized file",
                                        "another user's file", "a file others may write",
                                        "absurd rows", "absurd blocks"};
    const enum hostile kind = (enum hostile)_i;
    if (kind == HOSTILE_FOREIGN && geteuid() != 0) {
        fprintf(stderr, "SKIPPED: %s: only root can give a file to another user\n", names[kind]);
        skipped++;
        return;
    }
    /* eight query heads share a K/V head: 1600 rows, room for tiles of 1024 rows */
    clattn_problem *p = problem();
    clattn_problem_set(p, CLATTN_PARAM_HEADS, 8);
    clattn_problem_set(p, CLATTN_PARAM_KV_HEADS, 1);
    char class_key[96], path[512], line[256];
    store_other_tiles(p, class_key);
    tuning_path(path);
    FILE *f;
    switch (kind) {
    case HOSTILE_DEV_ZERO:
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(symlink("/dev/zero", path), 0);
        break;
    case HOSTILE_FIFO:
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(mkfifo(path, 0600), 0);
        break;
    case HOSTILE_OVERSIZED:
        ck_assert_ptr_nonnull(f = fopen(path, "a"));
        for (int i = 0; i < 16384; i++)
            fputs("# a comment line of sixty-four bytes, padded out to that length\n", f);
        ck_assert_int_eq(fclose(f), 0);
        break;
    case HOSTILE_FOREIGN:
        ck_assert_int_eq(chown(path, 65534, 65534), 0); /* nobody:nogroup */
        break;
    case HOSTILE_WRITABLE:
        ck_assert_int_eq(chmod(path, 0666), 0);
        break;
    case HOSTILE_ABSURD_ROWS:
    case HOSTILE_ABSURD_BLOCKS: {
        clattn_context *probe = context();
        snprintf(line, sizeof line, "%s: %s\n", class_key,
                 absurd_tiles(probe, kind == HOSTILE_ABSURD_BLOCKS));
        clattn_context_destroy(probe);
        write_text(path, line);
        break;
    }
    case HOSTILES: break;
    }
    signal(SIGALRM, hang);
    alarm(120); /* the rules' kernel builds take seconds; absurd tiles take minutes */
    const double start = now_s();
    clattn_context *ctx = context();
    const double created = now_s() - start;
    char message[1024];
    snprintf(message, sizeof message, "%s", clattn_message(ctx));
    char *text = run_and_check(ctx, p);
    alarm(0);
    ck_assert_msg(created < 1.0, "%s: context creation took %.2f s", names[kind], created);
    /* a file refused whole is reported by the context (attn-bench prints it) */
    if (kind < HOSTILE_ABSURD_ROWS)
        ck_assert_msg(strstr(message, "tuning file not used"), "%s: the context says '%s'",
                      names[kind], message);
    ck_assert_msg(strstr(text, "from the device's limits") && !strstr(text, "measured by"),
                  "%s: the plan did not use the rules' tiles:\n%s", names[kind], text);
    ck_assert_msg(strstr(text, kind < HOSTILE_ABSURD_ROWS ? "the tuning file was not read"
                                                        : "are not among those clattn_tune tries"),
                  "%s: the plan does not say why the tuning file's tiles were not used:\n%s",
                  names[kind], text);
    free(text);
    clattn_context_destroy(ctx);
    clattn_problem_destroy(p);
    ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/* The tuning file shares the kernel cache's directory, and its refusal: a directory reached
 * through a symbolic link is not used for either. */
START_TEST(tuning_file_in_refused_directory)
{
    clattn_problem *p = problem();
    char class_key[96], link[sizeof cache + 8];
    store_other_tiles(p, class_key);
    snprintf(link, sizeof link, "%s-link", cache);
    ck_assert_int_eq(symlink(cache, link), 0);
    setenv("CLATTN_CACHE_DIR", link, 1);
    clattn_context *ctx = context(); /* reads the tuning file, or not */
    setenv("CLATTN_CACHE_DIR", cache, 1);
    ck_assert_int_eq(unlink(link), 0);
    ck_assert_msg(strstr(clattn_message(ctx), "kernel cache off"), "the context says '%s'",
                  clattn_message(ctx));
    char *text = run_and_check(ctx, p);
    ck_assert_msg(strstr(text, "from the device's limits") && strstr(text, "not read"),
                  "tiles from a tuning file in a refused directory:\n%s", text);
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

/* A problem whose calls pass tensors of their own (a mask, ALiBi slopes, sink logits, starts
 * per entry) is measured as the plain problem of its shape, and one with a quantized cache on
 * blocks of that type: the rules' plan runs, with a time (it once reported -1 ms and every
 * candidate as failing, and returned success). */
START_TEST(tune_takes_per_call_tensors_and_cache_types)
{
    clattn_context *ctx = context();
    static char report[32768];
    for (int k = 0; k < 2; k++) {
        clattn_problem *p = problem();
        if (k == 0) {
            clattn_problem_set(p, CLATTN_PARAM_MASK, CLATTN_MASK_F16);
            clattn_problem_set(p, CLATTN_PARAM_ALIBI, CLATTN_ALIBI_PER_ENTRY);
            clattn_problem_set(p, CLATTN_PARAM_SINKS, 1);
            clattn_problem_set(p, CLATTN_PARAM_POSITIONS, CLATTN_POSITIONS_PER_ENTRY);
        } else {
            clattn_problem_set(p, CLATTN_PARAM_KV_DTYPE, CLATTN_DTYPE_Q8_0);
        }
        ck_assert_msg(clattn_tune(ctx, p, report, sizeof report) == CLATTN_SUCCESS, "%s",
                      clattn_message(ctx));
        const char *rules = strstr(report, "(rules from the device's limits)");
        ck_assert_ptr_nonnull(rules);
        const double ms = strtod(rules + strlen("(rules from the device's limits)"), NULL);
        ck_assert_msg(ms > 0, "case %d: the rules' plan timed %g ms\n%s", k, ms, report);
        clattn_problem_destroy(p);
    }
    clattn_context_destroy(ctx);
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
    tcase_add_loop_test(tc, hostile_tuning_file, 0, HOSTILES);
    tcase_add_test(tc, tuning_file_in_refused_directory);
    tcase_add_test(tc, tune_measures_and_reports);
    tcase_add_test(tc, tune_takes_per_call_tensors_and_cache_types);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (skipped)
        fprintf(stderr, "%d check(s) SKIPPED, see above\n", skipped);
    char command[512];
    snprintf(command, sizeof command, "rm -rf '%s'", cache);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", cache);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
