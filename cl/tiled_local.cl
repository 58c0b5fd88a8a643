/* Fused attention for devices with dedicated local memory (CL_LOCAL: GPUs), and for
 * implementations that vectorise across work-items themselves, organised as two
 * register-tiled products per tile of keys, the way GEMM kernels organise a work-group.
 *
 * A work-group owns BR query rows of one (batch, kv head): the rows of every query head that
 * reads the kv head, in common.cl's row order, so each K and V tile is loaded once for all of
 * them. Its RG x KG work-items form a grid: row group rg holds rows rg*TM .. rg*TM+TM-1, key
 * group kg holds the keys kg, kg + KG, ... of each tile (TN of them) and the output columns
 * of the 4-column chunks kg, kg + KG, ... of dv (TD4 chunks). Per tile of BC keys:
 *   S:  each work-item multiplies its TM x TN block of scores, reading float4s of Q (resident
 *       in __local for the whole key loop) and of K from __local: TM + TN loads feed
 *       4 * TM * TN multiply-adds;
 *   softmax: the row's maximum over its KG work-items through __local (only boundary tiles
 *       are masked), probabilities to __local P; each work-item keeps the partial row sum of
 *       its own keys, reduced once at the end;
 *   PV: each work-item updates its TM x 4*TD4 block of O in registers, reading P and V as
 *       float4s: TM + 4 * TD4 loads feed 16 * TM * TD4 multiply-adds per four keys.
 * K and V have their own __local buffers. The next tile's K and V are loaded from global
 * memory into registers before the current tile's products, and stored to __local once the
 * current tile no longer needs the space, so the loads' latency hides behind the math (three
 * barriers per tile). f16 and bf16 K and V stay 16-bit in __local and are widened when read.
 *
 * __local layouts are row-major with padded strides: key group kg reads row kg of a K tile
 * while its neighbours read rows kg + 1, ..., and an odd number of float4s per row puts those
 * rows in different banks; V and P rows are read by every work-item of a row group at once,
 * contiguously.
 *
 * Split keys (decoding with many rows, or long runs on devices that cap a work-group's loop):
 * dimension 1 of the launch splits each entry's keys into runs of split_len; each work-group
 * then writes its rows' partial output and LSE to part_o / part_lse ([split][part_rows rows
 * in LSE order][HEAD_DIM_V], f32) for cl/merge.cl. With one split, O and LSE are written
 * directly.
 *
 * With an additive mask (common.cl's MASK), the host's tile map (MASK_TILES) says which tiles
 * of BR rows x BC keys are all -inf, which the loop skips (their K and V are never loaded),
 * and which are all 0, where no mask is read.
 *
 * Host defines: BR, BC, TM, TN (tile and micro-tile sizes, lib/local_tiles.c), and
 * common.cl's DTYPE, KV_DTYPE, HEAD_DIM, HEAD_DIM_V and KV_ALIGNED. */

#define RG (BR / TM)                  /* row groups */
#define KG (BC / TN)                  /* key groups, which are also column groups */
#define WG (RG * KG)                  /* work-items */
#define TD4 ((DV4 + KG - 1) / KG)     /* output chunks per work-item */
#define ROW_STRIDE (4 * (D4 | 1))     /* elements between rows of the Q and K tiles */
#define V_STRIDE (4 * (DV4 | 1))      /* ... and of the V tile */
#define P_STRIDE (4 * ((BC / 4) | 1)) /* floats between rows of P */
#define K_CHUNKS (BC * D4)            /* float4 chunks of one K tile */
#define V_CHUNKS (BC * DV4)           /* ... and of one V tile */
#define K_PER_ITEM ((K_CHUNKS + WG - 1) / WG)
#define V_PER_ITEM ((V_CHUNKS + WG - 1) / WG)

#if BR % TM || BC % TN || BC % 4
#error "BR must be a multiple of TM, and BC of TN and of 4"
#endif

/* Raw K and V elements as they travel from global to __local memory: four at a time, bits
 * unchanged, so f16 and bf16 stay 16-bit. RAW_NAN4 is a NaN of the storage type: a K row whose
 * page is not in the pool (common.cl's MISSING_K); a V row there is 0 (MISSING_V). A cache of
 * a type other than Q's (KV_DTYPE) travels as f32, converted as it is read (kv_load4). */
