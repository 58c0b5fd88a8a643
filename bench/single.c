#include "single.h"

#include <stdio.h>

#include "inputs.h"
#include "run.h"
#include "save.h"

int single_run(struct bench_session *s, const clattn_problem *problem)
{
    const struct bench_options *opt = s->opt;
    struct bench_inputs *in = NULL;
    int rc = inputs_create(s, problem, &in);
    for (int a = 0; a < opt->algo_count && !rc; a++) {
        clattn_plan *plan = NULL;
        double build_ms;
        struct bench_row row;
        rc = run_plan_create(s, problem, opt->algos[a], 0, &plan, &build_ms);
        if (!rc)
            rc = run_measure(s, in, problem, opt->algos[a], plan, build_ms, &row);
        clattn_plan_destroy(plan);
        if (!rc)
            rc = session_add_row(s, &row); /* the session owns the row's stages from here */
        /* O and LSE are overwritten by the next algorithm: save the first one's now */
        if (!rc && a == 0 && opt->save_dir) {
            rc = save_npy_files(opt->save_dir, in, &row);
            if (!rc && opt->algo_count > 1)
                fprintf(stderr, "attn-bench: o.npy and lse.npy in %s are %s's output\n",
                        opt->save_dir, row_algo_label(&row));
        }
    }
    inputs_destroy(in);
    return rc;
}
