/* Names of OpenCL error codes, and the mapping of an OpenCL failure onto a clattn status. */
#ifndef CLATTN_CL_ERROR_H
#define CLATTN_CL_ERROR_H

#include "clattn.h"

/* "CL_OUT_OF_RESOURCES" for -5, or "unknown OpenCL error" */
const char *cl_error_name(cl_int err);

/* Allocation failures become CLATTN_ERROR_DEVICE_OUT_OF_MEMORY, the rest CLATTN_ERROR_OPENCL;
 * the message names the failing call and the error. */
clattn_status cl_fail(const clattn_context *ctx, const char *call, cl_int err);

#endif
