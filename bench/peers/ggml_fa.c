/* ggml's flash attention on attn-bench --decode-compare's decoding step: one query row of 32
 * heads (f32) against 32768 keys of 8 kv heads, head_dim 128, scale 1/sqrt(head_dim), no mask,
 * computed by ggml_flash_attn_ext on ggml's CPU backend, the KV cache stored in each type
 * asked for. One line per type: the median wall time of the graph's compute, the bytes of K
 * and V over it, and the largest error against an f64 reference on the K and V stored.
 *
 * Built and run by bench/peers/ggml-fa, which fetches and builds ggml first. */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"

#ifndef GGML_FA_COMMIT
#define GGML_FA_COMMIT "unknown commit"
#endif

#define MAX_TYPES 16

struct options {
    int64_t seq_kv, heads, kv_heads, head_dim;
    int threads, warmup, runs;
    int heads_outer; /* --layout bhnd: each kv head's keys contiguous */
    int ntypes;
    enum ggml_type types[MAX_TYPES];
};

/* The error column shows ggml's rounding, and that the graph timed is this attention: ggml
 * rounds Q to K's dot-product type (f16 for an f16 cache, q8_0 for q8_0 and q4_0), about 1e-3
 * of the largest output, and sums an f16 cache's weighted V rows in f16, which costs it 3e-2
 * at 32768 keys (4e-6 in f32). A wrong layout or head mapping gives errors of order 1: past
 * this, the run fails. */
#define WRONG_REL_ERR 0.25

static void usage(FILE *out)
{
    fputs("usage: ggml_fa [--seq-kv N] [--heads N] [--kv-heads N] [--head-dim N] [--threads N]\n"
          "               [--warmup N] [--runs N] [--layout bnhd|bhnd] [--kv-dtype T]...\n"
          "  defaults: --seq-kv 32768 --heads 32 --kv-heads 8 --head-dim 128 --threads 2\n"
          "            --warmup 2 --runs 5 --layout bnhd, and f32, f16, q8_0, q4_0 when no\n"
          "            --kv-dtype is given\n"
          "  --layout: K and V in memory as [keys, kv heads, head_dim] (bnhd: llama.cpp's cache,\n"
          "  clattn's default) or [kv heads, keys, head_dim] (bhnd: each head's keys contiguous)\n"
          "  T is a ggml type name (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, ...); --kv-dtype\n"
          "  may be repeated\n",
          out);
}

static int type_by_name(const char *name, enum ggml_type *type)
{
    for (int t = 0; t < GGML_TYPE_COUNT; t++) {
        const char *n = ggml_get_type_traits((enum ggml_type)t)->type_name;
        if (n && strcmp(n, name) == 0) {
            *type = (enum ggml_type)t;
            return 0;
        }
    }
    return -1;
}

/* An integer option's value when it is at least `min` (0 or more), or -1. */
static long long integer(const char *s, long long min)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    return *s && !*end && v >= min ? v : -1;
}

