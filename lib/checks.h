/* Argument checks shared by the enqueue calls: everything is verified before anything is
 * enqueued, so a rejected call changes nothing. */
#ifndef CLATTN_CHECKS_H
#define CLATTN_CHECKS_H

#include "plan.h"

/* The queue belongs to the plan's context and device; the wait list is well formed. */
clattn_status enqueue_check_common(clattn_plan *plan, cl_command_queue queue,
                                   cl_uint num_events, const cl_event *wait_list);

/* `mem` is a buffer of the plan's context holding `span` bytes from `offset`, which is a
 * multiple of `align`; when `writable`, it is not CL_MEM_READ_ONLY. `name` labels messages. */
clattn_status enqueue_check_buffer(clattn_plan *plan, const char *name, cl_mem mem,
                                   size_t offset, uint64_t span, size_t align, int writable);

/* Whether [a_off, a_off + a_len) and [b_off, b_off + b_len) of one buffer share bytes. */
int ranges_overlap(cl_mem a, size_t a_off, uint64_t a_len, cl_mem b, size_t b_off,
                   uint64_t b_len);

#endif
