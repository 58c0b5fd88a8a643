/* Prepended to every kernel family. The host defines, per build:
 *   DTYPE       storage type of Q, K, V and O: 0 f32, 1 f16, 2 bf16 (arithmetic is always f32)
 *   HEAD_DIM    d, the head size of Q and K, so that loops over it have a fixed trip count
 *   HEAD_DIM_V  dv, the head size of V and O, only when it differs from d
 * Only OpenCL C 1.2 core features are used: f16 goes through vload_half/vstore_half_rte,
 * which need no cl_khr_fp16, and bf16 through integer shifts. */

#ifndef HEAD_DIM_V
#define HEAD_DIM_V HEAD_DIM
#endif

/* storage_t is how kernels read and write elements; raw_t is their bit pattern, for copies
 * (f16 values cannot be loaded as half without cl_khr_fp16). */
#if DTYPE == 0
typedef float storage_t;
typedef uint raw_t;
#define LOAD(p, i) ((p)[i])
#define STORE(p, i, x) ((p)[i] = (x))
#elif DTYPE == 1
typedef half storage_t;
typedef ushort raw_t;
#define LOAD(p, i) vload_half((i), (p))
#define STORE(p, i, x) vstore_half_rte((x), (i), (p))
#elif DTYPE == 2
typedef ushort storage_t;
typedef ushort raw_t;
#define LOAD(p, i) as_float((uint)(p)[i] << 16)
#define STORE(p, i, x) ((p)[i] = float_to_bf16(x))
#else
#error "DTYPE must be 0 (f32), 1 (f16) or 2 (bf16)"
#endif

/* For helpers called on a hot loop: PoCL's LLVM keeps a plain `inline` function out of line
 * when it is large or called from several places, and the call then passes vector arrays
 * through memory; decode_registers' K and V row loads with a q8_0 cache were such calls. */
#ifdef __clang__
#define HOT_INLINE inline __attribute__((always_inline))
#else
#define HOT_INLINE inline
#endif

