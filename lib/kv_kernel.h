/* GPU kernels that read K and V as 16-byte vectors. A GPU issues one 16-byte load only from an
 * address its compiler knows to be 16-byte aligned; vload4 promises only element alignment,
 * and NVIDIA's compiler then splits it into four loads. So cl/tiled_local.cl and
 * cl/decode_local.cl are built with KV_ALIGNED=1 when every K and V row the plan can address
 * starts four elements apart from the buffer's base (head_dim and the K and V strides are
 * multiples of four; OpenCL aligns buffers and sub-buffers to CL_DEVICE_MEM_BASE_ADDR_ALIGN),
 * and read K and V through vector pointers then. A call whose K or V offset breaks the
 * promise gets the same kernel built without it, once, on its first such call. */
#ifndef CLATTN_KV_KERNEL_H
#define CLATTN_KV_KERNEL_H

#include "plan.h"

typedef struct kv_kernel {
    cl_kernel kernel;    /* as built for the plan */
    cl_kernel unaligned; /* KV_ALIGNED=0, built on first need when kernel has KV_ALIGNED=1 */
    int aligned;
    char family[32], name[32], options[384]; /* options without KV_ALIGNED */
} kv_kernel;

/* Whether the plan's K and V rows can all start on multiples of four elements. */
int kv_rows_aligned(const clattn_problem *p);

/* Builds kernel `name` of cl/<family>.cl with `options` and the KV_ALIGNED the problem
 * allows, into k (whose kernel the caller releases with kv_kernel_release). */
clattn_status kv_kernel_build(clattn_plan *plan, const char *family, const char *name,
                              const char *options, kv_kernel *k);

/* The kernel for a call with these buffers: k->kernel, or the unaligned build when the K or V
 * offset is not a multiple of four elements. */
clattn_status kv_kernel_for_call(clattn_plan *plan, kv_kernel *k, const attn_buffers *b,
                                 cl_kernel *out);

void kv_kernel_release(kv_kernel *k);

#endif
