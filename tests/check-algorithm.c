/* Every algorithm against the CPU reference on the matrix of tests/cases.c.
 * Usage: check-algorithm naive|tiled|windowed|decode|auto (meson runs each). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"

static clattn_algorithm algorithm;
static const case_table *tables;

/* What auto must choose (README, "What it is"): decode for up to 16 query rows, windowed when
 * a window bounds every row's keys (a left bound, and a right one or the causal mask), and
 * tiled otherwise. */
static void check_auto_choice(const attn_case *c)
{
    clattn_algorithm want = CLATTN_ALGO_TILED;
    if (c->seq_q <= 16)
        want = CLATTN_ALGO_DECODE;
    else if (c->window_left >= 0 && (c->window_right >= 0 || c->causal))
        want = CLATTN_ALGO_WINDOWED;
    clattn_problem *p = case_problem(c, CLATTN_ALGO_AUTO);
    clattn_plan *plan;
    ck_assert_msg(clattn_plan_create(test_context(), p, &plan) == CLATTN_SUCCESS, "%s: %s",
                  case_name(c), clattn_message(test_context()));
    int64_t chosen;
    ck_assert_int_eq(clattn_plan_get(plan, CLATTN_PLAN_ALGORITHM, &chosen), CLATTN_SUCCESS);
    ck_assert_msg(chosen == want, "%s: auto chose %lld, want %d\n%s", case_name(c),
                  (long long)chosen, (int)want, clattn_plan_describe(plan));
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
}

#define TABLE_TEST(index)                                                                      \
    START_TEST(table_##index)                                                                  \
    {                                                                                          \
        if (algorithm == CLATTN_ALGO_AUTO)                                                     \
            check_auto_choice(&tables[index].cases[_i]);                                       \
        check_case(&tables[index].cases[_i], algorithm);                                       \
    }                                                                                          \
    END_TEST

TABLE_TEST(0)
TABLE_TEST(1)
TABLE_TEST(2)
TABLE_TEST(3)
TABLE_TEST(4)
TABLE_TEST(5)
TABLE_TEST(6)
TABLE_TEST(7)

static Suite *make_suite(void)
{
    const TTest *const table_tests[] = {table_0, table_1, table_2, table_3,
                                        table_4, table_5, table_6, table_7};
    Suite *s = suite_create("algorithm");
    int n = case_tables(&tables);
    for (int t = 0; t < n && t < (int)(sizeof table_tests / sizeof *table_tests); t++) {
        TCase *tc = tcase_create(tables[t].name);
        tcase_set_timeout(tc, 600);
        tcase_add_loop_test(tc, table_tests[t], 0, tables[t].count);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"auto", "naive", "tiled", "windowed", "decode"};
    if (argc != 2) {
        fprintf(stderr, "usage: %s auto|naive|tiled|windowed|decode\n", argv[0]);
        return 2;
    }
    for (int a = 0; a < 5; a++)
        if (strcmp(argv[1], names[a]) == 0) {
            algorithm = (clattn_algorithm)a;
            printf("algorithm: %s\n", names[a]);
            return test_main(make_suite, 1);
        }
    fprintf(stderr, "unknown algorithm '%s'\n", argv[1]);
    return 2;
}
