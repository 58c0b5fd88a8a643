/* The CPU reference: docs/semantics.md, literally. Each (query row, key) pair is tested
 * against the visibility rule as written, scores and sums are accumulated in double, and
 * nothing is tiled, skipped or reordered — this is the code every algorithm is judged by. */
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

/* docs/semantics.md, "Which keys are visible", one pair at a time. */
static int visible(const clattn_problem *p, int64_t i, int64_t j)
{
    int64_t nq = problem_get(p, CLATTN_PARAM_SEQ_Q), nk = problem_get(p, CLATTN_PARAM_SEQ_KV);
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

clattn_status clattn_reference(const clattn_problem *p, const void *q, const void *k,
                               const void *v, float *o, float *lse)
{
    clattn_status st = clattn_problem_check(p);
    if (st)
        return st;
    if (!q || !k || !v || !o)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_reference: NULL tensor");
    const int64_t B = problem_get(p, CLATTN_PARAM_BATCH), H = problem_get(p, CLATTN_PARAM_HEADS);
    const int64_t nq = problem_get(p, CLATTN_PARAM_SEQ_Q), nk = problem_get(p, CLATTN_PARAM_SEQ_KV);
    const int64_t d = problem_get(p, CLATTN_PARAM_HEAD_DIM);
    const int64_t group = H / problem_kv_heads(p);
    const clattn_dtype dt = (clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE);
    const double scale = problem_scale(p);
    int64_t qs[3], ks[3], vs[3], os[3];
    problem_strides(p, CLATTN_TENSOR_Q, qs);
    problem_strides(p, CLATTN_TENSOR_K, ks);
    problem_strides(p, CLATTN_TENSOR_V, vs);
    problem_strides(p, CLATTN_TENSOR_O, os);

    double *s = malloc((size_t)nk * sizeof *s);
    double *acc = malloc((size_t)d * sizeof *acc);
    if (!s || !acc) {
        free(s);
        free(acc);
        return fail(NULL, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "clattn_reference: out of memory");
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            const int64_t g = h / group;
            for (int64_t i = 0; i < nq; i++) {
                const uint64_t qrow = element(qs, b, i, h);
                double m = -INFINITY;
                for (int64_t j = 0; j < nk; j++) {
                    if (!visible(p, i, j)) {
                        s[j] = -INFINITY;
                        continue;
                    }
                    const uint64_t krow = element(ks, b, j, g);
                    double dot = 0;
                    for (int64_t c = 0; c < d; c++)
                        dot += load(q, dt, qrow + (uint64_t)c) * load(k, dt, krow + (uint64_t)c);
                    s[j] = scale * dot;
                    if (s[j] > m || isnan(s[j]))
                        m = s[j];
                }
                memset(acc, 0, (size_t)d * sizeof *acc);
                double sum = 0;
                if (m != -INFINITY) { /* a row with no visible key stays zero, LSE -inf */
                    for (int64_t j = 0; j < nk; j++) {
                        if (!visible(p, i, j))
                            continue;
                        const double e = exp(s[j] - m);
                        const uint64_t vrow = element(vs, b, j, g);
                        sum += e;
                        for (int64_t c = 0; c < d; c++)
                            acc[c] += e * load(v, dt, vrow + (uint64_t)c);
                    }
                }
                const uint64_t orow = element(os, b, i, h);
                for (int64_t c = 0; c < d; c++)
                    o[orow + (uint64_t)c] = sum > 0 ? (float)(acc[c] / sum) : (float)acc[c];
                if (lse)
                    lse[(b * H + h) * nq + i] = m == -INFINITY ? -INFINITY : (float)(m + log(sum));
            }
        }
    free(s);
    free(acc);
    return CLATTN_SUCCESS;
}
