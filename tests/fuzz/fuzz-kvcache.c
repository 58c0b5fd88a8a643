/* Fuzz target: clattn_enqueue_kvcache on a real device, with the device-side values the host
 * cannot check (cache_seqlens, block_table) taken from the input as they come, out-of-range
 * ones included. The problem is tiny (batch 1-3, GQA heads, seq_q 1-4, capacity 1-64, head_dim
 * 4, 20 or 64, every dtype, causal or windowed, tiled / windowed / decode, contiguous or paged,
 * with or without appending k_new / v_new), and every device buffer sits between two guards
 * of 256 bytes. After the call the guards must be intact, the inputs unchanged, O and LSE
 * equal to clattn_reference_kvcache's (NaN rows where the reference has them), and the cache
 * as the append leaves it: an entry whose length is negative or leaves no room for the seq_q
 * new rows keeps its cache, and a row whose page is outside the pool is not written.
 *
 * The input, byte by byte (reads past the end give zeros):
 *   0 batch - 1 (mod 3)      1 kv_heads - 1 (mod 2)   2 heads per kv head - 1 (mod 2)
 *   3 seq_q - 1 (mod 4)      4 capacity - 1 (mod 64)  5 head_dim: 4, 20, 64 (mod 3)
 *   6 dtype (mod 3)          7 algorithm: tiled, windowed, decode (mod 3)
 *   8 flags: 1 causal, 2 top-left, 4 paged, 8 page_size 32 (else 16), 16 append,
 *            32 lengths given (append implies them), 64 LSE given
 *   9 window_left + 1 (mod 10)   10 window_right + 1 (mod 10)   11 num_pages - 1 (mod 16)
 *   12 seed of Q, K, V and the new rows
 *   then, with lengths, one length per entry, then, when paged, each entry's pages in order:
 *   a value below 0xfb (length) or 0xfc (page) counts from -1 modulo capacity + 3 (or
 *   num_pages + 2); 0xfb: capacity - seq_q (length only); 0xfc: capacity - seq_q + 1 (length),
 *   or INT32_MAX (page); 0xfd: INT32_MAX; 0xfe: INT32_MIN; 0xff: the next 4 bytes, little
 *   endian.
 *
 * One context on CLATTN_TEST_DEVICE (default 0), opened at the first input and kept; plans
 * are kept per problem, so the kernels of a problem are built once per process. The context is
 * never destroyed: destroying it stores its kernels, which runs PoCL's compiler, and at exit
 * LLVM's own static objects are already gone (PoCL then crashes). Without a device the
 * process exits 77, the skip of meson and the test harness, unless
 * CLATTN_TEST_REQUIRE_DEVICE=1. */
#include <limits.h>
#include <math.h>
#include <signal.h>

#include "clattn.h"
#include "fuzz_input.h"

enum { GUARD = 256, MAX_PLANS = 256 };

typedef struct kv_input {
    int batch, kv_heads, heads, seq_q, capacity, head_dim, dtype, algorithm;
    int causal, top_left, paged, page_size, append, lengths, lse, window_left, window_right;
    int num_pages, pages_per_seq;
    unsigned seed;
    int32_t lens[3], table[3 * 4]; /* capacity <= 64 and page_size >= 16: 4 pages an entry */
} kv_input;

