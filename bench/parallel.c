/* attn-bench --parallel: ring or Ulysses attention over `mpirun -np P`, one device per rank.
 * Reports each rank's compute time, bytes sent and waiting, the share of communication hidden
 * behind compute (the wait against the same exchanges timed alone), the work imbalance
 * (max/mean), and with --check the agreement of the gathered output with one device's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clattn_mpi.h"
#include "bench.h"

/* attn-bench's exit codes (bench/diag.h) */
enum { EXIT_OK = 0, EXIT_CHECK_FAILED = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3 };

struct parallel_options {
    int ulysses, zigzag, causal, check, iters, warmup, device;
    int64_t batch, seq, heads, kv_heads, head_dim, window_left, window_right;
    clattn_dtype dtype;
};

static const char usage[] =
    "usage: mpirun -np P attn-bench --parallel ring|ulysses [options]\n"
    "  --zigzag            rank k holds chunks k and 2P-1-k (default: contiguous shards)\n"
    "  --seq N             sequence length (default 4096)\n"
    "  --heads H           query heads (default 8)\n"
    "  --kv-heads H        KV heads (default: H)\n"
    "  --head-dim D        (default 128)\n"
    "  --batch B           (default 1)\n"
    "  --causal            causal mask\n"
    "  --window L[,R]      sliding window (R defaults to 0)\n"
    "  --dtype f32|f16|bf16 (default f16)\n"
    "  --iters N           timed runs (default 3), --warmup N untimed runs (default 1)\n"
    "  --device N          device index on every rank (default: clattn's default)\n"
    "  --check             compare the gathered output with one device's\n";

int parallel_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--parallel") == 0)
            return 1;
    return 0;
}

static int number(const char *text, int64_t min, int64_t *out)
{
    char *end;
    long long v = text ? strtoll(text, &end, 10) : 0;
    if (!text || !*text || *end || v < min)
        return -1;
    *out = v;
    return 0;
}

static int parse(int argc, char **argv, struct parallel_options *o)
{
    *o = (struct parallel_options){.iters = 3, .warmup = 1, .device = -1, .batch = 1,
                                   .seq = 4096, .heads = 8, .head_dim = 128,
                                   .window_left = -1, .window_right = -1,
                                   .dtype = CLATTN_DTYPE_F16};
    int mode = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
        if (strcmp(a, "--parallel") == 0 && v && (strcmp(v, "ring") == 0 || strcmp(v, "ulysses") == 0)) {
            o->ulysses = strcmp(v, "ulysses") == 0;
            mode = 1;
            i++;
        } else if (strcmp(a, "--zigzag") == 0) {
            o->zigzag = 1;
        } else if (strcmp(a, "--causal") == 0) {
            o->causal = 1;
        } else if (strcmp(a, "--check") == 0) {
            o->check = 1;
        } else if (strcmp(a, "--dtype") == 0 && v) {
            i++;
            if (strcmp(v, "f32") == 0)
                o->dtype = CLATTN_DTYPE_F32;
            else if (strcmp(v, "f16") == 0)
                o->dtype = CLATTN_DTYPE_F16;
            else if (strcmp(v, "bf16") == 0)
                o->dtype = CLATTN_DTYPE_BF16;
            else
                return -1;
        } else if (strcmp(a, "--window") == 0 && v) {
            i++;
            char left[32];
            const char *comma = strchr(v, ',');
            size_t len = comma ? (size_t)(comma - v) : strlen(v);
            if (len >= sizeof left)
                return -1;
            memcpy(left, v, len);
            left[len] = '\0';
            if (number(left, 0, &o->window_left) || (comma && number(comma + 1, 0, &o->window_right)))
                return -1;
            if (!comma)
                o->window_right = 0;
        } else if (v && number(v, 0, &n) == 0) {
            i++;
            if (strcmp(a, "--seq") == 0 && n > 0)
                o->seq = n;
            else if (strcmp(a, "--heads") == 0 && n > 0)
                o->heads = n;
            else if (strcmp(a, "--kv-heads") == 0 && n > 0)
                o->kv_heads = n;
            else if (strcmp(a, "--head-dim") == 0 && n > 0)
                o->head_dim = n;
            else if (strcmp(a, "--batch") == 0 && n > 0)
                o->batch = n;
            else if (strcmp(a, "--iters") == 0 && n > 0 && n < 1000)
                o->iters = (int)n;
            else if (strcmp(a, "--warmup") == 0 && n < 1000)
                o->warmup = (int)n;
            else if (strcmp(a, "--device") == 0 && n < 1000)
                o->device = (int)n;
            else
                return -1;
        } else {
            return -1;
        }
    }
    if (!o->kv_heads)
        o->kv_heads = o->heads;
    return mode ? 0 : -1;
}

