/* The one place that says which code runs a plan. A plan is set up by an algorithm (chosen
 * in lib/plan.c) in a kernel shape (the device's, from select_shape): each row below is one
 * such pair and the function that sets it up. Keeping them in one table keeps the algorithms
 * apart: no algorithm calls another's setup, and where one must run as another (the fused
 * algorithms on a device that cannot finish long key loops run as split-KV decode), that is
 * a row here, not a call hidden in an algorithm. A new algorithm or kernel shape is a row
 * here and a file of its own.
 *
 * The rows of an algorithm are in order of preference. The dispatcher starts at the row of
 * the device's shape (or the algorithm's first row, for one without shapes) and takes the
 * first row from there whose `takes` accepts the plan, describing each refusal; so rows may
 * fall back to later rows, never to earlier ones. */
#include "dispatch.h"

#include <stdio.h>

#include "message.h"
#include "tile_select.h"

typedef struct dispatch_row {
    clattn_algorithm algorithm;
    clattn_kernel_shape shape;
    clattn_status (*check)(const clattn_plan *plan); /* NULL: none */
    int (*takes)(const clattn_plan *plan, char *why, size_t size); /* NULL: every plan */
    clattn_status (*setup)(clattn_plan *plan);
    /* How the plan runs on this row when an earlier one refused it: for the description. */
    const char *instead;
} dispatch_row;

static int key_runs_complete(const clattn_plan *plan, char *why, size_t size);

#define LOCAL_INSTEAD "using local tiles, which read K and V in place"
#define SPLIT_INSTEAD "keys split into runs per work-group, merged by LSE (the decode algorithm)"

static const dispatch_row rows[] = {
    {CLATTN_ALGO_NAIVE, CLATTN_SHAPE_NONE, NULL, NULL, naive_setup, NULL},

    {CLATTN_ALGO_TILED, CLATTN_SHAPE_REGISTER_BLOCKS, fused_check, fused_registers_take,
     fused_registers_setup, NULL},
    {CLATTN_ALGO_TILED, CLATTN_SHAPE_LOCAL_TILES, fused_check, key_runs_complete,
     fused_local_setup, LOCAL_INSTEAD},
    {CLATTN_ALGO_TILED, CLATTN_SHAPE_LOCAL_TILES, fused_check, NULL, decode_setup,
     SPLIT_INSTEAD},

    {CLATTN_ALGO_WINDOWED, CLATTN_SHAPE_REGISTER_BLOCKS, fused_check, fused_registers_take,
     fused_registers_setup, NULL},
    {CLATTN_ALGO_WINDOWED, CLATTN_SHAPE_LOCAL_TILES, fused_check, key_runs_complete,
     fused_local_setup, LOCAL_INSTEAD},
    {CLATTN_ALGO_WINDOWED, CLATTN_SHAPE_LOCAL_TILES, fused_check, NULL, decode_setup,
     SPLIT_INSTEAD},

    /* one file for both shapes: decode_setup builds the kernel of plan->shape */
    {CLATTN_ALGO_DECODE, CLATTN_SHAPE_REGISTER_BLOCKS, NULL, NULL, decode_setup, NULL},
    {CLATTN_ALGO_DECODE, CLATTN_SHAPE_LOCAL_TILES, NULL, NULL, decode_setup, NULL},
};

#define ROW_COUNT (sizeof rows / sizeof rows[0])

/* Whether a work-group of the local-tiles kernel can visit every key: not on devices whose
 * loops stop early (lib/device_quirks.h). */
static int key_runs_complete(const clattn_plan *plan, char *why, size_t size)
{
    const int64_t max_keys = local_tiles_max_keys(&plan->ctx->limits, &plan->problem);
    const int64_t keys = problem_get(&plan->problem, CLATTN_PARAM_SEQ_KV);
    if (!max_keys || keys <= max_keys)
        return 1;
    snprintf(why, size,
             "%lld keys are more than a work-group of the local-tiles kernel completes on this "
             "device (%lld: its loops end early, see lib/device_quirks.h)",
             (long long)keys, (long long)max_keys);
    return 0;
}

/* The algorithm's row for the device's shape, else its first row. */
static size_t first_row(const clattn_plan *plan)
{
    const clattn_kernel_shape shape = select_shape(&plan->ctx->limits);
    size_t first = ROW_COUNT;
    for (size_t r = 0; r < ROW_COUNT; r++) {
        if (rows[r].algorithm != plan->algorithm)
            continue;
        if (rows[r].shape == shape)
            return r;
        if (first == ROW_COUNT)
            first = r;
    }
    return first;
}

clattn_status dispatch_setup(clattn_plan *plan)
{
    for (size_t r = first_row(plan); r < ROW_COUNT && rows[r].algorithm == plan->algorithm;
         r++) {
        clattn_status st = rows[r].check ? rows[r].check(plan) : CLATTN_SUCCESS;
        if (st)
            return st;
        char why[256];
        const int last = r + 1 == ROW_COUNT || rows[r + 1].algorithm != plan->algorithm;
        if (rows[r].takes && !last && !rows[r].takes(plan, why, sizeof why)) {
            plan_describe(plan, "%s: %s", why, rows[r + 1].instead);
            continue;
        }
        plan->shape = rows[r].shape;
        return rows[r].setup(plan);
    }
    return fail(plan->ctx, CLATTN_ERROR_INVALID_ARGUMENT, "no setup for algorithm %d",
                (int)plan->algorithm);
}