/* Mostly in [-1, modulus - 2], the interesting edges by name, any int32 now and then. */
static int32_t take_int32(fuzz_input *in, int modulus, int32_t edge_fb, int32_t edge_fc)
{
    const uint8_t c = take_u8(in);
    if (c < 0xfb)
        return c % modulus - 1;
    switch (c) {
    case 0xfb: return edge_fb;
    case 0xfc: return edge_fc;
    case 0xfd: return INT32_MAX;
    case 0xfe: return INT32_MIN;
    }
    uint32_t u = 0;
    for (int i = 0; i < 4; i++)
        u |= (uint32_t)take_u8(in) << (8 * i);
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static kv_input decode_input(fuzz_input *in)
{
    static const int dims[] = {4, 20, 64};
    kv_input k;
    memset(&k, 0, sizeof k);
    k.batch = 1 + take_u8(in) % 3;
    k.kv_heads = 1 + take_u8(in) % 2;
    k.heads = k.kv_heads * (1 + take_u8(in) % 2);
    k.seq_q = 1 + take_u8(in) % 4;
    k.capacity = 1 + take_u8(in) % 64;
    k.head_dim = dims[take_u8(in) % 3];
    k.dtype = take_u8(in) % 3;
    k.algorithm = CLATTN_ALGO_TILED + take_u8(in) % 3;
    const uint8_t flags = take_u8(in);
    k.causal = flags & 1;
    k.top_left = (flags >> 1) & 1;
    k.paged = (flags >> 2) & 1;
    k.page_size = k.paged ? (flags & 8 ? 32 : 16) : 0;
    k.append = (flags >> 4) & 1;
    k.lengths = k.append || (flags >> 5) & 1;
    k.lse = (flags >> 6) & 1;
    k.window_left = take_u8(in) % 10 - 1;
    k.window_right = take_u8(in) % 10 - 1;
    k.num_pages = 1 + take_u8(in) % 16;
    k.seed = take_u8(in);
    k.pages_per_seq = k.paged ? (k.capacity + k.page_size - 1) / k.page_size : 0;
    for (int b = 0; k.lengths && b < k.batch; b++)
        k.lens[b] = take_int32(in, k.capacity + 3, k.capacity - k.seq_q, k.capacity - k.seq_q + 1);
    for (int e = 0; e < k.batch * k.pages_per_seq; e++)
        k.table[e] = take_int32(in, k.num_pages + 2, INT32_MAX, INT32_MAX);
    return k;
}

/* PoCL's LLVM installs its own handlers of the deadly signals when it starts (and may when it
 * compiles), and theirs end the process on abort() before the fuzzer's handler runs, so no
 * crash input would be kept: the handlers from before are put back. SIGFPE stays PoCL's,
 * which lets a kernel's integer division by zero pass as on GPUs. */
static const int deadly[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGINT, SIGTERM};
#define DEADLY (sizeof deadly / sizeof *deadly)

static void save_handlers(struct sigaction saved[DEADLY])
{
    for (size_t i = 0; i < DEADLY; i++)
        sigaction(deadly[i], NULL, &saved[i]);
}

static void restore_handlers(const struct sigaction saved[DEADLY])
{
    for (size_t i = 0; i < DEADLY; i++)
        sigaction(deadly[i], &saved[i], NULL);
}

/* The context, opened once; exits 77 (skipped) when there is no device to open. */
static clattn_context *ctx;

static clattn_context *context(void)
{
    if (ctx)
        return ctx;
    const char *dev = getenv("CLATTN_TEST_DEVICE"), *require = getenv("CLATTN_TEST_REQUIRE_DEVICE");
    const int chosen = dev && *dev, required = chosen || (require && strcmp(require, "1") == 0);
    struct sigaction saved[DEADLY];
    save_handlers(saved);
    const clattn_status st = clattn_context_create(chosen ? atoi(dev) : 0, &ctx);
    restore_handlers(saved);
    if (st) {
        fprintf(stderr, "fuzz-kvcache: %s%s\n", clattn_message(NULL),
                required ? "" : " (skipped)");
        exit(required ? EXIT_FAILURE : 77);
    }
    return ctx;
}

/* Plans by problem: a problem's first input builds its kernels, later ones reuse them. A
 * problem the library refuses is remembered too (plan NULL). */
static struct {
    kv_input key;
    clattn_plan *plan;
} plans[MAX_PLANS];
static int plan_count;

static void forget_plans(void)
{
    for (int i = 0; i < plan_count; i++)
        clattn_plan_destroy(plans[i].plan);
    plan_count = 0;
}

/* The fields that make the problem (not the lengths, pages or data). */
static kv_input problem_key(const kv_input *k)
{
    kv_input key;
    memset(&key, 0, sizeof key);
    key.batch = k->batch;
    key.kv_heads = k->kv_heads;
    key.heads = k->heads;
    key.seq_q = k->seq_q;
    key.capacity = k->capacity;
    key.head_dim = k->head_dim;
    key.dtype = k->dtype;
    key.algorithm = k->algorithm;
    key.causal = k->causal;
    key.top_left = k->top_left;
    key.page_size = k->page_size;
    key.window_left = k->window_left;
    key.window_right = k->window_right;
    key.num_pages = k->paged ? k->num_pages : 0;
    return key;
}

/* The problem, or NULL when its parameters are refused (each refusal cleanly). */
static clattn_problem *make_problem(const kv_input *k)
{
    clattn_problem *p;
    FUZZ_ASSERT(clattn_problem_create(&p) == CLATTN_SUCCESS);
    const int64_t values[][2] = {
        {CLATTN_PARAM_BATCH, k->batch},       {CLATTN_PARAM_HEADS, k->heads},
        {CLATTN_PARAM_KV_HEADS, k->kv_heads}, {CLATTN_PARAM_SEQ_Q, k->seq_q},
        {CLATTN_PARAM_SEQ_KV, k->capacity},   {CLATTN_PARAM_HEAD_DIM, k->head_dim},
        {CLATTN_PARAM_DTYPE, k->dtype},       {CLATTN_PARAM_ALGORITHM, k->algorithm},
        {CLATTN_PARAM_CAUSAL, k->causal},     {CLATTN_PARAM_ALIGN, k->top_left},
        {CLATTN_PARAM_WINDOW_LEFT, k->window_left},
        {CLATTN_PARAM_WINDOW_RIGHT, k->window_right},
        {CLATTN_PARAM_PAGE_SIZE, k->page_size},
        {CLATTN_PARAM_NUM_PAGES, k->paged ? k->num_pages : 1},
    };
    clattn_status st = CLATTN_SUCCESS;
    for (size_t i = 0; !st && i < sizeof values / sizeof *values; i++)
        st = clattn_problem_set(p, (clattn_param)values[i][0], values[i][1]);
    if (!st)
        st = clattn_problem_check(p);
    FUZZ_ASSERT(st == CLATTN_SUCCESS || st == CLATTN_ERROR_INVALID_ARGUMENT);
    if (st) {
        clattn_problem_destroy(p);
        return NULL;
    }
    return p;
}

static clattn_plan *plan_for(const kv_input *k, const clattn_problem *p)
{
    const kv_input key = problem_key(k);
    for (int i = 0; i < plan_count; i++)
        if (memcmp(&plans[i].key, &key, sizeof key) == 0)
            return plans[i].plan;
    if (plan_count == MAX_PLANS)
        forget_plans(); /* the context keeps their kernels */
    clattn_context *c = context();
    struct sigaction saved[DEADLY];
    save_handlers(saved);
    clattn_plan *plan = NULL;
    const clattn_status st = clattn_plan_create(c, p, &plan);
    restore_handlers(saved);
    /* the library may refuse a problem, but only as a caller's error it explains */
    if (st)
        fprintf(stderr, "plan refused: %s: %s\n", clattn_status_string(st), clattn_message(ctx));
    FUZZ_ASSERT(st == CLATTN_SUCCESS || st == CLATTN_ERROR_INVALID_ARGUMENT ||
                st == CLATTN_ERROR_UNSUPPORTED);
    FUZZ_ASSERT(st == CLATTN_SUCCESS || clattn_message(ctx)[0] != '\0');
    plans[plan_count].key = key;
    plans[plan_count++].plan = plan;
    return plan;
}

/* A buffer on the device and its host image: GUARD bytes, the contents, GUARD bytes. */
typedef struct guarded {
    size_t bytes; /* of the contents */
    uint8_t *host;
    cl_mem mem;
} guarded;

static uint8_t guard_byte(size_t i)
{
    return (uint8_t)(0xa5 ^ (i * 37));
}

/* `contents` NULL: a pattern, which an output must overwrite. */
static guarded upload(size_t bytes, const void *contents)
{
    guarded g = {bytes, malloc(bytes + 2 * GUARD), NULL};
    FUZZ_ASSERT(g.host);
    for (size_t i = 0; i < bytes + 2 * GUARD; i++)
        g.host[i] = guard_byte(i);
    if (contents)
        memcpy(g.host + GUARD, contents, bytes);
    cl_context cl;
    FUZZ_ASSERT(clattn_context_get_cl(context(), &cl, NULL, NULL) == CLATTN_SUCCESS);
    cl_int err;
    g.mem = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes + 2 * GUARD,
                           g.host, &err);
    FUZZ_ASSERT(err == CL_SUCCESS);
    return g;
}

