/* The CPU reference: docs/semantics.md, literally. Each (query row, key) pair is tested
 * against the visibility rule as written, scores and sums are accumulated in double, and
 * nothing is tiled, skipped or reordered: this is the code every algorithm is judged by.
 * KV caches (lengths per entry, pages, appended rows) are read through kv_view plainly, one
 * key at a time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "call_args.h"
#include "clattn.h"
#include "message.h"
#include "problem.h"
#include "quant.h"

static double load(const void *base, clattn_dtype dtype, uint64_t index)
{
    float f;
    if (dtype == CLATTN_DTYPE_F32)
        memcpy(&f, (const char *)base + index * 4, 4);
    else
        clattn_to_float(dtype, (const char *)base + index * 2, &f, 1);
    return f;
}

static uint64_t element(const int64_t strides[3], int64_t b, int64_t n, int64_t h)
{
    return (uint64_t)(b * strides[0] + n * strides[1] + h * strides[2]);
}

/* Where the keys and values are: a plain K and V, or a KV cache. */
typedef struct kv_view {
    const void *k, *v;
    const int32_t *lens;        /* keys per entry before this call; NULL: seq_kv each */
    const int32_t *pages;       /* block table; NULL: contiguous */
    const void *k_new, *v_new;  /* rows appended after lens[b]; NULL: none */
    const int32_t *cu_k;        /* a packed varlen batch: [B + 1] key bounds; NULL: none */
} kv_view;

/* Value `index` of an array of `dtype`, dequantized (without an fp8 scale). */
static float value_of(clattn_dtype dtype, const void *base, uint64_t index)
{
    if (quant_is(dtype))
        return quant_value(dtype, base, index);
    return (float)load(base, dtype, index);
}

/* The extensions of docs/semantics.md ("Extensions"): all NULL or 0 when off. */
typedef struct extras {
    const float *slopes;             /* [H] or [B, H] */
    const float *sinks;              /* [H] */
    const void *mask;                /* f32 or f16, CLATTN_TENSOR_MASK's layout */
    const int32_t *q_starts, *k_starts; /* [B], CLATTN_POSITIONS_PER_ENTRY */
    int64_t q_start, k_start;        /* CLATTN_POSITIONS_PER_CALL */
    const int32_t *cu_q;             /* a packed varlen batch: [B + 1] row bounds */
} extras;

/* docs/semantics.md, "Varlen": entry b's packed range [cu[b], cu[b + 1]), valid when it lies
 * in [0, total] and is at most `longest` long; its length, or -1. */
static int64_t varlen_length(const int32_t *cu, int64_t b, int64_t total, int64_t longest)
{
    const int64_t first = cu[b], end = cu[b + 1];
    return first >= 0 && first <= end && end <= total && end - first <= longest ? end - first
                                                                               : -1;
}

/* Entry b's number of keys, or -1 when its length is impossible (its rows are then NaN). */
static int64_t kv_length(const clattn_problem *p, const kv_view *kv, int64_t b)
{
    const int64_t nk = problem_get(p, CLATTN_PARAM_SEQ_KV);
    if (kv->cu_k)
        return varlen_length(kv->cu_k, b, problem_get(p, CLATTN_PARAM_TOTAL_KV), nk);
    if (!kv->lens)
        return nk;
    const int64_t n = (int64_t)kv->lens[b] + (kv->k_new ? problem_get(p, CLATTN_PARAM_SEQ_Q) : 0);
    return kv->lens[b] < 0 || n > nk ? -1 : n;
}

/* Key j of entry b, kv head g: the array and element index of its K (or V) row, or NULL when
 * its page is not in the pool (the key then reads as NaN). An appended key lives in its page
 * like any other: in a page outside the pool it was not written, and reads as NaN. */
static const void *key_row(const clattn_problem *p, const kv_view *kv, int is_v, int64_t b,
                           int64_t j, int64_t g, uint64_t *index)
{
    const int64_t kv_heads = problem_kv_heads(p);
    const int64_t d = is_v ? problem_head_dim_v(p) : problem_get(p, CLATTN_PARAM_HEAD_DIM);
    const int64_t page_size = problem_get(p, CLATTN_PARAM_PAGE_SIZE);
    int32_t page = 0;
    if (page_size) {
        page = kv->pages[b * problem_pages_per_seq(p) + j / page_size];
        if (page < 0 || page >= problem_get(p, CLATTN_PARAM_NUM_PAGES))
            return NULL;
    }
    if (kv->k_new && j >= kv->lens[b]) { /* appended: [B, seq_q, Hkv, d or dv] contiguous */
        const int64_t i = j - kv->lens[b], nq = problem_get(p, CLATTN_PARAM_SEQ_Q);
        *index = (uint64_t)(((b * nq + i) * kv_heads + g) * d);
        return is_v ? kv->v_new : kv->k_new;
    }
    int64_t s[3];
    problem_strides(p, is_v ? CLATTN_TENSOR_V : CLATTN_TENSOR_K, s);
    if (kv->cu_k) /* packed: the entry's keys start at its first packed key */
        *index = element(s, 0, kv->cu_k[b] + j, g);
    else
        *index = page_size ? element(s, page, j % page_size, g) : element(s, b, j, g);
    return is_v ? kv->v : kv->k;
}

