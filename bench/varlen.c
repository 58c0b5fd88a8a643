/* --varlen: a packed batch of sequences (a prefill, each sequence its own queries and keys)
 * run as one call over the whole batch (CLATTN_PARAM_VARLEN) and as one call per sequence on
 * the same buffers, with the ratio of their times; --check compares the packed call with the
 * CPU reference. --mask gives the packed call a mask [1, 1, longest, longest] and each
 * sequence its top-left corner (the same buffer, rows `longest` apart), which is what the
 * packed call reads for it (docs/semantics.md, "Packed variable-length batches"). */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

struct varlen_job {
    clattn_problem *base;   /* the shape flags' problem: heads, mask, dtype */
    clattn_problem *packed; /* the whole batch */
    clattn_plan *plan;      /* the packed call's */
    clattn_plan **alone;    /* per sequence: its plan, a batch of one */
    clattn_args **alone_args; /* per sequence: its rows of the packed buffers */
    int32_t *cu;            /* [B + 1]: the same bounds for queries and keys */
    void *host[4];          /* Q, K, V, and the mask (--mask) */
    cl_mem mem[6];          /* Q, K, V, O, the bounds and the mask (--mask) */
    size_t bytes[4];        /* of Q, K, V and O */
    size_t esize;           /* bytes per element of the storage type */
    size_t q_token, kv_token; /* bytes of a packed token's Q (and O) rows, and K (V) rows */
    uint64_t pairs;         /* visible (row, key) pairs over the batch */
    clattn_args *args;      /* the packed call's */
};

static void job_free(struct varlen_job *j, int count)
{
    for (int i = 0; j->alone && i < count; i++)
        clattn_plan_destroy(j->alone[i]);
    for (int i = 0; j->alone_args && i < count; i++)
        clattn_args_destroy(j->alone_args[i]);
    free(j->alone);
    free(j->alone_args);
    clattn_plan_destroy(j->plan);
    clattn_args_destroy(j->args);
    for (int t = 0; t < 6; t++)
        if (j->mem[t])
            clReleaseMemObject(j->mem[t]);
    for (int t = 0; t < 4; t++)
        free(j->host[t]);
    free(j->cu);
    clattn_problem_destroy(j->packed);
    clattn_problem_destroy(j->base);
}

static int set(clattn_problem *p, clattn_param param, int64_t value)
{
    clattn_status st = clattn_problem_set(p, param, value);
    return st ? fail_clattn(NULL, st, "setting up the packed batch") : 0;
}

/* The packed problem and one problem (and plan) per sequence; their visible pairs. */
static int plan_all(struct bench_session *s, struct varlen_job *j)
{
    const struct bench_options *opt = s->opt;
    const int n = opt->varlen_count;
    int64_t longest = 0, total = 0;
    for (int i = 0; i < n; i++) {
        j->cu[i] = (int32_t)total;
        total += opt->varlen_lens[i];
        longest = opt->varlen_lens[i] > longest ? opt->varlen_lens[i] : longest;
    }
    if (total > 2147483647)
        return fail_usage("--varlen: the lengths add up past 2147483647 (cu_seqlens are int32)");
    j->cu[n] = (int32_t)total;
    clattn_status st = clattn_problem_clone(j->base, &j->packed);
    if (st)
        return fail_clattn(NULL, st, "setting up the packed batch");
    const struct {
        clattn_param param;
        int64_t value;
    } packed[] = {
        {CLATTN_PARAM_VARLEN, 1},      {CLATTN_PARAM_BATCH, n},        {CLATTN_PARAM_SEQ_Q, longest},
        {CLATTN_PARAM_SEQ_KV, longest}, {CLATTN_PARAM_TOTAL_Q, total}, {CLATTN_PARAM_TOTAL_KV, total},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof packed / sizeof *packed && !rc; i++)
        rc = set(j->packed, packed[i].param, packed[i].value);
    double build_ms;
    if (!rc)
        rc = run_plan_create(s, j->packed, opt->algos[0], 0, &j->plan, &build_ms);
    if (!rc && !(j->alone = calloc((size_t)n, sizeof *j->alone)))
        rc = fail_host_memory();
    for (int i = 0; i < n && !rc; i++) {
        clattn_problem *one;
        if ((st = clattn_problem_clone(j->base, &one)))
            return fail_clattn(NULL, st, "setting up a sequence");
        rc = set(one, CLATTN_PARAM_BATCH, 1);
        if (!rc)
            rc = set(one, CLATTN_PARAM_SEQ_Q, opt->varlen_lens[i]);
        if (!rc)
            rc = set(one, CLATTN_PARAM_SEQ_KV, opt->varlen_lens[i]);
        /* the mask's corner: rows `longest` apart */
        if (!rc && opt->mask != BENCH_MASK_NONE &&
            (st = clattn_problem_set_strides(one, CLATTN_TENSOR_MASK, longest * longest,
                                             longest, longest * longest)))
            rc = fail_clattn(NULL, st, "setting up a sequence's mask");
        uint64_t pairs = 0;
        if (!rc && (st = clattn_problem_visible_pairs(one, &pairs)))
            rc = fail_clattn(NULL, st, "counting a sequence's pairs");
        j->pairs += pairs;
        if (!rc)
            rc = run_plan_create(s, one, opt->algos[0], 0, &j->alone[i], &build_ms);
        clattn_problem_destroy(one);
    }
    return rc;
}

