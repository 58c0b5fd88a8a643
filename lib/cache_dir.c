#include "cache_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The configured path into `out`; 0, or -1 when the cache is off or the path does not fit.
 * Relative XDG_CACHE_HOME and HOME are ignored, as the XDG base directory spec asks: they
 * would put the cache wherever the process happens to run. A HOME that does not exist (a
 * service's /nonexistent) is not created. */
static int cache_path(char *out, size_t size)
{
    const char *dir = getenv("CLATTN_CACHE_DIR");
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

/* mkdir -p with mode 0700 for every directory it creates. */
static int make_dirs(char *path)
{
    for (char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        int rc = mkdir(path, 0700);
        *slash = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

int cache_dir_open(void)
{
    char path[4096];
    if (cache_path(path, sizeof path) || make_dirs(path))
        return -1;
    /* The checks run on the opened directory itself, so it cannot be swapped after them. */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & (S_IWGRP | S_IWOTH))) {
        close(fd);
        return -1;
    }
    return fd;
}
