/* NumPy .npy files, format version 1.0: the magic, a header dict padded with spaces to a
 * multiple of 64 bytes and ended by a newline, then the raw C-order data. */
#ifndef ATTN_BENCH_NPY_H
#define ATTN_BENCH_NPY_H

#include <stddef.h>
#include <stdint.h>

/* Writes `bytes` of `data` as an array of `ndim` dimensions, of element type `kind` in NumPy's
 * notation without the byte order ("f4", "f2"; the host's order is written). Returns 0, or -1
 * with errno set. */
int npy_write(const char *path, const char *kind, const int64_t *shape, int ndim,
              const void *data, size_t bytes);

#endif
