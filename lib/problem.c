#include "problem.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"

#define I32_MAX 2147483647

static const struct {
    const char *name;
    int64_t min, max, initial;
} params[PARAM_LAST + 1] = {
    [CLATTN_PARAM_BATCH] = {"batch", 1, I32_MAX, 1},
    [CLATTN_PARAM_HEADS] = {"heads", 1, 65536, 1},
    [CLATTN_PARAM_KV_HEADS] = {"kv_heads", 0, 65536, 0},
    [CLATTN_PARAM_SEQ_Q] = {"seq_q", 1, I32_MAX, 1},
    [CLATTN_PARAM_SEQ_KV] = {"seq_kv", 1, I32_MAX, 1},
    [CLATTN_PARAM_HEAD_DIM] = {"head_dim", 1, 576, 64},
    [CLATTN_PARAM_CAUSAL] = {"causal", 0, 1, 0},
    [CLATTN_PARAM_ALIGN] = {"align", CLATTN_ALIGN_BOTTOM_RIGHT, CLATTN_ALIGN_TOP_LEFT,
                            CLATTN_ALIGN_BOTTOM_RIGHT},
    [CLATTN_PARAM_WINDOW_LEFT] = {"window_left", -1, I32_MAX, -1},
    [CLATTN_PARAM_WINDOW_RIGHT] = {"window_right", -1, I32_MAX, -1},
    [CLATTN_PARAM_DTYPE] = {"dtype", CLATTN_DTYPE_F32, CLATTN_DTYPE_BF16, CLATTN_DTYPE_F32},
    [CLATTN_PARAM_ALGORITHM] = {"algorithm", CLATTN_ALGO_AUTO, CLATTN_ALGO_DECODE,
                                CLATTN_ALGO_AUTO},
    [CLATTN_PARAM_PAGE_SIZE] = {"page_size", 0, 256, 0},
    [CLATTN_PARAM_NUM_PAGES] = {"num_pages", 1, I32_MAX, 1},
    [CLATTN_PARAM_ALIBI] = {"alibi", CLATTN_ALIBI_NONE, CLATTN_ALIBI_PER_ENTRY, CLATTN_ALIBI_NONE},
    [CLATTN_PARAM_SINKS] = {"sinks", 0, 1, 0},
    [CLATTN_PARAM_SINK_TOKENS] = {"sink_tokens", 0, I32_MAX, 0},
    [CLATTN_PARAM_MASK] = {"mask", CLATTN_MASK_NONE, CLATTN_MASK_F16, CLATTN_MASK_NONE},
    [CLATTN_PARAM_MASK_BATCH] = {"mask_batch", 1, I32_MAX, 1},
    [CLATTN_PARAM_MASK_HEADS] = {"mask_heads", 1, 65536, 1},
    [CLATTN_PARAM_POSITIONS] = {"positions", CLATTN_POSITIONS_ALIGNED,
                                CLATTN_POSITIONS_PER_ENTRY, CLATTN_POSITIONS_ALIGNED},
    [CLATTN_PARAM_KV_DTYPE] = {"kv_dtype", -1, CLATTN_DTYPE_FP8_E5M2, -1},
    [CLATTN_PARAM_HEAD_DIM_V] = {"head_dim_v", 0, 512, 0},
    [CLATTN_PARAM_VARLEN] = {"varlen", 0, 1, 0},
    [CLATTN_PARAM_TOTAL_Q] = {"total_q", 1, I32_MAX, 1},
    [CLATTN_PARAM_TOTAL_KV] = {"total_kv", 1, I32_MAX, 1},
};

static const char *const tensor_names[TENSOR_LAST + 1] = {"Q", "K", "V", "O", "mask"};

/* A number the table names: the numbering may have gaps (numbers kept for parameters still
 * to come), and a gap is an unknown parameter like any number past PARAM_LAST. */
static int valid_param(clattn_param param)
{
    return param >= CLATTN_PARAM_BATCH && param <= PARAM_LAST && params[param].name;
}

clattn_status clattn_param_bounds(clattn_param param, int64_t *min, int64_t *max)
{
    if (!valid_param(param))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "unknown parameter %d", (int)param);
    if (min)
        *min = params[param].min;
    if (max)
        *max = params[param].max;
    return CLATTN_SUCCESS;
}

