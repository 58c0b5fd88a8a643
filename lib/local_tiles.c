/* The local-tiles kernel's shape (cl/tiled_local.cl) as a scored search: every candidate
 * (rows and keys per tile, a work-item's block, hence the work-group) that fits the device is
 * scored by a model of what a GPU pays for it, and the best wins. The model multiplies five
 * factors in (0, 1]:
 *   issue      useful multiply-adds over what a work-item issues per tile (multiply-adds,
 *              __local loads and stores, global loads, the softmax, barriers), or over the
 *              __local bytes it reads when those, not issue, are the limit;
 *   global     reuse of each K and V tile by the rows of the work-group: global bytes per
 *              useful multiply-add against what the memory delivers per multiply-add;
 *   occupancy  work-items resident per compute unit (by local memory, registers and the
 *              unit's thread limit) against the number that hides memory latency;
 *   edges      work on keys and rows that masks or ragged ends discard;
 *   spread     work-groups against the slots of the waves they occupy.
 * The constants below are properties of today's GPUs, not of one card: each says where it
 * comes from. The figures are only compared with each other, so what matters is that they
 * rank candidates the way a GPU would; bench/results/kernel-counts-* checks the issue and
 * load figures against oclgrind's counts of the real kernel. */
#include <stdio.h>
#include <stdlib.h>

#include "tile_select.h"

/* 32-bit registers a work-item may use: NVIDIA and AMD GPUs give up to 255 (the occupancy
 * factor charges for what that costs in resident work-items). Devices with fewer report a
 * smaller CL_KERNEL_WORK_GROUP_SIZE for the compiled kernel, and the plan shrinks then. */
#define REGISTER_BUDGET 255
/* Registers of a compute unit: an NVIDIA SM's file since Kepler; AMD's CUs and Intel's Xe
 * cores have at least as many. */
#define REGISTER_FILE 65536
/* Most work-items resident on a compute unit (NVIDIA: 2048 per SM; AMD: 2560 per CU). */
#define ITEMS_PER_UNIT 2048
/* Resident work-items that keep a unit busy: with the next tile's loads in flight during the
 * current tile's products, four 32-wide warps, as FlashAttention-2 runs its forward kernel
 * with four warps per block. */
#define LATENCY_ITEMS 128
/* Global bytes per multiply-add a GPU sustains: HBM parts deliver 0.07 to 0.1 (H100: 3.35
 * TB/s for 33.5 T FMA/s); the other work-groups' reads of the same tiles hit L2. */
#define GLOBAL_BALANCE 0.1
/* __local bytes per multiply-add: 128 bytes and 128 FP32 lanes per clock on an NVIDIA SM
 * and on AMD's CDNA and RDNA compute units. */
#define LOCAL_BALANCE 1.0
/* Issue slots of an exp2 (a special-function unit at a quarter to an eighth of FMA rate)
 * and of a barrier. */
#define EXP_COST 4
#define BARRIER_COST 8
/* Instructions to address and load one float4 chunk of a tile from global memory. */
#define CHUNK_COST 10

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

int local_tiles_group(const local_tiles *t)
{
    return t->br / t->tm * (t->bc / t->tn);
}

/* The figures cl/tiled_local.cl derives from its defines, restated: d for Q and K, dv for V
 * and the output. chunks_per_item is the mean of K's and V's shares (equal when d = dv). */
typedef struct derived {
    int64_t d, d4, dv, dv4, kg, wg, td4, chunks_per_item, esize;
} derived;

static derived derive(const clattn_problem *p, const local_tiles *t)
{
    derived x;
    x.d = problem_get(p, CLATTN_PARAM_HEAD_DIM);
    x.d4 = ceil_div(x.d, 4);
    x.dv = problem_head_dim_v(p);
    x.dv4 = ceil_div(x.dv, 4);
    x.kg = t->bc / t->tn;
    x.wg = local_tiles_group(t);
    x.td4 = ceil_div(x.dv4, x.kg);
    x.chunks_per_item = (ceil_div((int64_t)t->bc * x.d4, x.wg) +
                         ceil_div((int64_t)t->bc * x.dv4, x.wg) + 1) / 2;
    /* K and V tiles keep Q's storage type in __local, or f32 for a cache of another type */
    const clattn_dtype dtype = (clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE);
    x.esize = problem_kv_dtype(p) == dtype ? (int64_t)clattn_dtype_size(dtype) : 4;
    return x;
}

