/* Ring attention: K/V shards travel around the ranks while each step's attention runs on the
 * shard in hand; partial results are merged by their LSEs (docs/parallel.md). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpi_plan.h"

/* What a (query chunk, key chunk) pair needs. Chunks are ordered by position, so without a
 * window a causal pair is entirely in the past, the diagonal, or entirely in the future. */
enum pair_kind { PAIR_SKIP, PAIR_FULL, PAIR_DIAGONAL, PAIR_WINDOW };

#define RING_PLANS 16

struct ring_entry {
    int64_t seq_q, seq_kv;
    enum pair_kind kind;
    clattn_plan *plan;
};

struct ring_state {
    int steps;               /* steps run: 1 + exchanges */
    int64_t max_rows;        /* the most rows a rank holds: K/V travel padded to it */
    size_t kv_bytes;         /* one of K or V as it travels: [B, max_rows, Hkv, d] */
    void *host_kv[2];        /* K then V, the shard in hand and the one arriving */
    cl_mem q, kv, o, lse, o_tmp, lse_tmp;
    int started[2];          /* whether a local chunk has a result to merge into */
    int count;
    struct ring_entry entries[RING_PLANS];
};

static int windowed(const struct clattn_mpi_plan *p)
{
    return p->window_left >= 0 || p->window_right >= 0;
}

static enum pair_kind pair_kind(const struct clattn_mpi_plan *p, int64_t cq, int64_t ck)
{
    int64_t nq = mpi_chunk_length(p, cq), nk = mpi_chunk_length(p, ck);
    if (nq == 0 || nk == 0)
        return PAIR_SKIP;
    if (windowed(p)) {
        /* key position minus row position over the pair, against the window's range */
        int64_t qs = mpi_chunk_start(p, cq), ks = mpi_chunk_start(p, ck);
        int64_t lo = ks - (qs + nq - 1), hi = ks + nk - 1 - qs;
        int64_t wlo = p->window_left >= 0 ? -p->window_left : INT64_MIN;
        int64_t whi = p->window_right >= 0 ? p->window_right : INT64_MAX;
        if (p->causal && whi > 0)
            whi = 0;
        return hi < wlo || lo > whi ? PAIR_SKIP : PAIR_WINDOW;
    }
    if (!p->causal || ck < cq)
        return PAIR_FULL;
    return ck == cq ? PAIR_DIAGONAL : PAIR_SKIP;
}

/* Visible pairs of one (query chunk, key chunk) pair, over batches and heads. */
static double pair_count(const struct clattn_mpi_plan *p, int64_t cq, int64_t ck,
                         enum pair_kind kind)
{
    int64_t nq = mpi_chunk_length(p, cq), nk = mpi_chunk_length(p, ck);
    double per_head = 0;
    if (kind == PAIR_FULL) {
        per_head = (double)nq * (double)nk;
    } else if (kind == PAIR_DIAGONAL) {
        per_head = (double)nq * (double)(nq + 1) / 2;
    } else if (kind == PAIR_WINDOW) {
        int64_t qs = mpi_chunk_start(p, cq), ks = mpi_chunk_start(p, ck);
        for (int64_t i = qs; i < qs + nq; i++) {
            int64_t first = p->window_left >= 0 ? i - p->window_left : ks;
            int64_t last = p->causal ? i : ks + nk - 1;
            if (p->window_right >= 0 && i + p->window_right < last)
                last = i + p->window_right;
            first = first < ks ? ks : first;
            last = last > ks + nk - 1 ? ks + nk - 1 : last;
            per_head += last >= first ? (double)(last - first + 1) : 0;
        }
    }
    return per_head * (double)(p->batch * p->heads);
}

/* The rank whose K/V are in hand at `step`. */
static int source(const struct clattn_mpi_plan *p, int rank, int step)
{
    return (rank - step % p->size + p->size) % p->size;
}

static struct ring_entry *find(struct ring_state *r, int64_t nq, int64_t nk, enum pair_kind k)
{
    for (int i = 0; i < r->count; i++)
        if (r->entries[i].seq_q == nq && r->entries[i].seq_kv == nk && r->entries[i].kind == k)
            return &r->entries[i];
    return NULL;
}

/* The plan of one kind of pair: Q read from the rank's shard, K/V from the padded shard in
 * hand, O and LSE written to a chunk's own [B, nq, H, d] and [B, H, nq]. */
