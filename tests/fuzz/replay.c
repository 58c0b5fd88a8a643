/* Runs a fuzz target's LLVMFuzzerTestOneInput once on each file named, and on every file of
 * each folder named: the inputs kept in tests/fuzz/regressions/<target>/ are replayed this
 * way as ordinary tests, with any compiler and without libFuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path, off_t size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = malloc(size ? (size_t)size : 1);
    const int ok = f && data && fread(data, 1, (size_t)size, f) == (size_t)size;
    if (f)
        fclose(f);
    if (ok) {
        printf("%s (%lld bytes)\n", path, (long long)size);
        fflush(stdout); /* the name is out before a crash */
        LLVMFuzzerTestOneInput(data, (size_t)size);
    } else {
        perror(path);
    }
    free(data);
    return ok;
}

static int replay(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path, st.st_size) ? 1 : -1;
    DIR *d = opendir(path);
    if (!d) {
        perror(path);
        return -1;
    }
    int count = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        struct stat fst;
        if (stat(file, &fst) != 0 || !replay_file(file, fst.st_size)) {
            count = -1;
            break;
        }
        count++;
    }
    closedir(d);
    return count;
}

int main(int argc, char **argv)
{
    int total = 0;
    for (int i = 1; i < argc; i++) {
        const int n = replay(argv[i]);
        if (n < 0)
            return 1;
        total += n;
    }
    printf("replayed %d inputs\n", total);
    return total > 0 ? 0 : 1; /* nothing found means a wrong path, not a pass */
}
