/* The problems of the command line's shape flags: the standard sweep (bench.h), and the
 * single problem, run by each algorithm of --algo. */
#include <stdio.h>

#include "bench.h"

/* ---- The sweep */

/* "[7/28] tiled causal seq 4096..." */
struct sweep_progress {
    struct progress line;
    int done, total;
};

static void show_row(struct sweep_progress *p, clattn_algorithm algo, int causal, int64_t seq)
{
    p->done++;
    progress_show(&p->line, "[%d/%d] %s%s seq %lld", p->done, p->total,
                  clattn_algorithm_name(algo), causal ? " causal" : "", (long long)seq);
}

/* Whether the sweep runs `algo` at `seq`. */
static int runs_at(const struct bench_options *opt, clattn_algorithm algo, int64_t seq)
{
    return algo != CLATTN_ALGO_NAIVE || opt->full || seq <= SWEEP_NAIVE_LAST_SEQ;
}

/* The sweep's rule for naive: its plan creates without running out of device memory, needs
 * a single pass over the score matrix, and its scratch fits beside the inputs. `plan` is NULL
 * when it ran out. */
static int naive_fits(struct bench_session *s, const clattn_problem *problem,
                      const clattn_plan *plan, int64_t *chunks, int *fits)
{
    *chunks = 0;
    *fits = 0;
    if (!plan)
        return 0;
    int64_t scratch = 0;
    clattn_status st = clattn_plan_get(plan, CLATTN_PLAN_CHUNKS, chunks);
    if (!st)
        st = clattn_plan_get(plan, CLATTN_PLAN_SCRATCH_BYTES, &scratch);
    if (st)
        return fail_clattn(s->ctx, st, "reading the plan");
    int rc = inputs_fit(s, problem, scratch, fits);
    *fits &= *chunks == 1;
    return rc;
}

static void note_naive_skipped(struct bench_session *s, int64_t seq, int causal, int64_t chunks)
{
    char text[160];
    if (chunks > 1)
        snprintf(text, sizeof text,
                 "naive%s seq %lld: needs %lld passes over the score matrix here; skipped",
                 causal ? " causal" : "", (long long)seq, (long long)chunks);
    else
        snprintf(text, sizeof text, "naive%s seq %lld: does not fit the device; skipped",
                 causal ? " causal" : "", (long long)seq);
    table_print_note(s->table, text);
}

/* Past SWEEP_LAST_SEQ (--full): whether naive still fits at this length. */
static int probe_naive(struct bench_session *s, int64_t seq, int *fits)
{
    clattn_problem *problem = NULL;
    int rc = shape_for_sweep(seq, 0, 0, &problem);
    clattn_plan *plan = NULL;
    double build_ms;
    int64_t chunks;
    if (!rc)
        rc = run_plan_create(s, problem, CLATTN_ALGO_NAIVE, 1, &plan, &build_ms);
    if (!rc)
        rc = naive_fits(s, problem, plan, &chunks, fits);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(problem);
    return rc;
}

/* `in` is created on the first row measured at this length: a length whose rows are all
 * skipped uploads nothing. */
static int run_algorithm(struct bench_session *s, struct bench_inputs **in,
                         const clattn_problem *problem, clattn_algorithm algo, int causal,
                         int64_t seq, struct sweep_progress *progress)
{
    show_row(progress, algo, causal, seq);
    clattn_plan *plan = NULL;
    double build_ms;
    const int is_naive = algo == CLATTN_ALGO_NAIVE;
    int rc = run_plan_create(s, problem, algo, is_naive, &plan, &build_ms);
    if (!rc && is_naive) {
        int64_t chunks;
        int fits;
        rc = naive_fits(s, problem, plan, &chunks, &fits);
        if (!rc && !fits) {
            progress_clear(&progress->line);
            note_naive_skipped(s, seq, causal, chunks);
            clattn_plan_destroy(plan);
            return 0;
        }
    }
    struct bench_row row;
    if (!rc && !*in) /* one upload per length: the mask does not change the data */
        rc = inputs_create(s, problem, in);
    if (!rc)
        rc = run_measure(s, *in, problem, algo, plan, build_ms, &row);
    clattn_plan_destroy(plan);
    progress_clear(&progress->line);
    return rc ? rc : session_add_row(s, &row);
}