static clattn_status add_plan(struct clattn_mpi_plan *p, int64_t nq, int64_t nk,
                              enum pair_kind kind)
{
    struct ring_state *r = p->ring;
    if (find(r, nq, nk, kind))
        return CLATTN_SUCCESS;
    clattn_problem *lp = NULL;
    clattn_status st = mpi_local_problem(p, nq, nk, &lp);
    if (st != CLATTN_SUCCESS)
        return st;
    int64_t row_q = p->heads * p->head_dim, row_kv = p->kv_heads * p->head_dim;
    if (kind == PAIR_FULL) {
        clattn_problem_set(lp, CLATTN_PARAM_CAUSAL, 0);
    } else if (kind == PAIR_DIAGONAL) {
        clattn_problem_set(lp, CLATTN_PARAM_ALIGN, CLATTN_ALIGN_TOP_LEFT);
    } else {
        st = clattn_problem_set(lp, CLATTN_PARAM_POSITIONS, CLATTN_POSITIONS_PER_CALL);
    }
    if (st == CLATTN_SUCCESS)
        st = clattn_problem_set_strides(lp, CLATTN_TENSOR_Q, p->local_rows * row_q, row_q,
                                        p->head_dim);
    for (int t = CLATTN_TENSOR_K; st == CLATTN_SUCCESS && t <= CLATTN_TENSOR_V; t++)
        st = clattn_problem_set_strides(lp, (clattn_tensor)t, r->max_rows * row_kv, row_kv,
                                        p->head_dim);
    if (st != CLATTN_SUCCESS) {
        clattn_problem_destroy(lp);
        return mpi_fail(p, st, "ring: a step's problem: %s", clattn_message(NULL));
    }
    clattn_plan *plan = NULL;
    st = clattn_plan_create(p->ctx, lp, &plan);
    clattn_problem_destroy(lp);
    if (st != CLATTN_SUCCESS) {
        static const char *const kinds[] = {"", "full", "diagonal", "windowed"};
        mpi_fail(p, st, "ring: the plan of a %s step (%lld rows x %lld keys): %s",
                 kinds[kind], (long long)nq, (long long)nk, clattn_message(p->ctx));
        return st;
    }
    r->entries[r->count++] = (struct ring_entry){nq, nk, kind, plan};
    return CLATTN_SUCCESS;
}

static cl_mem buffer(struct clattn_mpi_plan *p, size_t bytes, clattn_status *st)
{
    if (*st != CLATTN_SUCCESS)
        return NULL;
    cl_int err;
    cl_mem m = clCreateBuffer(p->cl_ctx, CL_MEM_READ_WRITE, bytes ? bytes : 4, NULL, &err);
    if (!m)
        *st = mpi_fail(p, err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES
                          || err == CL_INVALID_BUFFER_SIZE ? CLATTN_ERROR_DEVICE_OUT_OF_MEMORY
                                                           : CLATTN_ERROR_OPENCL,
                       "ring: clCreateBuffer of %zu bytes failed (OpenCL error %d)", bytes,
                       err);
    return m;
}

