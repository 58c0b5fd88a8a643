/* Packed variable-length batches (docs/semantics.md, "Packed variable-length batches"): tiled,
 * windowed and decode against the reference, one enqueue for the whole batch, on odd lengths
 * (1, and entries of 0 rows or 0 keys), Nq != Nk per entry, causal masks in both alignments,
 * windows, GQA and MQA, every storage type, rows that see no key, LSE; with ALiBi, sinks, the
 * softcap, positions per call or per entry (an entry at the last positions of its own lengths,
 * one with impossible starts) and sink tokens (each entry's first keys) on top; an additive
 * mask on the [SEQ_Q, SEQ_KV] grid read with each entry's own row and key indices (f32 and f16,
 * broadcast and full, blocks of whole hidden tiles, NaN past each entry's lengths, which no
 * kernel may use); decode's keys split and merged into the packed rows. Bad host parameters get a clear status; bad bounds on
 * the device give NaN rows or nothing, and rows no entry owns keep what they held. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define OK(call) ck_assert_msg((call) == CLATTN_SUCCESS, "%s: %s", #call, clattn_message(NULL))

#define MAX_ENTRIES 8
#define SENTINEL 5.0f /* what O and LSE hold before the call where no entry writes */
#define Q_START 500   /* positions per call */
#define K_START 480
#define SINK_TOKENS 4 /* keys of each entry (positions from K_START with positions per call) */

typedef struct varlen_case {
    int batch;
    int len_q[MAX_ENTRIES], len_k[MAX_ENTRIES];
    int heads, kv_heads, head_dim, causal, wl, wr;
    clattn_align align;
    clattn_dtype dtype;
    int extras;  /* bits: 1 ALiBi per entry, sinks and a softcap; 2 positions per call; 4 sink
                  * tokens (SINK_TOKENS of each entry's keys, beside its window); 8 decode
                  * splits the keys on every device (few work-groups: B <= 2, one kv head,
                  * seq_q * H <= 16, seq_kv > 2048); 16 positions per entry (entry_starts) */
    int tail;    /* packed rows and keys past the last entry, which no entry owns */
    clattn_mask mask;
    int mask_form; /* bits: MASK_FULL_BATCH (Bm = B, else 1), MASK_FULL_HEADS (Hm = H, else
                    * 1), MASK_BLOCKS (blocks larger than any tile, else random values) */
} varlen_case;

/* Positions per entry (extras 16): each entry a chunk at a place of its own, some of whose
 * rows sit before its first key (rows that see no key under a causal mask); entry 1's start
 * is impossible (its rows NaN). Without ALiBi, whose f32 distances are not exact that far out,
 * the last entry sits at the last positions its own lengths allow, which the longest entry's
 * would not. */
static const int32_t q_starts_of[MAX_ENTRIES] = {500, -3, 40, 2000, 7, 900, 64, 1};
static const int32_t k_starts_of[MAX_ENTRIES] = {480, 0, 300, 1990, 7, 100, 0, 0};

#define MASK_FULL_BATCH 1
#define MASK_FULL_HEADS 2
#define MASK_BLOCKS 4

#define BR CLATTN_ALIGN_BOTTOM_RIGHT
#define TL CLATTN_ALIGN_TOP_LEFT
#define F32 CLATTN_DTYPE_F32
#define F16 CLATTN_DTYPE_F16
#define BF16 CLATTN_DTYPE_BF16
#define M32 CLATTN_MASK_F32
#define M16 CLATTN_MASK_F16

