/* Where the disk cache lives, and whether it may be used (lib/disk_cache.h). */
#ifndef CLATTN_CACHE_DIR_H
#define CLATTN_CACHE_DIR_H

/* Opens the cache directory, creating it and any missing parent with mode 0700: the path is
 * $CLATTN_CACHE_DIR, else $XDG_CACHE_HOME/clattn, else $HOME/.cache/clattn. Returns a
 * directory descriptor for the *at() calls, or -1 when the cache is off (CLATTN_CACHE_DIR=off,
 * or no absolute path can be found), cannot be created, is not a directory, is not owned by
 * this user, or is writable by group or others (another user could then plant binaries). */
int cache_dir_open(void);

#endif
