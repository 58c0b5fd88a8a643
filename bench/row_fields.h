/* The fields of a row as the machine-readable reports name them, in one order, so that the
 * JSON and the CSV cannot drift apart. */
#ifndef ATTN_BENCH_ROW_FIELDS_H
#define ATTN_BENCH_ROW_FIELDS_H

#include "row.h"
#include "traffic.h"

enum field_kind { FIELD_TEXT, FIELD_INTEGER, FIELD_NUMBER, FIELD_BOOL, FIELD_NULL };

struct field {
    const char *name;
    enum field_kind kind;
    const char *text;
    long long integer; /* also the value of a FIELD_BOOL */
    double number;     /* may be non-finite: the writers print it as null / empty */
};

#define ROW_FIELDS_MAX 56

/* Fills `fields` with the row's fields and returns how many; the check fields are there only
 * when the row was checked, the decode fields only in the rows of decode mode. */
size_t row_fields(const struct bench_row *row, const struct bench_peak *peak,
                  struct field fields[ROW_FIELDS_MAX]);

#endif
