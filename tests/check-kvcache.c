/* Inference with a KV cache: decode and prefill against contiguous and paged caches, ragged
 * lengths (0 included), appending the step's keys, GQA/MQA, every dtype; the merge of
 * partial results; and the device-side values the host cannot check (lengths, pages), which
 * must give NaN rows, never an out-of-bounds access. Everything against
 * clattn_reference_kvcache. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct kv_case {
    int batch, heads, kv_heads, seq_q, capacity, head_dim;
    clattn_dtype dtype;
    int page_size;     /* 0: contiguous */
    const int *lens;   /* per entry before the call, NULL: capacity each (no lengths given) */
    int append;        /* k_new / v_new of seq_q rows */
    int causal, window_left;
} kv_case;

static const int lens_4[] = {0, 1, 37, 100};
static const int lens_mixed[] = {5, 0, 130, 64};
static const int lens_append[] = {0, 15, 16, 17};

static const kv_case cases[] = {
    /* decode and short prefill, the rows a step has, against caches of 1 to 4097 keys */
    {2, 8, 2, 1, 1, 64, CLATTN_DTYPE_F32, 0, NULL, 0, 1, -1},
    {2, 8, 2, 1, 100, 64, CLATTN_DTYPE_F32, 0, NULL, 0, 1, -1},
    {2, 8, 2, 1, 4097, 64, CLATTN_DTYPE_F32, 0, NULL, 0, 1, -1},
    {2, 8, 2, 2, 4097, 64, CLATTN_DTYPE_F32, 0, NULL, 0, 1, -1},
    {2, 8, 2, 7, 100, 64, CLATTN_DTYPE_F32, 0, NULL, 0, 1, -1},
    {2, 8, 2, 16, 4097, 64, CLATTN_DTYPE_F32, 0, NULL, 0, 1, -1},
    {1, 8, 8, 16, 1, 40, CLATTN_DTYPE_F32, 0, NULL, 0, 0, -1},
    /* long caches: 40000 keys, multi-query */
    {2, 4, 1, 1, 40000, 64, CLATTN_DTYPE_F32, 0, NULL, 0, 1, -1},
    {1, 2, 2, 16, 40000, 64, CLATTN_DTYPE_F32, 0, NULL, 0, 1, -1},
    /* GQA 32:8 and MQA 32:1 */
    {1, 32, 8, 1, 4097, 64, CLATTN_DTYPE_F32, 0, NULL, 0, 1, -1},
    {1, 32, 1, 4, 4097, 64, CLATTN_DTYPE_F32, 0, NULL, 0, 1, -1},
    /* ragged lengths, 0 included: an empty cache gives zeros and LSE -inf */
    {4, 4, 2, 1, 100, 64, CLATTN_DTYPE_F32, 0, lens_4, 0, 1, -1},
    {4, 4, 2, 7, 100, 64, CLATTN_DTYPE_F32, 0, lens_4, 0, 1, -1},
    {4, 4, 2, 7, 100, 64, CLATTN_DTYPE_F32, 0, lens_4, 0, 0, -1},
    /* and in a cache long enough to split: every split of the empty entry is empty, and
     * merge_splits must still make its rows zeros with LSE -inf (tools/mutate) */
    {4, 4, 2, 1, 4097, 64, CLATTN_DTYPE_F32, 0, lens_4, 0, 1, -1},
    /* paged, pages shuffled, ragged */
    {4, 4, 2, 1, 130, 64, CLATTN_DTYPE_F32, 16, lens_mixed, 0, 1, -1},
    {4, 4, 2, 3, 130, 80, CLATTN_DTYPE_F32, 64, lens_mixed, 0, 1, -1},
    {1, 4, 4, 1, 4097, 64, CLATTN_DTYPE_F32, 256, NULL, 0, 1, -1},
    /* appending the step's keys, contiguous and paged, across a page boundary */
    {4, 4, 2, 1, 40, 64, CLATTN_DTYPE_F32, 0, lens_append, 1, 1, -1},
    {4, 4, 2, 3, 40, 64, CLATTN_DTYPE_F32, 16, lens_append, 1, 1, -1},
    /* a sliding window over a long cache */
    {1, 4, 1, 1, 4097, 64, CLATTN_DTYPE_F32, 32, NULL, 0, 1, 63},
    /* storage types */
    {4, 4, 2, 3, 40, 64, CLATTN_DTYPE_F16, 16, lens_append, 1, 1, -1},
    {4, 4, 2, 3, 40, 64, CLATTN_DTYPE_BF16, 16, lens_append, 1, 1, -1},
    {2, 8, 2, 1, 4097, 128, CLATTN_DTYPE_F16, 0, NULL, 0, 1, -1},
    {2, 8, 2, 1, 4097, 128, CLATTN_DTYPE_BF16, 0, NULL, 0, 1, -1},
};

#define OK(call)                                                                               \
    do {                                                                                       \
        clattn_status st_ = (call);                                                            \
        ck_assert_msg(st_ == CLATTN_SUCCESS, "%s: %s: %s | %s", #call, clattn_status_string(st_), \
                      clattn_message(NULL), clattn_message(test_context()));                  \
    } while (0)

