/* The device-side API: contexts, plans, and every way an enqueue can be wrong. A rejected
 * call returns its status with a message and changes nothing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

START_TEST(bad_device_index)
{
    clattn_context *ctx = (clattn_context *)1;
    ck_assert_int_eq(clattn_context_create(9999, &ctx), CLATTN_ERROR_NO_DEVICE);
    ck_assert_ptr_null(ctx);
    ck_assert_ptr_nonnull(strstr(clattn_message(NULL), "9999"));
    ck_assert_int_eq(clattn_context_create(0, NULL), CLATTN_ERROR_INVALID_ARGUMENT);
    clattn_context_destroy(NULL);
}
END_TEST

START_TEST(caller_objects_are_retained)
{
    cl_context cl;
    cl_device_id dev;
    cl_command_queue queue;
    ck_assert_int_eq(clattn_context_get_cl(test_context(), &cl, &dev, &queue), CLATTN_SUCCESS);
    cl_uint before = 0, after = 0;
    clGetContextInfo(cl, CL_CONTEXT_REFERENCE_COUNT, sizeof before, &before, NULL);
    clattn_context *ctx;
    ck_assert_int_eq(clattn_context_create_cl(cl, dev, queue, &ctx), CLATTN_SUCCESS);
    clGetContextInfo(cl, CL_CONTEXT_REFERENCE_COUNT, sizeof after, &after, NULL);
    ck_assert_uint_eq(after, before + 1);
    clattn_context_destroy(ctx);
    clGetContextInfo(cl, CL_CONTEXT_REFERENCE_COUNT, sizeof after, &after, NULL);
    ck_assert_uint_eq(after, before);
    /* a queue of another context is refused */
    ck_assert_int_eq(clattn_context_create_cl(cl, dev, NULL, &ctx), CLATTN_SUCCESS);
    clattn_context_destroy(ctx);
    ck_assert_int_eq(clattn_context_create_cl(NULL, dev, NULL, &ctx), CLATTN_ERROR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(plan_reports_what_it_chose)
{
    attn_case c = case_default();
    c.heads = 4;
    c.seq_q = c.seq_kv = 100;
    c.causal = 1;
    c.window_left = 16;
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_AUTO);
    clattn_plan *plan;
    ck_assert_int_eq(clattn_plan_create(test_context(), p, &plan), CLATTN_SUCCESS);
    int64_t v;
    ck_assert_int_eq(clattn_plan_get(plan, CLATTN_PLAN_ALGORITHM, &v), CLATTN_SUCCESS);
    ck_assert_int_eq(v, CLATTN_ALGO_WINDOWED); /* auto: the window bounds the work */
    ck_assert_int_eq(clattn_plan_get(plan, CLATTN_PLAN_KERNEL_SHAPE, &v), CLATTN_SUCCESS);
    ck_assert(v == CLATTN_SHAPE_LOCAL_TILES || v == CLATTN_SHAPE_REGISTER_BLOCKS);
    ck_assert_int_eq(clattn_plan_get(plan, CLATTN_PLAN_TILE_Q, &v), CLATTN_SUCCESS);
    ck_assert_int_ge(v, 1);
    /* A plan's failures are told on its context, replacing whatever an earlier call left. */
    clattn_plan *refused = NULL;
    ck_assert_int_ne(clattn_plan_create(test_context(), NULL, &refused), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_plan_get(plan, (clattn_plan_info)99, &v), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clattn_message(test_context()), "99"));
    ck_assert_int_eq(clattn_plan_get(plan, CLATTN_PLAN_TILE_Q, NULL), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clattn_message(test_context()), "value is NULL"));
    ck_assert_int_eq(clattn_plan_stage_count(plan, NULL), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(clattn_message(test_context()), "count is NULL"));
    ck_assert_ptr_nonnull(strstr(clattn_plan_describe(plan), "windowed"));
    clattn_plan_destroy(plan);
    clattn_problem_set(p, CLATTN_PARAM_WINDOW_LEFT, -1);
    ck_assert_int_eq(clattn_plan_create(test_context(), p, &plan), CLATTN_SUCCESS);
    clattn_plan_get(plan, CLATTN_PLAN_ALGORITHM, &v);
    ck_assert_int_eq(v, CLATTN_ALGO_TILED);
    clattn_plan_destroy(plan);
    /* decode for up to 16 query rows (the header's rule), window or not */
    static const struct { int seq_q, window_left; clattn_algorithm want; } rows[] = {
        {16, -1, CLATTN_ALGO_DECODE}, {17, -1, CLATTN_ALGO_TILED},
        {16, 16, CLATTN_ALGO_DECODE}, {17, 16, CLATTN_ALGO_WINDOWED}};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, rows[i].seq_q);
        clattn_problem_set(p, CLATTN_PARAM_WINDOW_LEFT, rows[i].window_left);
        ck_assert_int_eq(clattn_plan_create(test_context(), p, &plan), CLATTN_SUCCESS);
        clattn_plan_get(plan, CLATTN_PLAN_ALGORITHM, &v);
        ck_assert_msg(v == rows[i].want, "seq_q %d, window_left %d: auto chose %lld, want %d",
                      rows[i].seq_q, rows[i].window_left, (long long)v, (int)rows[i].want);
        clattn_plan_destroy(plan);
    }
    clattn_plan_destroy(NULL);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(invalid_problem_is_refused_by_plan)
{
    clattn_problem *p;
    clattn_problem_create(&p);
    clattn_problem_set(p, CLATTN_PARAM_HEADS, 6);
    clattn_problem_set(p, CLATTN_PARAM_KV_HEADS, 4);
    clattn_plan *plan = (clattn_plan *)1;
    ck_assert_int_eq(clattn_plan_create(test_context(), p, &plan), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(plan);
    ck_assert_ptr_nonnull(strstr(clattn_message(test_context()), "kv_heads"));
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(misspelt_naive_gemm_is_refused)
{
    /* The suite also runs with CLATTN_NAIVE_GEMM=clblast (tests/meson.build): keep its value. */
    const char *env = getenv("CLATTN_NAIVE_GEMM");
    char *kept = env ? strdup(env) : NULL;
    setenv("CLATTN_NAIVE_GEMM", "clblas", 1);
    attn_case c = case_default();
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_NAIVE);
    clattn_plan *plan = (clattn_plan *)1;
    ck_assert_int_eq(clattn_plan_create(test_context(), p, &plan), CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(plan);
    ck_assert_ptr_nonnull(strstr(clattn_message(test_context()), "CLATTN_NAIVE_GEMM='clblas'"));
    if (kept)
        setenv("CLATTN_NAIVE_GEMM", kept, 1);
    else
        unsetenv("CLATTN_NAIVE_GEMM");
    free(kept);
    ck_assert_int_eq(clattn_plan_create(test_context(), p, &plan), CLATTN_SUCCESS);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
}
END_TEST

/* A small problem on device buffers, for the enqueue checks. */
typedef struct fixture {
    clattn_problem *p;
    clattn_plan *plan;
    cl_context cl;
    cl_command_queue queue;
    cl_mem q, k, v, o, lse;
    size_t bytes[4];
} fixture;

static cl_mem buffer(cl_context cl, size_t bytes, const void *init)
{
    cl_int err;
    cl_mem m = clCreateBuffer(cl, CL_MEM_READ_WRITE | (init ? CL_MEM_COPY_HOST_PTR : 0), bytes,
                              (void *)init, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    return m;
}

static void fixture_open(fixture *f, clattn_algorithm algo)
{
    attn_case c = case_default();
    c.batch = 2;
    c.heads = 4;
    c.kv_heads = 2;
    c.seq_q = 9;
    c.seq_kv = 13;
    c.head_dim = 40;
    c.causal = 1;
    f->p = case_problem(&c, algo);
    ck_assert_int_eq(clattn_plan_create(test_context(), f->p, &f->plan), CLATTN_SUCCESS);
    clattn_context_get_cl(test_context(), &f->cl, NULL, &f->queue);
    void *init[3];
    for (int t = 0; t < 4; t++) {
        clattn_problem_tensor_bytes(f->p, (clattn_tensor)t, &f->bytes[t]);
        if (t < 3)
            init[t] = random_tensor(CLATTN_DTYPE_F32, f->bytes[t] / 4, 1.0f, (unsigned)t + 10);
    }
    f->q = buffer(f->cl, f->bytes[0], init[0]);
    f->k = buffer(f->cl, f->bytes[1], init[1]);
    f->v = buffer(f->cl, f->bytes[2], init[2]);
    float *sentinel = malloc(f->bytes[3]);
    for (size_t i = 0; i < f->bytes[3] / 4; i++)
        sentinel[i] = 12345.0f;
    f->o = buffer(f->cl, f->bytes[3], sentinel);
    f->lse = buffer(f->cl, 2 * 4 * 9 * 4, NULL);
    free(sentinel);
    for (int t = 0; t < 3; t++)
        free(init[t]);
}

static int output_untouched(fixture *f)
{
    float *o = malloc(f->bytes[3]);
    clEnqueueReadBuffer(f->queue, f->o, CL_TRUE, 0, f->bytes[3], o, 0, NULL, NULL);
    int same = 1;
    for (size_t i = 0; i < f->bytes[3] / 4; i++)
        same &= o[i] == 12345.0f;
    free(o);
    return same;
}

static void fixture_close(fixture *f)
{
    cl_mem m[] = {f->q, f->k, f->v, f->o, f->lse};
    for (int i = 0; i < 5; i++)
        clReleaseMemObject(m[i]);
    clattn_plan_destroy(f->plan);
    clattn_problem_destroy(f->p);
}

START_TEST(enqueue_rejects_bad_buffers)
{
    fixture f;
    fixture_open(&f, (clattn_algorithm)_i);
    cl_mem small = buffer(f.cl, f.bytes[1] - 4, NULL);
    REFUSED(clattn_enqueue(f.plan, NULL, f.q, 0, small, 0, f.v, 0, f.o, 0, NULL, 0, 0, NULL, NULL),
            "too small");
    REFUSED(clattn_enqueue(f.plan, NULL, f.q, 4, f.k, 0, f.v, 0, f.o, 0, NULL, 0, 0, NULL, NULL),
            "too small"); /* an offset pushes Q past the end */
    REFUSED(clattn_enqueue(f.plan, NULL, f.q, 2, f.k, 0, f.v, 0, f.o, 0, NULL, 0, 0, NULL, NULL),
            "multiple of the element size");
    REFUSED(clattn_enqueue(f.plan, NULL, NULL, 0, f.k, 0, f.v, 0, f.o, 0, NULL, 0, 0, NULL, NULL),
            "NULL");
    cl_mem tiny = buffer(f.cl, 16, NULL);
    REFUSED(clattn_enqueue(f.plan, NULL, f.q, 0, f.k, 0, f.v, 0, f.o, 0, tiny, 0, 0, NULL, NULL),
            "LSE buffer too small");
    clReleaseMemObject(tiny);
    REFUSED(clattn_enqueue(f.plan, NULL, f.q, 0, f.k, 0, f.v, 0, f.q, 0, NULL, 0, 0, NULL, NULL),
            "overlaps");
    cl_event ev = NULL;
    REFUSED(clattn_enqueue(f.plan, NULL, f.q, 0, f.k, 0, f.v, 0, f.o, 0, NULL, 0, 1, NULL, NULL),
            "wait list");
    REFUSED(clattn_enqueue(f.plan, NULL, f.q, 0, f.k, 0, f.v, 0, f.o, 0, NULL, 0, 0, &ev, NULL),
            "wait list");
    cl_mem read_only;
    cl_int err;
    read_only = clCreateBuffer(f.cl, CL_MEM_READ_ONLY, f.bytes[3], NULL, &err);
    REFUSED(clattn_enqueue(f.plan, NULL, f.q, 0, f.k, 0, f.v, 0, read_only, 0, NULL, 0, 0, NULL,
                           NULL),
            "READ_ONLY");
    clReleaseMemObject(read_only);
    ck_assert(output_untouched(&f));
    ck_assert_int_eq(clattn_enqueue(NULL, NULL, f.q, 0, f.k, 0, f.v, 0, f.o, 0, NULL, 0, 0, NULL,
                                    NULL),
                     CLATTN_ERROR_INVALID_ARGUMENT);
    /* and the context still works afterwards */
    ck_assert_int_eq(clattn_enqueue(f.plan, NULL, f.q, 0, f.k, 0, f.v, 0, f.o, 0, f.lse, 0, 0,
                                    NULL, &ev),
                     CLATTN_SUCCESS);
    ck_assert_int_eq(clWaitForEvents(1, &ev), CL_SUCCESS);
    clReleaseEvent(ev);
    ck_assert(!output_untouched(&f));
    clReleaseMemObject(small);
    fixture_close(&f);
}
END_TEST

static cl_mem sub_buffer(cl_mem parent, size_t origin, size_t bytes)
{
    cl_buffer_region region = {origin, bytes};
    cl_int err;
    cl_mem m = clCreateSubBuffer(parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region,
                                 &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    return m;
}

/* Two sub-buffers of one buffer are the same memory: O cut one row (rounded up to the
 * device's base alignment) after Q overlaps it and is refused before anything is written;
 * O cut past Q's end is accepted and correct. */
START_TEST(sub_buffers_of_one_buffer_are_compared)
{
    fixture f;
    fixture_open(&f, (clattn_algorithm)_i);
    cl_device_id dev;
    clattn_context_get_cl(test_context(), NULL, &dev, NULL);
    cl_uint align_bits;
    clGetDeviceInfo(dev, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL);
    const size_t align = align_bits / 8, row = 4 * 40 * 4; /* H * d floats */
    const size_t near = (row + align - 1) / align * align;
    const size_t apart = (f.bytes[0] + align - 1) / align * align, total = apart + f.bytes[3];
    ck_assert_uint_lt(near, f.bytes[0]);
    float *host[3], *whole = malloc(total), *now = malloc(total);
    for (int t = 0; t < 3; t++) {
        host[t] = malloc(f.bytes[t]);
        cl_mem m = t == 0 ? f.q : t == 1 ? f.k : f.v;
        clEnqueueReadBuffer(f.queue, m, CL_TRUE, 0, f.bytes[t], host[t], 0, NULL, NULL);
    }
    for (size_t i = 0; i < total / 4; i++)
        whole[i] = 12345.0f;
    memcpy(whole, host[0], f.bytes[0]);
    cl_mem parent = buffer(f.cl, total, whole);
    cl_mem q = sub_buffer(parent, 0, f.bytes[0]), o_near = sub_buffer(parent, near, f.bytes[3]),
           o_apart = sub_buffer(parent, apart, f.bytes[3]);
    REFUSED(clattn_enqueue(f.plan, NULL, q, 0, f.k, 0, f.v, 0, o_near, 0, NULL, 0, 0, NULL, NULL),
            "O overlaps Q");
    clEnqueueReadBuffer(f.queue, parent, CL_TRUE, 0, total, now, 0, NULL, NULL);
    ck_assert(memcmp(now, whole, total) == 0); /* the refused call wrote nothing */
    ck_assert_int_eq(clattn_enqueue(f.plan, NULL, q, 0, f.k, 0, f.v, 0, o_apart, 0, f.lse, 0, 0,
                                    NULL, NULL),
                     CLATTN_SUCCESS);
    float *o_ref = malloc(f.bytes[3]), lse_ref[72], lse[72];
    ck_assert_int_eq(clattn_reference(f.p, host[0], host[1], host[2], o_ref, lse_ref),
                     CLATTN_SUCCESS);
    clEnqueueReadBuffer(f.queue, o_apart, CL_TRUE, 0, f.bytes[3], now, 0, NULL, NULL);
    clEnqueueReadBuffer(f.queue, f.lse, CL_TRUE, 0, sizeof lse, lse, 0, NULL, NULL);
    double err_o, err_lse;
    int passed;
    clattn_compare(f.p, now, o_ref, lse, lse_ref, &err_o, &err_lse, &passed);
    ck_assert_msg(passed, "sub-buffers: error %g, LSE error %g", err_o, err_lse);
    cl_mem mems[] = {q, o_near, o_apart, parent};
    for (int m = 0; m < 4; m++)
        clReleaseMemObject(mems[m]);
    for (int t = 0; t < 3; t++)
        free(host[t]);
    free(whole);
    free(now);
    free(o_ref);
    fixture_close(&f);
}
END_TEST

/* K and V one element past a multiple of four: the GPU kernels, built to read K and V as
 * aligned vectors (lib/kv_kernel.h), must take a call that breaks that promise too. */
START_TEST(enqueue_with_odd_kv_offsets)
{
    for (clattn_dtype dtype = CLATTN_DTYPE_F32; dtype <= CLATTN_DTYPE_F16; dtype++) {
        attn_case c = case_default();
        c.heads = 4;
        c.kv_heads = 2;
        c.seq_q = _i == CLATTN_ALGO_DECODE ? 1 : 33;
        c.seq_kv = 300;
        c.causal = 1;
        c.dtype = dtype;
        if (_i == CLATTN_ALGO_WINDOWED)
            c.window_left = 40;
        clattn_problem *p = case_problem(&c, (clattn_algorithm)_i);
        size_t bytes[4], es = clattn_dtype_size(dtype);
        for (int t = 0; t < 4; t++)
            clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes[t]);
        void *host[3];
        for (int t = 0; t < 3; t++)
            host[t] = random_tensor(dtype, bytes[t] / es, 1.0f, 11 + (unsigned)t);
        const size_t rows = (size_t)c.heads * (size_t)c.seq_q;
        float *o_ref = malloc(bytes[3] / es * 4), *lse_ref = malloc(rows * 4),
              *lse = malloc(rows * 4);
        void *o = malloc(bytes[3]);
        ck_assert_int_eq(clattn_reference(p, host[0], host[1], host[2], o_ref, lse_ref),
                         CLATTN_SUCCESS);
        cl_context cl;
        cl_command_queue queue;
        clattn_context_get_cl(test_context(), &cl, NULL, &queue);
        /* Q and O aligned, K one element and V three elements past a multiple of four */
        const size_t off[5] = {0, es, 3 * es, 0, 0};
        cl_mem mem[5];
        for (int t = 0; t < 5; t++) {
            const size_t size = (t < 4 ? bytes[t] : rows * 4) + off[t];
            mem[t] = clCreateBuffer(cl, CL_MEM_READ_WRITE, size, NULL, NULL);
            if (t < 3)
                clEnqueueWriteBuffer(queue, mem[t], CL_TRUE, off[t], bytes[t], host[t], 0, NULL,
                                     NULL);
        }
        clattn_plan *plan;
        ck_assert_int_eq(clattn_plan_create(test_context(), p, &plan), CLATTN_SUCCESS);
        ck_assert_msg(clattn_enqueue(plan, NULL, mem[0], off[0], mem[1], off[1], mem[2], off[2],
                                     mem[3], off[3], mem[4], off[4], 0, NULL, NULL) ==
                          CLATTN_SUCCESS,
                      "%s", clattn_message(test_context()));
        clEnqueueReadBuffer(queue, mem[3], CL_TRUE, 0, bytes[3], o, 0, NULL, NULL);
        clEnqueueReadBuffer(queue, mem[4], CL_TRUE, 0, rows * 4, lse, 0, NULL, NULL);
        double err, lse_err;
        int passed;
        clattn_compare(p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed);
        ck_assert_msg(passed, "%s: error %g, LSE error %g\n%s", case_name(&c), err, lse_err,
                      clattn_plan_describe(plan));
        clattn_plan_destroy(plan);
        clattn_problem_destroy(p);
        for (int t = 0; t < 5; t++)
            clReleaseMemObject(mem[t]);
        for (int t = 0; t < 3; t++)
            free(host[t]);
        free(o);
        free(o_ref);
        free(lse);
        free(lse_ref);
    }
}
END_TEST

START_TEST(enqueue_with_offsets_and_events)
{
    /* tensors placed at offsets inside larger buffers, after a user event that gates them */
    fixture f;
    fixture_open(&f, (clattn_algorithm)_i);
    float *o_ref = malloc(f.bytes[3]), *o = malloc(f.bytes[3]);
    float *host[3];
    for (int t = 0; t < 3; t++) {
        host[t] = malloc(f.bytes[t]);
        cl_mem m = t == 0 ? f.q : t == 1 ? f.k : f.v;
        clEnqueueReadBuffer(f.queue, m, CL_TRUE, 0, f.bytes[t], host[t], 0, NULL, NULL);
    }
    float lse_ref[72], lse[72];
    ck_assert_int_eq(clattn_reference(f.p, host[0], host[1], host[2], o_ref, lse_ref),
                     CLATTN_SUCCESS);
    const size_t off = 256;
    cl_mem big[3];
    for (int t = 0; t < 3; t++) {
        big[t] = buffer(f.cl, f.bytes[t] + off, NULL);
        clEnqueueWriteBuffer(f.queue, big[t], CL_TRUE, off, f.bytes[t], host[t], 0, NULL, NULL);
    }
    cl_mem big_o = buffer(f.cl, f.bytes[3] + off, NULL), big_lse = buffer(f.cl, 72 * 4 + off, NULL);
    cl_int err;
    cl_event gate = clCreateUserEvent(f.cl, &err), done = NULL;
    ck_assert_int_eq(clattn_enqueue(f.plan, NULL, big[0], off, big[1], off, big[2], off, big_o,
                                    off, big_lse, off, 1, &gate, &done),
                     CLATTN_SUCCESS);
    cl_int state;
    clGetEventInfo(done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL);
    ck_assert_int_ne(state, CL_COMPLETE); /* still waiting for the gate */
    clSetUserEventStatus(gate, CL_COMPLETE);
    ck_assert_int_eq(clWaitForEvents(1, &done), CL_SUCCESS);
    clEnqueueReadBuffer(f.queue, big_o, CL_TRUE, off, f.bytes[3], o, 0, NULL, NULL);
    clEnqueueReadBuffer(f.queue, big_lse, CL_TRUE, off, sizeof lse, lse, 0, NULL, NULL);
    int passed;
    double err_o, err_lse;
    clattn_compare(f.p, o, o_ref, lse, lse_ref, &err_o, &err_lse, &passed);
    ck_assert_msg(passed, "offsets: error %g, LSE error %g", err_o, err_lse);
    int stages;
    ck_assert_int_eq(clattn_plan_stage_count(f.plan, &stages), CLATTN_SUCCESS);
    ck_assert_int_ge(stages, 1);
    for (int s = 0; s < stages; s++) {
        const char *name;
        double ms;
        ck_assert_int_eq(clattn_plan_stage_time(f.plan, s, &name, &ms), CLATTN_SUCCESS);
        ck_assert_double_ge(ms, 0.0);
    }
    ck_assert_int_eq(clattn_plan_stage_time(f.plan, stages, NULL, NULL), CLATTN_ERROR_INVALID_ARGUMENT);
    clReleaseEvent(gate);
    clReleaseEvent(done);
    for (int t = 0; t < 3; t++) {
        clReleaseMemObject(big[t]);
        free(host[t]);
    }
    clReleaseMemObject(big_o);
    clReleaseMemObject(big_lse);
    free(o);
    free(o_ref);
    fixture_close(&f);
}
END_TEST

/* Strides decide how far a tensor reaches, so a buffer sized for the default layout must be
 * refused under strides that reach further, before anything is written; and a broadcast
 * (stride 0) that reaches less must be accepted. */
START_TEST(enqueue_checks_strided_spans)
{
    enum { B = 2, H = 2, N = 8, D = 16 };
    attn_case c = case_default();
    c.batch = B;
    c.heads = c.kv_heads = H;
    c.seq_q = c.seq_kv = N;
    c.head_dim = D;
    clattn_problem *p = case_problem(&c, (clattn_algorithm)_i);
    size_t bytes;
    ck_assert_int_eq(clattn_problem_tensor_bytes(p, CLATTN_TENSOR_Q, &bytes), CLATTN_SUCCESS);
    cl_context cl;
    cl_command_queue queue;
    clattn_context_get_cl(test_context(), &cl, NULL, &queue);
    float *init = random_tensor(CLATTN_DTYPE_F32, bytes / 4, 1.0f, 51);
    float *sentinel = malloc(bytes);
    for (size_t e = 0; e < bytes / 4; e++)
        sentinel[e] = 12345.0f;
    cl_mem q = buffer(cl, bytes, init), k = buffer(cl, bytes, init), v = buffer(cl, bytes, init);
    cl_mem o = buffer(cl, bytes, sentinel);
    /* each a stride one step too long for these buffers: the batch stride of O (the tensor
     * the kernels write), the sequence stride of K, the head stride of V */
    static const struct { clattn_tensor t; int64_t s[3]; const char *name; } wrong[] = {
        {CLATTN_TENSOR_O, {N * H * D + D, H * D, D}, "O buffer too small"},
        {CLATTN_TENSOR_K, {N * H * D, H * D + 1, D}, "K buffer too small"},
        {CLATTN_TENSOR_V, {N * H * D, H * D, N * D}, "V buffer too small"},
    };
    for (size_t w = 0; w < sizeof wrong / sizeof *wrong; w++) {
        clattn_problem *bad;
        clattn_problem_clone(p, &bad);
        ck_assert_int_eq(clattn_problem_set_strides(bad, wrong[w].t, wrong[w].s[0], wrong[w].s[1],
                                                    wrong[w].s[2]),
                         CLATTN_SUCCESS);
        clattn_plan *plan;
        ck_assert_int_eq(clattn_plan_create(test_context(), bad, &plan), CLATTN_SUCCESS);
        REFUSED(clattn_enqueue(plan, NULL, q, 0, k, 0, v, 0, o, 0, NULL, 0, 0, NULL, NULL),
                wrong[w].name);
        clattn_plan_destroy(plan);
        clattn_problem_destroy(bad);
    }
    /* an offset so large that offset + span wraps around size_t */
    clattn_plan *plan;
    ck_assert_int_eq(clattn_plan_create(test_context(), p, &plan), CLATTN_SUCCESS);
    REFUSED(clattn_enqueue(plan, NULL, q, 0, k, 0, v, 0, o, SIZE_MAX - 3, NULL, 0, 0, NULL, NULL),
            "O buffer too small");
    clattn_plan_destroy(plan);
    float *o_now = malloc(bytes);
    clEnqueueReadBuffer(queue, o, CL_TRUE, 0, bytes, o_now, 0, NULL, NULL);
    ck_assert_int_eq(memcmp(o_now, sentinel, bytes), 0); /* nothing was written */

    /* K and V shared by both batch entries (batch stride 0) fit half the bytes */
    clattn_problem *shared;
    clattn_problem_clone(p, &shared);
    clattn_problem_set_strides(shared, CLATTN_TENSOR_K, 0, H * D, D);
    clattn_problem_set_strides(shared, CLATTN_TENSOR_V, 0, H * D, D);
    cl_mem half_k = buffer(cl, bytes / 2, init), half_v = buffer(cl, bytes / 2, init);
    ck_assert_int_eq(clattn_plan_create(test_context(), shared, &plan), CLATTN_SUCCESS);
    ck_assert_msg(clattn_enqueue(plan, NULL, q, 0, half_k, 0, half_v, 0, o, 0, NULL, 0, 0, NULL,
                                 NULL) == CLATTN_SUCCESS,
                  "%s", clattn_message(test_context()));
    clEnqueueReadBuffer(queue, o, CL_TRUE, 0, bytes, o_now, 0, NULL, NULL);
    float *o_ref = malloc(bytes);
    ck_assert_int_eq(clattn_reference(shared, init, init, init, o_ref, NULL), CLATTN_SUCCESS);
    int passed = 0;
    double err;
    clattn_compare(shared, o_now, o_ref, NULL, NULL, &err, NULL, &passed);
    ck_assert_msg(passed, "broadcast K and V: error %g", err);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(shared);
    cl_mem mems[] = {q, k, v, o, half_k, half_v};
    for (size_t m = 0; m < sizeof mems / sizeof *mems; m++)
        clReleaseMemObject(mems[m]);
    clattn_problem_destroy(p);
    free(init);
    free(sentinel);
    free(o_now);
    free(o_ref);
}
END_TEST

/* The enums' names, the ones the library's own descriptions use: one per value, the enum's
 * suffix in lower case, and "unknown" (never NULL) outside the enum. */
START_TEST(enum_names)
{
    static const char *const algorithms[] = {"auto", "naive", "tiled", "windowed", "decode"};
    for (int a = CLATTN_ALGO_AUTO; a <= CLATTN_ALGO_DECODE; a++)
        ck_assert_str_eq(clattn_algorithm_name((clattn_algorithm)a), algorithms[a]);
    static const char *const shapes[] = {"none", "local_tiles", "register_blocks"};
    for (int k = CLATTN_SHAPE_NONE; k <= CLATTN_SHAPE_REGISTER_BLOCKS; k++)
        ck_assert_str_eq(clattn_kernel_shape_name((clattn_kernel_shape)k), shapes[k]);
    const int outside[] = {-1, CLATTN_ALGO_DECODE + 1, 1000, INT32_MIN};
    for (size_t i = 0; i < sizeof outside / sizeof *outside; i++) {
        ck_assert_str_eq(clattn_algorithm_name((clattn_algorithm)outside[i]), "unknown");
        ck_assert_str_eq(clattn_kernel_shape_name((clattn_kernel_shape)outside[i]), "unknown");
    }
    /* a plan describes what it runs by the same name */
    attn_case c = case_default();
    clattn_problem *p = case_problem(&c, CLATTN_ALGO_TILED);
    clattn_plan *plan;
    ck_assert_int_eq(clattn_plan_create(test_context(), p, &plan), CLATTN_SUCCESS);
    char line[64];
    snprintf(line, sizeof line, "algorithm: %s (requested)", clattn_algorithm_name(CLATTN_ALGO_TILED));
    ck_assert_ptr_nonnull(strstr(clattn_plan_describe(plan), line));
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
}
END_TEST

START_TEST(peak_is_measured)
{
    double gflops = 0, gbps = 0;
    ck_assert_int_eq(clattn_measure_peak(test_context(), &gflops, &gbps), CLATTN_SUCCESS);
    ck_assert(gflops > 0);
    ck_assert(gbps > 0);
    /* clattn_measure gives the same cached figures, and the read bandwidth besides */
    double fma = 0, copy = 0, read = 0;
    ck_assert_int_eq(clattn_measure(test_context(), CLATTN_PEAK_FMA, &fma), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_measure(test_context(), CLATTN_PEAK_COPY, &copy), CLATTN_SUCCESS);
    ck_assert_double_eq(fma, gflops);
    ck_assert_double_eq(copy, gbps);
    ck_assert_int_eq(clattn_measure(test_context(), CLATTN_PEAK_READ, &read), CLATTN_SUCCESS);
    ck_assert(read > 0);
    double again = 0;
    ck_assert_int_eq(clattn_measure(test_context(), CLATTN_PEAK_READ, &again), CLATTN_SUCCESS);
    ck_assert_double_eq(again, read);
    REFUSED(clattn_measure(test_context(), (clattn_peak)3, &again), "unknown limit");
    REFUSED(clattn_measure(test_context(), CLATTN_PEAK_READ, NULL), "value is NULL");
}
END_TEST

/* clattn_enqueue_args with the same buffers as clattn_enqueue writes the same bytes, and
 * refuses a tensor the problem does not ask for without touching O. */
START_TEST(enqueue_args_matches_enqueue)
{
    fixture f;
    fixture_open(&f, (clattn_algorithm)_i);
    clattn_args *args;
    ck_assert_int_eq(clattn_args_create(&args), CLATTN_SUCCESS);
    const clattn_arg names[5] = {CLATTN_ARG_Q, CLATTN_ARG_K, CLATTN_ARG_V, CLATTN_ARG_O,
                                 CLATTN_ARG_LSE};
    const cl_mem mems[5] = {f.q, f.k, f.v, f.o, f.lse};
    for (int t = 0; t < 5; t++)
        ck_assert_int_eq(clattn_args_set_buffer(args, names[t], mems[t], 0), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_args_set_buffer(args, CLATTN_ARG_SINKS, f.lse, 0), CLATTN_SUCCESS);
    REFUSED(clattn_enqueue_args(f.plan, NULL, args, 0, NULL, NULL), "sinks is given");
    ck_assert(output_untouched(&f));
    ck_assert_int_eq(clattn_args_set_buffer(args, CLATTN_ARG_SINKS, NULL, 0), CLATTN_SUCCESS);
    ck_assert_int_eq(clattn_enqueue_args(f.plan, NULL, args, 0, NULL, NULL), CLATTN_SUCCESS);
    float *by_args = malloc(f.bytes[3]), *by_enqueue = malloc(f.bytes[3]);
    clEnqueueReadBuffer(f.queue, f.o, CL_TRUE, 0, f.bytes[3], by_args, 0, NULL, NULL);
    ck_assert_int_eq(clattn_enqueue(f.plan, NULL, f.q, 0, f.k, 0, f.v, 0, f.o, 0, f.lse, 0, 0,
                                    NULL, NULL),
                     CLATTN_SUCCESS);
    clEnqueueReadBuffer(f.queue, f.o, CL_TRUE, 0, f.bytes[3], by_enqueue, 0, NULL, NULL);
    ck_assert_mem_eq(by_args, by_enqueue, f.bytes[3]);
    free(by_args);
    free(by_enqueue);
    clattn_args_destroy(args);
    fixture_close(&f);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("context");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, bad_device_index);
    tcase_add_test(tc, caller_objects_are_retained);
    tcase_add_test(tc, plan_reports_what_it_chose);
    tcase_add_test(tc, invalid_problem_is_refused_by_plan);
    tcase_add_test(tc, misspelt_naive_gemm_is_refused);
    tcase_add_test(tc, peak_is_measured);
    tcase_add_test(tc, enum_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("enqueue");
    tcase_set_timeout(tc, 300);
    /* each algorithm: naive, tiled, windowed */
    tcase_add_loop_test(tc, enqueue_rejects_bad_buffers, CLATTN_ALGO_NAIVE, CLATTN_ALGO_WINDOWED + 1);
    tcase_add_loop_test(tc, enqueue_checks_strided_spans, CLATTN_ALGO_NAIVE,
                        CLATTN_ALGO_WINDOWED + 1);
    tcase_add_loop_test(tc, enqueue_with_offsets_and_events, CLATTN_ALGO_NAIVE,
                        CLATTN_ALGO_WINDOWED + 1);
    tcase_add_loop_test(tc, sub_buffers_of_one_buffer_are_compared, CLATTN_ALGO_NAIVE,
                        CLATTN_ALGO_WINDOWED + 1);
    tcase_add_loop_test(tc, enqueue_with_odd_kv_offsets, CLATTN_ALGO_TILED,
                        CLATTN_ALGO_DECODE + 1);
    tcase_add_loop_test(tc, enqueue_args_matches_enqueue, CLATTN_ALGO_NAIVE,
                        CLATTN_ALGO_DECODE + 1);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 1);
}
