/* Positions given per call (CLATTN_POSITIONS_PER_CALL, docs/semantics.md "Positions") on the
 * device: every algorithm against the reference, on odd shapes, with causal masks and windows
 * that the starts shift onto, under and past the keys. This is what chunked prefill and one
 * shard of attention spread over devices (libclattn-mpi's ring) ask of a call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define OK(call) ck_assert_msg((call) == CLATTN_SUCCESS, "%s: %s", #call, clattn_message(NULL))

/* The case with rows at q_start + i and keys at k_start + j, through clattn_enqueue_args,
 * against clattn_reference_args. */
static void check_positioned(const attn_case *c, clattn_algorithm algo, int64_t q_start,
                             int64_t k_start)
{
    clattn_context *ctx = test_context();
    clattn_problem *p = case_problem(c, algo);
    OK(clattn_problem_set(p, CLATTN_PARAM_POSITIONS, CLATTN_POSITIONS_PER_CALL));
    const size_t esize = clattn_dtype_size(c->dtype);
    size_t bytes[4];
    for (int t = 0; t < 4; t++)
        OK(clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes[t]));
    void *host[3];
    for (int t = 0; t < 3; t++)
        host[t] = random_tensor(c->dtype, bytes[t] / esize, 1.0f, (unsigned)(t + 1));
    const size_t rows = (size_t)c->batch * (size_t)c->heads * (size_t)c->seq_q;
    float *o_ref = malloc(bytes[3] / esize * sizeof(float)), *lse_ref = malloc(rows * 4);
    float *lse = malloc(rows * 4);
    void *o = malloc(bytes[3]);
    memset(o_ref, 0, bytes[3] / esize * sizeof(float));

    clattn_args *args;
    OK(clattn_args_create(&args));
    OK(clattn_args_set_positions(args, q_start, k_start));
    const clattn_arg names[3] = {CLATTN_ARG_Q, CLATTN_ARG_K, CLATTN_ARG_V};
    for (int t = 0; t < 3; t++)
        OK(clattn_args_set_host(args, names[t], host[t]));
    OK(clattn_reference_args(p, args, o_ref, lse_ref));

    cl_command_queue queue;
    clattn_context_get_cl(ctx, NULL, NULL, &queue);
    cl_mem mem[5];
    for (int t = 0; t < 3; t++)
        mem[t] = device_copy(bytes[t], host[t]);
    mem[3] = device_copy(bytes[3], NULL);
    mem[4] = device_copy(rows * 4, NULL);
    const clattn_arg all[5] = {CLATTN_ARG_Q, CLATTN_ARG_K, CLATTN_ARG_V, CLATTN_ARG_O,
                               CLATTN_ARG_LSE};
    for (int t = 0; t < 5; t++)
        OK(clattn_args_set_buffer(args, all[t], mem[t], 0));
    clattn_plan *plan = NULL;
    clattn_status st = clattn_plan_create(ctx, p, &plan);
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: plan: %s", case_name(c), clattn_message(ctx));
    st = clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL);
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: enqueue: %s", case_name(c), clattn_message(ctx));
    ck_assert_int_eq(clEnqueueReadBuffer(queue, mem[3], CL_TRUE, 0, bytes[3], o, 0, NULL, NULL),
                     CL_SUCCESS);
    ck_assert_int_eq(clEnqueueReadBuffer(queue, mem[4], CL_TRUE, 0, rows * 4, lse, 0, NULL, NULL),
                     CL_SUCCESS);
    double err, lse_err;
    int passed;
    OK(clattn_compare(p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed));
    ck_assert_msg(passed, "%s at q_start %lld, k_start %lld: O error %g, LSE error %g\n%s",
                  case_name(c), (long long)q_start, (long long)k_start, err, lse_err,
                  clattn_plan_describe(plan));
    for (int t = 0; t < 5; t++)
        clReleaseMemObject(mem[t]);
    clattn_plan_destroy(plan);
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
    for (int t = 0; t < 3; t++)
        free(host[t]);
    free(o);
    free(o_ref);
    free(lse);
    free(lse_ref);
}

