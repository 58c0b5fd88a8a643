/* Attention for few query rows against many keys (decoding with a KV cache), on devices that
 * take explicit vectors (CPUs). K and V are read where they are - contiguous or paged - since
 * packing them would triple the memory traffic of a step that is memory-bound.
 *
 * One work-item is a whole work-group: KVH kv heads of one batch entry, with RPK query rows
 * of each (common.cl's row order: the heads sharing the kv head, for each query position),
 * against the keys of one split (dimension 1 of the launch). For each key, the work-item
 * reads the K and V rows of its KVH kv heads - in the usual [B, N, Hkv, d] layout these are
 * contiguous, so the cache streams through in order instead of one page per key and head -
 * and uses each row for all the query rows that read it. Per run of VW keys: kv head by kv
 * head, its rows' q (then output) vectors sit in registers while the VW keys' K (then V) rows
 * go by; each row's VW scores (dot products vectorised over d) form one vector, which one
 * exp2 turns into probabilities. With one split O and LSE are
 * written directly; with several, partial rows go to part_o / part_lse for cl/merge.cl.
 *
 * With an additive mask (common.cl's MASK), a run of keys whose mask is -inf for every row
 * is skipped: its K and V rows are not read.
 *
 * A packed varlen batch (common.cl's VARLEN) is launched for its longest entry; each
 * work-item takes its entry's rows and keys and aligns the entry's rows to its own keys.
 *
 * Each K or V row read asks the caches for the same row PREFETCH_KEYS keys on. A CPU's own
 * prefetchers do not follow this walk (VW keys of one kv head, then the next kv head's):
 * without the hints the loads waited on DRAM, and the fewer bytes a row has, the fewer misses
 * the core kept in flight - a q8_0 cache ran slower than f16 (bench/results/
 * pocl-decode-prefetch-issue14.txt).
 *
 * Host defines: VW, KVH, RPK, and common.cl's DTYPE, HEAD_DIM and HEAD_DIM_V. */

#define ROWS (KVH * RPK)
/* How far ahead a row is asked for: four runs, the best of 1, 2, 4, 8 and 16 on PoCL (a
 * Xeon, into L1), and of 4 and 8 into L2 on an AMD EPYC. */
#define PREFETCH_KEYS (4 * VW)
/* The output pass keeps accumulators in registers: PV_ROWS rows (all RPK up to 16) times
 * PV_VECS of a V row's DV_VECS vectors, beside those PV_VECS vectors of V and a broadcast
 * probability, within 24 of AVX-512's 32 vector registers. A V row is then converted (or
 * dequantized) once per PV_ROWS rows, part by part; taking all DV_VECS at once spilled the
 * accumulators to memory for every multiply-add
 * (bench/results/pocl-decode-prefetch-issue14.txt). */
#define PV_ROWS (RPK < 16 ? RPK : 16)
#define PV_FIT (24 / (PV_ROWS + 1))
#if DV_VECS <= PV_FIT /* PV_VECS: the most that fit and divide DV_VECS */
#define PV_VECS DV_VECS
#elif PV_FIT >= 12 && DV_VECS % 12 == 0
#define PV_VECS 12
#elif PV_FIT >= 8 && DV_VECS % 8 == 0
#define PV_VECS 8
#elif PV_FIT >= 6 && DV_VECS % 6 == 0
#define PV_VECS 6
#elif PV_FIT >= 4 && DV_VECS % 4 == 0
#define PV_VECS 4
#elif PV_FIT >= 3 && DV_VECS % 3 == 0
#define PV_VECS 3
#elif PV_FIT >= 2 && DV_VECS % 2 == 0
#define PV_VECS 2
#else
#define PV_VECS 1
#endif

/* Vectors FIRST .. FIRST + COUNT - 1 of a row of DIM values from element (value) `row` of src,
 * zero past DIM, through LOADV_ (VW values) or LOAD_ (one) from ROW_AT(src, row); `missing`
 * in every lane when its page is not in the pool (common.cl's MISSING_K and MISSING_V).
 * Indexing from the row's start leaves a block type's offsets and scale positions constant. */
