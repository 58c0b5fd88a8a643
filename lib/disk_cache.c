#include "disk_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

int disk_cache_driver_keeps(const device_limits *l)
{
    if (!strstr(l->platform_name, "Portable Computing Language"))
        return 0;
    const char *pocl = getenv("POCL_KERNEL_CACHE");
    return !pocl || !(pocl[0] == '0' || strcmp(pocl, "false") == 0 || strcmp(pocl, "off") == 0);
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
                           const char *options, char *why, size_t why_size)
{
    if (why_size)
        why[0] = '\0';
    int dir = cache_dir_open(&ctx->cache, 0, NULL, 0);
    if (dir < 0)
        return NULL;
    const int writable = ctx->cache.mode == CLATTN_CACHE_READ_WRITE;
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
        if (!binary)
            bad = "its header or checksum does not match its contents";
        else if ((program = program_from_binary(ctx, key, binary, binary_size, options, &bad)) &&
                 writable) {
            /* The access time is when it was last used, for eviction; the modification time
             * stays when it was stored. */
            const struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
            futimens(fd, times);
        }
        close(fd);
        free(binary);
    }
    /* Never trusted again: the next source build writes a good file in its place. */
    if (bad) {
        if (writable)
            unlinkat(dir, name, 0);
        if (bad == refused) /* it names the file */
            snprintf(why, why_size, "%s", refused);
        else
            snprintf(why, why_size, "%s: %s", name, bad);
    }
    close(dir);
    return program;
}

/* The binary of `program` for `device` (malloc'ed) and its size, or NULL. A program belongs
 * to the whole cl_context, which may hold other devices (clattn_context_create_cl), so the
 * device's slot is found in CL_PROGRAM_DEVICES and only that binary is asked for. */
static unsigned char *program_binary(cl_device_id device, cl_program program, size_t *size)
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
    if (slot < count && sizes[slot] > 0 && sizes[slot] <= MAX_PAYLOAD &&
        (binary = malloc(sizes[slot]))) {
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

/* "<64 hex digits><suffix>...": the files this cache writes; nothing else is touched. */
static int named_with(const char *name, const char *suffix)
{
    for (int i = 0; i < 2 * SHA256_SIZE; i++)
        if (!name[i] || !strchr("0123456789abcdef", name[i]))
            return 0;
    return strncmp(name + 2 * SHA256_SIZE, suffix, strlen(suffix)) == 0;
}

struct stored_file {
    char name[NAME_SIZE];
    uint64_t size;
    struct timespec used; /* the later of its access and modification times */
};

static int older_first(const void *a, const void *b)
{
    const struct stored_file *x = a, *y = b;
    if (x->used.tv_sec != y->used.tv_sec)
        return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    if (x->used.tv_nsec != y->used.tv_nsec)
        return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

static struct timespec later(struct timespec a, struct timespec b)
{
    return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec) ? a : b;
}

/* A temporary file this old was left by a writer that died: none takes a day. */
#define STALE_TEMP_SECONDS (24 * 3600)

/* Deletes the least recently used binaries of `dir` but `kept` until they add up to at most
 * `bound` bytes, and stale temporary files. Only complete files are deleted (rename put them
 * there whole); a process reading one keeps its open file. Two processes evicting at once
 * at worst delete a little more than either would alone. */
static void evict(int dir, uint64_t bound, const char *kept)
{
    int fd = dup(dir);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct stored_file *files = NULL;
    size_t count = 0, capacity = 0;
    uint64_t total = 0;
    const time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d));) {
        struct stat st;
        const int binary = named_with(e->d_name, ".bin") && !e->d_name[2 * SHA256_SIZE + 4];
        const int temp = named_with(e->d_name, ".tmp.");
        if ((!binary && !temp) || fstatat(dir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (temp) {
            if (now - st.st_mtim.tv_sec > STALE_TEMP_SECONDS)
                unlinkat(dir, e->d_name, 0);
            continue;
        }
        total += (uint64_t)st.st_size;
        if (strcmp(e->d_name, kept) == 0)
            continue;
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            struct stored_file *grown = realloc(files, capacity * sizeof *files);
            if (!grown)
                break; /* evicting less is safe */
            files = grown;
        }
        memcpy(files[count].name, e->d_name, 2 * SHA256_SIZE + sizeof ".bin");
        files[count].size = (uint64_t)st.st_size;
        files[count++].used = later(st.st_atim, st.st_mtim);
    }
    closedir(d);
    if (total > bound && count > 0) {
        qsort(files, count, sizeof *files, older_first);
        for (size_t i = 0; i < count && total > bound; i++)
            if (unlinkat(dir, files[i].name, 0) == 0 || errno == ENOENT)
                total -= files[i].size;
    }
    free(files);
}

void disk_cache_store(const struct cache_config *config, cl_device_id device,
                      const struct disk_cache_key *key, cl_program program)
{
    /* Each writer has its own temporary name (process id and a per-process count), and
     * rename(2) swaps the whole file in, so a reader sees the old file or the new one. */
    static atomic_uint writes;
    int dir = cache_dir_open(config, 1, NULL, 0);
    if (dir < 0)
        return;
    const uint64_t bound =
        config && config->max_bytes ? config->max_bytes : CACHE_DEFAULT_MAX_BYTES;
    char name[NAME_SIZE];
    file_name(key, ".bin", name);
    struct stat st;
    /* Stored by another process since this one looked: exporting the binary again would cost
     * what it cost that process (on PoCL, compiling every kernel of the program once more).
     * Were the file bad, the next load deletes it and the next build stores it again. */
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        close(dir);
        return;
    }
    size_t binary_size = 0;
    unsigned char *binary = program_binary(device, program, &binary_size);
    if (binary && HEADER_SIZE + binary_size <= bound) {
        char temp[NAME_SIZE], suffix[32];
        snprintf(suffix, sizeof suffix, ".tmp.%ld.%u", (long)getpid(),
                 atomic_fetch_add(&writes, 1u));
        file_name(key, suffix, temp);
        int fd = openat(dir, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 && write_file(fd, key, binary, binary_size) == 0 &&
            renameat(dir, temp, dir, name) == 0)
            evict(dir, bound, name);
        else if (fd >= 0)
            unlinkat(dir, temp, 0);
    }
    free(binary);
    close(dir);
}
