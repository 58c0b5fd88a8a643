#include "clock.h"

#include <stdio.h>
#include <time.h>

#include "diag.h"
#include "format.h"

/* Fills timed by the probe: one plausible reading is enough to trust the timestamps. */
#define PROBE_FILLS 3

double clock_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

const char *clock_name(enum bench_clock clock)
{
    return clock == BENCH_CLOCK_WALL ? "wall" : "device";
}

int clock_device_plausible(double device_ms, double wall_ms)
{
    return device_ms >= 1e-3 || device_ms >= 1e-3 * wall_ms;
}

/* One fill of `mem`: its profiled time and the wall clock around it. */
static int timed_fill(cl_command_queue queue, cl_mem mem, size_t bytes, double *device_ms,
                      double *wall_ms)
{
    const cl_uchar pattern = 0;
    cl_event event;
    const double start = clock_ms();
    cl_int err = clEnqueueFillBuffer(queue, mem, &pattern, sizeof pattern, 0, bytes, 0, NULL,
                                     &event);
    if (err != CL_SUCCESS)
        return fail_cl(err, "clEnqueueFillBuffer (clock probe)");
    err = clWaitForEvents(1, &event);
    *wall_ms = clock_ms() - start;
    cl_ulong begin = 0, end = 0;
    if (err == CL_SUCCESS)
        err = clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_START, sizeof begin, &begin,
                                      NULL);
    if (err == CL_SUCCESS)
        err = clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
    clReleaseEvent(event);
    if (err != CL_SUCCESS)
        return fail_cl(err, "clGetEventProfilingInfo (clock probe)");
    *device_ms = end > begin ? (double)(end - begin) * 1e-6 : 0;
    return 0;
}

int clock_choose(cl_context context, cl_command_queue queue, size_t bytes,
                 enum bench_clock *clock, char *reason, size_t reason_len)
{
    cl_int err;
    cl_mem mem = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        return fail_cl(err, "clCreateBuffer (clock probe)");
    double device_ms = 0, wall_ms = 0;
    int rc = 0, plausible = 0;
    for (int i = 0; i < PROBE_FILLS && !rc && !plausible; i++) {
        rc = timed_fill(queue, mem, bytes, &device_ms, &wall_ms);
        plausible = !rc && clock_device_plausible(device_ms, wall_ms);
    }
    clReleaseMemObject(mem);
    if (rc)
        return rc;
    *clock = plausible ? BENCH_CLOCK_DEVICE : BENCH_CLOCK_WALL;
    char size[FORMAT_BYTES_LEN];
    snprintf(reason, reason_len,
             "a fill of %s took %.3g ms by its profiling event and %.3g ms by the wall clock",
             format_bytes(size, bytes), device_ms, wall_ms);
    return 0;
}
