#include "device_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_error.h"
#include "message.h"

static clattn_status get_info(cl_device_id dev, cl_device_info what, size_t size, void *out,
                              const char *name)
{
    cl_int err = clGetDeviceInfo(dev, what, size, out, NULL);
    if (err != CL_SUCCESS)
        return fail(NULL, CLATTN_ERROR_OPENCL, "clGetDeviceInfo(%s) failed: %s (%d)", name,
                    cl_error_name(err), (int)err);
    return CLATTN_SUCCESS;
}

#define GET(dev, what, var) get_info(dev, what, sizeof(var), &(var), #what)

static void get_string(cl_device_id dev, cl_device_info what, char *out, size_t size)
{
    out[0] = '\0';
    if (clGetDeviceInfo(dev, what, size, out, NULL) != CL_SUCCESS)
        snprintf(out, size, "?");
    out[size - 1] = '\0';
}

static int has_extension(cl_device_id dev, const char *ext)
{
    size_t size = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, 0, NULL, &size) != CL_SUCCESS || !size)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    int found = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, size, text, NULL) == CL_SUCCESS) {
        text[size] = '\0';
        size_t len = strlen(ext);
        for (const char *p = strstr(text, ext); p; p = strstr(p + 1, ext))
            if ((p == text || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
                found = 1;
    }
    free(text);
    return found;
}

/* Vendor queries of the lockstep width (their extensions' enum values, which not every
 * header version defines). */
#define WARP_SIZE_NV 0x4003
#define WAVEFRONT_WIDTH_AMD 0x4043
#define SUB_GROUP_SIZES_INTEL 0x4108

static cl_uint simd_width(cl_device_id dev)
{
    cl_uint width = 0;
    if (has_extension(dev, "cl_nv_device_attribute_query") &&
        clGetDeviceInfo(dev, WARP_SIZE_NV, sizeof width, &width, NULL) == CL_SUCCESS)
        return width;
    if (has_extension(dev, "cl_amd_device_attribute_query") &&
        clGetDeviceInfo(dev, WAVEFRONT_WIDTH_AMD, sizeof width, &width, NULL) == CL_SUCCESS)
        return width;
    size_t sizes[16], bytes = 0;
    if (has_extension(dev, "cl_intel_required_subgroup_size") &&
        clGetDeviceInfo(dev, SUB_GROUP_SIZES_INTEL, sizeof sizes, sizes, &bytes) == CL_SUCCESS)
        for (size_t i = 0; i < bytes / sizeof sizes[0]; i++)
            if (sizes[i] > width && sizes[i] <= 1024)
                width = (cl_uint)sizes[i];
    return width;
}

clattn_status device_limits_query(cl_device_id dev, device_limits *out)
{
    memset(out, 0, sizeof *out);
    clattn_status st;
    cl_device_local_mem_type mem_type = CL_GLOBAL;
    size_t item_sizes[3] = {0, 0, 0};
    cl_bool available = CL_FALSE;
    cl_platform_id platform = NULL;
    if ((st = GET(dev, CL_DEVICE_TYPE, out->type)) ||
        (st = GET(dev, CL_DEVICE_MAX_COMPUTE_UNITS, out->compute_units)) ||
        (st = GET(dev, CL_DEVICE_MAX_CLOCK_FREQUENCY, out->clock_mhz)) ||
        (st = GET(dev, CL_DEVICE_MAX_WORK_GROUP_SIZE, out->max_work_group_size)) ||
        (st = GET(dev, CL_DEVICE_MAX_WORK_ITEM_SIZES, item_sizes)) ||
        (st = GET(dev, CL_DEVICE_LOCAL_MEM_SIZE, out->local_mem_size)) ||
        (st = GET(dev, CL_DEVICE_LOCAL_MEM_TYPE, mem_type)) ||
        (st = GET(dev, CL_DEVICE_GLOBAL_MEM_SIZE, out->global_mem_size)) ||
        (st = GET(dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, out->max_alloc_size)) ||
        (st = GET(dev, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, out->vector_width)) ||
        (st = GET(dev, CL_DEVICE_AVAILABLE, available)) ||
        (st = GET(dev, CL_DEVICE_PLATFORM, platform)))
        return st;
    out->max_work_item_size0 = item_sizes[0];
    out->local_mem_is_dedicated = mem_type == CL_LOCAL;
    out->available = available == CL_TRUE;
    get_string(dev, CL_DEVICE_NAME, out->name, sizeof out->name);
    get_string(dev, CL_DEVICE_VENDOR, out->vendor, sizeof out->vendor);
    get_string(dev, CL_DEVICE_VERSION, out->device_version, sizeof out->device_version);
    get_string(dev, CL_DRIVER_VERSION, out->driver_version, sizeof out->driver_version);
    if (clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof out->platform_name,
                          out->platform_name, NULL) != CL_SUCCESS)
        snprintf(out->platform_name, sizeof out->platform_name, "?");
    if (clGetPlatformInfo(platform, CL_PLATFORM_VERSION, sizeof out->platform_version,
                          out->platform_version, NULL) != CL_SUCCESS)
        snprintf(out->platform_version, sizeof out->platform_version, "?");
    out->platform_name[sizeof out->platform_name - 1] = '\0';
    out->platform_version[sizeof out->platform_version - 1] = '\0';

    /* "OpenCL C 1.2 PoCL": the language version decides -cl-std. */
    char c_version[128];
    get_string(dev, CL_DEVICE_OPENCL_C_VERSION, c_version, sizeof c_version);
    if (sscanf(c_version, "OpenCL C %d.%d", &out->c_version_major, &out->c_version_minor) != 2) {
        out->c_version_major = 1;
        out->c_version_minor = 1;
    }
    cl_device_fp_config fp = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) == CL_SUCCESS)
        out->has_fma = (fp & CL_FP_FMA) != 0;
    cl_device_mem_cache_type cache_type = CL_NONE;
    if (clGetDeviceInfo(dev, CL_DEVICE_GLOBAL_MEM_CACHE_TYPE, sizeof cache_type, &cache_type,
                        NULL) == CL_SUCCESS &&
        cache_type != CL_NONE &&
        clGetDeviceInfo(dev, CL_DEVICE_GLOBAL_MEM_CACHELINE_SIZE, sizeof out->cache_line,
                        &out->cache_line, NULL) != CL_SUCCESS)
        out->cache_line = 0;
    out->simd_width = simd_width(dev);
    /* rusticl 22 says work-groups of 1024, but every kernel's CL_KERNEL_WORK_GROUP_SIZE is
     * 32 (docs/devices.md): the device's limit is taken to be the kernels'. */
    out->quirks = device_quirks_of(out->platform_name, out->name, out->driver_version);
    const size_t group_cap = out->quirks.max_work_group_size;
    if (group_cap && out->max_work_group_size > group_cap)
        out->max_work_group_size = group_cap;
    if (group_cap && out->max_work_item_size0 > group_cap)
        out->max_work_item_size0 = group_cap;
    if (out->vector_width == 0)
        out->vector_width = 1;
    return CLATTN_SUCCESS;
}

