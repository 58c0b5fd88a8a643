/* clattn-mpi plans: creation with collective checks, shards, the run entry points. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_plan.h"

/* The message of a failed _create, which leaves no plan to hold it. */
static _Thread_local char create_message[2048];

int64_t mpi_chunk_start(const struct clattn_mpi_plan *p, int64_t c)
{
    int64_t base = p->seq / p->chunks, extra = p->seq % p->chunks;
    return c * base + (c < extra ? c : extra);
}

int64_t mpi_chunk_length(const struct clattn_mpi_plan *p, int64_t c)
{
    return p->seq / p->chunks + (c < p->seq % p->chunks ? 1 : 0);
}

int mpi_rank_chunks(const struct clattn_mpi_plan *p, int rank, int64_t chunk[2])
{
    chunk[0] = rank;
    if (p->layout == CLATTN_MPI_CONTIGUOUS)
        return 1;
    chunk[1] = 2 * (int64_t)p->size - 1 - rank;
    return 2;
}

int64_t mpi_rank_rows(const struct clattn_mpi_plan *p, int rank)
{
    int64_t chunk[2];
    int n = mpi_rank_chunks(p, rank, chunk);
    int64_t rows = 0;
    for (int i = 0; i < n; i++)
        rows += mpi_chunk_length(p, chunk[i]);
    return rows;
}

clattn_status mpi_fail(struct clattn_mpi_plan *p, clattn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
    return status;
}

clattn_status mpi_fail_core(struct clattn_mpi_plan *p, clattn_status status, const char *what)
{
    return mpi_fail(p, status, "%s: %s: %s", what, clattn_status_string(status),
                    clattn_message(p->ctx));
}

clattn_status mpi_agree(MPI_Comm comm, int rank, clattn_status local, char *message,
                        size_t size)
{
    struct {
        int status, rank;
    } in = {(int)local, rank}, out;
    MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MINLOC, comm);
    if (out.status == CLATTN_SUCCESS)
        return CLATTN_SUCCESS;
    char text[1024] = "";
    if (rank == out.rank)
        snprintf(text, sizeof text, "%s", message);
    MPI_Bcast(text, (int)sizeof text, MPI_CHAR, out.rank, comm);
    if (local != CLATTN_SUCCESS)
        return local; /* this rank's own failure, with its own message */
    snprintf(message, size, "rank %d failed with %s: %s", out.rank,
             clattn_status_string((clattn_status)out.status), text);
    return (clattn_status)out.status;
}

clattn_status mpi_local_problem(struct clattn_mpi_plan *p, int64_t seq_q, int64_t seq_kv,
                                clattn_problem **out)
{
    clattn_problem *lp = NULL;
    clattn_status st = clattn_problem_clone(p->problem, &lp);
    if (st == CLATTN_SUCCESS)
        st = clattn_problem_set(lp, CLATTN_PARAM_SEQ_Q, seq_q);
    if (st == CLATTN_SUCCESS)
        st = clattn_problem_set(lp, CLATTN_PARAM_SEQ_KV, seq_kv);
    if (st != CLATTN_SUCCESS) {
        clattn_problem_destroy(lp);
        return mpi_fail(p, st, "reshaping the problem: %s", clattn_message(NULL));
    }
    *out = lp;
    return CLATTN_SUCCESS;
}

static const char *const mode_names[] = {"clattn_mpi_ring_create", "clattn_mpi_ulysses_create"};

