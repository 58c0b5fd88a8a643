/* Tile selection for GPUs without a GPU: the local-tiles search (lib/local_tiles.c) against
 * what real devices report (tests/device_table.c). For every device, head_dim and dtype the
 * chosen work-group must be a whole number of SIMD widths within the device's limits, its
 * tiles must fit local memory, and a work-group must hold enough query rows that each K and V
 * tile is reused: at least 32 rows (16 at head_dim 256) where there are 48 KiB of local
 * memory, at least 16 (8 at 256) where there are 32 KiB. Also that device workarounds follow
 * the implementation's names. Linked with the library's internal archive; needs no OpenCL
 * device. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "device_table.h"
#include "tile_select.h"

static device_limits limits_of(const device_entry *e)
{
    device_limits l;
    memset(&l, 0, sizeof l);
    snprintf(l.name, sizeof l.name, "%s", e->name);
    l.type = CL_DEVICE_TYPE_GPU;
    l.compute_units = e->compute_units;
    l.max_work_group_size = e->max_work_group_size;
    l.max_work_item_size0 = e->max_work_item_size0;
    l.local_mem_size = e->local_mem_size;
    l.local_mem_is_dedicated = e->local_mem_dedicated;
    l.global_mem_size = e->global_mem_size;
    l.max_alloc_size = e->max_alloc_size;
    l.vector_width = e->vector_width;
    l.simd_width = e->simd_width;
    l.available = 1;
    return l;
}

/* A long prefill: the case the tile rules are for. */
static clattn_problem prefill(int d, clattn_dtype dtype, int causal)
{
    clattn_problem *p;
    clattn_problem_create(&p);
    clattn_problem_set(p, CLATTN_PARAM_HEADS, 32);
    clattn_problem_set(p, CLATTN_PARAM_KV_HEADS, 8);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, 4096);
    clattn_problem_set(p, CLATTN_PARAM_SEQ_KV, 4096);
    clattn_problem_set(p, CLATTN_PARAM_HEAD_DIM, d);
    clattn_problem_set(p, CLATTN_PARAM_DTYPE, dtype);
    clattn_problem_set(p, CLATTN_PARAM_CAUSAL, causal);
    clattn_problem copy = *p;
    clattn_problem_destroy(p);
    return copy;
}

static int64_t rows_of(const clattn_problem *p)
{
    return problem_get(p, CLATTN_PARAM_SEQ_Q) *
           (problem_get(p, CLATTN_PARAM_HEADS) / problem_kv_heads(p));
}

/* The fewest rows per work-group the reuse rule allows, 0 when the device is smaller than
 * the rule covers. */
static int min_rows(const device_limits *l, int d)
{
    if (l->local_mem_size >= 48 * 1024)
        return d <= 128 ? 32 : 16;
    if (l->local_mem_size >= 32 * 1024)
        return d <= 128 ? 16 : 8;
    return 0;
}

static const int head_dims[] = {64, 80, 128, 256};

START_TEST(devices_get_whole_fitting_reusing_tiles)
{
    const device_entry *e = &device_table[_i];
    const device_limits l = limits_of(e);
    ck_assert_int_eq(select_shape(&l), CLATTN_SHAPE_LOCAL_TILES);
    for (size_t di = 0; di < sizeof head_dims / sizeof head_dims[0]; di++)
        for (int dtype = CLATTN_DTYPE_F32; dtype <= CLATTN_DTYPE_BF16; dtype++)
            for (int causal = 0; causal <= 1; causal++) {
                const int d = head_dims[di];
                const clattn_problem p = prefill(d, (clattn_dtype)dtype, causal);
                local_tiles t, other;
                ck_assert_msg(select_local_tiles(&l, &p, rows_of(&p), l.max_work_group_size,
                                                 &t, &other),
                              "%s: no tiles at d %d", e->name, d);
                char line[512];
                local_tiles_explain(&l, &p, rows_of(&p), &t, line, sizeof line);
                if (dtype == CLATTN_DTYPE_F32 && !causal)
                    printf("%-28s d %3d f32: %s\n", e->name, d, line);
                const size_t group = (size_t)local_tiles_group(&t);
                ck_assert_msg(group % e->simd_width == 0, "%s d %d: %zu work-items, SIMD %u",
                              e->name, d, group, e->simd_width);
                ck_assert_uint_le(group, e->max_work_group_size);
                ck_assert_uint_le(group, e->max_work_item_size0);
                ck_assert_uint_le(t.local_bytes, e->local_mem_size);
                ck_assert_msg(t.br >= min_rows(&l, d), "%s d %d dtype %d: %d rows per tile",
                              e->name, d, dtype, t.br);
                /* the reasons the plan gives are the model's */
                const local_tiles_model m = local_tiles_predict(&l, &p, rows_of(&p), &t);
                ck_assert(m.score > 0 && m.score <= 1);
                ck_assert(other.br == 0 || other.br != t.br);
                ck_assert(other.br == 0 ||
                          local_tiles_predict(&l, &p, rows_of(&p), &other).score <= m.score);
            }
}
END_TEST

/* Where 48 KiB or more hold the tiles, a head_dim of 64 or 128 gets blocks that feed at least
 * four multiply-adds per __local load (the counts in bench/results/kernel-counts-* measure
 * the real kernel). */