clattn_status clattn_problem_create(clattn_problem **out)
{
    if (!out)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_create: NULL output");
    clattn_problem *p = calloc(1, sizeof *p);
    if (!p)
        return fail(NULL, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    for (int i = CLATTN_PARAM_BATCH; i <= PARAM_LAST; i++)
        p->value[i] = params[i].initial;
    p->k_scale = p->v_scale = 1.0;
    *out = p;
    return CLATTN_SUCCESS;
}

clattn_status clattn_problem_clone(const clattn_problem *problem, clattn_problem **copy)
{
    if (!problem || !copy)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_clone: NULL argument");
    clattn_problem *p = malloc(sizeof *p);
    if (!p)
        return fail(NULL, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    *p = *problem;
    *copy = p;
    return CLATTN_SUCCESS;
}

void clattn_problem_destroy(clattn_problem *problem)
{
    free(problem);
}

clattn_status clattn_problem_set(clattn_problem *p, clattn_param param, int64_t value)
{
    if (!p)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_set: problem is NULL");
    if (!valid_param(param))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "unknown parameter %d", (int)param);
    if (value < params[param].min || value > params[param].max)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "%s = %lld is out of range [%lld, %lld]", params[param].name,
                    (long long)value, (long long)params[param].min,
                    (long long)params[param].max);
    /* pages hold whole 16-token runs, which the kernels' vector loads and tiles rely on */
    if (param == CLATTN_PARAM_PAGE_SIZE && value % 16 != 0)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "page_size = %lld must be 0 (contiguous) or a multiple of 16 up to 256",
                    (long long)value);
    p->value[param] = value;
    return CLATTN_SUCCESS;
}

clattn_status clattn_problem_get(const clattn_problem *p, clattn_param param, int64_t *value)
{
    if (!p || !value)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_get: NULL argument");
    if (!valid_param(param))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "unknown parameter %d", (int)param);
    *value = p->value[param];
    return CLATTN_SUCCESS;
}

clattn_status clattn_problem_set_scale(clattn_problem *p, double scale)
{
    if (!p)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_set_scale: NULL problem");
    /* The kernels take the scale as an f32 with log2(e) folded in (they exponentiate in
     * base 2): that product must be finite. */
    const double largest = FLT_MAX / 1.4426950408889634;
    if (!isfinite(scale) || fabs(scale) > largest)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "scale = %g: it must be finite and at most %g in magnitude (the kernels "
                    "compute scale * log2(e) in f32)",
                    scale, largest);
    p->scale = scale;
    p->scale_set = 1;
    return CLATTN_SUCCESS;
}

clattn_status clattn_problem_set_softcap(clattn_problem *p, double cap)
{
    if (!p)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_set_softcap: NULL problem");
    /* the kernels divide by the cap and multiply by cap * log2(e) in f32 */
    const double largest = FLT_MAX / 1.4426950408889634;
    if (!(cap >= 0 && cap <= largest))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "softcap = %g: it must be 0 (off) or positive, finite and at most %g", cap,
                    largest);
    p->softcap = cap;
    return CLATTN_SUCCESS;
}

clattn_status clattn_problem_get_softcap(const clattn_problem *p, double *cap)
{
    if (!p || !cap)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_get_softcap: NULL argument");
    *cap = p->softcap;
    return CLATTN_SUCCESS;
}

clattn_status clattn_problem_set_kv_scales(clattn_problem *p, double k_scale, double v_scale)
{
    if (!p)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_set_kv_scales: NULL problem");
    if (!(k_scale > 0 && k_scale <= FLT_MAX && v_scale > 0 && v_scale <= FLT_MAX))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "kv scales %g and %g: each must be positive and finite in f32", k_scale,
                    v_scale);
    p->k_scale = k_scale;
    p->v_scale = v_scale;
    return CLATTN_SUCCESS;
}

clattn_status clattn_problem_get_kv_scales(const clattn_problem *p, double *k_scale,
                                           double *v_scale)
{
    if (!p || !k_scale || !v_scale)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_get_kv_scales: NULL argument");
    *k_scale = p->k_scale;
    *v_scale = p->v_scale;
    return CLATTN_SUCCESS;
}

clattn_dtype problem_kv_dtype(const clattn_problem *p)
{
    const int64_t kv = p->value[CLATTN_PARAM_KV_DTYPE];
    return (clattn_dtype)(kv < 0 ? p->value[CLATTN_PARAM_DTYPE] : kv);
}

