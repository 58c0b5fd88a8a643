/* Probes of what the device can do, for attn-bench --peak (not used by attention itself).
 *
 * fma_peak: PEAK_CHAINS independent chains of vec_t multiply-adds per work-item, enough to
 * cover FMA latency on CPUs and GPUs alike; each iteration is 2 * PEAK_CHAINS * VW flops.
 * The result is stored so that the compiler cannot drop the loop.
 * copy_bandwidth: one read and one write of VW floats per work-item.
 * read_bandwidth: PER_ITEM reads of VW floats per work-item, summed into one float, so that
 * reading is nearly all the traffic (decoding reads its KV cache and writes little). Vector n
 * of item g is at g * item_step + n * read_step: on GPUs neighbouring items read neighbouring
 * vectors at each step (item_step 1), on CPUs each item streams its own run (read_step 1).
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

__kernel void read_bandwidth(__global const float *src, __global float *out, int per_item,
                             ulong item_step, ulong read_step)
{
    const size_t g = get_global_id(0);
    /* two sums: an add chain per load would bound a CPU by add latency, not by memory */
    vec_t a = (vec_t)(0.0f), b = (vec_t)(0.0f);
    for (int n = 0; n < per_item; n += 2) {
        a += VLOAD(src + (g * item_step + (size_t)n * read_step) * VW);
        b += VLOAD(src + (g * item_step + (size_t)(n + 1) * read_step) * VW);
    }
    out[g] = hsum(a + b);
}
