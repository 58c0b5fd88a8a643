#include "device_quirks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

device_quirks device_quirks_of(const char *platform, const char *device, const char *driver)
{
    device_quirks q = {0};
    if (strcmp(platform, "rusticl") != 0)
        return q;
    /* Mesa's version is rusticl's driver version ("22.3.6"). */
    if (atoi(driver) <= 22) {
        q.kernel_local_reported_twice = 1;
        q.max_work_group_size = 32;
    }
    if (strstr(device, "llvmpipe")) {
        /* A budget of 65535 loop iterations per kernel invocation, every loop and every
         * loop's exit counted (docs/devices.md). A work-group of the local-tiles kernel spends
         * it at about 2600 keys; 2048 leaves a margin. merge_splits spends four per split
         * (two loops over the splits, the second with a loop over its columns): 16383 splits
         * at most, 8192 with a margin. */
        q.local_tiles_max_keys = 2048;
        q.merge_max_splits = 8192;
        q.loop_budget = 65535;
    }
    return q;
}

void device_quirks_describe(const device_quirks *q, char *buf, size_t size)
{
    int n = 0;
    buf[0] = '\0';
    if (q->local_tiles_max_keys)
        n = snprintf(buf, size,
                     "loops end after 65535 iterations (Mesa's llvmpipe): keys split into runs "
                     "of at most %lld per work-group, at most %lld splits merged",
                     (long long)q->local_tiles_max_keys, (long long)q->merge_max_splits);
    if (q->kernel_local_reported_twice && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n,
                 "%skernels' __local bytes reported twice and work-groups of at most %zu "
                 "(rusticl up to Mesa 22)",
                 n ? "; " : "", q->max_work_group_size);
}