/* The packed tensors on the device (Q, K, V random, the same for both ways of running). */
static int upload(struct bench_session *s, struct varlen_job *j)
{
    cl_context cl;
    clattn_status st = clattn_context_get_cl(s->ctx, &cl, NULL, NULL);
    if (st)
        return fail_clattn(s->ctx, st, "getting the OpenCL context");
    int64_t dtype, heads, kv_heads, d;
    clattn_problem_get(j->packed, CLATTN_PARAM_DTYPE, &dtype);
    clattn_problem_get(j->packed, CLATTN_PARAM_HEADS, &heads);
    clattn_problem_get(j->packed, CLATTN_PARAM_KV_HEADS, &kv_heads);
    clattn_problem_get(j->packed, CLATTN_PARAM_HEAD_DIM, &d);
    const size_t esize = j->esize = clattn_dtype_size((clattn_dtype)dtype);
    j->q_token = (size_t)(heads * d) * esize;
    j->kv_token = (size_t)((kv_heads ? kv_heads : heads) * d) * esize;
    for (int t = 0; t < 4; t++)
        if ((st = clattn_problem_tensor_bytes(j->packed, (clattn_tensor)t, &j->bytes[t])))
            return fail_clattn(NULL, st, "sizing the packed tensors");
    const int n = s->opt->varlen_count;
    const size_t cu_bytes = (size_t)(n + 1) * sizeof *j->cu;
    size_t mask_bytes = 0;
    if (s->opt->mask != BENCH_MASK_NONE &&
        (st = clattn_problem_tensor_bytes(j->packed, CLATTN_TENSOR_MASK, &mask_bytes)))
        return fail_clattn(NULL, st, "sizing the mask");
    const size_t sizes[6] = {j->bytes[0], j->bytes[1], j->bytes[2],
                             j->bytes[3], cu_bytes,    mask_bytes};
    for (int t = 0; t < 6; t++) {
        cl_int err;
        if (!sizes[t])
            continue;
        j->mem[t] = clCreateBuffer(cl, CL_MEM_READ_WRITE, sizes[t], NULL, &err);
        if (err != CL_SUCCESS)
            return fail_cl(err, "clCreateBuffer");
    }
    for (int t = 0; t < 3; t++) {
        if (!(j->host[t] = malloc(j->bytes[t])))
            return fail_host_memory();
        int rc = inputs_fill_uniform((clattn_dtype)dtype, j->host[t], j->bytes[t] / esize,
                                     (uint64_t)t + 1);
        if (rc)
            return rc;
    }
    if (mask_bytes) {
        if (!(j->host[3] = malloc(mask_bytes)))
            return fail_host_memory();
        int rc = inputs_fill_mask(s->opt->mask, j->packed, j->host[3]);
        if (rc)
            return rc;
    }
    const void *const data[6] = {j->host[0], j->host[1], j->host[2], NULL, j->cu, j->host[3]};
    for (int t = 0; t < 6; t++) {
        if (!data[t])
            continue;
        cl_int err = clEnqueueWriteBuffer(s->queue, j->mem[t], CL_TRUE, 0, sizes[t], data[t], 0,
                                          NULL, NULL);
        if (err != CL_SUCCESS)
            return fail_cl(err, "clEnqueueWriteBuffer");
    }
    if ((st = clattn_args_create(&j->args)))
        return fail_clattn(NULL, st, "creating the call's arguments");
    const clattn_arg names[6] = {CLATTN_ARG_Q, CLATTN_ARG_K, CLATTN_ARG_V, CLATTN_ARG_O,
                                 CLATTN_ARG_CU_SEQLENS_Q, CLATTN_ARG_MASK};
    for (int t = 0; t < 6; t++)
        clattn_args_set_buffer(j->args, names[t], j->mem[t], 0);
    clattn_args_set_buffer(j->args, CLATTN_ARG_CU_SEQLENS_K, j->mem[4], 0);
    /* each sequence: its rows of Q, K, V and O, and the mask's corner from element 0 */
    if (!(j->alone_args = calloc((size_t)n, sizeof *j->alone_args)))
        return fail_host_memory();
    for (int i = 0; i < n; i++) {
        if ((st = clattn_args_create(&j->alone_args[i])))
            return fail_clattn(NULL, st, "creating a sequence's arguments");
        const size_t q = (size_t)j->cu[i] * j->q_token, kv = (size_t)j->cu[i] * j->kv_token;
        const size_t off[6] = {q, kv, kv, q, 0, 0};
        for (int t = 0; t < 6; t++)
            if (t != 4)
                clattn_args_set_buffer(j->alone_args[i], names[t], j->mem[t], off[t]);
    }
    return 0;
}

