/* Fused attention for devices whose local memory is ordinary memory (CL_GLOBAL: CPUs).
 *
 * One work-item is a whole work-group. It owns GROUPS x ROWS query rows of one (batch, kv
 * head) - the rows of every query head that reads that kv head (common.cl's row order) - and
 * streams blocks of BC = KV_VECS * VW keys from the packed Kt / Vp (cl/pack.cl). Each block is
 * read from memory once and used by every group while it sits in the L1 cache:
 *   scores   per group, s[ROWS][KV_VECS] vectors: for each c, one vector load of Kt per
 *            KV_VECS and a broadcast of q[r][c]; ROWS * KV_VECS independent FMA chains hide
 *            the FMA latency.
 *   softmax  online (running max m and lane-wise sum l per row), in base 2.
 *   output   per group, o[ROWS][DV_VECS] vectors, updated DV_CHUNK vectors at a time so that
 *            the live accumulators stay within the register file for any head_dim_v.
 * The host sizes a block and the groups' q and o so that they fit a CPU's L1 data cache
 * (lib/tile_select.c): with more groups, each byte of K and V brought in from the outer
 * caches serves more rows.
 * No barrier and no __local: on CPU devices a barrier makes the implementation keep every
 * work-item's private state in memory, and __local is the same cache as __global.
 *
 * With an additive mask (common.cl's MASK), a group skips the blocks whose tile of the mask
 * is all -inf (MASK_TILE), and reads the mask only where the tile is neither that nor all 0.
 *
 * Host defines: VW, ROWS, GROUPS, KV_VECS, DV_CHUNK, and common.cl's DTYPE, HEAD_DIM and
 * HEAD_DIM_V. */

#define ROWS_ALL (ROWS * GROUPS)
#define ROWS_PAD ((ROWS + VW - 1) / VW * VW) /* a group's rows rounded up to whole vectors */
#define Q_OF_GROUP(r, c) qv[r0 + (r)][c]     /* for SCORE_BLOCK: row r of group gr's q */

__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void attend_registers(__global const storage_t *q, ulong q_off, long q_sb, long q_ss, long q_sh,
                      __global const float *kt, __global const float *vp, int nk_pad,
                      __global storage_t *o, ulong o_off, long o_sb, long o_ss, long o_sh,
                      __global float *lse, ulong lse_off, int write_lse, int heads, int group,
                      int nq, int nk, int align_br, long pos_shift, int causal, long wl, long wr,
                      float qscale, KV_LAYOUT_PARAMS EXTRA_PARAMS)
{
    const int kv_heads = heads / group;
    const int row_blocks = (nq * group + ROWS_ALL - 1) / ROWS_ALL;
    const long gid = get_global_id(0);
    const int bkv = (int)(gid / row_blocks);
    /* Last row blocks first: under a causal mask they carry the most keys, and starting
     * them early keeps the end of the launch from waiting on one long work-item. */
    const int rb = row_blocks - 1 - (int)(gid % row_blocks);
    const int b = bkv / kv_heads, g = bkv % kv_heads;
    const int r_first = rb * ROWS_ALL;
    /* this entry's rows and keys; an impossible length leaves the rows NaN (common.cl) */
    int nq_entry = nq, n_given = ENTRY_LENGTH(b, nq, kv_length(b, nk, KV_LAYOUT));
#ifdef VARLEN /* Kt and Vp hold the entry's keys already (cl/pack.cl) */
    int k0;
    VARLEN_ROWS(b, nq_entry);
    n_given = ENTRY_LENGTH(b, nq_entry, varlen_length(cu_k, cu_k_off, b, total_kv, nk, &k0));
    const ulong first_key = VARLEN_PACKED_FIRST(b, g, k0, nk_pad, BC);
#else
    const ulong first_key = (ulong)bkv * (ulong)nk_pad;
#endif
    const int rows_total = nq_entry * group;
#ifdef VARLEN
    if (r_first >= rows_total)
        return; /* past a short entry's rows */
#endif
    const int n = max(n_given, 0);
    const long pos_off = row_position_offset(align_br, ENTRY_SHIFT(b, pos_shift), n, nq_entry);

    /* Per row: q (pre-scaled), visible keys [lo, hi), running max m, sum l, output acc. */
    float qv[ROWS_ALL][HEAD_DIM];
    int lo[ROWS_ALL], hi[ROWS_ALL];
    float m[ROWS_ALL];
    vec_t l[ROWS_ALL], acc[ROWS_ALL][DV_VECS];
#ifdef ALIBI
    float slope[ROWS_ALL]; /* per row: its head's slope, and its position */
    long row_pos[ROWS_ALL];
#endif
#ifdef MASK
    ulong mask_row[ROWS_ALL]; /* per row: its row of the mask */
    uchar tile[GROUPS];       /* per group: the class of the current block's tile */
#endif
    /* Per group: the keys some row can see, and the block range needing no mask. */
    int group_lo[GROUPS], group_hi[GROUPS], group_lo_max[GROUPS], group_hi_min[GROUPS];
    int lo_min = n, hi_max = 0;
#ifdef SINK_TOKENS /* per row and group: the end of the sink tokens seen (common.cl) */
    int sink_hi[ROWS_ALL], group_sink_hi[GROUPS], sink_hi_max = 0;
#endif
    for (int gr = 0; gr < GROUPS; gr++) {
        group_lo[gr] = n;
        group_hi[gr] = 0;
        group_lo_max[gr] = 0;
        group_hi_min[gr] = n;
#ifdef SINK_TOKENS
        group_sink_hi[gr] = 0;
#endif
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
            const int row = gr * ROWS + r;
            /* rows past the last repeat it; their results are not stored */
            const int rr = min(r_first + row, rows_total - 1);
            const int i = ROW_POSITION(rr, group), h = ROW_HEAD(rr, group, g);
            const ulong base = q_off + (ulong)(b * q_sb + i * q_ss + h * q_sh);
            for (int c = 0; c < HEAD_DIM; c++)
                qv[row][c] = LOAD(q, base + (ulong)c) * qscale;
            row_range(i, pos_off, causal, wl, wr, n, &lo[row], &hi[row]);
            if (lo[row] < hi[row]) {
                group_lo[gr] = min(group_lo[gr], lo[row]);
                group_hi[gr] = max(group_hi[gr], hi[row]);
            }
            group_lo_max[gr] = max(group_lo_max[gr], lo[row]);
            group_hi_min[gr] = min(group_hi_min[gr], hi[row]);
#ifdef SINK_TOKENS
            sink_hi[row] = sink_range(i, pos_off, causal, ENTRY_SINK_END(b), n);
            group_sink_hi[gr] = max(group_sink_hi[gr], sink_hi[row]);
#endif
#ifdef ALIBI
            slope[row] = ALIBI_SLOPE(b, h);
            row_pos[row] = i + pos_off;
#endif
#ifdef MASK
            mask_row[row] = MASK_ROW(b, i, h);
#endif
#ifdef SINKS
            m[row] = SINK_LOGIT(h); /* common.cl */
#else
            m[row] = -INFINITY;
#endif
            l[row] = (vec_t)(0.0f);
            for (int t = 0; t < DV_VECS; t++)
                acc[row][t] = (vec_t)(0.0f);
        }
        lo_min = min(lo_min, group_lo[gr]);
        hi_max = max(hi_max, group_hi[gr]);
#ifdef SINK_TOKENS
        sink_hi_max = max(sink_hi_max, group_sink_hi[gr]);
#endif
    }

    __global const float *ktb = kt + first_key * HEAD_DIM;
    __global const float *vpb = vp + first_key * DV_PAD;
    float p[ROWS_ALL][BC];
    float alpha[GROUPS][ROWS_PAD];

    /* Only the blocks some row can see: the window and causal bounds are loop bounds; sink
     * tokens add the blocks before the window's that hold them, and group g skips a block that
     * none of its rows sees (GROUP_MISSES). */
