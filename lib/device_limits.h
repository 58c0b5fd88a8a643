/* What clattn knows about a device: the OpenCL queries every choice is made from, after the
 * optional CLATTN_DEVICE_LIMITS override that lets tests present one device as another. */
#ifndef CLATTN_DEVICE_LIMITS_H
#define CLATTN_DEVICE_LIMITS_H

#include "clattn.h"
#include "device_quirks.h"

typedef struct device_limits {
    char name[256];
    char vendor[128];
    char device_version[128];
    char driver_version[128];
    char platform_name[128];
    char platform_version[128];
    cl_device_type type;
    cl_uint compute_units;
    cl_uint clock_mhz;
    size_t max_work_group_size;
    size_t max_work_item_size0;
    cl_ulong local_mem_size;
    /* CL_LOCAL: dedicated fast memory (GPUs). CL_GLOBAL: ordinary cached RAM (CPUs). */
    int local_mem_is_dedicated;
    cl_ulong global_mem_size;
    cl_ulong max_alloc_size;
    /* CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT: 1 on implementations that vectorise across
     * work-items themselves (GPUs, llvmpipe); 8 or 16 on CPU devices that want explicit
     * vectors (PoCL). */
    cl_uint vector_width;
    /* Work-items the device runs in lockstep (warp, wavefront, sub-group): from
     * CL_DEVICE_WARP_SIZE_NV, CL_DEVICE_WAVEFRONT_WIDTH_AMD or the largest of
     * CL_DEVICE_SUB_GROUP_SIZES_INTEL; 0 when the device does not say (a compiled kernel's
     * CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE tells then). Work-groups are multiples. */
    cl_uint simd_width;
    int c_version_major, c_version_minor;
    int has_fma; /* CL_FP_FMA: fused multiply-add in hardware */
    /* CL_DEVICE_GLOBAL_MEM_CACHELINE_SIZE in bytes: 0 when global memory has no cache */
    cl_uint cache_line;
    /* The implementation's known bugs, from its names (lib/device_quirks.h); the limits
     * above already allow for those that lower them. */
    device_quirks quirks;
    int available;
    /* The CLATTN_DEVICE_LIMITS text applied, "" when none. */
    char simulated[256];
} device_limits;

/* A compiled kernel's __local bytes per work-group (CL_KERNEL_LOCAL_MEM_SIZE, corrected for
 * the device's known misreport: quirks.kernel_local_reported_twice); 0 with the OpenCL error
 * in *err on failure. */
cl_ulong kernel_local_mem(const device_limits *limits, cl_device_id device, cl_kernel kernel,
                          cl_int *err);

/* Fills `out` from the device; failures go to clattn_message(NULL). */
clattn_status device_limits_query(cl_device_id device, device_limits *out);

/* Applies "key=value,key=value" (docs/devices.md, "Simulated devices"): type (cpu|gpu),
 * local_mem_size, local_mem_type (local|global), max_work_group_size, vector_width, simd_width,
 * compute_units, max_alloc_size, global_mem_size, fma. Sizes may only shrink what
 * the device has. On error nothing is changed and the reason is in clattn_message(NULL). */
clattn_status device_limits_override(device_limits *limits, const char *spec);

#endif
