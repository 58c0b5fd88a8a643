/* One problem, run: its shape (the library is the judge of what is valid), its data and the
 * CPU reference, the plan (its creation timed), warm-up and timed runs, the check, and
 * --save's .npy files. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"

/* ---- Shapes */

struct setting {
    clattn_param param;
    int64_t value;
    const char *flag; /* the command-line flag that gave the value */
};

/* Applies the settings to a new problem and checks them together. `from_user` words a
 * rejection as a usage error naming the flag; otherwise it is a runtime error. */
static int build(const struct setting *settings, size_t count, int from_user,
                 clattn_problem **out)
{
    clattn_problem *problem = NULL;
    clattn_status st = clattn_problem_create(&problem);
    if (st)
        return fail_clattn(NULL, st, "creating a problem");
    for (size_t i = 0; i < count; i++) {
        st = clattn_problem_set(problem, settings[i].param, settings[i].value);
        if (st == CLATTN_ERROR_INVALID_ARGUMENT && from_user) {
            char text[1200];
            snprintf(text, sizeof text, "%s %lld: %s", settings[i].flag,
                     (long long)settings[i].value, clattn_message(NULL));
            clattn_problem_destroy(problem);
            return fail_usage(text);
        }
        if (st) {
            clattn_problem_destroy(problem);
            return fail_clattn(NULL, st, "setting up a problem");
        }
    }
    st = clattn_problem_check(problem);
    if (st == CLATTN_ERROR_INVALID_ARGUMENT && from_user) {
        char text[1200];
        snprintf(text, sizeof text, "impossible shape: %s", clattn_message(NULL));
        clattn_problem_destroy(problem);
        return fail_usage(text);
    }
    if (st) {
        clattn_problem_destroy(problem);
        return fail_clattn(NULL, st, "checking a problem");
    }
    *out = problem;
    return 0;
}

int shape_from_options(const struct bench_options *opt, clattn_problem **out)
{
    const struct setting settings[] = {
        {CLATTN_PARAM_BATCH, opt->batch, "--batch"},
        {CLATTN_PARAM_HEADS, opt->heads, "--heads"},
        {CLATTN_PARAM_KV_HEADS, opt->kv_heads, "--kv-heads"},
        {CLATTN_PARAM_SEQ_Q, opt->seq_q, "--seq-q (or --seq)"},
        {CLATTN_PARAM_SEQ_KV, opt->seq_kv, "--seq-kv (or --seq)"},
        {CLATTN_PARAM_HEAD_DIM, opt->head_dim, "--head-dim"},
        {CLATTN_PARAM_HEAD_DIM_V, opt->head_dim_v, "--head-dim-v"},
        {CLATTN_PARAM_CAUSAL, opt->causal, "--causal"},
        {CLATTN_PARAM_ALIGN, opt->align, "--align"},
        {CLATTN_PARAM_WINDOW_LEFT, opt->window_left, "--window (left)"},
        {CLATTN_PARAM_WINDOW_RIGHT, opt->window_right, "--window (right)"},
        {CLATTN_PARAM_DTYPE, opt->dtype, "--dtype"},
        {CLATTN_PARAM_SINK_TOKENS, opt->sink_tokens, "--sink-tokens"},
    };
    int rc = build(settings, sizeof settings / sizeof *settings, 1, out);
    if (rc == 0 && opt->alibi_bias > 0)
        clattn_problem_set(*out, CLATTN_PARAM_ALIBI, CLATTN_ALIBI_PER_HEAD);
    if (rc == 0 && opt->has_sinks)
        clattn_problem_set(*out, CLATTN_PARAM_SINKS, 1);
    if (rc == 0 && opt->mask != BENCH_MASK_NONE)
        clattn_problem_set(*out, CLATTN_PARAM_MASK, CLATTN_MASK_F32);
    if (rc == 0 && opt->has_positions) {
        clattn_problem_set(*out, CLATTN_PARAM_POSITIONS, CLATTN_POSITIONS_PER_CALL);
        /* the call would refuse them (docs/semantics.md, "Positions"): a usage error here */
        const int64_t last_q = opt->q_start + opt->seq_q - 1;
        const int64_t last_k = opt->k_start + opt->seq_kv - 1;
        if (last_q > INT32_MAX || last_k > INT32_MAX) {
            char text[200];
            snprintf(text, sizeof text,
                     "--positions %lld,%lld: the last positions (query %lld, key %lld) pass "
                     "2^31 - 1",
                     (long long)opt->q_start, (long long)opt->k_start, (long long)last_q,
                     (long long)last_k);
            clattn_problem_destroy(*out);
            *out = NULL;
            rc = fail_usage(text);
        }
    }
    if (rc == 0 && opt->softcap > 0) {
        if (clattn_problem_set_softcap(*out, opt->softcap)) {
            char text[1200];
            snprintf(text, sizeof text, "--softcap %g: %s", opt->softcap, clattn_message(NULL));
            clattn_problem_destroy(*out);
            *out = NULL;
            rc = fail_usage(text);
        }
    }
    return rc;
}