static unsigned next_random(unsigned *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* A case's problem, host arrays, device buffers and results. */
typedef struct kv_run {
    clattn_problem *p;
    size_t esize, q_elems, cache_elems, new_elems, rows;
    int pages_per_seq, num_pages;
    void *q, *k, *v, *k_new, *v_new;
    int32_t *lens, *table;
    cl_mem mq, mk, mv, mlens, mtable, mk_new, mv_new, mo, mlse;
} kv_run;

static void kv_open(kv_run *r, const kv_case *c, clattn_algorithm algo)
{
    memset(r, 0, sizeof *r);
    attn_case ac = case_default();
    ac.batch = c->batch;
    ac.heads = c->heads;
    ac.kv_heads = c->kv_heads;
    ac.seq_q = c->seq_q;
    ac.seq_kv = c->capacity;
    ac.head_dim = c->head_dim;
    ac.dtype = c->dtype;
    ac.causal = c->causal;
    ac.window_left = c->window_left;
    r->p = case_problem(&ac, algo);
    r->esize = clattn_dtype_size(c->dtype);
    if (c->page_size) {
        r->pages_per_seq = (c->capacity + c->page_size - 1) / c->page_size;
        r->num_pages = c->batch * r->pages_per_seq + 3; /* a few the table never names */
        OK(clattn_problem_set(r->p, CLATTN_PARAM_PAGE_SIZE, c->page_size));
        OK(clattn_problem_set(r->p, CLATTN_PARAM_NUM_PAGES, r->num_pages));
    }
    size_t bytes;
    OK(clattn_problem_tensor_bytes(r->p, CLATTN_TENSOR_Q, &bytes));
    r->q_elems = bytes / r->esize;
    OK(clattn_problem_tensor_bytes(r->p, CLATTN_TENSOR_K, &bytes));
    r->cache_elems = bytes / r->esize;
    r->new_elems = (size_t)c->batch * c->seq_q * c->kv_heads * c->head_dim;
    r->rows = (size_t)c->batch * c->heads * c->seq_q;
    r->q = random_tensor(c->dtype, r->q_elems, 1.0f, 11);
    r->k = random_tensor(c->dtype, r->cache_elems, 1.0f, 12);
    r->v = random_tensor(c->dtype, r->cache_elems, 1.0f, 13);
    if (c->append) {
        r->k_new = random_tensor(c->dtype, r->new_elems, 1.0f, 14);
        r->v_new = random_tensor(c->dtype, r->new_elems, 1.0f, 15);
    }
    if (c->lens) {
        r->lens = malloc((size_t)c->batch * sizeof *r->lens);
        for (int b = 0; b < c->batch; b++)
            r->lens[b] = c->lens[b];
    }
    if (c->page_size) {
        /* pages shuffled across the pool; pages an entry does not reach are -1, so a kernel
         * that read them would produce NaN */
        int *perm = malloc((size_t)r->num_pages * sizeof *perm);
        unsigned x = 99;
        for (int i = 0; i < r->num_pages; i++)
            perm[i] = i;
        for (int i = r->num_pages - 1; i > 0; i--) {
            int j = (int)(next_random(&x) % (unsigned)(i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        r->table = malloc((size_t)c->batch * r->pages_per_seq * sizeof *r->table);
        for (int b = 0; b < c->batch; b++) {
            int64_t used = r->lens ? (int64_t)r->lens[b] + (c->append ? c->seq_q : 0) : c->capacity;
            for (int n = 0; n < r->pages_per_seq; n++)
                r->table[b * r->pages_per_seq + n] =
                    (int64_t)n * c->page_size < used ? perm[b * r->pages_per_seq + n] : -1;
        }
        free(perm);
    }
    r->mq = device_copy(r->q_elems * r->esize, r->q);
    r->mk = device_copy(r->cache_elems * r->esize, r->k);
    r->mv = device_copy(r->cache_elems * r->esize, r->v);
    if (r->lens)
        r->mlens = device_copy((size_t)c->batch * 4, r->lens);
    if (r->table)
        r->mtable = device_copy((size_t)c->batch * r->pages_per_seq * 4, r->table);
    if (c->append) {
        r->mk_new = device_copy(r->new_elems * r->esize, r->k_new);
        r->mv_new = device_copy(r->new_elems * r->esize, r->v_new);
    }
    r->mo = device_copy(r->q_elems * r->esize, NULL);
    r->mlse = device_copy(r->rows * 4, NULL);
}

static void kv_close(kv_run *r)
{
    cl_mem mems[] = {r->mq, r->mk, r->mv, r->mlens, r->mtable, r->mk_new, r->mv_new, r->mo, r->mlse};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        if (mems[i])
            clReleaseMemObject(mems[i]);
    void *host[] = {r->q, r->k, r->v, r->k_new, r->v_new, r->lens, r->table};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++)
        free(host[i]);
    clattn_problem_destroy(r->p);
}

static clattn_status kv_enqueue(kv_run *r, clattn_plan *plan)
{
    return clattn_enqueue_kvcache(plan, NULL, r->mq, 0, r->mk, 0, r->mv, 0, r->mlens, 0,
                                  r->mtable, 0, r->mk_new, 0, r->mv_new, 0, r->mo, 0, r->mlse,
                                  0, 0, NULL, NULL);
}

static void read_at(cl_mem m, size_t offset, size_t bytes, void *host)
{
    cl_command_queue queue;
    clattn_context_get_cl(test_context(), NULL, NULL, &queue);
    ck_assert_int_eq(clEnqueueReadBuffer(queue, m, CL_TRUE, offset, bytes, host, 0, NULL, NULL),
                     CL_SUCCESS);
}

static void read_back(cl_mem m, size_t bytes, void *host)
{
    read_at(m, 0, bytes, host);
}

/* Whether entry b's length leaves room for the step's rows (common.cl's kv_length). */
static int append_fits(const kv_run *r, const kv_case *c, int b)
{
    return r->lens[b] >= 0 && r->lens[b] <= c->capacity - c->seq_q;
}

/* The appended rows are in the cache (at `offset` in m) where they belong, and nothing else
 * changed; an entry without room for them is left as it was. */
static void check_appended(const kv_run *r, const kv_case *c, cl_mem m, size_t offset,
                           const void *before, const void *rows)
{
    char *after = malloc(r->cache_elems * r->esize);
    char *want = malloc(r->cache_elems * r->esize);
    read_at(m, offset, r->cache_elems * r->esize, after);
    memcpy(want, before, r->cache_elems * r->esize);
    int64_t s[3];
    clattn_problem_get_strides(r->p, CLATTN_TENSOR_K, &s[0], &s[1], &s[2]);
    for (int b = 0; b < c->batch; b++)
        for (int i = 0; i < c->seq_q && append_fits(r, c, b); i++)
            for (int g = 0; g < c->kv_heads; g++) {
                int j = r->lens[b] + i;
                int64_t base = c->page_size ? r->table[b * r->pages_per_seq + j / c->page_size] * s[0] +
                                                  (j % c->page_size) * s[1]
                                            : b * s[0] + j * s[1];
                base += g * s[2];
                memcpy(want + (size_t)base * r->esize,
                       (const char *)rows +
                           (size_t)(((b * c->seq_q + i) * c->kv_heads + g) * c->head_dim) * r->esize,
                       (size_t)c->head_dim * r->esize);
            }
    ck_assert_msg(memcmp(after, want, r->cache_elems * r->esize) == 0,
                  "the cache after appending differs from the expected one");
    free(after);
    free(want);
}

static void run_case(const kv_case *c, clattn_algorithm algo)
{
    kv_run r;
    kv_open(&r, c, algo);
    float *o_ref = malloc(r.q_elems * sizeof(float)), *lse_ref = malloc(r.rows * 4);
    OK(clattn_reference_kvcache(r.p, r.q, r.k, r.v, r.lens, r.table, r.k_new, r.v_new, o_ref,
                                lse_ref));
    clattn_plan *plan;
    clattn_status st = clattn_plan_create(test_context(), r.p, &plan);
    ck_assert_msg(st == CLATTN_SUCCESS, "plan: %s", clattn_message(test_context()));
    st = kv_enqueue(&r, plan);
    ck_assert_msg(st == CLATTN_SUCCESS, "enqueue: %s", clattn_message(test_context()));
    void *o = malloc(r.q_elems * r.esize);
    float *lse = malloc(r.rows * 4);
    read_back(r.mo, r.q_elems * r.esize, o);
    read_back(r.mlse, r.rows * 4, lse);
    double err, lse_err;
    int passed;
    OK(clattn_compare(r.p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed));
    ck_assert_msg(passed, "B%d H%d:%d Nq%d cap%d d%d dtype%d page%d append%d: error %g, LSE error %g\n%s",
                  c->batch, c->heads, c->kv_heads, c->seq_q, c->capacity, c->head_dim,
                  (int)c->dtype, c->page_size, c->append, err, lse_err,
                  clattn_plan_describe(plan));
    if (c->append) {
        check_appended(&r, c, r.mk, 0, r.k, r.k_new);
        check_appended(&r, c, r.mv, 0, r.v, r.v_new);
    }
    clattn_plan_destroy(plan);
    free(o);
    free(lse);
    free(o_ref);
    free(lse_ref);
    kv_close(&r);
}

START_TEST(decode_matches_reference)
{
    run_case(&cases[_i], CLATTN_ALGO_DECODE);
}
END_TEST

START_TEST(tiled_matches_reference)
{
    run_case(&cases[_i], CLATTN_ALGO_TILED);
}
END_TEST

/* The same append case with every buffer placed at an offset inside a larger one: each
 * offset must be honoured, for reading and for writing. */
START_TEST(offsets_are_honoured)
{
    static const int lens[] = {3, 20, 0, 9};
    const kv_case c = {4, 4, 2, 2, 40, 64, CLATTN_DTYPE_F16, 16, lens, 1, 1, -1};
    kv_run r;
    kv_open(&r, &c, (clattn_algorithm)_i);
    float *o_ref = malloc(r.q_elems * sizeof(float)), *lse_ref = malloc(r.rows * 4);
    OK(clattn_reference_kvcache(r.p, r.q, r.k, r.v, r.lens, r.table, r.k_new, r.v_new, o_ref,
                                lse_ref));
    /* a distinct offset per buffer, multiples of 4 bytes */
    enum { N = 9 };
    const size_t off[N] = {64, 128, 192, 256, 320, 384, 448, 512, 576};
    const size_t bytes[N] = {r.q_elems * r.esize, r.cache_elems * r.esize,
                             r.cache_elems * r.esize, (size_t)c.batch * 4,
                             (size_t)c.batch * r.pages_per_seq * 4, r.new_elems * r.esize,
                             r.new_elems * r.esize, r.q_elems * r.esize, r.rows * 4};
    const void *host[N] = {r.q, r.k, r.v, r.lens, r.table, r.k_new, r.v_new, NULL, NULL};
    cl_mem big[N];
    cl_command_queue queue;
    clattn_context_get_cl(test_context(), NULL, NULL, &queue);
    for (int i = 0; i < N; i++) {
        big[i] = device_copy(bytes[i] + off[i], NULL);
        if (host[i])
            clEnqueueWriteBuffer(queue, big[i], CL_TRUE, off[i], bytes[i], host[i], 0, NULL, NULL);
    }
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), r.p, &plan));
    OK(clattn_enqueue_kvcache(plan, NULL, big[0], off[0], big[1], off[1], big[2], off[2], big[3],
                              off[3], big[4], off[4], big[5], off[5], big[6], off[6], big[7],
                              off[7], big[8], off[8], 0, NULL, NULL));
    void *o = malloc(bytes[7]);
    float *lse = malloc(bytes[8]);
    clEnqueueReadBuffer(queue, big[7], CL_TRUE, off[7], bytes[7], o, 0, NULL, NULL);
    clEnqueueReadBuffer(queue, big[8], CL_TRUE, off[8], bytes[8], lse, 0, NULL, NULL);
    double err, lse_err;
    int passed;
    OK(clattn_compare(r.p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed));
    ck_assert_msg(passed, "with offsets: error %g, LSE error %g", err, lse_err);
    clattn_plan_destroy(plan);
    for (int i = 0; i < N; i++)
        clReleaseMemObject(big[i]);
    free(o);
    free(lse);
    free(o_ref);
    free(lse_ref);
    kv_close(&r);
}
END_TEST

