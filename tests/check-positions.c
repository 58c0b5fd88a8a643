/* Positions given per call (CLATTN_POSITIONS_PER_CALL, docs/semantics.md "Positions") on the
 * device: every algorithm against the reference, on odd shapes, with causal masks and windows
 * that the starts shift onto, under and past the keys. This is what chunked prefill and one
 * shard of attention spread over devices (libclattn-mpi's ring) ask of a call. Then positions
 * per entry (starts in device buffers, impossible ones making their entry NaN) and sink tokens
 * beside windows, which compare positions too: with ALiBi, sink logits and KV caches, and
 * where the sink tokens lie tiles or decode splits away from the window. */
#include <math.h>
#include <stdio.h>
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
        if (!algorithm_takes_shape(algo, c.seq_q, c.causal, c.window_left, c.window_right))
            continue;
        int64_t st[5][2];
        starts(c.seq_q, c.seq_kv, st);
        for (int k = 0; k < 5; k++)
            check_positioned(&c, algo, st[k][0], st[k][1]);
    }
}
END_TEST

/* The alignments' plain calls refuse a problem that takes positions, and the call refuses
 * starts whose last positions pass 2^31 - 1. */
/* Positions per entry and sink tokens (docs/semantics.md, "Positions" and "Extensions"),
 * alone and with ALiBi, sink logits and KV caches (ragged, or paged by 16 with the block table
 * reversed): one case, through clattn_enqueue_args against clattn_reference_args. */
typedef struct pos_case {
    int batch, heads, kv_heads, seq_q, seq_kv, head_dim, causal, wl, wr;
    clattn_align align;
    clattn_dtype dtype;
    int sink_tokens;
    clattn_positions positions;
    int64_t q_start[4], k_start[4]; /* per call: [0]; per entry: one per entry (int32) */
    int alibi_sinks;                /* ggml's slopes (max_bias 8) and a sink logit per head */
    int cache;                      /* 0: K and V; 1: lengths `lens`; 2: the same, paged */
    int32_t lens[4];
} pos_case;

enum { PLAIN = 0, RAGGED = 1, PAGED = 2 };
#define PAGE 16

static const char *pos_name(const pos_case *pc, const attn_case *c)
{
    static char name[512];
    snprintf(name, sizeof name,
             "%s, %d sink tokens, positions %d (q %lld %lld .., k %lld %lld ..), alibi+sinks %d, "
             "cache %d",
             case_name(c), pc->sink_tokens, (int)pc->positions, (long long)pc->q_start[0],
             (long long)pc->q_start[1], (long long)pc->k_start[0], (long long)pc->k_start[1],
             pc->alibi_sinks, pc->cache);
    return name;
}

/* Runs the case; returns a bit per entry whose rows the reference made NaN, for the callers
 * that give impossible starts. */