/* The buffer's contents after the call, once its guards are checked. */
static uint8_t *download(const guarded *g, cl_command_queue queue)
{
    uint8_t *after = malloc(g->bytes + 2 * GUARD);
    FUZZ_ASSERT(after);
    FUZZ_ASSERT(clEnqueueReadBuffer(queue, g->mem, CL_TRUE, 0, g->bytes + 2 * GUARD, after, 0,
                                    NULL, NULL) == CL_SUCCESS);
    FUZZ_ASSERT(memcmp(after, g->host, GUARD) == 0);
    FUZZ_ASSERT(memcmp(after + GUARD + g->bytes, g->host + GUARD + g->bytes, GUARD) == 0);
    return after;
}

static void release(guarded *g)
{
    if (g->mem)
        clReleaseMemObject(g->mem);
    free(g->host);
}

/* Values in [-1, 1) in the storage dtype, from the input's seed. */
static void *tensor(const kv_input *k, size_t count, unsigned salt)
{
    float *f = malloc((count ? count : 1) * sizeof *f);
    void *out = malloc((count ? count : 1) * clattn_dtype_size((clattn_dtype)k->dtype));
    FUZZ_ASSERT(f && out);
    uint32_t x = (k->seed * 31u + salt) * 2654435761u | 1u;
    for (size_t i = 0; i < count; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        f[i] = 2.0f * (float)(x >> 8) / 16777216.0f - 1.0f;
    }
    FUZZ_ASSERT(clattn_from_float((clattn_dtype)k->dtype, f, out, count) == CLATTN_SUCCESS);
    free(f);
    return out;
}