#define LOAD_ROW(dst, src, row, missing, ROW_AT, LOADV_, LOAD_, DIM, FIRST, COUNT)             \
    do {                                                                                       \
        if ((row) < 0) {                                                                       \
            _Pragma("unroll") for (int t = 0; t < (COUNT); t++) (dst)[t] = (vec_t)(missing);   \
        } else if ((DIM) % VW == 0) {                                                          \
            _Pragma("unroll") for (int t = 0; t < (COUNT); t++)                                 \
                (dst)[t] = LOADV_(ROW_AT(src, row), (ulong)(((FIRST) + t) * VW));              \
        } else {                                                                               \
            float tmp_[(COUNT) * VW];                                                          \
            for (int c = 0; c < (COUNT) * VW; c++) {                                           \
                const int col_ = (FIRST) * VW + c;                                             \
                tmp_[c] = col_ < (DIM) ? LOAD_(ROW_AT(src, row), (ulong)col_) : 0.0f;          \
            }                                                                                  \
            for (int t = 0; t < (COUNT); t++)                                                  \
                (dst)[t] = VLOAD(&tmp_[t * VW]);                                               \
        }                                                                                      \
    } while (0)
#define ROW_AT(p, e) ((p) + (e))

/* Asks for the row of DIM values at value index e of K or V (none when e < 0: a page that
 * is not in the pool), in lines of CACHE_LINE bytes, which the host defines from
 * CL_DEVICE_GLOBAL_MEM_CACHELINE_SIZE where global memory has a cache. */
#ifndef CACHE_LINE
#define PREFETCH_ROW(p, e, DIM)
#else
#define PREFETCH_ROW(p, e, DIM)                                                                \
    do {                                                                                       \
        if ((e) >= 0) {                                                                        \
            __global const uchar *c_ = (__global const uchar *)(p) + KV_BYTES(e);              \
            _Pragma("unroll") for (int x_ = 0; x_ < KV_BYTES(DIM); x_ += CACHE_LINE)           \
                PREFETCH_LINE(c_ + x_);                                                        \
            PREFETCH_LINE(c_ + KV_BYTES(DIM) - 1); /* a row across one more line */           \
        }                                                                                      \
    } while (0)
#endif

/* A q row (the storage type), a K row, and vectors first .. first + PV_VECS - 1 of a V row
 * (the cache's type; V's rows have dv values). */
HOT_INLINE void load_row(vec_t *dst, __global const storage_t *src, long row, float missing)
{
    LOAD_ROW(dst, src, row, missing, ROW_AT, LOADV, LOAD, HEAD_DIM, 0, D_VECS);
}

HOT_INLINE void load_k_row(vec_t *dst, __global const kv_t *src, long row, float missing)
{
    LOAD_ROW(dst, src, row, missing, KV_ROW_AT, KV_LOADV, KV_LOAD, HEAD_DIM, 0, D_VECS);
}

HOT_INLINE void load_v_part(vec_t *dst, __global const kv_t *src, long row, float missing,
                            int first)
{
    LOAD_ROW(dst, src, row, missing, KV_ROW_AT, KV_LOADV, KV_LOAD, HEAD_DIM_V, first, PV_VECS);
}

