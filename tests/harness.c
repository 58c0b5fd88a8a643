#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int current_device = -1;
static clattn_context *context;

attn_case case_default(void)
{
    attn_case c = {.batch = 1, .heads = 1, .kv_heads = 1, .seq_q = 1, .seq_kv = 1,
                   .head_dim = 64, .align = CLATTN_ALIGN_BOTTOM_RIGHT, .window_left = -1,
                   .window_right = -1, .dtype = CLATTN_DTYPE_F32, .layout = LAYOUT_BNHD,
                   .scale = NAN};
    return c;
}

const char *case_name(const attn_case *c)
{
    static char text[256];
    static const char *const dtypes[] = {"f32", "f16", "bf16"};
    static const char *const layouts[] = {"BNHd", "BHNd", "padded"};
    char scale[64] = "default";
    if (!isnan(c->scale))
        snprintf(scale, sizeof scale, "%g", c->scale);
    if (c->softcap > 0)
        snprintf(scale + strlen(scale), sizeof scale - strlen(scale), " softcap %g", c->softcap);
    snprintf(text, sizeof text,
             "B%d H%d:%d Nq%d Nk%d d%d %s%s window(%d,%d) %s %s scale %s magnitude %g",
             c->batch, c->heads, c->kv_heads, c->seq_q, c->seq_kv, c->head_dim,
             c->causal ? "causal " : "", c->align == CLATTN_ALIGN_TOP_LEFT ? "top-left" : "bottom-right",
             c->window_left, c->window_right, dtypes[c->dtype], layouts[c->layout], scale,
             (double)c->magnitude);
    return text;
}

#define OK(call)                                                                               \
    do {                                                                                       \
        clattn_status st_ = (call);                                                            \
        ck_assert_msg(st_ == CLATTN_SUCCESS, "%s: %s: %s", #call, clattn_status_string(st_),   \
                      clattn_message(NULL));                                                   \
    } while (0)

static void set_layout(clattn_problem *p, const attn_case *c)
{
    const int64_t d = c->head_dim;
    for (int t = CLATTN_TENSOR_Q; t <= CLATTN_TENSOR_O; t++) {
        const int kv = t == CLATTN_TENSOR_K || t == CLATTN_TENSOR_V;
        const int64_t n = kv ? c->seq_kv : c->seq_q, h = kv ? c->kv_heads : c->heads;
        switch (c->layout) {
        case LAYOUT_BNHD:
            break;
        case LAYOUT_BHND: /* batch, seq, head strides of [B, H, N, d] */
            OK(clattn_problem_set_strides(p, (clattn_tensor)t, h * n * d, d, n * d));
            break;
        case LAYOUT_PADDED: /* 3 spare elements after each row, 5 after each position */
            OK(clattn_problem_set_strides(p, (clattn_tensor)t, n * (h * (d + 3) + 5) + 7,
                                          h * (d + 3) + 5, d + 3));
            break;
        }
    }
}

clattn_problem *case_problem(const attn_case *c, clattn_algorithm algo)
{
    clattn_problem *p;
    OK(clattn_problem_create(&p));
    OK(clattn_problem_set(p, CLATTN_PARAM_BATCH, c->batch));
    OK(clattn_problem_set(p, CLATTN_PARAM_HEADS, c->heads));
    OK(clattn_problem_set(p, CLATTN_PARAM_KV_HEADS, c->kv_heads));
    OK(clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, c->seq_q));
    OK(clattn_problem_set(p, CLATTN_PARAM_SEQ_KV, c->seq_kv));
    OK(clattn_problem_set(p, CLATTN_PARAM_HEAD_DIM, c->head_dim));
    OK(clattn_problem_set(p, CLATTN_PARAM_CAUSAL, c->causal));
    OK(clattn_problem_set(p, CLATTN_PARAM_ALIGN, c->align));
    OK(clattn_problem_set(p, CLATTN_PARAM_WINDOW_LEFT, c->window_left));
    OK(clattn_problem_set(p, CLATTN_PARAM_WINDOW_RIGHT, c->window_right));
    OK(clattn_problem_set(p, CLATTN_PARAM_DTYPE, c->dtype));
    OK(clattn_problem_set(p, CLATTN_PARAM_ALGORITHM, algo));
    if (!isnan(c->scale))
        OK(clattn_problem_set_scale(p, c->scale));
    OK(clattn_problem_set_softcap(p, c->softcap));
    set_layout(p, c);
    OK(clattn_problem_check(p));
    return p;
}

