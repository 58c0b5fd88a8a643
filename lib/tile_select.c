#include "tile_select.h"

#include <stdio.h>
#include <stdlib.h>

static int pow2_floor(int64_t v)
{
    int p = 1;
    while ((int64_t)p * 2 <= v && p < (1 << 30))
        p *= 2;
    return p;
}

static int pow2_ceil(int64_t v)
{
    int p = 1;
    while (p < v && p < (1 << 30))
        p *= 2;
    return p;
}

clattn_kernel_shape select_shape(const device_limits *l)
{
    /* GPUs run work-items in lockstep and share tiles through local memory, even those whose
     * local memory is carved from global memory (Arm Mali). Elsewhere dedicated local
     * memory is worth sharing tiles through; without it, a device that asks for explicit
     * vectors (preferred width > 1: PoCL's CPU device) gets register blocks, and one that
     * vectorises across work-items itself (width 1: llvmpipe) behaves like a GPU. */
    if ((l->type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR)) ||
        l->local_mem_is_dedicated || l->vector_width <= 1)
        return CLATTN_SHAPE_LOCAL_TILES;
    return CLATTN_SHAPE_REGISTER_BLOCKS;
}

/* Independent multiply-add chains per work-item. A core retires about two vector FMAs per
 * cycle with a latency of about four, so at least eight chains must be in flight; sixteen
 * leaves room for the loads between them and is what measuring PoCL on the build machine
 * found best (4 had half the throughput); `attn-bench --tune` (lib/tune.c) also tries 32. */
#define FMA_CHAINS 16
/* Register rows per block: each costs a broadcast load per multiply-add column, so beyond
 * eight the loads, not the FMAs, set the pace. */
#define MAX_ROWS 8
/* Bytes of a K or V block that should stay in the L1 data cache while the work-item's rows
 * use it: half of 32 KiB, the smallest L1d of the CPUs that OpenCL implementations run on
 * (x86 since 2008, Arm Cortex-A and Neoverse). A device query for L1 does not exist;
 * attn-bench --tune can do better. */
#define L1_SHARE (16 * 1024)
/* Query rows per work-item to aim for (see the groups rule below). */
#define ROWS_PER_ITEM 128
/* Bytes of q and output rows one work-item may hold (its private memory, on the stack of a
 * CPU device's worker thread). */
#define PRIVATE_BUDGET (128 * 1024)
/* Work-items per compute unit that a launch should have at least, so that uneven work-items
 * (causal rows) balance out. */
#define ITEMS_PER_UNIT 4

register_tiles select_register_tiles(const device_limits *l, const clattn_problem *p,
                                     int64_t nq, int windowed)
{
    register_tiles t;
    const int64_t d = problem_get(p, CLATTN_PARAM_HEAD_DIM), dv = problem_head_dim_v(p);
    t.vw = l->vector_width > 16 ? 16 : pow2_floor(l->vector_width);
    const int64_t dv_pad = (dv + t.vw - 1) / t.vw * t.vw;
    /* A block of keys as wide as L1_SHARE allows, up to four vectors. */
    int64_t block_vecs = L1_SHARE / (4 * d * t.vw);
    t.kv_vecs = block_vecs >= 4 ? 4 : block_vecs >= 2 ? 2 : 1;
    const int64_t wl = problem_get(p, CLATTN_PARAM_WINDOW_LEFT);
    if (windowed && wl >= 0) {
        /* A block of rows sees its window plus its own height of keys, cut into whole blocks:
         * about one block and the rows' height of every window is masked work. Blocks of at
         * most a quarter of the window keep that near 15 % (or the smallest block, for
         * windows narrower than that). */
        const int64_t wr = problem_get(p, CLATTN_PARAM_WINDOW_RIGHT);
        const int64_t span = wl + (wr < 0 ? 0 : wr) + 1;
        while (t.kv_vecs > 1 && (int64_t)t.kv_vecs * t.vw > span / 4)
            t.kv_vecs /= 2;
    }
    /* Rows complete the FMA chains; a short sequence (decode: seq_q of 1 to 4) is not padded
     * with wasted rows. */
    t.rows = FMA_CHAINS / t.kv_vecs > MAX_ROWS ? MAX_ROWS : FMA_CHAINS / t.kv_vecs;
    if (t.rows > nq)
        t.rows = pow2_ceil(nq);
    /* The output accumulators live during the P*V pass: rows * dv_chunk of them, within the
     * same budget, so they and the loads fit a 32-register vector file. */
    t.dv_chunk = FMA_CHAINS / t.rows;
    int dv_vecs = (int)(dv_pad / t.vw);
    if (t.dv_chunk > dv_vecs)
        t.dv_chunk = dv_vecs;
    /* Groups of rows share each K and V block while it is in L1. A work-item streams its kv
     * head's K and V from memory once, doing rows / 2 FLOP per byte it brings in: a CPU core
     * retires around 100 GFLOP/s but draws 10 to 20 GB/s, so ROWS_PER_ITEM rows keep it
     * computing. Fewer when the sequence has fewer rows, or when the work-items would be
     * too few to spread over the compute units. */
    const int64_t kv_entries = problem_get(p, CLATTN_PARAM_BATCH) * problem_kv_heads(p);
    int64_t rows_max = PRIVATE_BUDGET / ((d + dv_pad) * 4); /* a row's q and output */
    rows_max = rows_max < ROWS_PER_ITEM ? rows_max : ROWS_PER_ITEM;
    t.groups = rows_max / t.rows < 1 ? 1 : pow2_floor(rows_max / t.rows);
    while (t.groups > 1 && ((int64_t)t.rows * t.groups / 2 >= nq ||
                            kv_entries * ((nq + t.rows * t.groups - 1) / (t.rows * t.groups)) <
                                (int64_t)l->compute_units * ITEMS_PER_UNIT))
        t.groups /= 2;
    return t;
}

