/* Decode mode's KV cache on the device, as an inference engine keeps it, and the layout of
 * the sequences it holds (bench.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ---- Where decode mode's sequences start and end, and the cache that holds them: computed
 * from the options alone, before any device is opened. */

static int64_t pages_for(int64_t keys, int64_t page_size)
{
    return (keys + page_size - 1) / page_size;
}

int64_t decode_layout_start(const struct decode_layout *l, int64_t b)
{
    return l->ragged ? l->ragged[b] : l->prompt;
}

/* Pages sequence `b` reaches by its last step (paged layouts). */
static int64_t decode_layout_pages(const struct decode_layout *l, int64_t b)
{
    return pages_for(decode_layout_start(l, b) + l->tokens, l->page_size);
}

int64_t decode_layout_longest(const struct decode_layout *l, int64_t step)
{
    int64_t longest = l->prompt; /* 0 when ragged */
    for (int64_t b = 0; l->ragged && b < l->batch; b++)
        if (l->ragged[b] > longest)
            longest = l->ragged[b];
    return longest + step;
}

static void finish(struct decode_layout *l)
{
    l->capacity = decode_layout_longest(l, l->tokens);
    if (!l->page_size)
        return;
    l->pages_per_seq = pages_for(l->capacity, l->page_size);
    /* A batch outside the library's bounds is refused when the problem is built, before the
     * pool's size is used; 0 pages here just keeps the sum from overflowing first. */
    if (l->batch < 1 || l->batch > INT32_MAX)
        return;
    for (int64_t b = 0; b < l->batch; b++)
        l->num_pages += decode_layout_pages(l, b);
}

void decode_layout_for_loop(const struct bench_options *opt, struct decode_layout *l)
{
    *l = (struct decode_layout){.batch = opt->batch,
                                .tokens = opt->tokens,
                                .prompt = opt->prompt,
                                .ragged = opt->kv_len_count ? opt->kv_lens : NULL,
                                .page_size = opt->page_size};
    finish(l);
}

void decode_layout_for_compare(const struct bench_options *opt, struct decode_layout *l)
{
    *l = (struct decode_layout){.batch = opt->batch,
                                .tokens = 1,
                                .prompt = opt->seq_kv - 1,
                                .page_size = opt->page_size};
    finish(l);
}

/* ---- The cache on the device */

/* Distinct Q, k_new and v_new sets, used in turn by consecutive steps. */
#define KV_RING_STEPS 8

/* K and V go to the device this many bytes at a time, so that without a mirror the host never
 * holds a cache that may be larger than its memory. */
#define UPLOAD_CHUNK ((size_t)16 << 20)
/* Values of a cache of another type than Q's are made FILL_VALUES at a time in f32 and
 * quantized (clattn_from_float): whole blocks, since FILL_VALUES is a multiple of 32. */
#define FILL_VALUES ((size_t)1 << 20)

/* The fixed seeds of the cache's random streams. */
enum { SEED_K = 101, SEED_V, SEED_Q, SEED_K_NEW, SEED_V_NEW, SEED_PAGES };

/* The device buffers. Q is one buffer of KV_RING_STEPS sets, passed at an offset; k_new and
 * v_new have a buffer per set instead, because clattn 0.1.0's append reads them from offset 0
 * whatever k_new_offset and v_new_offset say. */
enum { MEM_K, MEM_V, MEM_LENS, MEM_TABLE, MEM_Q, MEM_O, MEM_LSE, MEM_K_NEW,
       MEM_V_NEW = MEM_K_NEW + KV_RING_STEPS, MEMS = MEM_V_NEW + KV_RING_STEPS };

struct kv_cache {
    const struct decode_layout *layout;
    const clattn_problem *problem;
    clattn_dtype dtype, kv_dtype; /* Q's, O's and the new rows'; the cache's */
    size_t esize;
    int kv_values, kv_bytes; /* a cache block: kv_values values in kv_bytes bytes */
    int64_t kv_heads, head_dim;
    int64_t k_strides[3]; /* batch (between pages when paged), sequence, head */
    /* bytes: of K (V is the same), of one step's Q, k_new (v_new), O and LSE */
    size_t k_bytes, q_bytes, new_bytes, o_bytes, lse_bytes;
    uint64_t device_bytes; /* every device buffer together */
    int64_t step;
    int32_t *lens;  /* [B]: keys before the current step, as last uploaded */
    int32_t *table; /* [B, pages_per_seq], or NULL when contiguous */
    void *q, *k_new, *v_new; /* the ring: KV_RING_STEPS sets */
    void *k, *v;             /* the mirror, or NULL */
    void *o;                 /* --check: O read back, its reference and the LSEs */
    float *o_ref, *lse, *lse_ref;
    float *row; /* one new row in f32, on its way from Q's dtype into the cache's */
    cl_mem mem[MEMS];
};

