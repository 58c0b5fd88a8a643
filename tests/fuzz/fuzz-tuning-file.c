/* Fuzz target: the per-device tuning file (lib/tuning.h). The input is the file's bytes, read
 * by tuning_parse as tuning_load reads the file, then looked up by tuning_lookup, as plans look
 * it up, for a few problems on a few simulated devices, in both kernel shapes. Nothing may
 * crash, and tiles are accepted only when they are among the candidates clattn_tune tries for
 * that device and problem, and then parse into tiles that fit the problem and the device. */
#include "fuzz_input.h"
#include "kernel_build.h"
#include "tile_select.h"
#include "tuning.h"

/* A CPU as PoCL presents one, and two GPUs, one with little local memory. */
static device_limits device(int which)
{
    device_limits l;
    memset(&l, 0, sizeof l);
    snprintf(l.name, sizeof l.name, "simulated device %d", which);
    l.compute_units = which == 0 ? 2 : 32;
    l.max_work_group_size = which == 0 ? 4096 : which == 1 ? 1024 : 256;
    l.max_work_item_size0 = l.max_work_group_size;
    l.local_mem_is_dedicated = which != 0;
    l.local_mem_size = which == 0 ? 4 << 20 : which == 1 ? 64 << 10 : 16 << 10;
    l.vector_width = which == 0 ? 16 : 1;
    l.global_mem_size = (cl_ulong)8 << 30;
    l.max_alloc_size = (cl_ulong)2 << 30;
    l.has_fma = l.available = 1;
    return l;
}

/* The classes seeded in regressions/tuning-file/: head_dim 32, 64 or 128, f32 or f16,
 * windowed or not, in a short sequence or a long one (GQA: 8 query heads to a K/V head). */
#define PROBLEMS 24

static clattn_problem *problem(int which)
{
    static const int dims[] = {32, 64, 128};
    const int windowed = which & 1, f16 = which & 2, long_rows = which & 4;
    clattn_problem *p;
    FUZZ_ASSERT(clattn_problem_create(&p) == CLATTN_SUCCESS);
    clattn_problem_set(p, CLATTN_PARAM_HEAD_DIM, dims[which / 8]);
    clattn_problem_set(p, CLATTN_PARAM_DTYPE, f16 ? CLATTN_DTYPE_F16 : CLATTN_DTYPE_F32);
    clattn_problem_set(p, CLATTN_PARAM_HEADS, 8);
    clattn_problem_set(p, CLATTN_PARAM_KV_HEADS, long_rows ? 1 : 8);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, long_rows ? 2048 : 100);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_KV, long_rows ? 2048 : 100);
    clattn_problem_set(p, CLATTN_PARAM_CAUSAL, 1);
    clattn_problem_set(p, CLATTN_PARAM_WINDOW_LEFT, windowed ? 64 : -1);
    FUZZ_ASSERT(clattn_problem_check(p) == CLATTN_SUCCESS);
    return p;
}

static void check_accepted(const device_limits *l, const clattn_problem *p,
                           clattn_kernel_shape shape, int windowed, const char *tiles)
{
    char candidates[TUNING_MAX_CANDIDATES][TUNING_FIELD];
    const int n = tune_candidates(l, p, shape, windowed, candidates);
    int member = 0;
    for (int i = 0; i < n; i++)
        member |= strcmp(candidates[i], tiles) == 0;
    FUZZ_ASSERT(member);
    if (shape == CLATTN_SHAPE_REGISTER_BLOCKS) {
        register_tiles t = select_register_tiles(l, p, rows_per_kv_head(p), windowed);
        FUZZ_ASSERT(register_tiles_parse(tiles, &t));
        FUZZ_ASSERT((int64_t)t.rows * t.groups <= rows_per_kv_head(p));
        char again[TUNING_FIELD];
        register_tiles_format(&t, again, sizeof again);
        FUZZ_ASSERT(strcmp(again, tiles) == 0);
    } else {
        local_tiles t;
        FUZZ_ASSERT(local_tiles_parse(tiles, &t));
        FUZZ_ASSERT(local_tiles_complete(l, p, l->max_work_group_size, &t));
        char again[TUNING_FIELD];
        local_tiles_format(&t, again, sizeof again);
        FUZZ_ASSERT(strcmp(again, tiles) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* tuning_load reads at most TUNING_FILE_MAX bytes: larger files are refused unread */
    if (size > TUNING_FILE_MAX)
        return 0;
    struct tuning_table *table = tuning_parse((const char *)data, size);
    FUZZ_ASSERT(table);
    FUZZ_ASSERT(tuning_unread(table)[0] == '\0');
    static clattn_problem *problems[PROBLEMS]; /* made once: the input is the file alone */
    for (int d = 0; d < 3; d++) {
        const device_limits l = device(d);
        for (int which = 0; which < PROBLEMS; which++) {
            if (!problems[which])
                problems[which] = problem(which);
            const clattn_problem *p = problems[which];
            const int windowed = which & 1;
            for (int s = 0; s < 2; s++) {
                const clattn_kernel_shape shape =
                    s ? CLATTN_SHAPE_LOCAL_TILES : CLATTN_SHAPE_REGISTER_BLOCKS;
                char why[512];
                const char *tiles = tuning_lookup(table, &l, p, shape, windowed, why, sizeof why);
                if (tiles) {
                    FUZZ_ASSERT(why[0] == '\0');
                    check_accepted(&l, p, shape, windowed, tiles);
                }
            }
        }
    }
    tuning_free(table);
    return 0;
}
