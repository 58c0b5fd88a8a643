/* Shared test harness: which devices to run on, a context per device, random inputs, and
 * one call that runs a case through an algorithm and checks it against the reference. */
#ifndef CLATTN_TEST_HARNESS_H
#define CLATTN_TEST_HARNESS_H

#include <check.h>
#include <string.h>

#include "clattn.h"

/* Tensor layouts a case may use. */
typedef enum test_layout {
    LAYOUT_BNHD = 0,   /* the default: [B, N, H, d] contiguous */
    LAYOUT_BHND = 1,   /* PyTorch's [B, H, N, d], expressed as strides */
    LAYOUT_PADDED = 2  /* [B, N, H, d] with gaps after every row, head and sequence */
} test_layout;

typedef struct attn_case {
    int batch, heads, kv_heads, seq_q, seq_kv, head_dim;
    int causal;
    clattn_align align;
    int window_left, window_right; /* -1 unbounded */
    clattn_dtype dtype;
    test_layout layout;
    double scale;      /* NAN (case_default): not set, so the default 1/sqrt(d); 0 is a scale */
    double softcap;    /* the logit softcap; 0: off */
    float magnitude;   /* inputs uniform in [-magnitude, magnitude]; 0 means 1 */
    /* 0: LSE within docs/semantics.md's 1e-4. Otherwise a relative bound, for logits of 1e3
     * and more, where f32 scores (which the semantics mandate) carry errors of a few f32
     * ulps of the logit itself, ~1e-4 at 1e3; O keeps its tolerance either way. */
    double lse_relative;
} attn_case;

/* A case with every field at its neutral value: 1 x 1 x 1, d 64, f32, no mask. */
attn_case case_default(void);

/* One line naming the case, for failure messages. */
const char *case_name(const attn_case *c);

/* Builds the problem of a case (aborting the test on any error). */
clattn_problem *case_problem(const attn_case *c, clattn_algorithm algo);

/* Runs the case on the current test device with `algo` through clattn_run_host and asserts
 * that O and LSE agree with the reference within docs/semantics.md's tolerances. */
void check_case(const attn_case *c, clattn_algorithm algo);

/* The same on another context (one made under other limits, or one a fault went through). */
void check_case_on(clattn_context *ctx, const attn_case *c, clattn_algorithm algo);

/* The context of the device under test, created on first use in this process. */
clattn_context *test_context(void);

/* The flat-list index of the device under test, for tests that make contexts of their own. */
int test_device(void);

/* A read-write buffer of `bytes` (4 when 0) on the test context, holding a copy of `host` when
 * it is not NULL (aborting the test on any error). */
cl_mem device_copy(size_t bytes, const void *host);

/* Whether the suites run a case of seq_q rows, causal or not, with window (wl, wr) on algo:
 * decode's plans take few rows, and windowed's need a window that bounds the work; the other
 * algorithms take every shape. */
int algorithm_takes_shape(clattn_algorithm algo, int seq_q, int causal, int64_t wl, int64_t wr);

/* The device half of an extension suite's case (check-bias, check-mask): plans p for algo,
 * enqueues args (whose O and LSE are the buffers o_mem, of o_bytes, and lse_mem, of `rows`
 * floats), reads them back and compares them with the reference's o_ref and lse_ref. A naive
 * plan the device refuses past its loop budget (check-limits asserts that refusal) is
 * reported and not run; decode over more than 3000 keys must have split them. `name` names
 * the case in failures. */
void check_args_on_device(const clattn_problem *p, clattn_algorithm algo, clattn_args *args,
                          cl_mem o_mem, size_t o_bytes, cl_mem lse_mem, size_t rows,
                          const float *o_ref, const float *lse_ref, const char *name);

/* Deterministic inputs: `count` values uniform in [-magnitude, magnitude] in `dtype`. */
void *random_tensor(clattn_dtype dtype, size_t count, float magnitude, unsigned seed);

/* A deterministic hash of a few integers, uniform in [0, 1): a mask element, a length. */
double hash01(unsigned a, unsigned b, unsigned c, unsigned d);

/* A part of a test, named `what`, that this device cannot run (`why`, printed). Every skip is
 * printed and counted, and test_main prints the count per device. Under
 * CLATTN_TEST_REQUIRE_DEVICE=1 a `what` that was skipped on every device under test, and ran
 * on none (test_ran), fails the run: a small device may skip what a larger one runs, but CI
 * must prove each part ran somewhere. Counts need CK_FORK=no, as the suites run. */
void test_skipped(const char *what, const char *why);
void test_ran(const char *what);

/* Runs the suite once per device under test: CLATTN_TEST_DEVICE=N picks one, otherwise every
 * available device of the flat list. Exits 77 (skipped) when there is none, unless
 * CLATTN_TEST_REQUIRE_DEVICE=1 (as in CI), where that is a failure. `needs_device` 0 runs the
 * suite once with no device at all. */
int test_main(Suite *(*make_suite)(void), int needs_device);

/* `call` fails with CLATTN_ERROR_INVALID_ARGUMENT, and the test context's message says `text`. */
#define REFUSED(call, text)                                                                    \
    do {                                                                                       \
        ck_assert_int_eq((call), CLATTN_ERROR_INVALID_ARGUMENT);                               \
        ck_assert_msg(strstr(clattn_message(test_context()), text), "message '%s' lacks '%s'", \
                      clattn_message(test_context()), text);                                  \
    } while (0)

#endif
