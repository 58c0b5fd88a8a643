/* What a NaN or an infinity in the inputs does, exactly as docs/semantics.md ("NaN and
 * infinity in the inputs") promises it, for every algorithm. The other numerical edges (logits
 * of 1e4, all-equal scores, a single visible key, rows that see nothing) are in the "edges"
 * and "windows" tables of tests/cases.c, which every algorithm runs.
 *
 * Each test poisons one element (for V, a whole row) and sorts every output row into three
 * kinds: rows the promise says turn NaN (every element of O must be NaN, and the LSE too
 * unless the NaN is in V, which the LSE does not read), rows it says are untouched (equal to
 * the reference within the usual tolerance), and rows whose O it makes no promise about (a
 * NaN in V may reach them). */
#include <math.h>
#include <stdlib.h>

#include "harness.h"

enum { B = 2, H = 4, HKV = 2, N = 37, D = 40 };
enum { GROUP = H / HKV };

typedef enum row_kind { ROW_CLEAN, ROW_NAN, ROW_ANY } row_kind;

/* Where the poisoned element sits, and which rows see it. */
typedef struct poison {
    clattn_tensor tensor;
    int b, n, head; /* head: a query head for Q, a key/value head for K and V */
    int c;          /* the column, or -1 for the whole row */
    float value;
    int window_left; /* -1: causal only */
} poison;

static const clattn_algorithm algorithms[] = {CLATTN_ALGO_NAIVE, CLATTN_ALGO_TILED,
                                              CLATTN_ALGO_WINDOWED, CLATTN_ALGO_DECODE};

static clattn_problem *problem(clattn_algorithm algo, int window_left)
{
    attn_case c = case_default();
    c.batch = B;
    c.heads = H;
    c.kv_heads = HKV;
    c.seq_q = c.seq_kv = N;
    c.head_dim = D;
    c.causal = 1;
    c.window_left = window_left;
    c.window_right = window_left >= 0 ? 0 : -1;
    return case_problem(&c, algo);
}

/* Causal with equal lengths: row i sees keys [i - window_left, i] (all of [0, i] without). */
static int sees(const poison *x, int i, int j)
{
    return j <= i && (x->window_left < 0 || j >= i - x->window_left);
}

static row_kind kind(const poison *x, int b, int h, int i)
{
    if (x->tensor == CLATTN_TENSOR_Q)
        return b == x->b && h == x->head && i == x->n ? ROW_NAN : ROW_CLEAN;
    if (b != x->b || h / GROUP != x->head)
        return ROW_CLEAN; /* another batch or key/value head never reads the element */
    if (sees(x, i, x->n))
        return ROW_NAN;
    /* a masked key is replaced by -inf before use; a masked V row is multiplied by 0 */
    return x->tensor == CLATTN_TENSOR_K ? ROW_CLEAN : ROW_ANY;
}