/* The block table: each sequence's pages drawn from a shuffled pool, so that logical
 * neighbours are scattered in memory as in a long-running engine; pages a sequence never
 * reaches are -1 (a kernel that read one would produce NaN). */
static int32_t *make_table(const struct decode_layout *l)
{
    int32_t *pool = malloc((size_t)l->num_pages * sizeof *pool);
    int32_t *table = malloc((size_t)(l->batch * l->pages_per_seq) * sizeof *table);
    if (!pool || !table) {
        free(pool);
        free(table);
        return NULL;
    }
    uint64_t state = SEED_PAGES;
    for (int64_t i = 0; i < l->num_pages; i++)
        pool[i] = (int32_t)i;
    for (int64_t i = l->num_pages - 1; i > 0; i--) {
        const int64_t j = (int64_t)(inputs_next_random(&state) % (uint64_t)(i + 1));
        const int32_t t = pool[i];
        pool[i] = pool[j];
        pool[j] = t;
    }
    int64_t next = 0;
    for (int64_t b = 0; b < l->batch; b++)
        for (int64_t n = 0; n < l->pages_per_seq; n++)
            table[b * l->pages_per_seq + n] = n < decode_layout_pages(l, b) ? pool[next++] : -1;
    free(pool);
    return table;
}

static int sizes(struct kv_cache *c)
{
    int64_t dtype = 0, kv_dtype = -1, heads = 0, batch = c->layout->batch;
    clattn_status st = clattn_problem_get(c->problem, CLATTN_PARAM_DTYPE, &dtype);
    if (!st)
        st = clattn_problem_get(c->problem, CLATTN_PARAM_KV_DTYPE, &kv_dtype);
    if (!st)
        st = clattn_problem_get(c->problem, CLATTN_PARAM_HEADS, &heads);
    if (!st)
        st = clattn_problem_get(c->problem, CLATTN_PARAM_KV_HEADS, &c->kv_heads);
    if (!st)
        st = clattn_problem_get(c->problem, CLATTN_PARAM_HEAD_DIM, &c->head_dim);
    if (!st)
        st = clattn_problem_get_strides(c->problem, CLATTN_TENSOR_K, &c->k_strides[0],
                                        &c->k_strides[1], &c->k_strides[2]);
    if (!st)
        st = clattn_problem_tensor_bytes(c->problem, CLATTN_TENSOR_K, &c->k_bytes);
    if (!st)
        st = clattn_problem_tensor_bytes(c->problem, CLATTN_TENSOR_Q, &c->q_bytes);
    if (!st)
        st = clattn_problem_tensor_bytes(c->problem, CLATTN_TENSOR_O, &c->o_bytes);
    if (st)
        return fail_clattn(NULL, st, "sizing the KV cache");
    if (c->kv_heads == 0) /* the library's "same as heads" */
        c->kv_heads = heads;
    c->dtype = (clattn_dtype)dtype;
    c->kv_dtype = kv_dtype < 0 ? c->dtype : (clattn_dtype)kv_dtype;
    c->esize = clattn_dtype_size(c->dtype);
    clattn_dtype_block(c->kv_dtype, &c->kv_values, &c->kv_bytes);
    c->new_bytes = (size_t)(batch * c->kv_heads * c->head_dim) * c->esize;
    c->lse_bytes = (size_t)(batch * heads) * sizeof(float);
    return 0;
}