static const varlen_case cases[] = {
    /* odd lengths, 1 and 0 rows, Nq != Nk per entry, causal bottom-right, GQA */
    {4, {1, 37, 0, 64}, {5, 37, 20, 100}, 4, 2, 40, 1, -1, -1, BR, F32, 0, 0, 0, 0},
    /* top-left; an entry with more rows than keys (rows that see no key), one of 0 keys */
    {3, {17, 3, 50}, {17, 60, 9}, 4, 4, 64, 1, -1, -1, TL, F16, 0, 3, 0, 0},
    {3, {17, 3, 50}, {17, 60, 9}, 4, 4, 64, 1, -1, -1, BR, F32, 0, 0, 0, 0},
    {4, {9, 33, 2, 5}, {0, 40, 2, 300}, 6, 3, 24, 0, -1, -1, BR, BF16, 0, 5, 0, 0},
    /* windows, MQA; windows that miss every key of short entries */
    {5, {1, 70, 31, 8, 129}, {3, 70, 100, 8, 129}, 8, 1, 64, 1, 7, 0, BR, BF16, 0, 0, 0, 0},
    {3, {40, 13, 77}, {21, 90, 77}, 3, 3, 32, 0, 5, 3, TL, F32, 0, 2, 0, 0},
    {2, {65, 20}, {65, 3}, 4, 2, 48, 0, 2, 2, BR, F16, 0, 0, 0, 0},
    /* the extensions, within each entry */
    {3, {20, 1, 45}, {33, 60, 45}, 4, 2, 32, 1, -1, -1, BR, F32, 1, 0, 0, 0},
    {3, {20, 1, 45}, {33, 60, 45}, 4, 2, 32, 1, 9, 0, TL, F16, 1, 1, 0, 0},
    {3, {20, 7, 45}, {33, 60, 45}, 4, 4, 40, 1, 12, 3, TL, F32, 2, 0, 0, 0},
    /* sink tokens beside windows far from them: causal, and two-sided at positions per call
     * (rows of the third entry past every window's keys see the sink tokens alone) */
    {3, {20, 7, 45}, {33, 60, 45}, 4, 2, 32, 1, 5, 0, BR, F16, 4, 0, 0, 0},
    {4, {20, 7, 45, 2}, {33, 60, 45, 0}, 4, 4, 40, 0, 6, 2, TL, BF16, 6, 1, 0, 0},
    {3, {20, 1, 45}, {33, 60, 45}, 4, 2, 32, 1, 9, 0, TL, F32, 5, 0, 0, 0},
    /* more entries than a work-group's rows, long and short */
    {8, {64, 300, 17, 1, 128, 77, 250, 9}, {64, 300, 17, 1, 128, 77, 250, 9}, 2, 1, 64, 1, -1,
     -1, BR, F32, 0, 0, 0, 0},
    /* decode's shapes (at most 16 rows an entry; decode_local where a kv head's rows are at
     * most 16) against keys enough for several splits, with entries of 0 rows and 0 keys, and
     * more rows than keys (rows that see no key) */
    {4, {1, 0, 7, 3}, {2100, 40, 900, 0}, 4, 2, 40, 1, -1, -1, BR, F32, 0, 0, 0, 0},
    {3, {5, 16, 2}, {3, 1300, 700}, 4, 4, 64, 1, -1, -1, BR, F16, 0, 2, 0, 0},
    {3, {5, 16, 2}, {3, 1300, 700}, 4, 4, 64, 1, -1, -1, TL, BF16, 0, 0, 0, 0},
    {2, {8, 3}, {13, 2500}, 2, 1, 24, 1, -1, -1, BR, BF16, 8, 1, 0, 0},
    {2, {2, 1}, {3000, 700}, 8, 1, 64, 0, -1, -1, BR, F32, 8, 0, 0, 0},
    {2, {3, 8}, {2600, 5}, 2, 1, 40, 1, -1, -1, TL, F16, 8, 0, 0, 0},
    /* keys too few to split: decode writes the packed rows itself */
    {4, {3, 1, 0, 6}, {50, 7, 3, 2}, 4, 2, 40, 1, -1, -1, BR, F16, 0, 2, 0, 0},
    {3, {6, 2, 5}, {30, 0, 11}, 8, 1, 24, 1, -1, -1, TL, BF16, 0, 0, 0, 0},
    /* more rows a kv head than decode_local's 16: GPUs' decode runs attend_local's tiles */
    {3, {5, 0, 4}, {1700, 9, 2100}, 8, 2, 32, 1, -1, -1, BR, F16, 0, 1, 0, 0},
    /* and the extensions: windows that miss short entries' keys, sink tokens, positions */
    {3, {4, 1, 6}, {1500, 2200, 6}, 4, 2, 32, 1, 300, 0, TL, F16, 1, 0, 0, 0},
    {2, {5, 2}, {1000, 2100}, 2, 1, 40, 0, 64, 3, BR, F32, 6 | 8, 0, 0, 0},
    {2, {7, 3}, {2300, 900}, 2, 1, 32, 1, 100, 0, BR, BF16, 1 | 4 | 8, 0, 0, 0},
    /* an additive mask, each entry's rows and keys at its own (i, j): full and broadcast, f32
     * and f16, random values (-inf among them) and blocks of whole hidden tiles; 0 rows, 0
     * keys, causal, windows, GQA and MQA, the extensions beside it */
    {4, {1, 37, 0, 64}, {5, 37, 20, 100}, 4, 2, 40, 1, -1, -1, BR, F32, 0, 0, M32, 3},
    {3, {17, 3, 50}, {17, 60, 9}, 4, 4, 64, 1, -1, -1, TL, F16, 0, 3, M16, 0},
    {4, {9, 33, 2, 5}, {0, 40, 2, 300}, 6, 3, 24, 0, -1, -1, BR, BF16, 0, 5, M16, 1 | 4},
    {8, {64, 300, 17, 1, 128, 77, 250, 9}, {64, 300, 17, 1, 128, 77, 250, 9}, 2, 1, 64, 0, -1,
     -1, BR, F32, 0, 0, M32, 1 | 4},
    {3, {200, 13, 257}, {290, 90, 301}, 4, 2, 32, 1, -1, -1, TL, F16, 0, 0, M16, 2 | 4},
    {5, {1, 70, 31, 8, 129}, {3, 70, 100, 8, 129}, 8, 1, 64, 1, 7, 0, BR, BF16, 0, 0, M32, 2 | 4},
    {3, {250, 13, 200}, {300, 90, 260}, 4, 1, 48, 1, 150, 0, BR, F32, 0, 0, M32, 3 | 4},
    {3, {20, 1, 45}, {33, 60, 45}, 4, 2, 32, 1, 9, 0, TL, F16, 1, 1, M32, 3},
    /* and decode's shapes: keys split, entries of 0 rows and 0 keys, attend_local's tiles */
    {4, {1, 0, 7, 3}, {2100, 40, 900, 0}, 4, 2, 40, 1, -1, -1, BR, F32, 0, 0, M16, 3 | 4},
    {2, {8, 3}, {13, 2500}, 2, 1, 24, 1, -1, -1, BR, BF16, 8, 1, M32, 0},
    {3, {5, 0, 4}, {1700, 9, 2100}, 8, 2, 32, 1, -1, -1, BR, F16, 0, 1, M16, 1 | 4},
    /* positions per entry: causal and windows, the extensions, sink tokens, a mask; decode's
     * shapes with its keys split and with attend_local's tiles */
    {4, {20, 7, 45, 2}, {33, 60, 45, 5}, 4, 2, 32, 1, -1, -1, BR, F32, 16, 0, 0, 0},
    {3, {20, 1, 45}, {33, 60, 45}, 4, 2, 32, 1, 9, 0, TL, F16, 1 | 16, 1, 0, 0},
    {3, {20, 7, 45}, {33, 60, 45}, 4, 2, 32, 1, 5, 0, BR, BF16, 4 | 16, 0, 0, 0},
    {4, {9, 33, 2, 5}, {0, 40, 2, 300}, 6, 3, 24, 0, 6, 2, BR, F32, 16, 5, 0, 0},
    {3, {20, 1, 45}, {33, 60, 45}, 4, 2, 32, 1, -1, -1, TL, F16, 16, 1, M32, 3},
    {3, {5, 16, 2}, {3, 1300, 700}, 4, 4, 64, 1, -1, -1, BR, F16, 16, 2, 0, 0},
    {2, {7, 3}, {2300, 900}, 2, 1, 32, 1, 100, 0, BR, F32, 1 | 8 | 16, 0, 0, 0},
    {2, {3, 8}, {2600, 5}, 2, 1, 40, 1, -1, -1, TL, BF16, 8 | 16, 0, 0, 0},
    {3, {5, 0, 4}, {1700, 9, 2100}, 8, 2, 32, 1, -1, -1, BR, F16, 16, 1, 0, 0},
};