static unsigned check_pos(const pos_case *pc, clattn_algorithm algo)
{
    attn_case c = case_default();
    c.batch = pc->batch;
    c.heads = pc->heads;
    c.kv_heads = pc->kv_heads;
    c.seq_q = pc->seq_q;
    c.seq_kv = pc->seq_kv;
    c.head_dim = pc->head_dim;
    c.causal = pc->causal;
    c.window_left = pc->wl;
    c.window_right = pc->wr;
    c.align = pc->align;
    c.dtype = pc->dtype;
    clattn_context *ctx = test_context();
    clattn_problem *p = case_problem(&c, algo);
    const int pages_per_seq = (pc->seq_kv + PAGE - 1) / PAGE;
    const int num_pages = pc->batch * pages_per_seq + 3;
    OK(clattn_problem_set(p, CLATTN_PARAM_SINK_TOKENS, pc->sink_tokens));
    OK(clattn_problem_set(p, CLATTN_PARAM_POSITIONS, pc->positions));
    OK(clattn_problem_set(p, CLATTN_PARAM_ALIBI,
                          pc->alibi_sinks ? CLATTN_ALIBI_PER_HEAD : CLATTN_ALIBI_NONE));
    OK(clattn_problem_set(p, CLATTN_PARAM_SINKS, pc->alibi_sinks));
    if (pc->cache == PAGED) {
        OK(clattn_problem_set(p, CLATTN_PARAM_PAGE_SIZE, PAGE));
        OK(clattn_problem_set(p, CLATTN_PARAM_NUM_PAGES, num_pages));
    }
    const size_t esize = clattn_dtype_size(c.dtype);
    size_t bytes[4];
    for (int t = 0; t < 4; t++)
        OK(clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes[t]));
    void *host[3];
    for (int t = 0; t < 3; t++)
        host[t] = random_tensor(c.dtype, bytes[t] / esize, 1.0f, (unsigned)(t + 3));
    float slopes[16], sinks[16];
    OK(clattn_alibi_slopes(c.heads, 8.0, slopes));
    for (int h = 0; h < c.heads; h++)
        sinks[h] = (float)(h % 5) - 2.0f;
    int32_t q_starts[4], k_starts[4], table[4 * 512];
    for (int b = 0; b < c.batch; b++) {
        q_starts[b] = (int32_t)pc->q_start[b];
        k_starts[b] = (int32_t)pc->k_start[b];
    }
    for (int e = 0; e < c.batch * pages_per_seq; e++)
        table[e] = num_pages - 1 - e; /* the pool backwards */
    const size_t rows = (size_t)c.batch * (size_t)c.heads * (size_t)c.seq_q;
    float *o_ref = calloc(bytes[3] / esize, sizeof(float)), *lse_ref = malloc(rows * 4);
    float *lse = malloc(rows * 4);
    void *o = malloc(bytes[3]);

    clattn_args *args;
    OK(clattn_args_create(&args));
    if (pc->positions == CLATTN_POSITIONS_PER_CALL)
        OK(clattn_args_set_positions(args, pc->q_start[0], pc->k_start[0]));
    const int per_entry = pc->positions == CLATTN_POSITIONS_PER_ENTRY;
    /* every argument the case has, host array and size */
    const struct {
        clattn_arg arg;
        const void *data;
        size_t bytes;
    } given[] = {
        {CLATTN_ARG_Q, host[0], bytes[0]},
        {CLATTN_ARG_K, host[1], bytes[1]},
        {CLATTN_ARG_V, host[2], bytes[2]},
        {CLATTN_ARG_ALIBI_SLOPES, pc->alibi_sinks ? slopes : NULL, (size_t)c.heads * 4},
        {CLATTN_ARG_SINKS, pc->alibi_sinks ? sinks : NULL, (size_t)c.heads * 4},
        {CLATTN_ARG_Q_START, per_entry ? q_starts : NULL, (size_t)c.batch * 4},
        {CLATTN_ARG_K_START, per_entry ? k_starts : NULL, (size_t)c.batch * 4},
        {CLATTN_ARG_CACHE_SEQLENS, pc->cache ? pc->lens : NULL, (size_t)c.batch * 4},
        {CLATTN_ARG_BLOCK_TABLE, pc->cache == PAGED ? table : NULL,
         (size_t)(c.batch * pages_per_seq) * 4},
    };
    const size_t count = sizeof given / sizeof given[0];
    for (size_t a = 0; a < count; a++)
        OK(clattn_args_set_host(args, given[a].arg, given[a].data));
    OK(clattn_reference_args(p, args, o_ref, lse_ref));

    cl_command_queue queue;
    clattn_context_get_cl(ctx, NULL, NULL, &queue);
    cl_mem mem[16] = {NULL};
    for (size_t a = 0; a < count; a++)
        if (given[a].data) {
            mem[a] = device_copy(given[a].bytes, given[a].data);
            OK(clattn_args_set_buffer(args, given[a].arg, mem[a], 0));
        }
    cl_mem out = device_copy(bytes[3], NULL), lse_mem = device_copy(rows * 4, NULL);
    OK(clattn_args_set_buffer(args, CLATTN_ARG_O, out, 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_LSE, lse_mem, 0));
    clattn_plan *plan = NULL;
    clattn_status st = clattn_plan_create(ctx, p, &plan);
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: plan: %s", pos_name(pc, &c), clattn_message(ctx));
    if (algo == CLATTN_ALGO_DECODE && c.seq_kv > 3000) { /* the sink tokens in another split */
        int64_t splits;
        OK(clattn_plan_get(plan, CLATTN_PLAN_SPLITS, &splits));
        ck_assert_msg(splits > 1, "%s: decode did not split its keys\n%s", pos_name(pc, &c),
                      clattn_plan_describe(plan));
    }
    st = clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL);
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: enqueue: %s", pos_name(pc, &c), clattn_message(ctx));
    ck_assert_int_eq(clEnqueueReadBuffer(queue, out, CL_TRUE, 0, bytes[3], o, 0, NULL, NULL),
                     CL_SUCCESS);
    ck_assert_int_eq(clEnqueueReadBuffer(queue, lse_mem, CL_TRUE, 0, rows * 4, lse, 0, NULL, NULL),
                     CL_SUCCESS);
    double err, lse_err;
    int passed;
    OK(clattn_compare(p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed));
    ck_assert_msg(passed, "%s: O error %g, LSE error %g\n%s", pos_name(pc, &c), err, lse_err,
                  clattn_plan_describe(plan));
    unsigned nan_entries = 0;
    for (int b = 0; b < c.batch; b++)
        if (isnan(lse_ref[(size_t)b * (size_t)c.heads * (size_t)c.seq_q]))
            nan_entries |= 1u << b;
    for (size_t a = 0; a < count; a++)
        if (mem[a])
            clReleaseMemObject(mem[a]);
    clReleaseMemObject(out);
    clReleaseMemObject(lse_mem);
    clattn_plan_destroy(plan);
    clattn_args_destroy(args);
    clattn_problem_destroy(p);
    for (int t = 0; t < 3; t++)
        free(host[t]);
    free(o);
    free(o_ref);
    free(lse);
    free(lse_ref);
    return nan_entries;
}

