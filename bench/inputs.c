#include "inputs.h"

#include <stdlib.h>
#include <string.h>

#include "diag.h"

/* splitmix64: a fixed, portable stream, so the same shape always gets the same inputs. */
uint64_t inputs_next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

int inputs_fill_uniform(clattn_dtype dtype, void *dst, size_t count, uint64_t seed)
{
    float *values = dtype == CLATTN_DTYPE_F32 ? dst : malloc(count * sizeof *values);
    if (!values)
        return fail_host_memory();
    for (size_t i = 0; i < count; i++) /* 24 random bits: exact in a float */
        values[i] = (float)((double)(inputs_next_random(&seed) >> 40) / (double)(1 << 23) - 1.0);
    clattn_status st = CLATTN_SUCCESS;
    if (values != dst) {
        st = clattn_from_float(dtype, values, dst, count);
        free(values);
    }
    return st ? fail_clattn(NULL, st, "converting inputs") : 0;
}

static int get_param(const clattn_problem *p, clattn_param param, int64_t *value)
{
    clattn_status st = clattn_problem_get(p, param, value);
    return st ? fail_clattn(NULL, st, "reading a problem") : 0;
}

static int sizes(const clattn_problem *shape, size_t bytes[INPUT_BUFFERS])
{
    const clattn_tensor tensors[] = {CLATTN_TENSOR_Q, CLATTN_TENSOR_K, CLATTN_TENSOR_V,
                                     CLATTN_TENSOR_O};
    for (int t = 0; t < 4; t++) {
        clattn_status st = clattn_problem_tensor_bytes(shape, tensors[t], &bytes[t]);
        if (st)
            return fail_clattn(NULL, st, "sizing the tensors");
    }
    int64_t batch, heads, seq_q;
    int rc = get_param(shape, CLATTN_PARAM_BATCH, &batch);
    if (!rc)
        rc = get_param(shape, CLATTN_PARAM_HEADS, &heads);
    if (!rc)
        rc = get_param(shape, CLATTN_PARAM_SEQ_Q, &seq_q);
    if (!rc)
        bytes[OUTPUT_LSE] = (size_t)memory_mul(memory_mul((uint64_t)batch, (uint64_t)heads),
                                               memory_mul((uint64_t)seq_q, sizeof(float)));
    return rc;
}

int inputs_need(const struct bench_session *s, const clattn_problem *shape,
                struct memory_need *need)
{
    size_t bytes[INPUT_BUFFERS];
    int64_t dtype = 0, seq_kv = 0, head_dim = 0;
    int rc = sizes(shape, bytes);
    if (!rc)
        rc = get_param(shape, CLATTN_PARAM_DTYPE, &dtype);
    if (!rc)
        rc = get_param(shape, CLATTN_PARAM_SEQ_KV, &seq_kv);
    if (!rc)
        rc = get_param(shape, CLATTN_PARAM_HEAD_DIM, &head_dim);
    if (rc)
        return rc;
    *need = (struct memory_need){.what = "the inputs and outputs (Q, K, V, O, LSE)"};
    uint64_t largest_count = 0; /* elements of the largest tensor */
    for (int b = 0; b < INPUT_BUFFERS; b++) {
        need->device = memory_add(need->device, bytes[b]);
        if (bytes[b] > need->largest)
            need->largest = bytes[b];
    }
    const size_t esize = clattn_dtype_size((clattn_dtype)dtype);
    for (int b = INPUT_Q; b <= OUTPUT_O; b++)
        if (bytes[b] / esize > largest_count)
            largest_count = bytes[b] / esize;
    need->host = need->device;
    /* inputs_fill_uniform's floats, and --save's widening of bf16: one tensor at a time */
    if (dtype != CLATTN_DTYPE_F32)
        need->host = memory_add(need->host, memory_mul(largest_count, sizeof(float)));
    if (s->opt->check) /* the reference O (f32) and LSE, and clattn_reference's rows */
        need->host = memory_add(
            need->host,
            memory_add(memory_add(memory_mul(bytes[OUTPUT_O] / esize, sizeof(float)),
                                  bytes[OUTPUT_LSE]),
                       memory_mul((uint64_t)seq_kv + (uint64_t)head_dim, sizeof(double))));
    return 0;
}

int inputs_fit(const struct bench_session *s, const clattn_problem *shape, int64_t scratch_bytes,
               int *fit)
{
    struct memory_need need;
    int rc = inputs_need(s, shape, &need);
    if (rc)
        return rc;
    need.device_held = (uint64_t)scratch_bytes;
    char why[512];
    *fit = session_memory_fits(s, &need, why, sizeof why);
    return 0;
}

static int upload(struct bench_inputs *in, clattn_context *ctx)
{
    cl_context cl;
    cl_command_queue queue;
    clattn_status st = clattn_context_get_cl(ctx, &cl, NULL, &queue);
    if (st)
        return fail_clattn(ctx, st, "getting the OpenCL context");
    for (int b = 0; b < INPUT_BUFFERS; b++) {
        cl_int err;
        cl_mem_flags flags = b <= INPUT_V ? CL_MEM_READ_ONLY : CL_MEM_READ_WRITE;
        in->mem[b] = clCreateBuffer(cl, flags, in->bytes[b], NULL, &err);
        if (err != CL_SUCCESS) {
            in->mem[b] = NULL;
            return fail_cl(err, "clCreateBuffer (inputs and outputs)");
        }
        if (b <= INPUT_V &&
            (err = clEnqueueWriteBuffer(queue, in->mem[b], CL_TRUE, 0, in->bytes[b], in->host[b],
                                        0, NULL, NULL)) != CL_SUCCESS)
            return fail_cl(err, "clEnqueueWriteBuffer (inputs)");
    }
    return 0;
}