clattn_status mpi_ring_setup(struct clattn_mpi_plan *p)
{
    struct ring_state *r = calloc(1, sizeof *r);
    if (!r)
        return mpi_fail(p, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "ring: no host memory");
    p->ring = r;
    /* The steps every rank needs, the same figure on every rank: with a window, only the
     * first ones reach any key. */
    int64_t largest_chunk = 0;
    for (int rank = 0; rank < p->size; rank++) {
        int64_t rows = mpi_rank_rows(p, rank);
        r->max_rows = rows > r->max_rows ? rows : r->max_rows;
        int64_t mine[2], theirs[2];
        int n = mpi_rank_chunks(p, rank, mine);
        for (int i = 0; i < n; i++)
            largest_chunk = mpi_chunk_length(p, mine[i]) > largest_chunk
                                ? mpi_chunk_length(p, mine[i]) : largest_chunk;
        for (int step = 0; step < p->size; step++) {
            int m = mpi_rank_chunks(p, source(p, rank, step), theirs);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++)
                    if (pair_kind(p, mine[i], theirs[j]) != PAIR_SKIP && step + 1 > r->steps)
                        r->steps = step + 1;
        }
    }
    r->kv_bytes = (size_t)(p->batch * r->max_rows * p->kv_heads * p->head_dim) * p->elem;
    if (2 * r->kv_bytes > (size_t)0x7fffffff)
        return mpi_fail(p, CLATTN_ERROR_UNSUPPORTED, "ring: a K/V shard of %zu bytes is beyond "
                        "one MPI message of int count", 2 * r->kv_bytes);
    clattn_status st = CLATTN_SUCCESS;
    int64_t mine[2], theirs[2];
    int n = mpi_rank_chunks(p, p->rank, mine);
    for (int step = 0; step < r->steps && st == CLATTN_SUCCESS; step++) {
        int m = mpi_rank_chunks(p, source(p, p->rank, step), theirs);
        for (int i = 0; i < n && st == CLATTN_SUCCESS; i++)
            for (int j = 0; j < m && st == CLATTN_SUCCESS; j++) {
                enum pair_kind kind = pair_kind(p, mine[i], theirs[j]);
                if (kind != PAIR_SKIP)
                    st = add_plan(p, mpi_chunk_length(p, mine[i]),
                                  mpi_chunk_length(p, theirs[j]), kind);
            }
    }
    size_t row_q = (size_t)(p->heads * p->head_dim) * p->elem;
    size_t rows = (size_t)(p->batch * p->local_rows), chunk_rows = (size_t)(p->batch * largest_chunk);
    r->q = buffer(p, rows * row_q, &st);
    r->kv = buffer(p, 2 * r->kv_bytes, &st);
    r->o = buffer(p, rows * row_q, &st);
    r->lse = buffer(p, rows * (size_t)p->heads * 4, &st);
    r->o_tmp = buffer(p, chunk_rows * row_q, &st);
    r->lse_tmp = buffer(p, chunk_rows * (size_t)p->heads * 4, &st);
    for (int i = 0; i < 2 && st == CLATTN_SUCCESS; i++)
        if (!(r->host_kv[i] = malloc(2 * r->kv_bytes + 1)))
            st = mpi_fail(p, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "ring: no host memory for the "
                          "travelling K/V (%zu bytes)", 2 * r->kv_bytes);
    return st;
}

void mpi_ring_free(struct clattn_mpi_plan *p)
{
    struct ring_state *r = p->ring;
    for (int i = 0; i < r->count; i++)
        clattn_plan_destroy(r->entries[i].plan);
    cl_mem bufs[] = {r->q, r->kv, r->o, r->lse, r->o_tmp, r->lse_tmp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i])
            clReleaseMemObject(bufs[i]);
    free(r->host_kv[0]);
    free(r->host_kv[1]);
    free(r);
    p->ring = NULL;
}

/* Enqueues one step: the K/V in hand to the device, then every visible pair's attention,
 * merged into the chunk's running result. `event` completes with the last of it. */
