/* What attn-bench reports about a device: the OpenCL queries behind --list-devices, the
 * table's header block and the JSON "device" object. These are the device's own figures;
 * CLATTN_DEVICE_LIMITS changes what the library plans for, not what the device reports. */
#ifndef ATTN_BENCH_DEVICE_INFO_H
#define ATTN_BENCH_DEVICE_INFO_H

#include "clattn.h"

struct device_info {
    char *name, *platform, *driver; /* allocated: no length limit */
    cl_device_type type;
    cl_uint compute_units, clock_mhz;
    cl_ulong global_mem, max_alloc, local_mem;
    cl_ulong global_cache; /* CL_DEVICE_GLOBAL_MEM_CACHE_SIZE: the last-level cache; 0: none */
    int local_mem_dedicated; /* CL_LOCAL rather than CL_GLOBAL */
    int host_unified; /* CL_DEVICE_HOST_UNIFIED_MEMORY: device buffers take host memory */
    size_t max_work_group;
    int fp16, fp64, available;
};

/* Fills `info`; on failure prints why and returns BENCH_EXIT_RUNTIME (info then holds
 * nothing to free). */
int device_info_query(cl_device_id device, struct device_info *info);
void device_info_free(struct device_info *info);

/* "CPU", "GPU", "accelerator", "custom" or "other". */
const char *device_type_name(cl_device_type type);

#endif