/* Every selected algorithm at one length, grouped by problem so that each problem's reference
 * is computed once: the full mask (naive, tiled, auto), then the window (windowed). */
static int run_length(struct bench_session *s, int64_t seq, struct sweep_progress *progress)
{
    const struct bench_options *opt = s->opt;
    struct bench_inputs *in = NULL;
    int rc = 0;
    for (int windowed = 0; windowed <= 1 && !rc; windowed++)
        for (int causal = 0; causal <= 1 && !rc; causal++) {
            clattn_problem *problem;
            if ((rc = shape_for_sweep(seq, causal, windowed, &problem)))
                break;
            for (int a = 0; a < opt->algo_count && !rc; a++) {
                if ((opt->algos[a] == CLATTN_ALGO_WINDOWED) != windowed ||
                    !runs_at(opt, opt->algos[a], seq))
                    continue;
                rc = run_algorithm(s, &in, problem, opt->algos[a], causal, seq, progress);
            }
            clattn_problem_destroy(problem);
        }
    inputs_destroy(in);
    return rc;
}

/* Rows at one length: causal and not, for each algorithm the sweep runs there. */
static int rows_at(const struct bench_options *opt, int64_t seq)
{
    int rows = 0;
    for (int a = 0; a < opt->algo_count; a++)
        rows += 2 * runs_at(opt, opt->algos[a], seq);
    return rows;
}

/* Past SWEEP_LAST_SEQ: the end of the default sweep, or (--full) whether it goes on. */
static int goes_on(struct bench_session *s, int64_t seq, int *on)
{
    char text[160];
    *on = 0;
    if (!s->opt->full) {
        snprintf(text, sizeof text,
                 "the sweep stops at seq %d, naive at %d; --full runs naive further and the "
                 "sweep on while naive fits in one pass",
                 SWEEP_LAST_SEQ, SWEEP_NAIVE_LAST_SEQ);
        table_print_note(s->table, text);
        return 0;
    }
    int rc = probe_naive(s, seq, on);
    if (!rc && !*on) {
        snprintf(text, sizeof text,
                 "seq %lld: naive no longer fits in one pass; the sweep stops here",
                 (long long)seq);
        table_print_note(s->table, text);
    }
    return rc;
}

int sweep_run(struct bench_session *s)
{
    struct sweep_progress progress = {.done = 0, .total = 0};
    progress_init(&progress.line, s->opt);
    for (int64_t seq = SWEEP_FIRST_SEQ; seq <= SWEEP_LAST_SEQ; seq *= 2)
        progress.total += rows_at(s->opt, seq);
    for (int64_t seq = SWEEP_FIRST_SEQ;; seq *= 2) {
        if (seq > SWEEP_LAST_SEQ) {
            int on = 0;
            int rc = goes_on(s, seq, &on);
            if (rc || !on)
                return rc;
            progress.total += rows_at(s->opt, seq);
        }
        if (seq > SWEEP_FIRST_SEQ)
            fputc('\n', s->table); /* one block of rows per length */
        int rc = run_length(s, seq, &progress);
        if (rc)
            return rc;
    }
}

/* ---- The single problem */

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
            char label[ROW_LABEL_LEN];
            rc = save_npy_files(opt->save_dir, in, &row);
            if (!rc && opt->algo_count > 1)
                fprintf(stderr, "attn-bench: o.npy and lse.npy in %s are %s's output\n",
                        opt->save_dir, row_algo_label(&row, label));
        }
    }
    inputs_destroy(in);
    return rc;
}