/* What this rank can tell alone: the arguments, and a problem this library takes. */
static clattn_status check_local(struct clattn_mpi_plan *p, const clattn_problem *problem,
                                 clattn_mpi_layout layout, clattn_mpi_plan **out)
{
    const char *fn = mode_names[p->mode];
    if (!p->ctx || !problem || !out)
        return mpi_fail(p, CLATTN_ERROR_INVALID_ARGUMENT, "%s: NULL %s", fn,
                        !p->ctx ? "context" : !problem ? "problem" : "plan pointer");
    if (layout != CLATTN_MPI_CONTIGUOUS && layout != CLATTN_MPI_ZIGZAG)
        return mpi_fail(p, CLATTN_ERROR_INVALID_ARGUMENT, "%s: layout %d is none of "
                        "CLATTN_MPI_CONTIGUOUS and CLATTN_MPI_ZIGZAG", fn, (int)layout);
    if (clattn_problem_check(problem) != CLATTN_SUCCESS)
        return mpi_fail(p, CLATTN_ERROR_INVALID_ARGUMENT, "%s: %s", fn, clattn_message(NULL));
    int64_t v[CLATTN_PARAM_VARLEN + 1] = {0};
    for (int i = CLATTN_PARAM_BATCH; i <= CLATTN_PARAM_VARLEN; i++)
        clattn_problem_get(problem, (clattn_param)i, &v[i]); /* a gap's number stays 0 */
    if (v[CLATTN_PARAM_SEQ_Q] != v[CLATTN_PARAM_SEQ_KV])
        return mpi_fail(p, CLATTN_ERROR_INVALID_ARGUMENT, "%s: seq_q %lld != seq_kv %lld: the "
                        "sequence is one, sharded alike for queries and keys", fn,
                        (long long)v[CLATTN_PARAM_SEQ_Q], (long long)v[CLATTN_PARAM_SEQ_KV]);
    static const struct {
        clattn_param param;
        const char *name;
    } refused[] = {
        {CLATTN_PARAM_PAGE_SIZE, "a paged KV cache"}, {CLATTN_PARAM_ALIBI, "ALiBi"},
        {CLATTN_PARAM_SINKS, "sink logits"}, {CLATTN_PARAM_SINK_TOKENS, "sink tokens"},
        {CLATTN_PARAM_MASK, "an additive mask"}, {CLATTN_PARAM_POSITIONS, "positions"},
        {CLATTN_PARAM_VARLEN, "a packed variable-length batch"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (v[refused[i].param] != 0)
            return mpi_fail(p, CLATTN_ERROR_UNSUPPORTED, "%s: %s is not taken across ranks",
                            fn, refused[i].name);
    if (v[CLATTN_PARAM_KV_DTYPE] != -1 && v[CLATTN_PARAM_KV_DTYPE] != v[CLATTN_PARAM_DTYPE])
        return mpi_fail(p, CLATTN_ERROR_UNSUPPORTED, "%s: a KV dtype apart from the problem's "
                        "dtype is not taken across ranks", fn);
    if (v[CLATTN_PARAM_HEAD_DIM_V] != 0 && v[CLATTN_PARAM_HEAD_DIM_V] != v[CLATTN_PARAM_HEAD_DIM])
        return mpi_fail(p, CLATTN_ERROR_UNSUPPORTED, "%s: a head_dim_v apart from head_dim is "
                        "not taken across ranks", fn);
    p->batch = v[CLATTN_PARAM_BATCH];
    p->heads = v[CLATTN_PARAM_HEADS];
    p->kv_heads = v[CLATTN_PARAM_KV_HEADS] ? v[CLATTN_PARAM_KV_HEADS] : p->heads;
    p->seq = v[CLATTN_PARAM_SEQ_Q];
    p->head_dim = v[CLATTN_PARAM_HEAD_DIM];
    p->causal = (int)v[CLATTN_PARAM_CAUSAL];
    p->window_left = v[CLATTN_PARAM_WINDOW_LEFT];
    p->window_right = v[CLATTN_PARAM_WINDOW_RIGHT];
    p->dtype = (clattn_dtype)v[CLATTN_PARAM_DTYPE];
    p->elem = clattn_dtype_size(p->dtype);
    for (int t = CLATTN_TENSOR_Q; t <= CLATTN_TENSOR_O; t++) {
        int64_t heads = t == CLATTN_TENSOR_K || t == CLATTN_TENSOR_V ? p->kv_heads : p->heads;
        int64_t b, s, h;
        clattn_problem_get_strides(problem, (clattn_tensor)t, &b, &s, &h);
        if (h != p->head_dim || s != heads * h || b != p->seq * s)
            return mpi_fail(p, CLATTN_ERROR_UNSUPPORTED, "%s: tensor %d has strides of its "
                            "own; shards are contiguous [B, rows, heads, d]", fn, t);
    }
    p->layout = layout;
    p->chunks = layout == CLATTN_MPI_ZIGZAG ? 2 * (int64_t)p->size : p->size;
    p->local_rows = mpi_rank_rows(p, p->rank);
    clattn_status st = clattn_problem_clone(problem, &p->problem);
    if (st != CLATTN_SUCCESS)
        return mpi_fail(p, st, "%s: %s", fn, clattn_message(NULL));
    if (clattn_context_get_cl(p->ctx, &p->cl_ctx, NULL, &p->queue) != CLATTN_SUCCESS)
        return mpi_fail_core(p, CLATTN_ERROR_INVALID_ARGUMENT, fn);
    return CLATTN_SUCCESS;
}

/* Every rank must describe the same problem: the smallest and largest of each figure agree. */
static clattn_status check_same(struct clattn_mpi_plan *p)
{
    double scale = 0, cap = 0;
    clattn_problem_get_scale(p->problem, &scale);
    clattn_problem_get_softcap(p->problem, &cap);
    double v[12] = {(double)p->batch, (double)p->heads, (double)p->kv_heads, (double)p->seq,
                    (double)p->head_dim, p->causal, (double)p->window_left,
                    (double)p->window_right, p->dtype, p->layout, scale, cap};
    double lo[12], hi[12];
    MPI_Allreduce(v, lo, 12, MPI_DOUBLE, MPI_MIN, p->comm);
    MPI_Allreduce(v, hi, 12, MPI_DOUBLE, MPI_MAX, p->comm);
    static const char *const names[12] = {"batch", "heads", "kv_heads", "seq", "head_dim",
                                          "causal", "window_left", "window_right", "dtype",
                                          "layout", "scale", "softcap"};
    for (int i = 0; i < 12; i++)
        if (lo[i] != hi[i])
            return mpi_fail(p, CLATTN_ERROR_INVALID_ARGUMENT, "%s: the ranks passed different "
                            "problems: %s ranges from %g to %g", mode_names[p->mode], names[i],
                            lo[i], hi[i]);
    return CLATTN_SUCCESS;
}

static void plan_free(struct clattn_mpi_plan *p)
{
    if (p->ring)
        mpi_ring_free(p);
    if (p->ulysses)
        mpi_ulysses_free(p);
    clattn_problem_destroy(p->problem);
    if (p->comm != MPI_COMM_NULL)
        MPI_Comm_free(&p->comm);
    free(p);
}

static clattn_status plan_create(enum mpi_mode mode, clattn_context *ctx, MPI_Comm comm,
                                 const clattn_problem *problem, clattn_mpi_layout layout,
                                 clattn_mpi_plan **out)
{
    create_message[0] = '\0';
    if (comm == MPI_COMM_NULL) {
        snprintf(create_message, sizeof create_message, "%s: MPI_COMM_NULL", mode_names[mode]);
        return CLATTN_ERROR_INVALID_ARGUMENT;
    }
    if (out)
        *out = NULL;
    /* Every rank reaches the same collective calls in the same order whatever fails, so the
     * plan is allocated first and a failed allocation is one more local status. */
    struct clattn_mpi_plan *p = calloc(1, sizeof *p);
    struct clattn_mpi_plan spare = {.mode = mode};
    struct clattn_mpi_plan *q = p ? p : &spare;
    q->mode = mode;
    q->ctx = ctx;
    MPI_Comm_dup(comm, &q->comm);
    MPI_Comm_rank(q->comm, &q->rank);
    MPI_Comm_size(q->comm, &q->size);
    clattn_status st = p ? check_local(p, problem, layout, out)
                         : mpi_fail(q, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "%s: no memory for "
                                    "the plan", mode_names[mode]);
    st = mpi_agree(q->comm, q->rank, st, q->message, sizeof q->message);
    if (st == CLATTN_SUCCESS)
        st = check_same(p); /* the same verdict on every rank */
    if (st == CLATTN_SUCCESS) {
        st = mode == MPI_MODE_RING ? mpi_ring_setup(p) : mpi_ulysses_setup(p);
        st = mpi_agree(p->comm, p->rank, st, p->message, sizeof p->message);
    }
    if (st != CLATTN_SUCCESS) {
        snprintf(create_message, sizeof create_message, "%s", q->message);
        if (p) {
            plan_free(p);
        } else {
            MPI_Comm_free(&spare.comm);
        }
        return st;
    }
    *out = p;
    return CLATTN_SUCCESS;
}

clattn_status clattn_mpi_ring_create(clattn_context *ctx, MPI_Comm comm,
                                     const clattn_problem *problem, clattn_mpi_layout layout,
                                     clattn_mpi_plan **plan)
{
    return plan_create(MPI_MODE_RING, ctx, comm, problem, layout, plan);
}

clattn_status clattn_mpi_ulysses_create(clattn_context *ctx, MPI_Comm comm,
                                        const clattn_problem *problem,
                                        clattn_mpi_layout layout, clattn_mpi_plan **plan)
{
    return plan_create(MPI_MODE_ULYSSES, ctx, comm, problem, layout, plan);
}

void clattn_mpi_destroy(clattn_mpi_plan *plan)
{
    if (plan)
        plan_free(plan);
}

clattn_status clattn_mpi_shard(const clattn_mpi_plan *p, int rank, int64_t *rows,
                               int64_t start[2], int64_t length[2])
{
    if (!p || rank < 0 || rank >= p->size)
        return CLATTN_ERROR_INVALID_ARGUMENT;
    int64_t chunk[2];
    int n = mpi_rank_chunks(p, rank, chunk);
    for (int i = 0; i < 2; i++) {
        if (start)
            start[i] = i < n ? mpi_chunk_start(p, chunk[i]) : 0;
        if (length)
            length[i] = i < n ? mpi_chunk_length(p, chunk[i]) : 0;
    }
    if (rows)
        *rows = mpi_rank_rows(p, rank);
    return CLATTN_SUCCESS;
}

/* The run after the arguments' local verdict `local`, which is agreed first. */
static clattn_status run_agreed(clattn_mpi_plan *p, clattn_status local, const void *q,
                                const void *k, const void *v, void *o, float *lse)
{
    memset(p->stats, 0, sizeof p->stats);
    double t0 = MPI_Wtime();
    clattn_status st = mpi_agree(p->comm, p->rank, local, p->message, sizeof p->message);
    if (st != CLATTN_SUCCESS)
        return st;
    p->message[0] = '\0';
    st = p->mode == MPI_MODE_RING ? mpi_ring_run(p, q, k, v, o, lse)
                                  : mpi_ulysses_run(p, q, k, v, o, lse);
    p->stats[CLATTN_MPI_STAT_TOTAL_MS] = (MPI_Wtime() - t0) * 1e3;
    return st;
}

clattn_status clattn_mpi_run_host(clattn_mpi_plan *p, const void *q, const void *k,
                                  const void *v, void *o, float *lse)
{
    if (!p)
        return CLATTN_ERROR_INVALID_ARGUMENT;
    clattn_status local = CLATTN_SUCCESS;
    if (p->local_rows > 0 && (!q || !k || !v || !o))
        local = mpi_fail(p, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_mpi_run_host: NULL %s on "
                         "a rank holding %lld rows", !q ? "q" : !k ? "k" : !v ? "v" : "o",
                         (long long)p->local_rows);
    return run_agreed(p, local, q, k, v, o, lse);
}

clattn_status clattn_mpi_run(clattn_mpi_plan *p, cl_mem q, size_t q_offset, cl_mem k,
                             size_t k_offset, cl_mem v, size_t v_offset, cl_mem o,
                             size_t o_offset, cl_mem lse, size_t lse_offset)
{
    if (!p)
        return CLATTN_ERROR_INVALID_ARGUMENT;
    size_t row_q = (size_t)(p->heads * p->head_dim) * p->elem;
    size_t row_kv = (size_t)(p->kv_heads * p->head_dim) * p->elem;
    size_t rows = (size_t)(p->batch * p->local_rows);
    size_t bq = rows * row_q, bkv = rows * row_kv, blse = rows * (size_t)p->heads * 4;
    char *host = calloc(1, 2 * bq + 2 * bkv + blse + 1);
    clattn_status local = CLATTN_SUCCESS;
    char *hq = host, *hk = hq + bq, *hv = hk + bkv, *ho = hv + bkv;
    float *hlse = host ? (float *)(ho + bq) : NULL;
    if (!host) {
        local = mpi_fail(p, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "clattn_mpi_run: no host memory "
                         "to stage the shards");
    } else if (rows > 0) {
        if (!q || !k || !v || !o) {
            local = mpi_fail(p, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_mpi_run: NULL %s on a "
                             "rank holding %lld rows", !q ? "q" : !k ? "k" : !v ? "v" : "o",
                             (long long)p->local_rows);
        } else {
            cl_int err = clEnqueueReadBuffer(p->queue, q, CL_FALSE, q_offset, bq, hq, 0, NULL,
                                             NULL);
            if (err == CL_SUCCESS)
                err = clEnqueueReadBuffer(p->queue, k, CL_FALSE, k_offset, bkv, hk, 0, NULL,
                                          NULL);
            if (err == CL_SUCCESS)
                err = clEnqueueReadBuffer(p->queue, v, CL_FALSE, v_offset, bkv, hv, 0, NULL,
                                          NULL);
            cl_int done = clFinish(p->queue);
            if (err != CL_SUCCESS || done != CL_SUCCESS)
                local = mpi_fail(p, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_mpi_run: reading "
                                 "the shards failed (OpenCL error %d): buffers too small for "
                                 "the offsets, or not of the context", err ? err : done);
        }
    }
    clattn_status ran = run_agreed(p, local, hq, hk, hv, ho, lse ? hlse : NULL);
    clattn_status st = ran;
    if (ran == CLATTN_SUCCESS && rows > 0) {
        cl_int err = clEnqueueWriteBuffer(p->queue, o, CL_FALSE, o_offset, bq, ho, 0, NULL,
                                          NULL);
        if (err == CL_SUCCESS && lse)
            err = clEnqueueWriteBuffer(p->queue, lse, CL_FALSE, lse_offset, blse, hlse, 0,
                                       NULL, NULL);
        cl_int done = clFinish(p->queue);
        if (err != CL_SUCCESS || done != CL_SUCCESS)
            st = mpi_fail(p, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_mpi_run: writing O or "
                          "LSE failed (OpenCL error %d)", err ? err : done);
    }
    if (ran == CLATTN_SUCCESS) /* a run's verdict is every rank's: all write back, or none */
        st = mpi_agree(p->comm, p->rank, st, p->message, sizeof p->message);
    free(host);
    return st;
}

clattn_status clattn_mpi_stat_get(const clattn_mpi_plan *p, clattn_mpi_stat stat,
                                  double *value)
{
    if (!p || !value || (int)stat < 0 || stat > CLATTN_MPI_STAT_MESSAGE_BYTES)
        return CLATTN_ERROR_INVALID_ARGUMENT;
    *value = p->stats[stat];
    return CLATTN_SUCCESS;
}

const char *clattn_mpi_message(const clattn_mpi_plan *p)
{
    return p ? p->message : create_message;
}
