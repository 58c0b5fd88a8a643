#include "decode_model.h"

double decode_step_flops(const struct decode_dims *m, int64_t keys)
{
    return 4.0 * (double)m->heads * (double)m->head_dim * (double)keys;
}

double decode_step_bytes(const struct decode_dims *m, int64_t keys)
{
    return 2.0 * (double)keys * (double)m->kv_heads * (double)m->head_dim * (double)m->elem_size;
}

double prefill_flops(const struct decode_dims *m, int64_t keys)
{
    const double n = (double)keys;
    return 4.0 * (double)m->heads * (double)m->head_dim * n * (n + 1) / 2;
}

/* The sum of L(L+1)/2 over L = 1..n: the tetrahedral number n(n+1)(n+2)/6. */
static double tetrahedral(double n)
{
    return n * (n + 1) * (n + 2) / 6;
}

double decode_sum_step_flops(const struct decode_dims *m, int64_t start, int64_t steps)
{
    /* the sum of start + t over t = 1..steps */
    const double s = (double)start, n = (double)steps;
    return decode_step_flops(m, 1) * (n * s + n * (n + 1) / 2);
}

double decode_sum_prefill_flops(const struct decode_dims *m, int64_t start, int64_t steps)
{
    const double pairs = tetrahedral((double)(start + steps)) - tetrahedral((double)start);
    return 4.0 * (double)m->heads * (double)m->head_dim * pairs;
}

double decode_sum_sampled(const int64_t *steps, const double *values, size_t last)
{
    double sum = (values[0] + values[last]) / 2;
    for (size_t i = 0; i < last; i++)
        sum += (double)(steps[i + 1] - steps[i]) * (values[i] + values[i + 1]) / 2;
    return sum;
}
