/* Fused attention for devices with dedicated local memory (CL_LOCAL: GPUs), and for
 * implementations that vectorise across work-items themselves.
 *
 * A work-group of BR * TPR work-items owns BR query rows of one (batch, head); TPR work-items
 * share each row. Per tile of BC keys:
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
 * Host defines: BR, BC, TPR, LDS_STRIDE, and common.cl's DTYPE and HEAD_DIM. */

#define WG (BR * TPR)
#define DPT ((HEAD_DIM + TPR - 1) / TPR) /* output columns per work-item */
#define KPT ((BC + TPR - 1) / TPR)       /* keys scored per work-item per tile */

inline void load_tile(__local float *dst, __global const storage_t *src, ulong off, long sb,
                      long ss, long sh, int b, int g, int j0, int nk, int lid)
{
    for (int e = lid; e < BC * HEAD_DIM; e += WG) {
        const int jj = e / HEAD_DIM, c = e - jj * HEAD_DIM;
        const int j = j0 + jj;
        dst[jj * LDS_STRIDE + c] =
            j < nk ? LOAD(src, off + (ulong)(b * sb + (long)j * ss + g * sh) + (ulong)c) : 0.0f;
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void attend_local(__global const storage_t *q, ulong q_off, long q_sb, long q_ss, long q_sh,
                  __global const storage_t *k, ulong k_off, long k_sb, long k_ss, long k_sh,
                  __global const storage_t *v, ulong v_off, long v_sb, long v_ss, long v_sh,
                  __global storage_t *o, ulong o_off, long o_sb, long o_ss, long o_sh,
                  __global float *lse, ulong lse_off, int write_lse, int heads, int group,
                  int nq, int nk, long pos_off, int causal, long wl, long wr, float qscale)
{
    __local float q_tile[BR * LDS_STRIDE];
    __local float kv[BC * LDS_STRIDE];
    __local float p_tile[BR * (BC + 1)];
    __local float partial[BR * TPR];

    const int lid = (int)get_local_id(0);
    const int r = lid / TPR, t = lid - r * TPR;
    const int row_blocks = (nq + BR - 1) / BR;
    const int grp = (int)get_group_id(0);
    const int bh = grp / row_blocks;
    const int rb = row_blocks - 1 - grp % row_blocks; /* heaviest causal blocks first */
    const int b = bh / heads, h = bh % heads;
    const int g = h / group;
    const int i0 = rb * BR;
    const int rows = min(BR, nq - i0);

    for (int e = lid; e < BR * HEAD_DIM; e += WG) {
        const int rr = e / HEAD_DIM, c = e - rr * HEAD_DIM;
        const int i = min(i0 + rr, nq - 1);
        q_tile[rr * LDS_STRIDE + c] =
            LOAD(q, q_off + (ulong)(b * q_sb + (long)i * q_ss + h * q_sh) + (ulong)c) * qscale;
    }

    const int i = min(i0 + r, nq - 1);
    int lo, hi, tile_lo, tile_hi, unused;
    row_range(i, pos_off, causal, wl, wr, nk, &lo, &hi);
    row_range(i0, pos_off, causal, wl, wr, nk, &tile_lo, &unused);
    row_range(i0 + rows - 1, pos_off, causal, wl, wr, nk, &unused, &tile_hi);
    tile_hi = max(tile_hi, tile_lo);

    float acc[DPT];
    for (int u = 0; u < DPT; u++)
        acc[u] = 0.0f;
    float m = -INFINITY, l = 0.0f;

    for (int j0 = tile_lo / BC * BC; j0 < tile_hi; j0 += BC) {
        barrier(CLK_LOCAL_MEM_FENCE); /* everyone is done with the previous V tile */
        load_tile(kv, k, k_off, k_sb, k_ss, k_sh, b, g, j0, nk, lid);
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
            s[u] = jj < BC && j >= lo && j < hi ? dot : -INFINITY;
            part_max = fmax(part_max, s[u]);
        }
        partial[lid] = part_max;
        barrier(CLK_LOCAL_MEM_FENCE);

        float tile_max = -INFINITY;
        for (int u = 0; u < TPR; u++)
            tile_max = fmax(tile_max, partial[r * TPR + u]);
        const float m_new = fmax(m, tile_max);
        const float m_use = m_new == -INFINITY ? 0.0f : m_new; /* see tiled_registers.cl */
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
        load_tile(kv, v, v_off, v_sb, v_ss, v_sh, b, g, j0, nk, lid);
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
        const int row = i0 + r;
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        const ulong base = o_off + (ulong)(b * o_sb + (long)row * o_ss + h * o_sh);
        for (int u = 0; u < DPT; u++) {
            const int c = t + u * TPR;
            if (c < HEAD_DIM)
                STORE(o, base + (ulong)c, acc[u] * inv);
        }
        /* l = 0 only without a visible key; all-NaN scores leave m = -inf (fmax skips NaN)
         * but l NaN, and their LSE must be NaN */
        if (write_lse && t == 0)
            lse[lse_off + (ulong)bh * (ulong)nq + (ulong)row] =
                l == 0.0f ? -INFINITY : (m + log2(l)) * LN2;
    }
}