/* a * b * c * 4, or UINT64_MAX when that does not fit */
static uint64_t bytes4(uint64_t a, uint64_t b, uint64_t c)
{
    if (a && (b > UINT64_MAX / 4 / a || (b && c > UINT64_MAX / 4 / a / b)))
        return UINT64_MAX;
    return a * b * c * 4;
}

packed_layout select_packed_layout(const register_tiles *t, const clattn_problem *p)
{
    packed_layout k;
    int64_t nk = problem_get(p, CLATTN_PARAM_SEQ_KV), d = problem_get(p, CLATTN_PARAM_HEAD_DIM);
    int64_t bc = (int64_t)t->kv_vecs * t->vw;
    k.nk_pad = k.entry_keys = (nk + bc - 1) / bc * bc;
    k.dv_pad = (int)((problem_head_dim_v(p) + t->vw - 1) / t->vw * t->vw);
    uint64_t heads = (uint64_t)problem_get(p, CLATTN_PARAM_BATCH) * (uint64_t)problem_kv_heads(p);
    if (problem_varlen(p)) { /* entries back to back per kv head: cl/common.cl */
        const int64_t total = problem_get(p, CLATTN_PARAM_TOTAL_KV);
        k.nk_pad = (total / bc + problem_get(p, CLATTN_PARAM_BATCH)) * bc;
        heads = (uint64_t)problem_kv_heads(p);
    }
    k.kt_bytes = bytes4(heads, (uint64_t)d, (uint64_t)k.nk_pad);
    k.vp_bytes = bytes4(heads, (uint64_t)k.nk_pad, (uint64_t)k.dv_pad);
    return k;
}

void tuning_class(const clattn_problem *p, clattn_kernel_shape shape, int windowed, int vw,
                  char *buf, size_t size)
{
    /* dv joins the class only when it differs, so that existing tuning files still apply */
    char dv[24] = "";
    if (problem_head_dim_v(p) != problem_get(p, CLATTN_PARAM_HEAD_DIM))
        snprintf(dv, sizeof dv, " dv=%d", (int)problem_head_dim_v(p));
    snprintf(buf, size, "%s d=%d%s dtype=%d windowed=%d vw=%d",
             shape == CLATTN_SHAPE_REGISTER_BLOCKS ? "registers" : "local",
             (int)problem_get(p, CLATTN_PARAM_HEAD_DIM), dv, (int)problem_get(p, CLATTN_PARAM_DTYPE),
             windowed, vw);
}

void register_tiles_format(const register_tiles *t, char *buf, size_t size)
{
    snprintf(buf, size, "rows=%d groups=%d kv_vecs=%d dv_chunk=%d", t->rows, t->groups,
             t->kv_vecs, t->dv_chunk);
}

/* A first bound on the numbers a tuning file may hold; a plan takes only tiles that are among
 * clattn_tune's candidates (tuning_lookup in lib/tuning.c), which keeps a bad file harmless. */
static int tile_ok(int v)
{
    return v >= 1 && v <= 1024;
}

int register_tiles_parse(const char *text, register_tiles *t)
{
    register_tiles r = *t;
    char tail;
    if (sscanf(text, "rows=%d groups=%d kv_vecs=%d dv_chunk=%d%c", &r.rows, &r.groups,
               &r.kv_vecs, &r.dv_chunk, &tail) != 4 ||
        !tile_ok(r.rows) || !tile_ok(r.groups) || !tile_ok(r.kv_vecs) || !tile_ok(r.dv_chunk))
        return 0;
    *t = r;
    return 1;
}

void local_tiles_format(const local_tiles *t, char *buf, size_t size)
{
    snprintf(buf, size, "br=%d bc=%d tm=%d tn=%d", t->br, t->bc, t->tm, t->tn);
}

int local_tiles_parse(const char *text, local_tiles *t)
{
    local_tiles r = *t;
    char tail;
    if (sscanf(text, "br=%d bc=%d tm=%d tn=%d%c", &r.br, &r.bc, &r.tm, &r.tn, &tail) != 4 ||
        !tile_ok(r.br) || !tile_ok(r.bc) || !tile_ok(r.tm) || !tile_ok(r.tn))
        return 0;
    *t = r;
    return 1;
}