static const char *const dtype_names[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "fp8_e4m3",
                                          "fp8_e5m2"};

const char *problem_score_options(const clattn_problem *p, int base2, char *out, size_t size)
{
    out[0] = '\0';
    size_t len = 0;
    if (p->softcap > 0) /* nine digits give the f32 back exactly */
        len += (size_t)snprintf(out, size, " -DSOFTCAP=%.8ef",
                                (double)(float)(p->softcap * (base2 ? 1.4426950408889634 : 1.0)));
    const int alibi = (int)p->value[CLATTN_PARAM_ALIBI], sinks = p->value[CLATTN_PARAM_SINKS] != 0;
    if (alibi != CLATTN_ALIBI_NONE && len < size)
        len += (size_t)snprintf(out + len, size - len, " -DALIBI=%d", alibi);
    if (sinks && len < size)
        len += (size_t)snprintf(out + len, size - len, " -DSINKS");
    if (p->value[CLATTN_PARAM_SINK_TOKENS] && len < size)
        len += (size_t)snprintf(out + len, size - len, " -DSINK_TOKENS");
    if (p->value[CLATTN_PARAM_POSITIONS] == CLATTN_POSITIONS_PER_ENTRY && len < size)
        len += (size_t)snprintf(out + len, size - len, " -DPOSITIONS_PER_ENTRY");
    const int mask = (int)p->value[CLATTN_PARAM_MASK];
    if (mask != CLATTN_MASK_NONE && len < size)
        len += (size_t)snprintf(out + len, size - len, " -DMASK=%d", mask);
    /* the slopes, sinks and mask are natural-log values, scaled in the kernel (common.cl) */
    if ((alibi != CLATTN_ALIBI_NONE || sinks || mask != CLATTN_MASK_NONE) && len < size)
        snprintf(out + len, size - len, " -DSCORE_UNIT=%s", base2 ? "LOG2E" : "1.0f");
    return out;
}

const char *problem_kv_options(const clattn_problem *p, char *out, size_t size)
{
    const clattn_dtype kv = problem_kv_dtype(p);
    out[0] = '\0';
    if (kv == (clattn_dtype)p->value[CLATTN_PARAM_DTYPE])
        return out;
    if (kv == CLATTN_DTYPE_FP8_E4M3 || kv == CLATTN_DTYPE_FP8_E5M2)
        snprintf(out, size, " -DKV_DTYPE=%d -DKV_K_SCALE=%.8ef -DKV_V_SCALE=%.8ef", (int)kv,
                 (double)(float)p->k_scale, (double)(float)p->v_scale);
    else
        snprintf(out, size, " -DKV_DTYPE=%d", (int)kv);
    return out;
}

const char *problem_varlen_options(const clattn_problem *p)
{
    return problem_varlen(p) ? " -DVARLEN" : "";
}

double problem_query_scale(const clattn_problem *p)
{
    const clattn_dtype kv = problem_kv_dtype(p);
    const int fp8 = kv == CLATTN_DTYPE_FP8_E4M3 || kv == CLATTN_DTYPE_FP8_E5M2;
    return problem_scale(p) * 1.4426950408889634 * (fp8 ? (double)(float)p->k_scale : 1.0);
}

double problem_scale(const clattn_problem *p)
{
    return p->scale_set ? p->scale : 1.0 / sqrt((double)p->value[CLATTN_PARAM_HEAD_DIM]);
}

clattn_status clattn_problem_get_scale(const clattn_problem *p, double *scale)
{
    if (!p || !scale)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_get_scale: NULL argument");
    *scale = problem_scale(p);
    return CLATTN_SUCCESS;
}

static int valid_tensor(clattn_tensor t)
{
    return t >= CLATTN_TENSOR_Q && t <= TENSOR_LAST;
}

