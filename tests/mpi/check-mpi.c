/* libclattn-mpi across the ranks of `mpirun -np P`: ring and Ulysses against the CPU
 * reference of the whole sequence, every rank checking its own rows within docs/semantics.md's
 * tolerances; and errors that every rank returns when one rank fails.
 *   check-mpi ring | ulysses | fail
 * Windowed ring steps place each shard with CLATTN_POSITIONS_PER_CALL. Exit 0 when every
 * case passed on every rank. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clattn_mpi.h"

static int rank, size;
static clattn_context *ctx;

struct shape {
    const char *name;
    int64_t batch, heads, kv_heads, seq, head_dim;
    int causal;
    int64_t window_left, window_right;
    clattn_dtype dtype;
    clattn_mpi_layout layout;
    int device_buffers; /* through clattn_mpi_run instead of _run_host */
};

static clattn_problem *make_problem(const struct shape *s)
{
    clattn_problem *p = NULL;
    if (clattn_problem_create(&p) != CLATTN_SUCCESS)
        return NULL;
    clattn_problem_set(p, CLATTN_PARAM_BATCH, s->batch);
    clattn_problem_set(p, CLATTN_PARAM_HEADS, s->heads);
    clattn_problem_set(p, CLATTN_PARAM_KV_HEADS, s->kv_heads);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, s->seq);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_KV, s->seq);
    clattn_problem_set(p, CLATTN_PARAM_HEAD_DIM, s->head_dim);
    clattn_problem_set(p, CLATTN_PARAM_CAUSAL, s->causal);
    clattn_problem_set(p, CLATTN_PARAM_WINDOW_LEFT, s->window_left);
    clattn_problem_set(p, CLATTN_PARAM_WINDOW_RIGHT, s->window_right);
    clattn_problem_set(p, CLATTN_PARAM_DTYPE, s->dtype);
    return p;
}

