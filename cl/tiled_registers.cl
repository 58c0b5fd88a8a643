/* Fused attention for devices whose local memory is ordinary memory (CL_GLOBAL: CPUs).
 *
 * One work-item is a whole work-group. It owns ROWS query rows of one (batch, head) and
 * streams blocks of BC = KV_VECS * VW keys from the packed Kt / Vp (cl/pack.cl):
 *   scores   s[ROWS][KV_VECS] vectors: for each c, one vector load of Kt per KV_VECS and a
 *            broadcast of q[r][c]; ROWS * KV_VECS independent FMA chains hide FMA latency.
 *   softmax  online (running max m and sum l per row), in base 2.
 *   output   o[ROWS][D_VECS] vectors, updated DV_CHUNK vectors at a time so that the live
 *            accumulators stay within the register file for any head_dim.
 * No barrier and no __local: on CPU devices a barrier makes the implementation keep every
 * work-item's private state in memory, and __local is the same cache as __global.
 *
 * Host defines: VW, ROWS, KV_VECS, DV_CHUNK, and common.cl's DTYPE and HEAD_DIM. */

#define BC (KV_VECS * VW)

__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void attend_registers(__global const storage_t *q, ulong q_off, long q_sb, long q_ss, long q_sh,
                      __global const float *kt, __global const float *vp, int kt_stride,
                      int nk_pad, __global storage_t *o, ulong o_off, long o_sb, long o_ss,
                      long o_sh, __global float *lse, ulong lse_off, int write_lse, int heads,
                      int group, int nq, int nk, long pos_off, int causal, long wl, long wr,
                      float qscale)
{
    const int row_blocks = (nq + ROWS - 1) / ROWS;
    const long gid = get_global_id(0);
    const int bh = (int)(gid / row_blocks);
    /* Last row blocks first: under a causal mask they carry the most keys, and starting
     * them early keeps the end of the launch from waiting on one long work-item. */
    const int rb = row_blocks - 1 - (int)(gid % row_blocks);
    const int b = bh / heads, h = bh % heads;
    const int bkv = b * (heads / group) + h / group;
    const int i0 = rb * ROWS;

    float qv[ROWS][HEAD_DIM];
    int lo[ROWS], hi[ROWS];
    int lo_min = nk, hi_max = 0, lo_max = 0, hi_min = nk;
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        /* rows past nq repeat the last row; their results are not stored */
        const int i = min(i0 + r, nq - 1);
        const ulong base = q_off + (ulong)(b * q_sb + i * q_ss + h * q_sh);
        for (int c = 0; c < HEAD_DIM; c++)
            qv[r][c] = LOAD(q, base + (ulong)c) * qscale;
        row_range(i, pos_off, causal, wl, wr, nk, &lo[r], &hi[r]);
        if (lo[r] < hi[r]) {
            lo_min = min(lo_min, lo[r]);
            hi_max = max(hi_max, hi[r]);
        }
        lo_max = max(lo_max, lo[r]);
        hi_min = min(hi_min, hi[r]);
    }

    __global const float *ktb = kt + (ulong)bkv * HEAD_DIM * (ulong)kt_stride;
    __global const float *vpb = vp + (ulong)bkv * (ulong)nk_pad * D_PAD;
    vec_t acc[ROWS][D_VECS];
    float m[ROWS], l[ROWS], alpha[ROWS];
    float p[ROWS][BC];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