/* xorshift32: the same inputs on every machine and every run. */
cl_mem device_copy(size_t bytes, const void *host)
{
    cl_context cl;
    clattn_context_get_cl(test_context(), &cl, NULL, NULL);
    cl_int err;
    cl_mem m = clCreateBuffer(cl, CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0),
                              bytes ? bytes : 4, (void *)host, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    return m;
}

int algorithm_takes_shape(clattn_algorithm algo, int seq_q, int causal, int64_t wl, int64_t wr)
{
    if (algo == CLATTN_ALGO_DECODE)
        return seq_q <= 16;
    if (algo == CLATTN_ALGO_WINDOWED)
        return wl >= 0 && (causal || wr >= 0);
    return 1;
}

void check_args_on_device(const clattn_problem *p, clattn_algorithm algo, clattn_args *args,
                          cl_mem o_mem, size_t o_bytes, cl_mem lse_mem, size_t rows,
                          const float *o_ref, const float *lse_ref, const char *name)
{
    clattn_context *ctx = test_context();
    clattn_plan *plan = NULL;
    clattn_status st = clattn_plan_create(ctx, p, &plan);
    /* naive's own kernels walk every key in one loop, and where loops end early (llvmpipe)
     * a long problem is refused by name (check-limits tests that refusal) */
    if (algo == CLATTN_ALGO_NAIVE && st == CLATTN_ERROR_UNSUPPORTED &&
        strstr(clattn_message(ctx), "loops after")) {
        printf("%s: naive refused on this device: %s\n", name, clattn_message(ctx));
        return;
    }
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: plan: %s", name, clattn_message(ctx));
    int64_t seq_kv;
    ck_assert_int_eq(clattn_problem_get(p, CLATTN_PARAM_SEQ_KV, &seq_kv), CLATTN_SUCCESS);
    if (algo == CLATTN_ALGO_DECODE && seq_kv > 3000) {
        int64_t splits;
        ck_assert_int_eq(clattn_plan_get(plan, CLATTN_PLAN_SPLITS, &splits), CLATTN_SUCCESS);
        ck_assert_msg(splits > 1, "%s: decode did not split its keys\n%s", name,
                      clattn_plan_describe(plan));
    }
    st = clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL);
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: enqueue: %s", name, clattn_message(ctx));
    cl_command_queue queue;
    clattn_context_get_cl(ctx, NULL, NULL, &queue);
    void *o = malloc(o_bytes);
    float *lse = malloc(rows * sizeof *lse);
    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_nonnull(lse);
    ck_assert_int_eq(clEnqueueReadBuffer(queue, o_mem, CL_TRUE, 0, o_bytes, o, 0, NULL, NULL),
                     CL_SUCCESS);
    ck_assert_int_eq(clEnqueueReadBuffer(queue, lse_mem, CL_TRUE, 0, rows * sizeof *lse, lse, 0,
                                         NULL, NULL),
                     CL_SUCCESS);
    double err, lse_err;
    int passed;
    ck_assert_int_eq(clattn_compare(p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed),
                     CLATTN_SUCCESS);
    ck_assert_msg(passed, "%s: O error %g, LSE error %g\n%s", name, err, lse_err,
                  clattn_plan_describe(plan));
    free(o);
    free(lse);
    clattn_plan_destroy(plan);
}

double hash01(unsigned a, unsigned b, unsigned c, unsigned d)
{
    unsigned x = a * 73856093u ^ b * 19349663u ^ c * 83492791u ^ d * 2654435761u;
    x ^= x >> 13;
    x *= 0x5bd1e995u;
    x ^= x >> 15;
    return (double)(x & 0xffffff) / 16777216.0;
}

void *random_tensor(clattn_dtype dtype, size_t count, float magnitude, unsigned seed)
{
    float *f = malloc(count * sizeof *f);
    void *out = malloc(count * clattn_dtype_size(dtype) + 1);
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(out);
    unsigned x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < count; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        f[i] = magnitude * (2.0f * (float)(x >> 8) / 16777216.0f - 1.0f);
    }
    clattn_from_float(dtype, f, out, count);
    free(f);
    return out;
}

