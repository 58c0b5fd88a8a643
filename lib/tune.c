/* clattn_tune: times the candidate tiles of the fused kernel's shape on this device and keeps
 * the fastest for the problem's class (lib/tuning.h). The candidates are the configurations
 * the rules of lib/tile_select.c choose between, so tuning only refines what the device
 * queries already decided: it never makes a plan correct or incorrect. The same candidates
 * bound what a tuning file may ask for (tuning_lookup). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cl_error.h"
#include "context.h"
#include "kernel_build.h"
#include "message.h"
#include "plan.h"
#include "tuning.h"

/* Local-tiles candidates: the tile model's leaders (lib/local_tiles.c). */
#define LOCAL_CANDIDATES 16
#define TIMED_RUNS 5
/* A candidate must beat the rules by this fraction: timings on a busy machine wander by a few
 * percent, and a choice that only noise favours should not outlive the run. */
#define MARGIN 0.03

typedef struct report {
    char *text;
    size_t size, used;
} report;

static void say(report *r, const char *fmt, ...)
{
    if (!r->text || r->used + 1 >= r->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->text + r->used, r->size - r->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->used = r->used + (size_t)n < r->size ? r->used + (size_t)n : r->size - 1;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* Device buffers of the problem's shape, filled with values in [-1, 1], each tensor in its
 * storage type: Q and O in the problem's dtype, K and V in the cache's (whose quantized blocks
 * then hold finite scales). */
typedef struct tune_buffers {
    cl_mem mem[4];
} tune_buffers;

static clattn_status buffers_create(clattn_context *ctx, const clattn_problem *p, tune_buffers *b)
{
    memset(b, 0, sizeof *b);
    unsigned x = 12345;
    for (int t = 0; t < 4; t++) {
        const clattn_dtype type = t == CLATTN_TENSOR_K || t == CLATTN_TENSOR_V
                                      ? problem_kv_dtype(p)
                                      : (clattn_dtype)problem_get(p, CLATTN_PARAM_DTYPE);
        int block_values = 1, block_bytes = 1;
        clattn_dtype_block(type, &block_values, &block_bytes);
        const size_t bytes = (size_t)problem_tensor_span(p, (clattn_tensor)t);
        const size_t count = bytes / (size_t)block_bytes * (size_t)block_values;
        unsigned char *host = calloc(bytes ? bytes : 1, 1);
        float *values = malloc((count ? count : 1) * sizeof *values);
        if (!host || !values) {
            free(host);
            free(values);
            return fail(ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "clattn_tune: out of host memory");
        }
        for (size_t e = 0; e < count; e++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            values[e] = (float)(x >> 8) / 16777216.0f * 2.0f - 1.0f;
        }
        clattn_from_float(type, values, host, count); /* count: whole blocks of the type */
        free(values);
        cl_int err;
        b->mem[t] = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, host,
                                   &err);
        free(host);
        if (err != CL_SUCCESS)
            return cl_fail(ctx, "clCreateBuffer (clattn_tune)", err);
    }
    return CLATTN_SUCCESS;
}

static void buffers_release(tune_buffers *b)
{
    for (int t = 0; t < 4; t++)
        if (b->mem[t])
            clReleaseMemObject(b->mem[t]);
}

/* The fastest of TIMED_RUNS runs after one untimed, in ms; negative when the candidate does
 * not build or run (its message is left in the context), or when the plan did not take the
 * tiles under test (`candidate`: a compiled kernel can refuse them, e.g. by the registers it
 * needs), since its time would then be the rules'. */
static double time_plan(clattn_context *ctx, const clattn_problem *p, tune_buffers *b,
                        int candidate)
{
    clattn_plan *plan;
    if (clattn_plan_create(ctx, p, &plan))
        return -1;
    double best = -1;
    if (candidate && !plan->tiles_tuned) {
        clattn_plan_destroy(plan);
        return -1;
    }
    for (int run = 0; run <= TIMED_RUNS; run++) {
        const double start = now_ms();
        if (clattn_enqueue(plan, NULL, b->mem[0], 0, b->mem[1], 0, b->mem[2], 0, b->mem[3], 0,
                           NULL, 0, 0, NULL, NULL) ||
            clFinish(ctx->queue) != CL_SUCCESS) {
            best = -1;
            break;
        }
        const double ms = now_ms() - start;
        if (run > 0 && (best < 0 || ms < best))
            best = ms;
    }
    clattn_plan_destroy(plan);
    return best;
}

/* Appends `text` to the n candidates unless it is there already or the list is full; the new
 * count. */
static int add_candidate(char out[TUNING_MAX_CANDIDATES][TUNING_FIELD], int n, const char *text)
{
    for (int i = 0; i < n; i++)
        if (strcmp(out[i], text) == 0)
            return n;
    if (n == TUNING_MAX_CANDIDATES)
        return n;
    snprintf(out[n], TUNING_FIELD, "%s", text);
    return n + 1;
}

/* A long sequence of p's class: the same head_dim and dtype, with rows and K/V heads so many
 * that no rule shrinks the tiles for a short sequence or a small launch, and no window (the
 * class holds every window). The register candidates vary the tiles the rules give it, so
 * that a class has one candidate set whatever problem it was measured on. */
static clattn_problem class_problem(const clattn_problem *p)
{
    clattn_problem c = *p;
    c.value[CLATTN_PARAM_BATCH] = 1 << 16;
    c.value[CLATTN_PARAM_HEADS] = c.value[CLATTN_PARAM_KV_HEADS] = 1;
    c.value[CLATTN_PARAM_SEQ_Q] = c.value[CLATTN_PARAM_SEQ_KV] = 1 << 16;
    c.value[CLATTN_PARAM_WINDOW_LEFT] = c.value[CLATTN_PARAM_WINDOW_RIGHT] = -1;
    return c;
}

static int candidates_registers(const device_limits *l, const clattn_problem *p, int windowed,
                                char out[TUNING_MAX_CANDIDATES][TUNING_FIELD])
{
    const clattn_problem c = class_problem(p);
    const register_tiles base = select_register_tiles(l, &c, rows_per_kv_head(&c), windowed);
    const int d_vecs = (int)((problem_head_dim_v(p) + base.vw - 1) / base.vw); /* output's */
    const int64_t rows_max = rows_per_kv_head(p); /* what fits p */
    char text[TUNING_FIELD];
    int n = 0;
    /* the register block (FMA chains 8 to 32), each with the rules' rows per work-item ... */
    for (int rows = 1; rows <= 8; rows *= 2)
        for (int kv = 1; kv <= 8; kv *= 2) {
            if (rows * kv < 8 || rows * kv > 32)
                continue;
            for (int chains = 16; chains <= 32; chains *= 2) {
                register_tiles t = base;
                t.rows = rows;
                t.kv_vecs = kv;
                t.dv_chunk = chains / rows > d_vecs ? d_vecs : chains / rows < 1 ? 1 : chains / rows;
                t.groups = base.rows * base.groups / rows < 1 ? 1 : base.rows * base.groups / rows;
                if ((int64_t)t.rows * t.groups > rows_max)
                    continue;
                register_tiles_format(&t, text, sizeof text);
                n = add_candidate(out, n, text);
            }
        }
    /* ... and how many register blocks share a K/V block in L1 */
    for (int groups = 1; groups <= 16; groups *= 2) {
        register_tiles t = base;
        t.groups = groups;
        if ((int64_t)t.rows * t.groups > rows_max)
            continue;
        register_tiles_format(&t, text, sizeof text);
        n = add_candidate(out, n, text);
    }
    return n;
}

/* The tile model's leaders for a long sequence of p's class (the model ranks what the device
 * can hold, the clock decides among the leaders): one set per class, as for registers. */
static int candidates_local(const device_limits *l, const clattn_problem *p,
                            char out[TUNING_MAX_CANDIDATES][TUNING_FIELD])
{
    const clattn_problem c = class_problem(p);
    local_tiles t[LOCAL_CANDIDATES];
    const int count = local_tiles_candidates(l, &c, rows_per_kv_head(&c), l->max_work_group_size,
                                             t, LOCAL_CANDIDATES);
    char text[TUNING_FIELD];
    int n = 0;
    for (int i = 0; i < count; i++) {
        local_tiles_format(&t[i], text, sizeof text);
        n = add_candidate(out, n, text);
    }
    return n;
}

int tune_candidates(const device_limits *l, const clattn_problem *p, clattn_kernel_shape shape,
                    int windowed, char out[TUNING_MAX_CANDIDATES][TUNING_FIELD])
{
    return shape == CLATTN_SHAPE_REGISTER_BLOCKS ? candidates_registers(l, p, windowed, out)
                                                 : candidates_local(l, p, out);
}

/* The tiles the rules choose for p, as text ("" when none fit): timed first, as the figure to
 * beat, and not again among the candidates. */
static void rules_tiles(const device_limits *l, const clattn_problem *p, clattn_kernel_shape shape,
                        int windowed, char text[TUNING_FIELD])
{
    text[0] = '\0';
    if (shape == CLATTN_SHAPE_REGISTER_BLOCKS) {
        const register_tiles t = select_register_tiles(l, p, rows_per_kv_head(p), windowed);
        register_tiles_format(&t, text, TUNING_FIELD);
        return;
    }
    local_tiles t;
    if (select_local_tiles(l, p, rows_per_kv_head(p), l->max_work_group_size, &t, NULL))
        local_tiles_format(&t, text, TUNING_FIELD);
}

clattn_status clattn_tune(clattn_context *ctx, const clattn_problem *problem, char *text,
                          size_t text_size)
{
    if (!ctx)
        return fail(NULL, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_tune: ctx is NULL");
    if (!problem)
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "clattn_tune: problem is NULL");
    if (clattn_problem_check(problem))
        return fail(ctx, CLATTN_ERROR_INVALID_ARGUMENT, "%s", clattn_message(NULL));
    report r = {text, text_size, 0};
    if (text && text_size)
        text[0] = '\0';
    clattn_problem p = *problem;
    const clattn_algorithm algo = (clattn_algorithm)problem_get(&p, CLATTN_PARAM_ALGORITHM);
    if (algo == CLATTN_ALGO_NAIVE || algo == CLATTN_ALGO_DECODE || problem_get(&p, CLATTN_PARAM_PAGE_SIZE))
        return fail(ctx, CLATTN_ERROR_UNSUPPORTED,
                    "clattn_tune tunes the fused kernels of tiled and windowed problems");
    const int windowed = algo == CLATTN_ALGO_WINDOWED ||
                         (algo == CLATTN_ALGO_AUTO && problem_window_bounds_work(&p));
    clattn_problem_set(&p, CLATTN_PARAM_ALGORITHM, windowed ? CLATTN_ALGO_WINDOWED : CLATTN_ALGO_TILED);
    /* a packed batch's plans take the tiles of its class, which the plain batch of its longest
     * entries measures (and clattn_enqueue runs) */
    clattn_problem_set(&p, CLATTN_PARAM_VARLEN, 0);
    /* likewise the per-call tensors (an additive mask, ALiBi slopes, sink logits, starts per
     * call or entry), which are the caller's data and not the class's: the plain problem of
     * the same shape is measured (clattn_enqueue, which the tuner runs, takes none of them) */
    clattn_problem_set(&p, CLATTN_PARAM_MASK, CLATTN_MASK_NONE);
    clattn_problem_set(&p, CLATTN_PARAM_ALIBI, CLATTN_ALIBI_NONE);
    clattn_problem_set(&p, CLATTN_PARAM_SINKS, 0);
    clattn_problem_set(&p, CLATTN_PARAM_POSITIONS, CLATTN_POSITIONS_ALIGNED);
    const clattn_kernel_shape shape = select_shape(&ctx->limits);
    const int vw = shape == CLATTN_SHAPE_REGISTER_BLOCKS
                       ? select_register_tiles(&ctx->limits, &p, rows_per_kv_head(&p), windowed).vw
                       : 1;
    char class_key[TUNING_FIELD], rules[TUNING_FIELD];
    tuning_class(&p, shape, windowed, vw, class_key, sizeof class_key);
    char candidates[TUNING_MAX_CANDIDATES][TUNING_FIELD];
    const int n = tune_candidates(&ctx->limits, &p, shape, windowed, candidates);
    rules_tiles(&ctx->limits, &p, shape, windowed, rules);

    tune_buffers b;
    clattn_status st = buffers_create(ctx, &p, &b);
    char *previous = NULL;
    const char *old = tuning_get(ctx->tuning, class_key);
    if (!st && old && !(previous = strdup(old)))
        st = fail(ctx, CLATTN_ERROR_HOST_OUT_OF_MEMORY, "clattn_tune: out of host memory");
    if (st) {
        buffers_release(&b);
        return st;
    }
    uint64_t pairs = 0;
    clattn_problem_visible_pairs(&p, &pairs);
    const double flops = 4.0 * (double)problem_get(&p, CLATTN_PARAM_HEAD_DIM) * (double)pairs;

    /* the rules' own choice first, as the figure to beat */
    tuning_set(ctx->tuning, class_key, NULL);
    const double rules_ms = time_plan(ctx, &p, &b, 0);
    if (rules_ms < 0) { /* nothing to beat: a failure, never a report of -1 ms */
        char why[512];
        snprintf(why, sizeof why, "%s", clattn_message(ctx));
        buffers_release(&b);
        tuning_set(ctx->tuning, class_key, previous);
        free(previous);
        return fail(ctx, CLATTN_ERROR_UNSUPPORTED,
                    "clattn_tune: the problem's own plan does not run on this device: %s", why);
    }
    say(&r, "%s\n  %-44s %9.3f ms %8.1f GFLOP/s\n", class_key, "(rules from the device's limits)",
        rules_ms, rules_ms > 0 ? flops / (rules_ms * 1e6) : 0.0);
    int best = -1;
    double best_ms = rules_ms;
    for (int i = 0; i < n; i++) {
        if (strcmp(candidates[i], rules) == 0 || tuning_set(ctx->tuning, class_key, candidates[i]))
            continue;
        const double ms = time_plan(ctx, &p, &b, 1);
        if (ms < 0) {
            say(&r, "  %-44s  does not build or run here, or its kernel refuses the tiles\n",
                candidates[i]);
            continue;
        }
        say(&r, "  %-44s %9.3f ms %8.1f GFLOP/s\n", candidates[i], ms, flops / (ms * 1e6));
        if (best_ms < 0 || ms < best_ms * (best < 0 ? 1.0 - MARGIN : 1.0)) {
            best_ms = ms;
            best = i;
        }
    }
    buffers_release(&b);
    /* the rules stay in charge unless a candidate beat them */
    tuning_set(ctx->tuning, class_key, best >= 0 ? candidates[best] : previous);
    free(previous);
    say(&r, "  chosen: %s\n", best >= 0 ? candidates[best] : "the rules' tiles");
    if (best >= 0 && tuning_save(ctx->tuning, &ctx->limits, &ctx->cache) != 0)
        say(&r, "  (not saved: the kernel cache directory is off, read-only or not writable; "
                "the choice holds for this context only)\n");
    return CLATTN_SUCCESS;
}
