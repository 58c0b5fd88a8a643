/* Where the disk cache lives, whether it may be used (lib/disk_cache.h), and how files in it
 * are opened: nothing in the directory is trusted, the kernel binaries and the tuning files
 * (lib/tuning.h) alike. */
#ifndef CLATTN_CACHE_DIR_H
#define CLATTN_CACHE_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "clattn.h"

/* The bound on the binaries a cache directory holds when the context sets none: over a
 * thousand programs of clattn's (PoCL's binaries of them are 150 to 170 KiB each for
 * attn-bench's problems, so a sweep of 160 distinct kernels fits many times over), yet small
 * beside a user's ~/.cache. */
#define CACHE_DEFAULT_MAX_BYTES ((uint64_t)256 << 20)

/* How a context uses the cache (clattn_context_set_cache); all zero is the default: the
 * directory below, read and written, bounded by CACHE_DEFAULT_MAX_BYTES. */
struct cache_config {
    char *dir; /* an absolute path, or NULL for the default location */
    clattn_cache_mode mode;
    uint64_t max_bytes; /* 0: CACHE_DEFAULT_MAX_BYTES */
};

/* Opens the cache directory of `config` (NULL: the default), to read from or, with `write`,
 * to write to. To write, it is created with any missing parent with mode 0700; to read,
 * nothing is created, and a directory that does not exist is -1 with `why` "". The path is config->dir, else $CLATTN_CACHE_DIR, else
 * $XDG_CACHE_HOME/clattn, else $HOME/.cache/clattn. Returns a directory descriptor for the
 * *at() calls, or -1 when the cache is not used:
 * - off by choice (CLATTN_CACHE_OFF, CLATTN_CACHE_DIR=off), read-only and `write`, with no
 *   absolute path to go by, or, to read, not there (yet): `why` is "";
 * - refused: the directory, or a parent this call creates, is a symbolic link (none is
 *   followed: a parent that already existed is the user's own layout and may be one), it is
 *   not a directory, not owned by this user, or writable by group or others (another user
 *   could then plant binaries), or, to write, it cannot be created: `why` names the path and the
 *   reason.
 * `why` may be NULL. */
int cache_dir_open(const struct cache_config *config, int write, char *why, size_t why_size);

/* Opens `name` in the cache directory `dir` for reading, as a file anyone might have put
 * there: never through a symbolic link, never blocking (a FIFO is refused, not read), and
 * only a regular file of this user's, not writable by group or others, of at most `max_size`
 * bytes. Returns the descriptor and the file's size in *size; -1 with `why` "" when there is
 * no such file, or -1 with the reason in `why` (may be NULL) when it is refused. */
int cache_file_open(int dir, const char *name, uint64_t max_size, uint64_t *size, char *why,
                    size_t why_size);

/* Reads exactly `size` bytes; 0, or -1 on an error or an early end of file. */
int cache_file_read(int fd, void *buf, size_t size);

#endif
