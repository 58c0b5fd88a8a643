#include "clattn.h"

const char *clattn_status_string(clattn_status status)
{
    switch (status) {
    case CLATTN_SUCCESS: return "success";
    case CLATTN_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case CLATTN_ERROR_UNSUPPORTED: return "not supported on this device or build";
    case CLATTN_ERROR_HOST_OUT_OF_MEMORY: return "out of host memory";
    case CLATTN_ERROR_DEVICE_OUT_OF_MEMORY: return "out of device memory";
    case CLATTN_ERROR_NO_DEVICE: return "no such OpenCL device";
    case CLATTN_ERROR_BUILD_FAILED: return "kernel build failed";
    case CLATTN_ERROR_OPENCL: return "OpenCL error";
    }
    return "unknown status";
}