/* Attention over keys [0, n) equals the merge of [0, h) and [h, n), and merging with an empty
 * half (LSE -inf) changes nothing. */
START_TEST(merge_of_halves_is_the_whole)
{
    const int n = 300, half = _i == 0 ? 137 : 0;
    attn_case ac = case_default();
    ac.batch = 2;
    ac.heads = 4;
    ac.kv_heads = 2;
    ac.seq_q = 5;
    ac.seq_kv = n;
    ac.head_dim = 40;
    ac.dtype = _i == 2 ? CLATTN_DTYPE_F16 : CLATTN_DTYPE_F32;
    clattn_problem *whole = case_problem(&ac, CLATTN_ALGO_TILED);
    size_t qb, kb, ob;
    clattn_problem_tensor_bytes(whole, CLATTN_TENSOR_Q, &qb);
    clattn_problem_tensor_bytes(whole, CLATTN_TENSOR_K, &kb);
    ob = qb;
    const size_t es = clattn_dtype_size(ac.dtype), rows = 2 * 4 * 5;
    void *q = random_tensor(ac.dtype, qb / es, 1.0f, 21);
    void *k = random_tensor(ac.dtype, kb / es, 1.0f, 22);
    void *v = random_tensor(ac.dtype, kb / es, 1.0f, 23);
    float *o_ref = malloc(ob / es * 4), lse_ref[40];
    OK(clattn_reference(whole, q, k, v, o_ref, lse_ref));

    /* the two halves: the same K and V with seq_kv shortened and the start offset */
    cl_mem mq = device_copy(qb, q), mk = device_copy(kb, k), mv = device_copy(kb, v);
    cl_mem oa = device_copy(ob, NULL), ob_ = device_copy(ob, NULL), la = device_copy(rows * 4, NULL),
           lb = device_copy(rows * 4, NULL);
    int64_t ks[3];
    clattn_problem_get_strides(whole, CLATTN_TENSOR_K, &ks[0], &ks[1], &ks[2]);
    clattn_plan *plan = NULL;
    for (int part = 0; part < 2; part++) {
        clattn_problem *p;
        clattn_problem_clone(whole, &p);
        int keys = part ? n - half : half;
        if (keys == 0) { /* an empty half: LSE -inf everywhere, O anything finite */
            float minus_inf[40], zeros[2 * 4 * 5 * 40] = {0};
            for (int i = 0; i < 40; i++)
                minus_inf[i] = -INFINITY;
            cl_command_queue queue;
            clattn_context_get_cl(test_context(), NULL, NULL, &queue);
            clEnqueueWriteBuffer(queue, la, CL_TRUE, 0, rows * 4, minus_inf, 0, NULL, NULL);
            clEnqueueWriteBuffer(queue, oa, CL_TRUE, 0, ob, zeros, 0, NULL, NULL);
            clattn_problem_destroy(p);
            continue;
        }
        clattn_problem_set(p, CLATTN_PARAM_SEQ_KV, keys);
        clattn_problem_set_strides(p, CLATTN_TENSOR_K, ks[0], ks[1], ks[2]);
        clattn_problem_set_strides(p, CLATTN_TENSOR_V, ks[0], ks[1], ks[2]);
        clattn_plan *pp;
        OK(clattn_plan_create(test_context(), p, &pp));
        const size_t start = part ? (size_t)half * (size_t)ks[1] * es : 0;
        OK(clattn_enqueue(pp, NULL, mq, 0, mk, start, mv, start, part ? ob_ : oa, 0, part ? lb : la,
                          0, 0, NULL, NULL));
        if (part)
            plan = pp;
        else
            clattn_plan_destroy(pp);
        clattn_problem_destroy(p);
    }
    /* merged in place into the first half's buffers */
    OK(clattn_enqueue_merge(plan, NULL, oa, 0, la, 0, ob_, 0, lb, 0, oa, 0, la, 0, 0, NULL, NULL));
    void *o = malloc(ob);
    float lse[40];
    read_back(oa, ob, o);
    read_back(la, rows * 4, lse);
    double err, lse_err;
    int passed;
    OK(clattn_compare(whole, o, o_ref, lse, lse_ref, &err, &lse_err, &passed));
    ck_assert_msg(passed, "merge: error %g, LSE error %g", err, lse_err);
    clattn_plan_destroy(plan);
    cl_mem mems[] = {mq, mk, mv, oa, ob_, la, lb};
    for (int i = 0; i < 7; i++)
        clReleaseMemObject(mems[i]);
    free(q);
    free(k);
    free(v);
    free(o);
    free(o_ref);
    clattn_problem_destroy(whole);
}
END_TEST