/* What make_host, make_device, fill_cache and the checks allocate, from the sizes alone. */
static void need_of(const struct kv_cache *c, int mirror, struct memory_need *need)
{
    const struct decode_layout *l = c->layout;
    const uint64_t batch = (uint64_t)l->batch;
    const uint64_t ring = memory_add(memory_mul(KV_RING_STEPS, c->q_bytes),
                                     memory_mul(2 * KV_RING_STEPS, c->new_bytes));
    const uint64_t lens = memory_mul(batch, sizeof(int32_t));
    const uint64_t table =
        l->page_size ? memory_mul(memory_mul(batch, (uint64_t)l->pages_per_seq), sizeof(int32_t))
                     : 0;
    const uint64_t cache = memory_mul(2, c->k_bytes);
    *need = (struct memory_need){.what = "the KV cache (K, V, and each step's Q, new rows, O "
                                         "and LSE)"};
    need->device = memory_add(memory_add(cache, ring),
                              memory_add(memory_add(lens, table), c->o_bytes + c->lse_bytes));
    need->largest = c->k_bytes > KV_RING_STEPS * c->q_bytes ? c->k_bytes
                                                            : KV_RING_STEPS * c->q_bytes;
    /* the ring, the lengths, the table and its shuffled pool of page numbers */
    uint64_t host = memory_add(memory_add(ring, lens),
                               memory_add(table, memory_mul((uint64_t)l->num_pages,
                                                            sizeof(int32_t))));
    /* the values of the largest fill in f32, before conversion to the storage dtype */
    uint64_t widest = KV_RING_STEPS * c->q_bytes;
    if (KV_RING_STEPS * c->new_bytes > widest)
        widest = KV_RING_STEPS * c->new_bytes;
    if (UPLOAD_CHUNK > widest)
        widest = UPLOAD_CHUNK;
    if (c->dtype != CLATTN_DTYPE_F32)
        host = memory_add(host, memory_mul(widest / c->esize, sizeof(float)));
    if (c->kv_dtype != c->dtype) /* fill_cache's values before quantization */
        host = memory_add(host, FILL_VALUES * sizeof(float));
    if (!mirror) /* K and V go up through one chunk of staging memory */
        need->host = memory_add(host, c->k_bytes < UPLOAD_CHUNK ? c->k_bytes : UPLOAD_CHUNK);
    else /* the mirror, O and its reference, the LSEs, kv_cache_check_contents's copy of K,
          * and the rows of clattn_reference_kvcache */
        need->host = memory_add(
            memory_add(host, memory_mul(3, c->k_bytes)),
            memory_add(memory_add(c->o_bytes, memory_mul(c->o_bytes / c->esize, sizeof(float))),
                       memory_add(memory_mul(2, c->lse_bytes),
                                  memory_mul((uint64_t)l->capacity + (uint64_t)c->head_dim,
                                             sizeof(double)))));
    if (mirror) /* mirror_row's f32 row */
        need->host = memory_add(need->host, memory_mul((uint64_t)c->head_dim, sizeof(float)));
}

int kv_cache_need(const clattn_problem *problem, const struct decode_layout *layout, int mirror,
                  struct memory_need *need)
{
    struct kv_cache c = {.layout = layout, .problem = problem};
    int rc = sizes(&c);
    if (!rc)
        need_of(&c, mirror, need);
    return rc;
}

/* Host data: the ring, the lengths, the table, and with a mirror the host copy of K and V and
 * the check's buffers. */
static int make_host(struct kv_cache *c, int mirror)
{
    const struct decode_layout *l = c->layout;
    c->q = malloc(KV_RING_STEPS * c->q_bytes);
    c->k_new = malloc(KV_RING_STEPS * c->new_bytes);
    c->v_new = malloc(KV_RING_STEPS * c->new_bytes);
    c->lens = calloc((size_t)l->batch, sizeof *c->lens);
    if (l->page_size)
        c->table = make_table(l);
    if (mirror) {
        c->k = malloc(c->k_bytes);
        c->v = malloc(c->k_bytes);
        c->o = malloc(c->o_bytes);
        c->o_ref = malloc(c->o_bytes / c->esize * sizeof *c->o_ref);
        c->lse = malloc(c->lse_bytes);
        c->lse_ref = malloc(c->lse_bytes);
        c->row = malloc((size_t)c->head_dim * sizeof *c->row);
    }
    if (!c->q || !c->k_new || !c->v_new || !c->lens || (l->page_size && !c->table) ||
        (mirror && (!c->k || !c->v || !c->o || !c->o_ref || !c->lse || !c->lse_ref || !c->row)))
        return fail_host_memory();
    const struct {
        void *data;
        size_t bytes;
        uint64_t seed;
    } fills[] = {{c->q, KV_RING_STEPS * c->q_bytes, SEED_Q},
                 {c->k_new, KV_RING_STEPS * c->new_bytes, SEED_K_NEW},
                 {c->v_new, KV_RING_STEPS * c->new_bytes, SEED_V_NEW}};
    for (size_t i = 0; i < sizeof fills / sizeof *fills; i++) {
        int rc = inputs_fill_uniform(c->dtype, fills[i].data, fills[i].bytes / c->esize,
                                     fills[i].seed);
        if (rc)
            return rc;
    }
    return 0;
}