START_TEST(large_local_memory_feeds_four_fma_per_load)
{
    const device_entry *e = &device_table[_i];
    const device_limits l = limits_of(e);
    if (l.local_mem_size < 48 * 1024)
        return;
    for (int d = 64; d <= 128; d *= 2) {
        const clattn_problem p = prefill(d, CLATTN_DTYPE_F32, 0);
        local_tiles t;
        ck_assert(select_local_tiles(&l, &p, rows_of(&p), l.max_work_group_size, &t, NULL));
        const local_tiles_model m = local_tiles_predict(&l, &p, rows_of(&p), &t);
        ck_assert_msg(m.fma_per_local_load >= 4, "%s d %d: %.2f", e->name, d,
                      m.fma_per_local_load);
    }
}
END_TEST

/* The tuner's candidates come in score order and start with the search's choice. */
START_TEST(candidates_are_ranked)
{
    const device_limits l = limits_of(&device_table[_i]);
    const clattn_problem p = prefill(128, CLATTN_DTYPE_F16, 1);
    local_tiles c[16], best;
    const int n = local_tiles_candidates(&l, &p, rows_of(&p), l.max_work_group_size, c, 16);
    ck_assert_int_gt(n, 1);
    ck_assert(select_local_tiles(&l, &p, rows_of(&p), l.max_work_group_size, &best, NULL));
    ck_assert_int_eq(memcmp(&c[0], &best, sizeof best), 0);
    for (int i = 1; i < n; i++)
        ck_assert(local_tiles_predict(&l, &p, rows_of(&p), &c[i]).score <=
                  local_tiles_predict(&l, &p, rows_of(&p), &c[i - 1]).score);
}
END_TEST

/* Decoding: a kv head's few rows still get tiles, of no more rows than the problem has
 * beyond rounding to the row groups. */
START_TEST(decode_rows_get_small_tiles)
{
    const device_limits l = limits_of(&device_table[_i]);
    clattn_problem p = prefill(128, CLATTN_DTYPE_F32, 0);
    p.value[CLATTN_PARAM_SEQ_Q] = 1;
    p.value[CLATTN_PARAM_SEQ_KV] = 32768;
    local_tiles t;
    ck_assert(select_local_tiles(&l, &p, rows_of(&p), l.max_work_group_size, &t, NULL));
    ck_assert_int_le(t.br, 8 * t.tm);
}
END_TEST

/* A small embedded device still fits the largest head_dim. */
START_TEST(small_device_fits_head_dim_256)
{
    device_limits l = limits_of(&device_table[0]);
    l.local_mem_size = 16 * 1024;
    l.max_work_group_size = 256;
    l.simd_width = 16;
    const clattn_problem p = prefill(256, CLATTN_DTYPE_F32, 1);
    local_tiles t;
    ck_assert(select_local_tiles(&l, &p, rows_of(&p), l.max_work_group_size, &t, NULL));
    ck_assert_uint_le(t.local_bytes, l.local_mem_size);
    ck_assert_int_eq(local_tiles_group(&t) % 16, 0);
}
END_TEST

/* Workarounds follow the implementation's names, not its limits: no GPU of the table has
 * llvmpipe's loop cap, though some share its class of limits (an Arm Mali's local memory is
 * CL_GLOBAL), and llvmpipe has it whatever its Mesa version. rusticl's misreports end with
 * Mesa 22. */
START_TEST(quirks_follow_names)
{
    for (size_t i = 0; i < device_table_count; i++) {
        const device_quirks q = device_quirks_of("rusticl", device_table[i].name, "24.2.0");
        ck_assert_msg(q.local_tiles_max_keys == 0 && q.merge_max_splits == 0, "%s",
                      device_table[i].name);
    }
    device_quirks q = device_quirks_of("rusticl", "llvmpipe (LLVM 15.0.6, 256 bits)", "22.3.6");
    ck_assert_int_eq(q.local_tiles_max_keys, 2048);
    ck_assert_int_eq(q.merge_max_splits, 8192);
    ck_assert_int_eq(q.kernel_local_reported_twice, 1);
    ck_assert_uint_eq(q.max_work_group_size, 32);
    q = device_quirks_of("rusticl", "llvmpipe (LLVM 17.0.6, 256 bits)", "24.2.0");
    ck_assert_int_eq(q.local_tiles_max_keys, 2048);
    ck_assert_int_eq(q.kernel_local_reported_twice, 0);
    ck_assert_uint_eq(q.max_work_group_size, 0);
    /* PoCL's CPU device, also CL_GLOBAL: nothing */
    q = device_quirks_of("Portable Computing Language", "cpu-skylake-avx512", "3.1");
    ck_assert(!q.local_tiles_max_keys && !q.merge_max_splits && !q.kernel_local_reported_twice &&
              !q.max_work_group_size);
    char line[512];
    device_quirks_describe(&q, line, sizeof line);
    ck_assert_str_eq(line, "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tiles");
    TCase *tc = tcase_create("device table");
    const int n = (int)device_table_count;
    tcase_add_loop_test(tc, devices_get_whole_fitting_reusing_tiles, 0, n);
    tcase_add_loop_test(tc, large_local_memory_feeds_four_fma_per_load, 0, n);
    tcase_add_loop_test(tc, candidates_are_ranked, 0, n);
    tcase_add_loop_test(tc, decode_rows_get_small_tiles, 0, n);
    tcase_add_test(tc, small_device_fits_head_dim_256);
    tcase_add_test(tc, quirks_follow_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