typedef struct varlen_run {
    clattn_problem *problem;
    int32_t cu_q[MAX_ENTRIES + 1], cu_k[MAX_ENTRIES + 1];
    int32_t q_starts[MAX_ENTRIES], k_starts[MAX_ENTRIES]; /* extras 16 */
    int total_q, total_kv, seq_q, seq_kv;
} varlen_run;

static const char *varlen_name(const varlen_case *vc)
{
    static char name[512];
    int len = snprintf(name, sizeof name, "B %d H %d/%d d %d causal %d window (%d, %d) %s %s "
                                          "extras %d, lengths",
                       vc->batch, vc->heads, vc->kv_heads, vc->head_dim, vc->causal, vc->wl,
                       vc->wr, vc->align == BR ? "bottom-right" : "top-left",
                       vc->dtype == F32 ? "f32" : vc->dtype == F16 ? "f16" : "bf16", vc->extras);
    if (vc->mask)
        len += snprintf(name + len, sizeof name - (size_t)len, ", mask %s form %d,",
                        vc->mask == M16 ? "f16" : "f32", vc->mask_form);
    for (int b = 0; b < vc->batch && len < (int)sizeof name; b++)
        len += snprintf(name + len, sizeof name - (size_t)len, " %d/%d", vc->len_q[b],
                        vc->len_k[b]);
    return name;
}

/* The case's problem, with the bounds of its packed entries (and `tail` rows after them). */
static varlen_run make_run(const varlen_case *vc, clattn_algorithm algo)
{
    varlen_run r = {0};
    r.seq_q = r.seq_kv = 1;
    for (int b = 0; b < vc->batch; b++) {
        r.cu_q[b + 1] = r.cu_q[b] + vc->len_q[b];
        r.cu_k[b + 1] = r.cu_k[b] + vc->len_k[b];
        r.seq_q = vc->len_q[b] > r.seq_q ? vc->len_q[b] : r.seq_q;
        r.seq_kv = vc->len_k[b] > r.seq_kv ? vc->len_k[b] : r.seq_kv;
    }
    for (int b = 0; b < vc->batch; b++) {
        const int last = b == vc->batch - 1 && !(vc->extras & 1);
        r.q_starts[b] = last ? INT32_MAX - (vc->len_q[b] ? vc->len_q[b] - 1 : 0) : q_starts_of[b];
        r.k_starts[b] = last ? INT32_MAX - (vc->len_k[b] ? vc->len_k[b] - 1 : 0) : k_starts_of[b];
    }
    r.total_q = r.cu_q[vc->batch] + vc->tail;
    r.total_kv = r.cu_k[vc->batch] + vc->tail;
    r.total_q = r.total_q > r.seq_q ? r.total_q : r.seq_q;
    r.total_kv = r.total_kv > r.seq_kv ? r.total_kv : r.seq_kv;
    clattn_problem *p;
    OK(clattn_problem_create(&p));
    const struct {
        clattn_param param;
        int64_t value;
    } set[] = {
        {CLATTN_PARAM_VARLEN, 1},
        {CLATTN_PARAM_BATCH, vc->batch},
        {CLATTN_PARAM_HEADS, vc->heads},
        {CLATTN_PARAM_KV_HEADS, vc->kv_heads},
        {CLATTN_PARAM_HEAD_DIM, vc->head_dim},
        {CLATTN_PARAM_SEQ_Q, r.seq_q},
        {CLATTN_PARAM_SEQ_KV, r.seq_kv},
        {CLATTN_PARAM_TOTAL_Q, r.total_q},
        {CLATTN_PARAM_TOTAL_KV, r.total_kv},
        {CLATTN_PARAM_CAUSAL, vc->causal},
        {CLATTN_PARAM_WINDOW_LEFT, vc->wl},
        {CLATTN_PARAM_WINDOW_RIGHT, vc->wr},
        {CLATTN_PARAM_ALIGN, vc->align},
        {CLATTN_PARAM_DTYPE, vc->dtype},
        {CLATTN_PARAM_ALGORITHM, algo},
        {CLATTN_PARAM_ALIBI, vc->extras & 1 ? CLATTN_ALIBI_PER_ENTRY : CLATTN_ALIBI_NONE},
        {CLATTN_PARAM_SINKS, vc->extras & 1},
        {CLATTN_PARAM_POSITIONS, vc->extras & 2    ? CLATTN_POSITIONS_PER_CALL
                                 : vc->extras & 16 ? CLATTN_POSITIONS_PER_ENTRY
                                                   : CLATTN_POSITIONS_ALIGNED},
        {CLATTN_PARAM_SINK_TOKENS,
         vc->extras & 4 ? (vc->extras & (2 | 16) ? K_START : 0) + SINK_TOKENS : 0},
    };
    for (size_t s = 0; s < sizeof set / sizeof set[0]; s++)
        OK(clattn_problem_set(p, set[s].param, set[s].value));
    if (vc->extras & 1)
        OK(clattn_problem_set_softcap(p, 15.0));
    if (vc->mask) {
        OK(clattn_problem_set(p, CLATTN_PARAM_MASK, vc->mask));
        OK(clattn_problem_set(p, CLATTN_PARAM_MASK_BATCH,
                              vc->mask_form & MASK_FULL_BATCH ? vc->batch : 1));
        OK(clattn_problem_set(p, CLATTN_PARAM_MASK_HEADS,
                              vc->mask_form & MASK_FULL_HEADS ? vc->heads : 1));
    }
    r.problem = p;
    return r;
}

