/* Which code sets a plan up, once clattn_plan_create has chosen the algorithm: the table in
 * lib/dispatch.c, from (algorithm, kernel shape) to a setup function. */
#ifndef CLATTN_DISPATCH_H
#define CLATTN_DISPATCH_H

#include "plan.h"

/* Sets plan->shape and sets the plan up by the table's first row that takes it. */
clattn_status dispatch_setup(clattn_plan *plan);

/* What the table's rows name, each defined in its algorithm's file.
 *
 * A setup function runs the plan in plan->shape, which the dispatcher has set: it fills
 * plan->impl, ops, stages, tile figures and description, and on failure leaves what it
 * allocated where clattn_plan_destroy frees it.
 *
 * A `check` function refuses, with an error, problems its algorithm cannot run in any shape.
 * A `takes` function says, without side effects, whether its row can run the plan; when not,
 * it writes why into `why` and the next row of the algorithm is tried. */
clattn_status naive_setup(clattn_plan *plan);                            /* lib/naive.c */
clattn_status fused_check(const clattn_plan *plan);                      /* lib/fused.c */
int fused_registers_take(const clattn_plan *plan, char *why, size_t size);
clattn_status fused_registers_setup(clattn_plan *plan);
clattn_status fused_local_setup(clattn_plan *plan);
clattn_status decode_setup(clattn_plan *plan);                           /* lib/decode.c */

#endif