clattn_context *test_context(void)
{
    if (!context) {
        clattn_status st = clattn_context_create(current_device, &context);
        ck_assert_msg(st == CLATTN_SUCCESS, "context on device %d: %s: %s", current_device,
                      clattn_status_string(st), clattn_message(NULL));
    }
    return context;
}

int test_device(void)
{
    return current_device;
}

void check_case(const attn_case *c, clattn_algorithm algo)
{
    check_case_on(test_context(), c, algo);
}

void check_case_on(clattn_context *ctx, const attn_case *c, clattn_algorithm algo)
{
    clattn_problem *p = case_problem(c, algo);
    const size_t esize = clattn_dtype_size(c->dtype);
    size_t bytes[4];
    for (int t = 0; t < 4; t++)
        OK(clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes[t]));
    const float mag = c->magnitude != 0.0f ? c->magnitude : 1.0f;
    void *q = random_tensor(c->dtype, bytes[0] / esize, mag, 1);
    void *k = random_tensor(c->dtype, bytes[1] / esize, mag, 2);
    void *v = random_tensor(c->dtype, bytes[2] / esize, 1.0f, 3);
    /* O's gaps (padded layouts) hold a sentinel that must survive the call */
    void *o = random_tensor(c->dtype, bytes[3] / esize, 7.0f, 4);
    void *o_before = malloc(bytes[3]);
    memcpy(o_before, o, bytes[3]);
    float *o_ref = malloc(bytes[3] / esize * sizeof(float));
    const size_t rows = (size_t)c->batch * (size_t)c->heads * (size_t)c->seq_q;
    float *lse = malloc(rows * sizeof *lse), *lse_ref = malloc(rows * sizeof *lse_ref);
    clattn_to_float(c->dtype, o, o_ref, bytes[3] / esize);

    OK(clattn_reference(p, q, k, v, o_ref, lse_ref));
    clattn_plan *plan = NULL;
    clattn_status st = clattn_plan_create(ctx, p, &plan);
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: plan: %s: %s", case_name(c), clattn_status_string(st),
                  clattn_message(ctx));
    st = clattn_run_host(plan, q, k, v, o, lse);
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: run: %s: %s", case_name(c), clattn_status_string(st),
                  clattn_message(ctx));

    double err = 0, lse_err = 0;
    int passed = 0;
    OK(clattn_compare(p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed));
    if (c->lse_relative > 0) {
        OK(clattn_compare(p, o, o_ref, NULL, NULL, &err, NULL, &passed)); /* O alone */
        for (size_t n = 0; n < rows; n++) {
            ck_assert_msg(isfinite(lse[n]) == isfinite(lse_ref[n]), "%s: LSE[%zu] = %g, want %g",
                          case_name(c), n, (double)lse[n], (double)lse_ref[n]);
            if (isfinite(lse_ref[n]))
                ck_assert_msg(fabs(lse[n] - lse_ref[n]) <= c->lse_relative * fabs(lse_ref[n]),
                              "%s: LSE[%zu] = %.9g, want %.9g within %g relative", case_name(c),
                              n, (double)lse[n], (double)lse_ref[n], c->lse_relative);
        }
    }
    ck_assert_msg(passed, "%s: max |O - O_ref| = %g (tolerance %g x (1 + max|O_ref|)), LSE error %g\n%s",
                  case_name(c), err, clattn_tolerance(c->dtype), lse_err,
                  clattn_plan_describe(plan));
    if (c->layout == LAYOUT_PADDED) {
        /* every byte the reference did not write (the gaps) is as it was */
        float *before = malloc(bytes[3] / esize * sizeof(float));
        float *after = malloc(bytes[3] / esize * sizeof(float));
        clattn_to_float(c->dtype, o_before, before, bytes[3] / esize);
        clattn_to_float(c->dtype, o, after, bytes[3] / esize);
        int64_t s[3];
        clattn_problem_get_strides(p, CLATTN_TENSOR_O, &s[0], &s[1], &s[2]);
        for (size_t e = 0; e < bytes[3] / esize; e++) {
            /* the padded layout nests batch > sequence > head > row, so one division chain
             * finds the coordinates, and an element outside every row is a gap */
            const size_t in_batch = e % (size_t)s[0];
            const size_t pos = in_batch / (size_t)s[1], in_pos = in_batch % (size_t)s[1];
            const size_t head = in_pos / (size_t)s[2], col = in_pos % (size_t)s[2];
            const int gap = pos >= (size_t)c->seq_q || head >= (size_t)c->heads ||
                            col >= (size_t)c->head_dim;
            if (gap)
                ck_assert_msg(before[e] == after[e], "%s: O gap element %zu was overwritten",
                              case_name(c), e);
        }
        free(before);
        free(after);
    }
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
    free(q);
    free(k);
    free(v);
    free(o);
    free(o_before);
    free(o_ref);
    free(lse);
    free(lse_ref);
}