static void run(clattn_algorithm algo, const poison *x)
{
    clattn_problem *p = problem(algo, x->window_left);
    const size_t count = (size_t)B * N * H * D, kv_count = (size_t)B * N * HKV * D;
    float *in[3] = {random_tensor(CLATTN_DTYPE_F32, count, 1.0f, 21),
                    random_tensor(CLATTN_DTYPE_F32, kv_count, 1.0f, 22),
                    random_tensor(CLATTN_DTYPE_F32, kv_count, 1.0f, 23)};
    const int heads = x->tensor == CLATTN_TENSOR_Q ? H : HKV;
    const size_t row0 = (((size_t)x->b * N + (size_t)x->n) * (size_t)heads + (size_t)x->head) * D;
    for (int c = 0; c < D; c++)
        if (c == x->c || x->c < 0)
            in[x->tensor][row0 + (size_t)c] = x->value;
    float *o = malloc(count * sizeof *o), *o_ref = malloc(count * sizeof *o_ref);
    float lse[B * H * N], lse_ref[B * H * N];
    ck_assert_int_eq(clattn_reference(p, in[0], in[1], in[2], o_ref, lse_ref), CLATTN_SUCCESS);
    clattn_context *ctx = test_context();
    clattn_plan *plan;
    ck_assert_msg(clattn_plan_create(ctx, p, &plan) == CLATTN_SUCCESS, "%s", clattn_message(ctx));
    ck_assert_msg(clattn_run_host(plan, in[0], in[1], in[2], o, lse) == CLATTN_SUCCESS, "%s",
                  clattn_message(ctx));

    double max_ref = 0;
    for (size_t e = 0; e < count; e++)
        if (isfinite(o_ref[e]) && fabs(o_ref[e]) > max_ref)
            max_ref = fabs(o_ref[e]);
    const double tol = clattn_tolerance(CLATTN_DTYPE_F32) * (1 + max_ref);
    int nan_rows = 0;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < N; i++) {
                const row_kind k = kind(x, b, h, i);
                const size_t row = (((size_t)b * N + (size_t)i) * H + (size_t)h) * D;
                const float l = lse[((size_t)b * H + (size_t)h) * N + (size_t)i];
                const float l_ref = lse_ref[((size_t)b * H + (size_t)h) * N + (size_t)i];
                nan_rows += k == ROW_NAN;
                /* the LSE is a function of Q and K alone: a NaN in V leaves every LSE as it was */
                if (k == ROW_NAN && x->tensor != CLATTN_TENSOR_V)
                    ck_assert_msg(isnan(l), "b%d h%d row %d: LSE %g, want NaN", b, h, i, (double)l);
                else
                    ck_assert_msg(fabs(l - l_ref) <= 1e-4, "b%d h%d row %d: LSE %g, want %g", b,
                                  h, i, (double)l, (double)l_ref);
                for (int c = 0; k != ROW_ANY && c < D; c++) {
                    const float got = o[row + (size_t)c], want = o_ref[row + (size_t)c];
                    if (k == ROW_NAN)
                        ck_assert_msg(isnan(got), "b%d h%d row %d col %d: %g, want NaN", b, h, i,
                                      c, (double)got);
                    else
                        ck_assert_msg(fabs(got - want) <= tol, "b%d h%d row %d col %d: %g, want %g",
                                      b, h, i, c, (double)got, (double)want);
                }
            }
    ck_assert_int_gt(nan_rows, 0);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
    for (int t = 0; t < 3; t++)
        free(in[t]);
    free(o);
    free(o_ref);
}

/* _i: the algorithm. The poisoned rows and keys sit inside tiles, not at their edges. */
START_TEST(nan_in_q_reaches_only_its_row)
{
    const poison x = {CLATTN_TENSOR_Q, 1, 20, 3, 7, NAN, -1};
    run(algorithms[_i], &x);
}
END_TEST

START_TEST(nan_in_k_reaches_only_rows_that_see_it)
{
    const poison causal = {CLATTN_TENSOR_K, 0, 10, 1, 5, NAN, -1};
    run(algorithms[_i], &causal);
    const poison window = {CLATTN_TENSOR_K, 1, 10, 0, 39, NAN, 4}; /* rows 10..14 see key 10 */
    run(algorithms[_i], &window);
}
END_TEST

START_TEST(nan_in_v_reaches_rows_that_see_it)
{
    /* a whole row of V: column c of V reaches only column c of O */
    const poison x = {CLATTN_TENSOR_V, 0, 12, 1, -1, NAN, 6};
    run(algorithms[_i], &x);
}
END_TEST

START_TEST(infinite_score_makes_its_row_nan)
{
    /* row 30 sees 31 keys; +inf in Q gives scores of both signs of infinity */
    const poison x = {CLATTN_TENSOR_Q, 0, 30, 2, 11, INFINITY, -1};
    run(algorithms[_i], &x);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("numerics");
    TCase *tc = tcase_create("nan");
    tcase_set_timeout(tc, 600);
    const int n = (int)(sizeof algorithms / sizeof *algorithms);
    tcase_add_loop_test(tc, nan_in_q_reaches_only_its_row, 0, n);
    tcase_add_loop_test(tc, nan_in_k_reaches_only_rows_that_see_it, 0, n);
    tcase_add_loop_test(tc, nan_in_v_reaches_rows_that_see_it, 0, n);
    tcase_add_loop_test(tc, infinite_score_makes_its_row_nan, 0, n);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 1);
}