#pragma unroll
        for (int t = 0; t < D_VECS; t++)
            acc[r][t] = (vec_t)(0.0f);
    }

    /* Only the blocks some row can see: the window and causal bounds are loop bounds. */
    for (int j0 = lo_min / BC * BC; j0 < hi_max; j0 += BC) {
        vec_t s[ROWS][KV_VECS];
#pragma unroll
        for (int r = 0; r < ROWS; r++)
#pragma unroll
            for (int u = 0; u < KV_VECS; u++)
                s[r][u] = (vec_t)(0.0f);
        __global const float *kcol = ktb + j0;
#pragma unroll 4
        for (int c = 0; c < HEAD_DIM; c++) {
            vec_t kvec[KV_VECS];
#pragma unroll
            for (int u = 0; u < KV_VECS; u++)
                kvec[u] = VLOAD(kcol + (ulong)c * (ulong)kt_stride + u * VW);
#pragma unroll
            for (int r = 0; r < ROWS; r++)
#pragma unroll
                for (int u = 0; u < KV_VECS; u++)
                    s[r][u] = MAD((vec_t)(qv[r][c]), kvec[u], s[r][u]);
        }

        /* Blocks wholly inside every row's range need no mask (most of them). */
        if (!(j0 >= lo_max && j0 + BC <= hi_min)) {
#pragma unroll
            for (int r = 0; r < ROWS; r++)
#pragma unroll
                for (int u = 0; u < KV_VECS; u++) {
                    const ivec_t key = (ivec_t)(j0 + u * VW) + LANE_INDEX;
                    s[r][u] = select(s[r][u], (vec_t)(-INFINITY),
                                     (key < (ivec_t)(lo[r])) | (key >= (ivec_t)(hi[r])));
                }
        }

#pragma unroll
        for (int r = 0; r < ROWS; r++) {
            float block_max = -INFINITY;
#pragma unroll
            for (int u = 0; u < KV_VECS; u++)
                block_max = fmax(block_max, hmax(s[r][u]));
            const float m_new = fmax(m[r], block_max);
            /* A row that has seen no visible key yet keeps m = -inf; subtracting 0 instead
             * keeps exp2(-inf - -inf) from turning its zeros into NaN. */
            const float m_use = m_new == -INFINITY ? 0.0f : m_new;
            alpha[r] = exp2(m[r] - m_use);
            float sum = 0.0f;
#pragma unroll
            for (int u = 0; u < KV_VECS; u++) {
                const vec_t pv = exp2(s[r][u] - (vec_t)(m_use));
                sum += hsum(pv);
                VSTORE(pv, &p[r][u * VW]);
            }
            l[r] = l[r] * alpha[r] + sum;
            m[r] = m_new;
        }

        __global const float *vrow = vpb + (ulong)j0 * D_PAD;
#pragma unroll
        for (int t0 = 0; t0 < D_VECS; t0 += DV_CHUNK) {
            vec_t part[ROWS][DV_CHUNK];
#pragma unroll
            for (int r = 0; r < ROWS; r++)
#pragma unroll
                for (int t = 0; t < DV_CHUNK; t++)
                    if (t0 + t < D_VECS)
                        part[r][t] = acc[r][t0 + t] * (vec_t)(alpha[r]);
#pragma unroll 4
            for (int j = 0; j < BC; j++) {
#pragma unroll
                for (int t = 0; t < DV_CHUNK; t++)
                    if (t0 + t < D_VECS) {
                        const vec_t vv = VLOAD(vrow + j * D_PAD + (t0 + t) * VW);
#pragma unroll
                        for (int r = 0; r < ROWS; r++)
                            part[r][t] = MAD((vec_t)(p[r][j]), vv, part[r][t]);
                    }
            }
#pragma unroll
            for (int r = 0; r < ROWS; r++)
#pragma unroll
                for (int t = 0; t < DV_CHUNK; t++)
                    if (t0 + t < D_VECS)
                        acc[r][t0 + t] = part[r][t];
        }
    }

#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        const int i = i0 + r;
        if (i < nq) { /* a guard, not a break: a loop with an exit is not unrolled */
            /* A row with no visible key has l = 0 and acc = 0: it is written as zeros. */
            const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
            float row[D_PAD];
#pragma unroll
            for (int t = 0; t < D_VECS; t++)
                VSTORE(acc[r][t] * (vec_t)(inv), &row[t * VW]);
            const ulong base = o_off + (ulong)(b * o_sb + i * o_ss + h * o_sh);
            for (int c = 0; c < HEAD_DIM; c++)
                STORE(o, base + (ulong)c, row[c]);
            if (write_lse)
                lse[lse_off + (ulong)bh * (ulong)nq + (ulong)i] =
                    m[r] == -INFINITY ? -INFINITY : (m[r] + log2(l[r])) * LN2;
        }
    }
}