/* The case's mask [Bm, Hm, seq_q, seq_kv] (f32 or f16): random values, -inf a third of the
 * time, or blocks of 64 positions x 96 keys (larger than any kernel's tile) all -inf, all 0
 * or random; NaN past each entry's own lengths where the mask has a batch dimension. */
static void *make_mask(const varlen_case *vc, const varlen_run *r, size_t bytes)
{
    const int bm = vc->mask_form & MASK_FULL_BATCH ? vc->batch : 1;
    const int hm = vc->mask_form & MASK_FULL_HEADS ? vc->heads : 1;
    const size_t count = bytes / (vc->mask == M16 ? 2 : 4);
    ck_assert_uint_eq(count, (size_t)bm * (size_t)hm * (size_t)r->seq_q * (size_t)r->seq_kv);
    float *f = malloc(count * 4);
    size_t e = 0;
    for (int b = 0; b < bm; b++)
        for (int h = 0; h < hm; h++)
            for (int i = 0; i < r->seq_q; i++)
                for (int j = 0; j < r->seq_kv; j++, e++) {
                    const unsigned ub = (unsigned)b, uh = (unsigned)h, ui = (unsigned)i,
                                   uj = (unsigned)j;
                    const double u = vc->mask_form & MASK_BLOCKS
                                         ? hash01(ub + 11, uh + 5, ui / 64, uj / 96)
                                         : 1.0;
                    const double v = hash01(ub, uh, ui, uj);
                    f[e] = u < 0.45 ? -INFINITY
                           : u < 0.75 ? 0.0f
                           : v < 1.0 / 3 ? -INFINITY
                                         : (float)(6.0 * v - 4.0);
                    if (bm > 1 && (i >= vc->len_q[b] || j >= vc->len_k[b]))
                        f[e] = NAN;
                }
    if (vc->mask == M32)
        return f;
    void *half = malloc(count * 2);
    OK(clattn_from_float(F16, f, half, count));
    free(f);
    return half;
}

/* Runs the case's problem with the bounds cu_q and cu_k on the device (one enqueue) and
 * against the reference; O and LSE start as SENTINEL on both sides. Returns the device's O as
 * f32 (total_q * H * d) for the caller to look at, and asserts agreement. */
