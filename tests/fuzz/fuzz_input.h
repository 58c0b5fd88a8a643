/* Reading a fuzzer's bytes as typed values, and the assertion the targets use. Reads past
 * the end give zeros, so every byte string is a valid input. */
#ifndef CLATTN_FUZZ_INPUT_H
#define CLATTN_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fuzz_input {
    const uint8_t *data;
    size_t size;
} fuzz_input;

static inline uint8_t take_u8(fuzz_input *in)
{
    if (!in->size)
        return 0;
    in->size--;
    return *in->data++;
}

static inline uint64_t take_u64(fuzz_input *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)take_u8(in) << (8 * i);
    return v;
}

/* Mostly small numbers, where the shapes and their edges are (-64 .. 191), sometimes any
 * 64-bit value: a fuzzer rarely builds 8 meaningful bytes by chance. */
static inline int64_t take_value(fuzz_input *in)
{
    uint8_t b = take_u8(in);
    if (b < 0xff)
        return (int64_t)b - 64;
    uint64_t u = take_u64(in);
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static inline double take_f64(fuzz_input *in)
{
    uint64_t u = take_u64(in);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* A failed invariant is a crash, which libFuzzer keeps as an input to reproduce it. */
#define FUZZ_ASSERT(cond)                                                                      \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

#endif
