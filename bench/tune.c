#include "tune.h"

#include <stdio.h>
#include <stdlib.h>

#include "diag.h"

/* The sweep's shapes, long enough that a block of keys and rows are what they will be at
 * every length the sweep runs. */
static clattn_problem *sweep_class(int head_dim, int windowed)
{
    clattn_problem *p;
    if (clattn_problem_create(&p))
        return NULL;
    clattn_problem_set(p, CLATTN_PARAM_HEADS, 8);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, 2048);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_KV, 2048);
    clattn_problem_set(p, CLATTN_PARAM_HEAD_DIM, head_dim);
    if (windowed) {
        clattn_problem_set(p, CLATTN_PARAM_CAUSAL, 1);
        clattn_problem_set(p, CLATTN_PARAM_WINDOW_LEFT, 256);
        clattn_problem_set(p, CLATTN_PARAM_WINDOW_RIGHT, 0);
        clattn_problem_set(p, CLATTN_PARAM_ALGORITHM, CLATTN_ALGO_WINDOWED);
    } else {
        clattn_problem_set(p, CLATTN_PARAM_ALGORITHM, CLATTN_ALGO_TILED);
    }
    return p;
}

/* clattn_tune keeps Q, K, V and O of the problem on the device, each made from a host copy
 * that it frees once uploaded: checked before it allocates any. */
static int check_memory(struct bench_session *s, const clattn_problem *p)
{
    struct memory_need need = {.what = "clattn_tune's Q, K, V and O"};
    for (int t = CLATTN_TENSOR_Q; t <= CLATTN_TENSOR_O; t++) {
        size_t bytes = 0;
        clattn_status st = clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes);
        if (st)
            return fail_clattn(NULL, st, "sizing the tensors");
        need.device = memory_add(need.device, bytes);
        if (bytes > need.largest)
            need.largest = need.host = bytes;
    }
    return session_check_memory(s, &need);
}

static int tune_one(struct bench_session *s, const clattn_problem *p)
{
    /* one line per candidate: a few dozen candidates fit easily */
    static char report[65536];
    int rc = check_memory(s, p);
    if (rc)
        return rc;
    fprintf(stderr, "tuning (each candidate is a kernel build; this takes a while)...\n");
    clattn_status st = clattn_tune(s->ctx, p, report, sizeof report);
    if (st)
        return fail_clattn(s->ctx, st, "tuning");
    fputs(report, stdout);
    fflush(stdout);
    return 0;
}

int tune_run(struct bench_session *s, const clattn_problem *problem)
{
    if (problem)
        return tune_one(s, problem);
    static const struct { int head_dim, windowed; } classes[] = {{64, 0}, {128, 0}, {64, 1}};
    for (size_t i = 0; i < sizeof classes / sizeof *classes; i++) {
        clattn_problem *p = sweep_class(classes[i].head_dim, classes[i].windowed);
        if (!p)
            return fail_host_memory();
        int rc = tune_one(s, p);
        clattn_problem_destroy(p);
        if (rc)
            return rc;
    }
    return 0;
}
