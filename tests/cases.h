/* The correctness matrix every algorithm runs: odd lengths, head dims, dtypes, masks, GQA,
 * strided layouts and edge cases. Kept deliberate: every distinct (head_dim, dtype, tile
 * shape) is a kernel build of a second or more. */
#ifndef CLATTN_TEST_CASES_H
#define CLATTN_TEST_CASES_H

#include "harness.h"

typedef struct case_table {
    const char *name;
    const attn_case *cases;
    int count;
} case_table;

/* Fills the tables once; returns how many there are. */
int case_tables(const case_table **tables);

#endif
