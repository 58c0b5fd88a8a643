#include "program_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_error.h"
#include "context.h"
#include "disk_cache.h"
#include "kernel_source.h"
#include "message.h"

struct program_entry {
    char *key; /* "family\noptions" */
    cl_program program;
    struct disk_cache_key disk_key;
    int from_disk; /* loaded from the disk cache, so never stored again */
    int used;      /* a kernel of it was enqueued */
};

struct program_cache {
    cl_device_id device;
    int store;
    struct program_entry *entries;
    size_t count, capacity;
    size_t unused; /* entries built from source and not used yet */
};

struct program_cache *program_cache_create(cl_device_id device, int store)
{
    struct program_cache *cache = calloc(1, sizeof *cache);
    if (cache) {
        cache->device = device;
        cache->store = store;
    }
    return cache;
}

size_t program_cache_count(const struct program_cache *cache)
{
    return cache->count;
}

void program_cache_destroy(struct program_cache *cache, const struct cache_config *config)
{
    if (!cache)
        return;
    for (size_t i = 0; i < cache->count; i++) {
        /* Programs go to the disk cache only now, not right after their build: some drivers
         * add to a program's binary as it runs (PoCL compiles a work-group function for each
         * launch shape, and serialises the binary once, on the first query), and storing it
         * after the launches lets the next process run without compiling anything (warm
         * start 0.05 s instead of 0.55 s for attn-bench's default problem on PoCL). A
         * program loaded from disk is not stored again, even if it gained a launch shape:
         * exporting it would cost more than the next process compiling that one shape. */
        if (cache->store && cache->entries[i].used && !cache->entries[i].from_disk)
            disk_cache_store(config, cache->device, &cache->entries[i].disk_key,
                             cache->entries[i].program);
        clReleaseProgram(cache->entries[i].program);
        free(cache->entries[i].key);
    }
    free(cache->entries);
    free(cache);
}

/* Options every program gets from the device: -cl-std follows CL_DEVICE_OPENCL_C_VERSION
 * (the kernels are OpenCL C 1.2 and ask for no more; a 1.1-only compiler gets no -cl-std),
 * and DEVICE_FMA says fma() is hardware (cl/common.cl). */
static const char *device_options(const clattn_context *ctx)
{
    const device_limits *l = &ctx->limits;
    int cl12 = l->c_version_major > 1 || (l->c_version_major == 1 && l->c_version_minor >= 2);
    if (cl12)
        return l->has_fma ? "-cl-std=CL1.2 -DDEVICE_FMA " : "-cl-std=CL1.2 ";
    return l->has_fma ? "-DDEVICE_FMA " : "";
}

static clattn_status build_failed(clattn_context *ctx, cl_program program, const char *family,
                                  const char *options, cl_int err)
{
    fail(ctx, CLATTN_ERROR_BUILD_FAILED,
         "building cl/%s.cl for '%s' (%s, driver %s) with options '%s' failed: %s (%d)\n",
         family, ctx->limits.name, ctx->limits.platform_name, ctx->limits.driver_version,
         options, cl_error_name(err), (int)err);
    size_t size = 0;
    if (clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &size) ==
            CL_SUCCESS &&
        size > 1) {
        char *log = malloc(size + 1);
        if (log && clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, size, log,
                                         NULL) == CL_SUCCESS) {
            log[size] = '\0';
            message_append(ctx, "build log:\n");
            message_append(ctx, log);
        }
        free(log);
    }
    return CLATTN_ERROR_BUILD_FAILED;
}

/* cl/<family>.cl's text followed by the empty kernel that marks a build under `key`
 * (disk_cache_marker), malloc'ed; NULL when out of host memory. */
static char *marked_source(const char *source, const struct disk_cache_key *key)
{
    char marker[DISK_CACHE_MARKER_SIZE];
    disk_cache_marker(key, marker);
    static const char format[] = "%s\n/* the key of this build (lib/disk_cache.h) */\n"
                                 "__kernel void %s(void) {}\n";
    const size_t size = strlen(source) + strlen(marker) + sizeof format;
    char *text = malloc(size);
    if (text)
        snprintf(text, size, format, source, marker);
    return text;
}

