/* The fixed, static names of the public enums, each written once: the library's messages
 * and plan descriptions use them, and so do programs (attn-bench), through the API. */
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

const char *clattn_algorithm_name(clattn_algorithm algorithm)
{
    switch (algorithm) {
    case CLATTN_ALGO_AUTO: return "auto";
    case CLATTN_ALGO_NAIVE: return "naive";
    case CLATTN_ALGO_TILED: return "tiled";
    case CLATTN_ALGO_WINDOWED: return "windowed";
    case CLATTN_ALGO_DECODE: return "decode";
    }
    return "unknown";
}

const char *clattn_kernel_shape_name(clattn_kernel_shape shape)
{
    switch (shape) {
    case CLATTN_SHAPE_NONE: return "none";
    case CLATTN_SHAPE_LOCAL_TILES: return "local_tiles";
    case CLATTN_SHAPE_REGISTER_BLOCKS: return "register_blocks";
    }
    return "unknown";
}
