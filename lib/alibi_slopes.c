/* ggml's ALiBi slopes from its max_bias (docs/semantics.md, "Extensions"), so that an engine
 * that holds max_bias can pass the same slopes as a tensor. */
#include <math.h>

#include "clattn.h"
#include "message.h"

clattn_status clattn_alibi_slopes(int64_t heads, double max_bias, float *slopes)
{
    if (!slopes || heads < 1 || heads > 65536)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "clattn_alibi_slopes: heads = %lld must be in [1, 65536], slopes not NULL",
                    (long long)heads);
    if (!(max_bias > 0) || !isfinite(max_bias))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "clattn_alibi_slopes: max_bias = %g must be positive and finite", max_bias);
    int64_t n = 1; /* the largest power of two not above heads */
    while (n * 2 <= heads)
        n *= 2;
    const double m0 = pow(2.0, -max_bias / (double)n);
    const double m1 = pow(2.0, -max_bias / 2.0 / (double)n);
    for (int64_t h = 0; h < heads; h++)
        slopes[h] = (float)(h < n ? pow(m0, (double)(h + 1)) : pow(m1, (double)(2 * (h - n) + 1)));
    return CLATTN_SUCCESS;
}
