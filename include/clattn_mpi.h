/*
 * clattn-mpi — attention over a sequence spread across MPI ranks, one OpenCL device per rank.
 *
 * Two ways of spreading it (docs/parallel.md):
 * - ring attention (context parallelism): every rank keeps its shard of Q and passes its
 *   shard of K and V around a ring of ranks; each step's attention runs on the keys in hand
 *   while the next keys travel (MPI_Isend / MPI_Irecv), and the partial results are merged
 *   exactly by their LSEs (clattn_enqueue_merge). Causal attention skips keys that lie
 *   entirely in the future.
 * - head parallelism (DeepSpeed-Ulysses): an all-to-all turns the sequence shards into head
 *   shards, every rank computes full-sequence attention for its heads, and a second all-to-all
 *   turns the result back.
 *
 * The communicator and the clattn context are the caller's: one rank drives one device, and
 * several devices of one host and several hosts work alike. Data travels through host memory;
 * GPU-aware MPI is not assumed. Only standard MPI calls are made.
 *
 * Every function that takes a plan, and both _create calls, are collective over the plan's
 * communicator: every rank calls them in the same order. Errors are collective too: when any
 * rank fails (a bad argument, no device memory, a kernel that does not build), every rank
 * returns an error status instead of waiting for a message that will never come. The rank
 * that failed returns its own status and message; the others return the same status with a
 * message naming the rank and carrying its message. MPI's own failures follow the
 * communicator's error handler (by default, they abort the job).
 *
 * Shards. The problem given to _create describes the whole sequence: seq_q = seq_kv = N (self
 * attention), B, H, Hkv, head_dim, dtype, causal, window, scale and softcap; the extensions
 * (masks, ALiBi, sinks, positions, paged or quantized caches) and custom strides are not
 * taken (CLATTN_ERROR_UNSUPPORTED). The N rows are cut into C chunks, C = P for
 * CLATTN_MPI_CONTIGUOUS and 2P for CLATTN_MPI_ZIGZAG (P ranks), chunk c holding rows
 * [c*q + min(c, r), ...) of length q + (c < r), where N = C*q + r. Rank k holds chunk k
 * (contiguous), or chunks k and 2P-1-k in that order (zigzag, which balances causal work).
 * clattn_mpi_shard tells which rows a rank holds. A rank's shards are packed in that order:
 *   Q and O   [B, rows, H, d]    contiguous, in the problem's dtype
 *   K and V   [B, rows, Hkv, d]  contiguous, in the problem's dtype
 *   LSE       [B, H, rows]       f32 (optional)
 * A rank may hold no rows (N < C); it still takes part in every call.
 */
#ifndef CLATTN_MPI_H
#define CLATTN_MPI_H

#include <mpi.h>

#include <clattn.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clattn_mpi_plan clattn_mpi_plan;

typedef enum clattn_mpi_layout {
    CLATTN_MPI_CONTIGUOUS = 0, /* rank k holds chunk k of P */
    CLATTN_MPI_ZIGZAG = 1      /* rank k holds chunks k and 2P-1-k of 2P */
} clattn_mpi_layout;

/* Ring attention over `comm` (duplicated: the plan's messages never meet the caller's) on
 * the device of `ctx`. Plans and buffers for every step are made here, so that a kernel that
 * does not build or memory that is not there fails now, on every rank. Every rank must pass
 * the same problem and layout (CLATTN_ERROR_INVALID_ARGUMENT otherwise).
 * Windows need the position offsets of CLATTN_POSITIONS_PER_CALL on the device; until the
 * device plans take them, a windowed ring returns CLATTN_ERROR_UNSUPPORTED on every rank.
 * With a window, only the steps whose keys some window reaches are run, so that
 * communication is O(W), not O(N), in the contiguous layout. */
CLATTN_API clattn_status clattn_mpi_ring_create(clattn_context *ctx, MPI_Comm comm,
                                                    const clattn_problem *problem,
                                                    clattn_mpi_layout layout,
                                                    clattn_mpi_plan **plan);

