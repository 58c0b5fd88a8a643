/* Causal attention over 8 heads of 128 tokens on the default OpenCL device. */
#include <clattn.h>
#include <stdio.h>

enum { N = 128, H = 8, D = 64 };
static float q[N * H * D], k[N * H * D], v[N * H * D], o[N * H * D];

int main(void)
{
    for (int i = 0; i < N * H * D; i++)
        q[i] = k[i] = v[i] = (float)(i % 7) / 7.0f; /* [N, H, D]: batch 1, contiguous */
    clattn_context *ctx;
    clattn_problem *p;
    clattn_plan *plan;
    if (clattn_context_create(-1, &ctx)) { /* -1: $CLATTN_DEVICE, else a GPU, else the first */
        fprintf(stderr, "clattn: %s\n", clattn_message(NULL));
        return 1;
    }
    clattn_problem_create(&p);
    clattn_problem_set(p, CLATTN_PARAM_HEADS, H);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, N);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_KV, N);
    clattn_problem_set(p, CLATTN_PARAM_HEAD_DIM, D);
    clattn_problem_set(p, CLATTN_PARAM_CAUSAL, 1);
    if (clattn_plan_create(ctx, p, &plan) || clattn_run_host(plan, q, k, v, o, NULL)) {
        fprintf(stderr, "clattn: %s\n", clattn_message(ctx));
        return 1;
    }
    printf("%sO[0][0][0] = %f\n", clattn_plan_describe(plan), (double)o[0]);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
    clattn_context_destroy(ctx);
    return 0;
}
