/* Appending the step's new keys and values to a KV cache (clattn_enqueue_kvcache with k_new
 * and v_new): row i of entry b goes to position kv_lens[b] + i, contiguous or paged. The
 * attention that follows counts them (`appended`). An entry whose new rows do not all fit
 * below the capacity gets none of them, and a row whose page is not in the pool is not
 * written; the attention then reports that entry's rows as NaN (common.cl).
 *
 * New rows are [B, n_new, Hkv, d], contiguous, in Q's type. One work-item per (row, kv head,
 * entry). A cache of another type (KV_DTYPE) gets each row converted as docs/semantics.md ("KV
 * cache types") and host/quant.c do it, bit for bit: each q8_0 or q4_0 block of 32 values by
 * the work-item that writes its row, fp8 as x / scale (KV_K_SCALE, KV_V_SCALE) rounded to
 * nearest even.
 * Host defines: common.cl's DTYPE, KV_DTYPE, HEAD_DIM and HEAD_DIM_V, and for fp8 KV_K_SCALE and
 * KV_V_SCALE. */

/* Products and sums are rounded one by one, as host/quant.c's C does: a fused multiply-add
 * would round a q4_0 code differently. */
#pragma OPENCL FP_CONTRACT OFF

#if KV_DTYPE != DTYPE
/* a / b rounded to nearest even, whatever the accuracy of the device's division (OpenCL
 * allows 2.5 ulp): the quotient is moved one ulp at a time while that brings the exact
 * remainder a - q * b (one fma, exact near the quotient) closer to 0. */
inline float div_rn(float a, float b)
{
    float q = a / b;
    if (!isfinite(q) || q == 0.0f)
        return q;
    for (int it = 0; it < 4; it++) {
        const float r = fma(-q, b, a);
        if (r == 0.0f)
            break;
        /* the exact quotient is q + r / b */
        const float n = nextafter(q, (r > 0.0f) == (b > 0.0f) ? INFINITY : -INFINITY);
        const float rn = fabs(fma(-n, b, a)), rq = fabs(r);
        if (rn < rq || (rn == rq && (as_uint(n) & 1u) == 0u))
            q = n;
        else
            break;
    }
    return q;
}
#endif

#if KV_DTYPE == 3 || KV_DTYPE == 4
/* One block of 32 values x into the block at dst: ggml's rules (host/quant.c). */
inline void encode_block(const float *x, __global uchar *dst)
{
    float amax = 0.0f, max = 0.0f;
    int nan = 0;
    for (int j = 0; j < 32; j++) {
        nan |= isnan(x[j]);
        if (fabs(x[j]) > amax) {
            amax = fabs(x[j]);
            max = x[j];
        }
    }
#if KV_DTYPE == 3
    const float d = nan ? NAN : div_rn(amax, 127.0f);
#else
    const float d = nan ? NAN : max / -8.0f; /* exact: a power of two */
#endif
    const float id = d != 0.0f && !nan ? div_rn(1.0f, d) : 0.0f;
    ushort h;
    vstore_half_rte(d, 0, (__private half *)&h);
    dst[0] = (uchar)(h & 0xffu);
    dst[1] = (uchar)(h >> 8);
#if KV_DTYPE == 3
    for (int j = 0; j < 32; j++)
        dst[2 + j] = (uchar)(char)(int)round(x[j] * id);
#else
    for (int j = 0; j < 16; j++) {
        const float lo = floor(x[j] * id + 8.5f), hi = floor(x[j + 16] * id + 8.5f);
        const int n0 = lo > 15.0f ? 15 : (int)lo, n1 = hi > 15.0f ? 15 : (int)hi;
        dst[2 + j] = (uchar)(n0 | n1 << 4);
    }
#endif
}
#endif

#if KV_DTYPE >= 5
/* x as an fp8 code, rounded to nearest even: |x| is rounded to a multiple of its binade's
 * step (the subnormal step below the smallest normal), which rint does exactly, then coded.
 * e4m3 saturates at 448; e5m2 rounds to infinity from 61440, halfway past its largest,
 * 57344. NaN keeps its sign, as S.1111111. */
