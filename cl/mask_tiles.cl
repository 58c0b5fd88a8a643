/* The classes of an additive mask's tiles (common.cl's MASK_HIDDEN, MASK_ZERO, MASK_MIXED), in
 * the tile geometry of the fused kernel that reads them: query rows in common.cl's row order
 * (the rows of one (batch, kv head), position-major, so that a block of rows can span several
 * heads) in blocks of row_block, keys in blocks of key_block from key 0. A kernel skips a
 * hidden tile (all -inf: no pair is visible) and reads no mask in a zero tile; NaN is neither,
 * so a tile holding one stays mixed and its rows NaN. Rows and keys past the end are not part
 * of any tile. A packed varlen batch's tiles are those of this [nq, nk] grid too, each entry
 * reading its corner: a tile past an entry's end is judged with elements the entry does not
 * use, which can keep it mixed but never hides or zeroes what the entry sees (its kernel's
 * own bounds drop the keys past the entry).
 *
 * Work-item: one tile. Grid: (key blocks, row blocks, Bm * Gm), with Gm = 1 when the mask is
 * the same for every head (mask_sh = 0), else the kv heads. Host defines: MASK, and common.cl's
 * DTYPE and HEAD_DIM (unused here). */

#if MASK == 1
#define MASK_LOAD4(p, e) vload4(0, (p) + (e))
#else
#define MASK_LOAD4(p, e) vload_half4(0, (p) + (e))
#endif

__kernel void classify_mask_tiles(__global const mask_t *mask, ulong mask_off, long mask_sb,
                                  long mask_ss, long mask_sh, int group, int gm, int nq, int nk,
                                  int row_block, int key_block, __global uchar *tiles)
{
    const int kb = (int)get_global_id(0), rb = (int)get_global_id(1);
    const int z = (int)get_global_id(2), b = z / gm, g = z - b * gm;
    const int rows_total = nq * group;
    const int r0 = rb * row_block, r1 = min(r0 + row_block, rows_total);
    const int j0 = kb * key_block, j1 = min(j0 + key_block, nk);
    int hidden = 1, zero = 1;
    for (int r = r0; r < r1 && (hidden || zero); r++) {
        /* a mask without heads reads each position once */
        if (mask_sh == 0 && r > r0 && r % group != 0)
            continue;
        const ulong row = MASK_ROW(b, ROW_POSITION(r, group), ROW_HEAD(r, group, g));
        int j = j0;
        for (; j + 4 <= j1 && (hidden || zero); j += 4) { /* four at a time: element aligned */
            const float4 x = MASK_LOAD4(mask, row + (ulong)j);
            hidden &= all(x == (float4)(-INFINITY));
            zero &= all(x == (float4)(0.0f));
        }
        for (; j < j1 && (hidden || zero); j++) {
            const float x = MASK_LOAD(mask, row + (ulong)j);
            hidden &= x == -INFINITY;
            zero &= x == 0.0f;
        }
    }
    const ulong blocks = (ulong)get_global_size(0) * get_global_size(1);
    tiles[(ulong)z * blocks + (ulong)rb * get_global_size(0) + (ulong)kb] =
        hidden ? MASK_HIDDEN : zero ? MASK_ZERO : MASK_MIXED;
}
