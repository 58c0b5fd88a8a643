/* --save DIR: the single problem's inputs and the first algorithm's outputs as .npy files. */
#ifndef ATTN_BENCH_SAVE_H
#define ATTN_BENCH_SAVE_H

#include "inputs.h"
#include "row.h"

/* Creates DIR when missing. Returns 0 or an exit code after printing why. */
int save_prepare(const char *dir);

/* Writes q.npy, k.npy, v.npy, o.npy ([B, N, H, d] in the storage dtype; bf16 as float32
 * values) and lse.npy (float32 [B, H, Nq]) from `in`, whose outputs were read back after the
 * run described by `row`. Returns 0 or an exit code after printing why. */
int save_npy_files(const char *dir, const struct bench_inputs *in, const struct bench_row *row);

#endif
