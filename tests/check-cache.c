/* The on-disk kernel cache (lib/disk_cache.h): a warm start computes what a cold one does, a
 * bad file is never trusted but rebuilt and replaced, the directory is private, the locations
 * follow CLATTN_CACHE_DIR, XDG_CACHE_HOME and HOME, and CLATTN_CACHE_DIR=off writes nothing.
 * Only programs built from source and used are stored, once; the directory's size is bounded
 * with the least recently used evicted first; clattn_context_set_cache chooses the directory,
 * read-only or off, and refuses what it cannot use. Every test works in its own temporary
 * folder. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "temp_dir.h"

#define MAX_FILES 16

static char *root;
static int skipped; /* cases that cannot be made here, reported at the end */
static char *saved_home, *saved_xdg;

static char *path_in(const char *relative)
{
    static char path[4][512]; /* a few at once in one expression */
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", root, relative);
    return p;
}

static char *dup_env(const char *name)
{
    const char *value = getenv(name);
    return value ? strdup(value) : NULL;
}

static void restore_env(const char *name, char *value)
{
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
    free(value);
}

/* The cache the contexts of run_cases choose with clattn_context_set_cache (`set` 0: none, the
 * environment's). */
static struct cache_choice {
    int set;
    const char *dir;
    clattn_cache_mode mode;
    uint64_t max_bytes;
} choice;

static void setup(void)
{
    /* With its own kernel cache on, PoCL gets no binaries from clattn (lib/disk_cache.h,
     * driver_with_own_cache_gets_no_binaries below), and these tests are about what clattn
     * stores: POCL_KERNEL_CACHE=0 for clattn, set once PoCL has read its own setting when the
     * device was first opened, so that PoCL's cache still spares the test its builds. */
    (void)test_context();
    setenv("POCL_KERNEL_CACHE", "0", 1);
    memset(&choice, 0, sizeof choice);
    root = temp_dir_create();
    saved_home = dup_env("HOME");
    saved_xdg = dup_env("XDG_CACHE_HOME");
    setenv("CLATTN_CACHE_DIR", path_in("cache"), 1);
}

static void teardown(void)
{
    unsetenv("CLATTN_CACHE_DIR");
    restore_env("HOME", saved_home);
    restore_env("XDG_CACHE_HOME", saved_xdg);
    temp_dir_remove(root);
}

/* What clattn_message said on the last context run_cases made: after its creation, and after
 * its last case. */
static char created_message[1024], cases_message[4096];

/* A new clattn context on the device under test, with the cache of `choice`. It has its own
 * in-memory program cache, so every build goes through the disk cache, and destroying it
 * stores its used programs there. */
static clattn_context *open_context(void)
{
    cl_context cl;
    cl_device_id device;
    ck_assert_int_eq(clattn_context_get_cl(test_context(), &cl, &device, NULL), CLATTN_SUCCESS);
    clattn_context *ctx;
    ck_assert_int_eq(clattn_context_create_cl(cl, device, NULL, &ctx), CLATTN_SUCCESS);
    snprintf(created_message, sizeof created_message, "%s", clattn_message(ctx));
    if (choice.set)
        ck_assert_msg(clattn_context_set_cache(ctx, choice.dir, choice.mode, choice.max_bytes) ==
                          CLATTN_SUCCESS,
                      "clattn_context_set_cache: %s", clattn_message(ctx));
    return ctx;
}

/* A context with the environment's cache, whatever `choice` says. */
static clattn_context *open_context_unset(void)
{
    const int set = choice.set;
    choice.set = 0;
    clattn_context *ctx = open_context();
    choice.set = set;
    return ctx;
}

static attn_case small_case(void)
{
    attn_case c = case_default();
    c.heads = 2;
    c.seq_q = c.seq_kv = 48;
    c.causal = 1;
    return c;
}

/* Runs one case (two with `both`: another head_dim, so other programs and more files) on
 * `ctx`, checked against the reference. */