int inputs_create(struct bench_session *s, const clattn_problem *shape,
                  struct bench_inputs **out)
{
    struct memory_need need;
    int rc = inputs_need(s, shape, &need);
    if (!rc)
        rc = session_check_memory(s, &need);
    if (rc)
        return rc;
    struct bench_inputs *in = calloc(1, sizeof *in);
    if (!in)
        return fail_host_memory();
    rc = sizes(shape, in->bytes);
    for (int b = 0; b < INPUT_BUFFERS && !rc; b++)
        if (!(in->host[b] = malloc(in->bytes[b])))
            rc = fail_host_memory();
    int64_t dtype = 0;
    if (!rc)
        rc = get_param(shape, CLATTN_PARAM_DTYPE, &dtype);
    for (int b = INPUT_Q; b <= INPUT_V && !rc; b++) {
        size_t count = in->bytes[b] / clattn_dtype_size((clattn_dtype)dtype);
        rc = inputs_fill_uniform((clattn_dtype)dtype, in->host[b], count, (uint64_t)b + 1);
    }
    if (!rc)
        rc = upload(in, s->ctx);
    if (rc) {
        inputs_destroy(in);
        return rc;
    }
    *out = in;
    return 0;
}

void inputs_destroy(struct bench_inputs *in)
{
    if (!in)
        return;
    for (int b = 0; b < INPUT_BUFFERS; b++) {
        if (in->mem[b])
            clReleaseMemObject(in->mem[b]);
        free(in->host[b]);
    }
    clattn_problem_destroy(in->ref_problem);
    free(in->ref_o);
    free(in->ref_lse);
    free(in);
}

int inputs_poison_outputs(struct bench_inputs *in, cl_command_queue queue)
{
    const cl_uchar all_ones = 0xFF;
    for (int b = OUTPUT_O; b <= OUTPUT_LSE; b++) {
        cl_int err = clEnqueueFillBuffer(queue, in->mem[b], &all_ones, sizeof all_ones, 0,
                                         in->bytes[b], 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return fail_cl(err, "clEnqueueFillBuffer (outputs)");
    }
    return 0;
}

int inputs_read_outputs(struct bench_inputs *in, cl_command_queue queue)
{
    for (int b = OUTPUT_O; b <= OUTPUT_LSE; b++) {
        cl_int err = clEnqueueReadBuffer(queue, in->mem[b], CL_TRUE, 0, in->bytes[b],
                                         in->host[b], 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return fail_cl(err, "clEnqueueReadBuffer (outputs)");
    }
    return 0;
}

/* Whether two problems of the same shape ask for the same output: same mask. */
static int same_mask(const clattn_problem *a, const clattn_problem *b, int *same)
{
    static const clattn_param mask[] = {CLATTN_PARAM_CAUSAL, CLATTN_PARAM_ALIGN,
                                        CLATTN_PARAM_WINDOW_LEFT, CLATTN_PARAM_WINDOW_RIGHT};
    *same = 1;
    for (size_t i = 0; i < sizeof mask / sizeof *mask; i++) {
        int64_t va, vb;
        int rc = get_param(a, mask[i], &va);
        if (!rc)
            rc = get_param(b, mask[i], &vb);
        if (rc)
            return rc;
        *same &= va == vb;
    }
    return 0;
}

int inputs_reference(struct bench_inputs *in, const clattn_problem *problem, const float **o,
                     const float **lse)
{
    int same = 0;
    int rc = in->ref_problem ? same_mask(in->ref_problem, problem, &same) : 0;
    if (rc)
        return rc;
    if (!same) {
        clattn_problem_destroy(in->ref_problem);
        in->ref_problem = NULL;
        free(in->ref_o);
        free(in->ref_lse);
        /* O's f32 copy has O's element count, in O's layout */
        int64_t dtype;
        if ((rc = get_param(problem, CLATTN_PARAM_DTYPE, &dtype)))
            return rc;
        size_t o_count = in->bytes[OUTPUT_O] / clattn_dtype_size((clattn_dtype)dtype);
        in->ref_o = malloc(o_count * sizeof *in->ref_o);
        in->ref_lse = malloc(in->bytes[OUTPUT_LSE]);
        if (!in->ref_o || !in->ref_lse)
            return fail_host_memory();
        clattn_status st = clattn_reference(problem, in->host[INPUT_Q], in->host[INPUT_K],
                                            in->host[INPUT_V], in->ref_o, in->ref_lse);
        if (!st)
            st = clattn_problem_clone(problem, &in->ref_problem);
        if (st)
            return fail_clattn(NULL, st, "computing the CPU reference");
    }
    *o = in->ref_o;
    *lse = in->ref_lse;
    return 0;
}