/* Whether entry b's length is one the call accepts; the keys it holds after the call. */
static int64_t reach(const kv_input *k, int b)
{
    if (!k->lengths)
        return k->capacity;
    const int64_t given = k->lens[b], added = k->append ? k->seq_q : 0;
    return given < 0 || given + added > k->capacity ? 0 : given + added;
}

/* The cache after appending `rows` ([B, seq_q, Hkv, d]) to `before`. Positions in int64:
 * lengths reach INT32_MAX. */
static void appended(const kv_input *k, const clattn_problem *p, uint8_t *cache,
                     const uint8_t *rows)
{
    const size_t esize = clattn_dtype_size((clattn_dtype)k->dtype);
    int64_t s[3];
    FUZZ_ASSERT(clattn_problem_get_strides(p, CLATTN_TENSOR_K, &s[0], &s[1], &s[2]) == 0);
    for (int b = 0; b < k->batch; b++) {
        if (!reach(k, b))
            continue; /* no room: the entry's rows are NaN and its cache is kept */
        for (int i = 0; i < k->seq_q; i++) {
            const int64_t j = (int64_t)k->lens[b] + i;
            int64_t base = b * s[0] + j * s[1];
            if (k->paged) {
                const int32_t page = k->table[b * k->pages_per_seq + j / k->page_size];
                if (page < 0 || page >= k->num_pages)
                    continue;
                base = page * s[0] + j % k->page_size * s[1];
            }
            for (int g = 0; g < k->kv_heads; g++)
                memcpy(cache + (size_t)(base + g * s[2]) * esize,
                       rows + (size_t)((b * k->seq_q + i) * k->kv_heads + g) * k->head_dim * esize,
                       (size_t)k->head_dim * esize);
        }
    }
}

/* Whether an appended row lands in a pool page that another place of the block table (of
 * this entry or another) also names within its keys. The caller's pages then overlap: which
 * of two writes lands, and whether a read sees the old key or the new one, is not defined,
 * so only the guards and the inputs are checked. */
static int appends_alias(const kv_input *k)
{
    if (!k->append || !k->paged)
        return 0;
    for (int b = 0; b < k->batch; b++) {
        const int64_t end = reach(k, b);
        for (int64_t n = end ? (end - k->seq_q) / k->page_size : 0; n * k->page_size < end; n++)
            for (int b2 = 0; b2 < k->batch; b2++)
                for (int64_t n2 = 0; n2 * k->page_size < reach(k, b2); n2++) {
                    const int32_t page = k->table[b * k->pages_per_seq + n];
                    if ((b2 != b || n2 != n) && page >= 0 && page < k->num_pages &&
                        k->table[b2 * k->pages_per_seq + n2] == page)
                        return 1;
                }
    }
    return 0;
}

