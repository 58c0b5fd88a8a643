/* The KV cache's quantized types on the host (docs/semantics.md, "KV cache types"): ggml's
 * q8_0 and q4_0 blocks and the two fp8 formats, each way. */
#ifndef CLATTN_QUANT_H
#define CLATTN_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "clattn.h"

/* Whether the dtype is one of the quantized types (q8_0, q4_0, fp8). */
int quant_is(clattn_dtype dtype);

/* count values (a multiple of 32 for block types) from or to the dtype's bytes. */
void quant_to_float(clattn_dtype dtype, const void *src, float *dst, size_t count);
void quant_from_float(clattn_dtype dtype, const float *src, void *dst, size_t count);

/* Value `index` of an array of the dtype, without converting the rest. */
float quant_value(clattn_dtype dtype, const void *base, uint64_t index);

#endif