/* Round to nearest even on the upper 16 bits; NaN stays NaN. */
inline ushort float_to_bf16(float x)
{
    uint u = as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (ushort)((u >> 16) | 0x40u);
    return (ushort)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* KV_DTYPE is the clattn_dtype K and V are stored in (docs/semantics.md, "KV cache types"),
 * DTYPE's when the host does not define it: 0-2 as DTYPE, 3 q8_0, 4 q4_0, 5 fp8 e4m3, 6 fp8
 * e5m2. Kernels point at K and V as kv_t and read them as f32 through kv_load4 and KV_LOAD,
 * which take a value index: value e of a block type lies in block e / 32 (34 bytes for q8_0,
 * 18 for q4_0; the f16 scale first, 2-byte aligned since blocks and offsets are whole), and
 * an fp8 value is one byte. fp8's per-tensor scales are not applied here: the host folds
 * k_scale into the queries' scale and defines KV_V_SCALE, which row_epilogue applies to the
 * output. */
#ifndef KV_DTYPE
#define KV_DTYPE DTYPE
#endif
#if KV_DTYPE == 0
typedef float kv_t;
#elif KV_DTYPE == 1
typedef half kv_t;
#elif KV_DTYPE == 2
typedef ushort kv_t;
#elif KV_DTYPE >= 3 && KV_DTYPE <= 6
typedef uchar kv_t;
#else
#error "KV_DTYPE must be a clattn_dtype, 0 to 6"
#endif

#if KV_DTYPE == 5 || KV_DTYPE == 6
/* Four fp8 codes (in the low bytes of c) as f32, by their bits: a normal code moves its
 * exponent to f32's bias and its mantissa to the top of f32's; a subnormal one is m times the
 * smallest subnormal step. e4m3's S.1111.111 is NaN; e5m2's top exponent is inf or NaN. */
inline float4 fp8_decode4(uint4 c)
{
#if KV_DTYPE == 5
    const uint4 e = (c >> 3) & 15u, m = c & 7u;
    uint4 bits = select(((e + 120u) << 23) | (m << 20), as_uint4(convert_float4(m) * 0x1p-9f),
                        e == 0u);
    bits = select(bits, (uint4)(0x7fc00000u), (c & 0x7fu) == 0x7fu);
#else
    const uint4 e = (c >> 2) & 31u, m = c & 3u;
    uint4 bits = select(((e + 112u) << 23) | (m << 21), as_uint4(convert_float4(m) * 0x1p-16f),
                        e == 0u);
    bits = select(bits, 0x7f800000u | (m << 21), e == 31u);
#endif
    return as_float4(bits | ((c & 0x80u) << 24));
}
#endif

#if KV_DTYPE == 3 || KV_DTYPE == 4
#define KV_BLOCK_BYTES (KV_DTYPE == 3 ? 34 : 18)
/* The f16 scale of the block holding value e. Loaded as the first of four halves (the block
 * goes on past them): PoCL converts vload_half4 with the CPU's instruction and a scalar
 * vload_half with some twenty integer ones. */
#define KV_BLOCK_SCALE(p, e) vload_half4(0, (__global const half *)((p) + (e) / 32 * KV_BLOCK_BYTES)).s0
#endif

/* Bytes from the start of K or V to value e, and where a row starting at value e begins (for
 * a block type e is a multiple of 32, the start of a block). */
#if KV_DTYPE == 3 || KV_DTYPE == 4
#define KV_BYTES(e) ((e) / 32 * KV_BLOCK_BYTES)
#define KV_ROW_AT(p, e) ((p) + (e) / 32 * KV_BLOCK_BYTES)
#else
#define KV_BYTES(e) ((e) * (long)sizeof(kv_t))
#define KV_ROW_AT(p, e) ((p) + (e))
#endif

/* A hint that the cache line at p will be read soon. PoCL compiles kernels to the host's
 * instruction set, where OpenCL's prefetch() does nothing and the compiler's builtin is the
 * CPU's prefetch instruction; a device compiled through SPIR-V or its own compiler takes
 * OpenCL's. The builtin asks for the line in L2 (locality 2: x86's prefetcht1), not L1: on an
 * AMD EPYC an L1 prefetch holds one of the core's few L1 miss buffers until the line arrives,
 * and decode's f32, f16 and bf16 caches then ran 1.6-2.0x slower than with L2 prefetches,
 * q8_0 and q4_0 within noise (bench/results/pocl-decode-prefetch-l2-session5.txt). */
#if defined(__clang__) && (defined(__x86_64__) || defined(__aarch64__))
#define PREFETCH_LINE(p) __builtin_prefetch((p), 0, 2)
#else
#define PREFETCH_LINE(p) prefetch((p), 1)
#endif

/* Values e .. e + 3 of K or V as f32; for a block type e is a multiple of 4 (rows start at
 * whole blocks, and chunks at multiples of 4), so the four lie in one block. */
inline float4 kv_load4(__global const kv_t *p, ulong e)
{
#if KV_DTYPE == 0
    return vload4(0, p + e);
#elif KV_DTYPE == 1
    return vload_half4(0, p + e);
#elif KV_DTYPE == 2
    return as_float4(convert_uint4(vload4(0, p + e)) << 16);
#elif KV_DTYPE == 3
    const float4 q = convert_float4(as_char4(vload4(0, p + e / 32 * 34 + 2 + e % 32)));
    return KV_BLOCK_SCALE(p, e) * q;
#elif KV_DTYPE == 4
    const uint j = (uint)(e % 32);
    const uint4 b = convert_uint4(vload4(0, p + e / 32 * 18 + 2 + (j & 15u)));
    const int4 n = as_int4(j < 16u ? b & 15u : b >> 4) - 8;
    return KV_BLOCK_SCALE(p, e) * convert_float4(n);
#else
    return fp8_decode4(convert_uint4(vload4(0, p + e)));
#endif
}

/* Value e of K or V as f32. */
inline float kv_load(__global const kv_t *p, ulong e)
{
#if KV_DTYPE == 0
    return p[e];
#elif KV_DTYPE == 1
    return vload_half(0, p + e);
#elif KV_DTYPE == 2
    return as_float((uint)p[e] << 16);
#elif KV_DTYPE == 3
    return KV_BLOCK_SCALE(p, e) * (float)as_char(p[e / 32 * 34 + 2 + e % 32]);
#elif KV_DTYPE == 4
    const uint j = (uint)(e % 32), b = p[e / 32 * 18 + 2 + (j & 15u)];
    return KV_BLOCK_SCALE(p, e) * (float)((int)(j < 16u ? b & 15u : b >> 4) - 8);
#else
    return fp8_decode4((uint4)(p[e])).s0;
#endif
}
#define KV_LOAD(p, i) kv_load((p), (i))

/* Multiply-add: fma where the device has it in hardware (the host defines DEVICE_FMA from
 * CL_FP_FMA in CL_DEVICE_SINGLE_FP_CONFIG), otherwise mad, which may round twice. mad alone
 * is not enough: PoCL lowers it to a multiply and an add, half its FMA peak. */
#if defined(DEVICE_FMA) || defined(FP_FAST_FMAF)
#define MAD(a, b, c) fma((a), (b), (c))
#else
#define MAD(a, b, c) mad((a), (b), (c))
#endif

/* Scores are kept in base 2: q is pre-multiplied by scale * log2(e), so exp(x) becomes exp2,
 * which every device has in hardware or as its cheapest transcendental. */
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f

/* Query row i sits at key position i + pos_off of its entry of n keys (docs/semantics.md,
 * "Positions"): bottom-right alignment puts the last row on the last key (n - nq), top-left
 * puts row 0 on key 0, and positions given per call shift it by q_start - k_start (pos_shift,
 * with align_br 0). */
inline long row_position_offset(int align_br, long pos_shift, int n, int nq)
{
    return pos_shift + (align_br ? (long)n - nq : 0);
}

/* The visibility rule of docs/semantics.md for query row i, as one key range [*lo, *hi):
 * row i sits at key position i + pos_off; causal bounds it on the right, a window (-1 for
 * unbounded) on either side. Rows grow monotonically, so a tile of rows sees the union of its
 * first and last rows' ranges. */
inline void row_range(long i, long pos_off, int causal, long wl, long wr, int nk, int *lo,
                      int *hi)
{
    long pos = i + pos_off;
    long first = wl < 0 ? 0 : pos - wl;
    long last = wr < 0 ? (long)nk - 1 : pos + wr;
    if (causal && last > pos)
        last = pos;
    first = clamp(first, 0L, (long)nk);
    last = clamp(last + 1, 0L, (long)nk);
    *lo = (int)first;
    *hi = (int)max(first, last);
}

/* The rules that keep a row's softmax exact at its edges (docs/semantics.md), for every
 * kernel. m is a row's largest score so far and sum its sum of exp(s - m) over the keys seen
 * (exp2 for scores in base 2).
 * - A row that has seen no visible key keeps m = -inf. Its scores are shifted by 0 instead,
 *   so that exp(-inf - -inf) does not turn its zeros into NaN (SCORE_SHIFT).
 * - At the end such a row has sum 0, and only such a row: otherwise the largest score adds
 *   exp(0) = 1. Its output is zeros (1 / sum taken as 0) and its LSE -inf.
 * - fmax skips NaN, so all-NaN scores also leave m = -inf, but their sum is NaN: the tests
 *   are on sum, never on m, and output and LSE come out NaN. */
#define SCORE_SHIFT(m) ((m) == -INFINITY ? 0.0f : (m))
#define ROW_INVERSE(sum) ((sum) > 0.0f ? 1.0f / (sum) : (sum) == 0.0f ? 0.0f : NAN)

/* The row's LSE in natural log, from scores in natural log (LSE_NATURAL: cl/naive.cl,
 * cl/merge.cl) or in base 2 (LSE_BASE2: the fused kernels). Macros, like the two above: a
 * kernel pays no call for them where its compiler does not inline (oclgrind). */
#define LSE_NATURAL(m, sum) ((sum) == 0.0f ? -INFINITY : (m) + log(sum))
#define LSE_BASE2(m, sum) ((sum) == 0.0f ? -INFINITY : ((m) + log2(sum)) * LN2)

/* The logit softcap of docs/semantics.md ("Extensions"), s = cap * tanh(s / cap), on a score
 * or a vector of scores. The host defines SOFTCAP as the cap in the units the kernel scores
 * in: cap * log2(e) for the base-2 fused kernels, cap itself for naive. Without it, nothing. */
#ifdef SOFTCAP
#define SCORE_CAP(x) ((float)(SOFTCAP) * tanh((x) * (1.0f / (float)(SOFTCAP))))
#else
#define SCORE_CAP(x) (x)
#endif

/* ALiBi and sinks (docs/semantics.md, "Extensions"), compiled in only when the host defines
 * ALIBI (1: slopes [H], 2: slopes [B, H]) or SINKS, with SCORE_UNIT the kernel's score units
 * per natural unit: log2(e) in the base-2 fused kernels, 1 in naive's. Their f32 buffers (and
 * element offsets) are kernel parameters only then: EXTRA_PARAMS ends the parameter lists of
 * the attention kernels, with those of sink tokens, positions per entry, the additive mask
 * and packed varlen batches (below), and lib/launch.c's args_extras sets them in the same
 * order (the mask's tile map last, lib/mask_tiles.c). */
#ifdef ALIBI
#define ALIBI_PARAMS , __global const float *alibi_slopes, ulong alibi_off
/* The slope of query head h of entry b, in the kernel's units (heads: the kernel's count). */
#define ALIBI_SLOPE(b, h)                                                                      \
    (alibi_slopes[alibi_off + (ulong)(ALIBI == 2 ? (long)(b) * heads + (h) : (long)(h))] *      \
     (float)(SCORE_UNIT))
/* Score s of the pair (row position pos, key j) with its bias -slope * |pos - j|. */
#define ALIBI_BIAS(s, slope, pos, j) ((s) - (slope) * fabs((float)((long)(pos) - (long)(j))))
#define SCORE_BIAS(s, slope, pos, j) ALIBI_BIAS(s, slope, pos, j)
#else
#define ALIBI_PARAMS
/* Without ALiBi the score itself, untouched, so that plain kernels' source stays the same:
 * SCORE_BIAS and WITH_SINK are only ever whole expressions or whole arguments. */
#define SCORE_BIAS(s, slope, pos, j) s
#endif
#ifdef SINKS
#define SINK_PARAMS , __global const float *sinks, ulong sinks_off
/* Head h's sink logit in the kernel's units. A kernel whose keys are split gives it to split
 * 0 alone (the merge then counts it once), the others -inf: no sink. A row starts its running
 * maximum there (so the term below is at most 1) and adds exp(z - m) to its sum at the end: a
 * row without keys ends with sum 1, O = 0 and LSE = z; a sink of -inf adds 0; NaN makes the
 * row NaN, as in the reference. */
#define SINK_LOGIT(h) (sinks[sinks_off + (ulong)(h)] * (float)(SCORE_UNIT))
#define SPLIT_SINK(h, split) ((split) == 0 ? SINK_LOGIT(h) : -INFINITY)
/* A base-2 row's sum with its sink z (SPLIT_SINK or SINK_LOGIT), given its final maximum m. */
#define WITH_SINK(sum, m, z) ((sum) + exp2((z) - SCORE_SHIFT(m)))
#else
#define SINK_PARAMS
#define WITH_SINK(sum, m, z) sum
#endif

/* Positions per entry (docs/semantics.md, "Positions"), compiled in only when the host
 * defines POSITIONS_PER_ENTRY: entry b's rows start at q_starts[b] and its keys at
 * k_starts[b], int32 device data that the host cannot check. ENTRY_LENGTH gives an entry with
 * impossible starts the length -1, which makes its rows NaN (row_epilogue), and ENTRY_SHIFT
 * its rows' key index offset q_start - k_start (row_position_offset, align_br 0). Without
 * positions per entry both pass their argument through, and ENTRY_K_START is 0. */
#ifdef POSITIONS_PER_ENTRY
#define POSITION_PARAMS                                                                        \
    , __global const int *q_starts, ulong q_starts_off, __global const int *k_starts,           \
        ulong k_starts_off
#define ENTRY_Q_START(b) ((long)q_starts[q_starts_off + (ulong)(b)])
#define ENTRY_K_START(b) ((long)k_starts[k_starts_off + (ulong)(b)])
/* n keys (kv_length's, -1 already impossible) and nq rows at these starts: n, or -1 when a
 * start is negative or a last position passes 2^31 - 1. Compared as ints: Mesa's llvmpipe
 * let a negative start through the same test on the starts widened to long. */
inline int entry_length(int n, int nq, int q_start, int k_start)
{
    if (n >= 0 && (q_start < 0 || k_start < 0 || q_start > INT_MAX - max(nq - 1, 0) ||
                   k_start > INT_MAX - max(n - 1, 0)))
        return -1;
    return n;
}
#define ENTRY_LENGTH(b, nq, n)                                                                 \
    entry_length((n), (nq), q_starts[q_starts_off + (ulong)(b)],                               \
                 k_starts[k_starts_off + (ulong)(b)])
#define ENTRY_SHIFT(b, shift) (ENTRY_Q_START(b) - ENTRY_K_START(b))
#else
#define POSITION_PARAMS
#define ENTRY_K_START(b) 0L
#define ENTRY_LENGTH(b, nq, n) (n)
#define ENTRY_SHIFT(b, shift) (shift)
#endif

/* Sink tokens (docs/semantics.md, "Extensions"; StreamingLLM), compiled in only when the host
 * defines SINK_TOKENS: keys at positions below S are visible to every row the causal rule
 * allows, whatever the window says. sink_keys is S - k_start for positions per call, else S;
 * in entry b's key indices the sink tokens are [0, sink_keys - ENTRY_K_START(b)). A row then
 * sees two key ranges, its window's (row_range) and [0, sink_range's end), and a kernel walks
 * the keys of both (two_walks) and none in between. */
#ifdef SINK_TOKENS
#define SINK_TOKEN_PARAMS , long sink_keys
#define ENTRY_SINK_END(b) (sink_keys - ENTRY_K_START(b))
/* The end of the sink tokens row i sees among nk keys: before sink_end and, when causal, at
 * or before the row's own position i + pos_off. */
inline int sink_range(long i, long pos_off, int causal, long sink_end, int nk)
{
    long last = sink_end;
    if (causal)
        last = min(last, i + pos_off + 1);
    return (int)clamp(last, 0L, (long)nk);
}

/* A walk over two key ranges in steps of `step` keys from the steps' starts a0 and b0: first
 * [a0, a1) (the sink tokens), then [b0, b1) (the window), the second continuing where the
 * first ended when they overlap, so that no step comes twice and the keys between the ranges
 * are never visited. Returns the number of steps; *na of them are the first range's, and the
 * second's start at *b_start (WALK_KEY gives step t's first key). Counted in long: a step's
 * end may pass INT_MAX after the last key of an entry of nearly 2^31 keys. */
inline int two_walks(int a0, int a1, int b0, int b1, int step, int *na, int *b_start)
{
    *na = a1 > a0 ? (int)(((long)a1 - a0 + step - 1) / step) : 0;
    const long start = max((long)b0, (long)a0 + (long)*na * step);
    *b_start = (int)min(start, (long)b1);
    return *na + (start < b1 ? (int)(((long)b1 - start + step - 1) / step) : 0);
}
#define WALK_KEY(t, a0, na, b_start, step)                                                     \
    ((t) < (na) ? (a0) + (t) * (step) : (b_start) + ((t) - (na)) * (step))
#else
#define SINK_TOKEN_PARAMS
#endif
/* The additive mask (docs/semantics.md, "Extensions"), compiled in only when the host defines
 * MASK (1: f32, 2: f16). Element (b, i, h, j) lies at MASK_ROW(b, i, h) + j; the host passes a
 * broadcast dimension's stride as 0, so kernels index with their own b and h. A value is in
 * natural units: MASK_ADD scales it to the kernel's (SCORE_UNIT) and adds it to score s, and
 * -inf makes the pair invisible whatever the score (a NaN key's included, as the reference
 * never reads it); NaN makes the score NaN. */
#ifdef MASK
#if MASK == 1
typedef float mask_t;
#define MASK_LOAD(p, e) ((p)[e])
#else
typedef half mask_t;
#define MASK_LOAD(p, e) vload_half(0, (p) + (e))
#endif
#define MASK_PARAMS                                                                            \
    , __global const mask_t *mask, ulong mask_off, long mask_sb, long mask_ss, long mask_sh
#define MASK_ROW(b, i, h)                                                                      \
    (mask_off + (ulong)((long)(b) * mask_sb + (long)(i) * mask_ss + (long)(h) * mask_sh))
#define MASK_ADD(s, x) ((x) == -INFINITY ? -INFINITY : (s) + (x) * (float)(SCORE_UNIT))
/* Value j of the mask row at `row`, or -inf past the row's nk keys. */
#define MASK_AT(row, j, nk) ((j) < (nk) ? MASK_LOAD(mask, (row) + (ulong)(j)) : -INFINITY)
#else
#define MASK_PARAMS
#endif
/* The mask's tile classes (cl/mask_tiles.cl): the fused kernels skip a tile whose mask is all
 * -inf and read no mask in a tile where it is all 0. With MASK_TILES the host passes the map
 * of classes [Bm][Gm][row blocks][key blocks] (Gm: 1, or the kv heads when the mask has every
 * head; a broadcast dimension's stride is 0); without it every tile is MASK_MIXED. */
#define MASK_HIDDEN 0
#define MASK_ZERO 1
#define MASK_MIXED 2
#ifdef MASK_TILES
#define MASK_TILE_PARAMS                                                                       \
    , __global const uchar *mask_tiles, long mask_tiles_sb, long mask_tiles_sg,                 \
        int mask_key_blocks
#define MASK_TILE(b, g, rb, kb)                                                                \
    mask_tiles[(ulong)((long)(b) * mask_tiles_sb + (long)(g) * mask_tiles_sg +                  \
                       (long)(rb) * mask_key_blocks + (kb))]
#else
#define MASK_TILE_PARAMS
#define MASK_TILE(b, g, rb, kb) MASK_MIXED
#endif
/* Packed variable-length batches (docs/semantics.md, "Packed variable-length batches"),
 * compiled in only when the host defines VARLEN: Q, K, V and O hold every entry's rows back
 * to back, and the int32 [B + 1] bounds cu_q and cu_k (element offsets cu_q_off, cu_k_off)
 * say where each entry's rows and keys are. A kernel keeps nq and nk as the longest entry's
 * lengths (the launch is sized by them, and LSE is [B, H, nq]), and makes its entry look like
 * a batch entry of its own: VARLEN_ROWS and VARLEN_KEYS move the tensors' offsets to the
 * entry's first packed row and zero their batch strides. The bounds are device data: an
 * entry whose range is impossible has no rows (VARLEN_ROWS gives 0) or a length of -1 (NaN
 * rows), so that nothing outside the packed tensors or the launch is touched. */
#ifdef VARLEN
#define VARLEN_PARAMS                                                                          \
    , __global const int *cu_q, ulong cu_q_off, __global const int *cu_k, ulong cu_k_off,       \
        int total_q, int total_kv
/* Entry b's range [cu[b], cu[b + 1]) of `total` packed rows: its length, with its first row
 * in *first, or -1 (and 0) when it is not within [0, total] or longer than `longest`. */
inline int varlen_length(__global const int *cu, ulong off, int b, int total, int longest,
                         int *first)
{
    const int a = cu[off + (ulong)b], e = cu[off + (ulong)b + 1];
    const int ok = a >= 0 && a <= e && e <= total && e - a <= longest;
    *first = ok ? a : 0;
    return ok ? e - a : -1;
}
/* Entry b's query rows: their count into `rows` (0 for an impossible range), and Q and O
 * moved to its first packed row. */
#define VARLEN_ROWS(b, rows)                                                                   \
    do {                                                                                       \
        int q0_;                                                                               \
        (rows) = max(varlen_length(cu_q, cu_q_off, (b), total_q, nq, &q0_), 0);                \
        q_off += (ulong)q0_ * (ulong)q_ss;                                                     \
        o_off += (ulong)q0_ * (ulong)o_ss;                                                     \
        q_sb = o_sb = 0;                                                                       \
    } while (0)
/* Entry b's keys: their count into `n` (-1 for an impossible range) and its first packed key
 * into `k0`, and K and V (the arguments named k_off, k_sb, k_ss and v_...) moved there. */
#define VARLEN_KEYS(b, n, k0)                                                                  \
    do {                                                                                       \
        (n) = varlen_length(cu_k, cu_k_off, (b), total_kv, nk, &(k0));                         \
        k_off += (ulong)(k0) * (ulong)k_ss;                                                    \
        v_off += (ulong)(k0) * (ulong)v_ss;                                                    \
        k_sb = v_sb = 0;                                                                       \
    } while (0)
/* Where entry b (first packed key k0) starts in the packed, transposed K and V of the
 * register kernels (cl/pack.cl), in keys: kv head g's run of `stride` keys, then k0 / block
 * + b whole blocks. Entry b's ceil(n / block) blocks end by entry b + 1's start, since
 * floor((k0 + n) / block) >= floor(k0 / block) + floor(n / block); so the runs never overlap
 * and the last ends by (total_kv / block + B) blocks, the stride the host allocates
 * (lib/tile_select.c). */
#define VARLEN_PACKED_FIRST(b, g, k0, stride, block)                                          \
    ((ulong)(g) * (ulong)(stride) + ((ulong)((k0) / (block)) + (ulong)(b)) * (ulong)(block))
/* Entry b's query rows, nq_entry (a packed entry's own: the launch is sized by the longest),
 * and keys, n_given (-1 when impossible, its range or its starts), declared for a kernel that
 * reads K and V where they are, with the tensors' offsets moved to the entry's first packed
 * row and key. */
#define ENTRY_IN_PLACE(b, nq_entry, n_given)                                                   \
    int nq_entry, n_given, k0_;                                                                \
    VARLEN_ROWS(b, nq_entry);                                                                  \
    VARLEN_KEYS(b, n_given, k0_);                                                              \
    n_given = ENTRY_LENGTH(b, nq_entry, n_given)
#else
#define VARLEN_PARAMS
#define ENTRY_IN_PLACE(b, nq_entry, n_given)                                                   \
    const int nq_entry = nq, n_given = ENTRY_LENGTH(b, nq, kv_length(b, nk, KV_LAYOUT))
#endif
#define EXTRA_PARAMS                                                                           \
    ALIBI_PARAMS SINK_PARAMS SINK_TOKEN_PARAMS POSITION_PARAMS MASK_PARAMS VARLEN_PARAMS        \
        MASK_TILE_PARAMS

/* The end of a fused kernel's row, in base 2: 1 / sum to normalise its output, and its LSE.
 * An impossible entry length (n_given < 0) makes the row NaN. */
inline void row_epilogue(int n_given, float m, float sum, float *inv, float *lse)
{
    if (n_given < 0)
        sum = NAN;
    *inv = ROW_INVERSE(sum);
#ifdef KV_V_SCALE
    *inv *= (float)(KV_V_SCALE); /* an fp8 V cache's scale (see KV_DTYPE) */
#endif
    *lse = LSE_BASE2(m, sum);
}

#define D4 ((HEAD_DIM + 3) / 4) /* float4 chunks of a row, the last zero-padded past d */
#define DV4 ((HEAD_DIM_V + 3) / 4) /* the same for a row of V or O */

/* Columns 4 * c4 .. 4 * c4 + 3 of the row at element `row` as f32, zero past d: one vector
 * load (16 bytes in f32, 8 in f16 and bf16), or element by element for a last, partial
 * chunk, so that nothing past the row is read. */
inline float4 load_chunk4(__global const storage_t *src, ulong row, int c4)
{
    const ulong e = row + (ulong)(c4 * 4);
    if (HEAD_DIM % 4 == 0 || c4 * 4 + 4 <= HEAD_DIM) {
#if DTYPE == 0
        return vload4(0, src + e);
#elif DTYPE == 1
        return vload_half4(0, src + e);
#else
        return as_float4(convert_uint4(vload4(0, src + e)) << 16);
#endif
    }
    float4 x = (float4)(0.0f);
    x.s0 = LOAD(src, e);
#if HEAD_DIM % 4 > 1
    x.s1 = LOAD(src, e + 1);
#endif
#if HEAD_DIM % 4 > 2
    x.s2 = LOAD(src, e + 2);
#endif
    return x;
}

/* K and V rows: with KV_ALIGNED=1 (lib/kv_kernel.h) every row starts a multiple of four
 * elements from a buffer's base and both head sizes are multiples of four, so a chunk of an
 * f32, f16 or bf16 cache is read through a vector pointer: a GPU compiler then issues one
 * 16-byte (f32) or 8-byte load. Quantized caches go through kv_load4, a chunk of bytes at a
 * time. `dim` is the row's length, HEAD_DIM for K and HEAD_DIM_V for V (load_k_chunk4,
 * load_v_chunk4): a constant wherever it is inlined. */
#ifndef KV_ALIGNED
#define KV_ALIGNED 0
#endif
#if KV_ALIGNED && (HEAD_DIM % 4 || HEAD_DIM_V % 4)
#error "KV_ALIGNED needs head sizes that are multiples of 4"
#endif

inline float4 load_kv_chunk4(__global const kv_t *src, ulong row, int c4, int dim)
{
#if KV_ALIGNED && KV_DTYPE == 0
    return ((__global const float4 *)(src + row))[c4];
#elif KV_ALIGNED && KV_DTYPE == 1
    return vloada_half4((size_t)c4, src + row);
#elif KV_ALIGNED && KV_DTYPE == 2
    return as_float4(convert_uint4(((__global const ushort4 *)(src + row))[c4]) << 16);
#else
    const ulong e = row + (ulong)(c4 * 4);
    if (dim % 4 == 0 || c4 * 4 + 4 <= dim)
        return kv_load4(src, e);
    float4 x = (float4)(0.0f); /* a last, partial chunk: nothing past the row is read */
    x.s0 = KV_LOAD(src, e);
    if (dim % 4 > 1)
        x.s1 = KV_LOAD(src, e + 1);
    if (dim % 4 > 2)
        x.s2 = KV_LOAD(src, e + 2);
    return x;
#endif
}
#define load_k_chunk4(src, row, c4) load_kv_chunk4((src), (row), (c4), HEAD_DIM)
#define load_v_chunk4(src, row, c4) load_kv_chunk4((src), (row), (c4), HEAD_DIM_V)

/* Columns 4 * c4 .. 4 * c4 + 3 of an output row, those below HEAD_DIM_V: f32 partial rows
 * for cl/merge.cl (store_row4) and rows of O in the storage type (store_out4). */
inline void store_row4(__global float *dst, int c4, float4 x)
{
    if (HEAD_DIM_V % 4 == 0 || c4 * 4 + 4 <= HEAD_DIM_V) {
        vstore4(x, 0, dst + c4 * 4);
        return;
    }
    float t[4] = {x.x, x.y, x.z, x.w};
    for (int c = 0; c < HEAD_DIM_V % 4; c++)
        dst[c4 * 4 + c] = t[c];
}

inline void store_out4(__global storage_t *o, ulong row, int c4, float4 x)
{
    const ulong e = row + (ulong)(c4 * 4);
    if (HEAD_DIM_V % 4 == 0 || c4 * 4 + 4 <= HEAD_DIM_V) {
#if DTYPE == 0
        vstore4(x, 0, o + e);
#elif DTYPE == 1
        vstore_half4_rte(x, 0, o + e);
#else
        vstore4((ushort4)(float_to_bf16(x.x), float_to_bf16(x.y), float_to_bf16(x.z),
                          float_to_bf16(x.w)),
                0, o + e);
#endif
        return;
    }
    float t[4] = {x.x, x.y, x.z, x.w};
    for (int c = 0; c < HEAD_DIM_V % 4; c++)
        STORE(o, e + (ulong)c, t[c]);
}

/* Where the keys and values of a batch entry are, and how many there are.
 *
 * A contiguous cache is addressed with the batch, sequence and head strides. A paged cache
 * (page_size > 0) holds key j of entry b in page pages[b * pages_per_seq + j / page_size] of a
 * pool of num_pages pages, and the batch stride then steps from page to page. Entry b has
 * kv_lens[b] + appended keys when the caller gives lengths (ragged), else nk. The host checks
 * its own arguments; these device-side values it cannot see, so a length outside
 * [0, capacity] or a page outside the pool makes the rows that depend on it NaN rather than
 * reading out of bounds. */

/* A key whose page is not in the pool: its K row reads as NaN, so that exactly the rows that
 * see it are NaN; its V row as 0, so that the rows that share its tile without seeing it
 * (probability exactly 0) stay exact, where 0 * NaN would poison them. */
#define MISSING_K NAN
#define MISSING_V 0.0f
#define KV_LAYOUT_PARAMS                                                                       \
    __global const int *kv_lens, ulong lens_off, int ragged, int appended, int capacity,          \
        __global const int *pages, ulong pages_off, int pages_per_seq, int page_size,            \
        int num_pages
#define KV_LAYOUT                                                                              \
    kv_lens, lens_off, ragged, appended, capacity, pages, pages_off, pages_per_seq, page_size,  \
        num_pages

/* The arguments of the kernels that read Q, K and V where the caller keeps them and may split
 * the keys (cl/decode.cl, cl/tiled_local.cl): one list, matching lib/launch.c's
 * args_in_place. With split_len > 0 each split writes part_o / part_lse for cl/merge.cl. */
#define IN_PLACE_PARAMS                                                                        \
    __global const storage_t *q, ulong q_off, long q_sb, long q_ss, long q_sh,                  \
        __global const kv_t *k, ulong k_off, long k_sb, long k_ss, long k_sh,                   \
        __global const kv_t *v, ulong v_off, long v_sb, long v_ss, long v_sh,                   \
        __global storage_t *o, ulong o_off, long o_sb, long o_ss, long o_sh,                    \
        __global float *lse, ulong lse_off, int write_lse, int heads, int group, int nq,        \
        int nk, int align_br, long pos_shift, int causal, long wl, long wr, float qscale,       \
        KV_LAYOUT_PARAMS,                                                                       \
        int split_len, int part_rows, __global float *part_o,                                   \
        __global float *part_lse EXTRA_PARAMS

/* Where a finished query row goes, for every kernel that ends rows (cl/tiled_local.cl,
 * cl/decode_local.cl, cl/decode.cl, cl/tiled_registers.cl). With one split: row (b, pos, h)
 * of O in the storage type, and its LSE if the caller asked for it. With several, split
 * `split` writes the row's f32 partial output and LSE for cl/merge.cl to part_o / part_lse,
 * at row split * part_rows + (the row's index in LSE order). */
#define RESULT_PARAMS                                                                          \
    __global storage_t *o, ulong o_off, long o_sb, long o_ss, long o_sh, __global float *lse,   \
        ulong lse_off, int write_lse, int heads, int nq, int part_rows, __global float *part_o,  \
        __global float *part_lse
#define RESULT                                                                                 \
    o, o_off, o_sb, o_ss, o_sh, lse, lse_off, write_lse, heads, nq, part_rows, part_o, part_lse

/* Ends query row (b, pos, h) in a kernel with the RESULT arguments and split, splits: chunks
 * u < CHUNKS of the float4 array x, times inv, are its columns 4 * c4 .. 4 * c4 + 3 (those
 * below HEAD_DIM_V) for c4 = FIRST + u * STEP below DV4; where lse_here, its LSE too (exactly
 * one work-item per row). A macro, so that CHUNKS and STEP stay constants and the row's
 * destination is found once per row. */
#define WRITE_RESULT(x, CHUNKS, FIRST, STEP, inv, lse_here, row_lse, b, pos, h)                   \
    do {                                                                                       \
        const ulong row_id_ = ((ulong)(b) * heads + (h)) * (ulong)nq + (ulong)(pos);            \
        if (splits > 1) {                                                                      \
            const ulong part_ = (ulong)split * (ulong)part_rows + row_id_;                     \
            __global float *part_row_ = part_o + part_ * HEAD_DIM_V;                           \
            _Pragma("unroll") for (int u_ = 0; u_ < (CHUNKS); u_++)                             \
            {                                                                                  \
                const int c4_ = (FIRST) + u_ * (STEP);                                         \
                if (DV4 % (STEP) == 0 || c4_ < DV4)                                            \
                    store_row4(part_row_, c4_, (x)[u_] * (inv));                               \
            }                                                                                  \
            if (lse_here)                                                                      \
                part_lse[part_] = (row_lse);                                                   \
        } else {                                                                               \
            const ulong base_ = o_off + (ulong)((b) * o_sb + (long)(pos) * o_ss + (h) * o_sh);  \
            _Pragma("unroll") for (int u_ = 0; u_ < (CHUNKS); u_++)                             \
            {                                                                                  \
                const int c4_ = (FIRST) + u_ * (STEP);                                         \
                if (DV4 % (STEP) == 0 || c4_ < DV4)                                            \
                    store_out4(o, base_, c4_, (x)[u_] * (inv));                                \
            }                                                                                  \
            if (write_lse && (lse_here))                                                       \
                lse[lse_off + row_id_] = (row_lse);                                            \
        }                                                                                      \
    } while (0)

/* Entry b's number of keys, or -1 when the caller's length is impossible. */
inline int kv_length(int b, int nk, KV_LAYOUT_PARAMS)
{
    if (!ragged)
        return nk;
    const int given = kv_lens[lens_off + (ulong)b];
    return given < 0 || given > capacity - appended ? -1 : given + appended;
}

/* Element offset of key j's row in kv head g of entry b, or -1 when its page is not in the
 * pool. */
inline long kv_offset(ulong off, long sb, long ss, long sh, int b, int j, int g,
                      KV_LAYOUT_PARAMS)
{
    if (page_size == 0)
        return (long)off + b * sb + j * ss + g * sh;
    const int page = pages[pages_off + (ulong)b * (ulong)pages_per_seq + (ulong)(j / page_size)];
    if (page < 0 || page >= num_pages)
        return -1;
    return (long)off + page * sb + (j % page_size) * ss + g * sh;
}

/* Query rows of one (batch, kv head) are the pairs (position i, head h of the group), taken
 * position-major: row r is position r / group of head kv_head * group + r % group. Rows of
 * all the heads that share a kv head then share every K and V load. */
#define ROW_POSITION(r, group) ((r) / (group))
#define ROW_HEAD(r, group, kv_head) ((kv_head) * (group) + (r) % (group))

#ifdef VW
/* Explicit vectors of the device's preferred float width (VW = 1, 2, 4, 8 or 16): CPU
 * implementations such as PoCL compile floatN arithmetic to full-width SIMD but do not
 * vectorise loops with reductions across work-items by themselves. */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if VW == 1
typedef float vec_t;
typedef int ivec_t;
#define VLOAD(p) (*(p))
#define VSTORE(x, p) (*(p) = (x))
#define LANE_INDEX 0
#else
typedef CAT(float, VW) vec_t;
typedef CAT(int, VW) ivec_t;
#define VLOAD(p) CAT(vload, VW)(0, (p))
#define VSTORE(x, p) CAT(vstore, VW)((x), 0, (p))
#if VW == 2
#define LANE_INDEX ((int2)(0, 1))
#elif VW == 4
#define LANE_INDEX ((int4)(0, 1, 2, 3))
#elif VW == 8
#define LANE_INDEX ((int8)(0, 1, 2, 3, 4, 5, 6, 7))
#elif VW == 16
#define LANE_INDEX ((int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#else
#error "VW must be 1, 2, 4, 8 or 16"
#endif
#endif

#ifdef MASK
/* VW values j .. j + VW - 1 of the mask row at `row`, -inf past its nk keys; and MASK_ADD for
 * a vector. */
#if VW == 1
#define MASK_LOADV(p, e) MASK_LOAD(p, e)
#elif MASK == 1
#define MASK_LOADV(p, e) CAT(vload, VW)(0, (p) + (e))
#else
#define MASK_LOADV(p, e) CAT(vload_half, VW)(0, (p) + (e))
#endif
inline vec_t mask_loadv(__global const mask_t *mask, ulong row, int j, int nk)
{
    if (j <= nk - VW)
        return MASK_LOADV(mask, row + (ulong)j);
    float x[VW];
    for (int u = 0; u < VW; u++)
        x[u] = MASK_AT(row, j + u, nk);
    return VLOAD(x);
}
#define MASK_ADD_VEC(s, x)                                                                     \
    select((s) + (x) * (vec_t)((float)(SCORE_UNIT)), (vec_t)(-INFINITY), (x) == (vec_t)(-INFINITY))
#endif

/* SCORE_BIAS for a vector: the pairs (pos, j + lane) of keys j .. j + VW - 1. ALIBI_BIAS_VEC
 * takes the row's distance to a block's first key, `dist` = (float)(pos - j0) in every lane,
 * and the vector's first key k past j0 (a constant where the loop over vectors is unrolled):
 * three vector operations per vector, with one conversion per row and block. */
#ifndef ALIBI
#define SCORE_BIAS_VEC(s, slope, pos, j) s
#else
#if VW == 1
#define LANE_FLOATS 0.0f
#else
#define LANE_FLOATS CAT(convert_float, VW)(LANE_INDEX)
#endif
#define ALIBI_BIAS_VEC(s, slope, dist, k)                                                      \
    ((s) - (vec_t)(slope) * fabs((dist) - (LANE_FLOATS + (vec_t)(k))))
#define SCORE_BIAS_VEC(s, slope, pos, j)                                                       \
    ALIBI_BIAS_VEC(s, slope, (vec_t)((float)((long)(pos) - (long)(j))), 0.0f)
#endif

/* The larger of a and b: well defined for infinities (OpenCL's max is not), and without
 * fmax's NaN rule, which costs a compare and a blend; on x86 this is one maxps. A NaN score
 * needs no rescue: it makes its row NaN either way, as docs/semantics.md says. */
#define MAX_OF(a, b) select((a), (b), (a) < (b))

/* VW consecutive storage elements from p + i as f32 (alignment: one element). */
#if VW == 1
#define LOADV(p, i) LOAD(p, i)
#elif DTYPE == 0
#define LOADV(p, i) CAT(vload, VW)(0, (p) + (i))
#elif DTYPE == 1
#define LOADV(p, i) CAT(vload_half, VW)(0, (p) + (i))
#else
#define LOADV(p, i) CAT(as_float, VW)(CAT(convert_uint, VW)(CAT(vload, VW)(0, (p) + (i))) << 16)
#endif

/* VW consecutive K or V values from value i (for a block type, i a multiple of 4 and of VW). */
#if VW == 1
#define KV_LOADV(p, i) KV_LOAD(p, i)
#elif KV_DTYPE == 0
#define KV_LOADV(p, i) CAT(vload, VW)(0, (p) + (i))
#elif KV_DTYPE == 1
#define KV_LOADV(p, i) CAT(vload_half, VW)(0, (p) + (i))
#elif KV_DTYPE == 2
#define KV_LOADV(p, i) CAT(as_float, VW)(CAT(convert_uint, VW)(CAT(vload, VW)(0, (p) + (i))) << 16)
#elif VW == 2
#define KV_LOADV(p, i) ((float2)(KV_LOAD(p, i), KV_LOAD(p, (i) + 1)))
#elif VW == 4
#define KV_LOADV(p, i) kv_load4((p), (i))
#else
/* VW = 8 or 16 values of a quantized cache, as wide vectors: a block type's VW values lie in
 * one block (i is a multiple of VW there: rows start at whole blocks), behind one scale. */
#define KV_LOADV(p, i) kv_loadv((p), (i))
typedef CAT(uint, VW) uvec_t;
HOT_INLINE vec_t kv_loadv(__global const kv_t *p, ulong e)
{
#if KV_DTYPE == 3
    const vec_t q =
        CAT(convert_float, VW)(CAT(as_char, VW)(CAT(vload, VW)(0, p + e / 32 * 34 + 2 + e % 32)));
    return KV_BLOCK_SCALE(p, e) * q;
#elif KV_DTYPE == 4
    const uint j = (uint)(e % 32);
    const uvec_t b = CAT(convert_uint, VW)(CAT(vload, VW)(0, p + e / 32 * 18 + 2 + (j & 15u)));
    const ivec_t n = CAT(as_int, VW)(j < 16u ? b & 15u : b >> 4) - 8;
    return KV_BLOCK_SCALE(p, e) * CAT(convert_float, VW)(n);
#else
    const uvec_t c = CAT(convert_uint, VW)(CAT(vload, VW)(0, p + e));
#if KV_DTYPE == 5
    const uvec_t ex = (c >> 3) & 15u, m = c & 7u;
    uvec_t bits = select(((ex + 120u) << 23) | (m << 20),
                         CAT(as_uint, VW)(CAT(convert_float, VW)(m) * 0x1p-9f), ex == 0u);
    bits = select(bits, (uvec_t)(0x7fc00000u), (c & 0x7fu) == 0x7fu);
#else
    const uvec_t ex = (c >> 2) & 31u, m = c & 3u;
    uvec_t bits = select(((ex + 112u) << 23) | (m << 21),
                         CAT(as_uint, VW)(CAT(convert_float, VW)(m) * 0x1p-16f), ex == 0u);
    bits = select(bits, 0x7f800000u | (m << 21), ex == 31u);
#endif
    return CAT(as_float, VW)(bits | ((c & 0x80u) << 24));
#endif
}
#endif

/* Horizontal max and sum by halving: each step is one shuffle and one full-width op. */
inline float hmax(vec_t v)
{
#if VW == 16
    float8 a = MAX_OF(v.lo, v.hi);
    float4 b = MAX_OF(a.lo, a.hi);
    float2 c = MAX_OF(b.lo, b.hi);
    return MAX_OF(c.lo, c.hi);
#elif VW == 8
    float4 b = MAX_OF(v.lo, v.hi);
    float2 c = MAX_OF(b.lo, b.hi);
    return MAX_OF(c.lo, c.hi);
#elif VW == 4
    float2 c = MAX_OF(v.lo, v.hi);
    return MAX_OF(c.lo, c.hi);
#elif VW == 2
    return MAX_OF(v.lo, v.hi);
#else
    return v;
#endif
}

inline float hsum(vec_t v)
{
#if VW == 16
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    float2 c = b.lo + b.hi;
    return c.lo + c.hi;
#elif VW == 8
    float4 b = v.lo + v.hi;
    float2 c = b.lo + b.hi;
    return c.lo + c.hi;
#elif VW == 4
    float2 c = v.lo + v.hi;
    return c.lo + c.hi;
#elif VW == 2
    return v.lo + v.hi;
#else
    return v;
#endif
}

/* VW horizontal sums at once: lane u of the result is the sum of d[u]'s lanes. Vectors whose
 * lanes hold blocks of partial sums, one block per key, fold in pairs: the first halves of
 * every block of both, plus the second halves, gives blocks half as long for twice the keys,
 * in order. log2(VW) levels cost VW - 1 adds and two lane permutations each, where VW calls
 * of hsum cost VW log2(VW) of each. d is clobbered. */
#if VW == 16
#define FOLD_16(x, y) ((float16)((x).lo, (y).lo) + (float16)((x).hi, (y).hi))
#define FOLD_8(x, y)                                                                           \
    ((float16)((x).s0123, (x).s89ab, (y).s0123, (y).s89ab) +                                   \
     (float16)((x).s4567, (x).scdef, (y).s4567, (y).scdef))
#define FOLD_4(x, y)                                                                           \
    ((float16)((x).s01, (x).s45, (x).s89, (x).scd, (y).s01, (y).s45, (y).s89, (y).scd) +      \
     (float16)((x).s23, (x).s67, (x).sab, (x).sef, (y).s23, (y).s67, (y).sab, (y).sef))
#define FOLD_2(x, y) ((float16)((x).even, (y).even) + (float16)((x).odd, (y).odd))
HOT_INLINE vec_t hsum_each(vec_t *d)
{
    float16 a[8], b[4], c[2];
#pragma unroll
    for (int i = 0; i < 8; i++)
        a[i] = FOLD_16(d[2 * i], d[2 * i + 1]);
#pragma unroll
    for (int i = 0; i < 4; i++)
        b[i] = FOLD_8(a[2 * i], a[2 * i + 1]);
#pragma unroll
    for (int i = 0; i < 2; i++)
        c[i] = FOLD_4(b[2 * i], b[2 * i + 1]);
    return FOLD_2(c[0], c[1]);
}
#else
HOT_INLINE vec_t hsum_each(vec_t *d)
{
    vec_t s;
    __private float *sf = (__private float *)&s;
    for (int u = 0; u < VW; u++)
        sf[u] = hsum(d[u]);
    return s;
}
#endif

/* 2^x for x <= 0, -inf or NaN: the softmax's only transcendental. The library exp2 guards
 * the whole float range and special values, which costs about twice this on CPU devices.
 * Here 2^x = 2^n * 2^f with n = x rounded to nearest and f in [-0.5, 0.5]: adding 1.5 * 2^23
 * rounds x in the float adder and leaves n in the low mantissa bits, which shifted into the
 * exponent field give 2^n; 2^f is its Taylor series to degree 7 (truncation 5e-9, below f32
 * rounding). Below -127 the result is 0 (where the true value is below 1e-38), so -inf gives
 * exactly 0; NaN stays NaN. */
#define ROUNDER 12582912.0f /* 1.5 * 2^23 */
inline vec_t exp2_nonpositive(vec_t x)
{
    x = select(x, (vec_t)(-127.0f), x < (vec_t)(-127.0f));
    const vec_t t = x + (vec_t)(ROUNDER);
    const vec_t f = x - (t - (vec_t)(ROUNDER));
    vec_t p = (vec_t)(1.525273380405984e-05f);
    p = MAD(p, f, (vec_t)(1.5403530393381606e-04f));
    p = MAD(p, f, (vec_t)(1.3333558146428443e-03f));
    p = MAD(p, f, (vec_t)(9.618129107628477e-03f));
    p = MAD(p, f, (vec_t)(5.550410866482158e-02f));
    p = MAD(p, f, (vec_t)(2.402265069591007e-01f));
    p = MAD(p, f, (vec_t)(6.931471805599453e-01f));
    p = MAD(p, f, (vec_t)(1.0f));
    /* the rounder's own exponent bits shift out of the word: only n + 127 remains */
#if VW == 1
    return p * as_float((as_int(t) + 127) << 23);
#else
    return p * CAT(as_float, VW)((CAT(as_int, VW)(t) + (ivec_t)(127)) << 23);
#endif
}

/* The softcap on a vector of scores, for the register kernels whose compilers vectorise it
 * (PoCL's own vector tanh cost the tiled kernel 14 % at d 128): tanh|y| = (1 - e) / (1 + e)
 * with e = 2^(-2 log2(e) |y|) in (0, 1], from exp2_nonpositive. Its absolute error is a few
 * f32 ulps of 1, so the score's is a few ulps of the cap, as with the library's tanh; at
 * |y| > 44, e is below 2^-127 and the result is exactly +-cap. NaN stays NaN.
 * 1 / (1 + e) is Newton's: from the line 24/17 - 8/17 d, within 1/17 of 1/d on [1, 2], three
 * steps square the relative error down to 2^-32, below f32 rounding. Those seven fused
 * multiply-adds pipeline with the rest, where a 16-lane division holds x86's divider for ~16
 * cycles. What is left, ~28 vector operations per 16 scores against the 256 multiply-adds
 * of their dot products at d 128, is the softcap's cost: about 10 %. */
#ifdef SOFTCAP
inline vec_t score_cap_vec(vec_t x)
{
    const vec_t e = exp2_nonpositive(fabs(x) * (vec_t)(-2.0f * LOG2E / (float)(SOFTCAP)));
    const vec_t d = (vec_t)(1.0f) + e;
    vec_t inv = MAD(d, (vec_t)(-8.0f / 17.0f), (vec_t)(24.0f / 17.0f));
#pragma unroll
    for (int i = 0; i < 3; i++)
        inv = MAD(inv, MAD(-d, inv, (vec_t)(1.0f)), inv);
    return (vec_t)((float)(SOFTCAP)) * copysign(((vec_t)(1.0f) - e) * inv, x);
}
#define SCORE_CAP_VEC(x) score_cap_vec(x)
#else
#define SCORE_CAP_VEC(x) (x)
#endif

/* Packed head sizes: rows as whole vectors, zero-padded past d (D_*) or dv (DV_*): V rows
 * and output accumulators have DV_VECS. */
#define D_VECS ((HEAD_DIM + VW - 1) / VW)
#define D_PAD (D_VECS * VW)
#define DV_VECS ((HEAD_DIM_V + VW - 1) / VW)
#define DV_PAD (DV_VECS * VW)

/* The end of a row held as DV_VECS vectors (cl/decode.cl, cl/tiled_registers.cl): acc * inv,
 * through WRITE_RESULT as float4 chunks. */
#define ROW_PAD (DV_PAD > 4 * DV4 ? DV_PAD : 4 * DV4) /* a multiple of 4 */
inline void write_result_row(const vec_t *acc, float inv, float row_lse, int split, int splits,
                             int b, int pos, int h, RESULT_PARAMS)
{
    float4 out[ROW_PAD / 4];
    __private float *outf = (__private float *)out;
#pragma unroll
    for (int t = 0; t < DV_VECS; t++)
        VSTORE(acc[t] * (vec_t)(inv), &outf[t * VW]);
    for (int c = DV_PAD; c < ROW_PAD; c++) /* VW < 4 and dv not a multiple of 4 */
        outf[c] = 0.0f;
    WRITE_RESULT(out, DV4, 0, 1, 1.0f, 1, row_lse, b, pos, h); /* normalised above */
}

#ifdef KV_VECS
/* The register-blocked product S = Q K^T of cl/tiled_registers.cl and cl/naive.cl: ROWS query
 * rows against one block of BC keys of packed, transposed K (cl/pack.cl: row c of a block
 * holds element c of its BC keys), from the block's start kblock. s[r][u] gets the scores of
 * row r and keys u * VW .. u * VW + VW - 1 of the block; Q_AT(r, c) is element c of row r's
 * q. Per c, KV_VECS vector loads of K and one broadcast of q per row feed ROWS * KV_VECS
 * independent FMA chains, enough to hide the FMA latency. */
#define BC (KV_VECS * VW)
#define SCORE_BLOCK(s, kblock, Q_AT)                                                           \
    do {                                                                                       \
        _Pragma("unroll") for (int r = 0; r < ROWS; r++)                                       \
            _Pragma("unroll") for (int u = 0; u < KV_VECS; u++)                                \
                (s)[r][u] = (vec_t)(0.0f);                                                     \
        _Pragma("unroll 4") for (int c = 0; c < HEAD_DIM; c++)                                 \
        {                                                                                      \
            vec_t kvec[KV_VECS];                                                               \
            _Pragma("unroll") for (int u = 0; u < KV_VECS; u++)                                \
                kvec[u] = VLOAD((kblock) + c * BC + u * VW);                                   \
            _Pragma("unroll") for (int r = 0; r < ROWS; r++)                                   \
            {                                                                                  \
                const vec_t qc = (vec_t)(Q_AT(r, c));                                          \
                _Pragma("unroll") for (int u = 0; u < KV_VECS; u++)                            \
                    (s)[r][u] = MAD(qc, kvec[u], (s)[r][u]);                                   \
            }                                                                                  \
        }                                                                                      \
    } while (0)
#endif
#endif
