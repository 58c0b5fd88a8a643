/* The naive, unfused pipeline: the baseline the field measures attention against.
 *   1. naive_scores      S = Q K^T                (or CLBlast SGEMM)
 *   2. naive_scale_mask  S = scale * S, invisible keys -> -inf
 *   3. naive_softmax     P = softmax(S) row by row, LSE
 *   4. naive_pv          O = P V                  (or CLBlast SGEMM)
 * S lives in global memory: per (batch, head) of the chunk, `rows` rows of s_stride floats.
 * A chunk covers heads [z0, z0 + zc) of the flattened (batch, head) index and query rows
 * [i0, i0 + rows), so that S fits the device's largest allocation.
 *
 * The products use the register blocking of cl/tiled_registers.cl (common.cl's SCORE_BLOCK)
 * on packed K and V (cl/pack.cl). Host defines: VW, ROWS, KV_VECS, and common.cl's DTYPE,
 * HEAD_DIM and HEAD_DIM_V. */

#define Q_OF_ROW(r, c) LOAD(q, qrow[r] + (ulong)(c)) /* for SCORE_BLOCK: q of row rr0 + r */

/* Work-item: ROWS rows x BC keys of S. Grid: (s_stride / BC, ceil(rows / ROWS), zc). */
__kernel void naive_scores(__global const storage_t *q, ulong q_off, long q_sb, long q_ss,
                           long q_sh, __global const float *kt, int nk_pad, int heads,
                           int group, int z0, int i0, int rows, __global float *s, int s_stride)
{
    const int j0 = (int)get_global_id(0) * BC;
    const int rr0 = (int)get_global_id(1) * ROWS;
    const int zc = (int)get_global_id(2);
    const int z = z0 + zc;
    const int b = z / heads, h = z % heads;
    const int bkv = b * (heads / group) + h / group;
    if (rr0 >= rows)
        return;

    ulong qrow[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        const int i = i0 + min(rr0 + r, rows - 1);
        qrow[r] = q_off + (ulong)(b * q_sb + (long)i * q_ss + h * q_sh);
    }
    /* blocked transposed K (cl/pack.cl): the BC keys of this block, row c after row c */
    __global const float *kblock = kt + ((ulong)bkv * (ulong)nk_pad + (ulong)j0) * HEAD_DIM;
    vec_t acc[ROWS][KV_VECS];
    SCORE_BLOCK(acc, kblock, Q_OF_ROW);
#pragma unroll
    for (int r = 0; r < ROWS; r++)
        if (rr0 + r < rows)
#pragma unroll
            for (int u = 0; u < KV_VECS; u++)
                VSTORE(acc[r][u], s + ((ulong)zc * (ulong)rows + (ulong)(rr0 + r)) *
                                          (ulong)s_stride + (ulong)(j0 + u * VW));
}

/* With ALiBi, positions per entry or a mask (common.cl) the scores also take the chunk's first
 * (batch, head) z0, the number of heads and of query rows, for the slopes, the entries' starts
 * and the mask's rows; with sinks the softmax takes the number of heads. */
#if defined(ALIBI) || defined(POSITIONS_PER_ENTRY) || defined(MASK)
#define SCALE_MASK_EXTRA                                                                       \
    , int z0, int heads, int nq ALIBI_PARAMS SINK_TOKEN_PARAMS POSITION_PARAMS MASK_PARAMS
#else
#define SCALE_MASK_EXTRA SINK_TOKEN_PARAMS
#endif
#ifdef SINKS
#define SOFTMAX_EXTRA , int heads SINK_PARAMS
#else
#define SOFTMAX_EXTRA
#endif

/* The additive mask (common.cl) on the scaled, capped and biased scores of row i of (batch,
 * head) z from key j; without one, the scores. */
#ifdef MASK
#define WITH_MASK(s, z, i, j)                                                                  \
    MASK_ADD_VEC(s, mask_loadv(mask, MASK_ROW((z) / heads, i, (z) % heads), j, nk))
#else
#define WITH_MASK(s, z, i, j) s
#endif