static int parse(int argc, char **argv, struct options *o)
{
    *o = (struct options){32768, 32, 8, 128, 2, 2, 5, 0, 0, {0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 == argc) {
            fprintf(stderr, "ggml_fa: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--kv-dtype") == 0) {
            if (o->ntypes == MAX_TYPES || type_by_name(v, &o->types[o->ntypes]) != 0) {
                fprintf(stderr, "ggml_fa: --kv-dtype %s: not a ggml type name, or too many\n", v);
                return -1;
            }
            o->ntypes++;
            continue;
        }
        if (strcmp(a, "--layout") == 0) {
            if (strcmp(v, "bnhd") != 0 && strcmp(v, "bhnd") != 0) {
                fprintf(stderr, "ggml_fa: --layout %s: bnhd or bhnd\n", v);
                return -1;
            }
            o->heads_outer = strcmp(v, "bhnd") == 0;
            continue;
        }
        const int warmup = strcmp(a, "--warmup") == 0;
        long long n = integer(v, warmup ? 0 : 1);
        if (n < 0) {
            fprintf(stderr, "ggml_fa: %s %s: not a %s integer\n", a, v,
                    warmup ? "non-negative" : "positive");
            return -1;
        }
        if (strcmp(a, "--seq-kv") == 0)
            o->seq_kv = n;
        else if (strcmp(a, "--heads") == 0)
            o->heads = n;
        else if (strcmp(a, "--kv-heads") == 0)
            o->kv_heads = n;
        else if (strcmp(a, "--head-dim") == 0)
            o->head_dim = n;
        else if (strcmp(a, "--threads") == 0)
            o->threads = (int)n;
        else if (warmup)
            o->warmup = (int)n;
        else if (strcmp(a, "--runs") == 0)
            o->runs = (int)n;
        else {
            fprintf(stderr, "ggml_fa: unknown option %s\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (o->heads % o->kv_heads != 0) {
        fprintf(stderr, "ggml_fa: --heads %lld is not a multiple of --kv-heads %lld\n",
                (long long)o->heads, (long long)o->kv_heads);
        return -1;
    }
    if (o->ntypes == 0) {
        const enum ggml_type all[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0};
        o->ntypes = 4;
        memcpy(o->types, all, sizeof(all));
    }
    return 0;
}

/* Uniform in [-1, 1), from a splitmix64 stream. */
static void fill_uniform(float *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        z ^= z >> 31;
        x[i] = (float)((double)(z >> 40) / (double)(1 << 23) - 1.0);
    }
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The values a cache of `type` holds: its rows converted back to f32. */
static void dequantize(enum ggml_type type, const void *src, float *dst, int64_t n)
{
    if (type == GGML_TYPE_F32)
        memcpy(dst, src, (size_t)n * sizeof(float));
    else
        ggml_get_type_traits(type)->to_float(src, dst, n);
}

/* out[h][i] in f64 from q [heads][d] and k, v in --layout's order; returns the largest
 * |out - got| over the largest |out|. */
static double check(const struct options *o, const float *q, const float *k, const float *v,
                    const float *got, double scale)
{
    const int64_t d = o->head_dim, group = o->heads / o->kv_heads;
    const int64_t stride = o->heads_outer ? d : o->kv_heads * d; /* from a key to the next */
    const int64_t head_stride = o->heads_outer ? o->seq_kv * d : d;
    double *p = malloc((size_t)o->seq_kv * sizeof(double));
    double *acc = malloc((size_t)d * sizeof(double));
    double err = 0, max_ref = 0;
    for (int64_t h = 0; h < o->heads; h++) {
        const float *qh = q + h * d, *kh = k + h / group * head_stride,
                    *vh = v + h / group * head_stride;
        double m = -INFINITY, sum = 0;
        for (int64_t j = 0; j < o->seq_kv; j++) {
            double s = 0;
            for (int64_t i = 0; i < d; i++)
                s += (double)qh[i] * kh[j * stride + i];
            p[j] = s * scale;
            m = fmax(m, p[j]);
        }
        for (int64_t i = 0; i < d; i++)
            acc[i] = 0;
        for (int64_t j = 0; j < o->seq_kv; j++) {
            double w = exp(p[j] - m);
            sum += w;
            for (int64_t i = 0; i < d; i++)
                acc[i] += w * vh[j * stride + i];
        }
        for (int64_t i = 0; i < d; i++) {
            err = fmax(err, fabs(acc[i] / sum - got[h * d + i]));
            max_ref = fmax(max_ref, fabs(acc[i] / sum));
        }
    }
    free(p);
    free(acc);
    return err / max_ref;
}

/* One type: the cache made and filled, the graph timed and checked, one line printed.
 * Returns 0 when the output is this attention's. */
static int run_type(const struct options *o, ggml_backend_t backend, enum ggml_type type,
                    const float *q_f32, const float *k_f32, const float *v_f32)
{
    const int64_t d = o->head_dim, rows = o->seq_kv * o->kv_heads;
    const double scale = 1.0 / sqrt((double)d);
    if (d % ggml_blck_size(type) != 0) {
        fprintf(stderr, "ggml_fa: head_dim %lld is not a multiple of %s's block of %lld\n",
                (long long)d, ggml_type_name(type), (long long)ggml_blck_size(type));
        return -1;
    }

    struct ggml_init_params params = {
        .mem_size = 16 * ggml_tensor_overhead() + ggml_graph_overhead(),
        .mem_buffer = NULL,
        .no_alloc = true, /* the tensors' data goes into a backend buffer */
    };
    struct ggml_context *ctx = ggml_init(params);
    /* bnhd is llama.cpp's cache (and clattn's default [B, N, H, d]): a token's rows of all kv
     * heads side by side, permuted to the [d, keys, kv heads] ggml_flash_attn_ext takes, as
     * llama.cpp's graph does; bhnd is that shape without the permutation. The query is
     * [d, heads, 1 token] permuted, as llama.cpp's. */
    struct ggml_tensor *q = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, d, o->heads, 1);
    struct ggml_tensor *k, *v, *k_att, *v_att;
    if (o->heads_outer) {
        k = k_att = ggml_new_tensor_3d(ctx, type, d, o->seq_kv, o->kv_heads);
        v = v_att = ggml_new_tensor_3d(ctx, type, d, o->seq_kv, o->kv_heads);
    } else {
        k = ggml_new_tensor_3d(ctx, type, d, o->kv_heads, o->seq_kv);
        v = ggml_new_tensor_3d(ctx, type, d, o->kv_heads, o->seq_kv);
        k_att = ggml_permute(ctx, k, 0, 2, 1, 3);
        v_att = ggml_permute(ctx, v, 0, 2, 1, 3);
    }
    struct ggml_tensor *out = ggml_flash_attn_ext(ctx, ggml_permute(ctx, q, 0, 2, 1, 3), k_att,
                                                  v_att, NULL, (float)scale, 0.0f, 0.0f);
    ggml_flash_attn_ext_set_prec(out, GGML_PREC_F32); /* as llama.cpp asks; the CPU's is f32 */
    struct ggml_cgraph *graph = ggml_new_graph(ctx);
    ggml_build_forward_expand(graph, out);
    ggml_backend_buffer_t buffer = ggml_backend_alloc_ctx_tensors(ctx, backend);
    if (!buffer) {
        fprintf(stderr, "ggml_fa: %s: no memory for the tensors\n", ggml_type_name(type));
        ggml_free(ctx);
        return -1;
    }

    /* the CPU backend's buffers are host memory: quantized straight into them */
    memcpy(q->data, q_f32, ggml_nbytes(q));
    ggml_quantize_chunk(type, k_f32, k->data, 0, rows, d, NULL);
    ggml_quantize_chunk(type, v_f32, v->data, 0, rows, d, NULL);

    double *ms = malloc((size_t)o->runs * sizeof(double));
    int rc = 0;
    for (int i = 0; i < o->warmup + o->runs && rc == 0; i++) {
        double t0 = now_ms();
        rc = ggml_backend_graph_compute(backend, graph) == GGML_STATUS_SUCCESS ? 0 : -1;
        if (i >= o->warmup)
            ms[i - o->warmup] = now_ms() - t0;
    }
    if (rc != 0) {
        fprintf(stderr, "ggml_fa: %s: ggml_backend_graph_compute failed\n", ggml_type_name(type));
    } else {
        qsort(ms, (size_t)o->runs, sizeof(double), compare_doubles);
        const double median = o->runs % 2 ? ms[o->runs / 2]
                                          : (ms[o->runs / 2 - 1] + ms[o->runs / 2]) / 2;
        const size_t kv_bytes = ggml_nbytes(k) + ggml_nbytes(v);

        float *k_stored = malloc((size_t)(rows * d) * sizeof(float));
        float *v_stored = malloc((size_t)(rows * d) * sizeof(float));
        dequantize(type, k->data, k_stored, rows * d);
        dequantize(type, v->data, v_stored, rows * d);
        const double err = check(o, q_f32, k_stored, v_stored, out->data, scale);
        free(k_stored);
        free(v_stored);
        printf("%-8s %10.1f %10.3f %10.2f %10.2e\n", ggml_type_name(type),
               (double)kv_bytes / (1 << 20), median, (double)kv_bytes / (median * 1e6), err);
        fflush(stdout);
        if (!(err <= WRONG_REL_ERR)) {
            fprintf(stderr, "ggml_fa: %s: error %.2e against the reference: not this attention\n",
                    ggml_type_name(type), err);
            rc = -1;
        }
    }
    free(ms);
    ggml_backend_buffer_free(buffer);
    ggml_free(ctx);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse(argc, argv, &o) != 0)
        return 2;
    ggml_backend_t backend = ggml_backend_cpu_init();
    if (!backend) {
        fputs("ggml_fa: ggml_backend_cpu_init failed\n", stderr);
        return 1;
    }
    ggml_backend_cpu_set_n_threads(backend, o.threads);

    printf("ggml_fa: ggml %s, ggml_flash_attn_ext on the CPU backend, %d thread%s; "
           "AVX2 %d, AVX512 %d, F16C %d, FMA %d\n",
           GGML_FA_COMMIT, o.threads, o.threads == 1 ? "" : "s", ggml_cpu_has_avx2(),
           ggml_cpu_has_avx512(), ggml_cpu_has_f16c(), ggml_cpu_has_fma());
    printf("problem: one decode step: 1 query row (f32), %lld heads on %lld kv heads, head_dim "
           "%lld, %lld keys, scale 1/sqrt(%lld), no mask;\n"
           "         K and V in memory as %s\n",
           (long long)o.heads, (long long)o.kv_heads, (long long)o.head_dim,
           (long long)o.seq_kv, (long long)o.head_dim,
           o.heads_outer ? "[kv heads, keys, head_dim] (bhnd: each head's keys contiguous)"
                         : "llama.cpp's cache, [keys, kv heads, head_dim] (bnhd), permuted");
    printf("timing:  ms = wall time of ggml_backend_graph_compute (the one flash-attention "
           "node), median of %d after %d warm-up\n"
           "columns: GB/s = ggml_nbytes(K) + ggml_nbytes(V) / ms (GB = 1e9 bytes);\n"
           "         rel err = largest |out - f64 reference on the K and V stored| / largest "
           "|reference|\n\n",
           o.runs, o.warmup);
    printf("%-8s %10s %10s %10s %10s\n", "type", "K+V MiB", "ms", "GB/s", "rel err");
    fflush(stdout);

    const size_t n_q = (size_t)(o.heads * o.head_dim);
    const size_t n_kv = (size_t)(o.seq_kv * o.kv_heads * o.head_dim);
    float *q = malloc(n_q * sizeof(float));
    float *k = malloc(n_kv * sizeof(float));
    float *v = malloc(n_kv * sizeof(float));
    if (!q || !k || !v) {
        fputs("ggml_fa: no memory for the inputs\n", stderr);
        return 1;
    }
    fill_uniform(q, n_q, 1);
    fill_uniform(k, n_kv, 2);
    fill_uniform(v, n_kv, 3);

    int failed = 0;
    for (int t = 0; t < o.ntypes; t++)
        failed |= run_type(&o, backend, o.types[t], q, k, v) != 0;

    free(q);
    free(k);
    free(v);
    ggml_backend_free(backend);
    return failed;
}
