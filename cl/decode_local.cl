/* Attention for few query rows against many keys (decoding with a KV cache) on GPUs: split-KV
 * ("flash-decoding"), with every query row of a kv head in one work-group so that each K and
 * V element is read from global memory once for all of them (grouped-query attention).
 *
 * A work-group of WG work-items takes ROWS query rows of one (batch, kv head) - the rows of
 * every query head that reads it, in common.cl's row order - against the keys of one split
 * (dimension 1 of the launch), at most SPLIT_MAX of them:
 *   scores: work-item t takes keys t, t + WG, ...; it reads each key's K row as float4
 *       chunks (16 bytes a load in f32, 8 in f16 and bf16) against the rows' q chunks, which
 *       every work-item reads at once from __local, and writes the row's scores to __local.
 *       It also finds the key's V row, once per key (a page-table read when paged), for the
 *       output pass;
 *   softmax: the split's maximum and sum per row, over all work-items by halving through
 *       __local; the scores become probabilities in place;
 *   output: the work-items lie across dv, DV4 float4 chunks per key, in SLOTS slots that take
 *       keys s, s + SLOTS, ...: each reads its V chunk (consecutive work-items, consecutive
 *       addresses) and updates the ROWS rows' output chunks in registers; the slots' sums are
 *       added through __local at the end.
 * The split holds the whole softmax in __local, so there is no running rescale. With one
 * split, O and LSE are written directly; with several, the partial rows go to part_o /
 * part_lse for cl/merge.cl.
 *
 * With an additive mask (common.cl's MASK), a key whose mask is -inf for every row is skipped:
 * its K and V rows are not read.
 *
 * A packed varlen batch (common.cl's VARLEN) is launched for its longest entry; each
 * work-group takes its entry's rows and keys and aligns the entry's rows to its own keys.
 *
 * Host defines: ROWS, WG (a power of two, at least DV4), SPLIT_MAX (a multiple of 4), and
 * common.cl's DTYPE, HEAD_DIM, HEAD_DIM_V and KV_ALIGNED. */

#define SLOTS (WG / DV4) /* keys the output pass takes at once; common.cl's DV4 chunks */

#if WG & (WG - 1) || WG < DV4 || SPLIT_MAX % 4
#error "WG must be a power of two of at least DV4 work-items, SPLIT_MAX a multiple of 4"
#endif
#if SLOTS * ROWS * DV4 > ROWS * SPLIT_MAX / 4
#error "the slots' output sums must fit the score buffer they reuse"
#endif

/* Halving reduction of one value per work-item and row in red[row * WG + lid]: the row's
 * maximum (max = 1) or sum ends in red[row * WG]. Every work-item calls it. */