/* The program from the disk cache, else from source (stored on disk when the context goes). */
static clattn_status build(clattn_context *ctx, const char *family, const char *options,
                           struct program_entry *out)
{
    char *source = NULL;
    clattn_status st = kernel_source_get(ctx, family, &source);
    if (st)
        return st;
    disk_cache_key(ctx, source, options, &out->disk_key);
    out->used = 0;
    char bad[512];
    out->from_disk = (out->program = disk_cache_load(ctx, &out->disk_key, options, bad,
                                                     sizeof bad)) != NULL;
    if (out->from_disk) {
        free(source);
        return CLATTN_SUCCESS;
    }
    /* The call goes on; the note (include/clattn.h, clattn_message) says what was mended. */
    if (bad[0] && ctx->cache.mode == CLATTN_CACHE_READ_ONLY)
        fail(ctx, CLATTN_SUCCESS,
             "kernel cache (read-only): not used %s; cl/%s.cl was built from source", bad,
             family);
    else if (bad[0])
        fail(ctx, CLATTN_SUCCESS,
             "kernel cache: deleted %s; cl/%s.cl was rebuilt from source and will be stored "
             "again",
             bad, family);
    char *text = marked_source(source, &out->disk_key);
    free(source);
    if (!text)
        return fail(ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    cl_int err;
    const char *texts = text;
    cl_program program = clCreateProgramWithSource(ctx->cl, 1, &texts, NULL, &err);
    free(text);
    if (err != CL_SUCCESS)
        return cl_fail(ctx, "clCreateProgramWithSource", err);
    err = clBuildProgram(program, 1, &ctx->device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        st = build_failed(ctx, program, family, options, err);
        clReleaseProgram(program);
        return st;
    }
    out->program = program;
    return CLATTN_SUCCESS;
}

clattn_status program_get(clattn_context *ctx, const char *family, const char *options,
                          cl_program *program)
{
    struct program_cache *cache = ctx->programs;
    char full_options[1024];
    int n = snprintf(full_options, sizeof full_options, "%s%s", device_options(ctx), options);
    if (n < 0 || (size_t)n >= sizeof full_options)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "kernel build options too long");
    size_t key_len = strlen(family) + 1 + strlen(full_options) + 1;
    char *key = malloc(key_len);
    if (!key)
        return fail(ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
    snprintf(key, key_len, "%s\n%s", family, full_options);
    for (size_t i = 0; i < cache->count; i++)
        if (strcmp(cache->entries[i].key, key) == 0) {
            free(key);
            *program = cache->entries[i].program;
            return CLATTN_SUCCESS;
        }
    if (cache->count == cache->capacity) {
        size_t cap = cache->capacity ? 2 * cache->capacity : 8;
        struct program_entry *grown = realloc(cache->entries, cap * sizeof *grown);
        if (!grown) {
            free(key);
            return fail(ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory");
        }
        cache->entries = grown;
        cache->capacity = cap;
    }
    struct program_entry *entry = &cache->entries[cache->count];
    clattn_status st = build(ctx, family, full_options, entry);
    if (st) {
        free(key);
        return st;
    }
    entry->key = key;
    *program = entry->program;
    cache->count++;
    cache->unused += cache->store && !entry->from_disk;
    return CLATTN_SUCCESS;
}

void program_used(clattn_context *ctx, cl_kernel kernel)
{
    struct program_cache *cache = ctx->programs;
    cl_program program = NULL;
    if (!cache->unused ||
        clGetKernelInfo(kernel, CL_KERNEL_PROGRAM, sizeof program, &program, NULL) != CL_SUCCESS)
        return;
    for (size_t i = 0; i < cache->count; i++)
        if (cache->entries[i].program == program && !cache->entries[i].used) {
            cache->entries[i].used = 1;
            cache->unused -= !cache->entries[i].from_disk;
        }
}

clattn_status program_kernel(clattn_context *ctx, cl_program program, const char *name,
                             cl_kernel *kernel)
{
    cl_int err;
    *kernel = clCreateKernel(program, name, &err);
    if (err != CL_SUCCESS) {
        *kernel = NULL;
        return fail(ctx, CLATTN_ERROR_OPENCL, "clCreateKernel(%s) failed: %s (%d)", name,
                    cl_error_name(err), (int)err);
    }
    return CLATTN_SUCCESS;
}