/* Head-parallel attention (Ulysses) over `comm`: rank k computes query heads
 * [k*H/P, (k+1)*H/P) over the whole sequence, with the KV heads they read: Hkv/P of them
 * when P divides Hkv, else each needed KV head copied to every rank that reads it (MQA and
 * GQA with Hkv < P). H not divisible by P is CLATTN_ERROR_INVALID_ARGUMENT on every rank.
 * The layout only says which rows each rank's shards hold. */
CLATTN_API clattn_status clattn_mpi_ulysses_create(clattn_context *ctx, MPI_Comm comm,
                                                       const clattn_problem *problem,
                                                       clattn_mpi_layout layout,
                                                       clattn_mpi_plan **plan);

/* Collective (it frees the duplicated communicator). Accepts NULL on every rank. Destroy the
 * plan before the context. */
CLATTN_API void clattn_mpi_destroy(clattn_mpi_plan *plan);

/* The rows of the full sequence that `rank` holds: *rows in all, in up to two ranges
 * [start[i], start[i] + length[i]) in shard order (length[1] = 0 in the contiguous layout).
 * Not collective. */
CLATTN_API clattn_status clattn_mpi_shard(const clattn_mpi_plan *plan, int rank,
                                              int64_t *rows, int64_t start[2],
                                              int64_t length[2]);

/* Runs the attention on this rank's host shards (layouts above) and writes its rows of O and,
 * when `lse` is not NULL, of the LSE. Pointers may be NULL only on a rank with no rows.
 * Blocks until every rank's part is done. */
CLATTN_API clattn_status clattn_mpi_run_host(clattn_mpi_plan *plan, const void *q,
                                                 const void *k, const void *v, void *o,
                                                 float *lse);

/* The same with shards in device buffers of the context, at byte offsets (multiples of the
 * element size); `lse` may be NULL. They are read to host memory, which is where the data
 * travels, and O and LSE are written back before the call returns; the context's queue is
 * used and finished. */
CLATTN_API clattn_status clattn_mpi_run(clattn_mpi_plan *plan, cl_mem q, size_t q_offset,
                                            cl_mem k, size_t k_offset, cl_mem v,
                                            size_t v_offset, cl_mem o, size_t o_offset,
                                            cl_mem lse, size_t lse_offset);

/* This rank's figures for the plan's last run. */
typedef enum clattn_mpi_stat {
    /* Wall time from a step's first enqueue to the device finishing it, summed over steps. */
    CLATTN_MPI_STAT_COMPUTE_MS = 0,
    /* Wall time waiting for messages after the step's compute had finished: the part of the
     * communication that compute did not hide (Ulysses: all of its all-to-alls). */
    CLATTN_MPI_STAT_WAIT_MS = 1,
    /* Bytes this rank sent to other ranks. */
    CLATTN_MPI_STAT_BYTES_SENT = 2,
    /* Visible (query row, key) pairs this rank computed, over batches and heads: the work is
     * 4 * head_dim FLOP per pair. */
    CLATTN_MPI_STAT_PAIRS = 3,
    /* Ring steps run (1 + the exchanges), or 1 for Ulysses. */
    CLATTN_MPI_STAT_STEPS = 4,
    /* Wall time of the whole call on this rank. */
    CLATTN_MPI_STAT_TOTAL_MS = 5,
    /* Bytes of one ring exchange sent by one rank (K and V of a shard); Ulysses: of both
     * all-to-alls. */
    CLATTN_MPI_STAT_MESSAGE_BYTES = 6
} clattn_mpi_stat;

CLATTN_API clattn_status clattn_mpi_stat_get(const clattn_mpi_plan *plan,
                                                 clattn_mpi_stat stat, double *value);

/* The detail of the plan's last failure, or with NULL of this thread's last failed
 * _create. Never NULL; "" when nothing failed. */
CLATTN_API const char *clattn_mpi_message(const clattn_mpi_plan *plan);

#ifdef __cplusplus
}
#endif

#endif /* CLATTN_MPI_H */