clattn_status clattn_problem_set_strides(clattn_problem *p, clattn_tensor t, int64_t batch,
                                         int64_t seq, int64_t head)
{
    if (!p)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_set_strides: NULL problem");
    if (!valid_tensor(t))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "unknown tensor %d", (int)t);
    if (batch < 0 || seq < 0 || head < 0)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "%s strides (%lld, %lld, %lld): strides cannot be negative", tensor_names[t],
                    (long long)batch, (long long)seq, (long long)head);
    const int64_t limit = (int64_t)1 << 48; /* beyond any buffer; keeps span arithmetic exact */
    if (batch > limit || seq > limit || head > limit)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s strides exceed 2^48 elements",
                    tensor_names[t]);
    p->strides[t][0] = batch;
    p->strides[t][1] = seq;
    p->strides[t][2] = head;
    p->strides_set[t] = batch || seq || head;
    return CLATTN_SUCCESS;
}

static int is_kv(clattn_tensor t)
{
    return t == CLATTN_TENSOR_K || t == CLATTN_TENSOR_V;
}

/* The extents a tensor's three strides step over: (batch, seq, heads) — or, for a paged
 * cache's K and V, (pages of the pool, tokens per page, kv heads); for a packed varlen batch,
 * one "batch" of all the packed rows (docs/semantics.md, "Varlen"). */
static int64_t tensor_batch(const clattn_problem *p, clattn_tensor t)
{
    if (t == CLATTN_TENSOR_MASK)
        return p->value[CLATTN_PARAM_MASK_BATCH];
    if (problem_varlen(p))
        return 1;
    return is_kv(t) && p->value[CLATTN_PARAM_PAGE_SIZE] ? p->value[CLATTN_PARAM_NUM_PAGES]
                                                        : p->value[CLATTN_PARAM_BATCH];
}

static int64_t tensor_seq(const clattn_problem *p, clattn_tensor t)
{
    if (problem_varlen(p) && t != CLATTN_TENSOR_MASK)
        return p->value[is_kv(t) ? CLATTN_PARAM_TOTAL_KV : CLATTN_PARAM_TOTAL_Q];
    if (!is_kv(t)) /* the mask's "sequence" is its query rows */
        return p->value[CLATTN_PARAM_SEQ_Q];
    return p->value[CLATTN_PARAM_PAGE_SIZE] ? p->value[CLATTN_PARAM_PAGE_SIZE]
                                            : p->value[CLATTN_PARAM_SEQ_KV];
}

static int64_t tensor_heads(const clattn_problem *p, clattn_tensor t)
{
    if (t == CLATTN_TENSOR_MASK)
        return p->value[CLATTN_PARAM_MASK_HEADS];
    return is_kv(t) ? problem_kv_heads(p) : p->value[CLATTN_PARAM_HEADS];
}

int64_t problem_pages_per_seq(const clattn_problem *p)
{
    int64_t page = p->value[CLATTN_PARAM_PAGE_SIZE];
    return page ? (p->value[CLATTN_PARAM_SEQ_KV] + page - 1) / page : 0;
}

int64_t problem_head_dim_v(const clattn_problem *p)
{
    const int64_t dv = p->value[CLATTN_PARAM_HEAD_DIM_V];
    return dv ? dv : p->value[CLATTN_PARAM_HEAD_DIM];
}

const char *problem_dv_option(const clattn_problem *p, char *out, size_t size)
{
    out[0] = '\0';
    if (p->value[CLATTN_PARAM_HEAD_DIM_V] && problem_head_dim_v(p) != p->value[CLATTN_PARAM_HEAD_DIM])
        snprintf(out, size, " -DHEAD_DIM_V=%d", (int)problem_head_dim_v(p));
    return out;
}

int64_t problem_kv_heads(const clattn_problem *p)
{
    int64_t kv = p->value[CLATTN_PARAM_KV_HEADS];
    return kv ? kv : p->value[CLATTN_PARAM_HEADS];
}

/* The contiguous run of one row: head_dim elements (head_dim_v for V and O), or the mask's
 * Nk keys. */
static int64_t row_length(const clattn_problem *p, clattn_tensor t)
{
    if (t == CLATTN_TENSOR_MASK)
        return p->value[CLATTN_PARAM_SEQ_KV];
    if (t == CLATTN_TENSOR_V || t == CLATTN_TENSOR_O)
        return problem_head_dim_v(p);
    return p->value[CLATTN_PARAM_HEAD_DIM];
}