/* Lengths and pages are device data: a bad one makes its entry's rows NaN and leaves the
 * other entries exact. */
START_TEST(bad_device_values_give_nan_rows)
{
    static const int lens[] = {5, 0, 130, 64};
    kv_case c = {4, 4, 2, 1, 130, 64, CLATTN_DTYPE_F32, 16, lens, 0, 1, -1};
    kv_run r;
    kv_open(&r, &c, (clattn_algorithm)_i);
    r.lens[0] = 131;                           /* entry 0: beyond the capacity */
    r.table[2 * r.pages_per_seq + 1] = 10000;  /* entry 2: a page outside the pool */
    cl_command_queue queue;
    clattn_context_get_cl(test_context(), NULL, NULL, &queue);
    clEnqueueWriteBuffer(queue, r.mlens, CL_TRUE, 0, 16, r.lens, 0, NULL, NULL);
    clEnqueueWriteBuffer(queue, r.mtable, CL_TRUE, 0, (size_t)4 * r.pages_per_seq * 4, r.table,
                         0, NULL, NULL);
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), r.p, &plan));
    OK(kv_enqueue(&r, plan));
    float *o = malloc(r.q_elems * 4), lse[16];
    read_back(r.mo, r.q_elems * 4, o);
    read_back(r.mlse, sizeof lse, lse);
    for (int b = 0; b < 4; b++)
        for (int h = 0; h < 4; h++) {
            float x = o[(b * 4 + h) * 64], l = lse[b * 4 + h];
            if (b == 0 || b == 2)
                ck_assert_msg(isnan(x) && isnan(l), "entry %d head %d: %g, LSE %g", b, h,
                              (double)x, (double)l);
            else
                ck_assert_msg(!isnan(x) && !isnan(l), "entry %d head %d: NaN", b, h);
        }
    ck_assert(isinf(lse[4]) && lse[4] < 0); /* entry 1 is empty: LSE -inf */
    clattn_plan_destroy(plan);
    free(o);
    kv_close(&r);
}
END_TEST

/* Whether a buffer still holds `bytes` of `host`. */
static int unchanged(cl_mem m, size_t bytes, const void *host)
{
    void *now = malloc(bytes);
    read_back(m, bytes, now);
    int same = memcmp(now, host, bytes) == 0;
    free(now);
    return same;
}

/* An append writes the caches: neither may share bytes with the other, with any other
 * argument, or with itself (two cache rows in one place). Each refusal leaves O and the
 * caches as they were. Without an append the caches are only read and may coincide. */
