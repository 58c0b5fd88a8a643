#include "cache_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void say(char *why, size_t size, const char *fmt, ...)
{
    if (!why || !size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
}

/* The configured path into `out`: `dir` when not NULL, else from the environment; 0, or -1
 * when the cache is off or the path does not fit.
 * Relative XDG_CACHE_HOME and HOME are ignored, as the XDG base directory spec asks: they
 * would put the cache wherever the process happens to run. A HOME that does not exist (a
 * service's /nonexistent) is not created. */
static int cache_path(const char *dir, char *out, size_t size)
{
    if (dir) {
        const int n = snprintf(out, size, "%s", dir);
        return n > 0 && (size_t)n < size ? 0 : -1;
    }
    dir = getenv("CLATTN_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    struct stat st;
    int n;
    if (dir && *dir) {
        if (strcmp(dir, "off") == 0)
            return -1;
        n = snprintf(out, size, "%s", dir);
    } else if (xdg && xdg[0] == '/') {
        n = snprintf(out, size, "%s/clattn", xdg);
    } else if (home && home[0] == '/' && stat(home, &st) == 0 && S_ISDIR(st.st_mode)) {
        n = snprintf(out, size, "%s/.cache/clattn", home);
    } else {
        return -1;
    }
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* The reason a directory entry that could not be opened as a directory was refused. */
static void refused_entry(int parent, const char *name, const char *path, int err, char *why,
                          size_t size)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        say(why, size, "%s is a symbolic link (clattn follows none into its cache)", path);
    else
        say(why, size, "%s cannot be opened as a directory: %s", path, strerror(err));
}

/* mkdir -p with mode 0700 (without `create`, only the opening, and a missing component is -1
 * with `why` ""), one component at a time from an open parent, so that what is checked is
 * what is used. Components that already existed are followed even through a
 * symbolic link (the user's layout: ~/.cache often is one); those this call creates, and
 * the last one always, are opened with O_NOFOLLOW, so that a link planted in their place is
 * refused rather than followed. Returns the last component's descriptor, or -1 with `why`. */
static int open_dirs(char *path, int create, char *why, size_t size)
{
    int fd = open(path[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        say(why, size, "%s: the root of the path cannot be opened: %s", path, strerror(errno));
        return -1;
    }
    char *name = path;
    while (fd >= 0) {
        while (*name == '/')
            name++;
        if (!*name)
            break;
        char *end = strchr(name, '/');
        const int last = !end || !end[strspn(end, "/")];
        if (end)
            *end = '\0';
        const int created = create && mkdirat(fd, name, 0700) == 0;
        const int err = create ? errno : EEXIST;
        int next = -1;
        if (!created && err != EEXIST) {
            say(why, size, "%s cannot be created: %s", path, strerror(err));
        } else if ((next = openat(fd, name,
                                  O_RDONLY | O_DIRECTORY | O_CLOEXEC |
                                      (created || last ? O_NOFOLLOW : 0))) < 0 &&
                   (create || errno != ENOENT)) {
            refused_entry(fd, name, path, errno, why, size);
        }
        if (end)
            *end = '/';
        close(fd);
        fd = next;
        if (!end)
            break;
        name = end;
    }
    return fd;
}

int cache_dir_open(const struct cache_config *config, int write, char *why, size_t why_size)
{
    say(why, why_size, "%s", "");
    const clattn_cache_mode mode = config ? config->mode : CLATTN_CACHE_READ_WRITE;
    char path[4096];
    if (mode == CLATTN_CACHE_OFF || (write && mode == CLATTN_CACHE_READ_ONLY) ||
        cache_path(config ? config->dir : NULL, path, sizeof path))
        return -1;
    int fd = open_dirs(path, write, why, why_size);
    if (fd < 0)
        return -1;
    /* The checks run on the opened directory itself, so it cannot be swapped after them. */
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
        say(why, why_size, "%s is not a directory", path);
    } else if (st.st_uid != geteuid()) {
        say(why, why_size, "%s is owned by user %ld, not by this one (%ld)", path,
            (long)st.st_uid, (long)geteuid());
    } else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        say(why, why_size, "%s is writable by %s (mode %03o)", path,
            st.st_mode & S_IWOTH ? "others" : "its group", (unsigned)(st.st_mode & 0777));
    } else {
        return fd;
    }
    close(fd);
    return -1;
}

int cache_file_open(int dir, const char *name, uint64_t max_size, uint64_t *size, char *why,
                    size_t why_size)
{
    say(why, why_size, "%s", "");
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer */
    int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP)
            say(why, why_size, "%s is a symbolic link", name);
        else if (errno != ENOENT)
            say(why, why_size, "%s cannot be opened: %s", name, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        say(why, why_size, "%s is not a regular file", name);
    else if (st.st_uid != geteuid())
        say(why, why_size, "%s is owned by user %ld, not by this one (%ld)", name,
            (long)st.st_uid, (long)geteuid());
    else if (st.st_mode & (S_IWGRP | S_IWOTH))
        say(why, why_size, "%s is writable by %s (mode %03o)", name,
            st.st_mode & S_IWOTH ? "others" : "its group", (unsigned)(st.st_mode & 0777));
    else if ((uint64_t)st.st_size > max_size)
        say(why, why_size, "%s holds %lld bytes, more than the %llu such a file may", name,
            (long long)st.st_size, (unsigned long long)max_size);
    else {
        *size = (uint64_t)st.st_size;
        return fd;
    }
    close(fd);
    return -1;
}

int cache_file_read(int fd, void *buf, size_t size)
{
    unsigned char *at = buf;
    while (size > 0) {
        ssize_t n = read(fd, at, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        at += n;
        size -= (size_t)n;
    }
    return 0;
}
