/* What a clattn-mpi plan holds, shared by the ring (ring.c) and head-parallel (ulysses.c)
 * modes; plan.c has creation, collective errors, shards and the entry points. */
#ifndef CLATTN_MPI_PLAN_H
#define CLATTN_MPI_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "clattn_mpi.h"

enum mpi_mode { MPI_MODE_RING, MPI_MODE_ULYSSES };

struct ring_state;
struct ulysses_state;

struct clattn_mpi_plan {
    enum mpi_mode mode;
    clattn_context *ctx;
    cl_context cl_ctx;
    cl_command_queue queue;
    MPI_Comm comm; /* the plan's own duplicate */
    int rank, size;
    clattn_mpi_layout layout;
    clattn_problem *problem; /* the full sequence's, cloned */
    int64_t batch, heads, kv_heads, seq, head_dim;
    int causal;
    int64_t window_left, window_right;
    clattn_dtype dtype;
    size_t elem;
    int64_t chunks; /* P or 2P */
    int64_t local_rows;
    double stats[CLATTN_MPI_STAT_MESSAGE_BYTES + 1];
    char message[2048];
    struct ring_state *ring;
    struct ulysses_state *ulysses;
};

/* Chunk c of the sequence: its first row and its length (lengths differ by at most 1). */
int64_t mpi_chunk_start(const struct clattn_mpi_plan *p, int64_t c);
int64_t mpi_chunk_length(const struct clattn_mpi_plan *p, int64_t c);
/* The chunks `rank` holds, in shard order: returns 1 or 2. */
int mpi_rank_chunks(const struct clattn_mpi_plan *p, int rank, int64_t chunk[2]);
int64_t mpi_rank_rows(const struct clattn_mpi_plan *p, int rank);

/* Records a failure in the plan's message and returns `status`. */
clattn_status mpi_fail(struct clattn_mpi_plan *p, clattn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, appending clattn's own message for the context. */
clattn_status mpi_fail_core(struct clattn_mpi_plan *p, clattn_status status, const char *what);

/* The collective verdict: every rank passes its local status; all return the first failure
 * (lowest status, then lowest rank), the others with that rank's message forwarded. */
clattn_status mpi_agree(MPI_Comm comm, int rank, clattn_status local, char *message,
                        size_t size);

/* A copy of the full problem reshaped for one piece of work (strides reset to default). */
clattn_status mpi_local_problem(struct clattn_mpi_plan *p, int64_t seq_q, int64_t seq_kv,
                                clattn_problem **out);

clattn_status mpi_ring_setup(struct clattn_mpi_plan *p);
clattn_status mpi_ring_run(struct clattn_mpi_plan *p, const void *q, const void *k,
                           const void *v, void *o, float *lse);
void mpi_ring_free(struct clattn_mpi_plan *p);

clattn_status mpi_ulysses_setup(struct clattn_mpi_plan *p);
clattn_status mpi_ulysses_run(struct clattn_mpi_plan *p, const void *q, const void *k,
                              const void *v, void *o, float *lse);
void mpi_ulysses_free(struct clattn_mpi_plan *p);

#endif