/* The same pseudo-random tensor on every rank, in the storage dtype. */
static void *random_tensor(clattn_dtype dtype, size_t count, unsigned seed)
{
    float *f = malloc(count * sizeof *f + 1);
    void *out = malloc(count * clattn_dtype_size(dtype) + 1);
    unsigned x = seed * 2654435761u + 1;
    for (size_t i = 0; i < count; i++) {
        x = x * 1664525u + 1013904223u;
        f[i] = (float)((x >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    clattn_from_float(dtype, f, out, count);
    free(f);
    return out;
}

/* Rows [start, start + len) of each batch of a [B, N, heads, d] tensor, appended at `dst`. */
static size_t take_rows(char *dst, const char *src, int64_t seq, int64_t start, int64_t len,
                        size_t row, int64_t b)
{
    memcpy(dst, src + (size_t)(b * seq + start) * row, (size_t)len * row);
    return (size_t)len * row;
}

/* This rank's shard of a [B, N, heads, d] tensor (row bytes `row`). */
static void *shard(const clattn_mpi_plan *plan, const void *full, const struct shape *s,
                   size_t row)
{
    int64_t rows, start[2], len[2];
    clattn_mpi_shard(plan, rank, &rows, start, len);
    char *out = malloc((size_t)(s->batch * rows) * row + 1), *at = out;
    for (int64_t b = 0; b < s->batch; b++)
        for (int i = 0; i < 2; i++)
            at += take_rows(at, full, s->seq, start[i], len[i], row, b);
    return out;
}

/* Every rank's verdict: 1 when all passed. */
static int all(int ok)
{
    int every = 0;
    MPI_Allreduce(&ok, &every, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return every;
}

typedef clattn_status (*create_fn)(clattn_context *, MPI_Comm, const clattn_problem *,
                                   clattn_mpi_layout, clattn_mpi_plan **);

static clattn_status run_device(clattn_mpi_plan *plan, const struct shape *s, int64_t rows,
                                const void *q, const void *k, const void *v, void *o,
                                float *lse)
{
    cl_context cl;
    cl_command_queue queue;
    clattn_context_get_cl(ctx, &cl, NULL, &queue);
    size_t e = clattn_dtype_size(s->dtype);
    size_t bq = (size_t)(s->batch * rows * s->heads * s->head_dim) * e + 64;
    size_t bkv = (size_t)(s->batch * rows * s->kv_heads * s->head_dim) * e + 64;
    size_t blse = (size_t)(s->batch * rows * s->heads) * 4 + 64;
    cl_mem m[5];
    size_t sizes[5] = {bq, bkv, bkv, bq, blse};
    const void *in[3] = {q, k, v};
    for (int i = 0; i < 5; i++) {
        m[i] = clCreateBuffer(cl, CL_MEM_READ_WRITE, sizes[i], NULL, NULL);
        if (i < 3)
            clEnqueueWriteBuffer(queue, m[i], CL_TRUE, 16, sizes[i] - 64, in[i], 0, NULL, NULL);
    }
    /* at an offset, to see that offsets are honoured */
    clattn_status st = clattn_mpi_run(plan, m[0], 16, m[1], 16, m[2], 16, m[3], 16, m[4], 16);
    if (st == CLATTN_SUCCESS) {
        clEnqueueReadBuffer(queue, m[3], CL_TRUE, 16, bq - 64, o, 0, NULL, NULL);
        clEnqueueReadBuffer(queue, m[4], CL_TRUE, 16, blse - 64, lse, 0, NULL, NULL);
    }
    for (int i = 0; i < 5; i++)
        clReleaseMemObject(m[i]);
    return st;
}

/* One shape: the spread attention against the reference, on every rank's rows. */
static int check_shape(create_fn create, const struct shape *s)
{
    clattn_problem *problem = make_problem(s);
    size_t e = clattn_dtype_size(s->dtype);
    size_t row_q = (size_t)(s->heads * s->head_dim) * e;
    size_t row_kv = (size_t)(s->kv_heads * s->head_dim) * e;
    size_t nq = (size_t)(s->batch * s->seq * s->heads * s->head_dim);
    size_t nkv = (size_t)(s->batch * s->seq * s->kv_heads * s->head_dim);
    void *q = random_tensor(s->dtype, nq, 1), *k = random_tensor(s->dtype, nkv, 2),
         *v = random_tensor(s->dtype, nkv, 3);
    float *o_ref = malloc(nq * sizeof *o_ref);
    float *lse_ref = malloc((size_t)(s->batch * s->heads * s->seq) * sizeof *lse_ref);
    clattn_status st = clattn_reference(problem, q, k, v, o_ref, lse_ref);
    clattn_mpi_plan *plan = NULL;
    if (st == CLATTN_SUCCESS)
        st = create(ctx, MPI_COMM_WORLD, problem, s->layout, &plan);
    int ok = st == CLATTN_SUCCESS;
    double err_o = 0, err_lse = 0;
    if (!ok)
        fprintf(stderr, "rank %d: %s: %s: %s\n", rank, s->name, clattn_status_string(st),
                clattn_mpi_message(NULL));
    if (ok) {
        int64_t rows, start[2], len[2];
        clattn_mpi_shard(plan, rank, &rows, start, len);
        void *lq = shard(plan, q, s, row_q), *lk = shard(plan, k, s, row_kv),
             *lv = shard(plan, v, s, row_kv);
        void *lo = malloc((size_t)(s->batch * rows) * row_q + 1);
        float *llse = malloc((size_t)(s->batch * s->heads * rows) * 4 + 4);
        st = s->device_buffers ? run_device(plan, s, rows, lq, lk, lv, lo, llse)
                               : clattn_mpi_run_host(plan, lq, lk, lv, lo, llse);
        if (st != CLATTN_SUCCESS) {
            fprintf(stderr, "rank %d: %s: run: %s: %s\n", rank, s->name,
                    clattn_status_string(st), clattn_mpi_message(plan));
            ok = 0;
        } else if (rows > 0) {
            /* the reference's rows of this shard, in shard order */
            float *ro = shard(plan, o_ref, s, (size_t)(s->heads * s->head_dim) * 4);
            float *rl = malloc((size_t)(s->batch * s->heads * rows) * 4);
            float *at = rl;
            for (int64_t bh = 0; bh < s->batch * s->heads; bh++)
                for (int i = 0; i < 2; i++) {
                    memcpy(at, lse_ref + bh * s->seq + start[i], (size_t)len[i] * 4);
                    at += len[i];
                }
            struct shape local = *s;
            local.seq = rows;
            local.causal = 0;
            local.window_left = local.window_right = -1;
            clattn_problem *lp = make_problem(&local);
            int passed = 0;
            st = clattn_compare(lp, lo, ro, llse, rl, &err_o, &err_lse, &passed);
            ok = st == CLATTN_SUCCESS && passed;
            clattn_problem_destroy(lp);
            free(ro);
            free(rl);
        }
        free(lq);
        free(lk);
        free(lv);
        free(lo);
        free(llse);
    }
    clattn_mpi_destroy(plan);
    int every = all(ok);
    double worst[2] = {err_o, err_lse}, most[2];
    MPI_Reduce(worst, most, 2, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s P=%d %s: max |O err| %.3g, max |LSE err| %.3g\n", every ? "ok  " : "FAIL",
               size, s->name, most[0], most[1]);
    clattn_problem_destroy(problem);
    free(q);
    free(k);
    free(v);
    free(o_ref);
    free(lse_ref);
    return every;
}

#define NONE -1, -1

static const struct shape ring_shapes[] = {
    {"non-causal, contiguous, f32", 1, 2, 2, 50, 32, 0, NONE, CLATTN_DTYPE_F32,
     CLATTN_MPI_CONTIGUOUS, 0},
    {"causal, contiguous, GQA, f16, B=2", 2, 4, 2, 61, 32, 1, NONE, CLATTN_DTYPE_F16,
     CLATTN_MPI_CONTIGUOUS, 0},
    {"causal, zigzag, MQA, bf16", 1, 4, 1, 67, 16, 1, NONE, CLATTN_DTYPE_BF16,
     CLATTN_MPI_ZIGZAG, 0},
    {"causal, zigzag, GQA, f16, device buffers", 2, 4, 2, 45, 16, 1, NONE, CLATTN_DTYPE_F16,
     CLATTN_MPI_ZIGZAG, 1},
    {"non-causal, zigzag, f32, device buffers", 1, 2, 1, 29, 16, 0, NONE, CLATTN_DTYPE_F32,
     CLATTN_MPI_ZIGZAG, 1},
    /* 3 rows over P ranks: at P = 4 the last rank holds none; at every P the last rank's keys
     * are entirely masked for the others */
    {"causal, contiguous, fewer rows than ranks", 1, 2, 2, 3, 16, 1, NONE, CLATTN_DTYPE_F32,
     CLATTN_MPI_CONTIGUOUS, 0},
    /* 5 rows in 2P chunks: ranks holding an empty chunk, or none at all */
    {"causal, zigzag, empty chunks", 1, 2, 1, 5, 16, 1, NONE, CLATTN_DTYPE_F16,
     CLATTN_MPI_ZIGZAG, 0},
};

/* Windows narrower and wider than a shard: these need position offsets on the device. */
static const struct shape window_shapes[] = {
    {"causal window 5 (narrower than a shard), contiguous", 1, 2, 1, 64, 16, 1, 5, 0,
     CLATTN_DTYPE_F32, CLATTN_MPI_CONTIGUOUS, 0},
    {"causal window 40 (wider than a shard), zigzag, f16", 1, 2, 2, 64, 16, 1, 40, 0,
     CLATTN_DTYPE_F16, CLATTN_MPI_ZIGZAG, 0},
    {"window (7, 3), contiguous, bf16", 1, 2, 1, 57, 16, 0, 7, 3, CLATTN_DTYPE_BF16,
     CLATTN_MPI_CONTIGUOUS, 0},
};

/* H = 12 splits over 2, 3 and 4 ranks; Hkv = 4, 2 and 1 take every way of placing KV heads. */
static const struct shape ulysses_shapes[] = {
    {"non-causal, contiguous, f32", 1, 12, 12, 50, 16, 0, NONE, CLATTN_DTYPE_F32,
     CLATTN_MPI_CONTIGUOUS, 0},
    {"causal, zigzag, GQA (Hkv 4), f16, B=2", 2, 12, 4, 41, 16, 1, NONE, CLATTN_DTYPE_F16,
     CLATTN_MPI_ZIGZAG, 0},
    {"causal, contiguous, GQA (Hkv 2), bf16", 1, 12, 2, 37, 16, 1, NONE, CLATTN_DTYPE_BF16,
     CLATTN_MPI_CONTIGUOUS, 0},
    {"causal, contiguous, MQA, f16, device buffers", 1, 12, 1, 43, 16, 1, NONE,
     CLATTN_DTYPE_F16, CLATTN_MPI_CONTIGUOUS, 1},
    {"causal window 5 (narrower than a shard), zigzag, f32", 1, 12, 4, 64, 16, 1, 5, 0,
     CLATTN_DTYPE_F32, CLATTN_MPI_ZIGZAG, 0},
    {"window (40, 2) (wider than a shard), contiguous, f16", 1, 12, 12, 64, 16, 0, 40, 2,
     CLATTN_DTYPE_F16, CLATTN_MPI_CONTIGUOUS, 0},
    {"causal, fewer rows than ranks", 1, 12, 1, 3, 16, 1, NONE, CLATTN_DTYPE_F32,
     CLATTN_MPI_CONTIGUOUS, 0},
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Every rank returned `want`, with a message holding `part`. */
static int expect_everywhere(const char *what, clattn_status st, clattn_status want,
                             const char *message, const char *part)
{
    int ok = st == want && message && strstr(message, part);
    if (!ok)
        fprintf(stderr, "rank %d: %s: got %s (%s), want %s with '%s'\n", rank, what,
                clattn_status_string(st), message ? message : "(null)",
                clattn_status_string(want), part);
    int every = all(ok);
    if (rank == 0)
        printf("%s P=%d %s\n", every ? "ok  " : "FAIL", size, what);
    return every;
}

/* The kernel sources copied to a new folder with an #error in common.cl. */
static char *broken_kernels(void)
{
    const char *src = getenv("CLATTN_SOURCE_CL");
    const char *tmp = getenv("TMPDIR");
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s/clattn-mpi-broken-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!src || !mkdtemp(dir))
        return NULL;
    DIR *d = opendir(src);
    for (struct dirent *ent; d && (ent = readdir(d));) {
        size_t n = strlen(ent->d_name);
        if (n < 4 || strcmp(ent->d_name + n - 3, ".cl") != 0)
            continue;
        char from[4096], to[8192];
        snprintf(from, sizeof from, "%s/%s", src, ent->d_name);
        snprintf(to, sizeof to, "%s/%s", dir, ent->d_name);
        FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
        for (int c; in && out && (c = fgetc(in)) != EOF;)
            fputc(c, out);
        if (out && strcmp(ent->d_name, "common.cl") == 0)
            fputs("\n#error clattn-mpi-test: a deliberately broken kernel\n", out);
        if (in)
            fclose(in);
        if (out)
            fclose(out);
    }
    if (d)
        closedir(d);
    return d ? dir : NULL;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    for (struct dirent *ent; d && (ent = readdir(d));) {
        if (ent->d_name[0] == '.')
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int check_failures(void)
{
    int ok = 1;
    struct shape s = {"", 1, 12, 2, 40, 16, 1, NONE, CLATTN_DTYPE_F32, CLATTN_MPI_ZIGZAG, 0};
    clattn_mpi_plan *plan = NULL;

    /* Heads that do not split over the ranks. */
    struct shape odd = s;
    odd.heads = 2 * size + 1;
    odd.kv_heads = 1;
    clattn_problem *p = make_problem(&odd);
    clattn_status st = clattn_mpi_ulysses_create(ctx, MPI_COMM_WORLD, p, s.layout, &plan);
    ok &= expect_everywhere("Ulysses with heads not divisible by P", st,
                            CLATTN_ERROR_INVALID_ARGUMENT, clattn_mpi_message(NULL),
                            "cannot be split evenly");
    clattn_problem_destroy(p);

    /* A packed varlen batch: its sequences are not one to shard. */
    p = make_problem(&s);
    clattn_problem_set(p, CLATTN_PARAM_VARLEN, 1);
    clattn_problem_set(p, CLATTN_PARAM_TOTAL_Q, s.seq);
    clattn_problem_set(p, CLATTN_PARAM_TOTAL_KV, s.seq);
    for (int mode = 0; mode < 2; mode++) {
        plan = NULL;
        st = (mode ? clattn_mpi_ulysses_create : clattn_mpi_ring_create)(ctx, MPI_COMM_WORLD, p,
                                                                         s.layout, &plan);
        ok &= expect_everywhere(mode ? "Ulysses: a packed varlen batch"
                                     : "ring: a packed varlen batch",
                                st, CLATTN_ERROR_UNSUPPORTED, clattn_mpi_message(NULL),
                                "a packed variable-length batch");
        if (st == CLATTN_SUCCESS)
            clattn_mpi_destroy(plan);
    }
    clattn_problem_destroy(p);

    /* V and O with a head size of their own: the shards' partial outputs are head_dim wide. */
    p = make_problem(&s);
    clattn_problem_set(p, CLATTN_PARAM_HEAD_DIM_V, s.head_dim / 2);
    for (int mode = 0; mode < 2; mode++) {
        plan = NULL;
        st = (mode ? clattn_mpi_ulysses_create : clattn_mpi_ring_create)(ctx, MPI_COMM_WORLD, p,
                                                                         s.layout, &plan);
        ok &= expect_everywhere(mode ? "Ulysses: head_dim_v" : "ring: head_dim_v", st,
                                CLATTN_ERROR_UNSUPPORTED, clattn_mpi_message(NULL), "head_dim_v");
        if (st == CLATTN_SUCCESS)
            clattn_mpi_destroy(plan);
    }
    clattn_problem_destroy(p);

    /* Ranks that disagree on the problem. */
    struct shape other = s;
    other.seq = rank == 0 ? 41 : 40;
    p = make_problem(&other);
    st = clattn_mpi_ring_create(ctx, MPI_COMM_WORLD, p, s.layout, &plan);
    ok &= expect_everywhere("ranks passing different problems", st,
                            CLATTN_ERROR_INVALID_ARGUMENT, clattn_mpi_message(NULL),
                            "different problems");
    clattn_problem_destroy(p);

    /* A kernel that does not build on the last rank only. */
    p = make_problem(&s);
    char *broken = NULL;
    if (rank == size - 1) {
        broken = broken_kernels();
        if (broken)
            setenv("CLATTN_KERNEL_DIR", broken, 1);
    }
    for (int mode = 0; mode < 2; mode++) {
        st = (mode ? clattn_mpi_ulysses_create : clattn_mpi_ring_create)(ctx, MPI_COMM_WORLD, p,
                                                                         s.layout, &plan);
        char what[128], part[64];
        snprintf(what, sizeof what, "%s: a kernel that fails to build on rank %d",
                 mode ? "Ulysses" : "ring", size - 1);
        snprintf(part, sizeof part, rank == size - 1 ? "deliberately broken" : "rank %d failed",
                 size - 1);
        ok &= expect_everywhere(what, st, CLATTN_ERROR_BUILD_FAILED, clattn_mpi_message(NULL),
                                part);
        if (st == CLATTN_SUCCESS)
            clattn_mpi_destroy(plan);
    }
    if (broken) {
        unsetenv("CLATTN_KERNEL_DIR");
        remove_dir(broken);
    }

    /* A missing output on rank 1 at run time: nobody waits for it. */
    for (int mode = 0; mode < 2; mode++) {
        plan = NULL;
        st = (mode ? clattn_mpi_ulysses_create : clattn_mpi_ring_create)(ctx, MPI_COMM_WORLD, p,
                                                                         s.layout, &plan);
        if (st != CLATTN_SUCCESS) {
            fprintf(stderr, "rank %d: create: %s\n", rank, clattn_mpi_message(NULL));
            ok = 0;
            break;
        }
        int64_t rows;
        clattn_mpi_shard(plan, rank, &rows, NULL, NULL);
        size_t nq = (size_t)(rows * s.heads * s.head_dim), nkv = (size_t)(rows * s.kv_heads * s.head_dim);
        float *q = calloc(nq + 1, 4), *k = calloc(nkv + 1, 4), *v = calloc(nkv + 1, 4),
              *o = calloc(nq + 1, 4);
        st = clattn_mpi_run_host(plan, q, k, v, rank == 1 ? NULL : o, NULL);
        char what[128];
        snprintf(what, sizeof what, "%s: NULL output on rank 1 at run time",
                 mode ? "Ulysses" : "ring");
        ok &= expect_everywhere(what, st, CLATTN_ERROR_INVALID_ARGUMENT,
                                clattn_mpi_message(plan), rank == 1 ? "NULL o" : "rank 1 failed");
        /* and the plan still works for everyone afterwards */
        st = clattn_mpi_run_host(plan, q, k, v, o, NULL);
        snprintf(what, sizeof what, "%s: the next run succeeds", mode ? "Ulysses" : "ring");
        ok &= expect_everywhere(what, st, CLATTN_SUCCESS, clattn_mpi_message(plan), "");
        free(q);
        free(k);
        free(v);
        free(o);
        clattn_mpi_destroy(plan);
    }
    clattn_problem_destroy(p);
    return ok;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *mode = argc > 1 ? argv[1] : "";
    clattn_status st = clattn_context_create(-1, &ctx);
    if (!all(st == CLATTN_SUCCESS)) {
        fprintf(stderr, "rank %d: no device: %s: %s\n", rank, clattn_status_string(st),
                clattn_message(NULL));
        MPI_Finalize();
        return 1;
    }
    int ok = 1;
    if (strcmp(mode, "ring") == 0) {
        for (int i = 0; i < COUNT(ring_shapes); i++)
            ok &= check_shape(clattn_mpi_ring_create, &ring_shapes[i]);
        for (int i = 0; i < COUNT(window_shapes); i++)
            ok &= check_shape(clattn_mpi_ring_create, &window_shapes[i]);
    } else if (strcmp(mode, "ulysses") == 0) {
        for (int i = 0; i < COUNT(ulysses_shapes); i++)
            ok &= check_shape(clattn_mpi_ulysses_create, &ulysses_shapes[i]);
    } else if (strcmp(mode, "fail") == 0) {
        ok = check_failures();
    } else {
        if (rank == 0)
            fprintf(stderr, "usage: check-mpi ring|ulysses|fail\n");
        ok = 0;
    }
    clattn_context_destroy(ctx);
    MPI_Finalize();
    return ok ? 0 : 1;
}