#if KV_DTYPE != DTYPE
typedef float kv_local_t;
typedef float4 raw4_t;
typedef kv_t kv_raw_t;
#define RAW_NAN4 ((float4)(NAN))
#define STORE_RAW4(x, tile, e) vstore4((x), 0, (tile) + (e))
#define LOAD_KV4(tile, e) vload4(0, (tile) + (e))
#elif DTYPE == 0
typedef float kv_local_t;
typedef uint4 raw4_t;
typedef raw_t kv_raw_t;
#define RAW_NAN4 ((uint4)(0x7fc00000u))
#define STORE_RAW4(x, tile, e) vstore4(as_float4(x), 0, (tile) + (e))
#define LOAD_KV4(tile, e) vload4(0, (tile) + (e))
#else
typedef ushort kv_local_t;
typedef ushort4 raw4_t;
typedef raw_t kv_raw_t;
#if DTYPE == 1
#define RAW_NAN4 ((ushort4)(0x7e00))
#define LOAD_KV4(tile, e) vload_half4(0, (__local const half *)(tile) + (e))
#else
#define RAW_NAN4 ((ushort4)(0x7fc0))
#define LOAD_KV4(tile, e) as_float4(convert_uint4(vload4(0, (tile) + (e))) << 16)
#endif
#define STORE_RAW4(x, tile, e) vstore4((x), 0, (tile) + (e))
#endif

/* Chunk c4 of a K or V row of `dim` elements (HEAD_DIM or HEAD_DIM_V, constants where this
 * is inlined) at element `row`, bits unchanged: through a vector pointer when KV_ALIGNED
 * promises the alignment (common.cl); otherwise by vload4, or element by element for a last,
 * partial chunk (dim not a multiple of 4), zero past dim, so nothing past the row is touched.
 * A cache of another type is read as f32 by common.cl's load_kv_chunk4. */
inline raw4_t load_raw4(__global const kv_raw_t *src, ulong row, int c4, int dim)
{
#if KV_DTYPE != DTYPE
    return load_kv_chunk4(src, row, c4, dim);
#elif KV_ALIGNED
    return ((__global const raw4_t *)(src + row))[c4];
#else
    const ulong e = row + (ulong)(c4 * 4);
    if (dim % 4 && c4 == dim / 4) {
        raw4_t x = (raw4_t)(0);
        x.s0 = src[e];
        if (dim % 4 > 1)
            x.s1 = src[e + 1];
        if (dim % 4 > 2)
            x.s2 = src[e + 2];
        return x;
    }
    return vload4(0, src + e);
#endif
}

/* Chunk `chunk` (key chunk / CH of the tile at j0, columns chunk % CH, for rows of CH chunks
 * and `dim` elements) of K or V: zeros for keys past n, NaN for keys whose page is not in the
 * pool. Key positions are compared as differences from j0, which stay in range where j0 + BC
 * would pass INT_MAX (the last tile of a cache of nearly 2^31 keys). */
inline raw4_t load_chunk(__global const kv_raw_t *src, ulong off, long sb, long ss, long sh, int b,
                         int g, int j0, int n, int chunk, int dim, raw4_t missing,
                         KV_LAYOUT_PARAMS)
{
    const int ch = (dim + 3) / 4, jj = chunk / ch, c4 = chunk - jj * ch;
    if (jj >= n - j0)
        return (raw4_t)(0);
    const long row = kv_offset(off, sb, ss, sh, b, j0 + jj, g, KV_LAYOUT);
    return row < 0 ? missing : load_raw4(src, (ulong)row, c4, dim);
}

/* The tile at j0 of K (PART K, rows of HEAD_DIM) or V (PART V, HEAD_DIM_V) into registers
 * (this work-item's share). */
