/* Storage conversions on the host, bit-exact with the kernels' vload_half/vstore_half_rte and
 * their bf16 shifts: round to nearest even, subnormals kept, NaN stays NaN. */
#include <math.h>
#include <string.h>

#include "clattn.h"
#include "message.h"

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

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f)
        return bits_float(sign | 0x7f800000 | (mant << 13));
    if (exp == 0) /* zero or subnormal: mant * 2^-24 is exact in float */
        return bits_float(sign) + (sign ? -1.0f : 1.0f) * ldexpf((float)mant, -24);
    return bits_float(sign | ((exp + 112) << 23) | (mant << 13));
}

static uint16_t float_to_half(float f)
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
    }
    return 0; /* not a clattn_dtype, as the header promises */
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
    }
    return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "unknown dtype %d", (int)dtype);
}
