/* Fused attention for devices with dedicated local memory (CL_LOCAL: GPUs), and for
 * implementations that vectorise across work-items themselves.
 *
 * A work-group of BR * TPR work-items owns BR query rows of one (batch, kv head) - the rows
 * of every query head that reads the kv head, in common.cl's row order, so each K and V tile
 * is loaded once for all of them. TPR work-items share each row. Per tile of BC keys:
 *   1. the group loads K's tile into __local kv (converted to f32);
 *   2. work-item (r, t) computes the scores of keys t, t + TPR, ... against q row r, also in
 *      __local, and its partial max;
 *   3. the row's max from the TPR partials; probabilities to __local p, partial sums;
 *   4. the group loads V's tile into the same __local kv;
 *   5. work-item (r, t) updates its output columns t, t + TPR, ... (DPT of them, in
 *      registers) with the online-softmax rescale.
 * Strides through __local are padded (LDS_STRIDE) so the TPR work-items of a row hit
 * different banks. Only the global arrays Q, K, V, O and LSE exist; no N x N buffer.
 *
 * Split keys (decoding: few rows, many keys): dimension 1 of the launch splits each entry's
 * keys into runs of split_len; each work-group then writes its rows' partial output and LSE
 * to part_o / part_lse ([split][part_rows rows in LSE order][HEAD_DIM], f32), and
 * cl/merge.cl combines them. With one split, O and LSE are written
 * directly.
 *
 * Host defines: BR, BC, TPR, LDS_STRIDE, and common.cl's DTYPE and HEAD_DIM. */

#define WG (BR * TPR)
#define DPT ((HEAD_DIM + TPR - 1) / TPR) /* output columns per work-item */
#define KPT ((BC + TPR - 1) / TPR)       /* keys scored per work-item per tile */

/* One tile of K or V (keys j0 .. j0 + BC) of kv head g into __local, f32; keys past n are 0,
 * keys whose page is not in the pool NaN. */
