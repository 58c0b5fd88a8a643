/* Real GPUs as their OpenCL drivers describe them, so that tile selection can be tested
 * without the device. Every figure is cited in device_table.c, with a mark saying how sure it
 * is; a test that depends on a figure not marked [CL] should say so. */
#ifndef CLATTN_TEST_DEVICE_TABLE_H
#define CLATTN_TEST_DEVICE_TABLE_H

#include <stddef.h>

typedef struct device_entry {
    /* CL_DEVICE_NAME; for AMD, CL_DEVICE_BOARD_NAME_AMD (its CL_DEVICE_NAME is the gfx target,
     * the same for several boards). */
    const char *name;
    size_t local_mem_size;              /* CL_DEVICE_LOCAL_MEM_SIZE, bytes */
    int local_mem_dedicated;            /* CL_DEVICE_LOCAL_MEM_TYPE == CL_LOCAL */
    size_t max_work_group_size;         /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    size_t max_work_item_size0;         /* CL_DEVICE_MAX_WORK_ITEM_SIZES[0] */
    unsigned compute_units;             /* CL_DEVICE_MAX_COMPUTE_UNITS */
    unsigned vector_width;              /* CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT */
    /* Warp / wavefront / sub-group width the kernels run at: CL_DEVICE_WARP_SIZE_NV,
     * CL_DEVICE_WAVEFRONT_WIDTH_AMD, or what the vendor documents (the entry says which). */
    unsigned simd_width;
    unsigned long long global_mem_size; /* CL_DEVICE_GLOBAL_MEM_SIZE */
    unsigned long long max_alloc_size;  /* CL_DEVICE_MAX_MEM_ALLOC_SIZE */
    int has_fp16;                       /* cl_khr_fp16 listed */
    int has_subgroups;                  /* cl_khr_subgroups or cl_intel_subgroups listed */
    const char *source;                 /* the main citation (URL) */
} device_entry;

extern const struct device_entry device_table[];
extern const size_t device_table_count;

#endif