/* Key j's K (or V) row as f32 values (d of them, dv for V): dequantized and scaled from the
 * cache, or for an appended row, as writing it to the cache made it (quantized from Q's dtype,
 * docs/semantics.md "KV cache types"). `bytes` holds a row of any type. 0 when its page is
 * missing. */
static int key_values(const clattn_problem *p, const kv_view *kv, int is_v, int64_t b, int64_t j,
                      int64_t g, float *row, void *bytes)
{
    const int64_t d = is_v ? problem_head_dim_v(p) : problem_get(p, CLATTN_PARAM_HEAD_DIM);
    const clattn_dtype dt = (clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE);
    const clattn_dtype kv_dt = problem_kv_dtype(p);
    const int fp8 = kv_dt == CLATTN_DTYPE_FP8_E4M3 || kv_dt == CLATTN_DTYPE_FP8_E5M2;
    const double scale = !fp8 ? 1.0 : is_v ? p->v_scale : p->k_scale;
    uint64_t index;
    const void *base = key_row(p, kv, is_v, b, j, g, &index);
    if (!base)
        return 0;
    if (base == kv->k_new || base == kv->v_new) { /* in Q's dtype, stored as the cache's */
        for (int64_t c = 0; c < d; c++)
            row[c] = (float)(load(base, dt, index + (uint64_t)c) / scale);
        clattn_from_float(kv_dt, row, bytes, (size_t)d);
        clattn_to_float(kv_dt, bytes, row, (size_t)d);
    } else {
        for (int64_t c = 0; c < d; c++)
            row[c] = value_of(kv_dt, base, index + (uint64_t)c);
    }
    for (int64_t c = 0; c < d; c++)
        row[c] = (float)(row[c] * scale);
    return 1;
}

/* docs/semantics.md, "Positions": where row i and key j of entry b (of nq rows and nk keys)
 * sit. */
static void positions(const clattn_problem *p, const extras *x, int64_t b, int64_t nq,
                      int64_t nk, int64_t i, int64_t j, int64_t *pos_q, int64_t *pos_k)
{
    switch (problem_get(p, CLATTN_PARAM_POSITIONS)) {
    case CLATTN_POSITIONS_PER_CALL:
        *pos_q = x->q_start + i;
        *pos_k = x->k_start + j;
        return;
    case CLATTN_POSITIONS_PER_ENTRY:
        *pos_q = (int64_t)x->q_starts[b] + i;
        *pos_k = (int64_t)x->k_starts[b] + j;
        return;
    default:
        *pos_q = i + (problem_get(p, CLATTN_PARAM_ALIGN) == CLATTN_ALIGN_TOP_LEFT ? 0 : nk - nq);
        *pos_k = j;
    }
}

/* Whether entry b's starts are possible positions (docs/semantics.md, "Positions"): when not,
 * its rows are NaN. */
static int starts_valid(const clattn_problem *p, const extras *x, int64_t b, int64_t nq,
                        int64_t nk)
{
    if (problem_get(p, CLATTN_PARAM_POSITIONS) != CLATTN_POSITIONS_PER_ENTRY)
        return 1;
    const int64_t last = 2147483647, qs = x->q_starts[b], ks = x->k_starts[b];
    return qs >= 0 && ks >= 0 && qs + nq - 1 <= last && ks + nk - 1 <= last;
}

/* docs/semantics.md, "Which keys a row sees" and sink tokens, for one pair of positions. */
static int visible(const clattn_problem *p, int64_t pos_q, int64_t pos_k)
{
    const int64_t left = problem_get(p, CLATTN_PARAM_WINDOW_LEFT);
    const int64_t right = problem_get(p, CLATTN_PARAM_WINDOW_RIGHT);
    if (problem_get(p, CLATTN_PARAM_CAUSAL) && pos_k > pos_q)
        return 0;
    if (pos_k < problem_get(p, CLATTN_PARAM_SINK_TOKENS))
        return 1;
    if (left >= 0 && pos_k < pos_q - left)
        return 0;
    if (right >= 0 && pos_k > pos_q + right)
        return 0;
    return 1;
}