#ifdef SINK_TOKENS
    int walk_a, walk_b;
    const int steps = two_walks(0, sink_hi_max, lo_min / BC * BC, hi_max, BC, &walk_a, &walk_b);
    for (int step = 0; step < steps; step++) {
        const int j0 = WALK_KEY(step, 0, walk_a, walk_b, BC);
#define GROUP_MISSES(gr)                                                                       \
    ((j0 + BC <= group_lo[gr] || j0 >= group_hi[gr]) && j0 >= group_sink_hi[gr])
#else
    for (int j0 = lo_min / BC * BC; j0 < hi_max; j0 += BC) {
#define GROUP_MISSES(gr) (j0 + BC <= group_lo[gr] || j0 >= group_hi[gr])
#endif
        __global const float *kblock = ktb + (ulong)j0 * HEAD_DIM; /* see cl/pack.cl */
        __global const float *vblock = vpb + (ulong)j0 * DV_PAD;

        /* Scores and softmax, group by group, while the K block stays in L1. */
        for (int gr = 0; gr < GROUPS; gr++) {
            if (GROUP_MISSES(gr))
                continue; /* no row of this group sees this block */
            const int r0 = gr * ROWS;
#ifdef MASK
            /* a group wholly past the last row has no tile (its rows are not stored) */
            tile[gr] = r_first + r0 < rows_total ? MASK_TILE(b, g, r_first / ROWS + gr, j0 / BC)
                                                 : MASK_HIDDEN;
            if (tile[gr] == MASK_HIDDEN)
                continue;
#endif
            vec_t s[ROWS][KV_VECS];
            SCORE_BLOCK(s, kblock, Q_OF_GROUP);
#ifdef SOFTCAP
#pragma unroll
            for (int r = 0; r < ROWS; r++)
#pragma unroll
                for (int u = 0; u < KV_VECS; u++)
                    s[r][u] = SCORE_CAP_VEC(s[r][u]);
#endif
#ifdef ALIBI
#pragma unroll
            for (int r = 0; r < ROWS; r++) {
                const vec_t dist = (vec_t)((float)(row_pos[r0 + r] - (long)j0));
#pragma unroll
                for (int u = 0; u < KV_VECS; u++)
                    s[r][u] = ALIBI_BIAS_VEC(s[r][u], slope[r0 + r], dist, (float)(u * VW));
            }
#endif
#ifdef MASK
            if (tile[gr] == MASK_MIXED)
#pragma unroll
                for (int r = 0; r < ROWS; r++)
#pragma unroll
                    for (int u = 0; u < KV_VECS; u++)
                        s[r][u] = MASK_ADD_VEC(s[r][u], mask_loadv(mask, mask_row[r0 + r],
                                                                   j0 + u * VW, nk));
#endif

            /* Blocks wholly inside every row's range need no mask (most of them). */
            if (!(j0 >= group_lo_max[gr] && j0 + BC <= group_hi_min[gr])) {
#pragma unroll
                for (int r = 0; r < ROWS; r++)
#pragma unroll
                    for (int u = 0; u < KV_VECS; u++) {
                        const ivec_t key = (ivec_t)(j0 + u * VW) + LANE_INDEX;
                        ivec_t out = (key < (ivec_t)(lo[r0 + r])) | (key >= (ivec_t)(hi[r0 + r]));
#ifdef SINK_TOKENS /* a sink token is visible outside the window */
                        out &= key >= (ivec_t)(sink_hi[r0 + r]);
#endif
                        s[r][u] = select(s[r][u], (vec_t)(-INFINITY), out);
                    }
            }

            /* Online softmax. The rescale factors of the group go through one vector exp2. */
            float m_use[ROWS], shift[ROWS_PAD];
#pragma unroll
            for (int r = 0; r < ROWS_PAD; r++)
                shift[r] = 0.0f;
#pragma unroll
            for (int r = 0; r < ROWS; r++) {
                vec_t vmax = s[r][0];
#pragma unroll
                for (int u = 1; u < KV_VECS; u++)
                    vmax = MAX_OF(vmax, s[r][u]);
                const float m_new = fmax(m[r0 + r], hmax(vmax));
                m_use[r] = SCORE_SHIFT(m_new); /* common.cl: a row without keys yet */
                shift[r] = m[r0 + r] - m_use[r];
                m[r0 + r] = m_new;
            }
#pragma unroll
            for (int r = 0; r < ROWS_PAD; r += VW)
                VSTORE(exp2_nonpositive(VLOAD(&shift[r])), &alpha[gr][r]);
#pragma unroll
            for (int r = 0; r < ROWS; r++) {
                vec_t psum = (vec_t)(0.0f);
#pragma unroll
                for (int u = 0; u < KV_VECS; u++) {
                    const vec_t pv = exp2_nonpositive(s[r][u] - (vec_t)(m_use[r]));
                    psum += pv;
                    VSTORE(pv, &p[r0 + r][u * VW]);
                }
                /* the sum stays lane-wise until the end: no horizontal add per block */
                l[r0 + r] = MAD(l[r0 + r], (vec_t)(alpha[gr][r]), psum);
            }
        }

        /* Output, group by group, while the V block stays in L1. */
        for (int gr = 0; gr < GROUPS; gr++) {
            if (GROUP_MISSES(gr))
                continue;
#ifdef MASK
            if (tile[gr] == MASK_HIDDEN)
                continue;
#endif
            const int r0 = gr * ROWS;
#pragma unroll
            for (int t0 = 0; t0 < DV_VECS; t0 += DV_CHUNK) {
                vec_t part[ROWS][DV_CHUNK];
#pragma unroll
                for (int r = 0; r < ROWS; r++)
#pragma unroll
                    for (int t = 0; t < DV_CHUNK; t++)
                        if (t0 + t < DV_VECS)
                            part[r][t] = acc[r0 + r][t0 + t] * (vec_t)(alpha[gr][r]);
#pragma unroll 4
                for (int j = 0; j < BC; j++) {
#pragma unroll
                    for (int t = 0; t < DV_CHUNK; t++)
                        if (t0 + t < DV_VECS) {
                            const vec_t vv = VLOAD(vblock + j * DV_PAD + (t0 + t) * VW);
#pragma unroll
                            for (int r = 0; r < ROWS; r++)
                                part[r][t] = MAD((vec_t)(p[r0 + r][j]), vv, part[r][t]);
                        }
                }
#pragma unroll
                for (int r = 0; r < ROWS; r++)
#pragma unroll
                    for (int t = 0; t < DV_CHUNK; t++)
                        if (t0 + t < DV_VECS)
                            acc[r0 + r][t0 + t] = part[r][t];
            }
        }
    }

    for (int row = 0; row < ROWS_ALL; row++) {
        const int rr = r_first + row;
        if (rr < rows_total) {
            const int i = ROW_POSITION(rr, group), h = ROW_HEAD(rr, group, g);
            float inv, row_lse;
            row_epilogue(n_given, m[row], WITH_SINK(hsum(l[row]), m[row], SINK_LOGIT(h)), &inv,
                         &row_lse);
            /* one split: no partial rows */
            write_result_row(acc[row], inv, row_lse, 0, 1, b, i, h, o, o_off, o_sb, o_ss, o_sh,
                             lse, lse_off, write_lse, heads, nq, 0, 0, 0);
        }
    }
}