inline void reduce_rows(__local float *red, int lid, int max)
{
    for (int step = WG / 2; step > 0; step /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < step)
#pragma unroll
            for (int r = 0; r < ROWS; r++) {
                const float a = red[r * WG + lid], b = red[r * WG + lid + step];
                red[r * WG + lid] = max ? fmax(a, b) : a + b;
            }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void decode_local(IN_PLACE_PARAMS)
{
    __local float4 q_tile[ROWS * D4];
    /* scores, then probabilities, [ROWS][SPLIT_MAX]; at the end the slots' output sums */
    __local float4 scores4[ROWS * SPLIT_MAX / 4];
    __local float *scores = (__local float *)scores4;
    __local long v_rows[SPLIT_MAX];
    __local float red[ROWS * WG];

    const int lid = (int)get_local_id(0);
    const int kv_heads = heads / group, rows_per_kv = nq * group;
    const int row_blocks = (rows_per_kv + ROWS - 1) / ROWS;
    const int grp = (int)get_group_id(0);
    const int b = grp / (kv_heads * row_blocks);
    const int g = grp / row_blocks % kv_heads;
    const int r_first = grp % row_blocks * ROWS;
    const int split = (int)get_group_id(1), splits = (int)get_num_groups(1);
    ENTRY_IN_PLACE(b, nq_entry, n_given);
    /* The entry's rows (a packed entry's own; the launch is sized by the longest). A
     * work-group past a short entry's rows computes nothing and still meets every barrier, as
     * cl/tiled_local.cl's does (PoCL's work-group loops mishandle a return before one); its
     * rows are clamped to the entry's first and read as zeros, so nothing outside the entry's
     * rows is touched. */
    const int rows_total = nq_entry * group;
#ifdef VARLEN
    const int idle = r_first >= rows_total;
#else
    const int idle = 0;
#endif
    const int row_last = max(rows_total - 1, 0);
    const int n = max(n_given, 0);
    const long pos_off = row_position_offset(align_br, ENTRY_SHIFT(b, pos_shift), n, nq_entry);
    /* this work-group's share of the keys: none for an idle one */
    const int split_lo = (int)min((long)split * split_len, (long)n);
    const int split_hi = idle ? split_lo : (int)min((long)split_lo + split_len, (long)n);

    /* rows past the last repeat it; their results are not written */
    for (int e = lid; e < ROWS * D4; e += WG) {
        const int row = min(r_first + e / D4, row_last);
        const int i = ROW_POSITION(row, group), h = ROW_HEAD(row, group, g);
        const ulong q_row = q_off + (ulong)(b * q_sb + (long)i * q_ss + h * q_sh);
        q_tile[e] = idle ? (float4)(0.0f) : load_chunk4(q, q_row, e % D4) * qscale;
    }
    int lo[ROWS], hi[ROWS];
#ifdef ALIBI
    float slope[ROWS]; /* per row: its head's slope, and its position */
    long row_pos[ROWS];
#endif
#ifdef MASK
    ulong mask_row[ROWS]; /* per row: its row of the mask */
#endif
    int key_lo = split_hi, key_hi = split_lo;
#ifdef SINK_TOKENS /* per row: the end of the sink tokens it sees in the split (common.cl) */
    int sink_hi[ROWS], sink_hi_max = split_lo;
#endif
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        const int row = min(r_first + r, row_last);
        row_range(ROW_POSITION(row, group), pos_off, causal, wl, wr, n, &lo[r], &hi[r]);
#ifdef ALIBI
        slope[r] = ALIBI_SLOPE(b, ROW_HEAD(row, group, g));
        row_pos[r] = ROW_POSITION(row, group) + pos_off;
#endif
#ifdef MASK
        mask_row[r] = MASK_ROW(b, ROW_POSITION(row, group), ROW_HEAD(row, group, g));
#endif
        lo[r] = clamp(lo[r], split_lo, split_hi);
        hi[r] = clamp(hi[r], lo[r], split_hi);
        if (lo[r] < hi[r]) {
            key_lo = min(key_lo, lo[r]);
            key_hi = max(key_hi, hi[r]);
        }
#ifdef SINK_TOKENS
        sink_hi[r] = clamp(sink_range(ROW_POSITION(row, group), pos_off, causal,
                                      ENTRY_SINK_END(b), n),
                           split_lo, split_hi);
        sink_hi_max = max(sink_hi_max, sink_hi[r]);
#endif
    }
#ifdef SINK_TOKENS
    /* the split's keys jj in order: the sink tokens [split_lo, sink_hi_max) first, then the
     * window's from where they end (common.cl's two_walks, in steps of one key) */
    int walk_a, walk_b;
    const int keys = two_walks(split_lo, sink_hi_max, key_lo, key_hi, 1, &walk_a, &walk_b);
#define KEY_OF(jj) WALK_KEY(jj, split_lo, walk_a, walk_b, 1)
#define SEEN(j, r) (((j) >= lo[r] && (j) < hi[r]) || (j) < sink_hi[r])
#else
    const int keys = max(key_hi - key_lo, 0);
#define KEY_OF(jj) (key_lo + (jj))
#define SEEN(j, r) ((j) >= lo[r] && (j) < hi[r])
#endif
    barrier(CLK_LOCAL_MEM_FENCE);

    /* scores of this work-item's keys, and the largest per row */
    float m[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++)
#ifdef SINKS /* common.cl: the split's sink starts the maximum */
        m[r] = SPLIT_SINK(ROW_HEAD(min(r_first + r, row_last), group, g), split);
#else
        m[r] = -INFINITY;
#endif
    for (int jj = lid; jj < keys; jj += WG) {
        const int j = KEY_OF(jj);
#ifdef MASK
        float mk[ROWS]; /* the key's mask value per row */
        int hidden = 1;
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
            mk[r] = MASK_LOAD(mask, mask_row[r] + (ulong)j); /* j < n <= nk */
            hidden &= mk[r] == -INFINITY;
        }
#define MASKED(r, s) MASK_ADD(s, mk[r])
/* a key no row sees through the mask: no K row read, and its V row reads as 0 */
#define UNLESS_HIDDEN(row) (hidden ? -1 : (row))
#else
#define MASKED(r, s) (s)
#define UNLESS_HIDDEN(row) (row)
#endif
        const long k_row = UNLESS_HIDDEN(kv_offset(k_off, k_sb, k_ss, k_sh, b, j, g, KV_LAYOUT));
        v_rows[jj] = UNLESS_HIDDEN(kv_offset(v_off, v_sb, v_ss, v_sh, b, j, g, KV_LAYOUT));
        float4 dot[ROWS];
#pragma unroll
        for (int r = 0; r < ROWS; r++)
            dot[r] = (float4)(k_row < 0 ? MISSING_K : 0.0f);
        if (k_row >= 0)
#pragma unroll 4
            for (int c4 = 0; c4 < D4; c4++) {
                const float4 kc = load_k_chunk4(k, (ulong)k_row, c4);
#pragma unroll
                for (int r = 0; r < ROWS; r++)
                    dot[r] = MAD(q_tile[r * D4 + c4], kc, dot[r]);
            }
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
            const float s = SEEN(j, r)
                                ? MASKED(r, SCORE_BIAS(SCORE_CAP((dot[r].x + dot[r].y) +
                                                                 (dot[r].z + dot[r].w)),
                                                       slope[r], row_pos[r], j))
                                : -INFINITY;
            scores[r * SPLIT_MAX + jj] = s;
            m[r] = fmax(m[r], s);
        }
    }