static float *run_and_compare(const varlen_case *vc, const varlen_run *r, const int32_t *cu_q,
                              const int32_t *cu_k)
{
    const clattn_problem *p = r->problem;
    clattn_context *ctx = test_context();
    const size_t esize = clattn_dtype_size(vc->dtype);
    size_t bytes[5] = {0};
    for (int t = 0; t < (vc->mask ? 5 : 4); t++)
        OK(clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes[t]));
    void *mask = vc->mask ? make_mask(vc, r, bytes[4]) : NULL;
    void *host[3];
    for (int t = 0; t < 3; t++)
        host[t] = random_tensor(vc->dtype, bytes[t] / esize, 2.0f, (unsigned)(t + 3));
    const size_t o_count = bytes[3] / esize;
    const size_t rows = (size_t)vc->batch * (size_t)vc->heads * (size_t)r->seq_q;
    float *o_ref = malloc(o_count * 4), *lse_ref = malloc(rows * 4), *lse = malloc(rows * 4);
    float *o_f32 = malloc(o_count * 4);
    void *o = malloc(bytes[3]);
    for (size_t e = 0; e < o_count; e++)
        o_ref[e] = SENTINEL;
    for (size_t e = 0; e < rows; e++)
        lse_ref[e] = SENTINEL;
    OK(clattn_from_float(vc->dtype, o_ref, o, o_count));
    float slopes[MAX_ENTRIES * 8], sinks[8];
    for (int e = 0; e < vc->batch * vc->heads; e++)
        slopes[e] = 0.05f + 0.4f * (float)(e % 7) / 7.0f;
    for (int h = 0; h < vc->heads; h++)
        sinks[h] = h % 3 == 2 ? -INFINITY : (float)h - 1.5f;

    clattn_args *args;
    OK(clattn_args_create(&args));
    const clattn_arg tensors[3] = {CLATTN_ARG_Q, CLATTN_ARG_K, CLATTN_ARG_V};
    for (int t = 0; t < 3; t++)
        OK(clattn_args_set_host(args, tensors[t], host[t]));
    OK(clattn_args_set_host(args, CLATTN_ARG_CU_SEQLENS_Q, cu_q));
    OK(clattn_args_set_host(args, CLATTN_ARG_CU_SEQLENS_K, cu_k));
    if (vc->extras & 1) {
        OK(clattn_args_set_host(args, CLATTN_ARG_ALIBI_SLOPES, slopes));
        OK(clattn_args_set_host(args, CLATTN_ARG_SINKS, sinks));
    }
    if (vc->extras & 2)
        OK(clattn_args_set_positions(args, Q_START, K_START));
    if (vc->extras & 16) {
        OK(clattn_args_set_host(args, CLATTN_ARG_Q_START, r->q_starts));
        OK(clattn_args_set_host(args, CLATTN_ARG_K_START, r->k_starts));
    }
    if (mask)
        OK(clattn_args_set_host(args, CLATTN_ARG_MASK, mask));
    OK(clattn_reference_args(p, args, o_ref, lse_ref));
    /* positions per entry: the NaN rows are those of the impossible starts alone; the last
     * entry, at the last positions of its own lengths, is not one (judged by the longest
     * entry's, it would be) */
    for (int b = 0; (vc->extras & 16) && b < vc->batch; b++)
        for (int i = 0; i < vc->len_q[b]; i++) {
            const float got = lse_ref[(size_t)b * (size_t)vc->heads * (size_t)r->seq_q + (size_t)i];
            ck_assert_msg(!!isnan(got) == (r->q_starts[b] < 0), "%s: entry %d row %d LSE %g",
                          varlen_name(vc), b, i, (double)got);
        }

    cl_command_queue queue;
    clattn_context_get_cl(ctx, NULL, NULL, &queue);
    const size_t cu_bytes = (size_t)(vc->batch + 1) * 4;
    cl_mem mem[9] = {NULL};
    for (int t = 0; t < 3; t++)
        mem[t] = device_copy(bytes[t], host[t]);
    mem[3] = device_copy(bytes[3], o);
    mem[4] = device_copy(rows * 4, lse_ref); /* the sentinels (the reference wrote the rest) */
    for (size_t e = 0; e < rows; e++)
        lse[e] = SENTINEL;
    ck_assert_int_eq(clEnqueueWriteBuffer(queue, mem[4], CL_TRUE, 0, rows * 4, lse, 0, NULL,
                                          NULL),
                     CL_SUCCESS);
    /* the bounds at an offset in one buffer */
    mem[5] = device_copy(8 + 2 * cu_bytes, NULL);
    ck_assert_int_eq(clEnqueueWriteBuffer(queue, mem[5], CL_TRUE, 8, cu_bytes, cu_q, 0, NULL,
                                          NULL),
                     CL_SUCCESS);
    ck_assert_int_eq(clEnqueueWriteBuffer(queue, mem[5], CL_TRUE, 8 + cu_bytes, cu_bytes, cu_k,
                                          0, NULL, NULL),
                     CL_SUCCESS);
    mem[6] = device_copy(sizeof slopes + sizeof sinks, NULL);
    ck_assert_int_eq(clEnqueueWriteBuffer(queue, mem[6], CL_TRUE, 0, sizeof slopes, slopes, 0,
                                          NULL, NULL),
                     CL_SUCCESS);
    ck_assert_int_eq(clEnqueueWriteBuffer(queue, mem[6], CL_TRUE, sizeof slopes, sizeof sinks,
                                          sinks, 0, NULL, NULL),
                     CL_SUCCESS);
    const clattn_arg all[5] = {CLATTN_ARG_Q, CLATTN_ARG_K, CLATTN_ARG_V, CLATTN_ARG_O,
                               CLATTN_ARG_LSE};
    for (int t = 0; t < 5; t++)
        OK(clattn_args_set_buffer(args, all[t], mem[t], 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_CU_SEQLENS_Q, mem[5], 8));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_CU_SEQLENS_K, mem[5], 8 + cu_bytes));
    if (vc->extras & 1) {
        OK(clattn_args_set_buffer(args, CLATTN_ARG_ALIBI_SLOPES, mem[6], 0));
        OK(clattn_args_set_buffer(args, CLATTN_ARG_SINKS, mem[6], sizeof slopes));
    }
    if (mask) {
        mem[7] = device_copy(bytes[4], mask);
        OK(clattn_args_set_buffer(args, CLATTN_ARG_MASK, mem[7], 0));
    }
    if (vc->extras & 16) { /* the starts at offsets in one buffer */
        const size_t starts_bytes = (size_t)vc->batch * 4;
        mem[8] = device_copy(4 + 2 * starts_bytes, NULL);
        ck_assert_int_eq(clEnqueueWriteBuffer(queue, mem[8], CL_TRUE, 4, starts_bytes,
                                              r->q_starts, 0, NULL, NULL),
                         CL_SUCCESS);
        ck_assert_int_eq(clEnqueueWriteBuffer(queue, mem[8], CL_TRUE, 4 + starts_bytes,
                                              starts_bytes, r->k_starts, 0, NULL, NULL),
                         CL_SUCCESS);
        OK(clattn_args_set_buffer(args, CLATTN_ARG_Q_START, mem[8], 4));
        OK(clattn_args_set_buffer(args, CLATTN_ARG_K_START, mem[8], 4 + starts_bytes));
    }
    clattn_plan *plan = NULL;
    clattn_status st = clattn_plan_create(ctx, p, &plan);
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: plan: %s", varlen_name(vc), clattn_message(ctx));
    int64_t algo, splits;
    OK(clattn_plan_get(plan, CLATTN_PLAN_ALGORITHM, &algo));
    OK(clattn_plan_get(plan, CLATTN_PLAN_SPLITS, &splits));
    ck_assert_msg(!(vc->extras & 8) || algo != CLATTN_ALGO_DECODE || splits > 1,
                  "%s: decode did not split the keys (%lld splits): the merge goes unchecked",
                  varlen_name(vc), (long long)splits);
    st = clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL);
    ck_assert_msg(st == CLATTN_SUCCESS, "%s: enqueue: %s", varlen_name(vc), clattn_message(ctx));
    ck_assert_int_eq(clEnqueueReadBuffer(queue, mem[3], CL_TRUE, 0, bytes[3], o, 0, NULL, NULL),
                     CL_SUCCESS);
    ck_assert_int_eq(clEnqueueReadBuffer(queue, mem[4], CL_TRUE, 0, rows * 4, lse, 0, NULL, NULL),
                     CL_SUCCESS);
    double err, lse_err;
    int passed;
    OK(clattn_compare(p, o, o_ref, lse, lse_ref, &err, &lse_err, &passed));
    ck_assert_msg(passed, "%s: O error %g, LSE error %g\n%s", varlen_name(vc), err, lse_err,
                  clattn_plan_describe(plan));
    OK(clattn_to_float(vc->dtype, o, o_f32, o_count));
    for (int t = 0; t < 9; t++)
        if (mem[t])
            clReleaseMemObject(mem[t]);
    clattn_plan_destroy(plan);
    clattn_args_destroy(args);
    for (int t = 0; t < 3; t++)
        free(host[t]);
    free(mask);
    free(o);
    free(o_ref);
    free(lse);
    free(lse_ref);
    return o_f32;
}

