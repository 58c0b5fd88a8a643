/* Storage conversions on the host, bit-exact with the kernels' vload_half/vstore_half_rte and
 * their bf16 shifts: round to nearest even, subnormals kept, NaN stays NaN. */
#include <math.h>
#include <string.h>

#include "clattn.h"
#include "half.h"
#include "message.h"
#include "quant.h"

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f)
        return bits_float(sign | 0x7f800000 | (mant << 13));
    if (exp == 0) /* zero or subnormal: mant * 2^-24 is exact in float */
        return bits_float(sign) + (sign ? -1.0f : 1.0f) * ldexpf((float)mant, -24);
    return bits_float(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t float_to_half(float f)
{
    uint32_t u = float_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t abs = u & 0x7fffffff;
    if (abs > 0x7f800000) /* NaN: keep it quiet and a NaN */
        return sign | 0x7e00 | (uint16_t)((abs >> 13) & 0x3ff);
    if (abs >= 0x477ff000) /* rounds to >= 65520: infinity */
        return sign | 0x7c00;
    if (abs < 0x38800000) { /* below 2^-14: subnormal half, rounded from the exact value */
        float scaled = bits_float(abs) * 16777216.0f; /* * 2^24, exact */
        return sign | (uint16_t)lrintf(scaled);     /* lrintf rounds to nearest even */
    }
    uint32_t mant = abs + 0xfffu + ((abs >> 13) & 1); /* round to nearest even at bit 13 */
    return sign | (uint16_t)((mant - 0x38000000u) >> 13);
}

static float bf16_to_float(uint16_t b)
{
    return bits_float((uint32_t)b << 16);
}

static uint16_t float_to_bf16(float f)
{
    uint32_t u = float_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000)
        return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

size_t clattn_dtype_size(clattn_dtype dtype)
{
    switch (dtype) {
    case CLATTN_DTYPE_F32: return 4;
    case CLATTN_DTYPE_F16:
    case CLATTN_DTYPE_BF16: return 2;
    case CLATTN_DTYPE_FP8_E4M3:
    case CLATTN_DTYPE_FP8_E5M2: return 1;
    case CLATTN_DTYPE_Q8_0:
    case CLATTN_DTYPE_Q4_0: break; /* blocks: clattn_dtype_block */
    }
    return 0; /* a block type, or not a clattn_dtype, as the header promises */
}

clattn_status clattn_dtype_block(clattn_dtype dtype, int *values, int *bytes)
{
    int v = 1, b = (int)clattn_dtype_size(dtype);
    if (dtype == CLATTN_DTYPE_Q8_0 || dtype == CLATTN_DTYPE_Q4_0) {
        v = 32;
        b = dtype == CLATTN_DTYPE_Q8_0 ? 34 : 18;
    }
    if (b == 0)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "unknown dtype %d", (int)dtype);
    if (values)
        *values = v;
    if (bytes)
        *bytes = b;
    return CLATTN_SUCCESS;
}

/* The quantized types' share of the conversions: whole blocks only. */
static clattn_status quant_count(clattn_dtype dtype, size_t count, const char *who)
{
    int values;
    clattn_dtype_block(dtype, &values, NULL);
    if (count % (size_t)values)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "%s: %zu values are not whole blocks of %d", who, count, values);
    return CLATTN_SUCCESS;
}

clattn_status clattn_to_float(clattn_dtype dtype, const void *src, float *dst, size_t count)
{
    if ((!src || !dst) && count)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_to_float: NULL buffer");
    const uint16_t *s16 = src;
    switch (dtype) {
    case CLATTN_DTYPE_F32:
        if (count)
            memmove(dst, src, count * sizeof *dst);
        return CLATTN_SUCCESS;
    case CLATTN_DTYPE_F16:
        for (size_t i = 0; i < count; i++)
            dst[i] = half_to_float(s16[i]);
        return CLATTN_SUCCESS;
    case CLATTN_DTYPE_BF16:
        for (size_t i = 0; i < count; i++)
            dst[i] = bf16_to_float(s16[i]);
        return CLATTN_SUCCESS;
    case CLATTN_DTYPE_Q8_0:
    case CLATTN_DTYPE_Q4_0:
    case CLATTN_DTYPE_FP8_E4M3:
    case CLATTN_DTYPE_FP8_E5M2: {
        const clattn_status st = quant_count(dtype, count, "clattn_to_float");
        if (!st)
            quant_to_float(dtype, src, dst, count);
        return st;
    }
    }
    return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "unknown dtype %d", (int)dtype);
}

clattn_status clattn_from_float(clattn_dtype dtype, const float *src, void *dst, size_t count)
{
    if ((!src || !dst) && count)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_from_float: NULL buffer");
    uint16_t *d16 = dst;
    switch (dtype) {
    case CLATTN_DTYPE_F32:
        if (count)
            memmove(dst, src, count * sizeof *src);
        return CLATTN_SUCCESS;
    case CLATTN_DTYPE_F16:
        for (size_t i = 0; i < count; i++)
            d16[i] = float_to_half(src[i]);
        return CLATTN_SUCCESS;
    case CLATTN_DTYPE_BF16:
        for (size_t i = 0; i < count; i++)
            d16[i] = float_to_bf16(src[i]);
        return CLATTN_SUCCESS;
    case CLATTN_DTYPE_Q8_0:
    case CLATTN_DTYPE_Q4_0:
    case CLATTN_DTYPE_FP8_E4M3:
    case CLATTN_DTYPE_FP8_E5M2: {
        const clattn_status st = quant_count(dtype, count, "clattn_from_float");
        if (!st)
            quant_from_float(dtype, src, dst, count);
        return st;
    }
    }
    return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "unknown dtype %d", (int)dtype);
}