int shape_for_sweep(int64_t seq, int causal, int windowed, clattn_problem **out)
{
    const struct setting settings[] = {
        {CLATTN_PARAM_BATCH, SWEEP_BATCH, NULL},
        {CLATTN_PARAM_HEADS, SWEEP_HEADS, NULL},
        {CLATTN_PARAM_SEQ_Q, seq, NULL},
        {CLATTN_PARAM_SEQ_KV, seq, NULL},
        {CLATTN_PARAM_HEAD_DIM, SWEEP_HEAD_DIM, NULL},
        {CLATTN_PARAM_CAUSAL, causal, NULL},
        {CLATTN_PARAM_WINDOW_LEFT, windowed ? SWEEP_WINDOW_LEFT : -1, NULL},
        {CLATTN_PARAM_WINDOW_RIGHT, windowed ? SWEEP_WINDOW_RIGHT : -1, NULL},
    };
    return build(settings, sizeof settings / sizeof *settings, 0, out);
}

int shape_for_decode(const struct bench_options *opt, int64_t capacity, int64_t num_pages,
                     clattn_problem **out)
{
    const int compare = opt->decode == BENCH_DECODE_COMPARE;
    const struct setting settings[] = {
        {CLATTN_PARAM_BATCH, opt->batch, opt->kv_len_count ? "--kv-lens (count)" : "--batch"},
        {CLATTN_PARAM_HEADS, opt->heads, "--heads"},
        {CLATTN_PARAM_KV_HEADS, opt->kv_heads, "--kv-heads"},
        {CLATTN_PARAM_SEQ_Q, 1, "--decode"},
        {CLATTN_PARAM_SEQ_KV, capacity, compare ? "--seq-kv" : "--tokens (cache length)"},
        {CLATTN_PARAM_HEAD_DIM, opt->head_dim, "--head-dim"},
        {CLATTN_PARAM_CAUSAL, 1, "--decode"},
        {CLATTN_PARAM_DTYPE, opt->dtype, "--dtype"},
        {CLATTN_PARAM_KV_DTYPE, opt->kv_dtype, "--kv-dtype"},
        {CLATTN_PARAM_PAGE_SIZE, opt->page_size, "--page-size"},
        /* the library's default (1 page) for a contiguous cache */
        {CLATTN_PARAM_NUM_PAGES, opt->page_size ? num_pages : 1, "--page-size (pages in the pool)"},
    };
    return build(settings, sizeof settings / sizeof *settings, 1, out);
}

int shape_for_prefill(const clattn_problem *decode, int64_t seq, clattn_problem **out)
{
    static const clattn_param kept[] = {CLATTN_PARAM_HEADS, CLATTN_PARAM_KV_HEADS,
                                        CLATTN_PARAM_HEAD_DIM, CLATTN_PARAM_DTYPE};
    struct setting settings[] = {
        {CLATTN_PARAM_HEADS, 0, NULL},    {CLATTN_PARAM_KV_HEADS, 0, NULL},
        {CLATTN_PARAM_HEAD_DIM, 0, NULL}, {CLATTN_PARAM_DTYPE, 0, NULL},
        {CLATTN_PARAM_SEQ_Q, seq, NULL},  {CLATTN_PARAM_SEQ_KV, seq, NULL},
        {CLATTN_PARAM_CAUSAL, 1, NULL},
    };
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        clattn_status st = clattn_problem_get(decode, kept[i], &settings[i].value);
        if (st)
            return fail_clattn(NULL, st, "reading a problem");
    }
    return build(settings, sizeof settings / sizeof *settings, 0, out);
}