START_TEST(append_refuses_overlapping_caches)
{
    static const int lens[] = {3, 4};
    const kv_case c = {2, 4, 2, 1, 64, 64, CLATTN_DTYPE_F32, 0, lens, 1, 1, -1};
    kv_run r;
    kv_open(&r, &c, (clattn_algorithm)_i);
    const size_t o_bytes = r.q_elems * 4, cache_bytes = r.cache_elems * 4;
    float *sentinel = malloc(o_bytes);
    for (size_t i = 0; i < r.q_elems; i++)
        sentinel[i] = 12345.0f;
    cl_command_queue queue;
    clattn_context_get_cl(test_context(), NULL, NULL, &queue);
    clEnqueueWriteBuffer(queue, r.mo, CL_TRUE, 0, o_bytes, sentinel, 0, NULL, NULL);
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), r.p, &plan));
    /* one cache for both */
    REFUSED(clattn_enqueue_kvcache(plan, NULL, r.mq, 0, r.mk, 0, r.mk, 0, r.mlens, 0, NULL, 0,
                                   r.mk_new, 0, r.mv_new, 0, r.mo, 0, r.mlse, 0, 0, NULL, NULL),
            "K overlaps V");
    /* Q read from the K cache, k_new from the V cache, lengths inside the K cache */
    REFUSED(clattn_enqueue_kvcache(plan, NULL, r.mk, 0, r.mk, 0, r.mv, 0, r.mlens, 0, NULL, 0,
                                   r.mk_new, 0, r.mv_new, 0, r.mo, 0, r.mlse, 0, 0, NULL, NULL),
            "K overlaps Q");
    REFUSED(clattn_enqueue_kvcache(plan, NULL, r.mq, 0, r.mk, 0, r.mv, 0, r.mlens, 0, NULL, 0,
                                   r.mv, 0, r.mv_new, 0, r.mo, 0, r.mlse, 0, 0, NULL, NULL),
            "V overlaps k_new");
    REFUSED(clattn_enqueue_kvcache(plan, NULL, r.mq, 0, r.mk, 0, r.mv, 0, r.mk, 64, NULL, 0,
                                   r.mk_new, 0, r.mv_new, 0, r.mo, 0, r.mlse, 0, 0, NULL, NULL),
            "K overlaps cache_seqlens");
    /* O cut from the K cache's buffer as a sub-buffer of it */
    cl_mem parent = device_copy(cache_bytes, r.k);
    cl_buffer_region region = {0, cache_bytes};
    cl_int err;
    cl_mem k_sub = clCreateSubBuffer(parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION,
                                     &region, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    region.size = o_bytes;
    cl_mem o_sub = clCreateSubBuffer(parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION,
                                     &region, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    REFUSED(clattn_enqueue_kvcache(plan, NULL, r.mq, 0, k_sub, 0, r.mv, 0, r.mlens, 0, NULL, 0,
                                   r.mk_new, 0, r.mv_new, 0, o_sub, 0, r.mlse, 0, 0, NULL, NULL),
            "K overlaps O");
    ck_assert(unchanged(parent, cache_bytes, r.k));
    clReleaseMemObject(o_sub);
    clReleaseMemObject(k_sub);
    clReleaseMemObject(parent);
    /* every entry's cache at one place: batch stride 0 */
    clattn_problem *shared;
    OK(clattn_problem_clone(r.p, &shared));
    for (clattn_tensor t = CLATTN_TENSOR_K; t <= CLATTN_TENSOR_V; t++)
        OK(clattn_problem_set_strides(shared, t, 0, 2 * 64, 64));
    clattn_plan *shared_plan;
    OK(clattn_plan_create(test_context(), shared, &shared_plan));
    REFUSED(clattn_enqueue_kvcache(shared_plan, NULL, r.mq, 0, r.mk, 0, r.mv, 0, r.mlens, 0,
                                   NULL, 0, r.mk_new, 0, r.mv_new, 0, r.mo, 0, r.mlse, 0, 0, NULL,
                                   NULL), "K strides (batch 0");
    clattn_plan_destroy(shared_plan);
    clattn_problem_destroy(shared);
    ck_assert(unchanged(r.mo, o_bytes, sentinel));
    ck_assert(unchanged(r.mk, cache_bytes, r.k));
    ck_assert(unchanged(r.mv, cache_bytes, r.v));
    /* read only, one buffer may serve as both caches */
    OK(clattn_enqueue_kvcache(plan, NULL, r.mq, 0, r.mk, 0, r.mk, 0, r.mlens, 0, NULL, 0, NULL,
                              0, NULL, 0, r.mo, 0, r.mlse, 0, 0, NULL, NULL));
    ck_assert(!unchanged(r.mo, o_bytes, sentinel));
    clattn_plan_destroy(plan);
    free(sentinel);
    kv_close(&r);
}
END_TEST

/* A paged pool whose pages overlap (the page stride, K and V's batch stride, one row short
 * of a page) would have an append write one row over another: refused. */
START_TEST(append_refuses_overlapping_pages)
{
    static const int lens[] = {3, 4};
    const kv_case c = {2, 4, 2, 1, 64, 64, CLATTN_DTYPE_F32, 16, lens, 1, 1, -1};
    kv_run r;
    kv_open(&r, &c, (clattn_algorithm)_i);
    for (clattn_tensor t = CLATTN_TENSOR_K; t <= CLATTN_TENSOR_V; t++)
        OK(clattn_problem_set_strides(r.p, t, 15 * 2 * 64, 2 * 64, 64));
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), r.p, &plan));
    REFUSED(kv_enqueue(&r, plan), "K strides (page 1920");
    ck_assert(unchanged(r.mk, r.cache_elems * 4, r.k));
    /* the same pages read without an append are only read */
    OK(clattn_enqueue_kvcache(plan, NULL, r.mq, 0, r.mk, 0, r.mv, 0, r.mlens, 0, r.mtable, 0,
                              NULL, 0, NULL, 0, r.mo, 0, r.mlse, 0, 0, NULL, NULL));
    clattn_plan_destroy(plan);
    kv_close(&r);
}
END_TEST

/* The merge's output may be either input exactly (in place, as merge_of_halves_is_the_whole
 * does), but not partly: a row of O one row past O_a's would overwrite O_a's next row before
 * it is read. Refused, with nothing written. */
