#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC_AND_VERSION "\x93NUMPY\x01\x00"
#define PREAMBLE_BYTES 10 /* magic (6), version (2), header length (2) */

static char host_byte_order(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first ? '<' : '>';
}

/* The header dict, unpadded; NULL when out of memory. */
static char *header_dict(const char *kind, const int64_t *shape, int ndim)
{
    /* each dimension takes at most 20 digits and ", " */
    size_t size = 96 + strlen(kind) + (size_t)ndim * 22;
    char *text = malloc(size);
    if (!text)
        return NULL;
    int n = snprintf(text, size, "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
                     host_byte_order(), kind);
    for (int i = 0; i < ndim; i++)
        n += snprintf(text + n, size - (size_t)n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    snprintf(text + n, size - (size_t)n, "%s), }", ndim == 1 ? "," : "");
    return text;
}

int npy_write(const char *path, const char *kind, const int64_t *shape, int ndim,
              const void *data, size_t bytes)
{
    char *dict = header_dict(kind, shape, ndim);
    if (!dict)
        return -1;
    /* dict, spaces, newline: the data then starts at a multiple of 64 bytes */
    size_t length = strlen(dict) + 1;
    length += (64 - (PREAMBLE_BYTES + length) % 64) % 64;
    if (length > 0xFFFF) {
        free(dict);
        errno = EOVERFLOW;
        return -1;
    }
    FILE *out = fopen(path, "wb");
    if (!out) {
        free(dict);
        return -1;
    }
    const unsigned char length_le[2] = {(unsigned char)(length & 0xFF),
                                        (unsigned char)(length >> 8)};
    fwrite(MAGIC_AND_VERSION, 1, 8, out);
    fwrite(length_le, 1, 2, out);
    fprintf(out, "%-*s\n", (int)(length - 1), dict);
    free(dict);
    fwrite(data, 1, bytes, out);
    int failed = ferror(out);
    if (fclose(out) != 0 || failed) {
        if (!errno)
            errno = EIO;
        return -1;
    }
    return 0;
}