/* The value of element `index` of tensor `which`: the same on every rank, whoever holds it. */
static float value(unsigned which, uint64_t index)
{
    uint64_t x = (index + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)which * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 29;
    return (float)(x >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
}

/* Rows of a [B, N, heads, d] tensor in the order given (ranges), in the storage dtype. */
static void *make_rows(const struct parallel_options *o, unsigned which, int64_t heads,
                       int64_t rows, const int64_t start[2], const int64_t len[2])
{
    size_t row = (size_t)(heads * o->head_dim);
    size_t count = (size_t)(o->batch * rows) * row;
    float *f = malloc(count * sizeof *f + 4);
    void *out = malloc(count * clattn_dtype_size(o->dtype) + 4);
    if (!f || !out) {
        free(f);
        free(out);
        return NULL;
    }
    size_t at = 0;
    for (int64_t b = 0; b < o->batch; b++)
        for (int r = 0; r < 2; r++)
            for (int64_t i = start[r]; i < start[r] + len[r]; i++)
                for (size_t e = 0; e < row; e++)
                    f[at++] = value(which, ((uint64_t)(b * o->seq + i)) * row + e);
    clattn_from_float(o->dtype, f, out, count);
    free(f);
    return out;
}

static clattn_problem *make_problem(const struct parallel_options *o)
{
    clattn_problem *p = NULL;
    if (clattn_problem_create(&p) != CLATTN_SUCCESS)
        return NULL;
    const struct {
        clattn_param param;
        int64_t value;
    } set[] = {{CLATTN_PARAM_BATCH, o->batch}, {CLATTN_PARAM_HEADS, o->heads},
               {CLATTN_PARAM_KV_HEADS, o->kv_heads}, {CLATTN_PARAM_SEQ_Q, o->seq},
               {CLATTN_PARAM_SEQ_KV, o->seq}, {CLATTN_PARAM_HEAD_DIM, o->head_dim},
               {CLATTN_PARAM_CAUSAL, o->causal}, {CLATTN_PARAM_WINDOW_LEFT, o->window_left},
               {CLATTN_PARAM_WINDOW_RIGHT, o->window_right}, {CLATTN_PARAM_DTYPE, o->dtype}};
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        if (clattn_problem_set(p, set[i].param, set[i].value) != CLATTN_SUCCESS) {
            clattn_problem_destroy(p);
            return NULL;
        }
    return p;
}

/* The ring's exchanges alone, as the plan makes them: steps - 1 rounds of one message to
 * the right and one from the left. Milliseconds per run. */
static double exchanges_alone(int steps, size_t bytes, int iters)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char *a = calloc(1, bytes + 1), *b = calloc(1, bytes + 1);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int it = 0; it < iters && a && b; it++)
        for (int s = 0; s + 1 < steps; s++) {
            MPI_Request req[2];
            MPI_Irecv(b, (int)bytes, MPI_BYTE, (rank - 1 + size) % size, s, MPI_COMM_WORLD, &req[0]);
            MPI_Isend(a, (int)bytes, MPI_BYTE, (rank + 1) % size, s, MPI_COMM_WORLD, &req[1]);
            MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
        }
    double ms = (MPI_Wtime() - t0) * 1e3 / iters;
    free(a);
    free(b);
    return ms;
}

enum { F_ROWS, F_COMPUTE, F_WAIT, F_TOTAL, F_SENT, F_PAIRS, F_ALONE, F_COUNT };