/* Whether `algo` plans the case: decode takes few rows, windowed a window that bounds the
 * work, naive no cache. */
static int plans(const pos_case *pc, clattn_algorithm algo)
{
    if (algo == CLATTN_ALGO_DECODE && pc->seq_q > 16)
        return 0;
    if (algo == CLATTN_ALGO_WINDOWED && !(pc->wl >= 0 && (pc->causal || pc->wr >= 0)))
        return 0;
    return !(algo == CLATTN_ALGO_NAIVE && pc->cache);
}

#define BR CLATTN_ALIGN_BOTTOM_RIGHT
#define TL CLATTN_ALIGN_TOP_LEFT
#define F32 CLATTN_DTYPE_F32
#define F16 CLATTN_DTYPE_F16
#define BF16 CLATTN_DTYPE_BF16
#define ALIGNED CLATTN_POSITIONS_ALIGNED
#define CALL CLATTN_POSITIONS_PER_CALL
#define ENTRY CLATTN_POSITIONS_PER_ENTRY

/* Starts that differ between entries: a chunk of a long prefill beside one at the start,
 * keys ahead of every row (rows that see nothing), GQA and MQA, every dtype. */
static const pos_case per_entry_cases[] = {
    {2, 4, 2, 29, 70, 64, 1, 9, 0, BR, F16, 0, ENTRY, {50, 5}, {10, 0}, 0, PLAIN, {0}},
    {3, 3, 3, 50, 33, 24, 0, 5, 7, TL, BF16, 0, ENTRY, {0, 1000, 10}, {0, 990, 70}, 0, PLAIN,
     {0}},
    {2, 4, 1, 37, 53, 40, 1, -1, -1, BR, F32, 0, ENTRY, {16, 0}, {0, 0}, 1, PLAIN, {0}},
    {2, 8, 1, 3, 300, 64, 1, 40, 0, BR, F32, 0, ENTRY, {297, 100}, {0, 0}, 0, PLAIN, {0}},
    {2, 6, 2, 19, 45, 32, 1, 12, 3, TL, F16, 0, ENTRY, {700, 3}, {690, 30}, 1, PLAIN, {0}},
    /* a ragged cache: the starts place rows and keys, the lengths count the keys */
    {2, 4, 2, 2, 700, 32, 1, 100, 0, BR, F32, 0, ENTRY, {650, 20}, {0, 10}, 1, RAGGED,
     {690, 417}},
};

START_TEST(positions_per_entry_match_the_reference)
{
    const clattn_algorithm algo = (clattn_algorithm)_i;
    for (size_t k = 0; k < sizeof per_entry_cases / sizeof per_entry_cases[0]; k++)
        if (plans(&per_entry_cases[k], algo))
            check_pos(&per_entry_cases[k], algo);
}
END_TEST

/* Starts the host cannot check: a negative one, and last positions past 2^31 - 1 on either
 * side, make their entry's rows NaN, and only theirs. */
