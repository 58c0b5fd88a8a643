/* Merging attention over disjoint sets of keys by their log-sum-exps.
 *
 * If O_s and LSE_s are attention over key set s, then over their union
 *   LSE = M + ln sum_s exp(LSE_s - M)        with M = max_s LSE_s
 *   O   = sum_s exp(LSE_s - LSE) O_s
 * exactly (up to rounding). This is a softmax over the sets with their LSEs as scores, so it
 * ends by common.cl's rules: a set with no visible key has LSE -inf and weight 0; when every
 * set is empty the row is zeros with LSE -inf, as docs/semantics.md wants. A NaN LSE makes the
 * row NaN.
 *
 * Rows are numbered in LSE order, (b * heads + h) * nq + i. O tensors use the problem's O
 * strides, rows of HEAD_DIM_V. Host defines: common.cl's DTYPE, HEAD_DIM and HEAD_DIM_V, and
 * VARLEN for a packed batch's splits (merge_splits). */

inline ulong o_row(int row, int heads, int nq, ulong off, long sb, long ss, long sh)
{
    const int i = row % nq, bh = row / nq;
    return off + (ulong)((bh / heads) * sb + (long)i * ss + (bh % heads) * sh);
}

/* The splits of one decode launch: part_o [splits][rows][HEAD_DIM_V] and part_lse
 * [splits][rows], f32, from cl/tiled_local.cl or cl/decode.cl. One work-item per row and run
 * of MERGE_COLS columns: it computes the row's weights once for its columns. The host picks
 * whole rows on CPU-like devices (few work-items, no recomputed exponentials) and single
 * columns elsewhere (a work-item per output element).
 *
 * A packed varlen batch (common.cl's VARLEN) keeps LSE order over its longest entry's nq
 * rows, but entry b's row i of O is packed row cu_q[b] + i; rows past the entry's length
 * (every row of an entry whose query range is impossible) were not computed and are not
 * written. */
#ifndef MERGE_COLS
#define MERGE_COLS 1
#endif

__kernel void merge_splits(__global const float *part_o, __global const float *part_lse,
                           int splits, int rows, __global storage_t *o, ulong o_off, long o_sb,
                           long o_ss, long o_sh, __global float *lse, ulong lse_off,
                           int write_lse, int heads, int nq VARLEN_PARAMS)
{
    const int c0 = (int)get_global_id(0) * MERGE_COLS, row = (int)get_global_id(1);
    if (c0 >= HEAD_DIM_V || row >= rows)
        return;
#ifdef VARLEN
    int first;
    if (row % nq >= varlen_length(cu_q, cu_q_off, row / (heads * nq), total_q, nq, &first))
        return;
    o_off += (ulong)first * (ulong)o_ss; /* entry b at its first packed row, as VARLEN_ROWS */
    o_sb = 0;
#endif
    float m = -INFINITY;
    for (int s = 0; s < splits; s++)
        m = fmax(m, part_lse[(ulong)s * rows + row]);
    const float m_use = SCORE_SHIFT(m);
    float sum = 0.0f, acc[MERGE_COLS];
    for (int c = 0; c < MERGE_COLS; c++)
        acc[c] = 0.0f;
    for (int s = 0; s < splits; s++) {
        const float w = exp(part_lse[(ulong)s * rows + row] - m_use);
        __global const float *src = part_o + ((ulong)s * rows + row) * HEAD_DIM_V + c0;
        sum += w;
        /* an empty split's weight is 0 and its partial row is 0 */
        for (int c = 0; c < MERGE_COLS && c0 + c < HEAD_DIM_V; c++)
            acc[c] = MAD(w, src[c], acc[c]);
    }
    const float inv = ROW_INVERSE(sum);
    const ulong base = o_row(row, heads, nq, o_off, o_sb, o_ss, o_sh) + (ulong)c0;
    for (int c = 0; c < MERGE_COLS && c0 + c < HEAD_DIM_V; c++)
        STORE(o, base + (ulong)c, acc[c] * inv);
    if (write_lse && c0 == 0)
        lse[lse_off + row] = LSE_NATURAL(m, sum);
}

/* clattn_enqueue_merge: two results in the problem's O layout and dtype, LSE f32. One
 * work-item per row; out may be either input (each row is read before it is written). */
__kernel void merge_pair(__global const storage_t *o_a, ulong a_off, __global const float *lse_a,
                         ulong lse_a_off, __global const storage_t *o_b, ulong b_off,
                         __global const float *lse_b, ulong lse_b_off, __global storage_t *o,
                         ulong o_off, __global float *lse, ulong lse_off, int write_lse,
                         long o_sb, long o_ss, long o_sh, int heads, int nq, int rows)
{
    const int row = (int)get_global_id(0);
    if (row >= rows)
        return;
    const float la = lse_a[lse_a_off + row], lb = lse_b[lse_b_off + row];
    const float m = fmax(la, lb);
    const float m_use = SCORE_SHIFT(m);
    const float wa = exp(la - m_use), wb = exp(lb - m_use);
    const float sum = wa + wb;
    const float inv = ROW_INVERSE(sum);
    const ulong ra = o_row(row, heads, nq, a_off, o_sb, o_ss, o_sh);
    const ulong rb = o_row(row, heads, nq, b_off, o_sb, o_ss, o_sh);
    const ulong ro = o_row(row, heads, nq, o_off, o_sb, o_ss, o_sh);
    for (int c = 0; c < HEAD_DIM_V; c++) {
        /* a zero weight must not pick up the other result's NaN or inf: 0 * inf is NaN */
        const float xa = wa > 0.0f ? wa * LOAD(o_a, ra + (ulong)c) : 0.0f;
        const float xb = wb > 0.0f ? wb * LOAD(o_b, rb + (ulong)c) : 0.0f;
        STORE(o, ro + (ulong)c, (xa + xb) * inv);
    }
    if (write_lse)
        lse[lse_off + row] = LSE_NATURAL(m, sum);
}