static int make_device(struct kv_cache *c, clattn_context *ctx)
{
    const struct decode_layout *l = c->layout;
    cl_context cl;
    clattn_status st = clattn_context_get_cl(ctx, &cl, NULL, NULL);
    if (st)
        return fail_clattn(ctx, st, "getting the OpenCL context");
    const cl_mem_flags in = CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR;
    struct buffer {
        cl_mem_flags flags;
        size_t bytes;
        void *host;
    } mems[MEMS] = {
        /* first, so that a cache the device cannot hold fails before anything else */
        [MEM_K] = {CL_MEM_READ_WRITE, c->k_bytes, NULL},
        [MEM_V] = {CL_MEM_READ_WRITE, c->k_bytes, NULL},
        [MEM_LENS] = {in, (size_t)l->batch * sizeof *c->lens, c->lens},
        [MEM_TABLE] = {in, (size_t)(l->batch * l->pages_per_seq) * sizeof *c->table, c->table},
        [MEM_Q] = {in, KV_RING_STEPS * c->q_bytes, c->q},
        [MEM_O] = {CL_MEM_READ_WRITE, c->o_bytes, NULL},
        [MEM_LSE] = {CL_MEM_READ_WRITE, c->lse_bytes, NULL},
    };
    for (size_t i = 0; i < KV_RING_STEPS; i++) {
        const size_t at = i * c->new_bytes;
        mems[MEM_K_NEW + i] = (struct buffer){in, c->new_bytes, (char *)c->k_new + at};
        mems[MEM_V_NEW + i] = (struct buffer){in, c->new_bytes, (char *)c->v_new + at};
    }
    for (int m = 0; m < MEMS; m++) {
        if (m == MEM_TABLE && !c->table)
            continue;
        cl_int err;
        c->mem[m] = clCreateBuffer(cl, mems[m].flags, mems[m].bytes, mems[m].host, &err);
        if (err != CL_SUCCESS) {
            c->mem[m] = NULL;
            char what[96], bytes[FORMAT_BYTES_LEN];
            snprintf(what, sizeof what, "clCreateBuffer (KV cache, %s)",
                     format_bytes(bytes, mems[m].bytes));
            return fail_cl(err, what);
        }
    }
    return 0;
}

/* `bytes` bytes of cache at dst: random values in the cache's type. */
static int fill_values(const struct kv_cache *c, void *dst, size_t bytes, uint64_t seed,
                       float *values)
{
    if (c->kv_dtype == c->dtype)
        return inputs_fill_uniform(c->dtype, dst, bytes / c->esize, seed);
    const size_t count = bytes / (size_t)c->kv_bytes * (size_t)c->kv_values;
    for (size_t at = 0; at < count; at += FILL_VALUES) {
        const size_t n = count - at < FILL_VALUES ? count - at : FILL_VALUES;
        int rc = inputs_fill_uniform(CLATTN_DTYPE_F32, values, n,
                                     seed ^ (uint64_t)(at / FILL_VALUES) << 20);
        if (rc)
            return rc;
        clattn_status st = clattn_from_float(c->kv_dtype, values, (char *)dst + at /
                                             (size_t)c->kv_values * (size_t)c->kv_bytes, n);
        if (st)
            return fail_clattn(NULL, st, "quantizing the KV cache");
    }
    return 0;
}

/* K and V: random values everywhere, a chunk at a time, each chunk from a stream of its own;
 * written into the mirror when there is one, else through a chunk of staging memory. Chunks
 * are whole blocks of the cache's type. */
