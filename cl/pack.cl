/* Packing K and V for the register-block kernels (tiled and naive on CPU devices).
 *
 * Host defines: VW, and common.cl's DTYPE, KV_DTYPE, HEAD_DIM and HEAD_DIM_V.
 * Kt: per (batch, kv head), blocks of `block` keys; each block is HEAD_DIM rows of `block`
 *     floats, row c holding element c of the block's keys. A kernel scoring a block against
 *     its query rows then reads one contiguous run of memory, row after row, which the
 *     hardware prefetcher follows; a plain transpose (one long row per c) would make it read
 *     HEAD_DIM streams at once, and rows a power of two apart would share cache sets.
 * Vp: per (batch, kv head), nk_pad rows of DV_PAD floats, zero past dv.
 * A packed varlen batch (VARLEN) has its entries one after another per kv head instead, each
 * from a whole block (common.cl's VARLEN_PACKED_FIRST), nk_pad keys per kv head in all; the
 * launch covers the longest entry's keys.
 * Keys past the entry's length (up to nk_pad) are zero in both, so a block never reads past
 * the buffers; the kernels mask them. A key whose page is not in the pool is NaN in Kt and 0 in Vp
 * (common.cl's MISSING_K and MISSING_V), so that the rows that see it, and only they, say so. Storage types are converted to f32 here, once per
 * element, rather than once per (query row, key) pair in the kernels. */

__kernel void pack_kv(__global const kv_t *k, ulong k_off, long k_sb, long k_ss, long k_sh,
                      __global const kv_t *v, ulong v_off, long v_sb, long v_ss, long v_sh,
                      __global float *kt, __global float *vp, int kv_heads, int nk, int nk_pad,
                      int block, KV_LAYOUT_PARAMS VARLEN_PARAMS)
{
    const int j0 = (int)get_global_id(0) * VW; /* VW consecutive keys per work-item */
    const int bkv = (int)get_global_id(1);
    const int b = bkv / kv_heads, g = bkv % kv_heads;
    if (j0 >= nk_pad)
        return;
#ifdef VARLEN /* the entry's packed keys; an impossible range packs nothing */
    int n, k0;
    VARLEN_KEYS(b, n, k0);
    const ulong first = VARLEN_PACKED_FIRST(b, g, k0, nk_pad, block);
#else
    const int n = kv_length(b, nk, KV_LAYOUT);
    const ulong first = (ulong)bkv * (ulong)nk_pad;
#endif
    /* j0 and its VW keys lie in one block, since blocks are whole vectors */
    __global float *ktb = kt + first * HEAD_DIM + (ulong)(j0 / block) * HEAD_DIM * (ulong)block +
                          (ulong)(j0 % block);
    __global float *vpb = vp + (first + (ulong)j0) * DV_PAD;
    /* the kernels never read past the block holding an entry's last key: a short entry of a
     * long cache packs only what it has */
    if (j0 >= (max(n, 0) + block - 1) / block * block)
        return;

    long krow[VW], vrow[VW];
    for (int t = 0; t < VW; t++) {
        const int j = j0 + t;
        krow[t] = j < n ? kv_offset(k_off, k_sb, k_ss, k_sh, b, j, g, KV_LAYOUT) : 0;
        vrow[t] = j < n ? kv_offset(v_off, v_sb, v_ss, v_sh, b, j, g, KV_LAYOUT) : 0;
    }
    for (int c = 0; c < HEAD_DIM; c++) {
        float lanes[VW];
        for (int t = 0; t < VW; t++)
            lanes[t] = j0 + t >= n ? 0.0f
                       : krow[t] < 0 ? MISSING_K
                                     : KV_LOAD(k, (ulong)krow[t] + (ulong)c);
        VSTORE(VLOAD(lanes), ktb + (ulong)c * (ulong)block);
    }
#if HEAD_DIM_V % VW == 0
    /* whole vectors: V rows are copied a vector at a time */
    for (int t = 0; t < VW; t++)
        for (int u = 0; u < DV_VECS; u++)
            VSTORE(j0 + t >= n ? (vec_t)(0.0f)
                   : vrow[t] < 0 ? (vec_t)(MISSING_V)
                                 : KV_LOADV(v, (ulong)vrow[t] + (ulong)(u * VW)),
                   vpb + t * DV_PAD + u * VW);
#else
    for (int t = 0; t < VW; t++)
        for (int c = 0; c < DV_PAD; c++)
            vpb[t * DV_PAD + c] = j0 + t >= n || c >= HEAD_DIM_V ? 0.0f
                                 : vrow[t] < 0 ? MISSING_V
                                               : KV_LOAD(v, (ulong)vrow[t] + (ulong)c);
#endif
}