inline uchar fp8_encode(float x)
{
#if KV_DTYPE == 5
    const int m_bits = 3, bias = 7;
    const float top = 448.0f;
#else
    const int m_bits = 2, bias = 15;
    const float top = 57344.0f;
#endif
    const uint sign = signbit(x) ? 0x80u : 0u;
    if (isnan(x))
        return (uchar)(sign | 0x7fu);
    const float a = fabs(x);
#if KV_DTYPE == 5
    if (a >= top)
        return (uchar)(sign | 0x7eu);
#else
    if (a >= 61440.0f)
        return (uchar)(sign | 0x7cu);
#endif
    if (a == 0.0f)
        return (uchar)sign;
    const int e_min = 1 - bias;
    const int e = max(ilogb(a), e_min) - m_bits; /* the step is 2^e */
    const float r = ldexp(rint(ldexp(a, -e)), e);
    if (r == 0.0f)
        return (uchar)sign;
    if (r >= top)
        return (uchar)(sign | (KV_DTYPE == 5 ? 0x7eu : 0x7bu));
    const int re = ilogb(r);
    uint code;
    if (re < e_min)
        code = (uint)ldexp(r, m_bits - e_min); /* subnormal: m */
    else
        code = (uint)(re + bias) << m_bits | ((uint)ldexp(r, m_bits - re) & ((1u << m_bits) - 1u));
    return (uchar)(sign | code);
}
#endif

#if KV_DTYPE != DTYPE
/* Row `src` of the new rows (Q's type) into the cache row at value `dst`, which is a whole
 * number of blocks for a block type; `dim` values (HEAD_DIM or HEAD_DIM_V), `scale` is fp8's. */
inline void write_row(__global const storage_t *from, ulong src, __global kv_t *to, ulong dst,
                      int dim, float scale)
{
#if KV_DTYPE == 3 || KV_DTYPE == 4
    for (int blk = 0; blk < dim / 32; blk++) {
        float x[32];
        for (int j = 0; j < 32; j++)
            x[j] = LOAD(from, src + (ulong)(blk * 32 + j));
        encode_block(x, to + (dst / 32 + (ulong)blk) * KV_BLOCK_BYTES);
    }
#elif KV_DTYPE == 5 || KV_DTYPE == 6
    for (int c = 0; c < dim; c++)
        to[dst + (ulong)c] = fp8_encode(div_rn(LOAD(from, src + (ulong)c), scale));
#else
    for (int c = 0; c < dim; c++) {
#if KV_DTYPE == 0
        to[dst + (ulong)c] = LOAD(from, src + (ulong)c);
#elif KV_DTYPE == 1
        vstore_half_rte(LOAD(from, src + (ulong)c), 0, to + dst + (ulong)c);
#else
        to[dst + (ulong)c] = float_to_bf16(LOAD(from, src + (ulong)c));
#endif
    }
#endif
}

#define APPEND_SRC storage_t
#define APPEND_DST kv_t
#if KV_DTYPE >= 5
#define APPEND_K_SCALE ((float)(KV_K_SCALE))
#define APPEND_V_SCALE ((float)(KV_V_SCALE))
#else
#define APPEND_K_SCALE 1.0f
#define APPEND_V_SCALE 1.0f
#endif
#else
#define APPEND_SRC raw_t /* copied bits unchanged */
#define APPEND_DST raw_t
#endif

__kernel void append_kv(__global const APPEND_SRC *k_new, ulong k_new_off,
                        __global const APPEND_SRC *v_new, ulong v_new_off, int n_new,
                        int kv_heads, __global APPEND_DST *k, ulong k_off, long k_sb, long k_ss,
                        long k_sh, __global APPEND_DST *v, ulong v_off, long v_sb,
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
    const ulong new_row = ((ulong)b * n_new + i) * kv_heads + g;
    const ulong src = new_row * HEAD_DIM, v_src = new_row * HEAD_DIM_V;
#if KV_DTYPE == DTYPE
#if HEAD_DIM_V == HEAD_DIM
    for (int c = 0; c < HEAD_DIM; c++) {
        if (kd >= 0)
            k[(ulong)kd + c] = k_new[k_new_off + src + c];
        if (vd >= 0)
            v[(ulong)vd + c] = v_new[v_new_off + v_src + c];
    }
#else
    for (int c = 0; kd >= 0 && c < HEAD_DIM; c++)
        k[(ulong)kd + c] = k_new[k_new_off + src + c];
    for (int c = 0; vd >= 0 && c < HEAD_DIM_V; c++)
        v[(ulong)vd + c] = v_new[v_new_off + v_src + c];
#endif
#else
    if (kd >= 0)
        write_row(k_new, k_new_off + src, k, (ulong)kd, HEAD_DIM, APPEND_K_SCALE);
    if (vd >= 0)
        write_row(v_new, v_new_off + v_src, v, (ulong)vd, HEAD_DIM_V, APPEND_V_SCALE);
#endif
}
