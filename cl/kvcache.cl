/* Appending the step's new keys and values to a KV cache (clattn_enqueue_kvcache with k_new
 * and v_new): row i of entry b goes to position kv_lens[b] + i, contiguous or paged. The
 * attention that follows counts them (`appended`). An entry whose new rows do not all fit
 * below the capacity gets none of them, and a row whose page is not in the pool is not
 * written; the attention then reports that entry's rows as NaN (common.cl).
 *
 * New rows are [B, n_new, Hkv, d], contiguous. One work-item per (row, kv head, entry).
 * Host defines: common.cl's DTYPE and HEAD_DIM. */

__kernel void append_kv(__global const raw_t *k_new, ulong k_new_off,
                        __global const raw_t *v_new, ulong v_new_off, int n_new,
                        int kv_heads, __global raw_t *k, ulong k_off, long k_sb, long k_ss,
                        long k_sh, __global raw_t *v, ulong v_off, long v_sb,
                        long v_ss, long v_sh, KV_LAYOUT_PARAMS)
{
    const int i = (int)get_global_id(0), g = (int)get_global_id(1), b = (int)get_global_id(2);
    const int given = kv_lens[lens_off + (ulong)b];
    /* compared before adding: given + i would wrap past INT_MAX */
    if (given < 0 || given > capacity - n_new)
        return;
    const int j = given + i;
    const long kd = kv_offset(k_off, k_sb, k_ss, k_sh, b, j, g, KV_LAYOUT);
    const long vd = kv_offset(v_off, v_sb, v_ss, v_sh, b, j, g, KV_LAYOUT);
    const ulong src = (((ulong)b * n_new + i) * kv_heads + g) * HEAD_DIM;
    for (int c = 0; c < HEAD_DIM; c++) {
        if (kd >= 0)
            k[(ulong)kd + c] = k_new[k_new_off + src + c];
        if (vd >= 0)
            v[(ulong)vd + c] = v_new[v_new_off + src + c];
    }
}
