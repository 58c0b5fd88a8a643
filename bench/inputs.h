/* The data of one problem shape: deterministic Q, K, V on the host and on the device, the O
 * and LSE buffers every algorithm writes, and the CPU reference, computed at most once per
 * mask since it is slow (scalar f64, one thread). */
#ifndef ATTN_BENCH_INPUTS_H
#define ATTN_BENCH_INPUTS_H

#include "session.h"

enum { INPUT_Q, INPUT_K, INPUT_V, OUTPUT_O, OUTPUT_LSE, INPUT_BUFFERS };

struct bench_inputs {
    size_t bytes[INPUT_BUFFERS];
    void *host[INPUT_BUFFERS]; /* Q, K, V as uploaded; O, LSE as last read back */
    cl_mem mem[INPUT_BUFFERS];
    /* The reference of `ref_problem` (same shape, some mask), NULL until asked for. */
    clattn_problem *ref_problem;
    float *ref_o, *ref_lse;
};

/* The next value of a splitmix64 stream: fixed and portable, so that a run's data is the same
 * on every machine. */
uint64_t inputs_next_random(uint64_t *state);

/* `count` values uniform in [-1, 1] from the stream `seed`, in `dtype`. Returns 0 or an exit
 * code after printing why. */
int inputs_fill_uniform(clattn_dtype dtype, void *dst, size_t count, uint64_t seed);

/* The memory inputs_create and the run's use of them take, at most: the tensors on the host and
 * on the device and, with the session's --check, the reference (its output and the rows the
 * library's reference keeps), with --save the widening of bf16. */
int inputs_need(const struct bench_session *s, const clattn_problem *shape,
                struct memory_need *need);

/* Whether inputs_need of `shape` fits beside `scratch_bytes` of a plan's scratch, without a
 * word: for the runs that skip a problem too big rather than fail. */
int inputs_fit(const struct bench_session *s, const clattn_problem *shape, int64_t scratch_bytes,
               int *fit);

/* Makes and uploads inputs for `shape`: values uniform in [-1, 1] from a fixed seed per tensor,
 * converted to the storage dtype, after checking inputs_need against the memory there is.
 * Returns 0 or an exit code after printing why. */
int inputs_create(struct bench_session *s, const clattn_problem *shape,
                  struct bench_inputs **out);
void inputs_destroy(struct bench_inputs *in);

/* Sets every bit of O and LSE (NaN in every dtype), so that output an algorithm leaves
 * unwritten fails the check instead of passing with the previous algorithm's values. */
int inputs_poison_outputs(struct bench_inputs *in, cl_command_queue queue);

/* Reads O and LSE back into host[OUTPUT_O] and host[OUTPUT_LSE]. */
int inputs_read_outputs(struct bench_inputs *in, cl_command_queue queue);

/* The reference O (f32, O's layout) and LSE of `problem`, which must have the inputs' shape;
 * computed only when the mask differs from the last one asked for. */
int inputs_reference(struct bench_inputs *in, const clattn_problem *problem, const float **o,
                     const float **lse);

#endif
