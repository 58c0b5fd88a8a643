/* Head-parallel attention (DeepSpeed-Ulysses): an all-to-all turns sequence shards into head
 * shards, each rank runs full-sequence attention on its heads, a second all-to-all turns the
 * result back (docs/parallel.md). */
#include <stdlib.h>
#include <string.h>

#include "mpi_plan.h"

struct ulysses_state {
    int64_t heads;     /* query heads per rank, H/P */
    int64_t kv_heads;  /* KV heads per rank */
    int64_t *kv_of;    /* [P][kv_heads]: the global KV head of each rank's local KV head */
    clattn_plan *plan; /* full sequence, the rank's heads */
    char *q, *k, *v, *o;
    float *lse;
    char *send, *recv;
    int *send_counts, *send_displs, *recv_counts, *recv_displs;
    int64_t *bytes;    /* [P]: the bytes for or from each rank */
};

clattn_status mpi_ulysses_setup(struct clattn_mpi_plan *p)
{
    struct ulysses_state *u = calloc(1, sizeof *u);
    if (!u)
        return mpi_fail(p, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "ulysses: no host memory");
    p->ulysses = u;
    int64_t P = p->size;
    if (p->heads % P != 0)
        return mpi_fail(p, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_mpi_ulysses_create: %lld "
                        "query heads cannot be split evenly over %lld ranks", (long long)p->heads,
                        (long long)P);
    u->heads = p->heads / P;
    int64_t group = p->heads / p->kv_heads; /* query heads per KV head */
    if (p->kv_heads % P == 0) {
        u->kv_heads = p->kv_heads / P;  /* each rank's heads read their own KV heads */
    } else if (group % u->heads == 0) {
        u->kv_heads = 1;                /* a rank's heads all read one KV head, copied */
    } else {
        u->kv_heads = u->heads;         /* heads straddle groups: one KV copy per head */
    }
    u->kv_of = malloc((size_t)(P * u->kv_heads) * sizeof *u->kv_of);
    u->send_counts = malloc(4 * (size_t)P * sizeof(int));
    u->bytes = malloc((size_t)P * sizeof *u->bytes);
    if (!u->kv_of || !u->send_counts || !u->bytes)
        return mpi_fail(p, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "ulysses: no host memory");
    u->send_displs = u->send_counts + P;
    u->recv_counts = u->send_displs + P;
    u->recv_displs = u->recv_counts + P;
    for (int64_t t = 0; t < P; t++)
        for (int64_t j = 0; j < u->kv_heads; j++) {
            int64_t *kv = &u->kv_of[t * u->kv_heads + j];
            if (p->kv_heads % P == 0)
                *kv = t * u->kv_heads + j;
            else if (u->kv_heads == 1)
                *kv = t * u->heads / group;
            else
                *kv = (t * u->heads + j) / group;
        }
    /* The larger of the two exchanges, per peer and in all, must fit MPI's int counts. */
    size_t row = (size_t)p->head_dim * p->elem;
    size_t out_row = (size_t)u->heads * (row + 4);
    size_t in_row = (size_t)(u->heads + 2 * u->kv_heads) * row;
    size_t per_row = in_row > out_row ? in_row : out_row;
    size_t local = (size_t)(p->batch * p->local_rows), full = (size_t)(p->batch * p->seq);
    size_t most = (local > full ? local : full) * per_row * (size_t)P;
    if (most > (size_t)0x7fffffff)
        return mpi_fail(p, CLATTN_ERROR_UNSUPPORTED, "ulysses: an all-to-all of %zu bytes is "
                        "beyond MPI's int counts", most);
    /* the first exchange sends P shards and receives the sequence, the second the reverse */
    size_t send = most, recv = most;
    u->send = malloc(send + 1);
    u->recv = malloc(recv + 1);
    u->q = malloc(full * (size_t)u->heads * row + 1);
    u->k = malloc(full * (size_t)u->kv_heads * row + 1);
    u->v = malloc(full * (size_t)u->kv_heads * row + 1);
    u->o = malloc(full * (size_t)u->heads * row + 1);
    u->lse = malloc(full * (size_t)u->heads * 4 + 1);
    if (!u->send || !u->recv || !u->q || !u->k || !u->v || !u->o || !u->lse)
        return mpi_fail(p, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "ulysses: no host memory for the "
                        "exchanges (%zu bytes)", send + recv + 3 * full * in_row);
    clattn_problem *lp = NULL;
    clattn_status st = mpi_local_problem(p, p->seq, p->seq, &lp);
    if (st != CLATTN_SUCCESS)
        return st;
    st = clattn_problem_set(lp, CLATTN_PARAM_HEADS, u->heads);
    if (st == CLATTN_SUCCESS)
        st = clattn_problem_set(lp, CLATTN_PARAM_KV_HEADS, u->kv_heads);
    if (st == CLATTN_SUCCESS) {
        st = clattn_plan_create(p->ctx, lp, &u->plan);
        if (st != CLATTN_SUCCESS)
            mpi_fail_core(p, st, "ulysses: the plan of the rank's heads");
    } else {
        mpi_fail(p, st, "ulysses: the rank's problem: %s", clattn_message(NULL));
    }
    clattn_problem_destroy(lp);
    return st;
}