/* A tensor's storage: `values` values take `bytes` bytes (32 and 34 for a q8_0 block). */
static void storage(const clattn_problem *p, clattn_tensor t, int *values, int *bytes)
{
    *values = 1;
    if (t == CLATTN_TENSOR_MASK)
        *bytes = p->value[CLATTN_PARAM_MASK] == CLATTN_MASK_F16 ? 2 : 4;
    else if (is_kv(t))
        clattn_dtype_block(problem_kv_dtype(p), values, bytes);
    else
        *bytes = (int)clattn_dtype_size((clattn_dtype)p->value[CLATTN_PARAM_DTYPE]);
}

void problem_strides(const clattn_problem *p, clattn_tensor t, int64_t out[3])
{
    if (p->strides_set[t]) {
        memcpy(out, p->strides[t], sizeof p->strides[t]);
        return;
    }
    const int64_t row = row_length(p, t);
    if (t == CLATTN_TENSOR_MASK) { /* [Bm, Hm, Nq, Nk] */
        out[1] = row;
        out[2] = row * tensor_seq(p, t);
        out[0] = out[2] * tensor_heads(p, t);
        return;
    }
    out[2] = row;
    out[1] = row * tensor_heads(p, t);
    out[0] = out[1] * tensor_seq(p, t);
}

clattn_status clattn_problem_get_strides(const clattn_problem *p, clattn_tensor t,
                                         int64_t *batch, int64_t *seq, int64_t *head)
{
    if (!p || !valid_tensor(t))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_get_strides: bad argument");
    int64_t s[3];
    problem_strides(p, t, s);
    if (batch)
        *batch = s[0];
    if (seq)
        *seq = s[1];
    if (head)
        *head = s[2];
    return CLATTN_SUCCESS;
}

uint64_t problem_tensor_span(const clattn_problem *p, clattn_tensor t)
{
    int64_t s[3];
    problem_strides(p, t, s);
    /* every factor is below 2^48 or 2^31, so each product fits; the sum is checked */
    const int64_t batch = tensor_batch(p, t);
    uint64_t last = (uint64_t)s[0] * (uint64_t)(batch - 1);
    uint64_t terms[3] = {(uint64_t)s[1] * (uint64_t)(tensor_seq(p, t) - 1),
                         (uint64_t)s[2] * (uint64_t)(tensor_heads(p, t) - 1),
                         (uint64_t)row_length(p, t)};
    if (s[0] && last / (uint64_t)s[0] != (uint64_t)(batch - 1))
        return 0;
    for (int i = 0; i < 3; i++) {
        if (last + terms[i] < last)
            return 0;
        last += terms[i];
    }
    int values, bytes;
    storage(p, t, &values, &bytes);
    last = (last + (uint64_t)values - 1) / (uint64_t)values; /* whole blocks */
    if (last > UINT64_MAX / (uint64_t)bytes)
        return 0;
    return last * (uint64_t)bytes;
}

uint64_t problem_tensor_elements(const clattn_problem *p, clattn_tensor t)
{
    return (uint64_t)tensor_batch(p, t) * (uint64_t)tensor_seq(p, t) *
           (uint64_t)tensor_heads(p, t) * (uint64_t)row_length(p, t);
}

clattn_status clattn_problem_tensor_bytes(const clattn_problem *p, clattn_tensor t,
                                          size_t *bytes)
{
    if (!p || !bytes || !valid_tensor(t))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_tensor_bytes: bad argument");
    uint64_t span = problem_tensor_span(p, t);
    if (span == 0 || span > SIZE_MAX)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s spans more bytes than size_t holds",
                    tensor_names[t]);
    *bytes = (size_t)span;
    return CLATTN_SUCCESS;
}

/* Sorted by stride, each dimension must step past everything the smaller ones span. */
int problem_rows_overlap(const clattn_problem *p, clattn_tensor t)
{
    int64_t s[3];
    problem_strides(p, t, s);
    int64_t n[3] = {tensor_batch(p, t), tensor_seq(p, t), tensor_heads(p, t)};
    int order[3] = {0, 1, 2};
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++)
            if (s[order[b]] < s[order[a]]) {
                int tmp = order[a];
                order[a] = order[b];
                order[b] = tmp;
            }
    int64_t span = row_length(p, t); /* the contiguous row */
    for (int k = 0; k < 3; k++) {
        int dim = order[k];
        if (n[dim] <= 1)
            continue;
        if (s[dim] < span)
            return 1;
        /* past INT64_MAX no stride of a larger dimension can step over it */
        span = s[dim] > INT64_MAX / n[dim] ? INT64_MAX : s[dim] * n[dim];
    }
    return 0;
}

