/* Tile sizes and kernel shape, from the device's reported limits and the problem — never from
 * constants measured on one card. Each rule says why it is what it is. */
#ifndef CLATTN_TILE_SELECT_H
#define CLATTN_TILE_SELECT_H

#include "device_limits.h"
#include "problem.h"

/* The fused kernel's shape for this device (see clattn_kernel_shape). */
clattn_kernel_shape select_shape(const device_limits *limits);

/* cl/tiled_registers.cl, cl/naive.cl and cl/pack.cl */
typedef struct register_tiles {
    int vw;       /* float vector width */
    int rows;     /* query rows per register block */
    int groups;   /* register blocks of rows per work-item (fused kernel only) */
    int kv_vecs;  /* key vectors per block: BC = kv_vecs * vw keys */
    int dv_chunk; /* output vectors updated per pass over a block */
} register_tiles;

/* `rows` is how many query rows one work-item's set can draw from (its kernel's row order);
 * `windowed` sizes blocks to the window. */
register_tiles select_register_tiles(const device_limits *limits, const clattn_problem *p,
                                     int64_t rows, int windowed);

/* Packed K/V layout for register tiles (cl/pack.cl). */
typedef struct packed_layout {
    int64_t nk_pad; /* keys rounded up to a whole block: the stride of an entry's kv head, or of
                     * a kv head of a packed varlen batch (every entry, cl/pack.cl) */
    int64_t entry_keys; /* the longest entry's keys rounded up to a whole block */
    int dv_pad;     /* head_dim_v rounded up to whole vectors: V's rows */
    uint64_t kt_bytes, vp_bytes; /* UINT64_MAX when they would not fit 64 bits */
} packed_layout;

packed_layout select_packed_layout(const register_tiles *t, const clattn_problem *p);

/* cl/tiled_local.cl, chosen by lib/local_tiles.c */
typedef struct local_tiles {
    int br;         /* query rows per work-group */
    int bc;         /* keys per tile (a multiple of 4) */
    int tm;         /* query rows of a work-item's block (divides br) */
    int tn;         /* keys of a work-item's block of scores (divides bc) */
    cl_ulong local_bytes;
} local_tiles;

/* Work-items of a work-group: br / tm row groups times bc / tn key groups. */
int local_tiles_group(const local_tiles *t);

/* What the tile model (lib/local_tiles.c) predicts for a choice of tiles: the factors that
 * multiply into its score, each in (0, 1], and the figures behind them. */
typedef struct local_tiles_model {
    double score;
    double issue;     /* useful FMAs over the instructions a work-item issues */
    double global;    /* reuse of K and V: global bytes per useful FMA against the balance */
    double occupancy; /* resident work-items per compute unit against what hides latency */
    double edges;     /* useful work over the work done at masked and ragged edges */
    double spread;    /* work-groups over the slots of the waves they need */
    double fma_per_local_load, local_bytes_per_fma, global_bytes_per_fma;
    int groups_per_unit, registers;
} local_tiles_model;

/* Whether the tiles are well formed, fit the device's local memory, work-group limits (and
 * `max_group`, which the caller lowers when a build reports a smaller kernel limit) and the
 * register budget, and use whole SIMD widths; fills t->local_bytes. */
int local_tiles_complete(const device_limits *limits, const clattn_problem *p, size_t max_group,
                         local_tiles *t);

/* Keys one work-group of the local-tiles kernel may visit on a device whose loops end early
 * (lib/device_quirks.h), for this problem's head sizes; 0 for no limit. */
int64_t local_tiles_max_keys(const device_limits *limits, const clattn_problem *p);

/* __local bytes of the smallest tiles that meet every other limit (work-group size, SIMD
 * width, registers): what the device must offer for the local-tiles kernel to take the
 * problem's head sizes at all; 0 when no tiles would fit even unbounded local memory. */
cl_ulong local_tiles_min_bytes(const device_limits *limits, const clattn_problem *p,
                               size_t max_group);

/* The model's view of tiles that local_tiles_complete accepted, for a problem with `rows`
 * query rows per (batch, kv head). */
local_tiles_model local_tiles_predict(const device_limits *limits, const clattn_problem *p,
                                      int64_t rows, const local_tiles *t);

/* The best-scoring tiles of the search, and the runner-up (may be NULL) with a different row
 * count, for describing why the winner won. Returns 0 when nothing fits. */
int select_local_tiles(const device_limits *limits, const clattn_problem *p, int64_t rows,
                       size_t max_group, local_tiles *out, local_tiles *runner_up);

/* Up to `max` candidates in score order (the tuner times these). Returns how many. */
int local_tiles_candidates(const device_limits *limits, const clattn_problem *p, int64_t rows,
                           size_t max_group, local_tiles *out, int max);

/* One line on a choice: its tiles and the model's factors. */
void local_tiles_explain(const device_limits *limits, const clattn_problem *p, int64_t rows,
                         const local_tiles *t, char *buf, size_t size);

/* Tuning (lib/tuning.h): the class a problem's tiles are recorded under, and tiles as text.
 * The parsers accept only well-formed, positive values and return 1 then. */
void tuning_class(const clattn_problem *p, clattn_kernel_shape shape, int windowed, int vw,
                  char *buf, size_t size);
void register_tiles_format(const register_tiles *t, char *buf, size_t size);
int register_tiles_parse(const char *text, register_tiles *t);
void local_tiles_format(const local_tiles *t, char *buf, size_t size);
int local_tiles_parse(const char *text, local_tiles *t);

#endif
