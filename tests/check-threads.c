/* The thread contract of include/clattn.h: separate contexts may be used from separate threads
 * at once, on the same device. Eight threads, each with its own context, plan the same
 * problems at the same moment, so that the same kernels are built concurrently and the
 * on-disk program cache (pointed at a new, empty folder) is first written by all eight at
 * once; a second round loads what the first stored, again all at once. Every result is
 * compared with the reference. The process's first OpenCL call is made by the eight threads at
 * once (the harness counts devices in a child process), so the ICD loader's start-up is raced
 * too. .ci/trust runs this under ThreadSanitizer. Eight, not four: CLBlast 1.5's race on its
 * program cache (lib/naive_clblast.c) showed in one CI run of four and in half the runs of twelve.
 *
 * Check's assertions are not thread-safe: workers only record what went wrong, and the main
 * thread asserts. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "temp_dir.h"

enum { THREADS = 8, ALGOS = 3, ROUNDS = 2 };

static const clattn_algorithm algorithms[ALGOS] = {CLATTN_ALGO_NAIVE, CLATTN_ALGO_TILED,
                                                   CLATTN_ALGO_WINDOWED};

/* Read by every worker, written by none. */
typedef struct inputs {
    clattn_problem *problems[ALGOS];
    void *q, *k, *v;
    float *o_ref, *lse_ref;
    size_t o_bytes, rows;
    pthread_barrier_t start;
} inputs;

typedef struct worker {
    inputs *in;
    pthread_t thread;
    char error[512]; /* "" when everything agreed */
} worker;

static void run_all(worker *w, clattn_context *ctx, void *o, float *lse)
{
    const inputs *in = w->in;
    for (int a = 0; a < ALGOS; a++) {
        clattn_plan *plan = NULL;
        clattn_status st = clattn_plan_create(ctx, in->problems[a], &plan);
        if (!st)
            st = clattn_run_host(plan, in->q, in->k, in->v, o, lse);
        double err = 0, lse_err = 0;
        int passed = 0;
        if (!st)
            st = clattn_compare(in->problems[a], o, in->o_ref, lse, in->lse_ref, &err, &lse_err,
                                &passed);
        clattn_plan_destroy(plan);
        if (st) {
            snprintf(w->error, sizeof w->error, "algorithm %d: %s: %s", (int)algorithms[a],
                     clattn_status_string(st), clattn_message(ctx));
            return;
        }
        if (!passed) {
            snprintf(w->error, sizeof w->error, "algorithm %d: error %g, LSE error %g",
                     (int)algorithms[a], err, lse_err);
            return;
        }
    }
}

static void *work(void *arg)
{
    worker *w = arg;
    clattn_context *ctx = NULL;
    void *o = malloc(w->in->o_bytes);
    float *lse = malloc(w->in->rows * sizeof *lse);
    clattn_status st = clattn_context_create(test_device(), &ctx);
    if (st)
        snprintf(w->error, sizeof w->error, "context: %s: %s", clattn_status_string(st),
                 clattn_message(NULL)); /* the message is per thread: this one's */
    else if (!o || !lse)
        snprintf(w->error, sizeof w->error, "out of host memory");
    pthread_barrier_wait(&w->in->start); /* everyone plans at the same moment */
    if (!w->error[0])
        run_all(w, ctx, o, lse);
    clattn_context_destroy(ctx);
    free(o);
    free(lse);
    return NULL;
}

static void inputs_open(inputs *in)
{
    attn_case c = case_default();
    c.batch = 2;
    c.heads = 4;
    c.kv_heads = 2;
    c.seq_q = c.seq_kv = 45;
    c.head_dim = 48;
    c.causal = 1;
    c.window_left = 16; /* one reference for every algorithm, windowed included */
    for (int a = 0; a < ALGOS; a++)
        in->problems[a] = case_problem(&c, algorithms[a]);
    size_t bytes[4];
    for (int t = 0; t < 4; t++)
        ck_assert_int_eq(clattn_problem_tensor_bytes(in->problems[0], (clattn_tensor)t, &bytes[t]),
                         CLATTN_SUCCESS);
    in->q = random_tensor(CLATTN_DTYPE_F32, bytes[0] / 4, 1.0f, 41);
    in->k = random_tensor(CLATTN_DTYPE_F32, bytes[1] / 4, 1.0f, 42);
    in->v = random_tensor(CLATTN_DTYPE_F32, bytes[2] / 4, 1.0f, 43);
    in->o_bytes = bytes[3];
    in->rows = (size_t)c.batch * (size_t)c.heads * (size_t)c.seq_q;
    in->o_ref = malloc(bytes[3]);
    in->lse_ref = malloc(in->rows * sizeof *in->lse_ref);
    ck_assert_int_eq(clattn_reference(in->problems[0], in->q, in->k, in->v, in->o_ref,
                                      in->lse_ref),
                     CLATTN_SUCCESS);
}

static void inputs_close(inputs *in)
{
    for (int a = 0; a < ALGOS; a++)
        clattn_problem_destroy(in->problems[a]);
    free(in->q);
    free(in->k);
    free(in->v);
    free(in->o_ref);
    free(in->lse_ref);
}

START_TEST(contexts_in_parallel_threads)
{
    /* Set before any thread starts: getenv is safe against nothing but concurrent setenv. */
    char *cache = temp_dir_create();
    setenv("CLATTN_CACHE_DIR", cache, 1);
    inputs in;
    inputs_open(&in);
    for (int round = 0; round < ROUNDS; round++) {
        worker w[THREADS] = {{0}};
        ck_assert_int_eq(pthread_barrier_init(&in.start, NULL, THREADS), 0);
        for (int t = 0; t < THREADS; t++) {
            w[t].in = &in;
            ck_assert_int_eq(pthread_create(&w[t].thread, NULL, work, &w[t]), 0);
        }
        for (int t = 0; t < THREADS; t++)
            ck_assert_int_eq(pthread_join(w[t].thread, NULL), 0);
        pthread_barrier_destroy(&in.start);
        for (int t = 0; t < THREADS; t++)
            ck_assert_msg(!w[t].error[0], "round %d, thread %d: %s", round, t, w[t].error);
    }
    inputs_close(&in);
    unsetenv("CLATTN_CACHE_DIR");
    temp_dir_remove(cache);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, contexts_in_parallel_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 1);
}
