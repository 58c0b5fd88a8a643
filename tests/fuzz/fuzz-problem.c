/* Fuzz target: arbitrary problem descriptors through the public validation code — the
 * setters, clattn_problem_check, clattn_problem_tensor_bytes, clattn_problem_visible_pairs —
 * and, when the shape is tiny, the CPU reference and the comparison on buffers of exactly
 * the size clattn_problem_tensor_bytes asks for (AddressSanitizer sees any byte past them). */
#include <math.h>

#include "fuzz_problem.h"

/* The reference costs B * H * Nq * Nk * d; beyond this a run would take too long to fuzz. */
#define REFERENCE_WORK (1 << 16)
/* Strides can spread a tiny shape over terabytes: no buffer larger than this is made. */
#define REFERENCE_BYTES (1 << 20)
/* clattn_problem_visible_pairs walks every query row; 2^31 of them take seconds. */
#define PAIRS_ROWS (1 << 20)

static int64_t get(const clattn_problem *p, clattn_param param)
{
    int64_t v = 0;
    FUZZ_ASSERT(clattn_problem_get(p, param, &v) == CLATTN_SUCCESS);
    return v;
}

/* Every element of the buffer from the fuzzer's bytes, NaN and infinities included. */
static void *fill(size_t bytes, fuzz_input *in)
{
    unsigned char *b = malloc(bytes ? bytes : 1);
    FUZZ_ASSERT(b);
    for (size_t i = 0; i < bytes; i++)
        b[i] = in->size ? in->data[i % in->size] : (unsigned char)i;
    return b;
}

static void reference(const clattn_problem *p, const size_t bytes[4], fuzz_input *in)
{
    const clattn_dtype dtype = (clattn_dtype)get(p, CLATTN_PARAM_DTYPE);
    const size_t esize = clattn_dtype_size(dtype);
    const size_t rows = (size_t)(get(p, CLATTN_PARAM_BATCH) * get(p, CLATTN_PARAM_HEADS) *
                                 get(p, CLATTN_PARAM_SEQ_Q));
    void *q = fill(bytes[0], in), *k = fill(bytes[1], in), *v = fill(bytes[2], in);
    float *o_ref = malloc(bytes[3] / esize * sizeof *o_ref);
    float *lse_ref = malloc(rows * sizeof *lse_ref), *lse = malloc(rows * sizeof *lse);
    void *o = malloc(bytes[3]);
    FUZZ_ASSERT(o_ref && lse_ref && lse && o);
    memset(o_ref, 0, bytes[3] / esize * sizeof *o_ref); /* the gaps of a strided O */
    /* a valid problem has a reference, or (a paged KV cache, which needs its page table)
     * a reason why not */
    const clattn_status st = clattn_reference(p, q, k, v, o_ref, lse_ref);
    FUZZ_ASSERT(!st || (st == CLATTN_ERROR_INVALID_ARGUMENT && *clattn_message(NULL)));
    if (!st) {
        FUZZ_ASSERT(clattn_from_float(dtype, o_ref, o, bytes[3] / esize) == CLATTN_SUCCESS);
        memcpy(lse, lse_ref, rows * sizeof *lse);
        double err = 0, lse_err = 0;
        int passed = 0;
        FUZZ_ASSERT(clattn_compare(p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed) ==
                    CLATTN_SUCCESS);
    }
    free(q);
    free(k);
    free(v);
    free(o_ref);
    free(lse_ref);
    free(lse);
    free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    clattn_problem *p = fuzz_problem(&in, 24);
    const clattn_status checked = clattn_problem_check(p);
    FUZZ_ASSERT(!checked || checked == CLATTN_ERROR_INVALID_ARGUMENT);
    FUZZ_ASSERT(!checked || *clattn_message(NULL)); /* a refusal always says why */
    size_t bytes[4];
    for (int t = 0; t < 4; t++) {
        const clattn_status st = clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes[t]);
        FUZZ_ASSERT(checked || st == CLATTN_SUCCESS); /* a valid problem has sizes */
        if (st)
            bytes[t] = 0;
    }
    const int64_t b = get(p, CLATTN_PARAM_BATCH), h = get(p, CLATTN_PARAM_HEADS);
    const int64_t nq = get(p, CLATTN_PARAM_SEQ_Q), nk = get(p, CLATTN_PARAM_SEQ_KV);
    const int64_t d = get(p, CLATTN_PARAM_HEAD_DIM);
    if (!checked && nq <= PAIRS_ROWS) {
        uint64_t pairs = 0;
        FUZZ_ASSERT(clattn_problem_visible_pairs(p, &pairs) == CLATTN_SUCCESS);
        /* at most every pair, which for these sizes fits in a double exactly enough */
        FUZZ_ASSERT((double)pairs <= (double)b * (double)h * (double)nq * (double)nk);
    }
    int small = !checked && (double)b * (double)h * (double)nq * (double)nk * (double)d <=
                                 REFERENCE_WORK;
    for (int t = 0; t < 4; t++)
        small &= bytes[t] <= REFERENCE_BYTES;
    if (small)
        reference(p, bytes, &in);
    clattn_problem_destroy(p);
    return 0;
}
