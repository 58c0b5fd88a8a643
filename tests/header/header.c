/* The installed header alone, compiled as C99 and as C11 with every warning an error
 * (meson.build beside this file): a consumer needs nothing else, in either mode.
 *
 * CL_TARGET_OPENCL_VERSION is the includer's (include/clattn.h.in). meson removes the
 * project's own definition, then builds this once with none, where clattn.h must not choose
 * a version for the program, and once with WANT_CL_300 and the version set to 300, which
 * must reach the OpenCL headers: a 2.0 function is declared. */
#include <clattn.h>

#ifdef WANT_CL_300
#if CL_TARGET_OPENCL_VERSION != 300
#error "clattn.h changed the includer's CL_TARGET_OPENCL_VERSION"
#endif
#elif CL_TARGET_OPENCL_VERSION == 120
#error "clattn.h chose OpenCL 1.2 for an includer that chose no version"
#endif

int main(void)
{
#ifdef WANT_CL_300
    if (CLATTN_VERSION_NUMBER < 0) /* never: only the declaration is tested */
        clCreateCommandQueueWithProperties(NULL, NULL, NULL, NULL);
#endif
    return clattn_version_number() == CLATTN_VERSION_NUMBER ? 0 : 1;
}