START_TEST(merge_refuses_partial_overlap)
{
    static const int lens[] = {3, 4};
    const kv_case c = {2, 4, 2, 3, 64, 64, CLATTN_DTYPE_F32, 0, lens, 0, 1, -1};
    kv_run r;
    kv_open(&r, &c, CLATTN_ALGO_DECODE);
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), r.p, &plan));
    const size_t o_bytes = r.q_elems * 4, row = 4 * 64 * 4;
    cl_mem big = device_copy(o_bytes + row, NULL), lse2 = device_copy(r.rows * 4 + 4, NULL);
    float *zeros = calloc(1, o_bytes + row);
    cl_command_queue queue;
    clattn_context_get_cl(test_context(), NULL, NULL, &queue);
    clEnqueueWriteBuffer(queue, big, CL_TRUE, 0, o_bytes + row, zeros, 0, NULL, NULL);
    REFUSED(clattn_enqueue_merge(plan, NULL, big, 0, r.mlse, 0, r.mo, 0, r.mlse, 0, big, row,
                                 lse2, 0, 0, NULL, NULL), "O overlaps O_a");
    REFUSED(clattn_enqueue_merge(plan, NULL, r.mo, 0, lse2, 0, r.mo, 0, r.mlse, 0, big, 0, lse2,
                                 4, 0, NULL, NULL), "LSE overlaps LSE_a");
    /* O over the LSE it writes */
    REFUSED(clattn_enqueue_merge(plan, NULL, r.mo, 0, r.mlse, 0, r.mo, 0, r.mlse, 0, big, 0, big,
                                 row, 0, NULL, NULL), "O overlaps LSE");
    ck_assert(unchanged(big, o_bytes + row, zeros));
    clattn_plan_destroy(plan);
    clReleaseMemObject(big);
    clReleaseMemObject(lse2);
    free(zeros);
    kv_close(&r);
}
END_TEST

/* A buffer of `bytes` at offset GUARD, between GUARD bytes of a pattern on each side. */
enum { GUARD = 256, GUARD_BYTE = 0xa5 };

static cl_mem guarded_copy(size_t bytes, const void *host)
{
    unsigned char *all = malloc(bytes + 2 * GUARD);
    memset(all, GUARD_BYTE, bytes + 2 * GUARD);
    if (host)
        memcpy(all + GUARD, host, bytes);
    cl_mem m = device_copy(bytes + 2 * GUARD, all);
    free(all);
    return m;
}

static void check_guards(cl_mem m, size_t bytes, const char *name)
{
    unsigned char *all = malloc(bytes + 2 * GUARD);
    read_back(m, bytes + 2 * GUARD, all);
    for (size_t i = 0; i < GUARD; i++) {
        ck_assert_msg(all[i] == GUARD_BYTE, "%s: byte %zu before the tensor was written", name,
                      GUARD - i);
        ck_assert_msg(all[GUARD + bytes + i] == GUARD_BYTE,
                      "%s: byte %zu after the tensor was written", name, i);
    }
    free(all);
}

/* Lengths near INT32_MAX and below 0, and one that leaves no room for the step's rows: each
 * such entry gets NaN rows, an append leaves its cache as it was, the good entry is exact,
 * and no byte around any buffer is touched. Variants: contiguous/paged x append or not x
 * tiled/windowed/decode. */
START_TEST(extreme_lengths_touch_nothing)
{
    static const int lens[] = {INT32_MAX, INT32_MAX - 1, INT32_MIN, 40 - 2 + 1, 7};
    const int paged = _i % 2, append = _i / 2 % 2;
    const clattn_algorithm algo = (clattn_algorithm)(CLATTN_ALGO_TILED + _i / 4);
    const kv_case c = {5, 4, 2, 2, 40, 64, CLATTN_DTYPE_F32, paged ? 16 : 0, lens, append, 1, 8};
    kv_run r;
    kv_open(&r, &c, algo);
    float *o_ref = malloc(r.q_elems * sizeof(float)), *lse_ref = malloc(r.rows * 4);
    OK(clattn_reference_kvcache(r.p, r.q, r.k, r.v, r.lens, r.table, r.k_new, r.v_new, o_ref,
                                lse_ref));
    enum { N = 9 };
    const char *names[N] = {"Q", "K cache", "V cache", "lengths", "block table", "k_new", "v_new",
                            "O", "LSE"};
    const size_t bytes[N] = {r.q_elems * r.esize, r.cache_elems * r.esize,
                             r.cache_elems * r.esize, (size_t)c.batch * 4,
                             (size_t)c.batch * r.pages_per_seq * 4, r.new_elems * r.esize,
                             r.new_elems * r.esize, r.q_elems * r.esize, r.rows * 4};
    const void *host[N] = {r.q, r.k, r.v, r.lens, r.table, r.k_new, r.v_new, NULL, NULL};
    cl_mem m[N];
    for (int i = 0; i < N; i++)
        m[i] = (i == 4 && !paged) || ((i == 5 || i == 6) && !append)
                   ? NULL
                   : guarded_copy(bytes[i], host[i]);
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), r.p, &plan));
    OK(clattn_enqueue_kvcache(plan, NULL, m[0], GUARD, m[1], GUARD, m[2], GUARD, m[3], GUARD,
                              m[4], GUARD, m[5], GUARD, m[6], GUARD, m[7], GUARD, m[8], GUARD, 0,
                              NULL, NULL));
    void *o = malloc(bytes[7]);
    float *lse = malloc(bytes[8]);
    read_at(m[7], GUARD, bytes[7], o);
    read_at(m[8], GUARD, bytes[8], lse);
    for (int b = 0; b < c.batch; b++) { /* the reference agrees: entries 0-2 (3 with append) */
        const int bad = b < 3 || (append && b == 3);
        const size_t first = (size_t)b * c.heads * c.seq_q;
        ck_assert_msg(isnan(lse_ref[first]) == bad, "entry %d: reference LSE %g", b,
                      (double)lse_ref[first]);
    }
    double err, lse_err;
    int passed;
    OK(clattn_compare(r.p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed));
    ck_assert_msg(passed, "paged %d append %d algorithm %d: error %g, LSE error %g\n%s", paged,
                  append, (int)algo, err, lse_err, clattn_plan_describe(plan));
    for (int i = 0; i < N; i++)
        if (m[i])
            check_guards(m[i], bytes[i], names[i]);
    if (append) {
        check_appended(&r, &c, m[1], GUARD, r.k, r.k_new);
        check_appended(&r, &c, m[2], GUARD, r.v, r.v_new);
    }
    clattn_plan_destroy(plan);
    for (int i = 0; i < N; i++)
        if (m[i])
            clReleaseMemObject(m[i]);
    free(o);
    free(lse);
    free(o_ref);
    free(lse_ref);
    kv_close(&r);
}
END_TEST

/* Whether the test device is Mesa's llvmpipe, which merges at most 8192 splits
 * (merge_max_splits in lib/device_quirks.h). */