#pragma unroll
    for (int r = 0; r < ROWS; r++)
        red[r * WG + lid] = m[r];
    reduce_rows(red, lid, 1);

    /* probabilities in place, and their sums */
    float sum[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        m[r] = red[r * WG];
        sum[r] = 0.0f;
    }
    for (int jj = lid; jj < keys; jj += WG)
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
            const float p = exp2(scores[r * SPLIT_MAX + jj] - SCORE_SHIFT(m[r]));
            scores[r * SPLIT_MAX + jj] = p;
            sum[r] += p;
        }
    barrier(CLK_LOCAL_MEM_FENCE); /* every row's maximum read before the sums overwrite it */
#pragma unroll
    for (int r = 0; r < ROWS; r++)
        red[r * WG + lid] = sum[r];
    reduce_rows(red, lid, 0); /* also makes the probabilities and V rows visible */

    /* O = P V: slot `slot` takes keys slot, slot + SLOTS, ...; lane `lane` chunk `lane` */
    const int slot = lid / DV4, lane = lid - slot * DV4;
    float4 acc[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++)
        acc[r] = (float4)(0.0f);
    if (slot < SLOTS)
        for (int jj = slot; jj < keys; jj += SLOTS) {
            const long v_row = v_rows[jj];
            const float4 vc =
                v_row < 0 ? (float4)(MISSING_V) : load_v_chunk4(v, (ulong)v_row, lane);
#pragma unroll
            for (int r = 0; r < ROWS; r++)
                acc[r] = MAD((float4)(scores[r * SPLIT_MAX + jj]), vc, acc[r]);
        }
    barrier(CLK_LOCAL_MEM_FENCE); /* probabilities read: their space takes the slots' sums */
    if (slot < SLOTS)
#pragma unroll
        for (int r = 0; r < ROWS; r++)
            scores4[(slot * ROWS + r) * DV4 + lane] = acc[r];
    barrier(CLK_LOCAL_MEM_FENCE);

    if (lid >= DV4)
        return;
    for (int r = 0; r < ROWS && r_first + r < rows_total; r++) {
        float4 out = scores4[r * DV4 + lid];
        for (int s = 1; s < SLOTS; s++)
            out += scores4[(s * ROWS + r) * DV4 + lid];
        float inv, row_lse;
        row_epilogue(n_given, m[r],
                     WITH_SINK(red[r * WG], m[r],
                               SPLIT_SINK(ROW_HEAD(r_first + r, group, g), split)),
                     &inv, &row_lse);
        const int row = r_first + r;
        const int i = ROW_POSITION(row, group), h = ROW_HEAD(row, group, g);
        WRITE_RESULT(&out, 1, lid, DV4, inv, lid == 0, row_lse, b, i, h);
    }
}
