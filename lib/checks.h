/* Argument checks shared by the enqueue calls: everything is verified before anything is
 * enqueued, so a rejected call changes nothing. */
#ifndef CLATTN_CHECKS_H
#define CLATTN_CHECKS_H

#include "plan.h"

/* The queue belongs to the plan's context and device; the wait list is well formed. */
clattn_status enqueue_check_common(clattn_plan *plan, cl_command_queue queue,
                                   cl_uint num_events, const cl_event *wait_list);

/* Where an argument's bytes lie: in the buffer it was ultimately cut from (a sub-buffer is
 * resolved to its parent), so that two sub-buffers of one buffer compare as one memory. */
typedef struct mem_range {
    cl_mem root;         /* NULL: the argument is absent */
    uint64_t begin, end; /* bytes [begin, end) of root */
} mem_range;

/* `mem` is a buffer of the plan's context holding `span` bytes from `offset`, which is a
 * multiple of `align`; when `writable`, it is not CL_MEM_READ_ONLY. `name` labels messages.
 * On success `*range` is where those bytes lie. */
clattn_status enqueue_check_buffer(clattn_plan *plan, const char *name, cl_mem mem,
                                   size_t offset, uint64_t span, size_t align, int writable,
                                   mem_range *range);

/* Refuses a call in which a tensor it writes (`written[t]`) shares bytes with any other of
 * its `n` tensors: work-items would read what others already overwrote. Tensors of one
 * nonzero `alias` class (alias NULL: none) may coincide exactly instead, for kernels that read
 * and write each row in one work-item. Absent tensors (root NULL) are skipped. */
clattn_status enqueue_check_overlaps(clattn_plan *plan, int n, const char *const names[],
                                     const mem_range ranges[], const int written[],
                                     const int alias[]);

#endif