static int device_is_llvmpipe(void)
{
    cl_device_id device;
    char name[256] = "";
    clattn_context_get_cl(test_context(), NULL, &device, NULL);
    clGetDeviceInfo(device, CL_DEVICE_NAME, sizeof name - 1, name, NULL);
    return strstr(name, "llvmpipe") != NULL;
}

/* The last keys of a paged cache of 2^31 - 1 keys (every logical page one of two pool pages),
 * through a window, with the step's key appended at the last position: key indices and loop
 * counters reach INT32_MAX. Then the same with 2^23 keys, which every device takes. The
 * answer is that of a small cache holding the window's keys. */
START_TEST(window_at_the_end_of_a_huge_cache)
{
    enum { PAGE = 256, POOL = 2, D = 16, WINDOW = 100 };
    const clattn_algorithm algo = (clattn_algorithm)(CLATTN_ALGO_TILED + _i % 3);
    const int64_t n = _i < 3 ? INT32_MAX : 1 << 23, pages_per_seq = (n + PAGE - 1) / PAGE;
    attn_case ac = case_default();
    ac.heads = 2;
    ac.seq_q = 1;
    ac.seq_kv = WINDOW + 1;
    ac.head_dim = D;
    ac.causal = 1;
    ac.window_left = WINDOW;
    clattn_problem *small = case_problem(&ac, algo), *big;
    OK(clattn_problem_clone(small, &big));
    OK(clattn_problem_set(big, CLATTN_PARAM_SEQ_KV, n));
    OK(clattn_problem_set(big, CLATTN_PARAM_PAGE_SIZE, PAGE));
    OK(clattn_problem_set(big, CLATTN_PARAM_NUM_PAGES, POOL));
    const size_t pool = (size_t)POOL * PAGE * D;
    float *q = random_tensor(CLATTN_DTYPE_F32, 2 * D, 1.0f, 31);
    float *k = random_tensor(CLATTN_DTYPE_F32, pool, 1.0f, 32);
    float *v = random_tensor(CLATTN_DTYPE_F32, pool, 1.0f, 33);
    float *k_new = random_tensor(CLATTN_DTYPE_F32, D, 1.0f, 34);
    float *v_new = random_tensor(CLATTN_DTYPE_F32, D, 1.0f, 35);
    int32_t len = (int32_t)(n - 1), *table = malloc((size_t)pages_per_seq * 4);
    for (int64_t i = 0; i < pages_per_seq; i++)
        table[i] = (int32_t)(i % POOL);

    /* the window's keys, gathered into a small contiguous cache */
    float *k_small = malloc((WINDOW + 1) * D * 4), *v_small = malloc((WINDOW + 1) * D * 4);
    for (int t = 0; t <= WINDOW; t++) {
        const int64_t j = n - 1 - WINDOW + t;
        const size_t row = (size_t)(table[j / PAGE] * PAGE + j % PAGE) * D;
        memcpy(k_small + t * D, j == len ? k_new : k + row, D * 4);
        memcpy(v_small + t * D, j == len ? v_new : v + row, D * 4);
    }
    float o_ref[2 * D], lse_ref[2];
    OK(clattn_reference(small, q, k_small, v_small, o_ref, lse_ref));

    cl_mem mq = device_copy(2 * D * 4, q), mk = device_copy(pool * 4, k),
           mv = device_copy(pool * 4, v), mlen = device_copy(4, &len),
           mtable = device_copy((size_t)pages_per_seq * 4, table),
           mk_new = device_copy(D * 4, k_new), mv_new = device_copy(D * 4, v_new),
           mo = device_copy(2 * D * 4, NULL), mlse = device_copy(2 * 4, NULL);
    clattn_plan *plan;
    clattn_status st = clattn_plan_create(test_context(), big, &plan);
    if (st == CLATTN_ERROR_UNSUPPORTED && n == INT32_MAX && device_is_llvmpipe()) {
        /* refused in words, not answered wrong */
        ck_assert_msg(strstr(clattn_message(test_context()), "merge_max_splits"), "%s",
                      clattn_message(test_context()));
        goto done;
    }
    ck_assert_msg(st == CLATTN_SUCCESS, "plan: %s", clattn_message(test_context()));
    OK(clattn_enqueue_kvcache(plan, NULL, mq, 0, mk, 0, mv, 0, mlen, 0, mtable, 0, mk_new, 0,
                              mv_new, 0, mo, 0, mlse, 0, 0, NULL, NULL));
    float o[2 * D], lse[2];
    read_back(mo, sizeof o, o);
    read_back(mlse, sizeof lse, lse);
    double err, lse_err;
    int passed;
    OK(clattn_compare(small, o, o_ref, lse, lse_ref, &err, &lse_err, &passed));
    ck_assert_msg(passed, "algorithm %d, %lld keys: error %g, LSE error %g\n%s", (int)algo,
                  (long long)n, err, lse_err, clattn_plan_describe(plan));
    clattn_plan_destroy(plan);
done:;
    cl_mem mems[] = {mq, mk, mv, mlen, mtable, mk_new, mv_new, mo, mlse};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        clReleaseMemObject(mems[i]);
    void *host[] = {q, k, v, k_new, v_new, table, k_small, v_small};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++)
        free(host[i]);
    clattn_problem_destroy(big);
    clattn_problem_destroy(small);
}
END_TEST

/* A page outside the pool makes NaN exactly the rows that see one of its keys (the reference
 * says which): rows that share a tile with such keys without seeing them stay exact, and a
 * step's rows appended into the page are not written, so the rows that see them are NaN too.
 * Window of 3 keys, causal, page 0 of entry 0 outside the pool: rows 0-3 see keys of it,
 * rows 4-5 do not. Variants: append or not x tiled/windowed/decode. */