/* __local bytes of the kernel: Q (f32), K and V (storage type), P and the row partials. */
static cl_ulong local_bytes(const local_tiles *t, const derived *x)
{
    const cl_ulong row = 4 * (cl_ulong)(x->d4 | 1), v_row = 4 * (cl_ulong)(x->dv4 | 1);
    const cl_ulong p_row = 4 * (cl_ulong)((t->bc / 4) | 1);
    return (cl_ulong)t->br * row * 4 + (cl_ulong)t->bc * (row + v_row) * (cl_ulong)x->esize +
           (cl_ulong)t->br * p_row * 4 + (cl_ulong)t->br * (cl_ulong)x->kg * 4;
}


/* Live registers of a work-item: O's block, the scores' four partial sums, one Q chunk and
 * the K chunks against it, the prefetched chunks of the next tile, the row statistics, and a
 * fixed share for indices and pointers. */
static int registers(const local_tiles *t, const derived *x)
{
    const int64_t chunk_regs = x->esize == 4 ? 4 : 2;
    return (int)(4 * t->tm * x->td4 + 4 * t->tm * t->tn + 4 * (1 + t->tn) +
                 x->chunks_per_item * chunk_regs + 6 * t->tm + 20);
}

int local_tiles_complete(const device_limits *l, const clattn_problem *p, size_t max_group,
                         local_tiles *t)
{
    if (t->br < 1 || t->bc < 4 || t->tm < 1 || t->tn < 1 || t->br % t->tm || t->bc % t->tn ||
        t->bc % 4 || t->tm > 8 || t->tn > 8 || t->br > 1024 || t->bc > 256)
        return 0;
    const derived x = derive(p, t);
    t->local_bytes = local_bytes(t, &x);
    const size_t wg = (size_t)x.wg;
    const size_t simd = l->simd_width;
    /* more key groups than float4 chunks of an output row would leave work-items without
     * columns */
    if (x.kg > (x.dv4 > 1 ? x.dv4 : 1) && x.kg > 1)
        return 0;
    if (simd > 1 && max_group >= simd && l->max_work_group_size >= simd && wg % simd)
        return 0;
    return t->local_bytes <= l->local_mem_size && wg <= max_group &&
           wg <= l->max_work_group_size && wg <= l->max_work_item_size0 &&
           registers(t, &x) <= REGISTER_BUDGET;
}

