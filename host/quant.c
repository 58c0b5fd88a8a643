#include "quant.h"

#include <math.h>
#include <string.h>

#include "half.h"

enum { BLOCK = 32, Q8_0_BYTES = 34, Q4_0_BYTES = 18 };

int quant_is(clattn_dtype dtype)
{
    return dtype >= CLATTN_DTYPE_Q8_0 && dtype <= CLATTN_DTYPE_FP8_E5M2;
}

/* ---- fp8 ---- */

static int fp8_mantissa_bits(int e5m2)
{
    return e5m2 ? 2 : 3;
}

static float fp8_decode(uint8_t c, int e5m2)
{
    const int m_bits = fp8_mantissa_bits(e5m2), bias = e5m2 ? 15 : 7;
    const int e = (c & 0x7f) >> m_bits, m = c & ((1 << m_bits) - 1);
    const float sign = c & 0x80 ? -1.0f : 1.0f;
    if (e5m2 && e == 31)
        return m ? NAN : sign * INFINITY;
    if (!e5m2 && e == 15 && m == 7) /* e4m3 has no infinities: S.1111.111 is its only NaN */
        return NAN;
    if (e == 0)
        return sign * ldexpf((float)m, 1 - bias - m_bits);
    return sign * ldexpf((float)((1 << m_bits) + m), e - bias - m_bits);
}

/* Round to nearest, ties to the even code: the positive codes are ordered as their values,
 * so the neighbours are found by bisection and compared exactly in double. */
static uint8_t fp8_encode(float x, int e5m2)
{
    const uint8_t sign = signbit(x) ? 0x80 : 0;
    if (isnan(x))
        return sign | 0x7f;
    const double a = fabs((double)x);
    const uint8_t top = e5m2 ? 0x7b : 0x7e; /* the largest finite code: 57344 or 448 */
    if (e5m2 && a >= 61440.0) /* halfway past 57344 and beyond: IEEE rounds to infinity */
        return sign | 0x7c;
    if (!e5m2 && a >= 448.0) /* e4m3 saturates */
        return sign | top;
    int lo = 0, hi = top;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (fp8_decode((uint8_t)mid, e5m2) <= a)
            lo = mid;
        else
            hi = mid - 1;
    }
    if (lo == top)
        return sign | (uint8_t)lo;
    const double below = fp8_decode((uint8_t)lo, e5m2), above = fp8_decode((uint8_t)(lo + 1), e5m2);
    const double down = a - below, up = above - a;
    const int code = down < up ? lo : up < down ? lo + 1 : (lo % 2 == 0 ? lo : lo + 1);
    return sign | (uint8_t)code;
}

/* ---- ggml's blocks ---- */

static float block_scale(const uint8_t *block)
{
    return half_to_float((uint16_t)(block[0] | block[1] << 8));
}

static void put_scale(uint8_t *block, float d)
{
    const uint16_t h = float_to_half(d);
    block[0] = (uint8_t)(h & 0xff);
    block[1] = (uint8_t)(h >> 8);
}

/* ggml's quantize_row_q8_0 rule: d = max|x| / 127, q = round(x * (1/d)), halves away from
 * zero. A NaN in the block makes its scale NaN, and so every value of the block. */
static void q8_0_encode(const float *x, uint8_t *block)
{
    float amax = 0;
    int nan = 0;
    for (int j = 0; j < BLOCK; j++) {
        nan |= isnan(x[j]);
        amax = fmaxf(amax, fabsf(x[j]));
    }
    const float d = nan ? NAN : amax / 127.0f, id = d != 0 && !nan ? 1.0f / d : 0.0f;
    put_scale(block, d);
    for (int j = 0; j < BLOCK; j++)
        block[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

/* ggml's quantize_row_q4_0 rule: d = (the value of largest magnitude) / -8, code
 * n = min(15, floor(x * (1/d) + 8.5)); value j in the low nibble of byte j, j + 16 high. */
static void q4_0_encode(const float *x, uint8_t *block)
{
    float amax = 0, max = 0;
    int nan = 0;
    for (int j = 0; j < BLOCK; j++) {
        nan |= isnan(x[j]);
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    const float d = nan ? NAN : max / -8.0f, id = d != 0 && !nan ? 1.0f / d : 0.0f;
    put_scale(block, d);
    for (int j = 0; j < BLOCK / 2; j++) {
        const float lo = floorf(x[j] * id + 8.5f), hi = floorf(x[j + BLOCK / 2] * id + 8.5f);
        const int n0 = lo > 15 ? 15 : (int)lo, n1 = hi > 15 ? 15 : (int)hi;
        block[2 + j] = (uint8_t)(n0 | n1 << 4);
    }
}

static float q8_0_value(const uint8_t *block, int j)
{
    return block_scale(block) * (float)(int8_t)block[2 + j];
}

static float q4_0_value(const uint8_t *block, int j)
{
    const uint8_t b = block[2 + j % (BLOCK / 2)];
    const int n = j < BLOCK / 2 ? b & 15 : b >> 4;
    return block_scale(block) * (float)(n - 8);
}

float quant_value(clattn_dtype dtype, const void *base, uint64_t index)
{
    const uint8_t *bytes = base;
    switch (dtype) {
    case CLATTN_DTYPE_Q8_0: return q8_0_value(bytes + index / BLOCK * Q8_0_BYTES, (int)(index % BLOCK));
    case CLATTN_DTYPE_Q4_0: return q4_0_value(bytes + index / BLOCK * Q4_0_BYTES, (int)(index % BLOCK));
    case CLATTN_DTYPE_FP8_E4M3: return fp8_decode(bytes[index], 0);
    case CLATTN_DTYPE_FP8_E5M2: return fp8_decode(bytes[index], 1);
    default: return NAN;
    }
}

void quant_to_float(clattn_dtype dtype, const void *src, float *dst, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dst[i] = quant_value(dtype, src, i);
}

void quant_from_float(clattn_dtype dtype, const float *src, void *dst, size_t count)
{
    uint8_t *out = dst;
    for (size_t i = 0; i < count; i++) {
        switch (dtype) {
        case CLATTN_DTYPE_Q8_0:
            if (i % BLOCK == 0)
                q8_0_encode(src + i, out + i / BLOCK * Q8_0_BYTES);
            break;
        case CLATTN_DTYPE_Q4_0:
            if (i % BLOCK == 0)
                q4_0_encode(src + i, out + i / BLOCK * Q4_0_BYTES);
            break;
        case CLATTN_DTYPE_FP8_E4M3: out[i] = fp8_encode(src[i], 0); break;
        case CLATTN_DTYPE_FP8_E5M2: out[i] = fp8_encode(src[i], 1); break;
        default: break;
        }
    }
}