static void run_on(clattn_context *ctx, int both)
{
    attn_case c = small_case();
    check_case_on(ctx, &c, CLATTN_ALGO_TILED);
    if (both) {
        c.head_dim = 32;
        check_case_on(ctx, &c, CLATTN_ALGO_TILED);
    }
    snprintf(cases_message, sizeof cases_message, "%s", clattn_message(ctx));
}

/* run_on through a context of its own, destroyed after. */
static void run_cases(int both)
{
    clattn_context *ctx = open_context();
    run_on(ctx, both);
    clattn_context_destroy(ctx);
}

struct cache_files {
    int count;
    char path[MAX_FILES][512];
    ino_t inode[MAX_FILES];
    struct timespec modified[MAX_FILES], accessed[MAX_FILES];
    off_t size[MAX_FILES];
};

/* The entries of `dir`, asserting that no temporary file was left behind. */
static void list_files(const char *dir, struct cache_files *f)
{
    f->count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        ck_assert_msg(strstr(e->d_name, ".tmp.") == NULL, "temporary file left: %s", e->d_name);
        ck_assert_int_lt(f->count, MAX_FILES);
        snprintf(f->path[f->count], sizeof f->path[0], "%s/%s", dir, e->d_name);
        struct stat st;
        ck_assert_int_eq(stat(f->path[f->count], &st), 0);
        f->modified[f->count] = st.st_mtim;
        f->accessed[f->count] = st.st_atim;
        f->size[f->count] = st.st_size;
        f->inode[f->count++] = st.st_ino;
    }
    closedir(d);
}

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *in = fopen(path, "rb");
    ck_assert_ptr_nonnull(in);
    ck_assert_int_eq(fseek(in, 0, SEEK_END), 0);
    long end = ftell(in);
    ck_assert_int_gt(end, 0);
    rewind(in);
    unsigned char *data = malloc((size_t)end);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(fread(data, 1, (size_t)end, in), (size_t)end);
    fclose(in);
    *size = (size_t)end;
    return data;
}

static void write_file(const char *path, const unsigned char *data, size_t size)
{
    FILE *out = fopen(path, "wb");
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(fwrite(data, 1, size, out), size);
    ck_assert_int_eq(fclose(out), 0);
}

static int same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* A run that finds every file good loads it and leaves it as it was: the same files with the
 * same inodes and modification times (a file that failed would have been deleted, and
 * rewritten when the context went; one stored again would be a new file). */
static void assert_all_loaded_in(const char *dir, const struct cache_files *before)
{
    struct cache_files after;
    list_files(dir, &after);
    ck_assert_int_eq(after.count, before->count);
    for (int i = 0; i < before->count; i++) {
        int j = 0;
        while (j < after.count && strcmp(after.path[j], before->path[i]) != 0)
            j++;
        ck_assert_msg(j < after.count, "%s is gone", before->path[i]);
        ck_assert_msg(after.inode[j] == before->inode[i], "%s was rebuilt, not loaded",
                      before->path[i]);
        ck_assert_msg(same_time(after.modified[j], before->modified[i]),
                      "%s was written again", before->path[i]);
    }
}

static void assert_all_loaded(const struct cache_files *before)
{
    assert_all_loaded_in(path_in("cache"), before);
}

START_TEST(warm_start_matches_cold)
{
    run_cases(0);
    struct cache_files cold;
    list_files(path_in("cache"), &cold);
    ck_assert_int_ge(cold.count, 1);
    run_cases(0); /* checked against the reference again, now from the stored binaries */
    assert_all_loaded(&cold);
}
END_TEST

/* Where a file's header holds its key: after the 8-byte magic and the 4-byte format; 32 bytes. */
#define KEY_OFFSET 12
#define KEY_SIZE 32

enum damage {
    DAMAGE_CORRUPT,
    DAMAGE_TRUNCATE,
    DAMAGE_FOREIGN_KEY,
    DAMAGE_OTHER_PROGRAM,
    DAMAGE_FORGED_HEADER,
    DAMAGES
};