/* run_enqueue_fn: the whole batch in one call */
static int enqueue_packed(struct bench_session *s, void *arg)
{
    struct varlen_job *j = arg;
    clattn_status st = clattn_enqueue_args(j->plan, NULL, j->args, 0, NULL, NULL);
    return st ? fail_clattn(s->ctx, st, "enqueueing the packed batch") : 0;
}

/* run_enqueue_fn: one call per sequence, on its rows of the packed buffers */
static int enqueue_separate(struct bench_session *s, void *arg)
{
    struct varlen_job *j = arg;
    for (int i = 0; i < s->opt->varlen_count; i++) {
        clattn_status st =
            clattn_enqueue_args(j->alone[i], NULL, j->alone_args[i], 0, NULL, NULL);
        if (st)
            return fail_clattn(s->ctx, st, "enqueueing a sequence");
    }
    return 0;
}

/* --warmup untimed and --iters timed runs; the median by the session's clock (the device
 * time of every plan that ran, summed, or the wall clock around enqueue and clFinish), and
 * the median wall clock, which counts what the calls cost the host too. */
static int time_runs(struct bench_session *s, struct varlen_job *j, int separate, double *ms,
                     double *wall_ms)
{
    const int iters = s->opt->iters;
    double *times = malloc((size_t)iters * sizeof *times);
    double *walls = malloc((size_t)iters * sizeof *walls);
    if (!times || !walls) {
        free(times);
        free(walls);
        return fail_host_memory();
    }
    int rc = 0;
    for (int i = -s->opt->warmup; i < iters && !rc; i++) {
        const double start = clock_ms();
        rc = separate ? enqueue_separate(s, j) : enqueue_packed(s, j);
        cl_int err = rc ? CL_SUCCESS : clFinish(s->queue);
        if (err != CL_SUCCESS)
            rc = fail_cl(err, "clFinish");
        const double wall = clock_ms() - start;
        double device = 0;
        for (int p = 0; p < (separate ? s->opt->varlen_count : 1) && !rc; p++) {
            double plan_ms;
            rc = run_device_time(s, separate ? j->alone[p] : j->plan, &plan_ms);
            device += plan_ms;
        }
        if (i >= 0) {
            times[i] = s->clock == BENCH_CLOCK_DEVICE ? device : wall;
            walls[i] = wall;
        }
    }
    if (!rc) {
        *ms = median(times, iters);
        *wall_ms = median(walls, iters);
    }
    free(times);
    free(walls);
    return rc;
}