void mpi_ulysses_free(struct clattn_mpi_plan *p)
{
    struct ulysses_state *u = p->ulysses;
    clattn_plan_destroy(u->plan);
    free(u->kv_of);
    free(u->send_counts);
    free(u->bytes);
    free(u->send);
    free(u->recv);
    free(u->q);
    free(u->k);
    free(u->v);
    free(u->o);
    free(u->lse);
    free(u);
    p->ulysses = NULL;
}

/* Copies heads of rows between [B, rows, heads, d] tensors: `count` rows from row `from` of
 * src to row `to` of dst, for each local head j: src head src_head[j] (or first + j). */
struct tensor {
    char *data;
    int64_t rows, heads;
};

static void copy_rows(const struct clattn_mpi_plan *p, struct tensor dst, int64_t to,
                      int64_t dst_head, struct tensor src, int64_t from, const int64_t *src_heads,
                      int64_t src_first, int64_t heads, int64_t count)
{
    size_t row = (size_t)p->head_dim * p->elem;
    for (int64_t b = 0; b < p->batch; b++)
        for (int64_t i = 0; i < count; i++) {
            char *d = dst.data + ((size_t)((b * dst.rows + to + i) * dst.heads + dst_head)) * row;
            const char *s = src.data + (size_t)((b * src.rows + from + i) * src.heads) * row;
            if (!src_heads) {
                memcpy(d, s + (size_t)src_first * row, (size_t)heads * row);
            } else {
                for (int64_t j = 0; j < heads; j++)
                    memcpy(d + (size_t)j * row, s + (size_t)src_heads[j] * row, row);
            }
        }
}

static void set_counts(int *counts, int *displs, int64_t P, const int64_t *bytes)
{
    int64_t at = 0;
    for (int64_t t = 0; t < P; t++) {
        counts[t] = (int)bytes[t];
        displs[t] = (int)at;
        at += bytes[t];
    }
}

