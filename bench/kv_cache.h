/* Decode mode's KV cache on the device, as an inference engine keeps it: K and V allocated
 * once for every sequence's last step (contiguous [B, capacity, Hkv, d], or a pool of pages
 * named by a shuffled block table), cache_seqlens, and each step's Q, k_new and v_new. Those
 * come from a ring of KV_RING_STEPS random sets, so that consecutive steps append different
 * rows. With a mirror (--check), a host copy of K and V follows every append, and a step's
 * output can be compared with clattn_reference_kvcache. */
#ifndef ATTN_BENCH_KV_CACHE_H
#define ATTN_BENCH_KV_CACHE_H

#include "decode_layout.h"
#include "session.h"

struct kv_cache;

/* The memory kv_cache_create and the checks of the cache's steps take, at most. Returns 0 or
 * an exit code after printing why. */
int kv_cache_need(const clattn_problem *problem, const struct decode_layout *layout, int mirror,
                  struct memory_need *need);

/* Allocates and fills the cache for `problem` (shape_for_decode) laid out by `layout`, which
 * must outlive it, after checking kv_cache_need, beside the `device_held` bytes of a plan's
 * scratch, against the memory there is: K and V hold random values everywhere, as a cache
 * after a prefill of every sequence's prompt would (keys past a length are never attended
 * to). The host keeps a copy of K and V only with `mirror`. Returns 0 or an exit code after
 * printing why. */
int kv_cache_create(struct bench_session *s, const clattn_problem *problem,
                    const struct decode_layout *layout, int mirror, uint64_t device_held,
                    struct kv_cache **out);
void kv_cache_destroy(struct kv_cache *cache);

/* Bytes of K and V together, as allocated. */
uint64_t kv_cache_bytes(const struct kv_cache *cache);

/* Bytes of every device buffer the cache holds: K, V, the ring, the lengths, the table. */
uint64_t kv_cache_device_bytes(const struct kv_cache *cache);

/* Makes `step` (1..tokens) the one kv_cache_enqueue_step runs: sequence b then holds
 * start_b + step - 1 keys before it, and the step appends one. */
void kv_cache_set_step(struct kv_cache *cache, int64_t step);

/* A step, as run_enqueue_fn's `arg`. */
struct kv_step {
    clattn_plan *plan;
    struct kv_cache *cache;
};

/* run_enqueue_fn: uploads cache_seqlens (non-blocking, as an engine would) and enqueues
 * clattn_enqueue_kvcache with this step's Q and new rows. Running a step again rewrites the
 * same rows at the same positions and reads the same keys: repeating it is harmless. */
int kv_cache_enqueue_step(struct bench_session *s, void *step);

/* Fills O and LSE with NaN and waits, so that a step that fails to write them fails the
 * check. Returns 0 or an exit code after printing why. */
int kv_cache_poison_outputs(struct kv_cache *cache, cl_command_queue queue);

/* Mirror only: compares the step just run (its O and LSE, read back) with the reference on
 * the host copy, and sets row->checked, passed, max_abs_err and lse_err. Call it before
 * kv_cache_mirror_step. Returns 0 or an exit code after printing why. */
int kv_cache_check_step(struct kv_cache *cache, cl_command_queue queue, struct bench_row *row);

/* Mirror only: writes the current step's new rows into the host copy. */
void kv_cache_mirror_step(struct kv_cache *cache);

/* Mirror only: whether the device's K and V equal the host copy, byte for byte (every row
 * appended where it belongs, nothing else touched). Returns 0 or an exit code. */
int kv_cache_check_contents(struct kv_cache *cache, cl_command_queue queue, int *same);

#endif
