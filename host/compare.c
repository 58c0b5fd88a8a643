/* Comparison against the reference with the tolerances of docs/semantics.md. */
#include <math.h>

#include "clattn.h"
#include "message.h"
#include "problem.h"

double clattn_tolerance(clattn_dtype dtype)
{
    switch (dtype) {
    case CLATTN_DTYPE_F32: return 2e-5;
    case CLATTN_DTYPE_F16:
    case CLATTN_DTYPE_Q8_0: /* cache types: f16's, against the dequantized reference */
    case CLATTN_DTYPE_Q4_0:
    case CLATTN_DTYPE_FP8_E4M3:
    case CLATTN_DTYPE_FP8_E5M2: return 2e-3;
    case CLATTN_DTYPE_BF16: return 1.6e-2;
    }
    return 0;
}

/* The looser of the output's and the cache's tolerance; a quantized cache is judged as f16
 * storage against the reference over its dequantized values (docs/semantics.md). */
static double tolerance(const clattn_problem *p)
{
    const double out = clattn_tolerance((clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE));
    const double cache = clattn_tolerance(problem_kv_dtype(p));
    return out > cache ? out : cache;
}

/* Two values agree when both are NaN or both the same infinity; otherwise the error is their
 * distance, and a NaN or infinity against a number is an infinite error. */
static double distance(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b) ? 0 : INFINITY;
    if (isinf(a) || isinf(b))
        return a == b ? 0 : INFINITY;
    return fabs(a - b);
}

clattn_status clattn_compare(const clattn_problem *p, const void *o, const float *o_ref,
                             const float *lse, const float *lse_ref, double *max_abs_err,
                             double *max_lse_err, int *passed)
{
    clattn_status st = clattn_problem_check(p);
    if (st)
        return st;
    if (!o || !o_ref)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_compare: NULL output");
    const int64_t B = problem_get(p, CLATTN_PARAM_BATCH), H = problem_get(p, CLATTN_PARAM_HEADS);
    const int64_t nq = problem_get(p, CLATTN_PARAM_SEQ_Q), d = problem_head_dim_v(p); /* O's */
    /* O's rows: a packed varlen batch holds them all in one run (LSE stays [B, H, nq]) */
    const int varlen = problem_varlen(p);
    const int64_t o_batches = varlen ? 1 : B;
    const int64_t o_rows = varlen ? problem_get(p, CLATTN_PARAM_TOTAL_Q) : nq;
    const clattn_dtype dt = (clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE);
    const size_t esize = clattn_dtype_size(dt);
    int64_t os[3];
    problem_strides(p, CLATTN_TENSOR_O, os);

    double err = 0, ref_max = 0;
    for (int64_t b = 0; b < o_batches; b++)
        for (int64_t i = 0; i < o_rows; i++)
            for (int64_t h = 0; h < H; h++) {
                const uint64_t row = (uint64_t)(b * os[0] + i * os[1] + h * os[2]);
                for (int64_t c = 0; c < d; c++) {
                    float got;
                    clattn_to_float(dt, (const char *)o + (row + (uint64_t)c) * esize, &got, 1);
                    const double want = o_ref[row + (uint64_t)c];
                    const double e = distance(got, want);
                    err = e > err ? e : err;
                    if (isfinite(want) && fabs(want) > ref_max)
                        ref_max = fabs(want);
                }
            }
    double lse_err = 0;
    if (lse && lse_ref)
        for (int64_t n = 0; n < B * H * nq; n++) {
            const double e = distance(lse[n], lse_ref[n]);
            lse_err = e > lse_err ? e : lse_err;
        }
    if (max_abs_err)
        *max_abs_err = err;
    if (max_lse_err)
        *max_lse_err = lse_err;
    if (passed)
        *passed = err <= tolerance(p) * (1 + ref_max) && lse_err <= 1e-4;
    return CLATTN_SUCCESS;
}
