/* IEEE half precision on the host, bit-exact with the kernels' vload_half/vstore_half_rte
 * (host/dtype.c); the quantized types' block scales are halves too. */
#ifndef CLATTN_HALF_H
#define CLATTN_HALF_H

#include <stdint.h>

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

#endif