local_tiles_model local_tiles_predict(const device_limits *l, const clattn_problem *p,
                                      int64_t rows, const local_tiles *t)
{
    const derived x = derive(p, t);
    local_tiles_model m;
    const double tm = t->tm, tn = t->tn, bc = t->bc, d4 = (double)x.d4, td4 = (double)x.td4;
    const double kg = (double)x.kg, wg = (double)x.wg;

    /* per work-item and tile of keys, as cl/tiled_local.cl runs it */
    const double fmas = 4 * tm * tn * d4 + 4 * tm * td4 * bc + 4 * tm * td4; /* td4: of dv */
    const double local_loads = (tm + tn) * d4 + bc / 4 * (tm + 4 * td4) + tm * kg / 2;
    const double local_stores = 2 * (double)x.chunks_per_item + tm * tn + tm;
    const double global = 2 * (double)x.chunks_per_item * CHUNK_COST;
    const double softmax = tm * tn * (EXP_COST + 4) + tm * (kg + EXP_COST + 6);
    const double issue = fmas + local_loads + local_stores + global + softmax +
                         3 * BARRIER_COST + 20;
    /* K and V are read by each key group from its own rows; a row group's Q and P reads are
     * one broadcast for up to eight key groups */
    const double broadcast = kg < 8 ? kg : 8;
    const double local_bytes_read =
        16 * (tn * d4 + td4 * bc) + 16 * (tm * d4 + tm * bc / 4) / broadcast;
    const double useful = t->br * bc * (double)(x.d + x.dv) / wg;
    const double limit = issue > local_bytes_read / LOCAL_BALANCE ? issue
                                                                  : local_bytes_read / LOCAL_BALANCE;
    m.issue = useful / limit;
    if (m.issue > 1)
        m.issue = 1;
    m.fma_per_local_load = useful / local_loads;
    m.local_bytes_per_fma = local_bytes_read / useful;

    /* Only the rows the problem has reuse a tile: a block padded past them (decoding's few
     * rows) reads K and V as often as one of its real rows' size. */
    const double row_use = (double)rows / (double)(ceil_div(rows, t->br) * t->br);
    m.global_bytes_per_fma = (double)x.esize / (t->br * row_use);
    m.global = GLOBAL_BALANCE / m.global_bytes_per_fma;
    if (m.global > 1)
        m.global = 1;

    m.registers = registers(t, &x);
    int64_t groups = (int64_t)(l->local_mem_size / (t->local_bytes ? t->local_bytes : 1));
    const int64_t by_registers = REGISTER_FILE / ((int64_t)m.registers * x.wg);
    const int64_t by_items = ITEMS_PER_UNIT / x.wg;
    if (groups > by_registers)
        groups = by_registers;
    if (groups > by_items)
        groups = by_items;
    m.groups_per_unit = groups < 1 ? 1 : (int)groups;
    m.occupancy = m.groups_per_unit * wg / LATENCY_ITEMS;
    if (m.occupancy > 1)
        m.occupancy = 1;

    /* Rows are position-major (common.cl), so a block of br rows spans br / group positions;
     * a masked side of a row block wastes about half of that spread plus half a tile. */
    const int64_t group = problem_get(p, CLATTN_PARAM_HEADS) / problem_kv_heads(p);
    const int64_t nq = problem_get(p, CLATTN_PARAM_SEQ_Q), nk = problem_get(p, CLATTN_PARAM_SEQ_KV);
    const double positions = (double)ceil_div(t->br, group);
    uint64_t pairs = 0;
    clattn_problem_visible_pairs(p, &pairs);
    const double per_row = (double)pairs / ((double)problem_get(p, CLATTN_PARAM_BATCH) *
                                            (double)problem_get(p, CLATTN_PARAM_HEADS) * (double)nq);
    const int right_bound = problem_get(p, CLATTN_PARAM_CAUSAL) ||
                            problem_get(p, CLATTN_PARAM_WINDOW_RIGHT) >= 0;
    const int left_bound = problem_get(p, CLATTN_PARAM_WINDOW_LEFT) >= 0;
    const double spread_waste = (positions - 1 + bc) / 2;
    const double extra = (left_bound ? spread_waste : 0) +
                         (right_bound ? spread_waste : (double)(ceil_div(nk, t->bc) * t->bc - nk));
    m.edges = per_row > 0 ? row_use * per_row / (per_row + extra) : row_use;

    const int64_t total = problem_get(p, CLATTN_PARAM_BATCH) * problem_kv_heads(p) *
                          ceil_div(rows, t->br);
    const int64_t slots = (int64_t)(l->compute_units ? l->compute_units : 1) * m.groups_per_unit;
    m.spread = (double)total / (double)(ceil_div(total, slots) * slots);

    m.score = m.issue * m.global * m.occupancy * m.edges * m.spread;
    return m;
}

/* Every candidate the search and the tuner consider, in no order; calls `visit` for each
 * that fits. */
static void enumerate(const device_limits *l, const clattn_problem *p, size_t max_group,
                      void (*visit)(const local_tiles *, void *), void *arg)
{
    for (int tm = 1; tm <= 8; tm *= 2)
        for (int tn = 1; tn <= 8; tn *= 2)
            for (int bc = 4; bc <= 128; bc *= 2)
                for (int rg = 1; rg <= 256; rg++) {
                    /* row groups: powers of two and three times them (96 work-items) */
                    const int odd = rg % 3 == 0 ? rg / 3 : rg;
                    if (odd & (odd - 1))
                        continue;
                    local_tiles t = {rg * tm, bc, tm, tn, 0};
                    if (local_tiles_complete(l, p, max_group, &t))
                        visit(&t, arg);
                }
}

/* The quirk's count holds up to head size 256. Larger heads spend more of the loop budget on
 * each key (longer rows, smaller tiles): at 576 / 512 in f16 llvmpipe's work-groups stopped
 * between 1536 and 1800 keys, so the count shrinks in proportion to the larger head size
 * (910 keys there, about the margin the quirk's own count keeps). */