static int fill_cache(struct kv_cache *c, cl_command_queue queue)
{
    const size_t chunk_bytes = UPLOAD_CHUNK / (size_t)c->kv_bytes * (size_t)c->kv_bytes;
    void *staging = c->k ? NULL : malloc(chunk_bytes < c->k_bytes ? chunk_bytes : c->k_bytes);
    float *values = c->kv_dtype == c->dtype ? NULL : malloc(FILL_VALUES * sizeof *values);
    if ((!c->k && !staging) || (c->kv_dtype != c->dtype && !values)) {
        free(staging);
        free(values);
        return fail_host_memory();
    }
    int rc = 0;
    for (int m = MEM_K; m <= MEM_V && !rc; m++) {
        char *mirror = m == MEM_K ? c->k : c->v;
        const uint64_t seed = m == MEM_K ? SEED_K : SEED_V;
        for (size_t at = 0; at < c->k_bytes && !rc; at += chunk_bytes) {
            const size_t bytes = c->k_bytes - at < chunk_bytes ? c->k_bytes - at : chunk_bytes;
            void *chunk = mirror ? mirror + at : staging;
            rc = fill_values(c, chunk, bytes, (seed << 32) + at / chunk_bytes, values);
            cl_int err = rc ? CL_SUCCESS
                            : clEnqueueWriteBuffer(queue, c->mem[m], CL_TRUE, at, bytes, chunk,
                                                   0, NULL, NULL);
            if (err != CL_SUCCESS)
                rc = fail_cl(err, "clEnqueueWriteBuffer (KV cache)");
        }
    }
    free(staging);
    free(values);
    return rc;
}

int kv_cache_create(struct bench_session *s, const clattn_problem *problem,
                    const struct decode_layout *layout, int mirror, uint64_t device_held,
                    struct kv_cache **out)
{
    struct kv_cache *c = calloc(1, sizeof *c);
    if (!c)
        return fail_host_memory();
    c->layout = layout;
    c->problem = problem;
    struct memory_need need;
    int rc = sizes(c);
    if (!rc) {
        need_of(c, mirror, &need);
        need.device_held = device_held;
        c->device_bytes = need.device;
        rc = session_check_memory(s, &need);
    }
    if (!rc)
        rc = make_host(c, mirror);
    if (!rc)
        rc = make_device(c, s->ctx);
    if (!rc)
        rc = fill_cache(c, s->queue);
    if (rc) {
        kv_cache_destroy(c);
        return rc;
    }
    kv_cache_set_step(c, 1);
    *out = c;
    return 0;
}

void kv_cache_destroy(struct kv_cache *c)
{
    if (!c)
        return;
    for (int m = 0; m < MEMS; m++)
        if (c->mem[m])
            clReleaseMemObject(c->mem[m]);
    void *host[] = {c->lens, c->table, c->q, c->k_new, c->v_new, c->k,
                    c->v,    c->o,     c->o_ref, c->lse, c->lse_ref, c->row};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++)
        free(host[i]);
    free(c);
}

uint64_t kv_cache_bytes(const struct kv_cache *c)
{
    return 2 * (uint64_t)c->k_bytes;
}

uint64_t kv_cache_device_bytes(const struct kv_cache *c)
{
    return c->device_bytes;
}

void kv_cache_set_step(struct kv_cache *c, int64_t step)
{
    c->step = step;
    for (int64_t b = 0; b < c->layout->batch; b++)
        c->lens[b] = (int32_t)(decode_layout_start(c->layout, b) + step - 1);
}

/* The ring set of the current step. */
static size_t ring_slot(const struct kv_cache *c)
{
    return (size_t)((c->step - 1) % KV_RING_STEPS);
}

int kv_cache_enqueue_step(struct bench_session *s, void *arg)
{
    const struct kv_step *step = arg;
    struct kv_cache *c = step->cache;
    /* Non-blocking: `lens` must stay as it is until the write has run, which it does, since
     * every step is waited for before the next one changes it. */
    cl_int err = clEnqueueWriteBuffer(s->queue, c->mem[MEM_LENS], CL_FALSE, 0,
                                      (size_t)c->layout->batch * sizeof *c->lens, c->lens, 0,
                                      NULL, NULL);
    if (err != CL_SUCCESS)
        return fail_cl(err, "clEnqueueWriteBuffer (cache_seqlens)");
    const size_t slot = ring_slot(c);
    clattn_status st = clattn_enqueue_kvcache(
        step->plan, s->queue, c->mem[MEM_Q], slot * c->q_bytes, c->mem[MEM_K], 0,
        c->mem[MEM_V], 0, c->mem[MEM_LENS], 0, c->mem[MEM_TABLE], 0, c->mem[MEM_K_NEW + slot], 0,
        c->mem[MEM_V_NEW + slot], 0, c->mem[MEM_O], 0, c->mem[MEM_LSE], 0, 0, NULL, NULL);
    return st ? fail_clattn(s->ctx, st, "enqueueing a decode step") : 0;
}