START_TEST(impossible_starts_make_their_entry_nan)
{
    const clattn_algorithm algo = (clattn_algorithm)_i;
    const pos_case bad[] = {
        {4, 4, 2, 7, 40, 32, 1, -1, -1, BR, F32, 0, ENTRY, {-1, 5, 2147483645, 3},
         {0, 0, 0, 2147483647 - 20}, 0, PLAIN, {0}},
        {4, 2, 2, 3, 40, 16, 1, 8, 0, BR, F16, 6, ENTRY, {10, 50, 2147483647 - 1, 2147483647 - 3},
         {0, -7, 0, 0}, 1, PLAIN, {0}},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        if (plans(&bad[k], algo)) {
            const unsigned nan = check_pos(&bad[k], algo);
            ck_assert_msg(nan == (k == 0 ? 0xdu : 0x6u), "NaN entries %#x", nan);
        }
}
END_TEST

/* Sink tokens beside windows: overlapping the window and apart from it, S past the keys and
 * not a multiple of any tile, with positions per call and per entry, ALiBi and sink logits,
 * and long keys where the sink tokens are tiles (or decode splits) away from the window. */
static const pos_case sink_cases[] = {
    {1, 4, 2, 100, 100, 32, 1, 16, 0, BR, F32, 4, ALIGNED, {0}, {0}, 0, PLAIN, {0}},
    {2, 3, 3, 61, 97, 40, 1, 7, 0, TL, F16, 20, ALIGNED, {0}, {0}, 0, PLAIN, {0}},
    {1, 2, 1, 45, 30, 24, 1, 5, 0, BR, BF16, 50, ALIGNED, {0}, {0}, 1, PLAIN, {0}},
    {2, 4, 2, 70, 200, 64, 0, 10, 10, TL, F32, 37, ALIGNED, {0}, {0}, 0, PLAIN, {0}},
    {1, 2, 2, 300, 300, 64, 1, 32, 0, BR, F32, 5, ALIGNED, {0}, {0}, 0, PLAIN, {0}},
    {1, 4, 2, 4, 20, 32, 1, 8, 0, BR, F32, 6, ALIGNED, {0}, {0}, 0, PLAIN, {0}},
    {1, 4, 4, 33, 80, 32, 1, 12, 0, BR, F32, 8, CALL, {60}, {5}, 0, PLAIN, {0}},
    {1, 4, 2, 33, 80, 32, 1, 12, 0, BR, BF16, 8, CALL, {300}, {200}, 1, PLAIN, {0}},
    {1, 4, 2, 3, 500, 32, 1, 40, 0, BR, F16, 9, CALL, {490}, {3}, 1, PLAIN, {0}},
    {2, 4, 2, 40, 120, 32, 1, 16, 0, BR, F16, 10, ENTRY, {80, 200}, {0, 4}, 1, PLAIN, {0}},
    {2, 8, 2, 2, 3001, 64, 1, 300, 0, BR, F32, 48, ALIGNED, {0}, {0}, 0, PLAIN, {0}},
    {2, 8, 2, 2, 3001, 64, 1, 300, 0, BR, F16, 70, ALIGNED, {0}, {0}, 1, RAGGED, {2999, 1500}},
    {2, 4, 1, 1, 640, 32, 1, 100, 0, BR, F16, 20, ALIGNED, {0}, {0}, 0, PAGED, {600, 333}},
    {2, 4, 2, 3, 640, 32, 1, 64, 0, BR, F32, 17, ENTRY, {630, 300}, {0, 2}, 1, PAGED,
     {600, 333}},
};

START_TEST(sink_tokens_match_the_reference)
{
    const clattn_algorithm algo = (clattn_algorithm)_i;
    for (size_t k = 0; k < sizeof sink_cases / sizeof sink_cases[0]; k++)
        if (plans(&sink_cases[k], algo))
            check_pos(&sink_cases[k], algo);
}
END_TEST

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

/* The starts per entry are inputs of clattn_enqueue_args alone, checked like every buffer:
 * named when missing, too small or misaligned, and refused where they share bytes with O. */
START_TEST(per_entry_starts_are_checked)
{
    attn_case c = case_default();
    c.batch = 3;
    c.seq_q = 4;
    c.seq_kv = 8;
    c.head_dim = 16;
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_TILED);
    OK(clattn_problem_set(p, CLATTN_PARAM_POSITIONS, CLATTN_POSITIONS_PER_ENTRY));
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), p, &plan));
    cl_mem m = device_copy(16384, NULL), small = device_copy(8, NULL);
    clattn_args *args;
    OK(clattn_args_create(&args));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_Q, m, 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_K, m, 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_V, m, 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_O, m, 8192));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_K_START, m, 4096));
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "q_start");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_Q_START, small, 0)); /* [B]: 12 bytes */
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "q_start");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_Q_START, m, 4002)); /* not 4-aligned */
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "q_start");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_Q_START, m, 4000));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_K_START, m, 8200)); /* inside O */
    REFUSED(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), "k_start");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_K_START, m, 4096));
    OK(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL));
    clReleaseMemObject(m);
    clReleaseMemObject(small);
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
    tc = tcase_create("per-entry");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, positions_per_entry_match_the_reference, CLATTN_ALGO_NAIVE,
                        CLATTN_ALGO_DECODE + 1);
    tcase_add_loop_test(tc, impossible_starts_make_their_entry_nan, CLATTN_ALGO_NAIVE,
                        CLATTN_ALGO_DECODE + 1);
    tcase_add_test(tc, per_entry_starts_are_checked);
    suite_add_tcase(s, tc);
    tc = tcase_create("sink-tokens");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, sink_tokens_match_the_reference, CLATTN_ALGO_NAIVE,
                        CLATTN_ALGO_DECODE + 1);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 1);
}