/* Counting devices initialises the OpenCL implementation, and implementations do not survive
 * fork(); Check forks each test unless CK_FORK=no. So the count runs in a child process. */
static int count_devices_in_child(int *available)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        int n = 0;
        char line[4096] = "";
        size_t used = 0;
        if (clattn_device_count(&n) == CLATTN_SUCCESS)
            for (int i = 0; i < n; i++) {
                clattn_context *ctx;
                int ok = clattn_context_create(i, &ctx) == CLATTN_SUCCESS;
                if (ok)
                    clattn_context_destroy(ctx);
                used += (size_t)snprintf(line + used, sizeof line - used, "%d ", ok);
            }
        ssize_t w = write(fds[1], line, strlen(line));
        (void)w;
        _exit(0);
    }
    close(fds[1]);
    char buf[4096];
    ssize_t len = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    if (len < 0)
        return -1;
    buf[len] = '\0';
    int n = 0, off = 0, v, used;
    while (n < 64 && sscanf(buf + off, "%d%n", &v, &used) == 1) {
        available[n++] = v;
        off += used;
    }
    return n;
}

/* What ran and what was skipped, by name, over every device of this process. */
static struct part {
    char what[96];
    int ran, skipped;
} parts[256];
static int part_count, skips_on_device;

static struct part *part_named(const char *what)
{
    for (int i = 0; i < part_count; i++)
        if (strcmp(parts[i].what, what) == 0)
            return &parts[i];
    ck_assert_msg(part_count < (int)(sizeof parts / sizeof *parts), "too many named test parts");
    struct part *p = &parts[part_count++];
    snprintf(p->what, sizeof p->what, "%s", what);
    return p;
}

void test_skipped(const char *what, const char *why)
{
    part_named(what)->skipped++;
    skips_on_device++;
    printf("  SKIPPED %s: %s\n", what, why);
    fflush(stdout);
}

void test_ran(const char *what)
{
    part_named(what)->ran++;
}

static int run_suite(Suite *(*make_suite)(void))
{
    SRunner *sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (context) {
        clattn_context_destroy(context);
        context = NULL;
    }
    return failed;
}

int test_main(Suite *(*make_suite)(void), int needs_device)
{
    if (!needs_device)
        return run_suite(make_suite) ? EXIT_FAILURE : EXIT_SUCCESS;
    const char *require = getenv("CLATTN_TEST_REQUIRE_DEVICE");
    const int required = require && strcmp(require, "1") == 0;
    int available[64];
    int n = count_devices_in_child(available);
    const char *only = getenv("CLATTN_TEST_DEVICE");
    int failed = 0, ran = 0;
    for (int i = 0; i < n; i++) {
        if (only && *only ? atoi(only) != i : !available[i])
            continue;
        if (!available[i]) {
            fprintf(stderr, "CLATTN_TEST_DEVICE=%d: that device cannot be opened\n", i);
            return EXIT_FAILURE;
        }
        current_device = i;
        printf("== device %d\n", i);
        fflush(stdout);
        skips_on_device = 0;
        failed += run_suite(make_suite);
        if (skips_on_device)
            printf("== device %d: %d part(s) skipped (SKIPPED lines above)\n", i, skips_on_device);
        ran++;
    }
    if (!ran) {
        fprintf(stderr, "no usable OpenCL device%s\n", required ? " (required: failing)" : ": skipped");
        return required ? EXIT_FAILURE : 77;
    }
    int never_ran = 0;
    fflush(stdout);
    for (int i = 0; i < part_count; i++)
        if (parts[i].skipped && !parts[i].ran) {
            fprintf(stderr, "%s was skipped on every device under test%s\n", parts[i].what,
                    required ? " (CLATTN_TEST_REQUIRE_DEVICE=1: failing)" : "");
            never_ran++;
        }
    return failed || (required && never_ran) ? EXIT_FAILURE : EXIT_SUCCESS;
}