cl_ulong kernel_local_mem(const device_limits *l, cl_device_id device, cl_kernel kernel,
                          cl_int *err)
{
    cl_ulong bytes = 0;
    *err = clGetKernelWorkGroupInfo(kernel, device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof bytes, &bytes,
                                    NULL);
    return *err ? 0 : l->quirks.kernel_local_reported_twice ? bytes / 2 : bytes;
}

static int parse_u64(const char *text, size_t len, cl_ulong *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (buf[0] < '0' || buf[0] > '9')
        return 0;
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    /* a k/K suffix means KiB, m/M MiB: "local_mem_size=16k" */
    if (*end == 'k' || *end == 'K')
        v <<= 10, end++;
    else if (*end == 'm' || *end == 'M')
        v <<= 20, end++;
    if (*end != '\0')
        return 0;
    *out = v;
    return 1;
}

static clattn_status shrink(const char *key, cl_ulong value, cl_ulong real, cl_ulong *target)
{
    if (value == 0 || value > real)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "CLATTN_DEVICE_LIMITS: %s=%llu must be between 1 and the device's %llu", key,
                    (unsigned long long)value, (unsigned long long)real);
    *target = value;
    return CLATTN_SUCCESS;
}

static clattn_status apply_one(device_limits *lim, const char *key, size_t key_len,
                               const char *val, size_t val_len)
{
#define IS(k) (key_len == strlen(k) && memcmp(key, k, key_len) == 0)
    if (IS("local_mem_type")) {
        if (val_len == 5 && memcmp(val, "local", 5) == 0)
            lim->local_mem_is_dedicated = 1;
        else if (val_len == 6 && memcmp(val, "global", 6) == 0)
            lim->local_mem_is_dedicated = 0;
        else
            return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                        "CLATTN_DEVICE_LIMITS: local_mem_type must be local or global, not "
                        "'%.*s'", (int)val_len, val);
        return CLATTN_SUCCESS;
    }
    if (IS("type")) {
        if (val_len == 3 && memcmp(val, "cpu", 3) == 0)
            lim->type = CL_DEVICE_TYPE_CPU;
        else if (val_len == 3 && memcmp(val, "gpu", 3) == 0)
            lim->type = CL_DEVICE_TYPE_GPU;
        else
            return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                        "CLATTN_DEVICE_LIMITS: type must be cpu or gpu, not '%.*s'",
                        (int)val_len, val);
        return CLATTN_SUCCESS;
    }
    cl_ulong v;
    if (!parse_u64(val, val_len, &v))
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                    "CLATTN_DEVICE_LIMITS: '%.*s' is not a number (in %.*s)", (int)val_len, val,
                    (int)key_len, key);
    cl_ulong tmp = 0;
    clattn_status st;
    if (IS("local_mem_size"))
        return shrink("local_mem_size", v, lim->local_mem_size, &lim->local_mem_size);
    if (IS("global_mem_size"))
        return shrink("global_mem_size", v, lim->global_mem_size, &lim->global_mem_size);
    if (IS("max_alloc_size"))
        return shrink("max_alloc_size", v, lim->max_alloc_size, &lim->max_alloc_size);
    if (IS("max_work_group_size")) {
        if ((st = shrink("max_work_group_size", v, lim->max_work_group_size, &tmp)))
            return st;
        lim->max_work_group_size = (size_t)tmp;
        if (lim->max_work_item_size0 > tmp)
            lim->max_work_item_size0 = (size_t)tmp;
        return CLATTN_SUCCESS;
    }
    if (IS("compute_units")) {
        if (v == 0 || v > 65536)
            return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                        "CLATTN_DEVICE_LIMITS: compute_units=%llu out of range",
                        (unsigned long long)v);
        lim->compute_units = (cl_uint)v;
        return CLATTN_SUCCESS;
    }
    if (IS("vector_width")) {
        if (v != 1 && v != 2 && v != 4 && v != 8 && v != 16)
            return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                        "CLATTN_DEVICE_LIMITS: vector_width must be 1, 2, 4, 8 or 16");
        lim->vector_width = (cl_uint)v;
        return CLATTN_SUCCESS;
    }
    if (IS("simd_width")) {
        if (v == 0 || v > 128 || (v & (v - 1)))
            return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                        "CLATTN_DEVICE_LIMITS: simd_width must be a power of two up to 128");
        lim->simd_width = (cl_uint)v;
        return CLATTN_SUCCESS;
    }
    if (IS("fma")) {
        if (v > 1 || (v == 1 && !lim->has_fma))
            return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                        "CLATTN_DEVICE_LIMITS: fma can only be turned off (0)");
        lim->has_fma = (int)v;
        return CLATTN_SUCCESS;
    }
#undef IS
    return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "CLATTN_DEVICE_LIMITS: unknown key '%.*s'",
                (int)key_len, key);
}

clattn_status device_limits_override(device_limits *limits, const char *spec)
{
    if (!spec || !*spec)
        return CLATTN_SUCCESS;
    device_limits copy = *limits;
    for (const char *p = spec; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq)
            return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT,
                        "CLATTN_DEVICE_LIMITS: expected key=value, got '%.*s'", (int)len, p);
        clattn_status st = apply_one(&copy, p, (size_t)(eq - p), eq + 1,
                                     len - (size_t)(eq - p) - 1);
        if (st)
            return st;
        p += len;
        if (*p == ',')
            p++;
    }
    snprintf(copy.simulated, sizeof copy.simulated, "%s", spec);
    *limits = copy;
    return CLATTN_SUCCESS;
}