/* --check: rank 0 gathers O and LSE, runs the whole problem on its device, and compares. */
static int check_gathered(const struct parallel_options *o, clattn_context *ctx,
                          clattn_mpi_plan *plan, const clattn_problem *problem, void *lo,
                          float *llse, int64_t rows)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    size_t e = clattn_dtype_size(o->dtype), row = (size_t)(o->heads * o->head_dim) * e;
    int ob = (int)((size_t)(o->batch * rows) * row), lb = (int)(o->batch * o->heads * rows * 4);
    int *counts = calloc(4 * (size_t)size, sizeof(int));
    int *displs = counts + size, *lcounts = displs + size, *ldispls = lcounts + size;
    int pair[2] = {ob, lb}, *all = calloc(2 * (size_t)size, sizeof(int));
    MPI_Gather(pair, 2, MPI_INT, all, 2, MPI_INT, 0, MPI_COMM_WORLD);
    size_t full_o = (size_t)(o->batch * o->seq) * row, full_l = (size_t)(o->batch * o->heads * o->seq) * 4;
    char *go = rank == 0 ? malloc(full_o + 4) : NULL, *gl = rank == 0 ? malloc(full_l + 4) : NULL;
    for (int r = 0, at = 0, lat = 0; r < size && rank == 0; r++) {
        counts[r] = all[2 * r];
        displs[r] = at;
        lcounts[r] = all[2 * r + 1];
        ldispls[r] = lat;
        at += counts[r];
        lat += lcounts[r];
    }
    MPI_Gatherv(lo, ob, MPI_BYTE, go, counts, displs, MPI_BYTE, 0, MPI_COMM_WORLD);
    MPI_Gatherv(llse, lb, MPI_BYTE, gl, lcounts, ldispls, MPI_BYTE, 0, MPI_COMM_WORLD);
    int ok = 1;
    if (rank == 0) {
        /* shards back in sequence order, and one device's result */
        char *o_full = malloc(full_o + 4);
        float *l_full = malloc(full_l + 4), *single_f = malloc((full_o / e) * 4 + 4);
        void *single = malloc(full_o + 4);
        float *single_lse = malloc(full_l + 4);
        for (int r = 0; r < size; r++) {
            int64_t n, start[2], len[2];
            clattn_mpi_shard(plan, r, &n, start, len);
            const char *src = go + displs[r];
            const float *ls = (const float *)(gl + ldispls[r]);
            for (int64_t b = 0, local = 0; b < o->batch; b++, local = 0)
                for (int i = 0; i < 2; i++) {
                    memcpy(o_full + (size_t)(b * o->seq + start[i]) * row,
                           src + (size_t)(b * n + local) * row, (size_t)len[i] * row);
                    for (int64_t h = 0; h < o->heads; h++)
                        memcpy(l_full + (b * o->heads + h) * o->seq + start[i],
                               ls + (b * o->heads + h) * n + local, (size_t)len[i] * 4);
                    local += len[i];
                }
        }
        void *q = NULL, *k = NULL, *v = NULL;
        int64_t whole[2] = {0, 0}, wlen[2] = {o->seq, 0};
        q = make_rows(o, 1, o->heads, o->seq, whole, wlen);
        k = make_rows(o, 2, o->kv_heads, o->seq, whole, wlen);
        v = make_rows(o, 3, o->kv_heads, o->seq, whole, wlen);
        clattn_plan *one = NULL;
        clattn_status st = clattn_plan_create(ctx, problem, &one);
        if (st == CLATTN_SUCCESS)
            st = clattn_run_host(one, q, k, v, single, single_lse);
        double err_o = 0, err_l = 0;
        int passed = 0;
        if (st == CLATTN_SUCCESS) {
            clattn_to_float(o->dtype, single, single_f, full_o / e);
            st = clattn_compare(problem, o_full, single_f, l_full, single_lse, &err_o, &err_l,
                                &passed);
        }
        if (st != CLATTN_SUCCESS)
            printf("check: the single-device run failed: %s: %s\n", clattn_status_string(st),
                   clattn_message(ctx));
        else
            printf("check: %s the single-device result: max |O err| %.3g, max |LSE err| %.3g\n",
                   passed ? "agrees with" : "DISAGREES with", err_o, err_l);
        ok = st == CLATTN_SUCCESS && passed;
        clattn_plan_destroy(one);
        free(q);
        free(k);
        free(v);
        free(o_full);
        free(l_full);
        free(single_f);
        free(single);
        free(single_lse);
    }
    free(go);
    free(gl);
    free(counts);
    free(all);
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return ok;
}