int kv_cache_poison_outputs(struct kv_cache *c, cl_command_queue queue)
{
    const cl_uchar all_ones = 0xFF; /* NaN in every dtype */
    for (int m = MEM_O; m <= MEM_LSE; m++) {
        cl_int err = clEnqueueFillBuffer(queue, c->mem[m], &all_ones, sizeof all_ones, 0,
                                         m == MEM_O ? c->o_bytes : c->lse_bytes, 0, NULL, NULL);
        if (err != CL_SUCCESS)
            return fail_cl(err, "clEnqueueFillBuffer (outputs)");
    }
    cl_int err = clFinish(queue);
    return err == CL_SUCCESS ? 0 : fail_cl(err, "clFinish");
}

int kv_cache_check_step(struct kv_cache *c, cl_command_queue queue, struct bench_row *row)
{
    cl_int err = clEnqueueReadBuffer(queue, c->mem[MEM_O], CL_TRUE, 0, c->o_bytes, c->o, 0,
                                     NULL, NULL);
    if (err == CL_SUCCESS)
        err = clEnqueueReadBuffer(queue, c->mem[MEM_LSE], CL_TRUE, 0, c->lse_bytes, c->lse, 0,
                                  NULL, NULL);
    if (err != CL_SUCCESS)
        return fail_cl(err, "clEnqueueReadBuffer (outputs)");
    const size_t slot = ring_slot(c);
    clattn_status st = clattn_reference_kvcache(
        c->problem, (const char *)c->q + slot * c->q_bytes, c->k, c->v, c->lens, c->table,
        (const char *)c->k_new + slot * c->new_bytes, (const char *)c->v_new + slot * c->new_bytes,
        c->o_ref, c->lse_ref);
    if (st)
        return fail_clattn(NULL, st, "computing the CPU reference");
    st = clattn_compare(c->problem, c->o, c->o_ref, c->lse, c->lse_ref, &row->max_abs_err,
                        &row->lse_err, &row->passed);
    if (st)
        return fail_clattn(NULL, st, "comparing with the reference");
    row->checked = 1;
    return 0;
}

/* One new row, in Q's dtype, into the mirror at value `at`, stored as the cache's type the
 * way the device's append stores it (fp8's scales are the default 1 here). */
static void mirror_row(struct kv_cache *c, void *mirror, int64_t at, const void *row)
{
    char *dst = (char *)mirror + (size_t)at / (size_t)c->kv_values * (size_t)c->kv_bytes;
    if (c->kv_dtype == c->dtype) {
        memcpy(dst, row, (size_t)c->head_dim * c->esize);
        return;
    }
    /* head_dim is a whole number of blocks (the problem checked it): neither call can fail */
    clattn_to_float(c->dtype, row, c->row, (size_t)c->head_dim);
    clattn_from_float(c->kv_dtype, c->row, dst, (size_t)c->head_dim);
}

void kv_cache_mirror_step(struct kv_cache *c)
{
    const struct decode_layout *l = c->layout;
    const size_t row_bytes = (size_t)c->head_dim * c->esize;
    const char *k_rows = (const char *)c->k_new + ring_slot(c) * c->new_bytes;
    const char *v_rows = (const char *)c->v_new + ring_slot(c) * c->new_bytes;
    for (int64_t b = 0; b < l->batch; b++) {
        const int64_t j = c->lens[b]; /* the new key's position */
        const int64_t base = l->page_size ? c->table[b * l->pages_per_seq + j / l->page_size] *
                                                    c->k_strides[0] +
                                                (j % l->page_size) * c->k_strides[1]
                                          : b * c->k_strides[0] + j * c->k_strides[1];
        for (int64_t g = 0; g < c->kv_heads; g++) {
            const int64_t at = base + g * c->k_strides[2];
            const size_t from = (size_t)(b * c->kv_heads + g) * row_bytes;
            mirror_row(c, c->k, at, k_rows + from);
            mirror_row(c, c->v, at, v_rows + from);
        }
    }
}

int kv_cache_check_contents(struct kv_cache *c, cl_command_queue queue, int *same)
{
    void *device = malloc(c->k_bytes);
    if (!device)
        return fail_host_memory();
    *same = 1;
    for (int m = MEM_K; m <= MEM_V && *same; m++) {
        cl_int err = clEnqueueReadBuffer(queue, c->mem[m], CL_TRUE, 0, c->k_bytes, device, 0,
                                         NULL, NULL);
        if (err != CL_SUCCESS) {
            free(device);
            return fail_cl(err, "clEnqueueReadBuffer (KV cache)");
        }
        *same = memcmp(device, m == MEM_K ? c->k : c->v, c->k_bytes) == 0;
    }
    free(device);
    return 0;
}
