#include "fuzz_problem.h"

static void set_param(clattn_problem *p, fuzz_input *in)
{
    const clattn_param param = (clattn_param)(take_u8(in) % 16); /* 0 and 13..15 are invalid */
    const int64_t value = take_value(in);
    int64_t before = 0, after = 0;
    const int known = clattn_problem_get(p, param, &before) == CLATTN_SUCCESS;
    const clattn_status st = clattn_problem_set(p, param, value);
    FUZZ_ASSERT(!st || st == CLATTN_ERROR_INVALID_ARGUMENT);
    FUZZ_ASSERT(st || known);
    if (known) {
        FUZZ_ASSERT(clattn_problem_get(p, param, &after) == CLATTN_SUCCESS);
        FUZZ_ASSERT(after == (st ? before : value));
    }
    /* out of bounds is always refused (in bounds may still be, e.g. a page size that is no
     * multiple of 16) */
    int64_t min, max;
    if (clattn_param_bounds(param, &min, &max) == CLATTN_SUCCESS)
        FUZZ_ASSERT(st || (value >= min && value <= max));
}

static void set_strides(clattn_problem *p, fuzz_input *in)
{
    const clattn_tensor t = (clattn_tensor)((int)(take_u8(in) % 6) - 1); /* -1 and 4 invalid */
    int64_t s[3];
    for (int i = 0; i < 3; i++)
        s[i] = take_value(in);
    int64_t before[3] = {0, 0, 0}, after[3];
    clattn_problem_get_strides(p, t, &before[0], &before[1], &before[2]);
    const clattn_status st = clattn_problem_set_strides(p, t, s[0], s[1], s[2]);
    FUZZ_ASSERT(!st || st == CLATTN_ERROR_INVALID_ARGUMENT);
    if (clattn_problem_get_strides(p, t, &after[0], &after[1], &after[2]) == CLATTN_SUCCESS &&
        (st || s[0] || s[1] || s[2])) /* all three 0 restores the defaults instead */
        for (int i = 0; i < 3; i++)
            FUZZ_ASSERT(after[i] == (st ? before[i] : s[i]));
}

clattn_problem *fuzz_problem(fuzz_input *in, int max_ops)
{
    clattn_problem *p;
    FUZZ_ASSERT(clattn_problem_create(&p) == CLATTN_SUCCESS);
    for (int op = 0; op < max_ops && in->size; op++) {
        switch (take_u8(in) % 4) {
        case 0:
            set_param(p, in);
            break;
        case 1:
            set_strides(p, in);
            break;
        case 2: {
            const double scale = take_f64(in);
            const clattn_status st = clattn_problem_set_scale(p, scale);
            double back;
            FUZZ_ASSERT(clattn_problem_get_scale(p, &back) == CLATTN_SUCCESS);
            FUZZ_ASSERT(st || back == scale);
            break;
        }
        default: { /* a clone carries on in place of the original */
            clattn_problem *copy;
            FUZZ_ASSERT(clattn_problem_clone(p, &copy) == CLATTN_SUCCESS);
            clattn_problem_destroy(p);
            p = copy;
        }
        }
    }
    return p;
}