static const struct {
    int batch, heads, kv_heads, seq_q, seq_kv, head_dim, causal, wl, wr;
    clattn_dtype dtype;
} shapes[] = {
    {1, 2, 1, 37, 53, 40, 1, -1, -1, CLATTN_DTYPE_F32},
    {2, 4, 2, 29, 70, 64, 1, 9, 0, CLATTN_DTYPE_F16},   /* a window narrower than the keys */
    {1, 3, 3, 50, 33, 24, 0, 5, 7, CLATTN_DTYPE_BF16},  /* two-sided window */
    {2, 2, 2, 7, 300, 32, 1, -1, -1, CLATTN_DTYPE_F32}, /* decode-like */
    {1, 8, 1, 3, 129, 64, 1, 40, 0, CLATTN_DTYPE_F16},  /* MQA, few rows */
};

/* (q_start, k_start) pairs: the two alignments, keys in the past (a ring's earlier shard),
 * keys in the future (all rows see nothing), and a shift that cuts through the keys. */
static void starts(int nq, int nk, int64_t out[5][2])
{
    const int64_t pairs[5][2] = {{nk > nq ? nk - nq : 0, nk > nq ? 0 : nq - nk},
                                 {0, 0},
                                 {1000 + nk, 1000},
                                 {10, 10 + nq + 5},
                                 {500 + nk / 2, 500}};
    memcpy(out, pairs, sizeof pairs);
}

START_TEST(positions_per_call_match_the_reference)
{
    const clattn_algorithm algo = (clattn_algorithm)_i;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        if (algo == CLATTN_ALGO_DECODE && shapes[s].seq_q > 16)
            continue; /* decode's plans take few rows; the others take every shape */
        attn_case c = case_default();
        c.batch = shapes[s].batch;
        c.heads = shapes[s].heads;
        c.kv_heads = shapes[s].kv_heads;
        c.seq_q = shapes[s].seq_q;
        c.seq_kv = shapes[s].seq_kv;
        c.head_dim = shapes[s].head_dim;
        c.causal = shapes[s].causal;
        c.window_left = shapes[s].wl;
        c.window_right = shapes[s].wr;
        c.dtype = shapes[s].dtype;
        if (algo == CLATTN_ALGO_WINDOWED && !(c.window_left >= 0 && (c.causal || c.window_right >= 0)))
            continue; /* windowed plans need a window that bounds the work */
        int64_t st[5][2];
        starts(c.seq_q, c.seq_kv, st);
        for (int k = 0; k < 5; k++)
            check_positioned(&c, algo, st[k][0], st[k][1]);
    }
}
END_TEST

/* The alignments' plain calls refuse a problem that takes positions, and the call refuses
 * starts whose last positions pass 2^31 - 1. */
START_TEST(positions_need_the_call_that_takes_them)
{
    attn_case c = case_default();
    c.seq_q = 4;
    c.seq_kv = 8;
    c.head_dim = 16;
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_TILED);
    OK(clattn_problem_set(p, CLATTN_PARAM_POSITIONS, CLATTN_POSITIONS_PER_CALL));
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), p, &plan));
    cl_mem m = device_copy(4096, NULL);
    REFUSED(clattn_enqueue(plan, NULL, m, 0, m, 0, m, 0, m, 2048, NULL, 0, 0, NULL, NULL),
            "clattn_enqueue_args");
    clattn_args *args;
    OK(clattn_args_create(&args));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_Q, m, 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_K, m, 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_V, m, 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_O, m, 2048));
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "none were given");
    OK(clattn_args_set_positions(args, 2147483647 - 2, 0));
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "2^31 - 1");
    clReleaseMemObject(m);
    clattn_args_destroy(args);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("positions");
    TCase *tc = tcase_create("per-call");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, positions_per_call_match_the_reference, CLATTN_ALGO_NAIVE,
                        CLATTN_ALGO_DECODE + 1);
    tcase_add_test(tc, positions_need_the_call_that_takes_them);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 1);
}