START_TEST(varlen_matches_the_reference)
{
    const clattn_algorithm algo = (clattn_algorithm)_i;
    int ran = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const varlen_case *vc = &cases[k];
        varlen_run r = make_run(vc, algo);
        if (!algorithm_takes_shape(algo, r.seq_q, vc->causal, vc->wl, vc->wr)) {
            clattn_problem_destroy(r.problem);
            continue;
        }
        free(run_and_compare(vc, &r, r.cu_q, r.cu_k));
        clattn_problem_destroy(r.problem);
        ran++;
    }
    ck_assert_int_gt(ran, 0);
}
END_TEST

/* The reference's packed batch is the separate problems it stands for: each entry alone, a
 * batch of one with its own Nq and Nk, through clattn_reference on its slices of the packed
 * tensors, gives the same rows and LSEs, in both alignments (entries of 0 keys: zeros, -inf). */
START_TEST(varlen_reference_is_the_separate_problems)
{
    for (int k = 1; k <= 2; k++) {
        const varlen_case *vc = &cases[k];
        varlen_run r = make_run(vc, CLATTN_ALGO_AUTO);
        const size_t q_row = (size_t)vc->heads * (size_t)vc->head_dim;
        const size_t kv_row = (size_t)vc->kv_heads * (size_t)vc->head_dim;
        float *q = random_tensor(F32, (size_t)r.total_q * q_row, 2.0f, 1);
        float *kk = random_tensor(F32, (size_t)r.total_kv * kv_row, 2.0f, 2);
        float *v = random_tensor(F32, (size_t)r.total_kv * kv_row, 2.0f, 3);
        float *o = calloc((size_t)r.total_q * q_row, 4);
        float *lse = calloc((size_t)vc->batch * (size_t)vc->heads * (size_t)r.seq_q, 4);
        OK(clattn_problem_set(r.problem, CLATTN_PARAM_DTYPE, F32));
        clattn_args *args;
        OK(clattn_args_create(&args));
        OK(clattn_args_set_host(args, CLATTN_ARG_Q, q));
        OK(clattn_args_set_host(args, CLATTN_ARG_K, kk));
        OK(clattn_args_set_host(args, CLATTN_ARG_V, v));
        OK(clattn_args_set_host(args, CLATTN_ARG_CU_SEQLENS_Q, r.cu_q));
        OK(clattn_args_set_host(args, CLATTN_ARG_CU_SEQLENS_K, r.cu_k));
        OK(clattn_reference_args(r.problem, args, o, lse));
        for (int b = 0; b < vc->batch; b++) {
            const int nq = vc->len_q[b], nk = vc->len_k[b];
            const float *ob = o + (size_t)r.cu_q[b] * q_row;
            for (int h = 0; h < vc->heads; h++)
                for (int i = 0; i < nq; i++) {
                    const float got = lse[((size_t)b * (size_t)vc->heads + (size_t)h) *
                                              (size_t)r.seq_q + (size_t)i];
                    if (!nk)
                        ck_assert_msg(got == -INFINITY, "entry %d without keys: LSE %g", b,
                                      (double)got);
                }
            if (!nk) {
                for (size_t e = 0; e < (size_t)nq * q_row; e++)
                    ck_assert_msg(ob[e] == 0.0f, "entry %d without keys: O %g", b, (double)ob[e]);
                continue;
            }
            if (!nq)
                continue;
            clattn_problem *one;
            OK(clattn_problem_clone(r.problem, &one));
            OK(clattn_problem_set(one, CLATTN_PARAM_VARLEN, 0));
            OK(clattn_problem_set(one, CLATTN_PARAM_BATCH, 1));
            OK(clattn_problem_set(one, CLATTN_PARAM_SEQ_Q, nq));
            OK(clattn_problem_set(one, CLATTN_PARAM_SEQ_KV, nk));
            float *o1 = malloc((size_t)nq * q_row * 4);
            float *lse1 = malloc((size_t)vc->heads * (size_t)nq * 4);
            OK(clattn_reference(one, q + (size_t)r.cu_q[b] * q_row,
                                kk + (size_t)r.cu_k[b] * kv_row, v + (size_t)r.cu_k[b] * kv_row,
                                o1, lse1));
            for (size_t e = 0; e < (size_t)nq * q_row; e++)
                ck_assert_msg(ob[e] == o1[e] || (isnan(ob[e]) && isnan(o1[e])),
                              "entry %d, element %zu: packed %g, alone %g", b, e,
                              (double)ob[e], (double)o1[e]);
            for (int h = 0; h < vc->heads; h++)
                for (int i = 0; i < nq; i++)
                    ck_assert(lse[((size_t)b * (size_t)vc->heads + (size_t)h) * (size_t)r.seq_q +
                                  (size_t)i] == lse1[(size_t)h * (size_t)nq + (size_t)i]);
            free(o1);
            free(lse1);
            clattn_problem_destroy(one);
        }
        clattn_args_destroy(args);
        clattn_problem_destroy(r.problem);
        free(q);
        free(kk);
        free(v);
        free(o);
        free(lse);
    }
}
END_TEST

/* The algorithms of the bad-bounds test, and how many keys each of its keys stands for:
 * decode again with keys enough that it splits them (more than decode_local's 2048 a split;
 * the register kernel splits where the device has more work-groups to fill than 7 entries),
 * so that the merge meets the bad bounds too. */
static const struct {
    clattn_algorithm algo;
    int key_scale;
} bad_bounds_runs[] = {{CLATTN_ALGO_TILED, 1},
                       {CLATTN_ALGO_WINDOWED, 1},
                       {CLATTN_ALGO_DECODE, 1},
                       {CLATTN_ALGO_DECODE, 300}};

/* Bounds on the device that no entry could have: every impossible kind at once, in entries
 * that do not overlap. The reference judges them as the device must (docs/semantics.md), and
 * the test checks the pattern itself too: rows of a bad key range NaN, rows no entry owns
 * untouched, the good entries exact. */