START_TEST(bad_page_poisons_only_its_rows)
{
    static const int lens_plain[] = {20, 9}, lens_append[] = {14, 3};
    const int append = _i % 2;
    const clattn_algorithm algo = (clattn_algorithm)(CLATTN_ALGO_TILED + _i / 2);
    const kv_case c = {2, 2, 1, 6, 64, 64, CLATTN_DTYPE_F32, 16,
                       append ? lens_append : lens_plain, append, 1, 2};
    kv_run r;
    kv_open(&r, &c, algo);
    r.table[0] = r.num_pages + 5;
    cl_command_queue queue;
    clattn_context_get_cl(test_context(), NULL, NULL, &queue);
    clEnqueueWriteBuffer(queue, r.mtable, CL_TRUE, 0, (size_t)c.batch * r.pages_per_seq * 4,
                         r.table, 0, NULL, NULL);
    float *o_ref = malloc(r.q_elems * sizeof(float)), *lse_ref = malloc(r.rows * 4);
    OK(clattn_reference_kvcache(r.p, r.q, r.k, r.v, r.lens, r.table, r.k_new, r.v_new, o_ref,
                                lse_ref));
    for (int i = 0; i < c.seq_q; i++) /* the case is what the comment says */
        ck_assert_msg(isnan(lse_ref[i]) == (i < 4), "reference row %d: LSE %g", i,
                      (double)lse_ref[i]);
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), r.p, &plan));
    OK(kv_enqueue(&r, plan));
    float *o = malloc(r.q_elems * 4), *lse = malloc(r.rows * 4);
    read_back(r.mo, r.q_elems * 4, o);
    read_back(r.mlse, r.rows * 4, lse);
    double err, lse_err;
    int passed;
    OK(clattn_compare(r.p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed));
    ck_assert_msg(passed, "append %d algorithm %d: error %g, LSE error %g\n%s", append, (int)algo,
                  err, lse_err, clattn_plan_describe(plan));
    clattn_plan_destroy(plan);
    free(o);
    free(lse);
    free(o_ref);
    free(lse_ref);
    kv_close(&r);
}
END_TEST

START_TEST(misuse_is_refused)
{
    static const int lens[] = {3, 4};
    kv_case c = {2, 4, 2, 1, 64, 64, CLATTN_DTYPE_F32, 16, lens, 1, 1, -1};
    kv_run r;
    kv_open(&r, &c, CLATTN_ALGO_DECODE);
    clattn_plan *plan;
    OK(clattn_plan_create(test_context(), r.p, &plan));
    /* paged without a table */
    ck_assert_int_eq(clattn_enqueue_kvcache(plan, NULL, r.mq, 0, r.mk, 0, r.mv, 0, r.mlens, 0,
                                            NULL, 0, NULL, 0, NULL, 0, r.mo, 0, NULL, 0, 0, NULL,
                                            NULL),
                     CLATTN_ERROR_INVALID_ARGUMENT);
    /* appending without lengths, or k_new without v_new */
    ck_assert_int_eq(clattn_enqueue_kvcache(plan, NULL, r.mq, 0, r.mk, 0, r.mv, 0, NULL, 0,
                                            r.mtable, 0, r.mk_new, 0, r.mv_new, 0, r.mo, 0, NULL,
                                            0, 0, NULL, NULL),
                     CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(clattn_enqueue_kvcache(plan, NULL, r.mq, 0, r.mk, 0, r.mv, 0, r.mlens, 0,
                                            r.mtable, 0, r.mk_new, 0, NULL, 0, r.mo, 0, NULL, 0,
                                            0, NULL, NULL),
                     CLATTN_ERROR_INVALID_ARGUMENT);
    /* a paged problem through the plain call */
    ck_assert_int_eq(clattn_enqueue(plan, NULL, r.mq, 0, r.mk, 0, r.mv, 0, r.mo, 0, NULL, 0, 0,
                                    NULL, NULL),
                     CLATTN_ERROR_INVALID_ARGUMENT);
    /* a block table too small for B x pages_per_seq */
    cl_mem small = device_copy(4, NULL);
    ck_assert_int_eq(clattn_enqueue_kvcache(plan, NULL, r.mq, 0, r.mk, 0, r.mv, 0, r.mlens, 0,
                                            small, 0, NULL, 0, NULL, 0, r.mo, 0, NULL, 0, 0, NULL,
                                            NULL),
                     CLATTN_ERROR_INVALID_ARGUMENT);
    clReleaseMemObject(small);
    clattn_plan_destroy(plan);
    /* naive takes no cache */
    clattn_problem_set(r.p, CLATTN_PARAM_PAGE_SIZE, 0);
    clattn_problem_set(r.p, CLATTN_PARAM_ALGORITHM, CLATTN_ALGO_NAIVE);
    OK(clattn_plan_create(test_context(), r.p, &plan));
    ck_assert_int_eq(clattn_enqueue_kvcache(plan, NULL, r.mq, 0, r.mk, 0, r.mv, 0, r.mlens, 0,
                                            NULL, 0, NULL, 0, NULL, 0, r.mo, 0, NULL, 0, 0, NULL,
                                            NULL),
                     CLATTN_ERROR_UNSUPPORTED);
    clattn_plan_destroy(plan);
    kv_close(&r);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("kvcache");
    const int n = (int)(sizeof cases / sizeof *cases);
    TCase *tc = tcase_create("decode");
    tcase_set_timeout(tc, 900);
    tcase_add_loop_test(tc, decode_matches_reference, 0, n);
    suite_add_tcase(s, tc);
    tc = tcase_create("tiled");
    tcase_set_timeout(tc, 900);
    tcase_add_loop_test(tc, tiled_matches_reference, 0, n);
    suite_add_tcase(s, tc);
    tc = tcase_create("offsets");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, offsets_are_honoured, CLATTN_ALGO_TILED, CLATTN_ALGO_DECODE + 1);
    suite_add_tcase(s, tc);
    tc = tcase_create("merge");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, merge_of_halves_is_the_whole, 0, 3);
    suite_add_tcase(s, tc);
    tc = tcase_create("faults");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, bad_device_values_give_nan_rows, CLATTN_ALGO_TILED,
                        CLATTN_ALGO_DECODE + 1);
    tcase_add_loop_test(tc, extreme_lengths_touch_nothing, 0, 12);
    tcase_add_loop_test(tc, window_at_the_end_of_a_huge_cache, 0, 6);
    tcase_add_loop_test(tc, bad_page_poisons_only_its_rows, 0, 6);
    tcase_add_test(tc, misuse_is_refused);
    tcase_add_loop_test(tc, append_refuses_overlapping_caches, CLATTN_ALGO_TILED,
                        CLATTN_ALGO_DECODE + 1);
    tcase_add_loop_test(tc, append_refuses_overlapping_pages, CLATTN_ALGO_TILED,
                        CLATTN_ALGO_DECODE + 1);
    tcase_add_test(tc, merge_refuses_partial_overlap);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_main(make_suite, 1);
}