static void report(const struct parallel_options *o, int size, const double *f, int steps,
                   double message_bytes)
{
    printf("%s, %s shards, P=%d: B=%lld N=%lld H=%lld Hkv=%lld d=%lld %s%s, %d steps, "
           "message %.3f MB\n", o->ulysses ? "Ulysses" : "ring", o->zigzag ? "zigzag"
           : "contiguous", size, (long long)o->batch, (long long)o->seq, (long long)o->heads,
           (long long)o->kv_heads, (long long)o->head_dim,
           o->dtype == CLATTN_DTYPE_F32 ? "f32" : o->dtype == CLATTN_DTYPE_F16 ? "f16" : "bf16",
           o->causal ? " causal" : "", steps, message_bytes / 1e6);
    printf("rank   rows  compute ms   wait ms  total ms   sent MB   pairs (M)  comm alone ms\n");
    double sum_c = 0, max_c = 0, sum_p = 0, max_p = 0, sum_w = 0, sum_a = 0, max_t = 0;
    for (int r = 0; r < size; r++) {
        const double *x = f + r * F_COUNT;
        printf("%4d %6.0f %11.2f %9.2f %9.2f %9.3f %11.3f %14.2f\n", r, x[F_ROWS], x[F_COMPUTE],
               x[F_WAIT], x[F_TOTAL], x[F_SENT] / 1e6, x[F_PAIRS] / 1e6, x[F_ALONE]);
        sum_c += x[F_COMPUTE];
        max_c = x[F_COMPUTE] > max_c ? x[F_COMPUTE] : max_c;
        sum_p += x[F_PAIRS];
        max_p = x[F_PAIRS] > max_p ? x[F_PAIRS] : max_p;
        sum_w += x[F_WAIT];
        sum_a += x[F_ALONE];
        max_t = x[F_TOTAL] > max_t ? x[F_TOTAL] : max_t;
    }
    printf("imbalance (max/mean): work %.3f, compute time %.3f\n",
           sum_p > 0 ? max_p / (sum_p / size) : 0, sum_c > 0 ? max_c / (sum_c / size) : 0);
    if (o->ulysses) {
        printf("communication hidden: none (Ulysses waits for each all-to-all: %.2f ms a rank)\n",
               sum_w / size);
    } else if (sum_a > 0) {
        double hidden = 1 - sum_w / sum_a;
        printf("communication hidden: %.1f %% (waited %.2f ms of %.2f ms alone, mean of ranks)\n",
               100 * (hidden < 0 ? 0 : hidden), sum_w / size, sum_a / size);
    } else {
        printf("communication hidden: no exchange (one step)\n");
    }
    printf("throughput: %.2f GFLOP/s over all ranks (4 d FLOP per visible pair, slowest rank's "
           "total time)\n", max_t > 0 ? 4.0 * (double)o->head_dim * sum_p / (max_t * 1e6) : 0);
}

