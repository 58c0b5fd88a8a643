/* What one OpenCL implementation gets wrong, keyed on who it is (CL_PLATFORM_NAME,
 * CL_DEVICE_NAME, CL_DRIVER_VERSION), never inferred from its limits: another device with the
 * same limits (an Arm Mali also has local memory in global memory) does not share its bugs.
 * Each quirk is described, with what was seen, in docs/devices.md. CLATTN_DEVICE_LIMITS does
 * not change them: a simulated profile changes the limits clattn plans for, but the kernels
 * still run on the real implementation, whose bugs stay. */
#ifndef CLATTN_DEVICE_QUIRKS_H
#define CLATTN_DEVICE_QUIRKS_H

#include <stddef.h>
#include <stdint.h>

typedef struct device_quirks {
    /* Mesa's llvmpipe (through rusticl): a kernel's loops run at most 65535 iterations in all
     * per invocation, and then end early without an error (gallivm's loop limiter,
     * docs/devices.md). So: keys one work-group of the local-tiles kernel may visit, and
     * splits merge_splits may combine; 0 for no limit. Longer key ranges are split and
     * merged (lib/dispatch.c, lib/decode.c); plans that would merge more are refused. */
    int64_t local_tiles_max_keys;
    int64_t merge_max_splits;
    /* The loop budget itself, for kernels whose loops are sized by the problem (naive's PV and
     * softmax walk every key): 0 for no limit. */
    int64_t loop_budget;
    /* rusticl up to Mesa 22: CL_KERNEL_LOCAL_MEM_SIZE is twice the __local bytes a kernel
     * declares (kernel_local_mem in lib/device_limits.h halves it), and every kernel's
     * CL_KERNEL_WORK_GROUP_SIZE is this, whatever the device's maximum says; 0 for none. */
    int kernel_local_reported_twice;
    size_t max_work_group_size;
} device_quirks;

/* The quirks of the implementation that reports these names; all zero for one without. */
device_quirks device_quirks_of(const char *platform_name, const char *device_name,
                               const char *driver_version);

/* One line naming the quirks in effect, "" when none. */
void device_quirks_describe(const device_quirks *q, char *buf, size_t size);

#endif