/* The packed call once more with LSE, against clattn_reference_args. */
static int check_packed(struct bench_session *s, struct varlen_job *j, int *passed)
{
    int64_t heads, longest;
    clattn_problem_get(j->packed, CLATTN_PARAM_HEADS, &heads);
    clattn_problem_get(j->packed, CLATTN_PARAM_SEQ_Q, &longest);
    const size_t lse_count = (size_t)s->opt->varlen_count * (size_t)(heads * longest);
    float *lse = calloc(lse_count, 4), *lse_ref = calloc(lse_count, 4);
    float *o_ref = calloc(j->bytes[3] / j->esize, sizeof(float));
    void *o = malloc(j->bytes[3]);
    cl_context cl;
    clattn_context_get_cl(s->ctx, &cl, NULL, NULL);
    cl_int err;
    cl_mem lse_mem = clCreateBuffer(cl, CL_MEM_READ_WRITE, lse_count * 4, NULL, &err);
    int rc = lse && lse_ref && o_ref && o ? 0 : fail_host_memory();
    if (!rc && err != CL_SUCCESS)
        rc = fail_cl(err, "clCreateBuffer");
    clattn_args *host = NULL;
    clattn_status st = rc ? CLATTN_SUCCESS : clattn_args_create(&host);
    if (st)
        rc = fail_clattn(NULL, st, "creating the reference's arguments");
    if (!rc) {
        /* rows past an entry's length are written by neither: the same zeros on both sides */
        err = clEnqueueWriteBuffer(s->queue, lse_mem, CL_TRUE, 0, lse_count * 4, lse, 0, NULL,
                                   NULL);
        if (err != CL_SUCCESS)
            rc = fail_cl(err, "clEnqueueWriteBuffer");
    }
    if (!rc) {
        clattn_args_set_buffer(j->args, CLATTN_ARG_LSE, lse_mem, 0);
        rc = enqueue_packed(s, j);
        clattn_args_set_buffer(j->args, CLATTN_ARG_LSE, NULL, 0);
    }
    if (!rc && ((err = clEnqueueReadBuffer(s->queue, j->mem[3], CL_TRUE, 0, j->bytes[3], o, 0,
                                           NULL, NULL)) != CL_SUCCESS ||
                (err = clEnqueueReadBuffer(s->queue, lse_mem, CL_TRUE, 0, lse_count * 4, lse, 0,
                                           NULL, NULL)) != CL_SUCCESS))
        rc = fail_cl(err, "clEnqueueReadBuffer");
    if (!rc) {
        const clattn_arg names[3] = {CLATTN_ARG_Q, CLATTN_ARG_K, CLATTN_ARG_V};
        for (int t = 0; t < 3; t++)
            clattn_args_set_host(host, names[t], j->host[t]);
        clattn_args_set_host(host, CLATTN_ARG_CU_SEQLENS_Q, j->cu);
        clattn_args_set_host(host, CLATTN_ARG_CU_SEQLENS_K, j->cu);
        clattn_args_set_host(host, CLATTN_ARG_MASK, j->host[3]);
        if ((st = clattn_reference_args(j->packed, host, o_ref, lse_ref)))
            rc = fail_clattn(NULL, st, "computing the CPU reference");
    }
    double err_o = 0, err_lse = 0;
    if (!rc && (st = clattn_compare(j->packed, o, o_ref, lse, lse_ref, &err_o, &err_lse, passed)))
        rc = fail_clattn(NULL, st, "comparing with the reference");
    if (!rc)
        fprintf(s->table, "check:    packed call against the CPU reference: %s (max |O - ref| "
                          "%.3g, max |LSE - ref| %.3g)\n",
                *passed ? "passed" : "FAILED", err_o, err_lse);
    if (lse_mem)
        clReleaseMemObject(lse_mem);
    clattn_args_destroy(host);
    free(lse);
    free(lse_ref);
    free(o_ref);
    free(o);
    return rc;
}

