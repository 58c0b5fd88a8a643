#include "shape.h"

#include <stdio.h>
#include <stdlib.h>

#include "diag.h"

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
        {CLATTN_PARAM_CAUSAL, opt->causal, "--causal"},
        {CLATTN_PARAM_ALIGN, opt->align, "--align"},
        {CLATTN_PARAM_WINDOW_LEFT, opt->window_left, "--window (left)"},
        {CLATTN_PARAM_WINDOW_RIGHT, opt->window_right, "--window (right)"},
        {CLATTN_PARAM_DTYPE, opt->dtype, "--dtype"},
    };
    return build(settings, sizeof settings / sizeof *settings, 1, out);
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

int shape_to_row(const clattn_problem *problem, struct bench_row *row)
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
    row->causal = (int)causal;
    row->align = (clattn_align)align;
    row->dtype = (clattn_dtype)dtype;
    return 0;
}
