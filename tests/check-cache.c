/* The on-disk kernel cache (lib/disk_cache.h): a warm start computes what a cold one does, a
 * bad file is never trusted but rebuilt and replaced, the directory is private, the locations
 * follow CLATTN_CACHE_DIR, XDG_CACHE_HOME and HOME, and CLATTN_CACHE_DIR=off writes nothing.
 * Every test works in its own temporary folder. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "temp_dir.h"

#define MAX_FILES 16

static char *root;
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

static void setup(void)
{
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

/* Runs one case (two with `both`: another head_dim, so other programs and more files) through
 * a new clattn context on the device under test, checked against the reference. The context
 * has its own in-memory program cache, so every build goes through the disk cache, and
 * destroying it stores its programs there. */
static void run_cases(int both)
{
    cl_context cl;
    cl_device_id device;
    ck_assert_int_eq(clattn_context_get_cl(test_context(), &cl, &device, NULL), CLATTN_SUCCESS);
    clattn_context *ctx;
    ck_assert_int_eq(clattn_context_create_cl(cl, device, NULL, &ctx), CLATTN_SUCCESS);
    snprintf(created_message, sizeof created_message, "%s", clattn_message(ctx));
    attn_case c = case_default();
    c.heads = 2;
    c.seq_q = c.seq_kv = 48;
    c.causal = 1;
    check_case_on(ctx, &c, CLATTN_ALGO_TILED);
    if (both) {
        c.head_dim = 32;
        check_case_on(ctx, &c, CLATTN_ALGO_TILED);
    }
    snprintf(cases_message, sizeof cases_message, "%s", clattn_message(ctx));
    clattn_context_destroy(ctx);
}

struct cache_files {
    int count;
    char path[MAX_FILES][512];
    ino_t inode[MAX_FILES];
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

/* A run that finds every file good loads it and leaves it as it was: the same files with the
 * same inodes (a file that failed would have been deleted, and rewritten when the context
 * went). */
static void assert_all_loaded(const struct cache_files *before)
{
    struct cache_files after;
    list_files(path_in("cache"), &after);
    ck_assert_int_eq(after.count, before->count);
    for (int i = 0; i < before->count; i++) {
        int j = 0;
        while (j < after.count && strcmp(after.path[j], before->path[i]) != 0)
            j++;
        ck_assert_msg(j < after.count, "%s is gone", before->path[i]);
        ck_assert_msg(after.inode[j] == before->inode[i], "%s was rebuilt, not loaded",
                      before->path[i]);
    }
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

static int skipped; /* cases that cannot be made here, reported at the end */

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