static clattn_status enqueue_step(struct clattn_mpi_plan *p, int step, const void *kv_host,
                                  cl_event *event)
{
    struct ring_state *r = p->ring;
    cl_int err = clEnqueueWriteBuffer(p->queue, r->kv, CL_FALSE, 0, 2 * r->kv_bytes, kv_host,
                                      0, NULL, NULL);
    if (err != CL_SUCCESS)
        return mpi_fail(p, CLATTN_ERROR_OPENCL, "ring: writing K/V (OpenCL error %d)", err);
    size_t row_q = (size_t)(p->heads * p->head_dim) * p->elem;
    size_t row_kv = (size_t)(p->kv_heads * p->head_dim) * p->elem;
    int64_t mine[2], theirs[2];
    int n = mpi_rank_chunks(p, p->rank, mine);
    int m = mpi_rank_chunks(p, source(p, p->rank, step), theirs);
    int64_t q_row = 0;
    for (int i = 0; i < n; i++) {
        int64_t nq = mpi_chunk_length(p, mine[i]), k_row = 0;
        size_t o_off = (size_t)(p->batch * q_row) * row_q;
        size_t lse_off = (size_t)(p->batch * p->heads * q_row) * 4;
        for (int j = 0; j < m; j++) {
            int64_t nk = mpi_chunk_length(p, theirs[j]);
            enum pair_kind kind = pair_kind(p, mine[i], theirs[j]);
            if (kind != PAIR_SKIP) {
                clattn_plan *plan = find(r, nq, nk, kind)->plan;
                int merge = r->started[i];
                cl_mem o = merge ? r->o_tmp : r->o, lse = merge ? r->lse_tmp : r->lse;
                size_t oo = merge ? 0 : o_off, lo = merge ? 0 : lse_off;
                size_t k_off = (size_t)k_row * row_kv;
                size_t v_off = r->kv_bytes + k_off;
                size_t q_off = (size_t)q_row * row_q;
                clattn_status st;
                if (kind == PAIR_WINDOW) {
                    clattn_args *args = NULL;
                    st = clattn_args_create(&args);
                    if (st == CLATTN_SUCCESS) {
                        clattn_args_set_buffer(args, CLATTN_ARG_Q, r->q, q_off);
                        clattn_args_set_buffer(args, CLATTN_ARG_K, r->kv, k_off);
                        clattn_args_set_buffer(args, CLATTN_ARG_V, r->kv, v_off);
                        clattn_args_set_buffer(args, CLATTN_ARG_O, o, oo);
                        clattn_args_set_buffer(args, CLATTN_ARG_LSE, lse, lo);
                        st = clattn_args_set_positions(args, mpi_chunk_start(p, mine[i]),
                                                       mpi_chunk_start(p, theirs[j]));
                    }
                    if (st == CLATTN_SUCCESS)
                        st = clattn_enqueue_args(plan, p->queue, args, 0, NULL, NULL);
                    clattn_args_destroy(args);
                } else {
                    st = clattn_enqueue(plan, p->queue, r->q, q_off, r->kv, k_off, r->kv, v_off,
                                        o, oo, lse, lo, 0, NULL, NULL);
                }
                if (st != CLATTN_SUCCESS)
                    return mpi_fail_core(p, st, "ring: a step's attention");
                if (merge) {
                    st = clattn_enqueue_merge(plan, p->queue, r->o, o_off, r->lse, lse_off,
                                              r->o_tmp, 0, r->lse_tmp, 0, r->o, o_off, r->lse,
                                              lse_off, 0, NULL, NULL);
                    if (st != CLATTN_SUCCESS)
                        return mpi_fail_core(p, st, "ring: merging a step's result");
                }
                r->started[i] = 1;
                p->stats[CLATTN_MPI_STAT_PAIRS] += pair_count(p, mine[i], theirs[j], kind);
            }
            k_row += nk;
        }
        q_row += nq;
    }
    err = clEnqueueMarkerWithWaitList(p->queue, 0, NULL, event);
    if (err == CL_SUCCESS)
        err = clFlush(p->queue);
    if (err != CL_SUCCESS)
        return mpi_fail(p, CLATTN_ERROR_OPENCL, "ring: marking a step (OpenCL error %d)", err);
    return CLATTN_SUCCESS;
}

/* Waits for the step's device work while letting MPI move the messages in flight: most MPI
 * implementations progress non-blocking transfers only inside MPI calls. */
static clattn_status wait_step(struct clattn_mpi_plan *p, cl_event event, MPI_Request *req,
                               int posted)
{
    int done = !posted;
    for (;;) {
        cl_int state;
        cl_int err = clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state,
                                    &state, NULL);
        if (err != CL_SUCCESS || state <= CL_COMPLETE)
            break;
        if (!done)
            MPI_Testall(2, req, &done, MPI_STATUSES_IGNORE);
        if (done) {
            clWaitForEvents(1, &event);
            break;
        }
        nanosleep(&(struct timespec){0, 50000}, NULL);
    }
    cl_int state = CL_COMPLETE;
    cl_int err = clWaitForEvents(1, &event);
    if (err == CL_SUCCESS)
        err = clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state,
                             NULL);
    if (err != CL_SUCCESS || state < 0)
        return mpi_fail(p, CLATTN_ERROR_OPENCL, "ring: a step failed on the device (OpenCL "
                        "error %d)", err != CL_SUCCESS ? err : state);
    return CLATTN_SUCCESS;
}

/* The shard's K and V packed into the travelling layout [B, max_rows, Hkv, d] each. */
static void pack_kv(const struct clattn_mpi_plan *p, const void *k, const void *v, char *dst)
{
    const struct ring_state *r = p->ring;
    size_t rows = (size_t)(p->local_rows * p->kv_heads * p->head_dim) * p->elem;
    size_t padded = (size_t)(r->max_rows * p->kv_heads * p->head_dim) * p->elem;
    for (int64_t b = 0; b < p->batch && rows; b++) {
        memcpy(dst + b * padded, (const char *)k + b * rows, rows);
        memcpy(dst + r->kv_bytes + b * padded, (const char *)v + b * rows, rows);
    }
}