/* A packed varlen batch's own rules: its maxima within its capacities, and the features it
 * does not combine with. */
static clattn_status check_varlen(const clattn_problem *p)
{
    if (!problem_varlen(p))
        return CLATTN_SUCCESS;
    const int64_t nq = p->value[CLATTN_PARAM_SEQ_Q], nk = p->value[CLATTN_PARAM_SEQ_KV];
    const int64_t tq = p->value[CLATTN_PARAM_TOTAL_Q], tk = p->value[CLATTN_PARAM_TOTAL_KV];
    if (nq > tq || nk > tk)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "a packed varlen batch's longest entry (seq_q %lld, seq_kv %lld) must fit "
                    "its packed rows (total_q %lld, total_kv %lld)",
                    (long long)nq, (long long)nk, (long long)tq, (long long)tk);
    if (p->value[CLATTN_PARAM_PAGE_SIZE])
        return fail(NULL, CLATTN_ERROR_UNSUPPORTED,
                    "packed variable-length batches read packed K and V, not a paged KV cache");
    if (p->value[CLATTN_PARAM_BATCH] >= I32_MAX)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "a packed varlen batch has at most 2^31 - 2 entries (cu_seqlens has B + 1)");
    return CLATTN_SUCCESS;
}

clattn_status clattn_problem_check(const clattn_problem *p)
{
    if (!p)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "problem is NULL");
    clattn_status varlen = check_varlen(p);
    if (varlen)
        return varlen;
    int64_t h = p->value[CLATTN_PARAM_HEADS], kv = problem_kv_heads(p);
    if (kv > h || h % kv != 0)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "heads (%lld) must be a multiple of kv_heads (%lld)", (long long)h,
                    (long long)kv);
    for (int t = CLATTN_TENSOR_Q; t <= TENSOR_LAST; t++)
        if ((t != CLATTN_TENSOR_MASK || p->value[CLATTN_PARAM_MASK]) &&
            problem_tensor_span(p, (clattn_tensor)t) == 0)
            return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                        "%s's strides and shape span more than 2^64 bytes", tensor_names[t]);
    if (problem_rows_overlap(p, CLATTN_TENSOR_O)) {
        int64_t s[3];
        problem_strides(p, CLATTN_TENSOR_O, s);
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "O strides (batch %lld, seq %lld, head %lld) make output rows of head_dim_v "
                    "%lld overlap",
                    (long long)s[0], (long long)s[1], (long long)s[2],
                    (long long)problem_head_dim_v(p));
    }
    const clattn_dtype kv_dtype = problem_kv_dtype(p);
    int block;
    clattn_dtype_block(kv_dtype, &block, NULL);
    if (block > 1) {
        const int64_t d = p->value[CLATTN_PARAM_HEAD_DIM], dv = problem_head_dim_v(p);
        const int v_at_fault = d % block == 0; /* its blocks run along K's and V's rows */
        if (d % block || dv % block)
            return fail(NULL, CLATTN_ERROR_UNSUPPORTED,
                        "a %s KV cache needs %s a multiple of %d (its blocks run along "
                        "%s); %s = %lld",
                        dtype_names[kv_dtype], v_at_fault ? "head_dim_v" : "head_dim", block,
                        v_at_fault ? "V's rows" : "head_dim", v_at_fault ? "head_dim_v" : "head_dim",
                        (long long)(v_at_fault ? dv : d));
        for (int t = CLATTN_TENSOR_K; t <= CLATTN_TENSOR_V; t++) {
            int64_t st[3];
            problem_strides(p, (clattn_tensor)t, st);
            if (st[0] % block || st[1] % block || st[2] % block)
                return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                            "%s strides (%lld, %lld, %lld) of a %s cache must be multiples of "
                            "%d values: whole blocks",
                            tensor_names[t], (long long)st[0], (long long)st[1],
                            (long long)st[2], dtype_names[kv_dtype], block);
        }
    }
    const int64_t mb = p->value[CLATTN_PARAM_MASK_BATCH], mh = p->value[CLATTN_PARAM_MASK_HEADS];
    if ((mb != 1 && mb != p->value[CLATTN_PARAM_BATCH]) || (mh != 1 && mh != h))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "mask_batch = %lld and mask_heads = %lld must each be 1 (broadcast) or the "
                    "batch (%lld) and heads (%lld)",
                    (long long)mb, (long long)mh, (long long)p->value[CLATTN_PARAM_BATCH],
                    (long long)h);
    uint64_t rows = (uint64_t)p->value[CLATTN_PARAM_BATCH] * (uint64_t)h *
                    (uint64_t)p->value[CLATTN_PARAM_SEQ_Q];
    if (rows > (uint64_t)1 << 40)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "batch * heads * seq_q = %llu query rows is beyond any device",
                    (unsigned long long)rows);
    return CLATTN_SUCCESS;
}

