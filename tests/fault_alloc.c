/* See fault_alloc.h. RTLD_NEXT finds the clCreateBuffer that this definition hides. */
#define _GNU_SOURCE
#include "fault_alloc.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "clattn.h"

static int allowed = -1, refused;

void fault_alloc_after(int successes)
{
    allowed = successes;
    refused = 0;
}

void fault_alloc_off(void)
{
    allowed = -1;
}

int fault_alloc_refused(void)
{
    return refused;
}

typedef cl_mem (*create_buffer_fn)(cl_context, cl_mem_flags, size_t, void *, cl_int *);

CL_API_ENTRY cl_mem CL_API_CALL clCreateBuffer(cl_context context, cl_mem_flags flags,
                                               size_t size, void *host_ptr, cl_int *err)
{
    static create_buffer_fn real;
    if (!real) {
        /* ISO C has no conversion from dlsym's void * to a function pointer (-Wpedantic
         * warns on a cast); writing through the pointer's storage is POSIX's own idiom */
        void *sym = dlsym(RTLD_NEXT, "clCreateBuffer");
        if (!sym) {
            fprintf(stderr, "fault_alloc: no clCreateBuffer behind this one: %s\n", dlerror());
            abort();
        }
        *(void **)&real = sym;
    }
    if (allowed == 0) {
        refused++;
        if (err)
            *err = CL_MEM_OBJECT_ALLOCATION_FAILURE;
        return NULL;
    }
    if (allowed > 0)
        allowed--;
    return real(context, flags, size, host_ptr, err);
}