/* The running results, chunk by chunk, into the caller's O [B, rows, H, d] and LSE. */
static clattn_status read_out(struct clattn_mpi_plan *p, void *o, float *lse)
{
    struct ring_state *r = p->ring;
    size_t row_q = (size_t)(p->heads * p->head_dim) * p->elem;
    int64_t mine[2];
    int n = mpi_rank_chunks(p, p->rank, mine);
    int64_t q_row = 0;
    cl_int err = CL_SUCCESS;
    for (int i = 0; i < n; i++) {
        int64_t nq = mpi_chunk_length(p, mine[i]);
        for (int64_t b = 0; b < p->batch && nq && err == CL_SUCCESS; b++) {
            size_t src = (size_t)(p->batch * q_row + b * nq) * row_q;
            size_t dst = (size_t)(b * p->local_rows + q_row) * row_q;
            err = clEnqueueReadBuffer(p->queue, r->o, CL_FALSE, src, (size_t)nq * row_q,
                                      (char *)o + dst, 0, NULL, NULL);
            for (int64_t h = 0; h < p->heads && lse && err == CL_SUCCESS; h++) {
                size_t ls = (size_t)(p->batch * p->heads * q_row + (b * p->heads + h) * nq) * 4;
                size_t ld = (size_t)((b * p->heads + h) * p->local_rows + q_row);
                err = clEnqueueReadBuffer(p->queue, r->lse, CL_FALSE, ls, (size_t)nq * 4,
                                          lse + ld, 0, NULL, NULL);
            }
        }
        q_row += nq;
    }
    cl_int done = clFinish(p->queue);
    if (err != CL_SUCCESS || done != CL_SUCCESS)
        return mpi_fail(p, CLATTN_ERROR_OPENCL, "ring: reading O and LSE (OpenCL error %d)",
                        err ? err : done);
    return CLATTN_SUCCESS;
}

clattn_status mpi_ring_run(struct clattn_mpi_plan *p, const void *q, const void *k,
                           const void *v, void *o, float *lse)
{
    struct ring_state *r = p->ring;
    r->started[0] = r->started[1] = 0;
    p->stats[CLATTN_MPI_STAT_MESSAGE_BYTES] = (double)(2 * r->kv_bytes);
    clattn_status st = CLATTN_SUCCESS;
    pack_kv(p, k, v, r->host_kv[0]);
    size_t q_bytes = (size_t)(p->batch * p->local_rows * p->heads * p->head_dim) * p->elem;
    if (q_bytes) {
        cl_int err = clEnqueueWriteBuffer(p->queue, r->q, CL_FALSE, 0, q_bytes, q, 0, NULL,
                                          NULL);
        if (err != CL_SUCCESS)
            st = mpi_fail(p, CLATTN_ERROR_OPENCL, "ring: writing Q (OpenCL error %d)", err);
    }
    int right = (p->rank + 1) % p->size, left = (p->rank - 1 + p->size) % p->size;
    int count = (int)(2 * r->kv_bytes);
    int cur = 0;
    for (int step = 0; step < r->steps; step++) {
        MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
        int posted = step + 1 < r->steps;
        if (posted) {
            MPI_Irecv(r->host_kv[1 - cur], count, MPI_BYTE, left, step, p->comm, &req[0]);
            MPI_Isend(r->host_kv[cur], count, MPI_BYTE, right, step, p->comm, &req[1]);
            p->stats[CLATTN_MPI_STAT_BYTES_SENT] += count;
        }
        if (st == CLATTN_SUCCESS) {
            double t0 = MPI_Wtime();
            cl_event event = NULL;
            st = enqueue_step(p, step, r->host_kv[cur], &event);
            if (st == CLATTN_SUCCESS)
                st = wait_step(p, event, req, posted);
            if (event)
                clReleaseEvent(event);
            p->stats[CLATTN_MPI_STAT_COMPUTE_MS] += (MPI_Wtime() - t0) * 1e3;
        }
        double t1 = MPI_Wtime();
        MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
        p->stats[CLATTN_MPI_STAT_WAIT_MS] += (MPI_Wtime() - t1) * 1e3;
        p->stats[CLATTN_MPI_STAT_STEPS] = step + 1;
        if (st != CLATTN_SUCCESS)
            clFinish(p->queue); /* nothing left reading the host buffers */
        st = mpi_agree(p->comm, p->rank, st, p->message, sizeof p->message);
        if (st != CLATTN_SUCCESS)
            return st;
        cur = 1 - cur;
    }
    st = p->local_rows ? read_out(p, o, lse) : CLATTN_SUCCESS;
    return mpi_agree(p->comm, p->rank, st, p->message, sizeof p->message);
}
