/* The on-disk cache of compiled program binaries, so that a new process skips the OpenCL C
 * compiler for kernels an earlier one built (ggml's cl-program-cache.h, PoCL's kcache).
 *
 * Where: $CLATTN_CACHE_DIR if set ("off" disables the cache), else $XDG_CACHE_HOME/clattn,
 * else $HOME/.cache/clattn; created with mode 0700, and not used when it is not the user's own
 * or is writable by group or others, or is a symbolic link (lib/cache_dir.h). One file per
 * program, named by its key: a header (magic, format, key, payload length, payload SHA-256)
 * then the driver's binary. Nothing read back is trusted: a file that is not a regular file
 * of this user's, fails any check, will not load, or is another program's binary, is deleted
 * and the program is built from source again. A failure here only costs a build.
 * The directory's binaries are bounded (CACHE_DEFAULT_MAX_BYTES, or the context's bound),
 * the least recently used evicted first. */
#ifndef CLATTN_DISK_CACHE_H
#define CLATTN_DISK_CACHE_H

#include "cache_dir.h"
#include "clattn.h"
#include "device_limits.h"
#include "sha256.h"

struct disk_cache_key {
    unsigned char hash[SHA256_SIZE];
};

/* The key of one program: a hash of the cache format, the source text, the full build options,
 * and the device's name, device and driver versions, platform name and platform version, so
 * that a driver upgrade or another device never loads a stale binary. */
void disk_cache_key(const clattn_context *ctx, const char *source, const char *options,
                    struct disk_cache_key *key);

/* Whether the device's driver keeps compiled programs between processes itself, at no cost
 * when the process exits, so that exporting binaries to this cache would only add a
 * compilation: PoCL with its kernel cache on (POCL_KERNEL_CACHE unset or not 0, PoCL's
 * default). PoCL's export (CL_PROGRAM_BINARIES) compiles every kernel of the program once
 * more, for any work-group size; its own cache writes what it compiles as it goes. Measured
 * for attn-bench's default problem (bench/results/pocl-disk-cache-issue16.txt): a cold
 * process took 2.9 s with PoCL's cache alone and 6.7 s with clattn's export; warm, 0.3 s
 * and 0.2 s. */
int disk_cache_driver_keeps(const device_limits *limits);

/* Every program built under `key` must contain an empty kernel of this name, which the build
 * from source adds (lib/program_cache.c): a header is easily copied, so that is how a binary
 * stored under another program's key (which the driver would load, to fail at its first
 * clCreateKernel or, of the same kernel family, to run with the wrong sizes) is told apart. */
#define DISK_CACHE_MARKER_SIZE 32
void disk_cache_marker(const struct disk_cache_key *key, char name[DISK_CACHE_MARKER_SIZE]);

/* The program stored under `key`, loaded and built for the context's device with `options`;
 * NULL when the cache is off or holds nothing for the key, and NULL with the file and the
 * reason in `why` when it held a bad file, now deleted (not in read-only mode: then it is
 * only not used). A file loaded has its access time set to now, unless read-only, so that
 * eviction takes the least recently used first. */
cl_program disk_cache_load(const clattn_context *ctx, const struct disk_cache_key *key,
                           const char *options, char *why, size_t why_size);

/* Stores the binary of `program`, built for `device`, under `key`, unless a file is there
 * already (another process stored it) or the cache is not written (`config`). The file is
 * replaced atomically, so concurrent threads and processes never see half of one. Then, while
 * the directory's binaries add up to more than the bound, the least recently used are deleted
 * (never the one just stored, and never a temporary file, which another process may be
 * writing: only those a day old, left by a process that died). */
void disk_cache_store(const struct cache_config *config, cl_device_id device,
                      const struct disk_cache_key *key, cl_program program);

#endif
