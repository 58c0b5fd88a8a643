/* Every algorithm against the CPU reference on the matrix of tests/cases.c.
 * Usage: check-algorithm naive|tiled|windowed|decode|auto (meson runs each). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"

static clattn_algorithm algorithm;
static const case_table *tables;

#define TABLE_TEST(index)                                                                      \
    START_TEST(table_##index)                                                                  \
    {                                                                                          \
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

static Suite *make_suite(void)
{
    const TTest *const table_tests[] = {table_0, table_1, table_2, table_3,
                                        table_4, table_5, table_6};
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