START_TEST(bad_file_is_rebuilt)
{
    static const char *const names[] = {"a corrupt byte", "a truncated file", "a foreign key",
                                        "another program's file",
                                        "another program's binary under this file's header"};
    const enum damage damage = (enum damage)_i;
    run_cases(1);
    struct cache_files files;
    list_files(path_in("cache"), &files);
    ck_assert_int_ge(files.count, 2);
    unsigned char *bad[MAX_FILES];
    size_t bad_size[MAX_FILES];
    for (int i = 0; i < files.count; i++)
        bad[i] = read_file(files.path[i], &bad_size[i]);
    for (int i = 0; i < files.count; i++) {
        switch (damage) {
        case DAMAGE_CORRUPT: bad[i][bad_size[i] / 2] ^= 0x40; break;
        case DAMAGE_TRUNCATE: bad_size[i] /= 2; break;
        /* the right binary, so only the key in the header can tell that it is not theirs */
        case DAMAGE_FOREIGN_KEY: bad[i][KEY_OFFSET] ^= 0x01; break;
        case DAMAGE_OTHER_PROGRAM: break; /* the good files, each under another's name */
        case DAMAGE_FORGED_HEADER: break; /* and with the header of the name's own key */
        case DAMAGES: break;
        }
    }
    /* each file's own key, so that a forged header is valid in every field */
    unsigned char key[MAX_FILES][KEY_SIZE];
    for (int i = 0; i < files.count; i++)
        memcpy(key[i], bad[i] + KEY_OFFSET, KEY_SIZE);
    const int swapped = damage == DAMAGE_OTHER_PROGRAM || damage == DAMAGE_FORGED_HEADER;
    for (int i = 0; i < files.count; i++) {
        const int from = swapped ? (i + 1) % files.count : i;
        if (damage == DAMAGE_FORGED_HEADER) /* each bad[from] goes to one file only */
            memcpy(bad[from] + KEY_OFFSET, key[i], KEY_SIZE);
        write_file(files.path[i], bad[from], bad_size[from]);
    }
    run_cases(1); /* right results, so nothing bad was used */
    /* A file that passed every check of its header but not the driver's is worth a word:
     * it was deleted and its program built from source. */
    if (damage == DAMAGE_FORGED_HEADER)
        ck_assert_msg(strstr(cases_message, "rebuilt from source"),
                      "a forged cache entry was replaced without a word: '%s'", cases_message);
    for (int i = 0; i < files.count; i++) {
        const int from = swapped ? (i + 1) % files.count : i;
        size_t size;
        unsigned char *now = read_file(files.path[i], &size);
        ck_assert_msg(size != bad_size[from] || memcmp(now, bad[from], size) != 0,
                      "%s with %s was not replaced", files.path[i], names[damage]);
        free(now);
    }
    for (int i = 0; i < files.count; i++)
        free(bad[i]);
    list_files(path_in("cache"), &files);
    run_cases(1); /* and the replacements are good files */
    assert_all_loaded(&files);
}
END_TEST