static void describe(const kv_input *k)
{
    fprintf(stderr,
            "B%d H%d:%d Nq%d capacity %d d%d dtype %d algorithm %d causal %d top-left %d "
            "window (%d, %d) page_size %d pages %d append %d lengths %d lse %d\n",
            k->batch, k->heads, k->kv_heads, k->seq_q, k->capacity, k->head_dim, k->dtype,
            k->algorithm, k->causal, k->top_left, k->window_left, k->window_right, k->page_size,
            k->num_pages, k->append, k->lengths, k->lse);
    for (int b = 0; k->lengths && b < k->batch; b++)
        fprintf(stderr, "  cache_seqlens[%d] = %d\n", b, (int)k->lens[b]);
    for (int e = 0; e < k->batch * k->pages_per_seq; e++)
        fprintf(stderr, "  block_table[%d][%d] = %d\n", e / k->pages_per_seq,
                e % k->pages_per_seq, (int)k->table[e]);
}

/* The first elements of O that differ from the reference by more than the tolerance, by
 * position (O is contiguous [B, seq_q, H, d]), to tell a finding apart. */
static void show_mismatch(const kv_input *k, const uint8_t *o, const float *o_ref)
{
    const size_t count = (size_t)k->batch * k->seq_q * k->heads * k->head_dim;
    float *got = malloc(count * sizeof *got);
    FUZZ_ASSERT(got && clattn_to_float((clattn_dtype)k->dtype, o, got, count) == 0);
    const double tolerance = clattn_tolerance((clattn_dtype)k->dtype);
    for (size_t e = 0, shown = 0; e < count && shown < 8; e++) {
        const int same = isnan(got[e]) ? isnan(o_ref[e]) : fabs(got[e] - o_ref[e]) <= tolerance;
        if (same)
            continue;
        const size_t c = e % k->head_dim, h = e / k->head_dim % k->heads;
        const size_t i = e / k->head_dim / k->heads % k->seq_q;
        fprintf(stderr, "  O[b %zu][i %zu][h %zu][%zu] = %g, reference %g\n",
                e / k->head_dim / k->heads / k->seq_q, i, h, c, (double)got[e], (double)o_ref[e]);
        shown++;
    }
    free(got);
}

enum { B_Q, B_K, B_V, B_LENS, B_TABLE, B_K_NEW, B_V_NEW, B_O, B_LSE, B_COUNT };

/* One call: its host data, its guarded buffers (those it uses), the reference's results. */
typedef struct kv_call {
    void *host[B_COUNT];
    size_t bytes[B_COUNT];
    int used[B_COUNT];
    guarded g[B_COUNT];
    uint8_t *after[B_COUNT];
    float *o_ref, *lse_ref;
} kv_call;

static void call_open(kv_call *c, const kv_input *k, const clattn_problem *p)
{
    memset(c, 0, sizeof *c);
    const size_t esize = clattn_dtype_size((clattn_dtype)k->dtype);
    size_t q_bytes, cache_bytes;
    FUZZ_ASSERT(clattn_problem_tensor_bytes(p, CLATTN_TENSOR_Q, &q_bytes) == 0);
    FUZZ_ASSERT(clattn_problem_tensor_bytes(p, CLATTN_TENSOR_K, &cache_bytes) == 0);
    const size_t rows = (size_t)k->batch * (size_t)k->heads * (size_t)k->seq_q;
    const size_t new_bytes = (size_t)k->batch * k->seq_q * k->kv_heads * k->head_dim * esize;
    const size_t bytes[B_COUNT] = {q_bytes, cache_bytes, cache_bytes, (size_t)k->batch * 4,
                                   (size_t)(k->batch * k->pages_per_seq) * 4,
                                   new_bytes, new_bytes, q_bytes, rows * 4};
    const int used[B_COUNT] = {1, 1, 1, k->lengths, k->paged, k->append, k->append, 1, k->lse};
    memcpy(c->bytes, bytes, sizeof bytes);
    memcpy(c->used, used, sizeof used);
    for (int t = B_Q; t <= B_V_NEW; t++)
        if (used[t] && t != B_LENS && t != B_TABLE)
            c->host[t] = tensor(k, bytes[t] / esize, (unsigned)t);
    c->host[B_LENS] = k->lengths ? (void *)k->lens : NULL;
    c->host[B_TABLE] = k->paged ? (void *)k->table : NULL;
    for (int t = 0; t < B_COUNT; t++)
        if (used[t])
            c->g[t] = upload(bytes[t], c->host[t]);
    c->o_ref = malloc(q_bytes / esize * sizeof *c->o_ref);
    c->lse_ref = malloc(rows * 4);
    FUZZ_ASSERT(c->o_ref && c->lse_ref);
    FUZZ_ASSERT(clattn_reference_kvcache(p, c->host[B_Q], c->host[B_K], c->host[B_V],
                                         c->host[B_LENS], c->host[B_TABLE], c->host[B_K_NEW],
                                         c->host[B_V_NEW], c->o_ref, c->lse_ref) == 0);
}

