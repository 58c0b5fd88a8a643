#include "session.h"

#include <stdio.h>

#include "diag.h"
#include "report.h"

int session_add_row(struct bench_session *s, const struct bench_row *row)
{
    if (rows_append(&s->rows, row))
        return fail_host_memory();
    table_print_row(stdout, s, s->rows.count - 1);
    fflush(stdout);
    return 0;
}

int session_any_check_failed(const struct bench_session *s)
{
    if (s->other_check_failed)
        return 1;
    for (size_t i = 0; i < s->rows.count; i++)
        if (s->rows.items[i].checked && !s->rows.items[i].passed)
            return 1;
    return 0;
}