START_TEST(directory_is_private)
{
    setenv("CLATTN_CACHE_DIR", path_in("new/nested/cache"), 1);
    run_cases(0);
    struct stat st;
    ck_assert_int_eq(stat(path_in("new"), &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0700);
    ck_assert_int_eq(stat(path_in("new/nested/cache"), &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0700);
    struct cache_files files;
    list_files(path_in("new/nested/cache"), &files);
    ck_assert_int_ge(files.count, 1);
    for (int i = 0; i < files.count; i++) {
        ck_assert_int_eq(stat(files.path[i], &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0600);
    }

    /* A directory others may write to could hold planted binaries: it is not used at all. */
    ck_assert_int_eq(mkdir(path_in("shared"), 0700), 0);
    ck_assert_int_eq(chmod(path_in("shared"), 0770), 0);
    setenv("CLATTN_CACHE_DIR", path_in("shared"), 1);
    run_cases(0);
    list_files(path_in("shared"), &files);
    ck_assert_int_eq(files.count, 0);
}
END_TEST

/* Directories the cache must not use: it is off for the context, which says so and why in
 * clattn_message right after its creation, and nothing is written there. */
enum bad_directory {
    BAD_SYMLINK,        /* CLATTN_CACHE_DIR names a symlink to a private directory */
    BAD_XDG_SYMLINK,    /* $XDG_CACHE_HOME/clattn, the name the library picks, is a symlink */
    BAD_WORLD_WRITABLE, /* mode 0777 */
    BAD_FOREIGN,        /* owned by another user (needs root to make) */
    BAD_DIRECTORIES
};


START_TEST(bad_directory_is_refused)
{
    static const char *const names[] = {"a symlink", "a symlink under XDG_CACHE_HOME",
                                        "a world-writable directory",
                                        "another user's directory"};
    static const char *const reasons[] = {"symbolic link", "symbolic link", "writable by",
                                          "owned by"};
    const enum bad_directory kind = (enum bad_directory)_i;
    if (kind == BAD_FOREIGN && geteuid() != 0) {
        fprintf(stderr, "SKIPPED: %s: only root can give a directory to another user\n",
                names[kind]);
        skipped++;
        return;
    }
    const char *target = path_in("target");
    ck_assert_int_eq(mkdir(target, 0700), 0);
    switch (kind) {
    case BAD_SYMLINK:
        ck_assert_int_eq(symlink(target, path_in("link")), 0);
        setenv("CLATTN_CACHE_DIR", path_in("link"), 1);
        break;
    case BAD_XDG_SYMLINK:
        unsetenv("CLATTN_CACHE_DIR");
        ck_assert_int_eq(mkdir(path_in("xdg"), 0700), 0);
        ck_assert_int_eq(symlink(target, path_in("xdg/clattn")), 0);
        setenv("XDG_CACHE_HOME", path_in("xdg"), 1);
        break;
    case BAD_WORLD_WRITABLE:
        ck_assert_int_eq(chmod(target, 0777), 0);
        setenv("CLATTN_CACHE_DIR", target, 1);
        break;
    case BAD_FOREIGN:
        ck_assert_int_eq(chown(target, 65534, 65534), 0); /* nobody:nogroup */
        setenv("CLATTN_CACHE_DIR", target, 1);
        break;
    case BAD_DIRECTORIES: break;
    }
    run_cases(0);
    struct cache_files files;
    list_files(target, &files);
    ck_assert_msg(files.count == 0, "%s: the cache wrote %s", names[kind], files.path[0]);
    ck_assert_msg(strstr(created_message, "kernel cache off") &&
                      strstr(created_message, reasons[kind]),
                  "%s: the context did not say that the cache is off and why: '%s'", names[kind],
                  created_message);
}
END_TEST

START_TEST(default_locations)
{
    unsetenv("CLATTN_CACHE_DIR");
    setenv("XDG_CACHE_HOME", path_in("xdg"), 1);
    run_cases(0);
    struct cache_files files;
    list_files(path_in("xdg/clattn"), &files);
    ck_assert_int_ge(files.count, 1);

    unsetenv("XDG_CACHE_HOME");
    ck_assert_int_eq(mkdir(path_in("home"), 0700), 0); /* a HOME that is missing is not made */
    setenv("HOME", path_in("home"), 1);
    run_cases(0);
    list_files(path_in("home/.cache/clattn"), &files);
    ck_assert_int_ge(files.count, 1);
}
END_TEST

START_TEST(off_writes_nothing)
{
    setenv("CLATTN_CACHE_DIR", "off", 1);
    setenv("XDG_CACHE_HOME", path_in("xdg"), 1);
    setenv("HOME", path_in("home"), 1);
    run_cases(0);
    run_cases(0);
    struct cache_files files;
    list_files(root, &files);
    ck_assert_int_eq(files.count, 0);
    /* off was asked for: nothing to warn about */
    ck_assert_msg(created_message[0] == '\0', "unexpected message: '%s'", created_message);
}
END_TEST

/* Plans compile their programs; only those whose kernels ran are worth a driver's export. */
START_TEST(only_used_programs_are_stored)
{
    clattn_context *ctx = open_context();
    attn_case c = small_case();
    clattn_problem *problem = case_problem(&c, CLATTN_ALGO_TILED);
    clattn_plan *plan;
    ck_assert_int_eq(clattn_plan_create(ctx, problem, &plan), CLATTN_SUCCESS);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(problem);
    clattn_context_destroy(ctx);
    struct cache_files files;
    list_files(path_in("cache"), &files);
    ck_assert_msg(files.count == 0, "a program that never ran was stored: %s", files.path[0]);

    run_cases(0); /* the same programs, now run */
    list_files(path_in("cache"), &files);
    ck_assert_int_ge(files.count, 1);
}
END_TEST

/* Two processes (here contexts) that both built a program from source: the first to go
 * stores it, the second finds it there and leaves it. */
START_TEST(stored_entry_is_not_stored_again)
{
    clattn_context *first = open_context(), *second = open_context();
    run_on(first, 0);
    run_on(second, 0);
    clattn_context_destroy(first);
    struct cache_files files;
    list_files(path_in("cache"), &files);
    ck_assert_int_ge(files.count, 1);
    clattn_context_destroy(second);
    assert_all_loaded(&files);
}
END_TEST

#define FAKE_SIZE (64 * 1024)

/* A file with the name of a cache entry (the key's 64 hex digits in `digit`) whose access and
 * modification times are `age` seconds ago. */
static const char *plant(const char *dir, char digit, const char *suffix, size_t size,
                         time_t age)
{
    static char path[8][600]; /* the paths of a test's plantings all at once */
    static int next;
    char *p = path[next++ % 8];
    char name[80];
    memset(name, digit, 64);
    snprintf(name + 64, sizeof name - 64, "%s", suffix);
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    unsigned char *zeros = calloc(1, size);
    ck_assert_ptr_nonnull(zeros);
    write_file(p, zeros, size);
    free(zeros);
    const struct timespec when[2] = {{time(NULL) - age, 0}, {time(NULL) - age, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, p, when, 0), 0);
    return p;
}

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

START_TEST(eviction_takes_least_recently_used)
{
    /* How much the case's programs take, stored alone */
    setenv("CLATTN_CACHE_DIR", path_in("alone"), 1);
    run_cases(0);
    struct cache_files alone;
    list_files(path_in("alone"), &alone);
    ck_assert_int_ge(alone.count, 1);
    uint64_t programs = 0;
    for (int i = 0; i < alone.count; i++)
        programs += (uint64_t)alone.size[i];

    const char *dir = path_in("cache");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    const char *oldest = plant(dir, 'a', ".bin", FAKE_SIZE, 3000);
    const char *older = plant(dir, 'b', ".bin", FAKE_SIZE, 2000);
    const char *old = plant(dir, 'c', ".bin", FAKE_SIZE, 1000);
    /* not the cache's binaries: neither counted nor deleted, however large and old */
    const char *other = plant(dir, 'd', ".txt", 4 * FAKE_SIZE, 5000);
    /* a temporary file of a writer that died long ago, and one being written now */
    const char *stale = plant(dir, 'e', ".tmp.1.0", 16, 3 * 24 * 3600);
    const char *writing = plant(dir, 'f', ".tmp.2.0", 16, 0);
    /* room for the new programs and two of the three old files */
    choice = (struct cache_choice){1, dir, CLATTN_CACHE_READ_WRITE,
                                   programs + 2 * FAKE_SIZE + FAKE_SIZE / 2};
    run_cases(0);
    ck_assert_msg(!exists(oldest), "the least recently used file was kept");
    ck_assert_msg(exists(older) && exists(old), "more was evicted than the bound asks");
    ck_assert_msg(exists(other), "a file that is not the cache's was deleted");
    ck_assert_msg(!exists(stale), "a stale temporary file was kept");
    ck_assert_msg(exists(writing), "a temporary file another process may write was deleted");
    ck_assert_int_eq(unlink(writing), 0);
    for (int i = 0; i < alone.count; i++) {
        const char *name = strrchr(alone.path[i], '/');
        char path[600];
        snprintf(path, sizeof path, "%s%s", dir, name);
        ck_assert_msg(exists(path), "the program just stored was evicted: %s", path);
    }
}
END_TEST

/* Read-only: what is there is used, and nothing is written: no new file, no access time, no
 * deletion of a bad file. */
START_TEST(read_only_writes_nothing)
{
    run_cases(0);
    struct cache_files before;
    list_files(path_in("cache"), &before);
    ck_assert_int_ge(before.count, 1);
    /* Accessed in an hour: later than the change this makes, so that reading the file does
     * not move the time (relatime, noatime), while the cache's setting it to now would. */
    const struct timespec times[2] = {{time(NULL) + 3600, 0}, {1000000000, 0}};
    for (int i = 0; i < before.count; i++)
        ck_assert_int_eq(utimensat(AT_FDCWD, before.path[i], times, 0), 0);
    size_t size;
    free(read_file(before.path[0], &size));
    list_files(path_in("cache"), &before);
    const int strictatime = before.accessed[0].tv_sec != times[0].tv_sec;
    if (strictatime) {
        fprintf(stderr, "SKIPPED: read-only access times: every read sets them here\n");
        skipped++;
    }

    choice = (struct cache_choice){1, path_in("cache"), CLATTN_CACHE_READ_ONLY, 0};
    run_cases(1); /* head_dim 64 loaded, head_dim 32 built and run */
    assert_all_loaded(&before);
    struct cache_files after;
    list_files(path_in("cache"), &after);
    for (int i = 0; i < after.count && !strictatime; i++)
        ck_assert_msg(same_time(after.accessed[i], before.accessed[i]),
                      "read-only, the access time of %s was set", after.path[i]);

    /* a bad file is not used, and left */
    unsigned char *data = read_file(before.path[0], &size);
    data[size / 2] ^= 0x40;
    write_file(before.path[0], data, size);
    run_cases(0);
    ck_assert_msg(strstr(cases_message, "read-only"), "no word of the bad file: '%s'",
                  cases_message);
    size_t now_size;
    unsigned char *now = read_file(before.path[0], &now_size);
    ck_assert_msg(now_size == size && memcmp(now, data, size) == 0,
                  "read-only, a bad file was replaced");
    free(now);
    free(data);

    /* nor is a directory created */
    choice.dir = path_in("missing/cache");
    clattn_context *ctx = open_context_unset();
    ck_assert_int_eq(clattn_context_set_cache(ctx, choice.dir, choice.mode, 0),
                     CLATTN_ERROR_INVALID_ARGUMENT);
    clattn_context_destroy(ctx);
    ck_assert(!exists(path_in("missing")));
}
END_TEST

START_TEST(off_by_option_writes_nothing)
{
    setenv("XDG_CACHE_HOME", path_in("xdg"), 1);
    setenv("HOME", path_in("home"), 1);
    choice = (struct cache_choice){1, path_in("cache"), CLATTN_CACHE_OFF, 0};
    run_cases(0);
    run_cases(0);
    struct cache_files files;
    list_files(root, &files);
    ck_assert_msg(files.count == 0, "off, the cache wrote %s", files.path[0]);
    choice.dir = NULL;
    run_cases(0);
    list_files(root, &files);
    ck_assert_msg(files.count == 0, "off, the cache wrote %s", files.path[0]);
}
END_TEST

/* PoCL with its own kernel cache on keeps what it compiles between processes itself; asking
 * it for binaries would compile every kernel again (lib/disk_cache.h), so clattn does not. */
START_TEST(driver_with_own_cache_gets_no_binaries)
{
    cl_device_id device;
    cl_platform_id platform;
    char name[256] = "";
    ck_assert_int_eq(clattn_context_get_cl(test_context(), NULL, &device, NULL), CLATTN_SUCCESS);
    ck_assert_int_eq(clGetDeviceInfo(device, CL_DEVICE_PLATFORM, sizeof platform, &platform,
                                     NULL),
                     CL_SUCCESS);
    ck_assert_int_eq(clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof name - 1, name, NULL),
                     CL_SUCCESS);
    setenv("POCL_KERNEL_CACHE", "1", 1); /* read by clattn at context creation */
    run_cases(0);
    setenv("POCL_KERNEL_CACHE", "0", 1);
    struct cache_files files;
    list_files(path_in("cache"), &files);
    if (strstr(name, "Portable Computing Language"))
        ck_assert_msg(files.count == 0, "PoCL keeps its own cache, yet clattn stored %s",
                      files.path[0]);
    else
        ck_assert_int_ge(files.count, 1); /* any other driver: stored as ever */
}
END_TEST

/* `call` on `ctx` is refused with CLATTN_ERROR_INVALID_ARGUMENT, and the message says `text`. */
#define REFUSED_ON(ctx, call, text)                                                            \
    do {                                                                                       \
        ck_assert_int_eq((call), CLATTN_ERROR_INVALID_ARGUMENT);                               \
        ck_assert_msg(strstr(clattn_message(ctx), text), "message '%s' lacks '%s'",            \
                      clattn_message(ctx), text);                                              \
    } while (0)

START_TEST(bad_cache_choice_is_refused)
{
    REFUSED_ON(NULL, clattn_context_set_cache(NULL, NULL, CLATTN_CACHE_READ_WRITE, 0),
               "ctx is NULL");
    clattn_context *ctx = open_context_unset();
    REFUSED_ON(ctx, clattn_context_set_cache(ctx, "relative/cache", CLATTN_CACHE_READ_WRITE, 0),
               "not an absolute path");
    REFUSED_ON(ctx, clattn_context_set_cache(ctx, "", CLATTN_CACHE_READ_ONLY, 0),
               "not an absolute path");
    REFUSED_ON(ctx, clattn_context_set_cache(ctx, path_in("x"), (clattn_cache_mode)3, 0),
               "no clattn_cache_mode");
    ck_assert_int_eq(mkdir(path_in("target"), 0700), 0);
    ck_assert_int_eq(symlink(path_in("target"), path_in("link")), 0);
    REFUSED_ON(ctx, clattn_context_set_cache(ctx, path_in("link"), CLATTN_CACHE_READ_WRITE, 0),
               "symbolic link");
    ck_assert_int_eq(chmod(path_in("target"), 0777), 0);
    REFUSED_ON(ctx,
               clattn_context_set_cache(ctx, path_in("target"), CLATTN_CACHE_READ_ONLY, 0),
               "writable by");
    write_file(path_in("file"), (const unsigned char *)"x", 1);
    REFUSED_ON(ctx, clattn_context_set_cache(ctx, path_in("file"), CLATTN_CACHE_READ_WRITE, 0),
               "file");
    /* none of that changed the cache: the environment's, read and written */
    run_on(ctx, 0);
    /* and once a kernel is built, it is too late */
    REFUSED_ON(ctx, clattn_context_set_cache(ctx, NULL, CLATTN_CACHE_OFF, 0), "already built");
    clattn_context_destroy(ctx);
    struct cache_files files;
    list_files(path_in("target"), &files);
    ck_assert_int_eq(files.count, 0);
    list_files(path_in("cache"), &files);
    ck_assert_int_ge(files.count, 1);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("disk");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, warm_start_matches_cold);
    tcase_add_loop_test(tc, bad_file_is_rebuilt, DAMAGE_CORRUPT, DAMAGES);
    tcase_add_test(tc, directory_is_private);
    tcase_add_loop_test(tc, bad_directory_is_refused, 0, BAD_DIRECTORIES);
    tcase_add_test(tc, default_locations);
    tcase_add_test(tc, off_writes_nothing);
    tcase_add_test(tc, only_used_programs_are_stored);
    tcase_add_test(tc, stored_entry_is_not_stored_again);
    tcase_add_test(tc, eviction_takes_least_recently_used);
    tcase_add_test(tc, read_only_writes_nothing);
    tcase_add_test(tc, off_by_option_writes_nothing);
    tcase_add_test(tc, bad_cache_choice_is_refused);
    tcase_add_test(tc, driver_with_own_cache_gets_no_binaries);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const int rc = test_main(make_suite, 1);
    if (skipped)
        fprintf(stderr, "%d check(s) SKIPPED, see above\n", skipped);
    return rc;
}