__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void decode_registers(IN_PLACE_PARAMS)
{
    const int kv_heads = heads / group, rows_per_kv = nq * group;
    const int head_blocks = (kv_heads + KVH - 1) / KVH;
    const int row_blocks = (rows_per_kv + RPK - 1) / RPK;
    const int item = (int)get_global_id(0);
    const int b = item / (head_blocks * row_blocks);
    const int g0 = (item / row_blocks) % head_blocks * KVH;
    const int r_first = item % row_blocks * RPK;
    const int split = (int)get_global_id(1), splits = (int)get_global_size(1);
    ENTRY_IN_PLACE(b, nq_entry, n_given);
    /* the entry's rows (a packed entry's own; the launch is sized by the longest) */
    const int rows_total = nq_entry * group;
#ifdef VARLEN
    if (r_first >= rows_total)
        return; /* past a short entry's rows: nothing to compute or write (a work-group of
                 * one work-item: no barrier for the others to meet) */
#endif
    const int n = max(n_given, 0);
    const long pos_off = row_position_offset(align_br, ENTRY_SHIFT(b, pos_shift), n, nq_entry);

    /* row r is row r_first + r % RPK of kv head g0 + r / RPK; heads and rows past the last
     * repeat it */
    vec_t qv[ROWS][D_VECS], acc[ROWS][DV_VECS], l[ROWS];
    float m[ROWS];
#ifdef ALIBI
    float slope[ROWS]; /* per row: its head's slope, and its position */
    long row_pos[ROWS];
#endif
#ifdef MASK
    ulong mask_row[ROWS]; /* per row: its row of the mask */
#endif
    int lo[ROWS], hi[ROWS];
    int lo_min = n, hi_max = 0;
#ifdef SINK_TOKENS /* per row: the end of the sink tokens it sees in the split (common.cl) */
    int sink_hi[ROWS], sink_hi_max = 0;
    const int split_lo = (int)min((long)split * split_len, (long)n);
#endif
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        const int g = min(g0 + r / RPK, kv_heads - 1);
        const int rr = min(r_first + r % RPK, rows_total - 1);
        const int i = ROW_POSITION(rr, group), h = ROW_HEAD(rr, group, g);
        load_row(qv[r], q, (long)q_off + b * q_sb + i * q_ss + h * q_sh, 0.0f);
#pragma unroll
        for (int t = 0; t < (D_VECS > DV_VECS ? D_VECS : DV_VECS); t++) {
            if (t < D_VECS)
                qv[r][t] *= (vec_t)(qscale);
            if (t < DV_VECS)
                acc[r][t] = (vec_t)(0.0f);
        }
        row_range(i, pos_off, causal, wl, wr, n, &lo[r], &hi[r]);
        /* this split's share of the row's keys */
        lo[r] = (int)max((long)lo[r], (long)split * split_len);
        hi[r] = (int)max((long)lo[r], min((long)hi[r], (long)(split + 1) * split_len));
        if (lo[r] < hi[r]) {
            lo_min = min(lo_min, lo[r]);
            hi_max = max(hi_max, hi[r]);
        }
#ifdef SINK_TOKENS
        sink_hi[r] = (int)clamp((long)sink_range(i, pos_off, causal, ENTRY_SINK_END(b), n),
                                (long)split_lo, min((long)(split + 1) * split_len, (long)n));
        sink_hi_max = max(sink_hi_max, sink_hi[r]);
#endif
#ifdef ALIBI
        slope[r] = ALIBI_SLOPE(b, h);
        row_pos[r] = i + pos_off;
#endif
#ifdef MASK
        mask_row[r] = MASK_ROW(b, i, h);
#endif
#ifdef SINKS
        m[r] = SPLIT_SINK(h, split); /* common.cl */
#else
        m[r] = -INFINITY;
#endif
        l[r] = (vec_t)(0.0f);
    }

    /* Counted in runs, and keys compared as differences from j0: j0 + VW may pass INT_MAX
     * after the last run of a cache of nearly 2^31 keys. With sink tokens the runs over the
     * sink tokens [split_lo, sink_hi_max) come first, and the window's go on from where they
     * end; keys past the last one some row sees are masked in every row. */
