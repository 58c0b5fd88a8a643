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
    int64_t nk_pad; /* keys rounded up to a whole block */
    int d_pad;      /* head_dim rounded up to whole vectors */
    uint64_t kt_bytes, vp_bytes; /* UINT64_MAX when they would not fit 64 bits */
} packed_layout;

packed_layout select_packed_layout(const register_tiles *t, const clattn_problem *p);

/* cl/tiled_local.cl */
typedef struct local_tiles {
    int br;         /* query rows per work-group */
    int bc;         /* keys per tile */
    int tpr;        /* work-items per query row */
    int lds_stride; /* floats between rows of a __local tile */
    cl_ulong local_bytes;
} local_tiles;

/* Fills `out` with the largest tiles that fit the device's local memory and work-group limit
 * (`max_group`, which the caller lowers when a build reports a smaller kernel limit). Returns
 * 0 when nothing fits. */
int select_local_tiles(const device_limits *limits, const clattn_problem *p, int64_t rows,
                       size_t max_group, local_tiles *out);

/* Completes br/bc/tpr chosen elsewhere (a tuning file) with the row stride and local bytes,
 * and says whether they fit the device and `max_group`. */
int local_tiles_complete(const device_limits *limits, const clattn_problem *p, size_t max_group,
                         local_tiles *t);

/* Tuning (lib/tuning.h): the class a problem's tiles are recorded under, and tiles as text.
 * The parsers accept only well-formed, positive values and return 1 then. */
void tuning_class(const clattn_problem *p, clattn_kernel_shape shape, int windowed, int vw,
                  char *buf, size_t size);
void register_tiles_format(const register_tiles *t, char *buf, size_t size);
int register_tiles_parse(const char *text, register_tiles *t);
void local_tiles_format(const local_tiles *t, char *buf, size_t size);
int local_tiles_parse(const char *text, local_tiles *t);

#endif
