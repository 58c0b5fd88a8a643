#include "row.h"

#include <stdlib.h>

int rows_append(struct bench_rows *rows, const struct bench_row *row)
{
    if (rows->count == rows->capacity) {
        size_t capacity = rows->capacity ? 2 * rows->capacity : 32;
        struct bench_row *grown = realloc(rows->items, capacity * sizeof *grown);
        if (!grown) {
            free(row->stages);
            return -1;
        }
        rows->items = grown;
        rows->capacity = capacity;
    }
    rows->items[rows->count++] = *row;
    return 0;
}

void rows_free(struct bench_rows *rows)
{
    for (size_t i = 0; i < rows->count; i++)
        free(rows->items[i].stages);
    free(rows->items);
    rows->items = NULL;
    rows->count = rows->capacity = 0;
}

double row_stages_ms(const struct bench_row *row)
{
    double total = 0;
    for (int i = 0; i < row->stage_count; i++)
        total += row->stages[i].ms;
    return total;
}

int rows_same_series(const struct bench_row *a, const struct bench_row *b)
{
    return a->requested == b->requested && a->algo == b->algo && a->batch == b->batch &&
           a->heads == b->heads && a->kv_heads == b->kv_heads && a->head_dim == b->head_dim &&
           a->window_left == b->window_left && a->window_right == b->window_right &&
           a->causal == b->causal && a->align == b->align && a->dtype == b->dtype;
}

const char *algo_name(clattn_algorithm algo)
{
    switch (algo) {
    case CLATTN_ALGO_AUTO: return "auto";
    case CLATTN_ALGO_NAIVE: return "naive";
    case CLATTN_ALGO_TILED: return "tiled";
    case CLATTN_ALGO_WINDOWED: return "windowed";
    case CLATTN_ALGO_DECODE: return "decode";
    }
    return "?";
}

const char *row_algo_label(const struct bench_row *row)
{
    if (row->requested != CLATTN_ALGO_AUTO)
        return algo_name(row->algo);
    switch (row->algo) {
    case CLATTN_ALGO_NAIVE: return "auto:naive";
    case CLATTN_ALGO_TILED: return "auto:tiled";
    case CLATTN_ALGO_WINDOWED: return "auto:windowed";
    case CLATTN_ALGO_DECODE: return "auto:decode";
    case CLATTN_ALGO_AUTO: break;
    }
    return "auto";
}

const char *dtype_name(clattn_dtype dtype)
{
    switch (dtype) {
    case CLATTN_DTYPE_F32: return "f32";
    case CLATTN_DTYPE_F16: return "f16";
    case CLATTN_DTYPE_BF16: return "bf16";
    case CLATTN_DTYPE_Q8_0: return "q8_0";
    case CLATTN_DTYPE_Q4_0: return "q4_0";
    case CLATTN_DTYPE_FP8_E4M3: return "fp8_e4m3";
    case CLATTN_DTYPE_FP8_E5M2: return "fp8_e5m2";
    }
    return "?";
}

const char *align_name(clattn_align align)
{
    return align == CLATTN_ALIGN_TOP_LEFT ? "top-left" : "bottom-right";
}
