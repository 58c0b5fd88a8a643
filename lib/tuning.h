/* Tile choices measured on this device (clattn_tune), by problem class: kept per context, and
 * in a tuning file beside the kernel cache that later contexts on the same device read.
 * Without an entry, tiles follow from the device's reported limits (lib/tile_select.c).
 *
 * The file is not trusted: it is read only as the kernel cache's files are (lib/cache_dir.h:
 * no symbolic link, a regular file of this user's that others cannot write, at most
 * TUNING_FILE_MAX bytes), and a plan uses its tiles only when they are among the candidates
 * that clattn_tune itself would try for the device and the problem (tune_candidates), so that
 * a file can never make a plan build kernels the tuner would not. */
#ifndef CLATTN_TUNING_H
#define CLATTN_TUNING_H

#include "device_limits.h"
#include "problem.h"

/* Longest class key or tiles text, with its NUL. */
#define TUNING_FIELD 96
/* Entries a table holds at most, and the largest tuning file read: a file of that many
 * entries fits with room to spare. */
#define TUNING_MAX_ENTRIES 256
#define TUNING_FILE_MAX (64 * 1024)
/* Candidates clattn_tune tries at most for one problem. */
#define TUNING_MAX_CANDIDATES 48

struct tuning_table;
struct cache_config;

/* The table of the tuning file for this device in the cache directory of `cache` (an empty
 * table when there is none, the cache is off, or the file is refused: tuning_unread says
 * why); NULL only when the host is out of memory. */
struct tuning_table *tuning_load(const device_limits *limits, const struct cache_config *cache);
void tuning_free(struct tuning_table *table);

/* Why the device's tuning file was not read: "" when it was, or when there is none. */
const char *tuning_unread(const struct tuning_table *table);

/* A table from a tuning file's bytes (`size` of them, any bytes at all): the lines of
 * "<class>: <tiles>" that are well-formed, the rest ignored. NULL only when out of memory. */
struct tuning_table *tuning_parse(const char *text, size_t size);

/* The tiles recorded for a class, or NULL. */
const char *tuning_get(const struct tuning_table *table, const char *class_key);

/* Records (or, with tiles NULL, forgets) the tiles of a class; 0 on success, -1 for text that
 * is too long or not printable, or a table already holding TUNING_MAX_ENTRIES classes. */
int tuning_set(struct tuning_table *table, const char *class_key, const char *tiles);

/* Writes the table to the device's tuning file, atomically; 0 on success, -1 when the cache
 * is off or read-only, or the file cannot be written. */
int tuning_save(const struct tuning_table *table, const device_limits *limits,
                const struct cache_config *cache);

/* The tiles (as register_tiles_format or local_tiles_format writes them) that clattn_tune
 * tries on a device with `limits` for problem `p`, with the kernel `shape` and `windowed` or
 * not; returns how many. The set belongs to the problem's class (lib/tile_select.h,
 * tuning_class), so that what was measured on one problem applies to the others of its class;
 * of it, only the tiles that fit `p` are listed. Defined in lib/tune.c, beside the tuner. */
int tune_candidates(const device_limits *limits, const clattn_problem *p,
                    clattn_kernel_shape shape, int windowed,
                    char out[TUNING_MAX_CANDIDATES][TUNING_FIELD]);

/* The tiles the table holds for p's class, when they are among tune_candidates for `p`:
 * returns them, or NULL with the reason in `why` ("" when the table holds nothing for the
 * class and its file was read). */
const char *tuning_lookup(const struct tuning_table *table, const device_limits *limits,
                          const clattn_problem *p, clattn_kernel_shape shape, int windowed,
                          char *why, size_t why_size);

#endif
