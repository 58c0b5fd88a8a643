/* Compiled programs, kept per context and keyed by (kernel family, build options), so every
 * plan of the same shape shares one build; and across processes in the disk cache
 * (disk_cache.h), read before any build and written when the context is destroyed, so that a
 * new process need not run the compiler.
 *
 * Only programs built from source in this context and used (a kernel of theirs enqueued) are
 * written: asking a driver for a program's binary may cost a compilation of its own (PoCL
 * compiles every kernel of the program once more, for any work-group size), which is worth
 * paying only for a program that ran, and is paid once, not again by the processes that load
 * the binary; and none is written for a driver that keeps its own (disk_cache_driver_keeps),
 * so that a cold process is no slower than one without the cache. */
#ifndef CLATTN_PROGRAM_CACHE_H
#define CLATTN_PROGRAM_CACHE_H

#include "clattn.h"

struct program_cache;
struct cache_config;

/* The cache of the context's `device`; with `store` 0, nothing is stored on disk (the driver
 * keeps its programs itself: disk_cache_driver_keeps). */
struct program_cache *program_cache_create(cl_device_id device, int store);
/* Stores the used programs built from source in the disk cache of `config`, unless created
 * without `store`, and releases every program. */
void program_cache_destroy(struct program_cache *cache, const struct cache_config *config);

/* The number of programs built or loaded so far. */
size_t program_cache_count(const struct program_cache *cache);

/* The program for cl/<family>.cl built with `options` (the language standard is added from
 * the device); owned by the cache, valid until the context is destroyed. A build failure
 * returns CLATTN_ERROR_BUILD_FAILED with the device, the options and the full log. */
clattn_status program_get(clattn_context *ctx, const char *family, const char *options,
                          cl_program *program);

/* Records that `kernel`, created by program_kernel, was enqueued: its program will be
 * stored. Costs nothing once every program built from source was used. */
void program_used(clattn_context *ctx, cl_kernel kernel);

/* Creates kernel `name` of a built program; the caller releases it. */
clattn_status program_kernel(clattn_context *ctx, cl_program program, const char *name,
                             cl_kernel *kernel);

#endif
