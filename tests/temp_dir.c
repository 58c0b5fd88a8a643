#include "temp_dir.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *temp_dir_create(void)
{
    char *dir = strdup("/tmp/clattn-test-XXXXXX");
    ck_assert_ptr_nonnull(dir);
    ck_assert_msg(mkdtemp(dir), "mkdtemp(%s) failed", dir);
    return dir;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d, "cannot open %s", dir);
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(path);
        else
            ck_assert_msg(unlink(path) == 0, "cannot remove %s", path);
    }
    closedir(d);
    ck_assert_msg(rmdir(dir) == 0, "cannot remove %s", dir);
}

void temp_dir_remove(char *dir)
{
    remove_tree(dir);
    free(dir);
}
