/* Tile choices measured on this device (clattn_tune), by problem class: kept per context, and
 * in a tuning file beside the kernel cache that later contexts on the same device read.
 * Without an entry, tiles follow from the device's reported limits (lib/tile_select.c). */
#ifndef CLATTN_TUNING_H
#define CLATTN_TUNING_H

#include "device_limits.h"

struct tuning_table;

/* The table of the tuning file for this device (an empty table when there is none, the cache
 * is off, or the file is unreadable); NULL only when the host is out of memory. */
struct tuning_table *tuning_load(const device_limits *limits);
void tuning_free(struct tuning_table *table);

/* The tiles recorded for a class, or NULL. */
const char *tuning_get(const struct tuning_table *table, const char *class_key);

/* Records (or, with tiles NULL, forgets) the tiles of a class; 0 on success. */
int tuning_set(struct tuning_table *table, const char *class_key, const char *tiles);

/* Writes the table to the device's tuning file, atomically; 0 on success, -1 when the cache
 * is off or the file cannot be written. */
int tuning_save(const struct tuning_table *table, const device_limits *limits);

#endif