/* The call, on the buffers after their front guards; then every buffer back. */
static void call_run(kv_call *c, clattn_plan *plan)
{
    cl_command_queue queue;
    FUZZ_ASSERT(clattn_context_get_cl(context(), NULL, NULL, &queue) == CLATTN_SUCCESS);
    const guarded *g = c->g;
    const clattn_status st = clattn_enqueue_kvcache(
        plan, queue, g[B_Q].mem, GUARD, g[B_K].mem, GUARD, g[B_V].mem, GUARD, g[B_LENS].mem,
        GUARD, g[B_TABLE].mem, GUARD, g[B_K_NEW].mem, GUARD, g[B_V_NEW].mem, GUARD, g[B_O].mem,
        GUARD, g[B_LSE].mem, GUARD, 0, NULL, NULL);
    if (st)
        fprintf(stderr, "enqueue: %s: %s\n", clattn_status_string(st), clattn_message(ctx));
    FUZZ_ASSERT(st == CLATTN_SUCCESS);
    FUZZ_ASSERT(clFinish(queue) == CL_SUCCESS);
    for (int t = 0; t < B_COUNT; t++)
        if (c->used[t])
            c->after[t] = download(&c->g[t], queue);
}

/* The inputs are as they were, the cache has the appended rows where they belong, and O and
 * LSE are the reference's. */
static void call_check(kv_call *c, const kv_input *k, const clattn_problem *p,
                       const clattn_plan *plan)
{
    if (k->append) {
        appended(k, p, c->g[B_K].host + GUARD, c->host[B_K_NEW]);
        appended(k, p, c->g[B_V].host + GUARD, c->host[B_V_NEW]);
    }
    const int defined = !appends_alias(k);
    for (int t = B_Q; t <= B_V_NEW; t++)
        if (c->used[t] && (defined || (t != B_K && t != B_V)) &&
            memcmp(c->after[t] + GUARD, c->g[t].host + GUARD, c->bytes[t]) != 0) {
            describe(k);
            fprintf(stderr, "buffer %d changed where it should not, or not as it should\n", t);
            abort();
        }
    double err = 0, lse_err = 0;
    int passed = 0;
    FUZZ_ASSERT(clattn_compare(p, c->after[B_O] + GUARD, c->o_ref,
                               k->lse ? (const float *)(c->after[B_LSE] + GUARD) : NULL,
                               k->lse ? c->lse_ref : NULL, &err, &lse_err, &passed) == 0);
    if (defined && !passed) {
        describe(k);
        fprintf(stderr, "O error %g, LSE error %g\n%s\n", err, lse_err,
                clattn_plan_describe(plan));
        show_mismatch(k, c->after[B_O] + GUARD, c->o_ref);
        abort();
    }
}

static void call_close(kv_call *c)
{
    for (int t = 0; t < B_COUNT; t++) {
        free(c->after[t]);
        release(&c->g[t]);
        if (t != B_LENS && t != B_TABLE)
            free(c->host[t]);
    }
    free(c->o_ref);
    free(c->lse_ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    const kv_input k = decode_input(&in);
    clattn_problem *p = make_problem(&k);
    if (!p)
        return 0;
    clattn_plan *plan = plan_for(&k, p);
    if (plan) {
        kv_call c;
        call_open(&c, &k, p);
        call_run(&c, plan);
        call_check(&c, &k, p, plan);
        call_close(&c);
    }
    clattn_problem_destroy(p);
    return 0;
}
