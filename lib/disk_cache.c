#include "disk_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache_dir.h"
#include "context.h"

/* Bump when the file layout or what the key covers changes: older files then simply miss. */
#define CACHE_FORMAT 1

/* A driver's binary larger than this is not a program binary; refusing it bounds the malloc
 * a corrupt length could ask for. */
#define MAX_PAYLOAD ((uint64_t)256 << 20)

static const unsigned char magic[8] = {'c', 'l', 'a', 't', 't', 'n', 'P', 'B'};

/* The header, little-endian whatever the host: magic, format (u32), key, payload length (u64),
 * payload SHA-256. */
enum {
    OFF_FORMAT = sizeof magic,
    OFF_KEY = OFF_FORMAT + 4,
    OFF_LENGTH = OFF_KEY + SHA256_SIZE,
    OFF_CHECKSUM = OFF_LENGTH + 8,
    HEADER_SIZE = OFF_CHECKSUM + SHA256_SIZE
};

/* "<64 hex digits of the key><suffix>" */
#define NAME_SIZE (2 * SHA256_SIZE + 32)

static void hash_field(struct sha256 *h, const char *text)
{
    sha256_update(h, text, strlen(text) + 1); /* the NUL separates fields unambiguously */
}

void disk_cache_key(const clattn_context *ctx, const char *source, const char *options,
                    struct disk_cache_key *key)
{
    char format[16];
    snprintf(format, sizeof format, "%d", CACHE_FORMAT);
    struct sha256 h;
    sha256_init(&h);
    hash_field(&h, format);
    hash_field(&h, source);
    hash_field(&h, options);
    hash_field(&h, ctx->limits.name);
    hash_field(&h, ctx->limits.device_version);
    hash_field(&h, ctx->limits.driver_version);
    hash_field(&h, ctx->limits.platform_name);
    hash_field(&h, ctx->limits.platform_version);
    sha256_final(&h, key->hash);
}

static void file_name(const struct disk_cache_key *key, const char *suffix, char name[NAME_SIZE])
{
    for (int i = 0; i < SHA256_SIZE; i++)
        snprintf(name + 2 * i, 3, "%02x", key->hash[i]);
    snprintf(name + 2 * SHA256_SIZE, NAME_SIZE - 2 * SHA256_SIZE, "%s", suffix);
}