#define K_DIM HEAD_DIM
#define V_DIM HEAD_DIM_V
#define FETCH_TILE(PART, regs, src, off, sb, ss, sh, j0, missing)                              \
    for (int u = 0; u < PART##_PER_ITEM; u++) {                                                 \
        const int chunk = lid + u * WG;                                                         \
        if (PART##_CHUNKS % WG == 0 || chunk < PART##_CHUNKS)                                   \
            regs[u] = load_chunk((__global const kv_raw_t *)(src), off, sb, ss, sh, b, g, (j0),  \
                                 n, chunk, PART##_DIM, (missing), KV_LAYOUT);                   \
    }

/* This work-item's share of a tile from registers into __local, rows `stride` apart. */
#define STORE_TILE(PART, regs, tile, stride)                                                   \
    for (int u = 0; u < PART##_PER_ITEM; u++) {                                                 \
        const int chunk = lid + u * WG, ch = (PART##_DIM + 3) / 4;                              \
        if (PART##_CHUNKS % WG == 0 || chunk < PART##_CHUNKS) {                                 \
            const int jj = chunk / ch;                                                          \
            STORE_RAW4(regs[u], tile, jj * (stride) + (chunk - jj * ch) * 4);                   \
        }                                                                                       \
    }

/* The mask's tile classes (common.cl): the group's walk goes from a visible tile to the next
 * one, past those whose mask is all -inf; TILE_CLASS(t) is tile t's class. TILE_BLOCK(t),
 * defined in the kernel, is tile t's key block, the map's column. */
#ifdef MASK_TILES
#define NEXT_VISIBLE(t)                                                                        \
    while ((t) < tiles && map_row[TILE_BLOCK(t)] == MASK_HIDDEN)                               \
    (t)++
#define TILE_CLASS(t) map_row[TILE_BLOCK(t)]
#else
#define NEXT_VISIBLE(t)
#define TILE_CLASS(t) MASK_MIXED
#endif

/* The maximum (max = 1) or sum of a row's KG partials in __local, read four at a time. */
inline float row_partials(__local const float *x, int max)
{
#if KG % 4 == 0
    float4 a = vload4(0, x);
    for (int u = 4; u < KG; u += 4) {
        const float4 b = vload4(0, x + u);
        a = max ? fmax(a, b) : a + b;
    }
    const float2 c = max ? fmax(a.lo, a.hi) : a.lo + a.hi;
    return max ? fmax(c.x, c.y) : c.x + c.y;
#else
    float a = x[0];
    for (int u = 1; u < KG; u++)
        a = max ? fmax(a, x[u]) : a + x[u];
    return a;
#endif
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void attend_local(IN_PLACE_PARAMS)
{
    __local float q_tile[BR * ROW_STRIDE];
    __local kv_local_t k_tile[BC * ROW_STRIDE];
    __local kv_local_t v_tile[BC * V_STRIDE];
    __local float p_tile[BR * P_STRIDE];
    __local float partial[BR * KG]; /* per row and key group: maxima, at the end sums */

    const int lid = (int)get_local_id(0);
    const int rg = lid / KG, kg = lid - rg * KG;
    const int kv_heads = heads / group;
    const int row_blocks = (nq * group + BR - 1) / BR;
    const int grp = (int)get_group_id(0);
    const int bkv = grp / row_blocks;
    const int rb = row_blocks - 1 - grp % row_blocks; /* heaviest causal blocks first */
    const int b = bkv / kv_heads, g = bkv % kv_heads;
    const int split = (int)get_group_id(1), splits = (int)get_num_groups(1);
    const int r_first = rb * BR;
    ENTRY_IN_PLACE(b, nq_entry, n_given);
    const int rows_total = nq_entry * group;
    /* A work-group past a short entry's rows computes nothing (no row, no tile), and still
     * meets every barrier: PoCL's work-group loops mishandle a return before a barrier, even
     * one the whole group takes (a 16 KiB local-memory profile's tiles showed it). Its rows
     * are clamped to the entry's first, and read as zeros, so that nothing out of the entry's
     * rows is touched. */
#ifdef VARLEN
    const int idle = r_first >= rows_total;
#else
    const int idle = 0;
#endif
    const int rows = idle ? 0 : min(BR, rows_total - r_first);
    const int row_last = max(rows_total - 1, 0);
    const int n = max(n_given, 0);
    const long pos_off = row_position_offset(align_br, ENTRY_SHIFT(b, pos_shift), n, nq_entry);
    /* this work-group's share of the keys */
    const int split_lo = (int)min((long)split * split_len, (long)n);
    const int split_hi = (int)min((long)split_lo + split_len, (long)n);

    /* Q, pre-scaled to base 2 and zero past d, stays in __local for the whole key loop. */
    for (int e = lid; e < BR * D4; e += WG) {
        const int rr = e / D4, c4 = e - rr * D4;
        const int row = min(r_first + rr, row_last);
        const int i = ROW_POSITION(row, group), h = ROW_HEAD(row, group, g);
        const ulong q_row = q_off + (ulong)(b * q_sb + (long)i * q_ss + h * q_sh);
        vstore4(idle ? (float4)(0.0f) : load_chunk4(q, q_row, c4) * qscale, 0,
                q_tile + rr * ROW_STRIDE + c4 * 4);
    }

    /* Each row's visible keys within the split. Rows are in position order, so the group's
     * first row sees the leftmost keys and its last row the rightmost: the union of all
     * ranges is [tile_lo, tile_hi), and tiles inside [full_lo, full_hi) are visible to every
     * row and need no mask. */
    int lo[TM], hi[TM];
#ifdef SINK_TOKENS /* per row: the end of the sink tokens it sees in the split (common.cl) */
    int sink_hi[TM];
#endif
#ifdef ALIBI
    float slope[TM]; /* per row: its head's slope, and its position */
    long row_pos[TM];
#endif
#ifdef MASK
    ulong mask_row[TM]; /* per row: its row of the mask */
#endif
#pragma unroll
    for (int i = 0; i < TM; i++) {
        const int row = min(r_first + rg * TM + i, row_last);
        row_range(ROW_POSITION(row, group), pos_off, causal, wl, wr, n, &lo[i], &hi[i]);
#ifdef ALIBI
        slope[i] = ALIBI_SLOPE(b, ROW_HEAD(row, group, g));
        row_pos[i] = ROW_POSITION(row, group) + pos_off;
#endif
#ifdef MASK
        mask_row[i] = MASK_ROW(b, ROW_POSITION(row, group), ROW_HEAD(row, group, g));
#endif
        lo[i] = clamp(lo[i], split_lo, split_hi);
        hi[i] = clamp(hi[i], lo[i], split_hi);
#ifdef SINK_TOKENS
        sink_hi[i] = clamp(sink_range(ROW_POSITION(row, group), pos_off, causal,
                                      ENTRY_SINK_END(b), n),
                           split_lo, split_hi);
#endif
    }
    int tile_lo, tile_hi, full_lo, full_hi;
    row_range(ROW_POSITION(r_first, group), pos_off, causal, wl, wr, n, &tile_lo, &full_hi);
    row_range(ROW_POSITION(r_first + rows - 1, group), pos_off, causal, wl, wr, n, &full_lo,
              &tile_hi);
    tile_lo = max(tile_lo, split_lo);
    tile_hi = max(min(tile_hi, split_hi), tile_lo);
    full_lo = max(full_lo, split_lo);
    full_hi = min(full_hi, split_hi);

    float4 acc[TM][TD4];
    float m[TM], l[TM];
#pragma unroll
    for (int i = 0; i < TM; i++) {
#ifdef SINKS /* common.cl: the split's sink starts the maximum */
        m[i] = SPLIT_SINK(ROW_HEAD(min(r_first + rg * TM + i, row_last), group, g),
                          split);
#else
        m[i] = -INFINITY;
#endif
        l[i] = 0.0f;
#pragma unroll
        for (int u = 0; u < TD4; u++)
            acc[i][u] = (float4)(0.0f);
    }

    raw4_t k_next[K_PER_ITEM], v_next[V_PER_ITEM];
#ifdef SINK_TOKENS
    /* the tiles of the sink tokens the last row sees (the most: rows are in position
     * order), then the window's; the same walk for every work-item of the group */
    const int group_sink_hi = clamp(sink_range(ROW_POSITION(r_first + rows - 1, group), pos_off,
                                               causal, ENTRY_SINK_END(b), n),
                                    split_lo, split_hi);
    int walk_a, walk_b;
    const int sink_first = split_lo / BC * BC;
    const int tiles = idle ? 0
                           : two_walks(sink_first, group_sink_hi, tile_lo / BC * BC, tile_hi,
                                       BC, &walk_a, &walk_b);
#define TILE_KEY(t) WALK_KEY(t, sink_first, walk_a, walk_b, BC)
#else
    const int first = tile_lo / BC * BC;
    /* counted in tiles: j0 + BC may pass INT_MAX after the last one */
    const int tiles =
        !idle && first < tile_hi ? (int)(((long)tile_hi - first + BC - 1) / BC) : 0;
#define TILE_KEY(t) (first + (t) * BC)
#endif
#define TILE_BLOCK(t) (TILE_KEY(t) / BC)
#ifdef MASK_TILES
    __global const uchar *map_row = &MASK_TILE(b, g, rb, 0);
#endif
    /* the tiles visible through the mask, in order (without a mask, every tile) */
    int tile = 0, next;
    NEXT_VISIBLE(tile);
    if (tile < tiles) {
        FETCH_TILE(K, k_next, k, k_off, k_sb, k_ss, k_sh, TILE_KEY(tile), RAW_NAN4);
        FETCH_TILE(V, v_next, v, v_off, v_sb, v_ss, v_sh, TILE_KEY(tile), (raw4_t)(0));
        STORE_TILE(K, k_next, k_tile, ROW_STRIDE);
        STORE_TILE(V, v_next, v_tile, V_STRIDE);
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    for (; tile < tiles; tile = next) {
        const int j0 = TILE_KEY(tile);
        next = tile + 1;
        NEXT_VISIBLE(next);
        const int more = next < tiles;
        if (more) { /* the next tile's loads are in flight during this tile's products */
            FETCH_TILE(K, k_next, k, k_off, k_sb, k_ss, k_sh, TILE_KEY(next), RAW_NAN4);
            FETCH_TILE(V, v_next, v, v_off, v_sb, v_ss, v_sh, TILE_KEY(next), (raw4_t)(0));
        }

        /* S = Q K^T for this work-item's TM rows and TN keys: four partial sums per score, so
         * that each multiply-add is one lane of a float4 fma, summed once per tile */
        float s[TM][TN];
        {
            float4 part[TM][TN];
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int jn = 0; jn < TN; jn++)
                    part[i][jn] = (float4)(0.0f);
            __local const float *qp = q_tile + rg * TM * ROW_STRIDE;
            __local const kv_local_t *kp = k_tile + kg * ROW_STRIDE;
#pragma unroll 4
            for (int c4 = 0; c4 < D4; c4++) {
                float4 kv[TN];
#pragma unroll
                for (int jn = 0; jn < TN; jn++)
                    kv[jn] = LOAD_KV4(kp, jn * KG * ROW_STRIDE + c4 * 4);
#pragma unroll
                for (int i = 0; i < TM; i++) {
                    const float4 qv = vload4(0, qp + i * ROW_STRIDE + c4 * 4);
#pragma unroll
                    for (int jn = 0; jn < TN; jn++)
                        part[i][jn] = MAD(qv, kv[jn], part[i][jn]);
                }
            }
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int jn = 0; jn < TN; jn++)
                    s[i][jn] = SCORE_BIAS(SCORE_CAP((part[i][jn].x + part[i][jn].y) +
                                                    (part[i][jn].z + part[i][jn].w)),
                                          slope[i], row_pos[i], j0 + kg + jn * KG);
        }
#ifdef MASK
        if (TILE_CLASS(tile) == MASK_MIXED)
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int jn = 0; jn < TN; jn++)
                    s[i][jn] = MASK_ADD(s[i][jn], MASK_AT(mask_row[i], j0 + kg + jn * KG, nk));
#endif
        if (j0 < full_lo || BC > full_hi - j0) /* a boundary tile */
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int jn = 0; jn < TN; jn++) {
                    const int jj = kg + jn * KG;
#ifdef SINK_TOKENS /* a sink token of the split is visible outside the window */
                    if ((jj < lo[i] - j0 || jj >= hi[i] - j0) &&
                        !(jj >= split_lo - j0 && jj < sink_hi[i] - j0))
#else
                    if (jj < lo[i] - j0 || jj >= hi[i] - j0)
#endif
                        s[i][jn] = -INFINITY;
                }
#pragma unroll
        for (int i = 0; i < TM; i++) {
            float x = s[i][0];
#pragma unroll
            for (int jn = 1; jn < TN; jn++)
                x = fmax(x, s[i][jn]);
            partial[(rg * TM + i) * KG + kg] = x;
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* partial maxima written, K tile read */
        if (more)
            STORE_TILE(K, k_next, k_tile, ROW_STRIDE);

        float alpha[TM];
#pragma unroll
        for (int i = 0; i < TM; i++) {
            const int rr = rg * TM + i;
            const float tile_max = row_partials(partial + rr * KG, 1);
            const float m_new = fmax(m[i], tile_max);
            const float m_use = SCORE_SHIFT(m_new); /* common.cl: a row without keys yet */
            alpha[i] = exp2(m[i] - m_use);
            m[i] = m_new;
            float sum = 0.0f;
#pragma unroll
            for (int jn = 0; jn < TN; jn++) {
                const float pj = exp2(s[i][jn] - m_use);
                p_tile[rr * P_STRIDE + kg + jn * KG] = pj;
                sum += pj;
            }
            l[i] = MAD(l[i], alpha[i], sum);
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* P written, partial maxima read */

        /* O = alpha O + P V for this work-item's TM rows and TD4 chunks of columns */
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
            for (int u = 0; u < TD4; u++)
                acc[i][u] *= alpha[i];
        {
            __local const float *pp = p_tile + rg * TM * P_STRIDE;
#pragma unroll
            for (int jj = 0; jj < BC; jj += 4) {
                float4 pv[TM];
#pragma unroll
                for (int i = 0; i < TM; i++)
                    pv[i] = vload4(0, pp + i * P_STRIDE + jj);
#pragma unroll
                for (int u = 0; u < TD4; u++) {
                    const int c4 = kg + u * KG;
                    if (DV4 % KG == 0 || c4 < DV4) {
                        __local const kv_local_t *vp = v_tile + jj * V_STRIDE + c4 * 4;
                        const float4 v0 = LOAD_KV4(vp, 0), v1 = LOAD_KV4(vp, V_STRIDE);
                        const float4 v2 = LOAD_KV4(vp, 2 * V_STRIDE);
                        const float4 v3 = LOAD_KV4(vp, 3 * V_STRIDE);
#pragma unroll
                        for (int i = 0; i < TM; i++) {
                            float4 a = acc[i][u];
                            a = MAD((float4)(pv[i].x), v0, a);
                            a = MAD((float4)(pv[i].y), v1, a);
                            a = MAD((float4)(pv[i].z), v2, a);
                            acc[i][u] = MAD((float4)(pv[i].w), v3, a);
                        }
                    }
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* V tile and P read */
        if (more)
            STORE_TILE(V, v_next, v_tile, V_STRIDE); /* visible after the next tile's first barrier */
    }

    /* the row sums, from every key group's share */
#pragma unroll
    for (int i = 0; i < TM; i++)
        partial[(rg * TM + i) * KG + kg] = l[i];
    barrier(CLK_LOCAL_MEM_FENCE);

#pragma unroll
    for (int i = 0; i < TM; i++) {
        const int rr = rg * TM + i;
        if (rr >= rows)
            continue;
        const float sum = row_partials(partial + rr * KG, 0);
        float inv, row_lse;
        row_epilogue(n_given, m[i],
                     WITH_SINK(sum, m[i], SPLIT_SINK(ROW_HEAD(r_first + rr, group, g), split)),
                     &inv, &row_lse);
        const int row = r_first + rr;
        const int pos = ROW_POSITION(row, group), h = ROW_HEAD(row, group, g);
        WRITE_RESULT(acc[i], TD4, kg, KG, inv, kg == 0, row_lse, b, pos, h);
    }
}
