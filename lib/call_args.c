#include "call_args.h"

#include <stdlib.h>

#include "message.h"
#include "problem.h"

#define POSITION_MAX 2147483647

static const char *const arg_names[ARG_LAST + 1] = {
    [CLATTN_ARG_Q] = "Q",
    [CLATTN_ARG_K] = "K",
    [CLATTN_ARG_V] = "V",
    [CLATTN_ARG_O] = "O",
    [CLATTN_ARG_LSE] = "LSE",
    [CLATTN_ARG_CACHE_SEQLENS] = "cache_seqlens",
    [CLATTN_ARG_BLOCK_TABLE] = "block_table",
    [CLATTN_ARG_K_NEW] = "k_new",
    [CLATTN_ARG_V_NEW] = "v_new",
    [CLATTN_ARG_ALIBI_SLOPES] = "alibi_slopes",
    [CLATTN_ARG_SINKS] = "sinks",
    [CLATTN_ARG_MASK] = "mask",
    [CLATTN_ARG_Q_START] = "q_start",
    [CLATTN_ARG_K_START] = "k_start",
    [CLATTN_ARG_CU_SEQLENS_Q] = "cu_seqlens_q",
    [CLATTN_ARG_CU_SEQLENS_K] = "cu_seqlens_k",
};

clattn_status clattn_args_create(clattn_args **args)
{
    if (!args)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_args_create: NULL output");
    *args = calloc(1, sizeof **args);
    return *args ? CLATTN_SUCCESS
                 : fail(NULL, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
}

void clattn_args_destroy(clattn_args *args)
{
    free(args);
}

static clattn_status check_slot(const clattn_args *args, clattn_arg arg, const char *who)
{
    if (!args)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: args is NULL", who);
    if (arg < CLATTN_ARG_Q || arg > ARG_LAST)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "%s: unknown argument %d", who, (int)arg);
    return CLATTN_SUCCESS;
}

clattn_status clattn_args_set_buffer(clattn_args *args, clattn_arg arg, cl_mem buffer,
                                     size_t offset)
{
    clattn_status st = check_slot(args, arg, "clattn_args_set_buffer");
    if (st)
        return st;
    args->slot[arg].buffer = buffer;
    args->slot[arg].offset = buffer ? offset : 0;
    return CLATTN_SUCCESS;
}

clattn_status clattn_args_set_host(clattn_args *args, clattn_arg arg, const void *data)
{
    clattn_status st = check_slot(args, arg, "clattn_args_set_host");
    if (st)
        return st;
    args->slot[arg].host = data;
    return CLATTN_SUCCESS;
}

clattn_status clattn_args_set_positions(clattn_args *args, int64_t q_start, int64_t k_start)
{
    if (!args)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_args_set_positions: args is NULL");
    if (q_start < 0 || q_start > POSITION_MAX || k_start < 0 || k_start > POSITION_MAX)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "clattn_args_set_positions: q_start = %lld and k_start = %lld must be in "
                    "[0, 2^31 - 1]",
                    (long long)q_start, (long long)k_start);
    args->q_start = q_start;
    args->k_start = k_start;
    args->positions_set = 1;
    return CLATTN_SUCCESS;
}

static int present(const clattn_args *args, clattn_arg arg, int host)
{
    return host ? args->slot[arg].host != NULL : args->slot[arg].buffer != NULL;
}

clattn_status call_args_check_extensions(const clattn_problem *p, const clattn_args *args,
                                         int host, const char *who)
{
    const int64_t positions = problem_get(p, CLATTN_PARAM_POSITIONS);
    const struct {
        clattn_arg arg;
        int wanted;
        const char *param;
    } extensions[] = {
        {CLATTN_ARG_ALIBI_SLOPES, problem_get(p, CLATTN_PARAM_ALIBI) != CLATTN_ALIBI_NONE,
         "CLATTN_PARAM_ALIBI"},
        {CLATTN_ARG_SINKS, problem_get(p, CLATTN_PARAM_SINKS) != 0, "CLATTN_PARAM_SINKS"},
        {CLATTN_ARG_MASK, problem_get(p, CLATTN_PARAM_MASK) != CLATTN_MASK_NONE,
         "CLATTN_PARAM_MASK"},
        {CLATTN_ARG_Q_START, positions == CLATTN_POSITIONS_PER_ENTRY,
         "CLATTN_POSITIONS_PER_ENTRY"},
        {CLATTN_ARG_K_START, positions == CLATTN_POSITIONS_PER_ENTRY,
         "CLATTN_POSITIONS_PER_ENTRY"},
        {CLATTN_ARG_CU_SEQLENS_Q, problem_varlen(p), "CLATTN_PARAM_VARLEN"},
        {CLATTN_ARG_CU_SEQLENS_K, problem_varlen(p), "CLATTN_PARAM_VARLEN"},
    };
    for (size_t e = 0; e < sizeof extensions / sizeof extensions[0]; e++) {
        const int given = present(args, extensions[e].arg, host);
        if (given != extensions[e].wanted)
            return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                        given ? "%s: %s is given, but the problem does not ask for it (%s)"
                              : "%s: the problem asks for %s (%s), and it is not given",
                        who, arg_names[extensions[e].arg], extensions[e].param);
    }
    /* a packed batch's entries are delimited by cu_seqlens alone (docs/semantics.md) */
    for (clattn_arg t = CLATTN_ARG_CACHE_SEQLENS; problem_varlen(p) && t <= CLATTN_ARG_V_NEW; t++)
        if (present(args, t, host))
            return fail(NULL, CLATTN_ERROR_UNSUPPORTED,
                        "%s: packed variable-length batches take no KV cache arguments (%s is "
                        "given)",
                        who, arg_names[t]);
    if (args->positions_set != (positions == CLATTN_POSITIONS_PER_CALL))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    args->positions_set
                        ? "%s: positions are given, but the problem does not take them per call"
                        : "%s: the problem takes positions per call, and none were given "
                          "(clattn_args_set_positions)",
                    who);
    if (args->positions_set) {
        const int64_t last_q = args->q_start + problem_get(p, CLATTN_PARAM_SEQ_Q) - 1;
        const int64_t last_k = args->k_start + problem_get(p, CLATTN_PARAM_SEQ_KV) - 1;
        if (last_q > POSITION_MAX || last_k > POSITION_MAX)
            return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                        "%s: the last positions (query %lld, key %lld) pass 2^31 - 1", who,
                        (long long)last_q, (long long)last_k);
    }
    return CLATTN_SUCCESS;
}
