/* SHA-256 (FIPS 180-4), for the disk cache's keys and checksums: a strong hash without a new
 * dependency. Incremental, so that a key can cover several strings without concatenating them. */
#ifndef CLATTN_SHA256_H
#define CLATTN_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_SIZE 32

struct sha256 {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    unsigned char block[64];
    size_t used; /* bytes waiting in `block` */
};

void sha256_init(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *data, size_t size);
void sha256_final(struct sha256 *h, unsigned char digest[SHA256_SIZE]);

#endif
