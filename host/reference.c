/* The CPU reference: docs/semantics.md, literally. Each (query row, key) pair is tested
 * against the visibility rule as written, scores and sums are accumulated in double, and
 * nothing is tiled, skipped or reordered: this is the code every algorithm is judged by.
 * KV caches (lengths per entry, pages, appended rows) are read through kv_view plainly, one
 * key at a time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clattn.h"
#include "message.h"
#include "problem.h"

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
} kv_view;

/* Entry b's number of keys, or -1 when its length is impossible (its rows are then NaN). */
static int64_t kv_length(const clattn_problem *p, const kv_view *kv, int64_t b)
{
    const int64_t nk = problem_get(p, CLATTN_PARAM_SEQ_KV);
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
    const int64_t kv_heads = problem_kv_heads(p), d = problem_get(p, CLATTN_PARAM_HEAD_DIM);
    const int64_t page_size = problem_get(p, CLATTN_PARAM_PAGE_SIZE);
    int32_t page = 0;
    if (page_size) {
        page = kv->pages[b * problem_pages_per_seq(p) + j / page_size];
        if (page < 0 || page >= problem_get(p, CLATTN_PARAM_NUM_PAGES))
            return NULL;
    }
    if (kv->k_new && j >= kv->lens[b]) { /* appended: [B, seq_q, Hkv, d] contiguous */
        const int64_t i = j - kv->lens[b], nq = problem_get(p, CLATTN_PARAM_SEQ_Q);
        *index = (uint64_t)(((b * nq + i) * kv_heads + g) * d);
        return is_v ? kv->v_new : kv->k_new;
    }
    int64_t s[3];
    problem_strides(p, is_v ? CLATTN_TENSOR_V : CLATTN_TENSOR_K, s);
    *index = page_size ? element(s, page, j % page_size, g) : element(s, b, j, g);
    return is_v ? kv->v : kv->k;
}

/* docs/semantics.md, "Which keys are visible", one pair at a time, for an entry of nk keys. */
static int visible(const clattn_problem *p, int64_t nk, int64_t i, int64_t j)
{
    int64_t nq = problem_get(p, CLATTN_PARAM_SEQ_Q);
    int64_t off = problem_get(p, CLATTN_PARAM_ALIGN) == CLATTN_ALIGN_TOP_LEFT ? 0 : nk - nq;
    int64_t pos = i + off;
    int64_t left = problem_get(p, CLATTN_PARAM_WINDOW_LEFT);
    int64_t right = problem_get(p, CLATTN_PARAM_WINDOW_RIGHT);
    if (problem_get(p, CLATTN_PARAM_CAUSAL) && j > pos)
        return 0;
    if (left >= 0 && j < pos - left)
        return 0;
    if (right >= 0 && j > pos + right)
        return 0;
    return 1;
}

static clattn_status attend(const clattn_problem *p, const void *q, const kv_view *kv, float *o,
                            float *lse)
{
    const int64_t B = problem_get(p, CLATTN_PARAM_BATCH), H = problem_get(p, CLATTN_PARAM_HEADS);
    const int64_t nq = problem_get(p, CLATTN_PARAM_SEQ_Q), nk_max = problem_get(p, CLATTN_PARAM_SEQ_KV);
    const int64_t d = problem_get(p, CLATTN_PARAM_HEAD_DIM);
    const int64_t group = H / problem_kv_heads(p);
    const clattn_dtype dt = (clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE);
    const double scale = problem_scale(p);
    int64_t qs[3], os[3];
    problem_strides(p, CLATTN_TENSOR_Q, qs);
    problem_strides(p, CLATTN_TENSOR_O, os);

    double *s = malloc((size_t)nk_max * sizeof *s);
    double *acc = malloc((size_t)d * sizeof *acc);
    if (!s || !acc) {
        free(s);
        free(acc);
        return fail(NULL, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "clattn_reference: out of memory");
    }
    for (int64_t b = 0; b < B; b++) {
        const int64_t n = kv_length(p, kv, b);
        for (int64_t h = 0; h < H; h++) {
            const int64_t g = h / group;
            for (int64_t i = 0; i < nq; i++) {
                const uint64_t qrow = element(qs, b, i, h);
                double m = -INFINITY;
                for (int64_t j = 0; j < n; j++) {
                    if (!visible(p, n, i, j))
                        continue;
                    uint64_t krow;
                    const void *kbase = key_row(p, kv, 0, b, j, g, &krow);
                    double dot = kbase ? 0 : NAN;
                    for (int64_t c = 0; kbase && c < d; c++)
                        dot += load(q, dt, qrow + (uint64_t)c) * load(kbase, dt, krow + (uint64_t)c);
                    s[j] = scale * dot;
                    if (s[j] > m || isnan(s[j]))
                        m = s[j];
                }
                memset(acc, 0, (size_t)d * sizeof *acc);
                double sum = n < 0 ? NAN : 0;
                if (m != -INFINITY) { /* a row with no visible key stays zero, LSE -inf */
                    for (int64_t j = 0; j < n; j++) {
                        if (!visible(p, n, i, j))
                            continue;
                        const double e = exp(s[j] - m);
                        uint64_t vrow;
                        const void *vbase = key_row(p, kv, 1, b, j, g, &vrow);
                        sum += e;
                        for (int64_t c = 0; c < d; c++)
                            acc[c] += e * (vbase ? load(vbase, dt, vrow + (uint64_t)c) : NAN);
                    }
                }
                const uint64_t orow = element(os, b, i, h);
                for (int64_t c = 0; c < d; c++)
                    o[orow + (uint64_t)c] = sum > 0 ? (float)(acc[c] / sum)
                                            : sum == 0 ? 0.0f
                                                       : NAN;
                if (lse)
                    lse[(b * H + h) * nq + i] = sum == 0 ? -INFINITY : (float)(m + log(sum));
            }
        }
    }
    free(s);
    free(acc);
    return CLATTN_SUCCESS;
}

clattn_status clattn_reference(const clattn_problem *p, const void *q, const void *k,
                               const void *v, float *o, float *lse)
{
    clattn_status st = clattn_problem_check(p);
    if (st)
        return st;
    if (!q || !k || !v || !o)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_reference: NULL tensor");
    if (problem_get(p, CLATTN_PARAM_PAGE_SIZE))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "clattn_reference: a paged problem needs clattn_reference_kvcache");
    const kv_view kv = {k, v, NULL, NULL, NULL, NULL};
    return attend(p, q, &kv, o, lse);
}

clattn_status clattn_reference_kvcache(const clattn_problem *p, const void *q,
                                       const void *k_cache, const void *v_cache,
                                       const int32_t *cache_seqlens, const int32_t *block_table,
                                       const void *k_new, const void *v_new, float *o,
                                       float *lse)
{
    clattn_status st = clattn_problem_check(p);
    if (st)
        return st;
    if (!q || !k_cache || !v_cache || !o)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_reference_kvcache: NULL tensor");
    if ((problem_get(p, CLATTN_PARAM_PAGE_SIZE) > 0) != (block_table != NULL))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "clattn_reference_kvcache: a block table goes with page_size > 0, and only "
                    "then");
    if ((k_new == NULL) != (v_new == NULL) || (k_new && !cache_seqlens))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "clattn_reference_kvcache: k_new and v_new go together, with cache_seqlens");
    const kv_view kv = {k_cache, v_cache, cache_seqlens, block_table, k_new, v_new};
    return attend(p, q, &kv, o, lse);
}