inline void load_tile(__local float *dst, __global const storage_t *src, ulong off, long sb,
                      long ss, long sh, int b, int g, int j0, int n, int lid, KV_LAYOUT_PARAMS)
{
    for (int e = lid; e < BC * HEAD_DIM; e += WG) {
        const int jj = e / HEAD_DIM, c = e - jj * HEAD_DIM;
        const int j = j0 + jj;
        const long row = j < n ? kv_offset(off, sb, ss, sh, b, j, g, KV_LAYOUT) : 0;
        dst[jj * LDS_STRIDE + c] = j >= n ? 0.0f : row < 0 ? NAN : LOAD(src, (ulong)row + (ulong)c);
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void attend_local(IN_PLACE_PARAMS)
{
    __local float q_tile[BR * LDS_STRIDE];
    __local float kv[BC * LDS_STRIDE];
    __local float p_tile[BR * (BC + 1)];
    __local float partial[BR * TPR];

    const int lid = (int)get_local_id(0);
    const int r = lid / TPR, t = lid - r * TPR;
    const int kv_heads = heads / group, rows_total = nq * group;
    const int row_blocks = (rows_total + BR - 1) / BR;
    const int grp = (int)get_group_id(0);
    const int bkv = grp / row_blocks;
    const int rb = row_blocks - 1 - grp % row_blocks; /* heaviest causal blocks first */
    const int b = bkv / kv_heads, g = bkv % kv_heads;
    const int split = (int)get_group_id(1), splits = (int)get_num_groups(1);
    const int r_first = rb * BR;
    const int rows = min(BR, rows_total - r_first);
    const int n_given = kv_length(b, nk, KV_LAYOUT);
    const int n = max(n_given, 0);
    const long pos_off = align_br ? (long)n - nq : 0;

    for (int e = lid; e < BR * HEAD_DIM; e += WG) {
        const int rr = e / HEAD_DIM, c = e - rr * HEAD_DIM;
        const int row = min(r_first + rr, rows_total - 1);
        const int i = ROW_POSITION(row, group), h = ROW_HEAD(row, group, g);
        q_tile[rr * LDS_STRIDE + c] =
            LOAD(q, q_off + (ulong)(b * q_sb + (long)i * q_ss + h * q_sh) + (ulong)c) * qscale;
    }

    const int my_row = min(r_first + r, rows_total - 1);
    const int i = ROW_POSITION(my_row, group), h = ROW_HEAD(my_row, group, g);
    int lo, hi, tile_lo, tile_hi, unused;
    row_range(i, pos_off, causal, wl, wr, n, &lo, &hi);
    row_range(ROW_POSITION(r_first, group), pos_off, causal, wl, wr, n, &tile_lo, &unused);
    row_range(ROW_POSITION(r_first + rows - 1, group), pos_off, causal, wl, wr, n, &unused,
              &tile_hi);
    /* this work-group's share of the keys */
    tile_lo = max(tile_lo, split * split_len);
    tile_hi = min(tile_hi, (split + 1) * split_len);
    tile_hi = max(tile_hi, tile_lo);

    float acc[DPT];
    for (int u = 0; u < DPT; u++)
        acc[u] = 0.0f;
    float m = -INFINITY, l = 0.0f;

    for (int j0 = tile_lo / BC * BC; j0 < tile_hi; j0 += BC) {
        barrier(CLK_LOCAL_MEM_FENCE); /* everyone is done with the previous V tile */
        load_tile(kv, k, k_off, k_sb, k_ss, k_sh, b, g, j0, n, lid, KV_LAYOUT);
        barrier(CLK_LOCAL_MEM_FENCE);

        float s[KPT];
        float part_max = -INFINITY;
        for (int u = 0; u < KPT; u++) {
            const int jj = t + u * TPR;
            float dot = 0.0f;
            if (jj < BC)
                for (int c = 0; c < HEAD_DIM; c++)
                    dot = MAD(q_tile[r * LDS_STRIDE + c], kv[jj * LDS_STRIDE + c], dot);
            const int j = j0 + jj;
            s[u] = jj < BC && j >= max(lo, tile_lo) && j < min(hi, tile_hi) ? dot : -INFINITY;
            part_max = fmax(part_max, s[u]);
        }
        partial[lid] = part_max;
        barrier(CLK_LOCAL_MEM_FENCE);

        float tile_max = -INFINITY;
        for (int u = 0; u < TPR; u++)
            tile_max = fmax(tile_max, partial[r * TPR + u]);
        const float m_new = fmax(m, tile_max);
        /* A row that has seen no visible key yet keeps m = -inf; subtracting 0 instead keeps
         * exp2(-inf - -inf) from turning its zeros into NaN. */
        const float m_use = m_new == -INFINITY ? 0.0f : m_new;
        const float alpha = exp2(m - m_use);
        float part_sum = 0.0f;
        for (int u = 0; u < KPT; u++) {
            const int jj = t + u * TPR;
            if (jj < BC) {
                const float pj = exp2(s[u] - m_use);
                p_tile[r * (BC + 1) + jj] = pj;
                part_sum += pj;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* partial maxima read, K tile read */
        partial[lid] = part_sum;
        load_tile(kv, v, v_off, v_sb, v_ss, v_sh, b, g, j0, n, lid, KV_LAYOUT);
        barrier(CLK_LOCAL_MEM_FENCE);

        float tile_sum = 0.0f;
        for (int u = 0; u < TPR; u++)
            tile_sum += partial[r * TPR + u];
        l = l * alpha + tile_sum;
        m = m_new;
        for (int u = 0; u < DPT; u++) {
            const int c = t + u * TPR;
            float a = acc[u] * alpha;
            if (c < HEAD_DIM)
                for (int jj = 0; jj < BC; jj++)
                    a = MAD(p_tile[r * (BC + 1) + jj], kv[jj * LDS_STRIDE + c], a);
            acc[u] = a;
        }
    }

    if (r < rows) {
        /* no visible key: zeros and LSE -inf; an impossible entry length: NaN */
        const float sum = n_given < 0 ? NAN : l;
        const float inv = sum > 0.0f ? 1.0f / sum : sum == 0.0f ? 0.0f : NAN;
        /* sum = 0 only without a visible key; all-NaN scores leave m = -inf (fmax skips NaN)
         * but sum NaN, and their LSE must be NaN */
        const float row_lse = sum == 0.0f ? -INFINITY : (m + log2(sum)) * LN2;
        const ulong row_id = ((ulong)b * heads + h) * (ulong)nq + (ulong)i;
        if (splits > 1) {
            __global float *out = part_o + ((ulong)split * (ulong)part_rows + row_id) * HEAD_DIM;
            for (int u = 0; u < DPT; u++) {
                const int c = t + u * TPR;
                if (c < HEAD_DIM)
                    out[c] = acc[u] * inv;
            }
            if (t == 0)
                part_lse[(ulong)split * (ulong)part_rows + row_id] = row_lse;
        } else {
            const ulong base = o_off + (ulong)(b * o_sb + (long)i * o_ss + h * o_sh);
            for (int u = 0; u < DPT; u++) {
                const int c = t + u * TPR;
                if (c < HEAD_DIM)
                    STORE(o, base + (ulong)c, acc[u] * inv);
            }
            if (write_lse && t == 0)
                lse[lse_off + row_id] = row_lse;
        }
    }
}