int shape_with_algorithm(const clattn_problem *problem, clattn_algorithm algo,
                         clattn_problem **out)
{
    clattn_problem *copy = NULL;
    clattn_status st = clattn_problem_clone(problem, &copy);
    if (!st && (st = clattn_problem_set(copy, CLATTN_PARAM_ALGORITHM, algo)))
        clattn_problem_destroy(copy);
    if (st)
        return fail_clattn(NULL, st, "choosing the algorithm");
    *out = copy;
    return 0;
}

/* Copies the problem's shape, mask and dtype into the row. */
static int shape_to_row(const clattn_problem *problem, struct bench_row *row)
{
    int64_t causal = 0, align = 0, dtype = 0;
    const struct {
        clattn_param param;
        int64_t *value;
    } fields[] = {
        {CLATTN_PARAM_BATCH, &row->batch},
        {CLATTN_PARAM_HEADS, &row->heads},
        {CLATTN_PARAM_KV_HEADS, &row->kv_heads},
        {CLATTN_PARAM_SEQ_Q, &row->seq_q},
        {CLATTN_PARAM_SEQ_KV, &row->seq_kv},
        {CLATTN_PARAM_HEAD_DIM, &row->head_dim},
        {CLATTN_PARAM_HEAD_DIM_V, &row->head_dim_v},
        {CLATTN_PARAM_WINDOW_LEFT, &row->window_left},
        {CLATTN_PARAM_WINDOW_RIGHT, &row->window_right},
        {CLATTN_PARAM_CAUSAL, &causal},
        {CLATTN_PARAM_ALIGN, &align},
        {CLATTN_PARAM_DTYPE, &dtype},
    };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        clattn_status st = clattn_problem_get(problem, fields[i].param, fields[i].value);
        if (st)
            return fail_clattn(NULL, st, "reading a problem");
    }
    if (row->kv_heads == 0) /* the library's "same as heads" */
        row->kv_heads = row->heads;
    if (row->head_dim_v == 0) /* likewise "same as head_dim" */
        row->head_dim_v = row->head_dim;
    row->causal = (int)causal;
    row->align = (clattn_align)align;
    row->dtype = (clattn_dtype)dtype;
    return 0;
}

/* ---- Inputs, and the CPU reference */

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
    int64_t alibi = 0, sinks = 0;
    if (!rc)
        rc = get_param(shape, CLATTN_PARAM_ALIBI, &alibi);
    if (!rc)
        rc = get_param(shape, CLATTN_PARAM_SINKS, &sinks);
    bytes[INPUT_SLOPES] = alibi ? (size_t)heads * sizeof(float) : 0;
    bytes[INPUT_SINKS] = sinks ? (size_t)heads * sizeof(float) : 0;
    int64_t mask = CLATTN_MASK_NONE;
    if (!rc)
        rc = get_param(shape, CLATTN_PARAM_MASK, &mask);
    bytes[INPUT_MASK] = 0;
    if (!rc && mask != CLATTN_MASK_NONE) {
        clattn_status st = clattn_problem_tensor_bytes(shape, CLATTN_TENSOR_MASK, &bytes[INPUT_MASK]);
        if (st)
            rc = fail_clattn(NULL, st, "sizing the mask");
    }
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
        if (!in->bytes[b])
            continue;
        const int input = b <= INPUT_V || b >= INPUT_SLOPES;
        cl_int err;
        in->mem[b] = clCreateBuffer(cl, input ? CL_MEM_READ_ONLY : CL_MEM_READ_WRITE,
                                    in->bytes[b], NULL, &err);
        if (err != CL_SUCCESS) {
            in->mem[b] = NULL;
            return fail_cl(err, "clCreateBuffer (inputs and outputs)");
        }
        if (input &&
            (err = clEnqueueWriteBuffer(queue, in->mem[b], CL_TRUE, 0, in->bytes[b], in->host[b],
                                        0, NULL, NULL)) != CL_SUCCESS)
            return fail_cl(err, "clEnqueueWriteBuffer (inputs)");
    }
    return 0;
}