/* The additive mask's value for (b, h, i, j), or 0 without a mask. */
static double mask_value(const clattn_problem *p, const extras *x, int64_t b, int64_t h,
                         int64_t i, int64_t j)
{
    if (!x->mask)
        return 0;
    int64_t s[3];
    problem_strides(p, CLATTN_TENSOR_MASK, s);
    const int64_t mb = problem_get(p, CLATTN_PARAM_MASK_BATCH) == 1 ? 0 : b;
    const int64_t mh = problem_get(p, CLATTN_PARAM_MASK_HEADS) == 1 ? 0 : h;
    const uint64_t at = element(s, mb, i, mh) + (uint64_t)j;
    if (problem_get(p, CLATTN_PARAM_MASK) == CLATTN_MASK_F16)
        return load(x->mask, CLATTN_DTYPE_F16, at);
    return load(x->mask, CLATTN_DTYPE_F32, at);
}

/* docs/semantics.md, "Extensions": the score of a visible pair from its dot product. */
static double score(const clattn_problem *p, const extras *x, double dot, int64_t b, int64_t h,
                    int64_t pos_q, int64_t pos_k, double mask)
{
    double s = problem_scale(p) * dot;
    if (p->softcap > 0)
        s = p->softcap * tanh(s / p->softcap);
    if (x->slopes) {
        const int64_t H = problem_get(p, CLATTN_PARAM_HEADS);
        const int per_entry = problem_get(p, CLATTN_PARAM_ALIBI) == CLATTN_ALIBI_PER_ENTRY;
        const double slope = x->slopes[per_entry ? b * H + h : h];
        s -= slope * (double)llabs(pos_q - pos_k);
    }
    return s + mask;
}

static clattn_status attend(const clattn_problem *p, const void *q, const kv_view *kv,
                            const extras *x, float *o, float *lse)
{
    const int64_t B = problem_get(p, CLATTN_PARAM_BATCH), H = problem_get(p, CLATTN_PARAM_HEADS);
    const int64_t nq = problem_get(p, CLATTN_PARAM_SEQ_Q), nk_max = problem_get(p, CLATTN_PARAM_SEQ_KV);
    const int64_t d = problem_get(p, CLATTN_PARAM_HEAD_DIM), dv = problem_head_dim_v(p);
    const int64_t width = d > dv ? d : dv; /* of a K or V row */
    const int64_t group = H / problem_kv_heads(p);
    const clattn_dtype dt = (clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE);
    int64_t qs[3], os[3];
    problem_strides(p, CLATTN_TENSOR_Q, qs);
    problem_strides(p, CLATTN_TENSOR_O, os);

    double *s = malloc((size_t)nk_max * sizeof *s);
    char *seen = malloc((size_t)nk_max);
    double *acc = malloc((size_t)dv * sizeof *acc);
    float *row = malloc((size_t)width * sizeof *row);
    void *bytes = malloc((size_t)width * 4);
    if (!s || !seen || !acc || !row || !bytes) {
        free(s);
        free(seen);
        free(acc);
        free(row);
        free(bytes);
        return fail(NULL, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "clattn_reference: out of memory");
    }
    for (int64_t b = 0; b < B; b++) {
        /* a packed entry's rows, from its first packed row (none when its range is
         * impossible: then no row is its own) */
        int64_t rows = nq, row0 = 0, qb = b;
        if (x->cu_q) {
            rows = varlen_length(x->cu_q, b, problem_get(p, CLATTN_PARAM_TOTAL_Q), nq);
            rows = rows < 0 ? 0 : rows;
            row0 = rows ? x->cu_q[b] : 0;
            qb = 0;
        }
        int64_t n = kv_length(p, kv, b);
        if (n >= 0 && !starts_valid(p, x, b, rows, n))
            n = -1;
        for (int64_t h = 0; h < H; h++) {
            const int64_t g = h / group;
            for (int64_t i = 0; i < rows; i++) {
                const uint64_t qrow = element(qs, qb, row0 + i, h);
                double m = -INFINITY;
                for (int64_t j = 0; j < n; j++) {
                    int64_t pos_q, pos_k;
                    positions(p, x, b, rows, n, i, j, &pos_q, &pos_k);
                    const double mask = mask_value(p, x, b, h, i, j);
                    /* a pair masked by -inf is invisible: its key is never read */
                    seen[j] = (char)(visible(p, pos_q, pos_k) && mask != -INFINITY);
                    if (!seen[j])
                        continue;
                    const int present = key_values(p, kv, 0, b, j, g, row, bytes);
                    double dot = present ? 0 : NAN;
                    for (int64_t c = 0; present && c < d; c++)
                        dot += load(q, dt, qrow + (uint64_t)c) * row[c];
                    s[j] = score(p, x, dot, b, h, pos_q, pos_k, mask);
                    if (s[j] > m || isnan(s[j]))
                        m = s[j];
                }
                const double sink = x->sinks ? x->sinks[h] : -INFINITY;
                if (sink > m || isnan(sink))
                    m = sink;
                memset(acc, 0, (size_t)dv * sizeof *acc);
                double sum = n < 0 ? NAN : 0;
                if (m != -INFINITY) { /* a row with no visible key (and no sink) stays zero */
                    sum += exp(sink - m); /* 0 without a sink */
                    for (int64_t j = 0; j < n; j++) {
                        if (!seen[j])
                            continue;
                        const double e = exp(s[j] - m);
                        const int present = key_values(p, kv, 1, b, j, g, row, bytes);
                        sum += e;
                        for (int64_t c = 0; c < dv; c++)
                            acc[c] += e * (present ? row[c] : NAN);
                    }
                }
                const uint64_t orow = element(os, qb, row0 + i, h);
                for (int64_t c = 0; c < dv; c++)
                    o[orow + (uint64_t)c] = sum > 0 ? (float)(acc[c] / sum)
                                            : sum == 0 ? 0.0f
                                                       : NAN;
                if (lse)
                    lse[(b * H + h) * nq + i] = sum == 0 ? -INFINITY : (float)(m + log(sum));
            }
        }
    }
    free(s);
    free(seen);
    free(acc);
    free(row);
    free(bytes);
    return CLATTN_SUCCESS;
}

