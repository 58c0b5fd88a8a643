#include "tuning.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_dir.h"
#include "kernel_build.h"
#include "sha256.h"
#include "tile_select.h"

/* Lines of "<class>: <tiles>", both short ASCII; anything else in the file is ignored. */
#define FIELD TUNING_FIELD

struct tuning_entry {
    char class_key[FIELD], tiles[FIELD];
};

struct tuning_table {
    struct tuning_entry *entries;
    size_t count, capacity;
    char unread[320]; /* why the file was not read, "" when it was or there is none */
};

/* "tuning-<hex>.txt": one file per device, keyed like the kernel cache (name, versions,
 * platform), so a driver upgrade starts from the rules again. */
static void file_name(const device_limits *l, char *name, size_t size)
{
    const char *fields[] = {"clattn tuning 1", l->name, l->device_version, l->driver_version,
                            l->platform_name, l->platform_version};
    struct sha256 h;
    unsigned char hash[SHA256_SIZE];
    sha256_init(&h);
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        sha256_update(&h, fields[i], strlen(fields[i]) + 1);
    sha256_final(&h, hash);
    int n = snprintf(name, size, "tuning-");
    for (int i = 0; i < 16 && (size_t)n + 2 < size; i++)
        n += snprintf(name + n, size - (size_t)n, "%02x", hash[i]);
    snprintf(name + n, size - (size_t)n, ".txt");
}

static int printable(const char *s)
{
    for (; *s; s++)
        if (*s < ' ' || *s > '~' || *s == ':')
            return 0;
    return 1;
}

int tuning_set(struct tuning_table *t, const char *class_key, const char *tiles)
{
    if (strlen(class_key) >= FIELD || (tiles && strlen(tiles) >= FIELD) || !printable(class_key) ||
        (tiles && !printable(tiles)))
        return -1;
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->entries[i].class_key, class_key) == 0) {
            if (tiles)
                snprintf(t->entries[i].tiles, FIELD, "%s", tiles);
            else
                t->entries[i] = t->entries[--t->count];
            return 0;
        }
    if (!tiles)
        return 0;
    if (t->count == TUNING_MAX_ENTRIES)
        return -1;
    if (t->count == t->capacity) {
        size_t cap = t->capacity ? 2 * t->capacity : 8;
        struct tuning_entry *grown = realloc(t->entries, cap * sizeof *grown);
        if (!grown)
            return -1;
        t->entries = grown;
        t->capacity = cap;
    }
    snprintf(t->entries[t->count].class_key, FIELD, "%s", class_key);
    snprintf(t->entries[t->count].tiles, FIELD, "%s", tiles);
    t->count++;
    return 0;
}

const char *tuning_get(const struct tuning_table *t, const char *class_key)
{
    for (size_t i = 0; t && i < t->count; i++)
        if (strcmp(t->entries[i].class_key, class_key) == 0)
            return t->entries[i].tiles;
    return NULL;
}

struct tuning_table *tuning_parse(const char *text, size_t size)
{
    struct tuning_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    char line[2 * FIELD + 8];
    for (size_t at = 0; at < size;) {
        const char *end = memchr(text + at, '\n', size - at);
        const size_t length = end ? (size_t)(end - (text + at)) : size - at;
        /* a line too long for an entry, or holding a NUL, is no entry */
        if (length < sizeof line && !memchr(text + at, '\0', length)) {
            memcpy(line, text + at, length);
            line[length] = '\0';
            char *colon = strstr(line, ": ");
            if (line[0] != '#' && colon) {
                *colon = '\0';
                tuning_set(t, line, colon + 2); /* a malformed entry is refused and skipped */
            }
        }
        at += length + 1;
    }
    return t;
}

const char *tuning_unread(const struct tuning_table *t)
{
    return t->unread;
}

struct tuning_table *tuning_load(const device_limits *l, const struct cache_config *cache)
{
    char why[256], name[64];
    file_name(l, name, sizeof name);
    char *text = NULL;
    uint64_t size = 0;
    int dir = cache_dir_open(cache, 0, why, sizeof why);
    int fd = dir >= 0 ? cache_file_open(dir, name, TUNING_FILE_MAX, &size, why, sizeof why) : -1;
    if (dir >= 0)
        close(dir);
    if (fd >= 0) {
        text = malloc((size_t)size + 1);
        if (!text) {
            close(fd);
            return NULL;
        }
        if (cache_file_read(fd, text, (size_t)size) != 0)
            snprintf(why, sizeof why, "%s could not be read", name);
        close(fd);
    }
    struct tuning_table *t = tuning_parse(text && !why[0] ? text : "", text && !why[0] ? size : 0);
    free(text);
    if (t && why[0])
        snprintf(t->unread, sizeof t->unread, "%s%s", dir < 0 ? "the cache directory " : "", why);
    return t;
}

const char *tuning_lookup(const struct tuning_table *t, const device_limits *l,
                          const clattn_problem *p, clattn_kernel_shape shape, int windowed,
                          char *why, size_t why_size)
{
    snprintf(why, why_size, "%s", "");
    const int vw = shape == CLATTN_SHAPE_REGISTER_BLOCKS
                       ? select_register_tiles(l, p, rows_per_kv_head(p), windowed).vw
                       : 1;
    char class_key[FIELD];
    tuning_class(p, shape, windowed, vw, class_key, sizeof class_key);
    const char *tiles = tuning_get(t, class_key);
    if (!tiles) {
        if (t->unread[0])
            snprintf(why, why_size, "the tuning file was not read: %s", t->unread);
        return NULL;
    }
    char candidates[TUNING_MAX_CANDIDATES][FIELD];
    const int n = tune_candidates(l, p, shape, windowed, candidates);
    int member = 0;
    for (int i = 0; i < n && !member; i++)
        member = strcmp(candidates[i], tiles) == 0;
    if (member)
        return tiles;
    /* from the file, or from clattn_tune on a problem of the class that p does not fit */
    snprintf(why, why_size,
             "the tuned tiles of its class (%s) are not among those clattn_tune tries for this "
             "problem on this device",
             tiles);
    return NULL;
}

void tuning_free(struct tuning_table *t)
{
    if (!t)
        return;
    free(t->entries);
    free(t);
}

int tuning_save(const struct tuning_table *t, const device_limits *l,
                const struct cache_config *cache)
{
    int dir = cache_dir_open(cache, 1, NULL, 0);
    if (dir < 0)
        return -1;
    char name[64], tmp[96];
    file_name(l, name, sizeof name);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", name, (long)getpid());
    int fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int rc = f ? 0 : -1;
    if (f) {
        fprintf(f, "# clattn tile choices measured by clattn_tune (attn-bench --tune) on\n"
                   "# %s (%s, driver %s)\n",
                l->name, l->platform_name, l->driver_version);
        for (size_t i = 0; i < t->count; i++)
            fprintf(f, "%s: %s\n", t->entries[i].class_key, t->entries[i].tiles);
        rc = fclose(f) == 0 ? 0 : -1;
    } else if (fd >= 0) {
        close(fd);
    }
    /* rename(2) replaces the file whole: a reader sees the old table or the new one */
    if (rc == 0 && renameat(dir, tmp, dir, name) != 0)
        rc = -1;
    if (rc != 0)
        unlinkat(dir, tmp, 0);
    close(dir);
    return rc;
}