int inputs_fill_mask(enum bench_mask pattern, const clattn_problem *shape, float *mask)
{
    int64_t nq = 0, nk = 0, align = 0;
    int rc = get_param(shape, CLATTN_PARAM_SEQ_Q, &nq);
    if (!rc)
        rc = get_param(shape, CLATTN_PARAM_SEQ_KV, &nk);
    if (!rc)
        rc = get_param(shape, CLATTN_PARAM_ALIGN, &align);
    const int64_t off = align == CLATTN_ALIGN_BOTTOM_RIGHT ? nk - nq : 0;
    for (int64_t i = 0; !rc && i < nq; i++)
        for (int64_t j = 0; j < nk; j++) {
            const int64_t bi = i / BENCH_MASK_BLOCK, bj = j / BENCH_MASK_BLOCK;
            const int shown = pattern == BENCH_MASK_ZERO     ? 1
                              : pattern == BENCH_MASK_CAUSAL ? j <= i + off
                                                             : (bi * 7 + bj * 3) % 4 == 0;
            mask[i * nk + j] = shown ? 0.0f : -INFINITY;
        }
    return rc;
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
        if (in->bytes[b] && !(in->host[b] = malloc(in->bytes[b])))
            rc = fail_host_memory();
    int64_t dtype = 0;
    if (!rc)
        rc = get_param(shape, CLATTN_PARAM_DTYPE, &dtype);
    for (int b = INPUT_Q; b <= INPUT_V && !rc; b++) {
        size_t count = in->bytes[b] / clattn_dtype_size((clattn_dtype)dtype);
        rc = inputs_fill_uniform((clattn_dtype)dtype, in->host[b], count, (uint64_t)b + 1);
    }
    const size_t heads = in->bytes[INPUT_SLOPES] / sizeof(float);
    clattn_status st = CLATTN_SUCCESS;
    if (!rc && heads && (st = clattn_alibi_slopes((int64_t)heads, s->opt->alibi_bias,
                                                  in->host[INPUT_SLOPES])))
        rc = fail_clattn(NULL, st, "--alibi");
    float *sinks = in->host[INPUT_SINKS];
    for (size_t h = 0; !rc && h < in->bytes[INPUT_SINKS] / sizeof(float); h++)
        sinks[h] = (float)s->opt->sink;
    if (!rc && in->bytes[INPUT_MASK])
        rc = inputs_fill_mask(s->opt->mask, shape, in->host[INPUT_MASK]);
    int64_t positions = CLATTN_POSITIONS_ALIGNED;
    if (!rc)
        rc = get_param(shape, CLATTN_PARAM_POSITIONS, &positions);
    if (!rc && positions == CLATTN_POSITIONS_PER_CALL) {
        in->positions = 1;
        in->q_start = s->opt->q_start;
        in->k_start = s->opt->k_start;
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

/* Sets every bit of O and LSE (NaN in every dtype), so that output an algorithm leaves
 * unwritten fails the check instead of passing with the previous algorithm's values. */
static int inputs_poison_outputs(struct bench_inputs *in, cl_command_queue queue)
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

/* Reads O and LSE back into host[OUTPUT_O] and host[OUTPUT_LSE]. */
static int inputs_read_outputs(struct bench_inputs *in, cl_command_queue queue)
{
    for (int b = OUTPUT_O; b <= OUTPUT_LSE; b++) {
        cl_int err = clEnqueueReadBuffer(queue, in->mem[b], CL_TRUE, 0, in->bytes[b],
                                         in->host[b], 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return fail_cl(err, "clEnqueueReadBuffer (outputs)");
    }
    return 0;
}

/* The inputs by name, as device buffers or host arrays: what clattn_enqueue_args and
 * clattn_reference_args take. */
static const clattn_arg input_args[INPUT_BUFFERS] = {
    [INPUT_Q] = CLATTN_ARG_Q,          [INPUT_K] = CLATTN_ARG_K,
    [INPUT_V] = CLATTN_ARG_V,          [OUTPUT_O] = CLATTN_ARG_O,
    [OUTPUT_LSE] = CLATTN_ARG_LSE,     [INPUT_SLOPES] = CLATTN_ARG_ALIBI_SLOPES,
    [INPUT_SINKS] = CLATTN_ARG_SINKS,  [INPUT_MASK] = CLATTN_ARG_MASK,
};

static int inputs_args(const struct bench_inputs *in, int host, clattn_args **out)
{
    clattn_status st = clattn_args_create(out);
    for (int b = 0; b < INPUT_BUFFERS && !st; b++)
        st = host ? clattn_args_set_host(*out, input_args[b], in->host[b])
                  : clattn_args_set_buffer(*out, input_args[b], in->mem[b], 0);
    if (!st && in->positions)
        st = clattn_args_set_positions(*out, in->q_start, in->k_start);
    if (st) {
        clattn_args_destroy(*out);
        return fail_clattn(NULL, st, "naming the inputs");
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

/* The reference O (f32, O's layout) and LSE of `problem`, which must have the inputs' shape;
 * computed only when the mask differs from the last one asked for. */
static int inputs_reference(struct bench_inputs *in, const clattn_problem *problem,
                            const float **o, const float **lse)
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
        clattn_args *args;
        if ((rc = inputs_args(in, 1, &args)))
            return rc;
        clattn_status st = clattn_reference_args(problem, args, in->ref_o, in->ref_lse);
        clattn_args_destroy(args);
        if (!st)
            st = clattn_problem_clone(problem, &in->ref_problem);
        if (st)
            return fail_clattn(NULL, st, "computing the CPU reference");
    }
    *o = in->ref_o;
    *lse = in->ref_lse;
    return 0;
}

/* ---- Runs */

int run_plan_create(struct bench_session *s, const clattn_problem *problem,
                    clattn_algorithm algo, int allow_device_oom, clattn_plan **plan,
                    double *build_ms)
{
    clattn_problem *with_algo;
    int rc = shape_with_algorithm(problem, algo, &with_algo);
    if (rc)
        return rc;
    const double start = clock_ms();
    clattn_status st = clattn_plan_create(s->ctx, with_algo, plan);
    *build_ms = clock_ms() - start;
    clattn_problem_destroy(with_algo);
    if (st == CLATTN_ERROR_DEVICE_OUT_OF_MEMORY && allow_device_oom) {
        *plan = NULL;
        return 0;
    }
    if (st) {
        char what[64];
        snprintf(what, sizeof what, "planning %s", clattn_algorithm_name(algo));
        return fail_clattn(s->ctx, st, what);
    }
    return 0;
}

/* The device time of the plan's last run: the sum of its stages (profiling events). With
 * `stages`, each stage is kept as well. */
static int device_time(struct bench_session *s, const clattn_plan *plan,
                       struct bench_stage *stages, double *total)
{
    int count = 0;
    clattn_status st = clattn_plan_stage_count(plan, &count);
    if (st)
        return fail_clattn(s->ctx, st, "counting the plan's stages");
    *total = 0;
    for (int i = 0; i < count; i++) {
        const char *name;
        double ms;
        clattn_status st = clattn_plan_stage_time(plan, i, &name, &ms);
        if (st)
            return fail_clattn(s->ctx, st, "reading the stage times");
        if (stages) {
            stages[i].name = name;
            stages[i].ms = ms;
        }
        *total += ms;
    }
    return 0;
}

int run_device_time(struct bench_session *s, const clattn_plan *plan, double *ms)
{
    return device_time(s, plan, NULL, ms);
}

int run_once(struct bench_session *s, clattn_plan *plan, run_enqueue_fn enqueue, void *arg,
             double *device_ms, double *wall_ms, struct bench_stage *stages)
{
    const double start = clock_ms();
    int rc = enqueue(s, arg);
    if (rc)
        return rc;
    cl_int err = clFinish(s->queue);
    if (err != CL_SUCCESS)
        return fail_cl(err, "clFinish");
    *wall_ms = clock_ms() - start;
    return device_time(s, plan, stages, device_ms);
}

int run_timed(struct bench_session *s, clattn_plan *plan, run_enqueue_fn enqueue, void *arg,
              struct bench_row *row)
{
    const int iters = s->opt->iters;
    row->iters = iters;
    row->warmup = s->opt->warmup;
    row->stage_count = 0;
    int stage_count = 0;
    clattn_status st = clattn_plan_stage_count(plan, &stage_count);
    if (st)
        return fail_clattn(s->ctx, st, "counting the plan's stages");
    double *device = malloc((size_t)iters * sizeof *device);
    double *wall = malloc((size_t)iters * sizeof *wall);
    int rc = device && wall ? 0 : fail_host_memory();
    if (!rc && s->opt->profile && stage_count > 0 &&
        !(row->stages = calloc((size_t)stage_count, sizeof *row->stages)))
        rc = fail_host_memory();
    for (int i = 0; i < s->opt->warmup && !rc; i++)
        rc = run_once(s, plan, enqueue, arg, &device[0], &wall[0], NULL);
    /* the last run's stages are the ones --profile shows */
    for (int i = 0; i < iters && !rc; i++)
        rc = run_once(s, plan, enqueue, arg, &device[i], &wall[i],
                      i == iters - 1 ? row->stages : NULL);
    if (!rc && row->stages) {
        /* A stage that did not run in this enqueue (the append of a call that brings no new
         * keys) has no event, and the library gives it 0 ms: shown are the stages that ran. */
        for (int i = 0; i < stage_count; i++)
            if (row->stages[i].ms > 0)
                row->stages[row->stage_count++] = row->stages[i];
    }
    if (!rc) {
        row->ms_wall = median(wall, iters);             /* sorted from here */
        const double device_ms = median(device, iters); /* sorted from here */
        row->clock = s->clock;
        /* The session's probe trusted the timestamps; a row whose own device time is
         * implausible reads the wall clock all the same, and says so. */
        if (row->clock == BENCH_CLOCK_DEVICE &&
            !clock_device_plausible(device_ms, row->ms_wall)) {
            fprintf(stderr,
                    "attn-bench: warning: %s: device time %.3g ms against %.3g ms of wall "
                    "clock: the profiling timestamps look unreliable; this row reports the "
                    "wall clock\n",
                    clattn_algorithm_name(row->algo), device_ms, row->ms_wall);
            row->clock = BENCH_CLOCK_WALL;
        }
        const double *times = row->clock == BENCH_CLOCK_WALL ? wall : device;
        row->ms = row->clock == BENCH_CLOCK_WALL ? row->ms_wall : device_ms;
        row->ms_min = times[0];
        row->ms_max = times[iters - 1];
    }
    free(device);
    free(wall);
    /* stage times are profiling timestamps: not shown when those are not believed */
    if (rc || row->clock == BENCH_CLOCK_WALL) {
        free(row->stages);
        row->stages = NULL;
        row->stage_count = 0;
    }
    return rc;
}

/* clattn_enqueue_args of the inputs, as a run_enqueue_fn. */
struct plain_run {
    clattn_plan *plan;
    clattn_args *args;
};

static int enqueue_plain(struct bench_session *s, void *arg)
{
    const struct plain_run *r = arg;
    clattn_status st = clattn_enqueue_args(r->plan, NULL, r->args, 0, NULL, NULL);
    return st ? fail_clattn(s->ctx, st, "enqueueing the attention") : 0;
}

int run_timed_inputs(struct bench_session *s, clattn_plan *plan, struct bench_inputs *in,
                     struct bench_row *row)
{
    struct plain_run run = {plan, NULL};
    int rc = inputs_args(in, 0, &run.args);
    if (!rc)
        rc = run_timed(s, plan, enqueue_plain, &run, row);
    clattn_args_destroy(run.args);
    return rc;
}

static int check(struct bench_inputs *in, const clattn_problem *problem, struct bench_row *row)
{
    const float *o_ref = NULL, *lse_ref = NULL;
    int rc = inputs_reference(in, problem, &o_ref, &lse_ref);
    if (rc)
        return rc;
    clattn_status st = clattn_compare(problem, in->host[OUTPUT_O], o_ref, in->host[OUTPUT_LSE],
                                      lse_ref, &row->max_abs_err, &row->lse_err, &row->passed);
    if (st)
        return fail_clattn(NULL, st, "comparing with the reference");
    row->checked = 1;
    return 0;
}

int run_measure(struct bench_session *s, struct bench_inputs *in, const clattn_problem *problem,
                clattn_algorithm requested, clattn_plan *plan, double build_ms,
                struct bench_row *row)
{
    memset(row, 0, sizeof *row);
    row->requested = requested;
    row->build_ms = build_ms;
    int64_t algo = 0;
    clattn_status st = clattn_plan_get(plan, CLATTN_PLAN_ALGORITHM, &algo);
    if (!st)
        st = clattn_plan_get(plan, CLATTN_PLAN_SCRATCH_BYTES, &row->scratch_bytes);
    if (st)
        return fail_clattn(s->ctx, st, "reading the plan");
    row->algo = (clattn_algorithm)algo;
    /* the plan's scratch is allocated when the plan is made: checked before it runs */
    struct memory_need need = {.what = "the plan's scratch beside the inputs and outputs",
                               .device_held = (uint64_t)row->scratch_bytes};
    for (int b = 0; b < INPUT_BUFFERS; b++)
        need.device_held = memory_add(need.device_held, in->bytes[b]);
    int rc = session_check_memory(s, &need);
    if (!rc)
        rc = shape_to_row(problem, row);
    const int64_t starts[2] = {in->q_start, in->k_start};
    if (!rc && (st = traffic_model(problem, in->positions ? starts : NULL, row)))
        rc = fail_clattn(NULL, st, "counting the visible pairs");

    const int read_outputs = s->opt->check || s->opt->save_dir;
    if (!rc && read_outputs)
        rc = inputs_poison_outputs(in, s->queue);
    if (!rc)
        rc = run_timed_inputs(s, plan, in, row);
    if (!rc && read_outputs)
        rc = inputs_read_outputs(in, s->queue);
    if (!rc && s->opt->check)
        rc = check(in, problem, row);
    if (rc) {
        free(row->stages);
        row->stages = NULL;
    }
    return rc;
}

/* ---- --save: the single problem's inputs and the first algorithm's outputs as .npy files */

#define MAGIC_AND_VERSION "\x93NUMPY\x01\x00"
#define PREAMBLE_BYTES 10 /* magic (6), version (2), header length (2) */

static char host_byte_order(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first ? '<' : '>';
}

/* The header dict, unpadded; NULL when out of memory. */
static char *header_dict(const char *kind, const int64_t *shape, int ndim)
{
    /* each dimension takes at most 20 digits and ", " */
    size_t size = 96 + strlen(kind) + (size_t)ndim * 22;
    char *text = malloc(size);
    if (!text)
        return NULL;
    int n = snprintf(text, size, "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
                     host_byte_order(), kind);
    for (int i = 0; i < ndim; i++)
        n += snprintf(text + n, size - (size_t)n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    snprintf(text + n, size - (size_t)n, "%s), }", ndim == 1 ? "," : "");
    return text;
}

/* Writes `bytes` of `data` as an array of `ndim` dimensions, of element type `kind` in NumPy's
 * notation without the byte order ("f4", "f2"; the host's order is written), as a .npy file of
 * format version 1.0: the magic, a header dict padded with spaces to a multiple of 64 bytes and
 * ended by a newline, then the raw C-order data. Returns 0, or -1 with errno set. */
static int npy_write(const char *path, const char *kind, const int64_t *shape, int ndim,
                     const void *data, size_t bytes)
{
    char *dict = header_dict(kind, shape, ndim);
    if (!dict)
        return -1;
    /* dict, spaces, newline: the data then starts at a multiple of 64 bytes */
    size_t length = strlen(dict) + 1;
    length += (64 - (PREAMBLE_BYTES + length) % 64) % 64;
    if (length > 0xFFFF) {
        free(dict);
        errno = EOVERFLOW;
        return -1;
    }
    FILE *out = fopen(path, "wb");
    if (!out) {
        free(dict);
        return -1;
    }
    const unsigned char length_le[2] = {(unsigned char)(length & 0xFF),
                                        (unsigned char)(length >> 8)};
    fwrite(MAGIC_AND_VERSION, 1, 8, out);
    fwrite(length_le, 1, 2, out);
    fprintf(out, "%-*s\n", (int)(length - 1), dict);
    free(dict);
    fwrite(data, 1, bytes, out);
    int failed = ferror(out);
    if (fclose(out) != 0 || failed) {
        if (!errno)
            errno = EIO;
        return -1;
    }
    return 0;
}

int save_prepare(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return fail_file(dir, "create the directory");
    struct stat st;
    if (stat(dir, &st) != 0)
        return fail_file(dir, "use the directory");
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return fail_file(dir, "use the directory");
    }
    return 0;
}

/* One tensor; bf16 has no NumPy type, so it is widened to float32 values. */
static int save_tensor(const char *dir, const char *name, clattn_dtype dtype,
                       const int64_t *shape, int ndim, const void *data, size_t bytes)
{
    size_t path_size = strlen(dir) + strlen(name) + 2;
    char *path = malloc(path_size);
    if (!path)
        return fail_host_memory();
    snprintf(path, path_size, "%s/%s", dir, name);
    const void *payload = data;
    float *widened = NULL;
    const char *kind = dtype == CLATTN_DTYPE_F16 ? "f2" : "f4";
    if (dtype == CLATTN_DTYPE_BF16) {
        size_t count = bytes / clattn_dtype_size(dtype);
        widened = malloc(count * sizeof *widened);
        clattn_status st = widened ? clattn_to_float(dtype, data, widened, count)
                                   : CLATTN_ERROR_HOST_OUT_OF_MEMORY;
        if (st) {
            free(widened);
            free(path);
            return st == CLATTN_ERROR_HOST_OUT_OF_MEMORY ? fail_host_memory()
                                                         : fail_clattn(NULL, st, "widening bf16");
        }
        payload = widened;
        bytes = count * sizeof *widened;
    }
    int rc = npy_write(path, kind, shape, ndim, payload, bytes) ? fail_file(path, "write") : 0;
    free(widened);
    free(path);
    return rc;
}

int save_npy_files(const char *dir, const struct bench_inputs *in, const struct bench_row *row)
{
    const int64_t q_shape[4] = {row->batch, row->seq_q, row->heads, row->head_dim};
    const int64_t kv_shape[4] = {row->batch, row->seq_kv, row->kv_heads, row->head_dim};
    const int64_t v_shape[4] = {row->batch, row->seq_kv, row->kv_heads, row->head_dim_v};
    const int64_t o_shape[4] = {row->batch, row->seq_q, row->heads, row->head_dim_v};
    const int64_t lse_shape[3] = {row->batch, row->heads, row->seq_q};
    const struct {
        const char *name;
        const int64_t *shape;
        int buffer;
    } tensors[] = {{"q.npy", q_shape, INPUT_Q},
                   {"k.npy", kv_shape, INPUT_K},
                   {"v.npy", v_shape, INPUT_V},
                   {"o.npy", o_shape, OUTPUT_O}};
    int rc = 0;
    for (size_t t = 0; t < sizeof tensors / sizeof *tensors && !rc; t++)
        rc = save_tensor(dir, tensors[t].name, row->dtype, tensors[t].shape, 4,
                         in->host[tensors[t].buffer], in->bytes[tensors[t].buffer]);
    if (!rc)
        rc = save_tensor(dir, "lse.npy", CLATTN_DTYPE_F32, lse_shape, 3, in->host[OUTPUT_LSE],
                         in->bytes[OUTPUT_LSE]);
    return rc;
}
