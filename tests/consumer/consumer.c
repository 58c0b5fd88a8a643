/* A program outside the tree, as an application would write it: built by tools/consumer-test
 * with `cc consumer.c $(pkg-config --cflags --libs clattn)` and nothing else. It computes one
 * causal attention on the default device, compares it with the CPU reference, and prints
 * PASS. It chooses its OpenCL API version, as include/clattn.h asks of its includers. */
#define CL_TARGET_OPENCL_VERSION 120
#include <clattn.h>
#include <stdio.h>
#include <stdlib.h>

enum { N = 96, H = 4, D = 64 };

static int failed(const char *what, clattn_status st, const clattn_context *ctx)
{
    fprintf(stderr, "consumer: %s: %s: %s\n", what, clattn_status_string(st),
            clattn_message(ctx));
    return 1;
}

int main(void)
{
    static float q[N * H * D], k[N * H * D], v[N * H * D], o[N * H * D], o_ref[N * H * D];
    unsigned x = 12345u;
    for (int i = 0; i < N * H * D; i++) {
        x = x * 1664525u + 1013904223u; /* any fixed values in [-1, 1] */
        q[i] = (float)(x >> 8) / 8388608.0f - 1.0f;
        k[i] = (float)((x >> 4) & 0xffff) / 32768.0f - 1.0f;
        v[i] = (float)(x & 0xffff) / 32768.0f - 1.0f;
    }
    if (clattn_version_number() != CLATTN_VERSION_NUMBER) {
        fprintf(stderr, "consumer: header %s but library %s\n", CLATTN_VERSION_STRING,
                clattn_version_string());
        return 1;
    }
    clattn_context *ctx = NULL;
    clattn_problem *p = NULL;
    clattn_plan *plan = NULL;
    clattn_status st = clattn_context_create(-1, &ctx);
    if (st)
        return failed("opening the default OpenCL device", st, NULL);
    const struct {
        clattn_param param;
        int64_t value;
    } params[] = {{CLATTN_PARAM_HEADS, H},
                  {CLATTN_PARAM_SEQ_Q, N},
                  {CLATTN_PARAM_SEQ_KV, N},
                  {CLATTN_PARAM_HEAD_DIM, D},
                  {CLATTN_PARAM_CAUSAL, 1}};
    if ((st = clattn_problem_create(&p)))
        return failed("creating the problem", st, NULL);
    for (size_t i = 0; i < sizeof params / sizeof *params; i++)
        if ((st = clattn_problem_set(p, params[i].param, params[i].value)))
            return failed("setting the problem", st, NULL);
    if ((st = clattn_plan_create(ctx, p, &plan)))
        return failed("planning", st, ctx);
    if ((st = clattn_run_host(plan, q, k, v, o, NULL)))
        return failed("running", st, ctx);
    if ((st = clattn_reference(p, q, k, v, o_ref, NULL)))
        return failed("computing the reference", st, NULL);
    double err = 0;
    int passed = 0;
    if ((st = clattn_compare(p, o, o_ref, NULL, NULL, &err, NULL, &passed)))
        return failed("comparing", st, NULL);
    printf("clattn %s, max |O - O_ref| = %.3g: %s\n", clattn_version_string(), err,
           passed ? "PASS" : "FAIL");
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
    clattn_context_destroy(ctx);
    return passed ? 0 : 1;
}