/* Work-item: one vector of VW scores. Grid: (s_stride / VW, rows, zc). */
__kernel void naive_scale_mask(__global float *s, int s_stride, int i0, int rows, int nk,
                               long pos_off, int causal, long wl, long wr,
                               float scale SCALE_MASK_EXTRA)
{
    const int j = (int)get_global_id(0) * VW;
    const int rr = (int)get_global_id(1);
    const int zc = (int)get_global_id(2);
#ifdef POSITIONS_PER_ENTRY
    const int b = (z0 + zc) / heads;
    pos_off = ENTRY_SHIFT(b, pos_off);
#endif
    int lo, hi;
    row_range(i0 + rr, pos_off, causal, wl, wr, nk, &lo, &hi);
    __global float *p = s + ((ulong)zc * (ulong)rows + (ulong)rr) * (ulong)s_stride + (ulong)j;
    const ivec_t key = (ivec_t)(j) + LANE_INDEX;
#ifdef SINK_TOKENS /* and the sink tokens the row sees */
    const int sink_hi = sink_range(i0 + rr, pos_off, causal, ENTRY_SINK_END(b), nk);
    const ivec_t invisible =
        ((key < (ivec_t)(lo)) | (key >= (ivec_t)(hi))) & (key >= (ivec_t)(sink_hi));
#else
    const ivec_t invisible = (key < (ivec_t)(lo)) | (key >= (ivec_t)(hi));
#endif
    vec_t x = select(WITH_MASK(SCORE_BIAS_VEC(SCORE_CAP_VEC(VLOAD(p) * (vec_t)(scale)),
                                              ALIBI_SLOPE((z0 + zc) / heads, (z0 + zc) % heads),
                                              i0 + rr + pos_off, j),
                               z0 + zc, i0 + rr, j),
                     (vec_t)(-INFINITY), invisible);
#ifdef POSITIONS_PER_ENTRY /* impossible starts: the row is NaN (common.cl) */
    if (ENTRY_LENGTH(b, nq, nk) < 0)
        x = (vec_t)(NAN);
#endif
    VSTORE(x, p);
}

/* Work-item: one row of S, in place. Grid: (rows, zc). */
__kernel void naive_softmax(__global float *s, int s_stride, int z0, int i0, int rows, int nq,
                            __global float *lse, ulong lse_off, int write_lse SOFTMAX_EXTRA)
{
    const int rr = (int)get_global_id(0);
    const int zc = (int)get_global_id(1);
    __global float *row = s + ((ulong)zc * (ulong)rows + (ulong)rr) * (ulong)s_stride;
    vec_t mv = (vec_t)(-INFINITY);
    for (int j = 0; j < s_stride; j += VW)
        mv = fmax(mv, VLOAD(row + j));
#ifdef SINKS /* the head's sink joins the maximum and the sum (docs/semantics.md) */
    const float z = SINK_LOGIT((z0 + zc) % heads);
    const float m = fmax(hmax(mv), z);
#else
    const float m = hmax(mv);
#endif
    const float m_use = SCORE_SHIFT(m); /* a fully masked row stays all zeros */
    vec_t sv = (vec_t)(0.0f);
    for (int j = 0; j < s_stride; j += VW) {
        const vec_t e = exp(VLOAD(row + j) - (vec_t)(m_use));
        VSTORE(e, row + j);
        sv += e;
    }
#ifdef SINKS
    const float sum = hsum(sv) + exp(z - m_use);
#else
    const float sum = hsum(sv);
#endif
    const float inv = ROW_INVERSE(sum);
    for (int j = 0; j < s_stride; j += VW)
        VSTORE(VLOAD(row + j) * (vec_t)(inv), row + j);
    if (write_lse)
        lse[lse_off + (ulong)(z0 + zc) * (ulong)nq + (ulong)(i0 + rr)] = LSE_NATURAL(m, sum);
}

/* Work-item: ROWS rows of O. Grid: (ceil(rows / ROWS), zc). */
__kernel void naive_pv(__global const float *s, int s_stride, __global const float *vp,
                       int nk_pad, int heads, int group, int z0, int i0, int rows,
                       __global storage_t *o, ulong o_off, long o_sb, long o_ss, long o_sh)
{
    const int rr0 = (int)get_global_id(0) * ROWS;
    const int zc = (int)get_global_id(1);
    const int z = z0 + zc;
    const int b = z / heads, h = z % heads;
    const int bkv = b * (heads / group) + h / group;
    if (rr0 >= rows)
        return;
    __global const float *prow[ROWS];
    vec_t acc[ROWS][DV_VECS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        prow[r] = s + ((ulong)zc * (ulong)rows + (ulong)min(rr0 + r, rows - 1)) *
                          (ulong)s_stride;
#pragma unroll
        for (int t = 0; t < DV_VECS; t++)
            acc[r][t] = (vec_t)(0.0f);
    }
    __global const float *vrow = vp + (ulong)bkv * (ulong)nk_pad * DV_PAD;
    for (int j = 0; j < s_stride; j++) {
        float pj[ROWS];
#pragma unroll
        for (int r = 0; r < ROWS; r++)
            pj[r] = prow[r][j];
#pragma unroll
        for (int t = 0; t < DV_VECS; t++) {
            const vec_t vv = VLOAD(vrow + (ulong)j * DV_PAD + t * VW);
#pragma unroll
            for (int r = 0; r < ROWS; r++)
                acc[r][t] = MAD((vec_t)(pj[r]), vv, acc[r][t]);
        }
    }
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        if (rr0 + r < rows) { /* a guard, not a break: a loop with an exit is not unrolled */
            float out[DV_PAD];
#pragma unroll
            for (int t = 0; t < DV_VECS; t++)
                VSTORE(acc[r][t], &out[t * VW]);
            const ulong base =
                o_off + (ulong)(b * o_sb + (long)(i0 + rr0 + r) * o_ss + h * o_sh);
            for (int c = 0; c < HEAD_DIM_V; c++)
                STORE(o, base + (ulong)c, out[c]);
        }
    }
}
