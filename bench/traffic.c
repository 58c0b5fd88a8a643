#include "traffic.h"

clattn_status traffic_model(const clattn_problem *problem, struct bench_row *row)
{
    uint64_t pairs = 0;
    clattn_status st = clattn_problem_visible_pairs(problem, &pairs);
    if (st)
        return st;
    row->flops = 4 * (uint64_t)row->head_dim * pairs;

    const uint64_t esize = clattn_dtype_size(row->dtype);
    const uint64_t b = (uint64_t)row->batch, d = (uint64_t)row->head_dim;
    const uint64_t q_rows = b * (uint64_t)row->seq_q * (uint64_t)row->heads;
    const uint64_t kv_rows = b * (uint64_t)row->seq_kv * (uint64_t)row->kv_heads;
    /* Q and O, K and V, LSE */
    row->bytes = 2 * q_rows * d * esize + 2 * kv_rows * d * esize + q_rows * 4;
    if (row->algo == CLATTN_ALGO_NAIVE)
        row->bytes += 6 * q_rows * (uint64_t)row->seq_kv * 4;
    return CLATTN_SUCCESS;
}

double row_gflops(const struct bench_row *row)
{
    return row->ms > 0 ? (double)row->flops / (row->ms * 1e6) : 0;
}

double row_gbps(const struct bench_row *row)
{
    return row->ms > 0 ? (double)row->bytes / (row->ms * 1e6) : 0;
}

double row_flop_per_byte(const struct bench_row *row)
{
    return row->bytes ? (double)row->flops / (double)row->bytes : 0;
}

double row_peak_fraction(const struct bench_row *row, const struct bench_peak *peak)
{
    if (!peak->measured)
        return -1;
    return peak->gflops > 0 ? row_gflops(row) / peak->gflops : 0;
}