#ifdef SINK_TOKENS
    int walk_a, walk_b;
    const int runs = two_walks(split_lo, sink_hi_max, lo_min, hi_max, VW, &walk_a, &walk_b);
    for (int run = 0; run < runs; run++) {
        const int j0 = WALK_KEY(run, split_lo, walk_a, walk_b, VW);
        const int left = max(hi_max, sink_hi_max) - j0;
#define SEEN(u, r) (((u) >= lo[r] - j0 && (u) < hi[r] - j0) || (u) < sink_hi[r] - j0)
#else
    const int runs = hi_max > lo_min ? (hi_max - lo_min - 1) / VW + 1 : 0;
    for (int run = 0; run < runs; run++) {
        const int j0 = lo_min + run * VW, left = hi_max - j0;
#define SEEN(u, r) ((u) >= lo[r] - j0 && (u) < hi[r] - j0)
#endif
#ifdef MASK
        float mk[ROWS][VW]; /* the run's mask values per row */
        int hidden = 1;
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
            const vec_t x = mask_loadv(mask, mask_row[r], j0, nk);
            VSTORE(x, mk[r]);
            for (int u = 0; u < VW && u < left; u++)
                hidden &= mk[r][u] == -INFINITY;
        }
        if (hidden)
            continue; /* no pair of the run is visible */
#define MASKED(r, s) MASK_ADD_VEC(s, VLOAD(mk[r]))
#else
#define MASKED(r, s) (s)
#endif
        /* Scores, kv head by kv head: its rows' q in registers against VW keys' K rows; each
         * row's VW dot products are summed across lanes together (hsum_each). */
        float sc[ROWS][VW];
        for (int kh = 0; kh < KVH; kh++) {
            const int g = min(g0 + kh, kv_heads - 1);
            vec_t qr[RPK][D_VECS];
#pragma unroll
            for (int rk = 0; rk < RPK; rk++)
#pragma unroll
                for (int t = 0; t < D_VECS; t++)
                    qr[rk][t] = qv[kh * RPK + rk][t];
            vec_t dots[RPK][VW];
            for (int u = 0; u < VW; u++) {
                /* past the end, the last key again: its score is masked */
                const int j = u < left ? j0 + u : j0 + left - 1;
                const int ahead = j + min(PREFETCH_KEYS, j0 + left - 1 - j);
                PREFETCH_ROW(k, kv_offset(k_off, k_sb, k_ss, k_sh, b, ahead, g, KV_LAYOUT),
                             HEAD_DIM);
                vec_t kr[D_VECS];
                load_k_row(kr, k, kv_offset(k_off, k_sb, k_ss, k_sh, b, j, g, KV_LAYOUT),
                           MISSING_K);
#pragma unroll
                for (int rk = 0; rk < RPK; rk++) {
                    vec_t dot = qr[rk][0] * kr[0];
#pragma unroll
                    for (int t = 1; t < D_VECS; t++)
                        dot = MAD(qr[rk][t], kr[t], dot);
                    dots[rk][u] = dot;
                }
            }
#pragma unroll
            for (int rk = 0; rk < RPK; rk++)
                VSTORE(hsum_each(dots[rk]), sc[kh * RPK + rk]);
        }
        float p[ROWS][VW], alpha[ROWS];
        for (int r = 0; r < ROWS; r++) {
            const ivec_t u = LANE_INDEX; /* keys j0 + u; those no row r sees are masked */
            const vec_t s = select((vec_t)(-INFINITY),
                                   MASKED(r, SCORE_BIAS_VEC(SCORE_CAP_VEC(VLOAD(sc[r])),
                                                            slope[r], row_pos[r], j0)),
                                   SEEN(u, r));
            const float m_new = fmax(m[r], hmax(s));
            const float m_use = SCORE_SHIFT(m_new);
            /* the running max rarely moves after the first runs: skip the scalar exp2 then
             * (when m is -inf and stays so, l and acc are 0 and a factor of 1 is as good) */
            alpha[r] = m_new == m[r] ? 1.0f : exp2(m[r] - m_use);
            const vec_t pv = exp2_nonpositive(s - (vec_t)(m_use));
            l[r] = MAD(l[r], (vec_t)(alpha[r]), pv);
            VSTORE(pv, p[r]);
            m[r] = m_new;
        }
        /* Output, kv head by kv head, PV_ROWS of its rows and PV_VECS vectors of their
         * output at a time: the accumulators stay in registers while the run's VW V rows go
         * by, each part of a V row converted once (the next part comes again from L1). */
        for (int kh = 0; kh < KVH; kh++) {
            const int g = min(g0 + kh, kv_heads - 1);
            for (int r0 = kh * RPK; r0 < (kh + 1) * RPK; r0 += PV_ROWS)
                for (int t0 = 0; t0 < DV_VECS; t0 += PV_VECS) {
                    vec_t a[PV_ROWS][PV_VECS];
#pragma unroll
                    for (int rk = 0; rk < PV_ROWS; rk++)
#pragma unroll
                        for (int t = 0; t < PV_VECS; t++)
                            a[rk][t] = acc[r0 + rk][t0 + t] * (vec_t)(alpha[r0 + rk]);
                    for (int u = 0; u < VW; u++) {
                        /* a key past the end has p = 0 in every row: the last key again is
                         * safe */
                        const int j = u < left ? j0 + u : j0 + left - 1;
                        if (r0 == kh * RPK && t0 == 0) {
                            const int ahead = j + min(PREFETCH_KEYS, j0 + left - 1 - j);
                            PREFETCH_ROW(
                                v, kv_offset(v_off, v_sb, v_ss, v_sh, b, ahead, g, KV_LAYOUT),
                                HEAD_DIM_V);
                        }
                        vec_t vr[PV_VECS];
                        load_v_part(vr, v,
                                    kv_offset(v_off, v_sb, v_ss, v_sh, b, j, g, KV_LAYOUT),
                                    MISSING_V, t0);
#pragma unroll
                        for (int rk = 0; rk < PV_ROWS; rk++)
#pragma unroll
                            for (int t = 0; t < PV_VECS; t++)
                                a[rk][t] = MAD((vec_t)(p[r0 + rk][u]), vr[t], a[rk][t]);
                    }
#pragma unroll
                    for (int rk = 0; rk < PV_ROWS; rk++)
#pragma unroll
                        for (int t = 0; t < PV_VECS; t++)
                            acc[r0 + rk][t0 + t] = a[rk][t];
                }
        }
    }

    for (int r = 0; r < ROWS; r++) {
        const int g = g0 + r / RPK, rr = r_first + r % RPK;
        if (g >= kv_heads || rr >= rows_total)
            continue;
        const int i = ROW_POSITION(rr, group), h = ROW_HEAD(rr, group, g);
        float inv, row_lse;
        row_epilogue(n_given, m[r], WITH_SINK(hsum(l[r]), m[r], SPLIT_SINK(h, split)), &inv,
                     &row_lse);
        write_result_row(acc[r], inv, row_lse, split, splits, b, i, h, RESULT);
    }
}
