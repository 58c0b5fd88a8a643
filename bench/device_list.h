/* attn-bench --list-devices. */
#ifndef ATTN_BENCH_DEVICE_LIST_H
#define ATTN_BENCH_DEVICE_LIST_H

#include <stdio.h>

/* One line per device of clattn's flat list. Returns an exit code: BENCH_EXIT_RUNTIME when no
 * device exists or a query failed (after listing the others). */
int device_list_print(FILE *out);

#endif