int64_t problem_position_offset(const clattn_problem *p)
{
    if (p->value[CLATTN_PARAM_ALIGN] == CLATTN_ALIGN_TOP_LEFT)
        return 0;
    return p->value[CLATTN_PARAM_SEQ_KV] - p->value[CLATTN_PARAM_SEQ_Q];
}

/* Row i's keys [lo, hi_raw) before the last step of problem_row_range, which raises hi_raw to
 * lo when the window misses every key. */
static void row_bounds(const clattn_problem *p, int64_t i, int64_t *lo, int64_t *hi_raw)
{
    int64_t nk = p->value[CLATTN_PARAM_SEQ_KV];
    int64_t pos = i + problem_position_offset(p);
    int64_t wl = p->value[CLATTN_PARAM_WINDOW_LEFT], wr = p->value[CLATTN_PARAM_WINDOW_RIGHT];
    int64_t first = wl < 0 ? 0 : pos - wl;
    int64_t last = wr < 0 ? nk - 1 : pos + wr;
    if (p->value[CLATTN_PARAM_CAUSAL] && last > pos)
        last = pos;
    *lo = first < 0 ? 0 : first > nk ? nk : first;
    *hi_raw = last + 1 > nk ? nk : last + 1;
}

void problem_row_range(const clattn_problem *p, int64_t i, int64_t *lo, int64_t *hi)
{
    row_bounds(p, i, lo, hi);
    if (*hi < *lo)
        *hi = *lo;
}

static int64_t row_span(const clattn_problem *p, int64_t i)
{
    int64_t lo, hi_raw;
    row_bounds(p, i, &lo, &hi_raw);
    return hi_raw - lo;
}

/* Sum over rows [s, e) of max(0, span), where span is linear in the row. */
static uint64_t visible_in_segment(const clattn_problem *p, int64_t s, int64_t e)
{
    const int64_t first = row_span(p, s), last = row_span(p, e - 1);
    if (first <= 0 && last <= 0)
        return 0;
    if (first < 0 || last < 0) { /* the span crosses 0 once: keep the rows that see keys */
        const int64_t step = row_span(p, s + 1) - first;
        if (step > 0)
            s += (-first + step - 1) / step;
        else
            e = s + first / -step + 1;
        return visible_in_segment(p, s, e);
    }
    return (uint64_t)(e - s) * (uint64_t)(first + last) / 2;
}

/* Rows' key counts change slope only where a clamp of row_bounds starts or stops to act: at
 * the positions wl and nk + wl (first key), nk - 1 and nk - wr - 1 (last key). Between them
 * the span is linear, and each piece is summed in closed form, so that planning a problem
 * costs the same for 2^31 rows as for one. */
static uint64_t visible_per_head(const clattn_problem *p)
{
    const int64_t nq = p->value[CLATTN_PARAM_SEQ_Q], nk = p->value[CLATTN_PARAM_SEQ_KV];
    const int64_t wl = p->value[CLATTN_PARAM_WINDOW_LEFT], wr = p->value[CLATTN_PARAM_WINDOW_RIGHT];
    const int64_t off = problem_position_offset(p);
    int64_t cut[10] = {0, nq};
    int n = 2;
    const int64_t kinks[4] = {wl, nk + wl, nk - 1, nk - wr - 1};
    for (int k = 0; k < 4; k++)
        for (int64_t i = kinks[k] - off; i <= kinks[k] - off + 1; i++)
            if (i > 0 && i < nq)
                cut[n++] = i;
    for (int a = 1; a < n; a++) /* insertion sort of at most ten cuts */
        for (int b = a; b > 0 && cut[b - 1] > cut[b]; b--) {
            const int64_t t = cut[b];
            cut[b] = cut[b - 1];
            cut[b - 1] = t;
        }
    uint64_t total = 0;
    for (int a = 1; a < n; a++)
        if (cut[a] > cut[a - 1])
            total += visible_in_segment(p, cut[a - 1], cut[a]);
    return total;
}