START_TEST(bad_bounds_on_the_device_give_nan_rows_and_touch_nothing_else)
{
    const clattn_algorithm algo = bad_bounds_runs[_i].algo;
    const int scale = bad_bounds_runs[_i].key_scale;
    varlen_case vc = {7, {4, 3, 2, 2, 3, 6, 3}, {8, 8, 2, 2, 5, 2, 2}, 4, 2, 32, 1, -1, -1, BR,
                      F32, 0, 0, 0, 0};
    if (algo == CLATTN_ALGO_WINDOWED)
        vc.wl = 3;
    for (int b = 0; b < vc.batch; b++)
        vc.len_k[b] *= scale;
    varlen_run r = make_run(&vc, algo);
    /* seq_q 5 and seq_kv 8 as the host plans; 19 packed rows and 20 keys (keys times scale) */
    OK(clattn_problem_set(r.problem, CLATTN_PARAM_SEQ_Q, 5));
    OK(clattn_problem_set(r.problem, CLATTN_PARAM_TOTAL_Q, 19));
    OK(clattn_problem_set(r.problem, CLATTN_PARAM_TOTAL_KV, 20 * scale));
    r.seq_q = 5;
    /* entry 0 good; 1: more keys than seq_kv, past total_kv (rows 4-6 NaN); 2: rows past
     * total_q and longer than seq_q, 3: rows decreasing (both own nothing: rows 7-8 untouched),
     * with negative and decreasing keys; 4: keys [17, 22), as few as seq_kv allows but past
     * total_kv (rows 9-11 NaN); 5: six rows, more than seq_q, and 6: rows [18, 21), as few as
     * seq_q allows but past total_q (both own nothing: rows 12-18 untouched) */
    const int32_t cu_q[8] = {0, 4, 7, 100, 9, 12, 18, 21};
    int32_t cu_k[8] = {0, 8, 30, -5, 17, 22, 20, 20};
    for (int b = 0; b <= vc.batch; b++)
        cu_k[b] *= scale;
    float *o = run_and_compare(&vc, &r, cu_q, cu_k);
    const size_t row = (size_t)vc.heads * (size_t)vc.head_dim;
    for (size_t e = 0; e < 19 * row; e++) {
        const size_t i = e / row;
        if ((i >= 4 && i < 7) || (i >= 9 && i < 12))
            ck_assert_msg(isnan(o[e]), "row %zu of a bad key range is %g, not NaN", i,
                          (double)o[e]);
        else if ((i >= 7 && i < 9) || i >= 12)
            ck_assert_msg(o[e] == SENTINEL, "row %zu, owned by no entry, was written (%g)", i,
                          (double)o[e]);
        else
            ck_assert_msg(isfinite(o[e]) && o[e] != SENTINEL, "row %zu of a good entry: %g", i,
                          (double)o[e]);
    }
    free(o);
    clattn_problem_destroy(r.problem);
}
END_TEST

#define REFUSED_BY(call, status, text)                                                         \
    do {                                                                                       \
        ck_assert_int_eq((call), (status));                                                    \
        ck_assert_msg(strstr(clattn_message(ctx), text), "message '%s' lacks '%s'",            \
                      clattn_message(ctx), text);                                             \
    } while (0)

