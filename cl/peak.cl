/* Probes of what the device can do, for attn-bench --peak (not used by attention itself).
 *
 * fma_peak: PEAK_CHAINS independent chains of vec_t multiply-adds per work-item, enough to
 * cover FMA latency on CPUs and GPUs alike; each iteration is 2 * PEAK_CHAINS * VW flops.
 * The result is stored so that the compiler cannot drop the loop.
 * copy_bandwidth: one read and one write of VW floats per work-item.
 * Host defines: VW, PEAK_CHAINS (and DTYPE/HEAD_DIM, unused). */

__kernel void fma_peak(__global float *out, int iterations, float seed)
{
    vec_t x[PEAK_CHAINS];
    const vec_t a = (vec_t)(seed), c = (vec_t)(0.999f);
#pragma unroll
    for (int k = 0; k < PEAK_CHAINS; k++)
        x[k] = (vec_t)(seed + (float)k + (float)get_global_id(0));
    for (int n = 0; n < iterations; n++)
#pragma unroll
        for (int k = 0; k < PEAK_CHAINS; k++)
            x[k] = MAD(x[k], c, a);
    vec_t sum = x[0];
#pragma unroll
    for (int k = 1; k < PEAK_CHAINS; k++)
        sum += x[k];
    out[get_global_id(0)] = hsum(sum);
}

__kernel void copy_bandwidth(__global const float *src, __global float *dst)
{
    const size_t i = get_global_id(0) * VW;
    VSTORE(VLOAD(src + i), dst + i);
}