clattn_status mpi_ulysses_run(struct clattn_mpi_plan *p, const void *q, const void *k,
                              const void *v, void *o, float *lse)
{
    struct ulysses_state *u = p->ulysses;
    int64_t P = p->size, n = p->local_rows, B = p->batch;
    size_t row = (size_t)p->head_dim * p->elem;
    int64_t *count = u->bytes;
    /* First exchange: to rank t, my rows of its query heads, then of its K and V heads. */
    struct tensor mq = {(char *)q, n, p->heads}, mk = {(char *)k, n, p->kv_heads},
                  mv = {(char *)v, n, p->kv_heads};
    char *at = u->send;
    for (int64_t t = 0; t < P; t++) {
        size_t qb = (size_t)(B * n * u->heads) * row, kb = (size_t)(B * n * u->kv_heads) * row;
        if (n) {
            copy_rows(p, (struct tensor){at, n, u->heads}, 0, 0, mq, 0, NULL, t * u->heads,
                      u->heads, n);
            copy_rows(p, (struct tensor){at + qb, n, u->kv_heads}, 0, 0, mk, 0,
                      u->kv_of + t * u->kv_heads, 0, u->kv_heads, n);
            copy_rows(p, (struct tensor){at + qb + kb, n, u->kv_heads}, 0, 0, mv, 0,
                      u->kv_of + t * u->kv_heads, 0, u->kv_heads, n);
        }
        count[t] = (int64_t)(qb + 2 * kb);
        at += qb + 2 * kb;
        if (t != p->rank)
            p->stats[CLATTN_MPI_STAT_BYTES_SENT] += (double)(qb + 2 * kb);
    }
    set_counts(u->send_counts, u->send_displs, P, count);
    for (int64_t s = 0; s < P; s++)
        count[s] = (int64_t)((size_t)(B * mpi_rank_rows(p, (int)s) * (u->heads + 2 * u->kv_heads))
                             * row);
    set_counts(u->recv_counts, u->recv_displs, P, count);
    double t0 = MPI_Wtime();
    MPI_Alltoallv(u->send, u->send_counts, u->send_displs, MPI_BYTE, u->recv, u->recv_counts,
                  u->recv_displs, MPI_BYTE, p->comm);
    p->stats[CLATTN_MPI_STAT_WAIT_MS] += (MPI_Wtime() - t0) * 1e3;
    /* Every rank's rows to their places in the whole sequence. */
    struct tensor fq = {u->q, p->seq, u->heads}, fk = {u->k, p->seq, u->kv_heads},
                  fv = {u->v, p->seq, u->kv_heads};
    for (int64_t s = 0; s < P; s++) {
        int64_t rows = mpi_rank_rows(p, (int)s), chunk[2];
        char *from = u->recv + u->recv_displs[s];
        size_t qb = (size_t)(B * rows * u->heads) * row;
        size_t kb = (size_t)(B * rows * u->kv_heads) * row;
        struct tensor sq = {from, rows, u->heads}, sk = {from + qb, rows, u->kv_heads},
                      sv = {from + qb + kb, rows, u->kv_heads};
        int m = mpi_rank_chunks(p, (int)s, chunk);
        for (int i = 0, local = 0; i < m; i++) {
            int64_t start = mpi_chunk_start(p, chunk[i]), len = mpi_chunk_length(p, chunk[i]);
            copy_rows(p, fq, start, 0, sq, local, NULL, 0, u->heads, len);
            copy_rows(p, fk, start, 0, sk, local, NULL, 0, u->kv_heads, len);
            copy_rows(p, fv, start, 0, sv, local, NULL, 0, u->kv_heads, len);
            local += (int)len;
        }
    }
    double t1 = MPI_Wtime();
    clattn_status st = clattn_run_host(u->plan, u->q, u->k, u->v, u->o, u->lse);
    p->stats[CLATTN_MPI_STAT_COMPUTE_MS] = (MPI_Wtime() - t1) * 1e3;
    p->stats[CLATTN_MPI_STAT_STEPS] = 1;
    uint64_t pairs = 0;
    clattn_problem *lp = NULL;
    if (mpi_local_problem(p, p->seq, p->seq, &lp) == CLATTN_SUCCESS &&
        clattn_problem_visible_pairs(lp, &pairs) == CLATTN_SUCCESS)
        p->stats[CLATTN_MPI_STAT_PAIRS] = (double)pairs / (double)P;
    clattn_problem_destroy(lp);
    if (st != CLATTN_SUCCESS)
        mpi_fail_core(p, st, "ulysses: the attention of the rank's heads");
    st = mpi_agree(p->comm, p->rank, st, p->message, sizeof p->message);
    if (st != CLATTN_SUCCESS)
        return st;
    /* Second exchange: to rank s, its rows of my heads' O, then their LSEs. */
    struct tensor fo = {u->o, p->seq, u->heads};
    at = u->send;
    for (int64_t s = 0; s < P; s++) {
        int64_t rows = mpi_rank_rows(p, (int)s), chunk[2];
        int m = mpi_rank_chunks(p, (int)s, chunk);
        size_t ob = (size_t)(B * rows * u->heads) * row;
        float *ls = (float *)(at + ob);
        for (int i = 0, local = 0; i < m; i++) {
            int64_t start = mpi_chunk_start(p, chunk[i]), len = mpi_chunk_length(p, chunk[i]);
            copy_rows(p, (struct tensor){at, rows, u->heads}, local, 0, fo, start, NULL, 0,
                      u->heads, len);
            for (int64_t bh = 0; bh < B * u->heads; bh++)
                memcpy(ls + bh * rows + local, u->lse + bh * p->seq + start,
                       (size_t)len * sizeof(float));
            local += (int)len;
        }
        count[s] = (int64_t)(ob + (size_t)(B * rows * u->heads) * 4);
        at += count[s];
        if (s != p->rank)
            p->stats[CLATTN_MPI_STAT_BYTES_SENT] += (double)count[s];
    }
    set_counts(u->send_counts, u->send_displs, P, count);
    for (int64_t t = 0; t < P; t++)
        count[t] = (int64_t)((size_t)(B * n * u->heads) * (row + 4));
    set_counts(u->recv_counts, u->recv_displs, P, count);
    p->stats[CLATTN_MPI_STAT_MESSAGE_BYTES] = p->stats[CLATTN_MPI_STAT_BYTES_SENT];
    double t2 = MPI_Wtime();
    MPI_Alltoallv(u->send, u->send_counts, u->send_displs, MPI_BYTE, u->recv, u->recv_counts,
                  u->recv_displs, MPI_BYTE, p->comm);
    p->stats[CLATTN_MPI_STAT_WAIT_MS] += (MPI_Wtime() - t2) * 1e3;
    for (int64_t t = 0; t < P && n; t++) {
        char *from = u->recv + u->recv_displs[t];
        size_t ob = (size_t)(B * n * u->heads) * row;
        copy_rows(p, (struct tensor){o, n, p->heads}, 0, t * u->heads,
                  (struct tensor){from, n, u->heads}, 0, NULL, 0, u->heads, n);
        const float *ls = (const float *)(from + ob);
        for (int64_t b = 0; b < B && lse; b++)
            memcpy(lse + (b * p->heads + t * u->heads) * n, ls + b * u->heads * n,
                   (size_t)(u->heads * n) * sizeof(float));
    }
    return CLATTN_SUCCESS;
}
