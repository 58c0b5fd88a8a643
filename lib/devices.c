/* The flat device list: every device of every platform, platform order then device order. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cl_error.h"
#include "message.h"

/* Platforms that fail to list devices (a broken ICD, Clover without hardware) contribute none;
 * the list is rebuilt on each call so it always reflects the loader's current view. */
static clattn_status walk_unlocked(int wanted, int *count, cl_platform_id *platform_out,
                          cl_device_id *device_out)
{
    cl_uint nplat = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &nplat);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR: no ICD installed */ || nplat == 0) {
        *count = 0;
        return CLATTN_SUCCESS;
    }
    if (err != CL_SUCCESS)
        return fail(NULL, CLATTN_ERROR_OPENCL, "clGetPlatformIDs failed: %s (%d)",
                    cl_error_name(err), (int)err);
    cl_platform_id *plats = calloc(nplat, sizeof *plats);
    if (!plats)
        return fail(NULL, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "out of host memory listing devices");
    err = clGetPlatformIDs(nplat, plats, NULL);
    if (err != CL_SUCCESS) {
        free(plats);
        return fail(NULL, CLATTN_ERROR_OPENCL, "clGetPlatformIDs failed: %s (%d)",
                    cl_error_name(err), (int)err);
    }
    int n = 0;
    for (cl_uint p = 0; p < nplat; p++) {
        cl_uint ndev = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &ndev) != CL_SUCCESS)
            continue;
        if (wanted >= n && wanted < n + (int)ndev) {
            cl_device_id *devs = calloc(ndev, sizeof *devs);
            if (!devs) {
                free(plats);
                return fail(NULL, CLATTN_ERROR_HOST_OUT_OF_MEMORY,
                            "out of host memory listing devices");
            }
            err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, ndev, devs, NULL);
            if (err == CL_SUCCESS) {
                *platform_out = plats[p];
                *device_out = devs[wanted - n];
            }
            free(devs);
            if (err != CL_SUCCESS) {
                free(plats);
                return fail(NULL, CLATTN_ERROR_OPENCL, "clGetDeviceIDs failed: %s (%d)",
                            cl_error_name(err), (int)err);
            }
        }
        n += (int)ndev;
    }
    free(plats);
    *count = n;
    return CLATTN_SUCCESS;
}

/* The ICD loader reads its vendor files on the first clGetPlatformIDs of the process, and
 * ocl-icd 2.3 does that without a lock: two threads that create their first contexts at the
 * same moment can see zero platforms. Every walk is serialised so that the first one finishes
 * the loader's start-up before another begins; a walk costs microseconds once it has. */
static pthread_mutex_t walk_lock = PTHREAD_MUTEX_INITIALIZER;

static clattn_status walk(int wanted, int *count, cl_platform_id *platform_out,
                          cl_device_id *device_out)
{
    pthread_mutex_lock(&walk_lock);
    clattn_status st = walk_unlocked(wanted, count, platform_out, device_out);
    pthread_mutex_unlock(&walk_lock);
    return st;
}

clattn_status clattn_device_count(int *count)
{
    if (!count)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_device_count: count is NULL");
    cl_platform_id p;
    cl_device_id d;
    return walk(-1, count, &p, &d);
}

clattn_status clattn_device_get(int index, cl_platform_id *platform, cl_device_id *device)
{
    cl_platform_id p = NULL;
    cl_device_id d = NULL;
    int count = 0;
    clattn_status st = walk(index, &count, &p, &d);
    if (st)
        return st;
    if (index < 0 || index >= count)
        return fail(NULL, CLATTN_ERROR_NO_DEVICE,
                    "no OpenCL device %d: %d device%s found (see attn-bench --list-devices)",
                    index, count, count == 1 ? "" : "s");
    if (platform)
        *platform = p;
    if (device)
        *device = d;
    return CLATTN_SUCCESS;
}

static int device_available(cl_device_id d)
{
    cl_bool available = CL_FALSE;
    return clGetDeviceInfo(d, CL_DEVICE_AVAILABLE, sizeof available, &available, NULL) ==
               CL_SUCCESS &&
           available;
}

clattn_status clattn_device_default(int *index)
{
    if (!index)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_device_default: index is NULL");
    int count = 0;
    clattn_status st = clattn_device_count(&count);
    if (st)
        return st;
    const char *env = getenv("CLATTN_DEVICE");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end != '\0' || v < 0 || v >= count)
            return fail(NULL, CLATTN_ERROR_NO_DEVICE,
                        "CLATTN_DEVICE=%s does not name one of the %d devices", env, count);
        *index = (int)v;
        return CLATTN_SUCCESS;
    }
    int first_available = -1;
    for (int i = 0; i < count; i++) {
        cl_device_id d;
        if (clattn_device_get(i, NULL, &d) || !device_available(d))
            continue;
        cl_device_type type = 0;
        clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
        if (type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR)) {
            *index = i;
            return CLATTN_SUCCESS;
        }
        if (first_available < 0)
            first_available = i;
    }
    if (first_available < 0)
        return fail(NULL, CLATTN_ERROR_NO_DEVICE,
                    count ? "none of the %d OpenCL devices is available"
                          : "no OpenCL device found (%d): is an ICD such as pocl-opencl-icd "
                            "installed?",
                    count);
    *index = first_available;
    return CLATTN_SUCCESS;
}