int64_t local_tiles_max_keys(const device_limits *l, const clattn_problem *p)
{
    const int64_t cap = l->quirks.local_tiles_max_keys;
    const int64_t d = problem_get(p, CLATTN_PARAM_HEAD_DIM), dv = problem_head_dim_v(p);
    const int64_t widest = d > dv ? d : dv;
    return cap && widest > 256 ? cap * 256 / widest : cap;
}

static void keep_smallest(const local_tiles *t, void *arg)
{
    cl_ulong *least = arg;
    if (!*least || t->local_bytes < *least)
        *least = t->local_bytes;
}

cl_ulong local_tiles_min_bytes(const device_limits *l, const clattn_problem *p, size_t max_group)
{
    device_limits unbounded = *l;
    unbounded.local_mem_size = ~(cl_ulong)0;
    cl_ulong least = 0;
    enumerate(&unbounded, p, max_group, keep_smallest, &least);
    return least;
}

typedef struct ranking {
    const device_limits *limits;
    const clattn_problem *p;
    int64_t rows;
    local_tiles *out;
    double *scores;
    int count, max;
} ranking;

/* Keeps the `max` best in score order; ties go to the candidate seen first. */
static void rank(const local_tiles *t, void *arg)
{
    ranking *r = arg;
    const double score = local_tiles_predict(r->limits, r->p, r->rows, t).score;
    int at = r->count;
    while (at > 0 && r->scores[at - 1] < score)
        at--;
    if (at >= r->max)
        return;
    const int last = r->count < r->max ? r->count : r->max - 1;
    for (int i = last; i > at; i--) {
        r->out[i] = r->out[i - 1];
        r->scores[i] = r->scores[i - 1];
    }
    r->out[at] = *t;
    r->scores[at] = score;
    if (r->count < r->max)
        r->count++;
}

int local_tiles_candidates(const device_limits *l, const clattn_problem *p, int64_t rows,
                           size_t max_group, local_tiles *out, int max)
{
    if (max < 1)
        return 0;
    double *scores = malloc((size_t)max * sizeof *scores);
    if (!scores)
        return 0;
    ranking r = {l, p, rows, out, scores, 0, max};
    enumerate(l, p, max_group, rank, &r);
    free(scores);
    return r.count;
}

/* The best candidate, or with `exclude_br`, the best with another row count. */
typedef struct best {
    const device_limits *limits;
    const clattn_problem *p;
    int64_t rows;
    int exclude_br;
    local_tiles tiles;
    double score;
    int found;
} best;

static void keep_best(const local_tiles *t, void *arg)
{
    best *b = arg;
    if (t->br == b->exclude_br)
        return;
    const double score = local_tiles_predict(b->limits, b->p, b->rows, t).score;
    if (!b->found || score > b->score) {
        b->tiles = *t;
        b->score = score;
        b->found = 1;
    }
}

int select_local_tiles(const device_limits *l, const clattn_problem *p, int64_t rows,
                       size_t max_group, local_tiles *out, local_tiles *runner_up)
{
    best b = {l, p, rows, 0, {0, 0, 0, 0, 0}, 0, 0};
    enumerate(l, p, max_group, keep_best, &b);
    if (!b.found)
        return 0;
    *out = b.tiles;
    if (runner_up) {
        best other = {l, p, rows, out->br, {0, 0, 0, 0, 0}, 0, 0};
        enumerate(l, p, max_group, keep_best, &other);
        *runner_up = other.tiles; /* br 0 when no other row count fits */
    }
    return 1;
}

void local_tiles_explain(const device_limits *l, const clattn_problem *p, int64_t rows,
                         const local_tiles *t, char *buf, size_t size)
{
    const local_tiles_model m = local_tiles_predict(l, p, rows, t);
    snprintf(buf, size,
             "%d rows x %d keys, blocks of %d x %d, %d work-items: score %.3f = issue %.2f "
             "(%.1f FMA per __local load, %.2f __local B/FMA) x reuse %.2f (%.3f global B/FMA) "
             "x occupancy %.2f (%d work-groups per unit, %d registers) x edges %.2f x spread %.2f",
             t->br, t->bc, t->tm, t->tn, local_tiles_group(t), m.score, m.issue,
             m.fma_per_local_load, m.local_bytes_per_fma, m.global, m.global_bytes_per_fma,
             m.occupancy, m.groups_per_unit, m.registers, m.edges, m.spread);
}
