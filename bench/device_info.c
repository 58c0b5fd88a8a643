#include "device_info.h"

#include <stdlib.h>
#include <string.h>

#include "diag.h"

static int query(cl_device_id device, cl_device_info what, size_t size, void *out,
                 const char *name)
{
    cl_int err = clGetDeviceInfo(device, what, size, out, NULL);
    return err == CL_SUCCESS ? 0 : fail_cl(err, name);
}

#define QUERY(device, what, var) \
    query(device, what, sizeof(var), &(var), "clGetDeviceInfo(" #what ")")

/* A string property of any length, asked for its size first. */
static int query_string(cl_int (*get)(void *, cl_uint, size_t, void *, size_t *), void *object,
                        cl_uint what, const char *name, char **out)
{
    size_t size = 0;
    cl_int err = get(object, what, 0, NULL, &size);
    char *text = err == CL_SUCCESS ? malloc(size + 1) : NULL;
    if (err == CL_SUCCESS && !text)
        return fail_host_memory();
    if (err == CL_SUCCESS)
        err = get(object, what, size, text, NULL);
    if (err != CL_SUCCESS) {
        free(text);
        return fail_cl(err, name);
    }
    text[size] = '\0';
    *out = text;
    return 0;
}

/* clGetDeviceInfo and clGetPlatformInfo differ only in their handle type. */
static cl_int get_device_info(void *device, cl_uint what, size_t size, void *out, size_t *ret)
{
    return clGetDeviceInfo((cl_device_id)device, what, size, out, ret);
}

static cl_int get_platform_info(void *platform, cl_uint what, size_t size, void *out, size_t *ret)
{
    return clGetPlatformInfo((cl_platform_id)platform, what, size, out, ret);
}

/* Whether the space-separated extension list holds `name` as a whole word. */
static int has_word(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = strstr(list, name); p; p = strstr(p + 1, name))
        if ((p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
            return 1;
    return 0;
}

int device_info_query(cl_device_id device, struct device_info *info)
{
    memset(info, 0, sizeof *info);
    cl_platform_id platform = NULL;
    cl_device_local_mem_type local_type = CL_GLOBAL;
    cl_bool available = CL_FALSE, unified = CL_FALSE;
    char *extensions = NULL;
    int rc = QUERY(device, CL_DEVICE_PLATFORM, platform);
    if (!rc)
        rc = QUERY(device, CL_DEVICE_TYPE, info->type);
    if (!rc)
        rc = QUERY(device, CL_DEVICE_MAX_COMPUTE_UNITS, info->compute_units);
    if (!rc)
        rc = QUERY(device, CL_DEVICE_MAX_CLOCK_FREQUENCY, info->clock_mhz);
    if (!rc)
        rc = QUERY(device, CL_DEVICE_GLOBAL_MEM_SIZE, info->global_mem);
    if (!rc)
        rc = QUERY(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, info->max_alloc);
    if (!rc)
        rc = QUERY(device, CL_DEVICE_GLOBAL_MEM_CACHE_SIZE, info->global_cache);
    if (!rc)
        rc = QUERY(device, CL_DEVICE_LOCAL_MEM_SIZE, info->local_mem);
    if (!rc)
        rc = QUERY(device, CL_DEVICE_LOCAL_MEM_TYPE, local_type);
    if (!rc)
        rc = QUERY(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, info->max_work_group);
    if (!rc)
        rc = QUERY(device, CL_DEVICE_AVAILABLE, available);
    if (!rc)
        rc = query_string(get_device_info, device, CL_DEVICE_NAME,
                          "clGetDeviceInfo(CL_DEVICE_NAME)", &info->name);
    if (!rc)
        rc = query_string(get_device_info, device, CL_DRIVER_VERSION,
                          "clGetDeviceInfo(CL_DRIVER_VERSION)", &info->driver);
    if (!rc)
        rc = query_string(get_device_info, device, CL_DEVICE_EXTENSIONS,
                          "clGetDeviceInfo(CL_DEVICE_EXTENSIONS)", &extensions);
    if (!rc)
        rc = query_string(get_platform_info, platform, CL_PLATFORM_NAME,
                          "clGetPlatformInfo(CL_PLATFORM_NAME)", &info->platform);
    if (rc) {
        free(extensions);
        device_info_free(info);
        return rc;
    }
    info->local_mem_dedicated = local_type == CL_LOCAL;
    info->available = available == CL_TRUE;
    /* Deprecated by OpenCL 2.0, so a driver may refuse the query: a CPU device's memory is
     * the host's whatever it says. */
    if (clGetDeviceInfo(device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL) !=
        CL_SUCCESS)
        unified = CL_FALSE;
    info->host_unified = unified == CL_TRUE || (info->type & CL_DEVICE_TYPE_CPU) != 0;
    info->fp16 = has_word(extensions, "cl_khr_fp16");
    info->fp64 = has_word(extensions, "cl_khr_fp64");
    free(extensions);
    return 0;
}

void device_info_free(struct device_info *info)
{
    free(info->name);
    free(info->platform);
    free(info->driver);
    memset(info, 0, sizeof *info);
}

const char *device_type_name(cl_device_type type)
{
    if (type & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (type & CL_DEVICE_TYPE_CPU)
        return "CPU";
    if (type & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    if (type & CL_DEVICE_TYPE_CUSTOM)
        return "custom";
    return "other";
}
