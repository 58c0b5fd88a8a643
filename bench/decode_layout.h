/* Where decode mode's sequences start and end, and the cache that holds them: computed from
 * the options alone, before any device is opened. */
#ifndef ATTN_BENCH_DECODE_LAYOUT_H
#define ATTN_BENCH_DECODE_LAYOUT_H

#include <stdint.h>

#include "args.h"

struct decode_layout {
    int64_t batch;
    int64_t tokens;        /* steps, one token per sequence each */
    int64_t prompt;        /* every sequence's keys before step 1, unless ragged */
    const int64_t *ragged; /* --kv-lens: each sequence's keys before step 1; NULL if uniform */
    int64_t capacity;      /* keys per sequence after the last step: the plan's seq_kv */
    int64_t page_size;     /* 0: contiguous */
    int64_t pages_per_seq; /* a block table row: ceil(capacity / page_size) */
    int64_t num_pages;     /* the pool: the pages each sequence reaches, summed */
};

/* --decode: the sequences start at --prompt (or --kv-lens) and grow by --tokens. */
void decode_layout_for_loop(const struct bench_options *opt, struct decode_layout *layout);

/* --decode-compare: one step that brings every sequence to --seq-kv keys. */
void decode_layout_for_compare(const struct bench_options *opt, struct decode_layout *layout);

/* Keys sequence `b` holds before step 1. */
int64_t decode_layout_start(const struct decode_layout *layout, int64_t b);

/* Pages sequence `b` reaches by its last step (paged layouts). */
int64_t decode_layout_pages(const struct decode_layout *layout, int64_t b);

/* The longest sequence's keys after step `step`'s append (steps count from 1). */
int64_t decode_layout_longest(const struct decode_layout *layout, int64_t step);

#endif