START_TEST(bad_host_parameters_are_refused_by_name)
{
    clattn_context *ctx = test_context();
    const varlen_case *vc = &cases[0];
    varlen_run r = make_run(vc, CLATTN_ALGO_TILED);
    clattn_problem *p = r.problem;
    clattn_plan *plan = NULL;

    /* the longest entry must fit the packed rows */
    OK(clattn_problem_set(p, CLATTN_PARAM_TOTAL_Q, r.seq_q - 1));
    REFUSED_BY(clattn_plan_create(ctx, p, &plan), CLATTN_ERROR_INVALID_ARGUMENT, "total_q");
    OK(clattn_problem_set(p, CLATTN_PARAM_TOTAL_Q, r.total_q));
    /* features it does not combine with, and algorithms that do not take it */
    OK(clattn_problem_set(p, CLATTN_PARAM_PAGE_SIZE, 16));
    REFUSED_BY(clattn_plan_create(ctx, p, &plan), CLATTN_ERROR_UNSUPPORTED, "paged");
    OK(clattn_problem_set(p, CLATTN_PARAM_PAGE_SIZE, 0));
    OK(clattn_problem_set(p, CLATTN_PARAM_ALGORITHM, CLATTN_ALGO_NAIVE));
    REFUSED_BY(clattn_plan_create(ctx, p, &plan), CLATTN_ERROR_UNSUPPORTED,
               "packed variable-length batches");
    /* auto never picks decode for a packed batch, even of short entries (it takes one when
     * asked: varlen_matches_the_reference) */
    OK(clattn_problem_set(p, CLATTN_PARAM_ALGORITHM, CLATTN_ALGO_AUTO));
    OK(clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, 4));
    OK(clattn_plan_create(ctx, p, &plan));
    int64_t algo;
    OK(clattn_plan_get(plan, CLATTN_PLAN_ALGORITHM, &algo));
    ck_assert_int_ne(algo, CLATTN_ALGO_DECODE);
    clattn_plan_destroy(plan);
    OK(clattn_problem_set(p, CLATTN_PARAM_SEQ_Q, r.seq_q));
    OK(clattn_problem_set(p, CLATTN_PARAM_ALGORITHM, CLATTN_ALGO_TILED));
    OK(clattn_plan_create(ctx, p, &plan));

    size_t bytes[4];
    for (int t = 0; t < 4; t++)
        OK(clattn_problem_tensor_bytes(p, (clattn_tensor)t, &bytes[t]));
    /* packed: Q spans total_q rows, not batch x seq_q */
    ck_assert_uint_eq(bytes[0], (size_t)r.total_q * (size_t)vc->heads * (size_t)vc->head_dim * 4);
    cl_mem mem[5];
    for (int t = 0; t < 4; t++)
        mem[t] = device_copy(bytes[t], NULL);
    mem[4] = device_copy((size_t)(vc->batch + 1) * 4, r.cu_q);
    const size_t cu_bytes = (size_t)(vc->batch + 1) * 4;
    cl_mem cu_short = device_copy(cu_bytes - 4, NULL);
    cl_mem q_short = device_copy(bytes[0] - 4, NULL);

    /* the plain calls have no place for the bounds */
    REFUSED_BY(clattn_enqueue(plan, NULL, mem[0], 0, mem[1], 0, mem[2], 0, mem[3], 0, NULL, 0,
                              0, NULL, NULL),
               CLATTN_ERROR_INVALID_ARGUMENT, "clattn_enqueue_args");
    clattn_args *args;
    OK(clattn_args_create(&args));
    const clattn_arg all[4] = {CLATTN_ARG_Q, CLATTN_ARG_K, CLATTN_ARG_V, CLATTN_ARG_O};
    for (int t = 0; t < 4; t++)
        OK(clattn_args_set_buffer(args, all[t], mem[t], 0));
    REFUSED_BY(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL),
               CLATTN_ERROR_INVALID_ARGUMENT, "cu_seqlens_q");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_CU_SEQLENS_Q, mem[4], 0));
    REFUSED_BY(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL),
               CLATTN_ERROR_INVALID_ARGUMENT, "cu_seqlens_k");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_CU_SEQLENS_K, cu_short, 0));
    REFUSED_BY(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL),
               CLATTN_ERROR_INVALID_ARGUMENT, "cu_seqlens_k");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_CU_SEQLENS_K, mem[4], 0));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_Q, q_short, 0));
    REFUSED_BY(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL),
               CLATTN_ERROR_INVALID_ARGUMENT, "Q");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_Q, mem[0], 0));
    /* KV cache arguments do not go with it */
    OK(clattn_args_set_buffer(args, CLATTN_ARG_CACHE_SEQLENS, mem[4], 0));
    REFUSED_BY(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL), CLATTN_ERROR_UNSUPPORTED,
               "cache_seqlens");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_CACHE_SEQLENS, NULL, 0));
    OK(clattn_enqueue_args(plan, NULL, args, 0, NULL, NULL));
    /* the merge walks batch x seq_q rows: not a packed batch's */
    REFUSED_BY(clattn_enqueue_merge(plan, NULL, mem[3], 0, mem[4], 0, mem[3], 0, mem[4], 0,
                                    mem[3], 0, mem[4], 0, 0, NULL, NULL),
               CLATTN_ERROR_UNSUPPORTED, "packed variable-length batches");
    /* a mask spans [Bm, Hm, seq_q, seq_kv] (the longest entry's), and the call checks that */
    clattn_plan *masked = NULL;
    OK(clattn_problem_set(p, CLATTN_PARAM_MASK, CLATTN_MASK_F16));
    OK(clattn_plan_create(ctx, p, &masked));
    size_t mask_bytes;
    OK(clattn_problem_tensor_bytes(p, CLATTN_TENSOR_MASK, &mask_bytes));
    ck_assert_uint_eq(mask_bytes, (size_t)r.seq_q * (size_t)r.seq_kv * 2);
    REFUSED_BY(clattn_enqueue_args(masked, NULL, args, 0, NULL, NULL),
               CLATTN_ERROR_INVALID_ARGUMENT, "mask");
    cl_mem mask_short = device_copy(mask_bytes - 2, NULL), mask = device_copy(mask_bytes, NULL);
    OK(clattn_args_set_buffer(args, CLATTN_ARG_MASK, mask_short, 0));
    REFUSED_BY(clattn_enqueue_args(masked, NULL, args, 0, NULL, NULL),
               CLATTN_ERROR_INVALID_ARGUMENT, "mask");
    OK(clattn_args_set_buffer(args, CLATTN_ARG_MASK, mask, 0));
    OK(clattn_enqueue_args(masked, NULL, args, 0, NULL, NULL));
    OK(clattn_args_set_buffer(args, CLATTN_ARG_MASK, NULL, 0));
    OK(clattn_problem_set(p, CLATTN_PARAM_MASK, CLATTN_MASK_NONE));
    cl_command_queue queue;
    clattn_context_get_cl(ctx, NULL, NULL, &queue);
    clFinish(queue);
    clattn_plan_destroy(masked);
    clReleaseMemObject(mask_short);
    clReleaseMemObject(mask);

    /* the reference: without the bounds, by name */
    ck_assert_int_eq(clattn_reference(p, "", "", "", (float[1]){0}, NULL),
                     CLATTN_ERROR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(clattn_message(NULL), "cu_seqlens_q"), "%s", clattn_message(NULL));

    clattn_args_destroy(args);
    for (int t = 0; t < 5; t++)
        clReleaseMemObject(mem[t]);
    clReleaseMemObject(cu_short);
    clReleaseMemObject(q_short);
    clattn_plan_destroy(plan);
    clattn_problem_destroy(p);
}
END_TEST

static Suite *varlen_suite(void)
{
    Suite *s = suite_create("varlen");
    TCase *tc = tcase_create("device");
    tcase_add_loop_test(tc, varlen_matches_the_reference, CLATTN_ALGO_TILED,
                        CLATTN_ALGO_DECODE + 1);
    tcase_add_test(tc, varlen_reference_is_the_separate_problems);
    tcase_add_test(tc, bad_host_parameters_are_refused_by_name);
    suite_add_tcase(s, tc);
    /* a case of its own, small, to run under oclgrind (CK_RUN_CASE=bad-bounds): no access
     * outside the buffers whatever the bounds say */
    TCase *bad = tcase_create("bad-bounds");
    tcase_add_loop_test(bad, bad_bounds_on_the_device_give_nan_rows_and_touch_nothing_else, 0,
                        (int)(sizeof bad_bounds_runs / sizeof bad_bounds_runs[0]));
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    return test_main(varlen_suite, 1);
}
