#include "cases.h"

#include <stdlib.h>

#define BR CLATTN_ALIGN_BOTTOM_RIGHT
#define TL CLATTN_ALIGN_TOP_LEFT
enum { F32 = CLATTN_DTYPE_F32, F16 = CLATTN_DTYPE_F16, BF16 = CLATTN_DTYPE_BF16 };

static attn_case shape(int batch, int heads, int kv_heads, int nq, int nk, int d)
{
    attn_case c = case_default();
    c.batch = batch;
    c.heads = heads;
    c.kv_heads = kv_heads;
    c.seq_q = nq;
    c.seq_kv = nk;
    c.head_dim = d;
    return c;
}

static attn_case masked(attn_case c, int causal, clattn_align align, int wl, int wr)
{
    c.causal = causal;
    c.align = align;
    c.window_left = wl;
    c.window_right = wr;
    return c;
}

#define MAX_CASES 64
static attn_case head_dims[MAX_CASES], lengths[MAX_CASES], dtypes[MAX_CASES],
    windows[MAX_CASES], groups[MAX_CASES], layouts[MAX_CASES], edges[MAX_CASES],
    longs[MAX_CASES];
static case_table tables[8];

static void fill(void)
{
    int n = 0;
    /* every head_dim kind: tiny, not a multiple of any vector, and the common ones */
    static const int dims[] = {3, 8, 40, 64, 80, 96, 112, 128, 256};
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++)
        head_dims[n++] = masked(shape(2, 4, 2, 33, 57, dims[i]), 1, BR, -1, -1);
    tables[0] = (case_table){"head_dim", head_dims, n};

    /* lengths that are multiples of no tile, seq_q != seq_kv both ways, both alignments */
    static const int lens[][2] = {{1, 1},   {7, 7},     {33, 33},  {257, 257}, {1000, 1000},
                                  {1, 257}, {7, 33},    {33, 7},   {257, 33},  {33, 1000}};
    n = 0;
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        attn_case c = shape(1, 2, 2, lens[i][0], lens[i][1], 40);
        lengths[n++] = c;
        lengths[n++] = masked(c, 1, BR, -1, -1);
        lengths[n++] = masked(c, 1, TL, -1, -1);
    }
    tables[1] = (case_table){"lengths", lengths, n};

    /* f16 and bf16 storage: conversion on load and store, f32 arithmetic */
    n = 0;
    for (int dt = F16; dt <= BF16; dt++)
        for (int d = 64; d <= 80; d += 16) {
            attn_case c = masked(shape(2, 4, 2, 33, 57, d), 1, BR, -1, -1);
            c.dtype = (clattn_dtype)dt;
            dtypes[n++] = c;
            c = shape(1, 2, 1, 57, 33, d);
            c.dtype = (clattn_dtype)dt;
            dtypes[n++] = c;
            c = masked(shape(1, 2, 2, 100, 100, d), 0, BR, 5, 7);
            c.dtype = (clattn_dtype)dt;
            c.layout = LAYOUT_BHND;
            dtypes[n++] = c;
        }
    tables[2] = (case_table){"dtypes", dtypes, n};

    /* windows: a single key (0,0), sliding causal (16,0), two-sided (5,7); with and without
     * causal; seq_q = seq_kv and both unequal ways; both alignments */
    static const int wins[][2] = {{0, 0}, {16, 0}, {5, 7}};
    static const int wlens[][2] = {{100, 100}, {33, 100}, {100, 33}};
    n = 0;
    for (int w = 0; w < 3; w++)
        for (int l = 0; l < 3; l++)
            for (int causal = 0; causal <= 1; causal++) {
                attn_case c = shape(1, 2, 2, wlens[l][0], wlens[l][1], 64);
                windows[n++] = masked(c, causal, l == 1 ? TL : BR, wins[w][0], wins[w][1]);
            }
    tables[3] = (case_table){"windows", windows, n};

    /* grouped-query 8:2, multi-query 8:1, and plain 8:8 */
    n = 0;
    static const int kvh[] = {2, 1, 8};
    for (int i = 0; i < 3; i++) {
        groups[n++] = masked(shape(2, 8, kvh[i], 65, 65, 64), 1, BR, -1, -1);
        groups[n++] = shape(1, 8, kvh[i], 17, 90, 40);
    }
    tables[4] = (case_table){"gqa", groups, n};

    /* strided tensors: PyTorch's [B, H, N, d] and rows with gaps (which must survive) */
    n = 0;
    for (int lay = LAYOUT_BHND; lay <= LAYOUT_PADDED; lay++)
        for (int d = 40; d <= 64; d += 24) {
            attn_case c = masked(shape(2, 4, 2, 33, 57, d), 1, BR, -1, -1);
            c.layout = (test_layout)lay;
            layouts[n++] = c;
            c = masked(shape(2, 2, 1, 57, 33, d), 0, TL, 9, 3);
            c.layout = (test_layout)lay;
            layouts[n++] = c;
        }
    tables[5] = (case_table){"layouts", layouts, n};

    /* rows with no visible key (zeros, LSE -inf), logits of 1e4 and beyond, all-equal
     * scores, a scale of 0, a custom scale, a scale of 1e30 */
    n = 0;
    edges[n++] = masked(shape(1, 2, 2, 40, 20, 64), 1, BR, -1, -1); /* first 20 rows empty */
    edges[n++] = masked(shape(1, 2, 2, 40, 20, 64), 0, TL, 2, 0);   /* rows past 22 empty */
    edges[n++] = masked(shape(1, 2, 2, 30, 9, 64), 0, TL, 0, 0);    /* rows past 8 empty */
    attn_case big = masked(shape(1, 2, 2, 33, 57, 64), 1, BR, -1, -1);
    big.magnitude = 40.0f; /* logits in the thousands, up to 64 * 1600 / 8 = 12800 */
    big.lse_relative = 1e-6; /* ~16 f32 ulps: see attn_case */
    edges[n++] = big;
    attn_case flat = shape(1, 2, 2, 33, 57, 64);
    flat.magnitude = 1e-6f; /* scores ~1e-12: all equal to f32 */
    edges[n++] = flat;
    /* scale 0: every visible score is exactly 0 whatever Q and K hold, so each row is the
     * plain mean of its visible V rows and its LSE ln(visible keys) */
    attn_case zero = masked(shape(1, 2, 2, 33, 57, 64), 1, BR, 20, -1);
    zero.scale = 0.0;
    zero.magnitude = 30.0f; /* logits in the hundreds, had the scale not zeroed them */
    edges[n++] = zero;
    attn_case sharp = shape(1, 2, 2, 33, 57, 64);
    sharp.scale = 3.5;
    edges[n++] = sharp;
    attn_case huge = shape(1, 2, 2, 33, 57, 64);
    huge.scale = 1e30; /* the largest scales accepted are near 2.4e38: one-hot rows */
    huge.lse_relative = 1e-6;
    edges[n++] = huge;
    /* the logit softcap (Gemma 2's 50, Grok's 30) on logits that reach it, and a cap of 1
     * that bends every score; in each dtype, under GQA, a window and rows with no key */
    attn_case capped = masked(shape(2, 4, 2, 33, 57, 64), 1, BR, -1, -1);
    capped.softcap = 30.0;
    capped.magnitude = 12.0f; /* logits up to ~144 */
    edges[n++] = capped;
    attn_case bent = masked(shape(1, 3, 1, 40, 20, 40), 1, BR, 6, -1);
    bent.softcap = 1.0;
    bent.dtype = CLATTN_DTYPE_F16;
    edges[n++] = bent;
    attn_case gemma = masked(shape(1, 2, 2, 17, 300, 128), 0, TL, 50, 50);
    gemma.softcap = 50.0;
    gemma.scale = 1.0;
    gemma.dtype = CLATTN_DTYPE_BF16;
    edges[n++] = gemma;
    tables[6] = (case_table){"edges", edges, n};

    /* key counts one past a power of two, beyond the lengths above: many key tiles and decode
     * splits, a last tile of one key. Few heads and small head_dims keep the reference (and
     * naive's score matrix, 64 MiB at most) quick. */
    n = 0;
    longs[n++] = masked(shape(1, 2, 1, 4097, 4097, 8), 1, BR, -1, -1);
    longs[n++] = shape(1, 2, 2, 33, 4097, 16);
    longs[n++] = masked(shape(1, 1, 1, 100, 16385, 8), 1, BR, -1, -1);
    longs[n++] = shape(1, 2, 1, 5, 16385, 16);
    longs[n++] = masked(shape(1, 1, 1, 600, 16385, 8), 0, TL, 100, 0);
    tables[7] = (case_table){"long", longs, n};
}

int case_tables(const case_table **out)
{
    if (tables[0].count == 0)
        fill();
    *out = tables;
    return (int)(sizeof tables / sizeof *tables);
}