static int write_all(int fd, const unsigned char *buf, size_t size)
{
    while (size > 0) {
        ssize_t n = write(fd, buf, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        size -= (size_t)n;
    }
    return 0;
}

static void put_le(unsigned char *p, uint64_t value, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(value >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t value = 0;
    for (int i = bytes - 1; i >= 0; i--)
        value = value << 8 | p[i];
    return value;
}

static void checksum(const unsigned char *payload, size_t size, unsigned char out[SHA256_SIZE])
{
    struct sha256 h;
    sha256_init(&h);
    sha256_update(&h, payload, size);
    sha256_final(&h, out);
}

/* The verified payload of the open file `fd` of `file_size` bytes (malloc'ed), or NULL when
 * anything is off: short, another magic, format or key, a length that disagrees with the
 * file's size, or a checksum that disagrees with the payload. */
static unsigned char *read_payload(int fd, uint64_t file_size, const struct disk_cache_key *key,
                                   size_t *size)
{
    unsigned char header[HEADER_SIZE];
    if (file_size < HEADER_SIZE || cache_file_read(fd, header, sizeof header) != 0)
        return NULL;
    const uint64_t length = get_le(header + OFF_LENGTH, 8);
    if (memcmp(header, magic, sizeof magic) != 0 ||
        get_le(header + OFF_FORMAT, 4) != CACHE_FORMAT ||
        memcmp(header + OFF_KEY, key->hash, SHA256_SIZE) != 0 || length == 0 ||
        length > MAX_PAYLOAD || length != file_size - HEADER_SIZE)
        return NULL;
    unsigned char *payload = malloc((size_t)length);
    int ok = payload && cache_file_read(fd, payload, (size_t)length) == 0;
    if (ok) {
        unsigned char sum[SHA256_SIZE];
        checksum(payload, (size_t)length, sum);
        ok = memcmp(sum, header + OFF_CHECKSUM, SHA256_SIZE) == 0;
    }
    if (!ok) {
        free(payload);
        return NULL;
    }
    *size = (size_t)length;
    return payload;
}

void disk_cache_marker(const struct disk_cache_key *key, char name[DISK_CACHE_MARKER_SIZE])
{
    int n = snprintf(name, DISK_CACHE_MARKER_SIZE, "clattn_key_");
    for (int i = 0; i < 8; i++)
        n += snprintf(name + n, DISK_CACHE_MARKER_SIZE - (size_t)n, "%02x", key->hash[i]);
}

/* The program of a verified binary, or NULL with the reason when the driver refuses it or it
 * is not the program of `key`: the header's checks cannot tell, since a header is easily
 * copied, but the binary of another program lacks the marker kernel of this key. */
static cl_program program_from_binary(const clattn_context *ctx, const struct disk_cache_key *key,
                                      const unsigned char *binary, size_t size,
                                      const char *options, const char **why)
{
    cl_int status = CL_SUCCESS, err;
    cl_program program =
        clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &size, &binary, &status, &err);
    if (err != CL_SUCCESS || status != CL_SUCCESS) {
        if (program)
            clReleaseProgram(program);
        *why = "the driver does not accept its binary";
        return NULL;
    }
    if (clBuildProgram(program, 1, &ctx->device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(program);
        *why = "its binary does not build";
        return NULL;
    }
    char marker[DISK_CACHE_MARKER_SIZE];
    disk_cache_marker(key, marker);
    cl_kernel kernel = clCreateKernel(program, marker, &err);
    if (err != CL_SUCCESS) {
        clReleaseProgram(program);
        *why = "its binary is another program's (it lacks the kernel its key names)";
        return NULL;
    }
    clReleaseKernel(kernel);
    return program;
}

cl_program disk_cache_load(const clattn_context *ctx, const struct disk_cache_key *key,
                           const char *options, size_t *size, char *why, size_t why_size)
{
    if (why_size)
        why[0] = '\0';
    int dir = cache_dir_open(NULL, 0);
    if (dir < 0)
        return NULL;
    char name[NAME_SIZE], refused[256];
    file_name(key, ".bin", name);
    cl_program program = NULL;
    uint64_t file_size = 0;
    int fd = cache_file_open(dir, name, HEADER_SIZE + MAX_PAYLOAD, &file_size, refused,
                             sizeof refused);
    const char *bad = refused[0] ? refused : NULL;
    if (fd >= 0) {
        size_t binary_size = 0;
        unsigned char *binary = read_payload(fd, file_size, key, &binary_size);
        close(fd);
        if (!binary)
            bad = "its header or checksum does not match its contents";
        else if ((program = program_from_binary(ctx, key, binary, binary_size, options, &bad)))
            *size = binary_size;
        free(binary);
    }
    /* Never trusted again: the next source build writes a good file in its place. */
    if (bad) {
        unlinkat(dir, name, 0);
        if (bad == refused) /* it names the file */
            snprintf(why, why_size, "%s", refused);
        else
            snprintf(why, why_size, "%s: %s", name, bad);
    }
    close(dir);
    return program;
}

/* The binary of `program` for `device` (malloc'ed) and its size, or NULL, also when its size is
 * `unchanged`. A program belongs to the whole cl_context, which may hold other devices
 * (clattn_context_create_cl), so the device's slot is found in CL_PROGRAM_DEVICES and only
 * that binary is asked for. */
static unsigned char *program_binary(cl_device_id device, cl_program program, size_t unchanged,
                                     size_t *size)
{
    cl_uint count = 0;
    if (clGetProgramInfo(program, CL_PROGRAM_NUM_DEVICES, sizeof count, &count, NULL) !=
            CL_SUCCESS ||
        count == 0)
        return NULL;
    cl_device_id *devices = calloc(count, sizeof *devices);
    size_t *sizes = calloc(count, sizeof *sizes);
    unsigned char **binaries = calloc(count, sizeof *binaries);
    unsigned char *binary = NULL;
    cl_uint slot = count;
    if (devices && sizes && binaries &&
        clGetProgramInfo(program, CL_PROGRAM_DEVICES, count * sizeof *devices, devices, NULL) ==
            CL_SUCCESS &&
        clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, count * sizeof *sizes, sizes, NULL) ==
            CL_SUCCESS)
        for (slot = 0; slot < count && devices[slot] != device; slot++)
            ;
    if (slot < count && sizes[slot] > 0 && sizes[slot] != unchanged &&
        sizes[slot] <= MAX_PAYLOAD && (binary = malloc(sizes[slot]))) {
        binaries[slot] = binary; /* NULL slots are skipped by the driver */
        if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, count * sizeof *binaries, binaries,
                             NULL) == CL_SUCCESS) {
            *size = sizes[slot];
        } else {
            free(binary);
            binary = NULL;
        }
    }
    free(devices);
    free(sizes);
    free(binaries);
    return binary;
}

/* Writes header and payload to `fd`, a new file, and closes it. */
static int write_file(int fd, const struct disk_cache_key *key, const unsigned char *payload,
                      size_t size)
{
    unsigned char header[HEADER_SIZE];
    memcpy(header, magic, sizeof magic);
    put_le(header + OFF_FORMAT, CACHE_FORMAT, 4);
    memcpy(header + OFF_KEY, key->hash, SHA256_SIZE);
    put_le(header + OFF_LENGTH, size, 8);
    checksum(payload, size, header + OFF_CHECKSUM);
    int rc = write_all(fd, header, sizeof header) || write_all(fd, payload, size) ? -1 : 0;
    /* No fsync: a file cut short by a crash fails its checksum and is rebuilt. */
    return close(fd) != 0 ? -1 : rc;
}

void disk_cache_store(cl_device_id device, const struct disk_cache_key *key, cl_program program,
                      size_t *size)
{
    /* Each writer has its own temporary name (process id and a per-process count), and
     * rename(2) swaps the whole file in, so a reader sees the old file or the new one. */
    static atomic_uint writes;
    int dir = cache_dir_open(NULL, 0);
    if (dir < 0)
        return;
    size_t binary_size = 0;
    unsigned char *binary = program_binary(device, program, *size, &binary_size);
    if (binary) {
        char name[NAME_SIZE], temp[NAME_SIZE], suffix[32];
        snprintf(suffix, sizeof suffix, ".tmp.%ld.%u", (long)getpid(),
                 atomic_fetch_add(&writes, 1u));
        file_name(key, ".bin", name);
        file_name(key, suffix, temp);
        int fd = openat(dir, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 && write_file(fd, key, binary, binary_size) == 0 &&
            renameat(dir, temp, dir, name) == 0)
            *size = binary_size;
        else if (fd >= 0)
            unlinkat(dir, temp, 0);
        free(binary);
    }
    close(dir);
}
