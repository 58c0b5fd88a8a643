/* Fuzz target: the planning code that needs no device (lib/tile_select.h, and the
 * CLATTN_DEVICE_LIMITS parser of lib/device_limits.h), on any valid problem and any device
 * limits OpenCL allows. What the kernels rely on is asserted: tiles of at least one row and
 * one key, work-groups within the device's limits, __local use within its local memory,
 * packed layouts that cover every key and column. */
#include "device_limits.h"
#include "fuzz_problem.h"
#include "tile_select.h"

static int64_t get(const clattn_problem *p, clattn_param param)
{
    int64_t v = 0;
    FUZZ_ASSERT(clattn_problem_get(p, param, &v) == CLATTN_SUCCESS);
    return v;
}

/* Any device: OpenCL only promises work-groups of at least one item, and
 * device_limits_query turns a vector width of 0 into 1. */
static device_limits fuzz_limits(fuzz_input *in)
{
    device_limits l;
    memset(&l, 0, sizeof l);
    snprintf(l.name, sizeof l.name, "fuzzed device");
    l.local_mem_is_dedicated = take_u8(in) & 1;
    l.local_mem_size = take_u8(in) & 1 ? take_u64(in) : (cl_ulong)take_u8(in) << 10;
    l.max_work_group_size = (size_t)take_value(in);
    l.max_work_item_size0 = (size_t)take_value(in);
    l.vector_width = take_u8(in);
    l.global_mem_size = take_u64(in);
    l.max_alloc_size = take_u64(in);
    l.compute_units = take_u8(in);
    l.has_fma = l.available = 1;
    if (l.max_work_group_size == 0)
        l.max_work_group_size = 1;
    if (l.max_work_item_size0 == 0)
        l.max_work_item_size0 = 1;
    if (l.vector_width == 0)
        l.vector_width = 1;
    return l;
}

/* CLATTN_DEVICE_LIMITS text: either applied whole or not at all. */
static void override(device_limits *l, fuzz_input *in)
{
    size_t len = take_u8(in) % 64;
    if (len > in->size)
        len = in->size;
    char spec[64];
    memcpy(spec, in->data, len);
    spec[len] = '\0';
    in->data += len;
    in->size -= len;
    const device_limits before = *l;
    const clattn_status st = device_limits_override(l, spec);
    FUZZ_ASSERT(!st || st == CLATTN_ERROR_INVALID_ARGUMENT);
    if (st)
        FUZZ_ASSERT(memcmp(&before, l, sizeof before) == 0);
    else /* sizes only shrink */
        FUZZ_ASSERT(l->local_mem_size <= before.local_mem_size &&
                    l->max_alloc_size <= before.max_alloc_size &&
                    l->max_work_group_size <= before.max_work_group_size);
}

static void registers(const device_limits *l, const clattn_problem *p, int windowed)
{
    const register_tiles t = select_register_tiles(l, p, get(p, CLATTN_PARAM_SEQ_Q), windowed);
    FUZZ_ASSERT(t.vw == 1 || t.vw == 2 || t.vw == 4 || t.vw == 8 || t.vw == 16);
    FUZZ_ASSERT(t.rows >= 1 && t.groups >= 1 && t.kv_vecs >= 1 && t.dv_chunk >= 1);
    const packed_layout k = select_packed_layout(&t, p);
    const int64_t bc = (int64_t)t.kv_vecs * t.vw, d = get(p, CLATTN_PARAM_HEAD_DIM);
    FUZZ_ASSERT(k.nk_pad >= get(p, CLATTN_PARAM_SEQ_KV) && k.nk_pad % bc == 0);
    /* byte counts are exact or saturate, never wrap */
    const uint64_t heads = (uint64_t)get(p, CLATTN_PARAM_BATCH) * (uint64_t)problem_kv_heads(p);
    if (k.kt_bytes != UINT64_MAX)
        FUZZ_ASSERT(k.kt_bytes / 4 / heads / (uint64_t)d == (uint64_t)k.nk_pad);
    FUZZ_ASSERT(k.dv_pad >= problem_head_dim_v(p) && k.dv_pad % t.vw == 0);
}

static void local(const device_limits *l, const clattn_problem *p, size_t max_group)
{
    local_tiles t, other;
    if (!select_local_tiles(l, p, get(p, CLATTN_PARAM_SEQ_Q), max_group, &t, &other))
        return;
    size_t group_limit = max_group < l->max_work_group_size ? max_group : l->max_work_group_size;
    if (group_limit > l->max_work_item_size0)
        group_limit = l->max_work_item_size0;
    FUZZ_ASSERT(t.br >= 1 && t.bc >= 4 && t.tm >= 1 && t.tn >= 1);
    FUZZ_ASSERT(t.br % t.tm == 0 && t.bc % t.tn == 0 && t.bc % 4 == 0);
    FUZZ_ASSERT((size_t)local_tiles_group(&t) <= group_limit);
    FUZZ_ASSERT(t.local_bytes <= l->local_mem_size);
    FUZZ_ASSERT(other.br == 0 || other.br != t.br);
    /* the model's factors are fractions and its figures finite */
    const local_tiles_model m = local_tiles_predict(l, p, get(p, CLATTN_PARAM_SEQ_Q), &t);
    FUZZ_ASSERT(m.score > 0 && m.score <= 1 && m.issue > 0 && m.issue <= 1);
    FUZZ_ASSERT(m.global > 0 && m.global <= 1 && m.occupancy > 0 && m.occupancy <= 1);
    FUZZ_ASSERT(m.edges > 0 && m.edges <= 1 && m.spread > 0 && m.spread <= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    device_limits l = fuzz_limits(&in);
    override(&l, &in);
    const size_t max_group = (size_t)take_value(&in);
    clattn_problem *p = fuzz_problem(&in, 16);
    if (clattn_problem_check(p) == CLATTN_SUCCESS) { /* plans are made for valid problems only */
        const clattn_kernel_shape shape = select_shape(&l);
        FUZZ_ASSERT(shape == CLATTN_SHAPE_LOCAL_TILES || shape == CLATTN_SHAPE_REGISTER_BLOCKS);
        registers(&l, p, 0);
        registers(&l, p, 1);
        local(&l, p, max_group);
    }
    clattn_problem_destroy(p);
    return 0;
}