int parallel_main(int argc, char **argv)
{
    struct parallel_options o;
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (parse(argc, argv, &o) != 0) {
        if (rank == 0)
            fputs(usage, stderr);
        MPI_Finalize();
        return EXIT_USAGE;
    }
    clattn_context *ctx = NULL;
    clattn_mpi_plan *plan = NULL;
    clattn_problem *problem = make_problem(&o);
    clattn_status st = problem ? clattn_context_create(o.device, &ctx)
                               : CLATTN_ERROR_INVALID_ARGUMENT;
    if (st != CLATTN_SUCCESS)
        fprintf(stderr, "attn-bench: rank %d: %s: %s\n", rank, clattn_status_string(st),
                problem ? clattn_message(NULL) : "the shape is impossible");
    int good = st == CLATTN_SUCCESS, every;
    MPI_Allreduce(&good, &every, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    int rc = every ? EXIT_OK : EXIT_RUNTIME;
    if (every) {
        clattn_mpi_layout layout = o.zigzag ? CLATTN_MPI_ZIGZAG : CLATTN_MPI_CONTIGUOUS;
        st = (o.ulysses ? clattn_mpi_ulysses_create : clattn_mpi_ring_create)(ctx, MPI_COMM_WORLD,
                                                                              problem, layout,
                                                                              &plan);
        if (st != CLATTN_SUCCESS) {
            if (rank == 0)
                fprintf(stderr, "attn-bench: %s: %s\n", clattn_status_string(st),
                        clattn_mpi_message(NULL));
            rc = st == CLATTN_ERROR_INVALID_ARGUMENT ? EXIT_USAGE : EXIT_RUNTIME;
        }
    }
    if (plan) {
        int64_t rows, start[2], len[2];
        clattn_mpi_shard(plan, rank, &rows, start, len);
        void *q = make_rows(&o, 1, o.heads, rows, start, len);
        void *k = make_rows(&o, 2, o.kv_heads, rows, start, len);
        void *v = make_rows(&o, 3, o.kv_heads, rows, start, len);
        void *out = malloc((size_t)(o.batch * rows * o.heads * o.head_dim) *
                           clattn_dtype_size(o.dtype) + 4);
        float *lse = malloc((size_t)(o.batch * o.heads * rows) * 4 + 4);
        double f[F_COUNT] = {(double)rows}, steps = 0, message = 0;
        for (int it = 0; it < o.warmup + o.iters && st == CLATTN_SUCCESS; it++) {
            MPI_Barrier(MPI_COMM_WORLD);
            st = clattn_mpi_run_host(plan, q, k, v, out, lse);
            if (st == CLATTN_SUCCESS && it >= o.warmup) {
                static const clattn_mpi_stat which[] = {
                    [F_COMPUTE] = CLATTN_MPI_STAT_COMPUTE_MS, [F_WAIT] = CLATTN_MPI_STAT_WAIT_MS,
                    [F_TOTAL] = CLATTN_MPI_STAT_TOTAL_MS, [F_SENT] = CLATTN_MPI_STAT_BYTES_SENT,
                    [F_PAIRS] = CLATTN_MPI_STAT_PAIRS};
                for (int i = F_COMPUTE; i <= F_PAIRS; i++) {
                    double x;
                    clattn_mpi_stat_get(plan, which[i], &x);
                    f[i] += x / o.iters;
                }
            }
        }
        if (st != CLATTN_SUCCESS) {
            if (rank == 0)
                fprintf(stderr, "attn-bench: %s: %s\n", clattn_status_string(st),
                        clattn_mpi_message(plan));
            rc = EXIT_RUNTIME;
        } else {
            clattn_mpi_stat_get(plan, CLATTN_MPI_STAT_STEPS, &steps);
            clattn_mpi_stat_get(plan, CLATTN_MPI_STAT_MESSAGE_BYTES, &message);
            if (!o.ulysses)
                f[F_ALONE] = exchanges_alone((int)steps, (size_t)message, o.iters);
            double *all = rank == 0 ? malloc(sizeof(double) * F_COUNT * (size_t)size) : NULL;
            MPI_Gather(f, F_COUNT, MPI_DOUBLE, all, F_COUNT, MPI_DOUBLE, 0, MPI_COMM_WORLD);
            if (rank == 0)
                report(&o, size, all, (int)steps, message);
            free(all);
            if (o.check && !check_gathered(&o, ctx, plan, problem, out, lse, rows))
                rc = EXIT_CHECK_FAILED;
        }
        free(q);
        free(k);
        free(v);
        free(out);
        free(lse);
    }
    clattn_mpi_destroy(plan);
    clattn_problem_destroy(problem);
    clattn_context_destroy(ctx);
    fflush(stdout);
    MPI_Finalize();
    return rc;
}