static void print_header(FILE *out, const struct bench_session *s, const struct varlen_job *j)
{
    const struct bench_options *opt = s->opt;
    fprintf(out, "packed batch of %d sequences:", opt->varlen_count);
    for (int i = 0; i < opt->varlen_count; i++)
        fprintf(out, "%s%lld", i ? "," : " ", (long long)opt->varlen_lens[i]);
    fprintf(out, " (%lld tokens)\n", (long long)j->cu[opt->varlen_count]);
    fprintf(out,
            "shape:    heads %lld, kv-heads %lld, head-dim %lld, %s, %s%s%s, algorithm %s, "
            "%s clock, median of %d\n",
            (long long)opt->heads, (long long)(opt->kv_heads ? opt->kv_heads : opt->heads),
            (long long)opt->head_dim, dtype_name(opt->dtype),
            opt->causal ? "causal " : "", opt->causal ? align_name(opt->align) : "not causal",
            opt->window_left >= 0 || opt->window_right >= 0 ? ", windowed" : "",
            clattn_algorithm_name(opt->algos[0]), clock_name(s->clock), opt->iters);
    int64_t longest = 0;
    clattn_problem_get(j->packed, CLATTN_PARAM_SEQ_Q, &longest);
    if (opt->mask != BENCH_MASK_NONE)
        fprintf(out, "mask:     additive (%s), [1, 1, %lld, %lld]: each sequence its corner\n",
                mask_name(opt->mask), (long long)longest, (long long)longest);
}

int varlen_run(struct bench_session *s)
{
    const int n = s->opt->varlen_count;
    struct varlen_job j = {0};
    int rc = shape_from_options(s->opt, &j.base);
    if (!rc && !(j.cu = calloc((size_t)n + 1, sizeof *j.cu)))
        rc = fail_host_memory();
    if (!rc)
        rc = plan_all(s, &j);
    if (!rc)
        rc = upload(s, &j);
    double packed_ms = 0, separate_ms = 0, packed_wall = 0, separate_wall = 0;
    if (!rc)
        rc = time_runs(s, &j, 0, &packed_ms, &packed_wall);
    if (!rc)
        rc = time_runs(s, &j, 1, &separate_ms, &separate_wall);
    if (!rc) {
        int64_t d;
        clattn_problem_get(j.packed, CLATTN_PARAM_HEAD_DIM, &d);
        const double flops = 4.0 * (double)d * (double)j.pairs;
        print_header(s->table, s, &j);
        fprintf(s->table, "                     %10s  %10s  %s\n", "ms", "GFLOP/s",
                "wall ms (enqueue to clFinish)");
        fprintf(s->table, "packed:   1 call     %10.3f  %10.1f  %10.3f\n", packed_ms,
                flops / packed_ms * 1e-6, packed_wall);
        fprintf(s->table, "separate: %-4d calls %10.3f  %10.1f  %10.3f\n", n, separate_ms,
                flops / separate_ms * 1e-6, separate_wall);
        fprintf(s->table,
                "packed / separate: %.3f (wall %.3f; below 1: the packed call is faster)\n",
                packed_ms / separate_ms, packed_wall / separate_wall);
    }
    int passed = 1;
    if (!rc && s->opt->check)
        rc = check_packed(s, &j, &passed);
    if (!rc && !passed)
        s->other_check_failed = 1;
    job_free(&j, n);
    return rc;
}