/* The cache arguments' rules of clattn_enqueue_kvcache, for the reference. */
static clattn_status check_cache_args(const clattn_problem *p, const kv_view *kv, const char *who)
{
    if ((problem_get(p, CLATTN_PARAM_PAGE_SIZE) > 0) != (kv->pages != NULL))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "%s: a block table goes with page_size > 0, and only then", who);
    if ((kv->k_new == NULL) != (kv->v_new == NULL) || (kv->k_new && !kv->lens))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "%s: k_new and v_new go together, with cache_seqlens", who);
    return CLATTN_SUCCESS;
}

/* Every entry point: the problem, the tensors, then the work. */
static clattn_status reference(const clattn_problem *p, const void *q, const kv_view *kv,
                               const clattn_args *args, float *o, float *lse, const char *who)
{
    clattn_status st = clattn_problem_check(p);
    if (st)
        return st;
    if (!q || !kv->k || !kv->v || !o)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: NULL tensor", who);
    if ((st = check_cache_args(p, kv, who)))
        return st;
    /* the entry points without args have no extension tensors: a problem that needs one
     * is refused by name */
    const clattn_args no_args = {0};
    if (!args)
        args = &no_args;
    if ((st = call_args_check_extensions(p, args, 1, who)))
        return st;
#define H(a) args->slot[CLATTN_ARG_##a].host
    const extras x = {H(ALIBI_SLOPES), H(SINKS),         H(MASK),          H(Q_START),
                      H(K_START),      args->q_start, args->k_start, H(CU_SEQLENS_Q)};
#undef H
    return attend(p, q, kv, &x, o, lse);
}

clattn_status clattn_reference(const clattn_problem *p, const void *q, const void *k,
                               const void *v, float *o, float *lse)
{
    if (p && problem_get(p, CLATTN_PARAM_PAGE_SIZE))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "clattn_reference: a paged problem needs clattn_reference_kvcache");
    const kv_view kv = {k, v, NULL, NULL, NULL, NULL, NULL};
    return reference(p, q, &kv, NULL, o, lse, "clattn_reference");
}

clattn_status clattn_reference_kvcache(const clattn_problem *p, const void *q,
                                       const void *k_cache, const void *v_cache,
                                       const int32_t *cache_seqlens, const int32_t *block_table,
                                       const void *k_new, const void *v_new, float *o,
                                       float *lse)
{
    const kv_view kv = {k_cache, v_cache, cache_seqlens, block_table, k_new, v_new, NULL};
    return reference(p, q, &kv, NULL, o, lse, "clattn_reference_kvcache");
}

clattn_status clattn_reference_args(const clattn_problem *p, const clattn_args *args, float *o,
                                    float *lse)
{
    if (!args)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_reference_args: args is NULL");
#define H(a) args->slot[CLATTN_ARG_##a].host
    const kv_view kv = {H(K),         H(V),     H(CACHE_SEQLENS),   H(BLOCK_TABLE),
                        H(K_NEW),     H(V_NEW), H(CU_SEQLENS_K)};
    return reference(p, H(Q), &kv, args, o, lse, "clattn_reference_args");
#undef H
}