/* Row i's sink tokens outside its window's keys: |[0, sink) \ [lo, hi)|, with sink the end of
 * the sink tokens the causal rule lets the row see. */
static int64_t sink_extra(const clattn_problem *p, int64_t i)
{
    const int64_t nk = p->value[CLATTN_PARAM_SEQ_KV], s = p->value[CLATTN_PARAM_SINK_TOKENS];
    int64_t lo, hi, sink = s < nk ? s : nk;
    problem_row_range(p, i, &lo, &hi);
    const int64_t pos = i + problem_position_offset(p);
    if (p->value[CLATTN_PARAM_CAUSAL] && pos + 1 < sink)
        sink = pos + 1 < 0 ? 0 : pos + 1;
    return (sink < lo ? sink : lo) + (sink > hi ? sink - hi : 0);
}

/* The sink tokens' keys beyond the windows', summed over the rows: sink_extra is linear in
 * the row between the positions where one of its terms meets a bound or another term (S' is
 * min(S, nk)), so the sum is taken in closed form piece by piece, as visible_per_head's. */
static uint64_t sink_extra_per_head(const clattn_problem *p)
{
    const int64_t nq = p->value[CLATTN_PARAM_SEQ_Q], nk = p->value[CLATTN_PARAM_SEQ_KV];
    const int64_t wl = p->value[CLATTN_PARAM_WINDOW_LEFT], wr = p->value[CLATTN_PARAM_WINDOW_RIGHT];
    const int64_t s = p->value[CLATTN_PARAM_SINK_TOKENS] < nk ? p->value[CLATTN_PARAM_SINK_TOKENS]
                                                             : nk;
    const int64_t off = problem_position_offset(p);
    const int64_t kinks[10] = {wl, nk + wl, nk - 1, nk - wr - 1, -1, -wr - 1, s - 1, s + wl,
                               s - wr - 1, 0};
    int64_t cut[22] = {0, nq};
    int n = 2;
    for (int k = 0; k < 10; k++)
        for (int64_t i = kinks[k] - off; i <= kinks[k] - off + 1; i++)
            if (i > 0 && i < nq)
                cut[n++] = i;
    for (int a = 1; a < n; a++) /* insertion sort of at most 22 cuts */
        for (int b = a; b > 0 && cut[b - 1] > cut[b]; b--) {
            const int64_t t = cut[b];
            cut[b] = cut[b - 1];
            cut[b - 1] = t;
        }
    uint64_t total = 0;
    for (int a = 1; a < n; a++)
        if (cut[a] > cut[a - 1])
            total += (uint64_t)(cut[a] - cut[a - 1]) *
                     (uint64_t)(sink_extra(p, cut[a - 1]) + sink_extra(p, cut[a] - 1)) / 2;
    return total;
}

int problem_window_bounds_work(const clattn_problem *p)
{
    return p->value[CLATTN_PARAM_WINDOW_LEFT] >= 0 &&
           (p->value[CLATTN_PARAM_WINDOW_RIGHT] >= 0 || p->value[CLATTN_PARAM_CAUSAL]);
}

clattn_status clattn_problem_visible_pairs(const clattn_problem *p, uint64_t *pairs)
{
    if (!p || !pairs)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_problem_visible_pairs: NULL argument");
    if (p->value[CLATTN_PARAM_POSITIONS] != CLATTN_POSITIONS_ALIGNED || problem_varlen(p))
        return fail(NULL, CLATTN_ERROR_UNSUPPORTED,
                    "clattn_problem_visible_pairs: not counted with %s",
                    problem_varlen(p) ? "packed variable-length batches (the lengths are device "
                                        "data)"
                                      : "positions given per call or entry");
    const uint64_t sinks = p->value[CLATTN_PARAM_SINK_TOKENS] ? sink_extra_per_head(p) : 0;
    *pairs = (visible_per_head(p) + sinks) * (uint64_t)p->value[CLATTN_PARAM_BATCH] *
             (uint64_t)p->value[CLATTN_PARAM_HEADS];
    return CLATTN_SUCCESS;
}
