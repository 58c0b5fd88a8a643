#include "kv_kernel.h"

#include <stdio.h>

#include "program_cache.h"

int kv_rows_aligned(const clattn_problem *p)
{
    if (problem_get(p, CLATTN_PARAM_HEAD_DIM) % 4 || problem_head_dim_v(p) % 4)
        return 0;
    for (clattn_tensor t = CLATTN_TENSOR_K; t <= CLATTN_TENSOR_V; t++) {
        int64_t s[3];
        problem_strides(p, t, s);
        if (s[0] % 4 || s[1] % 4 || s[2] % 4)
            return 0;
    }
    return 1;
}

static clattn_status build(clattn_plan *plan, const kv_kernel *k, int aligned, cl_kernel *out)
{
    char options[400];
    snprintf(options, sizeof options, "%s -DKV_ALIGNED=%d", k->options, aligned);
    cl_program program;
    clattn_status st = program_get(plan->ctx, k->family, options, &program);
    return st ? st : program_kernel(plan->ctx, program, k->name, out);
}

clattn_status kv_kernel_build(clattn_plan *plan, const char *family, const char *name,
                              const char *options, kv_kernel *k)
{
    snprintf(k->family, sizeof k->family, "%s", family);
    snprintf(k->name, sizeof k->name, "%s", name);
    snprintf(k->options, sizeof k->options, "%s", options);
    k->aligned = kv_rows_aligned(&plan->problem);
    return build(plan, k, k->aligned, &k->kernel);
}

clattn_status kv_kernel_for_call(clattn_plan *plan, kv_kernel *k, const attn_buffers *b,
                                 cl_kernel *out)
{
    if (!k->aligned || (b->k_off % 4 == 0 && b->v_off % 4 == 0)) {
        *out = k->kernel;
        return CLATTN_SUCCESS;
    }
    if (!k->unaligned) {
        clattn_status st = build(plan, k, 0, &k->unaligned);
        if (st)
            return st;
    }
    *out = k->unaligned;
    return CLATTN_SUCCESS;
}

void kv_kernel_release(kv_kernel *k)
{
    if (k->kernel)
        clReleaseKernel(k->kernel);
    if (k->unaligned)
        clReleaseKernel(k->unaligned);
    k->kernel = k->unaligned = NULL;
}
