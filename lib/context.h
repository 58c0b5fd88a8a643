/* The context: the OpenCL objects clattn works with, the device's limits, the program cache
 * and the last failure message. */
#ifndef CLATTN_CONTEXT_H
#define CLATTN_CONTEXT_H

#include "cache_dir.h"
#include "clattn.h"
#include "device_limits.h"

struct program_cache;
struct tuning_table;

struct clattn_context {
    cl_context cl;
    cl_device_id device;
    cl_command_queue queue;
    device_limits limits;
    struct program_cache *programs;
    struct cache_config cache; /* the disk cache (clattn_context_set_cache) */
    struct tuning_table *tuning; /* tiles measured by clattn_tune, by problem class */
    char *message;
    double peak_gflops, peak_gbps; /* 0 until clattn_measure_peak ran */
    double peak_read_gbps;         /* 0 until clattn_measure(CLATTN_PEAK_READ) ran */
};

#endif
